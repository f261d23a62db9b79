/* AVX2+FMA micro-kernels, compiled with -mavx2 -mfma (setup.py) and run only where the CPU
 * and OS support them (dispatch.c).
 * f32: 6 x 16 tile = 12 ymm accumulators + 2 B vectors + 1 broadcast, of the 16 registers.
 * f64: 6 x 8, the same shape in doubles. */
#include "ukernel_common.h"

#if defined(FCNN_HAVE_AVX2)
#include <immintrin.h>

FCNN_DEFINE_STORE_TILE(float, f32)
FCNN_DEFINE_STORE_TILE(double, f64)

#define MR 6
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

#define T float
#define VT __m256
#define VLEN 8
#define TSFX f32
#define KNAME avx2_f32
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VADD _mm256_add_ps
#define VMAX _mm256_max_ps
#define VZERO _mm256_setzero_ps
#define VFMA _mm256_fmadd_ps
#define VSET1 _mm256_set1_ps
#include "ukernel_x86_impl.h"
#undef T
#undef VT
#undef VLEN
#undef TSFX
#undef KNAME
#undef VLOAD
#undef VSTORE
#undef VADD
#undef VMAX
#undef VZERO
#undef VFMA
#undef VSET1

#define T double
#define VT __m256d
#define VLEN 4
#define TSFX f64
#define KNAME avx2_f64
#define VLOAD _mm256_loadu_pd
#define VSTORE _mm256_storeu_pd
#define VADD _mm256_add_pd
#define VMAX _mm256_max_pd
#define VZERO _mm256_setzero_pd
#define VFMA _mm256_fmadd_pd
#define VSET1 _mm256_set1_pd
#include "ukernel_x86_impl.h"

const fcnn_isa fcnn_isa_avx2 = {
    "avx2", 6, 16, 6, 8, ukr_avx2_f32, ukr_avx2_f64, ukr_ind_avx2_f32, ukr_ind_avx2_f64,
};

#else
const fcnn_isa fcnn_isa_avx2 = {0, 0, 0, 0, 0, 0, 0, 0, 0};
#endif
