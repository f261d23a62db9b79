/* AVX2+FMA micro-kernels, compiled with -mavx2 -mfma (setup.py) and run only where the CPU
 * and OS support them (dispatch.c).
 * f32: 6 x 16 tile = 12 ymm accumulators + 2 B vectors + 1 broadcast, of the 16 registers.
 * f64: 6 x 8, the same shape in doubles. */
#include "ukernel_common.h"

#if defined(FCNN_HAVE_AVX2)
#include <immintrin.h>

#define ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)

FCNN_DEFINE_STORE_TILE(float, f32)
FCNN_DEFINE_STORE_TILE(double, f64)

static inline void row_f32(float *dst, __m256 lo, __m256 hi, int flags, const float *bias)
{
    if (flags & FCNN_ACCUMULATE) {
        lo = _mm256_add_ps(_mm256_loadu_ps(dst), lo);
        hi = _mm256_add_ps(_mm256_loadu_ps(dst + 8), hi);
    }
    if (flags & FCNN_BIAS) {
        lo = _mm256_add_ps(lo, _mm256_loadu_ps(bias));
        hi = _mm256_add_ps(hi, _mm256_loadu_ps(bias + 8));
    }
    if (flags & FCNN_RELU) {
        lo = _mm256_max_ps(_mm256_setzero_ps(), lo);
        hi = _mm256_max_ps(_mm256_setzero_ps(), hi);
    }
    _mm256_storeu_ps(dst, lo);
    _mm256_storeu_ps(dst + 8, hi);
}

static void ukr_avx2_f32(ptrdiff_t kc, const float *a, const float *b, float *const *crow,
                         ptrdiff_t col, int mr, int nr, int flags, const float *bias)
{
#define DECL(r) __m256 c##r##l = _mm256_setzero_ps(), c##r##h = _mm256_setzero_ps();
    ROWS6(DECL)
#undef DECL
    for (ptrdiff_t p = 0; p < kc; ++p) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#define STEP(r)                                                                                \
    {                                                                                          \
        const __m256 ar = _mm256_broadcast_ss(a + r);                                          \
        c##r##l = _mm256_fmadd_ps(ar, b0, c##r##l);                                            \
        c##r##h = _mm256_fmadd_ps(ar, b1, c##r##h);                                            \
    }
        ROWS6(STEP)
#undef STEP
        a += 6;
        b += 16;
    }
    if (mr == 6 && nr == 16) {
#define STORE(r) row_f32(crow[r] + col, c##r##l, c##r##h, flags, bias);
        ROWS6(STORE)
#undef STORE
    } else {
        float tile[6 * 16];
#define SPILL(r)                                                                               \
    _mm256_storeu_ps(tile + r * 16, c##r##l);                                                  \
    _mm256_storeu_ps(tile + r * 16 + 8, c##r##h);
        ROWS6(SPILL)
#undef SPILL
        store_tile_f32(tile, 16, crow, col, mr, nr, flags, bias);
    }
}

static inline void row_f64(double *dst, __m256d lo, __m256d hi, int flags, const double *bias)
{
    if (flags & FCNN_ACCUMULATE) {
        lo = _mm256_add_pd(_mm256_loadu_pd(dst), lo);
        hi = _mm256_add_pd(_mm256_loadu_pd(dst + 4), hi);
    }
    if (flags & FCNN_BIAS) {
        lo = _mm256_add_pd(lo, _mm256_loadu_pd(bias));
        hi = _mm256_add_pd(hi, _mm256_loadu_pd(bias + 4));
    }
    if (flags & FCNN_RELU) {
        lo = _mm256_max_pd(_mm256_setzero_pd(), lo);
        hi = _mm256_max_pd(_mm256_setzero_pd(), hi);
    }
    _mm256_storeu_pd(dst, lo);
    _mm256_storeu_pd(dst + 4, hi);
}

static void ukr_avx2_f64(ptrdiff_t kc, const double *a, const double *b, double *const *crow,
                         ptrdiff_t col, int mr, int nr, int flags, const double *bias)
{
#define DECL(r) __m256d c##r##l = _mm256_setzero_pd(), c##r##h = _mm256_setzero_pd();
    ROWS6(DECL)
#undef DECL
    for (ptrdiff_t p = 0; p < kc; ++p) {
        const __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
#define STEP(r)                                                                                \
    {                                                                                          \
        const __m256d ar = _mm256_broadcast_sd(a + r);                                         \
        c##r##l = _mm256_fmadd_pd(ar, b0, c##r##l);                                            \
        c##r##h = _mm256_fmadd_pd(ar, b1, c##r##h);                                            \
    }
        ROWS6(STEP)
#undef STEP
        a += 6;
        b += 8;
    }
    if (mr == 6 && nr == 8) {
#define STORE(r) row_f64(crow[r] + col, c##r##l, c##r##h, flags, bias);
        ROWS6(STORE)
#undef STORE
    } else {
        double tile[6 * 8];
#define SPILL(r)                                                                               \
    _mm256_storeu_pd(tile + r * 8, c##r##l);                                                   \
    _mm256_storeu_pd(tile + r * 8 + 4, c##r##h);
        ROWS6(SPILL)
#undef SPILL
        store_tile_f64(tile, 8, crow, col, mr, nr, flags, bias);
    }
}

const fcnn_isa fcnn_isa_avx2 = {"avx2", 6, 16, 6, 8, ukr_avx2_f32, ukr_avx2_f64};

#else
const fcnn_isa fcnn_isa_avx2 = {0, 0, 0, 0, 0, 0, 0};
#endif
