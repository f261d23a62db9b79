/* AVX-512F micro-kernels, compiled with -mavx512f -mfma (setup.py) and run only where the
 * CPU and OS support them (dispatch.c).
 * f32: 12 x 32 tile = 24 zmm accumulators + 2 B vectors + 1 broadcast, of the 32 registers;
 * each step issues 24 FMAs against 2 loads and 12 broadcasts, enough independent chains to
 * cover the FMA latency on both ports. f64: 12 x 16, the same shape in doubles. */
#include "ukernel_common.h"

#if defined(FCNN_HAVE_AVX512)
#include <immintrin.h>

#define ROWS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

FCNN_DEFINE_STORE_TILE(float, f32)
FCNN_DEFINE_STORE_TILE(double, f64)

static inline void row_f32(float *dst, __m512 lo, __m512 hi, int flags, const float *bias)
{
    if (flags & FCNN_ACCUMULATE) {
        lo = _mm512_add_ps(_mm512_loadu_ps(dst), lo);
        hi = _mm512_add_ps(_mm512_loadu_ps(dst + 16), hi);
    }
    if (flags & FCNN_BIAS) {
        lo = _mm512_add_ps(lo, _mm512_loadu_ps(bias));
        hi = _mm512_add_ps(hi, _mm512_loadu_ps(bias + 16));
    }
    if (flags & FCNN_RELU) {
        lo = _mm512_max_ps(_mm512_setzero_ps(), lo);
        hi = _mm512_max_ps(_mm512_setzero_ps(), hi);
    }
    _mm512_storeu_ps(dst, lo);
    _mm512_storeu_ps(dst + 16, hi);
}

static void ukr_avx512_f32(ptrdiff_t kc, const float *a, const float *b, float *const *crow,
                           ptrdiff_t col, int mr, int nr, int flags, const float *bias)
{
#define DECL(r) __m512 c##r##l = _mm512_setzero_ps(), c##r##h = _mm512_setzero_ps();
    ROWS12(DECL)
#undef DECL
    for (ptrdiff_t p = 0; p < kc; ++p) {
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#define STEP(r)                                                                                \
    {                                                                                          \
        const __m512 ar = _mm512_set1_ps(a[r]);                                                \
        c##r##l = _mm512_fmadd_ps(ar, b0, c##r##l);                                            \
        c##r##h = _mm512_fmadd_ps(ar, b1, c##r##h);                                            \
    }
        ROWS12(STEP)
#undef STEP
        a += 12;
        b += 32;
    }
    if (mr == 12 && nr == 32) {
#define STORE(r) row_f32(crow[r] + col, c##r##l, c##r##h, flags, bias);
        ROWS12(STORE)
#undef STORE
    } else {
        float tile[12 * 32];
#define SPILL(r)                                                                               \
    _mm512_storeu_ps(tile + r * 32, c##r##l);                                                  \
    _mm512_storeu_ps(tile + r * 32 + 16, c##r##h);
        ROWS12(SPILL)
#undef SPILL
        store_tile_f32(tile, 32, crow, col, mr, nr, flags, bias);
    }
}

static inline void row_f64(double *dst, __m512d lo, __m512d hi, int flags, const double *bias)
{
    if (flags & FCNN_ACCUMULATE) {
        lo = _mm512_add_pd(_mm512_loadu_pd(dst), lo);
        hi = _mm512_add_pd(_mm512_loadu_pd(dst + 8), hi);
    }
    if (flags & FCNN_BIAS) {
        lo = _mm512_add_pd(lo, _mm512_loadu_pd(bias));
        hi = _mm512_add_pd(hi, _mm512_loadu_pd(bias + 8));
    }
    if (flags & FCNN_RELU) {
        lo = _mm512_max_pd(_mm512_setzero_pd(), lo);
        hi = _mm512_max_pd(_mm512_setzero_pd(), hi);
    }
    _mm512_storeu_pd(dst, lo);
    _mm512_storeu_pd(dst + 8, hi);
}

static void ukr_avx512_f64(ptrdiff_t kc, const double *a, const double *b, double *const *crow,
                           ptrdiff_t col, int mr, int nr, int flags, const double *bias)
{
#define DECL(r) __m512d c##r##l = _mm512_setzero_pd(), c##r##h = _mm512_setzero_pd();
    ROWS12(DECL)
#undef DECL
    for (ptrdiff_t p = 0; p < kc; ++p) {
        const __m512d b0 = _mm512_loadu_pd(b), b1 = _mm512_loadu_pd(b + 8);
#define STEP(r)                                                                                \
    {                                                                                          \
        const __m512d ar = _mm512_set1_pd(a[r]);                                               \
        c##r##l = _mm512_fmadd_pd(ar, b0, c##r##l);                                            \
        c##r##h = _mm512_fmadd_pd(ar, b1, c##r##h);                                            \
    }
        ROWS12(STEP)
#undef STEP
        a += 12;
        b += 16;
    }
    if (mr == 12 && nr == 16) {
#define STORE(r) row_f64(crow[r] + col, c##r##l, c##r##h, flags, bias);
        ROWS12(STORE)
#undef STORE
    } else {
        double tile[12 * 16];
#define SPILL(r)                                                                               \
    _mm512_storeu_pd(tile + r * 16, c##r##l);                                                  \
    _mm512_storeu_pd(tile + r * 16 + 8, c##r##h);
        ROWS12(SPILL)
#undef SPILL
        store_tile_f64(tile, 16, crow, col, mr, nr, flags, bias);
    }
}

const fcnn_isa fcnn_isa_avx512 = {"avx512", 12, 32, 12, 16, ukr_avx512_f32, ukr_avx512_f64};

#else
const fcnn_isa fcnn_isa_avx512 = {0, 0, 0, 0, 0, 0, 0};
#endif
