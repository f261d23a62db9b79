/* Row kernels of batch normalization (fastcnn/_norm.pyx): per-channel work over `rows` rows
 * of `c` contiguous channels, one thread and one block of rows per call. Every inner loop
 * runs over the channels of a row, so it is vector code across channels; the channel
 * counts of CIFAR-class models (16, 32, 64) get loops of constant length, so that the
 * per-channel sums and coefficients stay in registers across the rows.
 *
 * Each kernel is compiled for AVX-512, AVX2 and the baseline ISA (GCC's target_clones, on
 * x86-64 Linux; the baseline elsewhere), picked once when the module loads: _norm.pyx
 * itself is compiled for the baseline ISA only. The build turns FMA contraction off for
 * this module (setup.py) and the loops never reorder a sum (each channel's sum runs over
 * the rows in order), so every version gives bitwise the same results: the choice changes
 * speed only.
 *
 * Sums are in double; per-element results in the data's type T. Float versions end in _f,
 * double versions in _d. Arrays passed to one call never overlap, except where said. */
#ifndef FASTCNN_NORM_ROWS_H
#define FASTCNN_NORM_ROWS_H

#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FCNN_NORM_NO_CLONES)
#define FCNN_NORM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FCNN_NORM_CLONES
#endif

/* The row bodies below are inlined into each clone, so that each is compiled for the clone's
 * ISA: left to itself GCC outlined some of the 12 channel and mask variants as constprop
 * copies compiled for the baseline ISA (SSE2 code took half of the backward's samples). */
#if defined(__GNUC__)
#define FCNN_NORM_BODY static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define FCNN_NORM_BODY static __forceinline
#else
#define FCNN_NORM_BODY static inline
#endif

#if defined(_MSC_VER)
#define FCNN_RESTRICT __restrict
#else
#define FCNN_RESTRICT __restrict__
#endif

/* `CALL` with the channel count `c` as a constant for 16, 32 and 64 (the kernel bodies are
 * inline functions, so the constant reaches their loops), else as it is. */
#define FCNN_NORM_BY_CHANNELS(c, CALL)                                                      \
    do {                                                                                    \
        if ((c) == 16) { const ptrdiff_t nc = 16; CALL; }                                   \
        else if ((c) == 32) { const ptrdiff_t nc = 32; CALL; }                              \
        else if ((c) == 64) { const ptrdiff_t nc = 64; CALL; }                              \
        else { const ptrdiff_t nc = (c); CALL; }                                            \
    } while (0)

/* The same for 32 and 64 only: the sums of the backward pass, which mask a row into scratch
 * memory and read it back, run slower with a constant 16 (the row's reads straddle its
 * single vector store, on AVX-512). */
#define FCNN_NORM_BY_CHANNELS_WIDE(c, CALL)                                                 \
    do {                                                                                    \
        if ((c) == 32) { const ptrdiff_t nc = 32; CALL; }                                   \
        else if ((c) == 64) { const ptrdiff_t nc = 64; CALL; }                              \
        else { const ptrdiff_t nc = (c); CALL; }                                            \
    } while (0)

/* The masks of the backward passes: dy passes where the ReLU output relu_y is > 0
 * (_elementwise.relu_backward), or, with `coefficients` (c scales, then c shifts), where
 * the ReLU's input v = (x - center) * scale + shift, computed again as the normalizing pass
 * computed it, is > 0, which is exactly where its ReLU is. dy is read unconditionally and
 * the select is in T alone, so that it compiles to vector code. */
enum { FCNN_NORM_NO_MASK, FCNN_NORM_RELU_OUTPUT, FCNN_NORM_FROM_X };

#define FCNN_NORM_KERNELS(T, S)                                                             \
                                                                                            \
FCNN_NORM_BODY T fcnn_norm_mask_##S(int mode, T g, const T *relu_y, T x, const T *center,   \
                                    const T *coefficients, ptrdiff_t c, ptrdiff_t j) {      \
    if (mode == FCNN_NORM_RELU_OUTPUT)                                                      \
        return relu_y[j] > 0 ? g : (T)0;                                                    \
    if (mode == FCNN_NORM_FROM_X) {                                                         \
        T v = (x - center[j]) * coefficients[j] + coefficients[c + j];                      \
        return v > 0 ? g : (T)0;                                                            \
    }                                                                                       \
    return g;                                                                               \
}                                                                                           \
                                                                                            \
