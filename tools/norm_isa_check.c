/* The row kernels of csrc/norm_rows.h on fixed data (NaN, infinities and -0.0 among it, every
 * mask mode, channel counts around the vector widths and the constant-length cases), their
 * results written to the file argv[1]. tools/check_norm_isas builds this for each ISA and
 * checks that the files are the same byte for byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "norm_rows.h"

#define VALUES (3 * 2048 * 16 + 37 * 64)
#define MAX_C 65

static const int CHANNELS[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65};

#define CHECK_TYPE(T, S)                                                                    \
static void check_##S(FILE *out) {                                                          \
    T *x = malloc(VALUES * sizeof(T)), *dy = malloc(VALUES * sizeof(T));                    \
    T *y = malloc(VALUES * sizeof(T)), *dx = malloc(VALUES * sizeof(T));                    \
    long i;                                                                                 \
    size_t n;                                                                               \
    srand(1);                                                                               \
    for (i = 0; i < VALUES; i++) {                                                          \
        x[i] = (T)(rand() / (double)RAND_MAX * 3 - 1.2);                                    \
        dy[i] = (T)(rand() / (double)RAND_MAX - 0.5);                                       \
    }                                                                                       \
    x[5] = NAN; x[77] = INFINITY; dy[99] = -INFINITY; x[1000] = -0.0;                      \
    for (n = 0; n < sizeof CHANNELS / sizeof CHANNELS[0]; n++) {                            \
        int c = CHANNELS[n], j, relu;                                                       \
        long rows = VALUES / c;                                                             \
        double a[MAX_C] = {0}, b[MAX_C] = {0}, mean[MAX_C], s1[MAX_C] = {0}, s2[MAX_C] = {0}; \
        T coef[2 * MAX_C], center[MAX_C], dbeta[MAX_C], g[MAX_C], k[MAX_C], row[MAX_C];     \
        for (j = 0; j < c; j++) {                                                           \
            mean[j] = 0.1 * j; center[j] = (T)(0.05 * j);                                   \
            coef[j] = (T)(1.1 - 0.1 * j); coef[c + j] = (T)(0.3 - 0.02 * j);                \
            dbeta[j] = (T)0.3; g[j] = (T)(0.2 + j); k[j] = (T)0.5;                          \
        }                                                                                   \
        fcnn_norm_add_rows_##S(x, rows, c, a);                                              \
        fwrite(a, sizeof a[0], c, out);                                                     \
        fcnn_norm_add_deviations_##S(x, rows, c, mean, a, b);                               \
        fwrite(a, sizeof a[0], c, out); fwrite(b, sizeof b[0], c, out);                     \
        for (relu = 0; relu < 2; relu++) {   /* with dy standing in for a residual */      \
            fcnn_norm_normalize_add_rows_##S(x, dy, y, rows, c, center, coef, coef + c,    \
                                             relu);                                         \
            fwrite(y, sizeof(T), rows * c, out);                                            \
        }                                                                                   \
        for (relu = 0; relu < 2; relu++) {                                                  \
            fcnn_norm_normalize_rows_##S(x, y, rows, c, center, coef, coef + c, relu);      \
            fwrite(y, sizeof(T), rows * c, out);                                            \
        }                                                                                   \
        fcnn_norm_gradient_sums_##S(dy, x, rows, c, mean, s1, s2, NULL, center, NULL, row, 0); \
        fcnn_norm_gradient_sums_##S(dy, x, rows, c, mean, s1, s2, y, center, NULL, row, 0); \
        fcnn_norm_gradient_sums_##S(dy, x, rows, c, mean, s1, s2, NULL, center, coef, row, 0); \
        fwrite(s1, sizeof s1[0], c, out); fwrite(s2, sizeof s2[0], c, out);                 \
        /* the masked rows written out (row_step c) */                                      \
        fcnn_norm_gradient_sums_##S(dy, x, rows, c, mean, s1, s2, y, center, NULL, dx, c);  \
        fwrite(s1, sizeof s1[0], c, out); fwrite(dx, sizeof(T), rows * c, out);             \
        fcnn_norm_gradient_rows_##S(dy, x, dx, rows, c, (T)rows, center, dbeta, g, k, NULL, \
                                    NULL);                                                  \
        fwrite(dx, sizeof(T), rows * c, out);                                               \
        fcnn_norm_gradient_rows_##S(dy, x, dx, rows, c, (T)rows, center, dbeta, g, k, y,    \
                                    NULL);                                                  \
        fwrite(dx, sizeof(T), rows * c, out);                                               \
        fcnn_norm_gradient_rows_##S(dy, x, dx, rows, c, (T)rows, center, dbeta, g, k, NULL, \
                                    coef);                                                  \
        fwrite(dx, sizeof(T), rows * c, out);                                               \
    }                                                                                       \
    free(x); free(dy); free(y); free(dx);                                                   \
}

CHECK_TYPE(float, f)
CHECK_TYPE(double, d)

int main(int argc, char **argv) {
    FILE *out;
    if (argc != 2 || !(out = fopen(argv[1], "wb"))) {
        fprintf(stderr, "usage: norm_isa_check OUTPUT_FILE\n");
        return 2;
    }
    check_f(out);
    check_d(out);
    return fclose(out) != 0;
}
