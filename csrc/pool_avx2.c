/* Pooling kernels with AVX2 (8 floats / 4 doubles a vector), compiled with -mavx2 -mfma
 * (setup.py) and used only where csrc/dispatch.c chose the AVX2 kernels. */
#include "pool.h"

#if defined(FCNN_HAVE_AVX2)
#include <immintrin.h>

/* Channel blocks of 4 vectors (32 floats / 16 doubles) of the 16 ymm registers: no spills in max backward. */
#define POOL_NB 4

#define T float
#define SFX f32
#define VT __m256
#define VM __m256
#define VLEN 8
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VZERO _mm256_setzero_ps
#define VSET1 _mm256_set1_ps
#define VADD _mm256_add_ps
#define VDIV _mm256_div_ps
#define VTAKES(v, best)                                                                        \
    _mm256_and_ps(_mm256_cmp_ps(v, best, _CMP_NLE_UQ), _mm256_cmp_ps(best, best, _CMP_ORD_Q))
#define VSELECT(m, a, b) _mm256_blendv_ps(b, a, m)
#define VEQ(a, b) _mm256_cmp_ps(a, b, _CMP_EQ_OQ)
#define VMASKED _mm256_and_ps
#include "pool_impl.h"
#undef T
#undef SFX
#undef VT
#undef VM
#undef VLEN
#undef VLOAD
#undef VSTORE
#undef VZERO
#undef VSET1
#undef VADD
#undef VDIV
#undef VTAKES
#undef VSELECT
#undef VEQ
#undef VMASKED

#define T double
#define SFX f64
#define VT __m256d
#define VM __m256d
#define VLEN 4
#define VLOAD _mm256_loadu_pd
#define VSTORE _mm256_storeu_pd
#define VZERO _mm256_setzero_pd
#define VSET1 _mm256_set1_pd
#define VADD _mm256_add_pd
#define VDIV _mm256_div_pd
#define VTAKES(v, best)                                                                        \
    _mm256_and_pd(_mm256_cmp_pd(v, best, _CMP_NLE_UQ), _mm256_cmp_pd(best, best, _CMP_ORD_Q))
#define VSELECT(m, a, b) _mm256_blendv_pd(b, a, m)
#define VEQ(a, b) _mm256_cmp_pd(a, b, _CMP_EQ_OQ)
#define VMASKED _mm256_and_pd
#include "pool_impl.h"

const fcnn_pool_kernels fcnn_pool_avx2 = {
    "avx2",
    max_forward_f32, avg_forward_f32, max_backward_f32, avg_backward_f32,
    max_forward_f64, avg_forward_f64, max_backward_f64, avg_backward_f64,
    max_relu_backward_f32, max_relu_backward_f64,
    max_forward_pick_f32, max_forward_pick_f64, max_pick_backward_f32, max_pick_backward_f64,
    POOL_NB * 8, POOL_NB * 4,
};

#else
const fcnn_pool_kernels fcnn_pool_avx2 = {0};
#endif
