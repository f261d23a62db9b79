/* Row kernels of batch normalization (fastcnn/_norm.pyx): per-channel work over `rows` rows
 * of `c` contiguous channels, one thread and one block of rows per call. Every inner loop
 * runs over the channels of a row, so it is vector code across channels.
 *
 * Each kernel is compiled for AVX-512, AVX2 and the baseline ISA (GCC's target_clones, on
 * x86-64 Linux; the baseline elsewhere), picked once when the module loads: _norm.pyx
 * itself is compiled for the baseline ISA only. The build turns FMA contraction off for
 * this module (setup.py) and the loops never reorder a sum (each channel's sum runs over
 * the rows in order), so every version gives bitwise the same results: the choice changes
 * speed only.
 *
 * Sums are in double; per-element results in the data's type T. Float versions end in _f,
 * double versions in _d. */
#ifndef FASTCNN_NORM_ROWS_H
#define FASTCNN_NORM_ROWS_H

#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FCNN_NORM_NO_CLONES)
#define FCNN_NORM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FCNN_NORM_CLONES
#endif

/* out = dy where the ReLU output is > 0, else 0 (_elementwise.relu_backward); with
 * `coefficients` (scales then shifts, c each) instead of a ReLU output, the ReLU's input
 * v = (x - center) * scale + shift is computed again as the normalizing pass computed it,
 * and is > 0 exactly where its ReLU is. dy is read unconditionally and the select is in T
 * alone, so that it compiles to vector code. Returns the row to read: dy itself when there
 * is no mask, else out. */
#define FCNN_NORM_MASKED(T, S)                                                              \
static inline const T *fcnn_norm_masked_##S(const T *dy, const T *x, ptrdiff_t c,           \
                                            const T *relu_y, const T *center,               \
                                            const T *coefficients, T *out) {                \
    ptrdiff_t j;                                                                            \
    if (relu_y) {                                                                           \
        for (j = 0; j < c; j++) {                                                           \
            T g = dy[j];                                                                    \
            out[j] = relu_y[j] > 0 ? g : (T)0;                                              \
        }                                                                                   \
        return out;                                                                         \
    }                                                                                       \
    if (coefficients) {                                                                     \
        for (j = 0; j < c; j++) {                                                           \
            T g = dy[j];                                                                    \
            T v = (x[j] - center[j]) * coefficients[j] + coefficients[c + j];               \
            out[j] = v > 0 ? g : (T)0;                                                      \
        }                                                                                   \
        return out;                                                                         \
    }                                                                                       \
    return dy;                                                                              \
}

#define FCNN_NORM_KERNELS(T, S)                                                             \
FCNN_NORM_MASKED(T, S)                                                                      \
                                                                                            \
/* acc[j] += x[r, j] for r = 0, 1, ... (in that order). */                                  \
FCNN_NORM_CLONES void fcnn_norm_add_rows_##S(const T *x, ptrdiff_t rows, ptrdiff_t c,       \
                                             double *acc) {                                 \
    ptrdiff_t r, j;                                                                         \
    for (r = 0; r < rows; r++)                                                              \
        for (j = 0; j < c; j++)                                                             \
            acc[j] += (double)x[r * c + j];                                                 \
}                                                                                           \
                                                                                            \
/* dev[j] += x[r, j] - center[j]; sq[j] += (x[r, j] - center[j])**2, r = 0, 1, ... */        \
FCNN_NORM_CLONES void fcnn_norm_add_deviations_##S(const T *x, ptrdiff_t rows, ptrdiff_t c, \
                                                   const double *center, double *dev,       \
                                                   double *sq) {                            \
    ptrdiff_t r, j;                                                                         \
    for (r = 0; r < rows; r++)                                                              \
        for (j = 0; j < c; j++) {                                                           \
            double d = (double)x[r * c + j] - center[j];                                    \
            dev[j] += d;                                                                    \
            sq[j] += d * d;                                                                 \
        }                                                                                   \
}                                                                                           \
                                                                                            \
/* y = (x - center) * scale + shift per channel, in T; with relu then 0 where that is < 0    \
 * (NaN stays NaN), in the same pass. */                                                    \
FCNN_NORM_CLONES void fcnn_norm_normalize_rows_##S(const T *x, T *y, ptrdiff_t rows,        \
                                                   ptrdiff_t c, const T *center,            \
                                                   const T *scale, const T *shift,          \
                                                   int relu) {                              \
    ptrdiff_t r, j;                                                                         \
    for (r = 0; r < rows; r++) {                                                            \
        if (relu) {                                                                         \
            for (j = 0; j < c; j++) {                                                       \
                T v = (x[r * c + j] - center[j]) * scale[j] + shift[j];                     \
                y[r * c + j] = v < 0 ? (T)0 : v;                                            \
            }                                                                               \
        } else {                                                                            \
            for (j = 0; j < c; j++)                                                         \
                y[r * c + j] = (x[r * c + j] - center[j]) * scale[j] + shift[j];            \
        }                                                                                   \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* sum_dy[j] += dy[r, j]; sum_dy_xc[j] += dy[r, j] * (x[r, j] - mean[j]), dy masked (see     \
 * fcnn_norm_masked) when relu_y or coefficients is not NULL (row: scratch for c values).    \
 * center: mean in T, for the mask found again from x. */                                   \
FCNN_NORM_CLONES void fcnn_norm_gradient_sums_##S(                                          \
        const T *dy, const T *x, ptrdiff_t rows, ptrdiff_t c, const double *mean,           \
        double *sum_dy, double *sum_dy_xc, const T *relu_y, const T *center,                \
        const T *coefficients, T *row) {                                                    \
    ptrdiff_t r, j;                                                                         \
    for (r = 0; r < rows; r++) {                                                            \
        const T *xr = x + r * c;                                                            \
        const T *d = fcnn_norm_masked_##S(dy + r * c, xr, c, relu_y ? relu_y + r * c : NULL, \
                                          center, coefficients, row);                       \
        for (j = 0; j < c; j++) {                                                           \
            double g = (double)d[j];                                                        \
            sum_dy[j] += g;                                                                 \
            sum_dy_xc[j] += g * ((double)xr[j] - mean[j]);                                  \
        }                                                                                   \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* dx = ((dy * count - dbeta) - (x - mean) * g) * k per channel, in T, dy masked (see        \
 * fcnn_norm_masked) into dx's row first when relu_y or coefficients is not NULL. */        \
FCNN_NORM_CLONES void fcnn_norm_gradient_rows_##S(                                          \
        const T *dy, const T *x, T *dx, ptrdiff_t rows, ptrdiff_t c, T count,               \
        const T *mean, const T *dbeta, const T *g, const T *k, const T *relu_y,             \
        const T *coefficients) {                                                            \
    ptrdiff_t r, j;                                                                         \
    for (r = 0; r < rows; r++) {                                                            \
        const T *xr = x + r * c;                                                            \
        T *out = dx + r * c;                                                                \
        const T *d = fcnn_norm_masked_##S(dy + r * c, xr, c, relu_y ? relu_y + r * c : NULL, \
                                          mean, coefficients, out);                         \
        for (j = 0; j < c; j++)                                                             \
            out[j] = ((d[j] * count - dbeta[j]) - (xr[j] - mean[j]) * g[j]) * k[j];         \
    }                                                                                       \
}

FCNN_NORM_KERNELS(float, f)
FCNN_NORM_KERNELS(double, d)

#endif