FCNN_NORM_BODY void fcnn_norm_add_rows_body_##S(const T *FCNN_RESTRICT x, ptrdiff_t rows,   \
                                                ptrdiff_t c, double *FCNN_RESTRICT acc) {   \
    ptrdiff_t r, j;                                                                         \
    for (r = 0; r < rows; r++)                                                              \
        for (j = 0; j < c; j++)                                                             \
            acc[j] += (double)x[r * c + j];                                                 \
}                                                                                           \
                                                                                            \
/* acc[j] += x[r, j] for r = 0, 1, ... (in that order). */                                  \
FCNN_NORM_CLONES void fcnn_norm_add_rows_##S(const T *x, ptrdiff_t rows, ptrdiff_t c,       \
                                             double *acc) {                                 \
    FCNN_NORM_BY_CHANNELS(c, fcnn_norm_add_rows_body_##S(x, rows, nc, acc));                \
}                                                                                           \
                                                                                            \
FCNN_NORM_BODY void fcnn_norm_add_deviations_body_##S(                                      \
        const T *FCNN_RESTRICT x, ptrdiff_t rows, ptrdiff_t c,                              \
        const double *FCNN_RESTRICT center, double *FCNN_RESTRICT dev,                      \
        double *FCNN_RESTRICT sq) {                                                         \
    ptrdiff_t r, j;                                                                         \
    for (r = 0; r < rows; r++)                                                              \
        for (j = 0; j < c; j++) {                                                           \
            double d = (double)x[r * c + j] - center[j];                                    \
            dev[j] += d;                                                                    \
            sq[j] += d * d;                                                                 \
        }                                                                                   \
}                                                                                           \
                                                                                            \
/* dev[j] += x[r, j] - center[j]; sq[j] += (x[r, j] - center[j])**2, r = 0, 1, ... */        \
FCNN_NORM_CLONES void fcnn_norm_add_deviations_##S(const T *x, ptrdiff_t rows, ptrdiff_t c, \
                                                   const double *center, double *dev,       \
                                                   double *sq) {                            \
    FCNN_NORM_BY_CHANNELS(c, fcnn_norm_add_deviations_body_##S(x, rows, nc, center, dev,    \
                                                                sq));                       \
}                                                                                           \
                                                                                            \
FCNN_NORM_BODY void fcnn_norm_normalize_rows_body_##S(                                      \
        const T *FCNN_RESTRICT x, T *FCNN_RESTRICT y, ptrdiff_t rows, ptrdiff_t c,          \
        const T *FCNN_RESTRICT center, const T *FCNN_RESTRICT scale,                        \
        const T *FCNN_RESTRICT shift, int relu) {                                           \
    ptrdiff_t r, j;                                                                         \
    if (relu) {                                                                             \
        for (r = 0; r < rows; r++)                                                          \
            for (j = 0; j < c; j++) {                                                       \
                T v = (x[r * c + j] - center[j]) * scale[j] + shift[j];                     \
                y[r * c + j] = v < 0 ? (T)0 : v;                                            \
            }                                                                               \
    } else {                                                                                \
        for (r = 0; r < rows; r++)                                                          \
            for (j = 0; j < c; j++)                                                         \
                y[r * c + j] = (x[r * c + j] - center[j]) * scale[j] + shift[j];            \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* y = (x - center) * scale + shift per channel, in T; with relu then 0 where that is < 0    \
 * (NaN stays NaN), in the same pass. */                                                    \
FCNN_NORM_CLONES void fcnn_norm_normalize_rows_##S(const T *x, T *y, ptrdiff_t rows,        \
                                                   ptrdiff_t c, const T *center,            \
                                                   const T *scale, const T *shift,          \
                                                   int relu) {                              \
    FCNN_NORM_BY_CHANNELS(c, fcnn_norm_normalize_rows_body_##S(x, y, rows, nc, center,      \
                                                                scale, shift, relu));       \
}                                                                                           \
                                                                                            \
