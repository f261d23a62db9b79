/* The AVX-512 unit's pooling kernels against the portable unit's, bitwise, on any x86-64 CPU:
 * tools/check_avx512_simde compiles csrc/pool_avx512.c against SIMDe (portable intrinsics)
 * and csrc/pool_generic.c natively, and links this file to both. Every kernel (max and
 * average forward, their backward passes, max backward with the ReLU before it folded in,
 * and the forward that records its picks with the backward from them, plain and after a ReLU)
 * runs on whole images over geometries with gaps, overlaps and padding, channel counts that
 * need the block, vector and scalar steps of both units, in float and double, on inputs with
 * ties, zeros, negative maxima, NaN and -0.0. The units promise the same IEEE operations in
 * the same order, so any differing bit is a failure. Exit status 1 on any. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pool.h"

static unsigned seed = 2024u;
static double rnd(void)
{
    seed = seed * 1103515245u + 12345u;
    return ((seed >> 8) & 0xffff) / 32768.0 - 1.0;
}

/* One geometry of one image: h x w x c pooled by kh x kw windows, strides sh x sw, padding
 * pt / pl (the output size is what the window positions give). */
typedef struct {
    int h, w, kh, kw, sh, sw, pt, pl, oh, ow;
} geometry;

#define DEFINE_CHECK(T, SFX)                                                                   \
    static int check_##SFX(const geometry *q, int c)                                           \
    {                                                                                          \
        fcnn_pool_geom g = {q->h, q->w, c, q->oh, q->ow, q->kh, q->kw, q->sh, q->sw, q->pt,    \
                            q->pl};                                                            \
        const size_t nx = (size_t)q->h * q->w * c, ny = (size_t)q->oh * q->ow * c;             \
        T *x = malloc(nx * sizeof(T)), *dy = malloc(ny * sizeof(T));                           \
        const size_t na = nx > 2 * ny ? nx : 2 * ny; /* dx, or y and picks */                 \
        T *a = malloc(na * sizeof(T)), *b = malloc(na * sizeof(T));                            \
        for (size_t i = 0; i < nx; ++i) {                                                      \
            const double v = rnd();                                                            \
            x[i] = (T)(i % 11 == 0 ? -1.0 : i % 5 == 0 ? 0.0 : floor(v * 4) / 4);              \
            if (i % 23 == 7) x[i] = (T)NAN;                                                    \
        }                                                                                      \
        for (size_t i = 0; i < ny; ++i) dy[i] = (T)(i % 7 == 0 ? -0.0 : rnd());              \
        const fcnn_pool_kernels *p = &fcnn_pool_avx512, *r = &fcnn_pool_generic;              \
        const char *names[] = {"max fwd", "avg fwd", "max bwd", "avg bwd", "max relu bwd",     \
                               "pick fwd", "pick bwd", "pick relu fwd", "pick relu bwd"};     \
        T *pa = malloc(ny * sizeof(T)), *pb = malloc(ny * sizeof(T));                          \
        int fails = 0;                                                                         \
        for (int k = 0; k < 9; ++k) {                                                          \
            memset(a, 0x5a, na * sizeof(T));                                                   \
            memset(b, 0x5a, na * sizeof(T));                                                   \
            size_t n = nx;                                                                     \
            if (k == 5 || k == 7) { /* y then picks, side by side in a and b */                \
                const int relu = k == 7;                                                       \
                n = 2 * ny;                                                                    \
                p->max_pick_forward_##SFX(&g, x, a, a + ny, relu, 0, q->oh);                   \
                r->max_pick_forward_##SFX(&g, x, b, b + ny, relu, 0, q->oh);                   \
                memcpy(pa, a + ny, ny * sizeof(T));                                            \
                memcpy(pb, b + ny, ny * sizeof(T));                                            \
            } else if (k == 6 || k == 8) { /* each unit from its own picks */                  \
                p->max_pick_backward_##SFX(&g, pa, dy, a, 0, q->h);                            \
                r->max_pick_backward_##SFX(&g, pb, dy, b, 0, q->h);                            \
            } else if (k < 2) {                                                                \
                n = ny;                                                                        \
                (k == 0 ? p->max_forward_##SFX : p->avg_forward_##SFX)(&g, x, a, 0, q->oh);    \
                (k == 0 ? r->max_forward_##SFX : r->avg_forward_##SFX)(&g, x, b, 0, q->oh);    \
            } else {                                                                           \
                fcnn_pool_backward_##SFX kp = k == 2 ? p->max_backward_##SFX                   \
                                            : k == 3 ? p->avg_backward_##SFX                   \
                                                     : p->max_relu_backward_##SFX;             \
                fcnn_pool_backward_##SFX kr = k == 2 ? r->max_backward_##SFX                   \
                                            : k == 3 ? r->avg_backward_##SFX                   \
                                                     : r->max_relu_backward_##SFX;             \
                kp(&g, x, dy, a, 0, q->h);                                                     \
                kr(&g, x, dy, b, 0, q->h);                                                     \
            }                                                                                  \
            const int same = memcmp(a, b, n * sizeof(T)) == 0;                                 \
            printf("%-12s %s %dx%d c=%d pool %dx%d stride %dx%d pad %d,%d: %s\n", names[k],    \
                   #SFX, q->h, q->w, c, q->kh, q->kw, q->sh, q->sw, q->pt, q->pl,             \
                   same ? "ok" : "DIFFERS");                                                   \
            fails += !same;                                                                    \
        }                                                                                      \
        free(x); free(dy); free(a); free(b); free(pa); free(pb);                               \
        return fails;                                                                          \
    }
DEFINE_CHECK(float, f32)
DEFINE_CHECK(double, f64)

int main(void)
{
    if (!fcnn_pool_avx512.name) {
        printf("the AVX-512 pooling unit was not compiled in\n");
        return 1;
    }
    const geometry geos[] = {
        {7, 9, 2, 2, 2, 2, 0, 0, 3, 4},   /* last row and column unused */
        {7, 9, 3, 3, 2, 2, 1, 1, 4, 5},   /* overlapping, padded ("same") */
        {6, 8, 2, 2, 3, 3, 0, 0, 2, 3},   /* gaps between windows */
        {5, 7, 3, 2, 1, 2, 0, 0, 3, 3},   /* rows overlap only */
        {26, 26, 2, 2, 2, 2, 0, 0, 13, 13} /* the seed model's */
    };
    const int channels[] = {1, 7, 16, 33, 45, 70};
    int fails = 0, checks = 0;
    for (unsigned i = 0; i < sizeof geos / sizeof geos[0]; ++i)
        for (unsigned j = 0; j < sizeof channels / sizeof channels[0]; ++j) {
            fails += check_f32(&geos[i], channels[j]);
            fails += check_f64(&geos[i], channels[j]);
            checks += 18;
        }
    printf("%d pooling checks, %d failing\n", checks, fails);
    return fails != 0;
}
