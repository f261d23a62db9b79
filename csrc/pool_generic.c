/* Pooling kernels for the baseline ISA: SSE2 on x86 (part of x86-64), plain C elsewhere. */
#include "pool.h"

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>

/* Channel blocks of 2 vectors (8 floats / 4 doubles): 4 would spill, SSE2 selects taking
 * extra registers without blendv. */
#define POOL_NB 2
#define POOL_CB_F32 (POOL_NB * 4)
#define POOL_CB_F64 (POOL_NB * 2)

#define T float
#define SFX f32
#define VT __m128
#define VM __m128
#define VLEN 4
#define VLOAD _mm_loadu_ps
#define VSTORE _mm_storeu_ps
#define VZERO _mm_setzero_ps
#define VSET1 _mm_set1_ps
#define VADD _mm_add_ps
#define VDIV _mm_div_ps
#define VTAKES(v, best) _mm_and_ps(_mm_cmpnle_ps(v, best), _mm_cmpord_ps(best, best))
#define VSELECT(m, a, b) _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b))
#define VEQ _mm_cmpeq_ps
#define VMASKED _mm_and_ps
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
#define VT __m128d
#define VM __m128d
#define VLEN 2
#define VLOAD _mm_loadu_pd
#define VSTORE _mm_storeu_pd
#define VZERO _mm_setzero_pd
#define VSET1 _mm_set1_pd
#define VADD _mm_add_pd
#define VDIV _mm_div_pd
#define VTAKES(v, best) _mm_and_pd(_mm_cmpnle_pd(v, best), _mm_cmpord_pd(best, best))
#define VSELECT(m, a, b) _mm_or_pd(_mm_and_pd(m, a), _mm_andnot_pd(m, b))
#define VEQ _mm_cmpeq_pd
#define VMASKED _mm_and_pd
#include "pool_impl.h"

#else /* no SIMD baseline known: one channel at a time */

#define POOL_NB 1
#define POOL_CB_F32 1
#define POOL_CB_F64 1

#define VM int
#define VLEN 1
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VZERO() ((T)0)
#define VSET1(s) ((T)(s))
#define VADD(a, b) ((a) + (b))
#define VDIV(a, b) ((a) / (b))
#define VTAKES(v, best) ((v) > (best) || ((v) != (v) && (best) == (best)))
#define VSELECT(m, a, b) ((m) ? (a) : (b))
#define VEQ(a, b) ((a) == (b))
#define VMASKED(m, a) ((m) ? (a) : (T)0)

#define T float
#define SFX f32
#define VT float
#include "pool_impl.h"
#undef T
#undef SFX
#undef VT

#define T double
#define SFX f64
#define VT double
#include "pool_impl.h"
#endif

const fcnn_pool_kernels fcnn_pool_generic = {
    "generic",
    max_forward_f32, avg_forward_f32, max_backward_f32, avg_backward_f32,
    max_forward_f64, avg_forward_f64, max_backward_f64, avg_backward_f64,
    max_relu_backward_f32, max_relu_backward_f64,
    max_forward_pick_f32, max_forward_pick_f64, max_pick_backward_f32, max_pick_backward_f64,
    POOL_CB_F32, POOL_CB_F64,
};
