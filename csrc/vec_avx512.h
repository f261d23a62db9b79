/* The vector macros ukernel_x86_impl.h and conv_small_impl.h read, for avx512 in float, or in
 * double with FCNN_VEC_F64 defined: define KNAME, include this, the kernel templates, then
 * vec_undef.h. VKEEP(v, m): v where m > 0, else 0. */
#if defined(FCNN_VEC_F64)
#define T double
#define VT __m512d
#define VLEN 8
#define TSFX f64
#define VLOAD _mm512_loadu_pd
#define VSTORE _mm512_storeu_pd
#define VADD _mm512_add_pd
#define VSUB _mm512_sub_pd
#define VMAX _mm512_max_pd
#define VZERO _mm512_setzero_pd
#define VFMA _mm512_fmadd_pd
#define VSET1 _mm512_set1_pd
#define VKEEP(v, m) _mm512_maskz_mov_pd(_mm512_cmp_pd_mask((m), _mm512_setzero_pd(), _CMP_GT_OQ), (v))
#else
#define T float
#define VT __m512
#define VLEN 16
#define TSFX f32
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VMAX _mm512_max_ps
#define VZERO _mm512_setzero_ps
#define VFMA _mm512_fmadd_ps
#define VSET1 _mm512_set1_ps
#define VKEEP(v, m) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((m), _mm512_setzero_ps(), _CMP_GT_OQ), (v))
#endif
