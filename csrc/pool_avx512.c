/* Pooling kernels with AVX-512F (16 floats / 8 doubles a vector; comparisons give mask
 * registers), compiled with the AVX-512 flags of setup.py and used only where
 * csrc/dispatch.c chose the AVX-512 kernels. */
#include "pool.h"

#if defined(FCNN_HAVE_AVX512)
#include <immintrin.h>

/* Channel blocks of 2 vectors (32 floats / 16 doubles); 4 spill in max backward. */
#define POOL_NB 2

#define T float
#define SFX f32
#define VT __m512
#define VM __mmask16
#define VLEN 16
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VZERO _mm512_setzero_ps
#define VSET1 _mm512_set1_ps
#define VADD _mm512_add_ps
#define VDIV _mm512_div_ps
#define VTAKES(v, best)                                                                        \
    _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(best, best, _CMP_ORD_Q), v, best, _CMP_NLE_UQ)
#define VSELECT(m, a, b) _mm512_mask_blend_ps(m, b, a)
#define VEQ(a, b) _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ)
#define VMASKED _mm512_maskz_mov_ps
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
#define VT __m512d
#define VM __mmask8
#define VLEN 8
#define VLOAD _mm512_loadu_pd
#define VSTORE _mm512_storeu_pd
#define VZERO _mm512_setzero_pd
#define VSET1 _mm512_set1_pd
#define VADD _mm512_add_pd
#define VDIV _mm512_div_pd
#define VTAKES(v, best)                                                                        \
    _mm512_mask_cmp_pd_mask(_mm512_cmp_pd_mask(best, best, _CMP_ORD_Q), v, best, _CMP_NLE_UQ)
#define VSELECT(m, a, b) _mm512_mask_blend_pd(m, b, a)
#define VEQ(a, b) _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ)
#define VMASKED _mm512_maskz_mov_pd
#include "pool_impl.h"

const fcnn_pool_kernels fcnn_pool_avx512 = {
    "avx512",
    max_forward_f32, avg_forward_f32, max_backward_f32, avg_backward_f32,
    max_forward_f64, avg_forward_f64, max_backward_f64, avg_backward_f64,
    max_relu_backward_f32, max_relu_backward_f64,
    max_forward_pick_f32, max_forward_pick_f64, max_pick_backward_f32, max_pick_backward_f64,
    POOL_NB * 16, POOL_NB * 8,
};

#else
const fcnn_pool_kernels fcnn_pool_avx512 = {0};
#endif