FCNN_NORM_BODY void fcnn_norm_normalize_add_rows_body_##S(                                  \
        const T *FCNN_RESTRICT x, const T *FCNN_RESTRICT add, T *FCNN_RESTRICT y,           \
        ptrdiff_t rows, ptrdiff_t c, const T *FCNN_RESTRICT center,                         \
        const T *FCNN_RESTRICT scale, const T *FCNN_RESTRICT shift, int relu) {             \
    ptrdiff_t r, j;                                                                         \
    if (relu) {                                                                             \
        for (r = 0; r < rows; r++)                                                          \
            for (j = 0; j < c; j++) {                                                       \
                T v = (x[r * c + j] - center[j]) * scale[j] + shift[j];                     \
                v = v + add[r * c + j];                                                     \
                y[r * c + j] = v < 0 ? (T)0 : v;                                            \
            }                                                                               \
    } else {                                                                                \
        for (r = 0; r < rows; r++)                                                          \
            for (j = 0; j < c; j++) {                                                       \
                T v = (x[r * c + j] - center[j]) * scale[j] + shift[j];                     \
                y[r * c + j] = v + add[r * c + j];                                          \
            }                                                                               \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* y = ((x - center) * scale + shift) + add per channel, each step rounded to T as the       \
 * normalizing pass and then _elementwise.add round them (one addition of two: the order of \
 * its operands does not change the sum); with relu then 0 where that is < 0 (NaN stays     \
 * NaN), in the same pass. */                                                               \
FCNN_NORM_CLONES void fcnn_norm_normalize_add_rows_##S(const T *x, const T *add, T *y,      \
                                                       ptrdiff_t rows, ptrdiff_t c,         \
                                                       const T *center, const T *scale,     \
                                                       const T *shift, int relu) {          \
    FCNN_NORM_BY_CHANNELS(c, fcnn_norm_normalize_add_rows_body_##S(x, add, y, rows, nc,     \
                                                                    center, scale, shift,   \
                                                                    relu));                 \
}                                                                                           \
                                                                                            \
FCNN_NORM_BODY void fcnn_norm_gradient_sums_body_##S(                                       \
        int mode, const T *FCNN_RESTRICT dy, const T *FCNN_RESTRICT x, ptrdiff_t rows,      \
        ptrdiff_t c, const double *FCNN_RESTRICT mean, double *FCNN_RESTRICT sum_dy,        \
        double *FCNN_RESTRICT sum_dy_xc, const T *FCNN_RESTRICT relu_y,                     \
        const T *FCNN_RESTRICT center, const T *FCNN_RESTRICT coefficients,                 \
        T *FCNN_RESTRICT row, ptrdiff_t row_step) {                                         \
    ptrdiff_t r, j;                                                                         \
    for (r = 0; r < rows; r++) {                                                            \
        const T *xr = x + r * c, *d = dy + r * c;                                           \
        if (mode != FCNN_NORM_NO_MASK) {  /* masked in T first: a select that vectorizes */ \
            T *FCNN_RESTRICT out = row + r * row_step;                                      \
            for (j = 0; j < c; j++)                                                         \
                out[j] = fcnn_norm_mask_##S(mode, d[j], relu_y ? relu_y + r * c : NULL,     \
                                            xr[j], center, coefficients, c, j);             \
            d = out;                                                                        \
        }                                                                                   \
        for (j = 0; j < c; j++) {                                                           \
            double g = (double)d[j];                                                        \
            sum_dy[j] += g;                                                                 \
            sum_dy_xc[j] += g * ((double)xr[j] - mean[j]);                                  \
        }                                                                                   \
    }                                                                                       \
}                                                                                           \
                                                                                            \
/* sum_dy[j] += dy[r, j]; sum_dy_xc[j] += dy[r, j] * (x[r, j] - mean[j]), dy masked by       \
 * relu_y or by the mask found again from x (coefficients, and center: the mean in T) when   \
 * one of them is not NULL (row: scratch for c values then, or with row_step c the masked   \
 * rows written out, row r at row + r * c; row_step 0: one row of scratch reused). */       \
