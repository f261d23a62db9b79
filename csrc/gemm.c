/* GEMM drivers for float and double, from one template. */
#include <string.h>
#ifdef __SSE2__
#include <xmmintrin.h>
#endif

#include "fastcnn_kernels.h"

#define T float
#define SFX f32
#define MR_FIELD mr_f32
#define NR_FIELD nr_f32
#define UKR_FIELD ukr_f32
#define UKR_IND_FIELD ukr_ind_f32
#include "gemm_impl.h"
#undef T
#undef SFX
#undef MR_FIELD
#undef NR_FIELD
#undef UKR_FIELD
#undef UKR_IND_FIELD

#define T double
#define SFX f64
#define MR_FIELD mr_f64
#define NR_FIELD nr_f64
#define UKR_FIELD ukr_f64
#define UKR_IND_FIELD ukr_ind_f64
#include "gemm_impl.h"
