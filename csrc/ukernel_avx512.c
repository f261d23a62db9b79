/* AVX-512F micro-kernels, compiled with -mavx512f -mfma (setup.py) and run only where the
 * CPU and OS support them (dispatch.c).
 * f32: 12 x 32 tile = 24 zmm accumulators + 2 B vectors + 1 broadcast, of the 32 registers;
 * each step issues 24 FMAs against 2 loads and 12 broadcasts, enough independent chains to
 * cover the FMA latency on both ports. f64: 12 x 16, the same shape in doubles. */
#include "ukernel_common.h"

#if defined(FCNN_HAVE_AVX512)
#include <immintrin.h>

FCNN_DEFINE_STORE_TILE(float, f32)
FCNN_DEFINE_STORE_TILE(double, f64)
FCNN_DEFINE_FMA_LOOP(fma_loop_avx512, __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps,
                     _mm512_add_ps, _mm512_storeu_ps)

#define MR 12
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ROWS_HALF(X) X(0) X(1) X(2) X(3) X(4) X(5)

/* 32 vector registers: groups of 12 values of K in the few-channel dW (conv_small_impl.h) */
#define SMALL_DW_KMAX 12
#define SMALL_DW_CV_J 3
#define SMALL_DW_CV_FB 8
/* and narrow forward tiles of up to 28 pixels (conv_small_impl.h) */
#define FWD_NARROW_WIDE
#define KNAME avx512_f32
#include "vec_avx512.h"
#include "ukernel_x86_impl.h"
#include "conv_small_impl.h"
#include "vec_undef.h"

#define FCNN_VEC_F64
#define KNAME avx512_f64
#include "vec_avx512.h"
#include "ukernel_x86_impl.h"
#include "conv_small_impl.h"
#include "vec_undef.h"

/* The narrow tile: 16 x one vector (16 floats, 8 doubles), 16 accumulators, for GEMMs that
 * wide (16 filters or channels), which would fill only half of the 12 x 32 tile; chosen per
 * call by fcnn_isa_for_width (dispatch.c). Its few-channel kernels are the wide set's. */
#undef MR
#undef ROWS
#define MR 16
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) \
                X(14) X(15)
#define KNV 1
#define KNAME avx512n_f32
#include "vec_avx512.h"
#include "ukernel_x86_impl.h"
#include "vec_undef.h"

#define KNV 1
#define FCNN_VEC_F64
#define KNAME avx512n_f64
#include "vec_avx512.h"
#include "ukernel_x86_impl.h"

/* No few-channel forward of its own (the wide set's is laid out for the 12 x 32 tile): under
 * this set the few-channel forward runs its strided tile (fcnn_conv_small_rows). Normal
 * selection never makes it the set in use; tests do (fcnn_use_kernels). */
const fcnn_isa fcnn_isa_avx512_narrow = {
    "avx512-narrow", 16, 16, 16, 8, ukr_avx512n_f32, ukr_avx512n_f64, ukr_ind_avx512n_f32,
    ukr_ind_avx512n_f64, ukr_str_avx512n_f32, ukr_str_avx512n_f64,
    dx_small_rows_avx512_f32, dx_small_rows_avx512_f64,
    dw_small_tile_avx512_f32, dw_small_tile_avx512_f64,
    NULL, NULL, fma_loop_avx512, add_residual_avx512_f32, add_residual_avx512_f64,
    wino_in_avx512_f32, wino_in_avx512_f64, wino_out_avx512_f32, wino_out_avx512_f64,
    wino_dy_avx512_f32, wino_dy_avx512_f64,
};

const fcnn_isa fcnn_isa_avx512 = {
    "avx512", 12, 32, 12, 16, ukr_avx512_f32, ukr_avx512_f64, ukr_ind_avx512_f32,
    ukr_ind_avx512_f64, ukr_str_avx512_f32, ukr_str_avx512_f64,
    dx_small_rows_avx512_f32, dx_small_rows_avx512_f64,
    dw_small_tile_avx512_f32, dw_small_tile_avx512_f64,
    fwd_small_rows_avx512_f32, fwd_small_rows_avx512_f64, fma_loop_avx512,
    add_residual_avx512_f32, add_residual_avx512_f64,
    wino_in_avx512_f32, wino_in_avx512_f64, wino_out_avx512_f32, wino_out_avx512_f64,
    wino_dy_avx512_f32, wino_dy_avx512_f64,
};

#else
const fcnn_isa fcnn_isa_avx512 = {0};
const fcnn_isa fcnn_isa_avx512_narrow = {0};
#endif
