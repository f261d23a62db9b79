/* Max and average pooling over NHWC images, forward and backward: one kernel set per ISA
 * (pool_generic.c, pool_avx2.c, pool_avx512.c, each compiled with its own flags), vectorized
 * across channels, which are contiguous in a window's pixels.
 *
 * Windows are clipped to the image: padded positions take no part (max pooling never returns
 * a pad value; average pooling divides by the number of real inputs). Max pooling lets the
 * first NaN of a window (row-major order) win, otherwise the first maximal element.
 *
 * The kernel set follows the ISA that csrc/dispatch.c chose for the GEMM kernels (one selection,
 * fcnn_select_isa, sets both); csrc/registry.c lists every set in its table of kernels. */
#ifndef FASTCNN_POOL_H
#define FASTCNN_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One image (h, w, c) pooled to (oh, ow, c) by kh x kw windows moved by (sh, sw); window
 * (o, j) starts at pixel (o*sh - pt, j*sw - pl) of the image. */
typedef struct {
    ptrdiff_t h, w, c;
    ptrdiff_t oh, ow;
    ptrdiff_t kh, kw, sh, sw, pt, pl;
} fcnn_pool_geom;

/* Forward: output rows [o0, o1) of one image (x, y point at the image). */
typedef void (*fcnn_pool_forward_f32)(const fcnn_pool_geom *g, const float *x, float *y,
                                      ptrdiff_t o0, ptrdiff_t o1);
typedef void (*fcnn_pool_forward_f64)(const fcnn_pool_geom *g, const double *x, double *y,
                                      ptrdiff_t o0, ptrdiff_t o1);

/* Backward: rows [r0, r1) of one image's dx, every element written (no zeroed dx needed).
 * Each dx element sums the gradients of the windows that hold it in (o, j) row-major window
 * order, whatever [r0, r1) is, so any split of the rows gives bitwise the same dx. Average
 * pooling ignores x (it may be NULL). */
typedef void (*fcnn_pool_backward_f32)(const fcnn_pool_geom *g, const float *x, const float *dy,
                                       float *dx, ptrdiff_t r0, ptrdiff_t r1);
typedef void (*fcnn_pool_backward_f64)(const fcnn_pool_geom *g, const double *x,
                                       const double *dy, double *dx, ptrdiff_t r0, ptrdiff_t r1);

/* Max pooling forward that also writes, into picks (laid out like y), the number of the tap
 * each maximum was found at (row-major in the window clipped to the image, as T; windows of
 * fewer than 2^24 taps in float, 2^53 in double); with relu (the input is a ReLU's output),
 * -1 where the maximum is not > 0. The backward from picks (fcnn_pool_backward with picks in
 * place of x) then gives bitwise the dx of max_backward (max_relu_backward with relu)
 * without reading x. */
typedef void (*fcnn_pool_pick_forward_f32)(const fcnn_pool_geom *g, const float *x, float *y,
                                           float *picks, int relu, ptrdiff_t o0, ptrdiff_t o1);
typedef void (*fcnn_pool_pick_forward_f64)(const fcnn_pool_geom *g, const double *x,
                                           double *y, double *picks, int relu, ptrdiff_t o0,
                                           ptrdiff_t o1);

typedef struct {
    const char *name; /* NULL when the unit was not compiled for its ISA */
    fcnn_pool_forward_f32 max_forward_f32, avg_forward_f32;
    fcnn_pool_backward_f32 max_backward_f32, avg_backward_f32;
    fcnn_pool_forward_f64 max_forward_f64, avg_forward_f64;
    fcnn_pool_backward_f64 max_backward_f64, avg_backward_f64;
    /* max pooling of a ReLU's output, that ReLU's backward pass folded in: dy counts only
     * where the window's maximum is > 0 */
    fcnn_pool_backward_f32 max_relu_backward_f32;
    fcnn_pool_backward_f64 max_relu_backward_f64;
    fcnn_pool_pick_forward_f32 max_pick_forward_f32;
    fcnn_pool_pick_forward_f64 max_pick_forward_f64;
    fcnn_pool_backward_f32 max_pick_backward_f32; /* x: the picks */
    fcnn_pool_backward_f64 max_pick_backward_f64;
    /* channels a step of the main loop takes (its block of vectors): the tile of the set */
    int cb_f32, cb_f64;
} fcnn_pool_kernels;

extern const fcnn_pool_kernels fcnn_pool_generic;
extern const fcnn_pool_kernels fcnn_pool_avx2;
extern const fcnn_pool_kernels fcnn_pool_avx512;

/* The pooling set in use: the one fcnn_select_isa chose with the GEMM kernels (dispatch.c). */
const fcnn_pool_kernels *fcnn_current_pool(void);

#ifdef __cplusplus
}
#endif
#endif
