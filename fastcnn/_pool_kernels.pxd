# Declarations of csrc/pool.h (the pooling kernel sets), for fastcnn._pool, which runs them,
# and fastcnn._conv, whose fused convolution and pooling calls one through a capsule.
from libc.stddef cimport ptrdiff_t

cdef extern from "pool.h" nogil:
    ctypedef struct fcnn_pool_geom:
        ptrdiff_t h, w, c
        ptrdiff_t oh, ow
        ptrdiff_t kh, kw, sh, sw, pt, pl

    ctypedef void (*fcnn_pool_forward_f32)(const fcnn_pool_geom *g, const float *x, float *y,
                                           ptrdiff_t o0, ptrdiff_t o1)
    ctypedef void (*fcnn_pool_forward_f64)(const fcnn_pool_geom *g, const double *x,
                                           double *y, ptrdiff_t o0, ptrdiff_t o1)
    ctypedef void (*fcnn_pool_backward_f32)(const fcnn_pool_geom *g, const float *x,
                                            const float *dy, float *dx, ptrdiff_t r0,
                                            ptrdiff_t r1)
    ctypedef void (*fcnn_pool_backward_f64)(const fcnn_pool_geom *g, const double *x,
                                            const double *dy, double *dx, ptrdiff_t r0,
                                            ptrdiff_t r1)

    ctypedef void (*fcnn_pool_pick_forward_f32)(const fcnn_pool_geom *g, const float *x,
                                                float *y, float *picks, int relu, ptrdiff_t o0,
                                                ptrdiff_t o1)
    ctypedef void (*fcnn_pool_pick_forward_f64)(const fcnn_pool_geom *g, const double *x,
                                                double *y, double *picks, int relu,
                                                ptrdiff_t o0, ptrdiff_t o1)

    ctypedef struct fcnn_pool_kernels:
        const char *name
        fcnn_pool_forward_f32 max_forward_f32
        fcnn_pool_forward_f32 avg_forward_f32
        fcnn_pool_backward_f32 max_backward_f32
        fcnn_pool_backward_f32 avg_backward_f32
        fcnn_pool_forward_f64 max_forward_f64
        fcnn_pool_forward_f64 avg_forward_f64
        fcnn_pool_backward_f64 max_backward_f64
        fcnn_pool_backward_f64 avg_backward_f64
        fcnn_pool_backward_f32 max_relu_backward_f32
        fcnn_pool_backward_f64 max_relu_backward_f64
        fcnn_pool_pick_forward_f32 max_pick_forward_f32
        fcnn_pool_pick_forward_f64 max_pick_forward_f64
        fcnn_pool_backward_f32 max_pick_backward_f32
        fcnn_pool_backward_f64 max_pick_backward_f64

    const fcnn_pool_kernels *fcnn_pool_kernels_for(const char *isa)
