/* Convolution drivers for float and double, from one template. */
#include <string.h>

#include "fastcnn_kernels.h"

#define T float
#define SFX f32
#define MR_FIELD mr_f32
#define NR_FIELD nr_f32
#define UKR_FIELD ukr_f32
#define UKR_IND_FIELD ukr_ind_f32
#define UKR_STR_FIELD ukr_str_f32
#define DX_SMALL_FIELD dx_small_f32
#define DW_SMALL_FIELD dw_small_f32
#define FWD_SMALL_FIELD fwd_small_f32
#define ADD_RESIDUAL_FIELD add_residual_f32
#define WINO_IN_FIELD wino_in_f32
#define WINO_OUT_FIELD wino_out_f32
#define WINO_DY_FIELD wino_dy_f32
#include "conv_impl.h"
#undef T
#undef SFX
#undef MR_FIELD
#undef NR_FIELD
#undef UKR_FIELD
#undef UKR_IND_FIELD
#undef UKR_STR_FIELD
#undef DX_SMALL_FIELD
#undef DW_SMALL_FIELD
#undef FWD_SMALL_FIELD
#undef ADD_RESIDUAL_FIELD
#undef WINO_IN_FIELD
#undef WINO_OUT_FIELD
#undef WINO_DY_FIELD

#define T double
#define SFX f64
#define MR_FIELD mr_f64
#define NR_FIELD nr_f64
#define UKR_FIELD ukr_f64
#define UKR_IND_FIELD ukr_ind_f64
#define UKR_STR_FIELD ukr_str_f64
#define DX_SMALL_FIELD dx_small_f64
#define DW_SMALL_FIELD dw_small_f64
#define FWD_SMALL_FIELD fwd_small_f64
#define ADD_RESIDUAL_FIELD add_residual_f64
#define WINO_IN_FIELD wino_in_f64
#define WINO_OUT_FIELD wino_out_f64
#define WINO_DY_FIELD wino_dy_f64
#include "conv_impl.h"