FCNN_NORM_CLONES void fcnn_norm_gradient_sums_##S(                                          \
        const T *dy, const T *x, ptrdiff_t rows, ptrdiff_t c, const double *mean,           \
        double *sum_dy, double *sum_dy_xc, const T *relu_y, const T *center,                \
        const T *coefficients, T *row, ptrdiff_t row_step) {                                \
    if (relu_y)                                                                             \
        FCNN_NORM_BY_CHANNELS_WIDE(c, fcnn_norm_gradient_sums_body_##S(                          \
            FCNN_NORM_RELU_OUTPUT, dy, x, rows, nc, mean, sum_dy, sum_dy_xc, relu_y, center, \
            coefficients, row, row_step));                                                  \
    else if (coefficients)                                                                  \
        FCNN_NORM_BY_CHANNELS_WIDE(c, fcnn_norm_gradient_sums_body_##S(                          \
            FCNN_NORM_FROM_X, dy, x, rows, nc, mean, sum_dy, sum_dy_xc, NULL, center,       \
            coefficients, row, row_step));                                                  \
    else                                                                                    \
        FCNN_NORM_BY_CHANNELS_WIDE(c, fcnn_norm_gradient_sums_body_##S(                          \
            FCNN_NORM_NO_MASK, dy, x, rows, nc, mean, sum_dy, sum_dy_xc, NULL, center,      \
            NULL, row, 0));                                                                 \
}                                                                                           \
                                                                                            \
FCNN_NORM_BODY void fcnn_norm_gradient_rows_body_##S(                                       \
        int mode, const T *FCNN_RESTRICT dy, const T *FCNN_RESTRICT x,                      \
        T *FCNN_RESTRICT dx, ptrdiff_t rows, ptrdiff_t c, T count,                          \
        const T *FCNN_RESTRICT mean, const T *FCNN_RESTRICT dbeta,                          \
        const T *FCNN_RESTRICT g, const T *FCNN_RESTRICT k,                                 \
        const T *FCNN_RESTRICT relu_y, const T *FCNN_RESTRICT coefficients) {               \
    ptrdiff_t r, j;                                                                         \
    for (r = 0; r < rows; r++)                                                              \
        for (j = 0; j < c; j++) {                                                           \
            T xv = x[r * c + j];                                                            \
            T d = fcnn_norm_mask_##S(mode, dy[r * c + j], relu_y ? relu_y + r * c : NULL,   \
                                     xv, mean, coefficients, c, j);                         \
            dx[r * c + j] = ((d * count - dbeta[j]) - (xv - mean[j]) * g[j]) * k[j];        \
        }                                                                                   \
}                                                                                           \
                                                                                            \
/* dx = ((dy * count - dbeta) - (x - mean) * g) * k per channel, in T, dy masked as in       \
 * fcnn_norm_gradient_sums (mean: also the center of the mask found again from x). */       \
FCNN_NORM_CLONES void fcnn_norm_gradient_rows_##S(                                          \
        const T *dy, const T *x, T *dx, ptrdiff_t rows, ptrdiff_t c, T count,               \
        const T *mean, const T *dbeta, const T *g, const T *k, const T *relu_y,             \
        const T *coefficients) {                                                            \
    if (relu_y)                                                                             \
        FCNN_NORM_BY_CHANNELS(c, fcnn_norm_gradient_rows_body_##S(                          \
            FCNN_NORM_RELU_OUTPUT, dy, x, dx, rows, nc, count, mean, dbeta, g, k, relu_y,   \
            coefficients));                                                                 \
    else if (coefficients)                                                                  \
        FCNN_NORM_BY_CHANNELS(c, fcnn_norm_gradient_rows_body_##S(                          \
            FCNN_NORM_FROM_X, dy, x, dx, rows, nc, count, mean, dbeta, g, k, NULL,          \
            coefficients));                                                                 \
    else                                                                                    \
        FCNN_NORM_BY_CHANNELS(c, fcnn_norm_gradient_rows_body_##S(                          \
            FCNN_NORM_NO_MASK, dy, x, dx, rows, nc, count, mean, dbeta, g, k, NULL, NULL)); \
}

FCNN_NORM_KERNELS(float, f)
FCNN_NORM_KERNELS(double, d)

#endif
