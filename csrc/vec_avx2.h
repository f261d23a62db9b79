/* The vector macros ukernel_x86_impl.h and conv_small_impl.h read, for avx2 in float, or in
 * double with FCNN_VEC_F64 defined: define KNAME, include this, the kernel templates, then
 * vec_undef.h. */
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
#endif
