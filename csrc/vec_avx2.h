/* The vector macros ukernel_x86_impl.h and conv_small_impl.h read, for avx2 in float, or in
 * double with FCNN_VEC_F64 defined: define KNAME, include this, the kernel templates, then
 * vec_undef.h. VKEEP(v, m): v where m > 0, else 0. */
#if defined(FCNN_VEC_F64)
#define T double
#define VT __m256d
#define VLEN 4
#define TSFX f64
#define VLOAD _mm256_loadu_pd
#define VSTORE _mm256_storeu_pd
#define VADD _mm256_add_pd
#define VSUB _mm256_sub_pd
#define VMAX _mm256_max_pd
#define VZERO _mm256_setzero_pd
#define VFMA _mm256_fmadd_pd
#define VSET1 _mm256_set1_pd
#define VKEEP(v, m) _mm256_and_pd(_mm256_cmp_pd((m), _mm256_setzero_pd(), _CMP_GT_OQ), (v))
#else
#define T float
#define VT __m256
#define VLEN 8
#define TSFX f32
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMAX _mm256_max_ps
#define VZERO _mm256_setzero_ps
#define VFMA _mm256_fmadd_ps
#define VSET1 _mm256_set1_ps
#define VKEEP(v, m) _mm256_and_ps(_mm256_cmp_ps((m), _mm256_setzero_ps(), _CMP_GT_OQ), (v))
#endif
