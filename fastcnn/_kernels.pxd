# Declarations of the C core (csrc/fastcnn_kernels.h, pool.h, registry.h) for fastcnn/_kernels.pyx,
# the one extension it is linked into.
from libc.stddef cimport ptrdiff_t

cdef extern from "fastcnn_kernels.h" nogil:
    enum:
        FCNN_DX_SMALL_MAX_TAPS
        FCNN_MC
        FCNN_KC
        FCNN_DW_PC
        FCNN_DW_NC
        FCNN_DW_DIRECT_NC
        FCNN_DX_DIRECT_MAX_C
        FCNN_SMALL_MAX_C
        FCNN_SMALL_MAX_K

    ctypedef struct fcnn_isa:
        const char *name
        int mr_f32
        int nr_f32
        int mr_f64
        int nr_f64
        const void *fwd_small_f32     # only tested against NULL here
        const void *fwd_small_f64
        double (*fma_loop)(ptrdiff_t iters, float *sink) noexcept nogil

    int fcnn_select_isa(const char *cap)
    const fcnn_isa *fcnn_current_isa()
    const fcnn_isa *fcnn_isa_for_width(ptrdiff_t n, int f64)
    ptrdiff_t fcnn_dw_transposed_min_c(const fcnn_isa *isa)
    const char *fcnn_best_isa_name()
    void *fcnn_aligned_alloc(size_t nbytes)
    void fcnn_aligned_free(void *p)
    void *fcnn_scratch_take(size_t nbytes)
    void fcnn_scratch_give(void *p, size_t nbytes)

    enum:
        FCNN_GEMM_MC
        FCNN_GEMM_KC
        FCNN_GEMM_NC

    ctypedef struct fcnn_gemm:
        ptrdiff_t m, n, k
        const void *a
        ptrdiff_t rsa, csa
        const void *b
        ptrdiff_t rsb, csb
        void *c
        ptrdiff_t ldc
        const void *bias
        int accumulate
        int relu
        int c_trans

    size_t fcnn_gemm_workspace_f32()
    size_t fcnn_gemm_workspace_f64()
    void fcnn_gemm_tile_f32(const fcnn_gemm *g, ptrdiff_t i0, ptrdiff_t i1, ptrdiff_t j0,
                            ptrdiff_t j1, void *work)
    void fcnn_gemm_tile_f64(const fcnn_gemm *g, ptrdiff_t i0, ptrdiff_t i1, ptrdiff_t j0,
                            ptrdiff_t j1, void *work)

    ctypedef struct fcnn_gather:
        const void *src
        const void *zeros
        ptrdiff_t src_h, src_w, src_c
        ptrdiff_t ntaps
        const ptrdiff_t *tap_h
        const ptrdiff_t *tap_w
        ptrdiff_t rows_h, rows_w
        ptrdiff_t base_h0, base_hs, base_w0, base_ws

    ctypedef struct fcnn_scatter:
        void *dst
        ptrdiff_t dst_h, dst_w, ldc
        ptrdiff_t h0, hs, w0, ws

    ctypedef struct fcnn_conv_gemm:
        fcnn_gather a
        fcnn_scatter c
        ptrdiff_t m, k, n
        const void *b_packed
        const void *bias
        int relu
        const void *residual
        const fcnn_isa *isa

    ctypedef struct fcnn_bsource:
        const void *src
        ptrdiff_t ntaps
        const ptrdiff_t *tap_off
        ptrdiff_t rows, row_stride, col_stride

    ctypedef struct fcnn_unpool:
        const void *dy
        const void *picks
        ptrdiff_t oh, ow, kh, kw, sh, sw, pt, pl

    ctypedef struct fcnn_conv_dw:
        fcnn_gather x
        const void *dy
        const void *mask
        const fcnn_unpool *unpool
        ptrdiff_t m, k, f
        const fcnn_isa *isa

    ctypedef struct fcnn_conv_dx_direct:
        const void *dy
        const void *w
        void *dx
        ptrdiff_t h, w_, c, oh, ow, f, kh, kw, sh, sw, pt, pl

    ctypedef struct fcnn_conv_small:
        const void *src
        ptrdiff_t hp, wp, c
        ptrdiff_t sh, sw
        ptrdiff_t oh, ow, f, k
        ptrdiff_t kw
        const ptrdiff_t *koff
        const void *b_packed
        const void *bias
        int relu
        void *dst
        const void *residual
        const void *next
        ptrdiff_t next_n

    ctypedef struct fcnn_conv_wino:
        ptrdiff_t h, w, c, f
        ptrdiff_t oh, ow, pt, pl
        const void *u_packed
        const void *bias
        int relu
        const void *zeros
        ptrdiff_t tb
        const fcnn_isa *isa

    size_t fcnn_wino_packed_size_f32(const fcnn_isa *isa, ptrdiff_t c, ptrdiff_t f)
    size_t fcnn_wino_packed_size_f64(const fcnn_isa *isa, ptrdiff_t c, ptrdiff_t f)
    void fcnn_wino_weights_f32(const fcnn_isa *isa, const float *w, ptrdiff_t c, ptrdiff_t f,
                               int flip, float *u, float *packed)
    void fcnn_wino_weights_f64(const fcnn_isa *isa, const double *w, ptrdiff_t c, ptrdiff_t f,
                               int flip, double *u, double *packed)
    size_t fcnn_conv_wino_workspace_f32(const fcnn_conv_wino *g)
    size_t fcnn_conv_wino_workspace_f64(const fcnn_conv_wino *g)
    int fcnn_conv_wino_images_f32(const fcnn_conv_wino *g, const float *x, ptrdiff_t ni,
                                  float *y, const float *residual, const float *next,
                                  void *work)
    int fcnn_conv_wino_images_f64(const fcnn_conv_wino *g, const double *x, ptrdiff_t ni,
                                  double *y, const double *residual, const double *next,
                                  void *work)

    ctypedef struct fcnn_conv_wino_dw:
        const void *x
        const void *dy
        const void *mask
        const void *zeros
        ptrdiff_t h, w, c, f, oh, ow, pt, pl
        ptrdiff_t tb
        const fcnn_isa *isa

    size_t fcnn_conv_wino_dw_workspace_f32(const fcnn_conv_wino_dw *g)
    size_t fcnn_conv_wino_dw_workspace_f64(const fcnn_conv_wino_dw *g)
    void fcnn_conv_wino_dw_part_f32(const fcnn_conv_wino_dw *g, ptrdiff_t n0, ptrdiff_t n1,
                                    float *u, float *db, void *work)
    void fcnn_conv_wino_dw_part_f64(const fcnn_conv_wino_dw *g, ptrdiff_t n0, ptrdiff_t n1,
                                    double *u, double *db, void *work)
    int fcnn_wino_dw_out_f32(const float *u, ptrdiff_t c, ptrdiff_t f, ptrdiff_t c0,
                             ptrdiff_t c1, float *dw)
    int fcnn_wino_dw_out_f64(const double *u, ptrdiff_t c, ptrdiff_t f, ptrdiff_t c0,
                             ptrdiff_t c1, double *dw)

    ptrdiff_t FCNN_SMALL_SLACK(ptrdiff_t wp, ptrdiff_t c, ptrdiff_t sw, int mr)
    void fcnn_pad_images_f32(const float *x, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                             ptrdiff_t hp, ptrdiff_t wp, ptrdiff_t pt, ptrdiff_t pl,
                             ptrdiff_t n0, ptrdiff_t n1, float *dst)
    void fcnn_pad_images_f64(const double *x, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                             ptrdiff_t hp, ptrdiff_t wp, ptrdiff_t pt, ptrdiff_t pl,
                             ptrdiff_t n0, ptrdiff_t n1, double *dst)
    void fcnn_conv_small_rows_f32(const fcnn_conv_small *g, ptrdiff_t row0, ptrdiff_t nrows)
    void fcnn_conv_small_rows_f64(const fcnn_conv_small *g, ptrdiff_t row0, ptrdiff_t nrows)

    void fcnn_pack_b_f32(const float *b, ptrdiff_t ldb, ptrdiff_t k, ptrdiff_t n, int nr, float *out)
    void fcnn_pack_b_f64(const double *b, ptrdiff_t ldb, ptrdiff_t k, ptrdiff_t n, int nr, double *out)
    void fcnn_pack_bsource_f32(const fcnn_bsource *s, ptrdiff_t n, int nr, float *out)
    void fcnn_pack_bsource_f64(const fcnn_bsource *s, ptrdiff_t n, int nr, double *out)
    size_t fcnn_conv_gemm_workspace_f32(ptrdiff_t ntaps, ptrdiff_t k)
    size_t fcnn_conv_gemm_workspace_f64(ptrdiff_t ntaps, ptrdiff_t k)
    void fcnn_conv_gemm_block_f32(const fcnn_conv_gemm *g, ptrdiff_t m0, ptrdiff_t mc, void *work)
    void fcnn_conv_gemm_block_f64(const fcnn_conv_gemm *g, ptrdiff_t m0, ptrdiff_t mc, void *work)
    size_t fcnn_conv_dw_workspace_f32(const fcnn_isa *isa, ptrdiff_t f)
    size_t fcnn_conv_dw_workspace_f64(const fcnn_isa *isa, ptrdiff_t f)
    void fcnn_conv_dw_tile_f32(const fcnn_conv_dw *g, ptrdiff_t p0, ptrdiff_t pc, ptrdiff_t k0,
                               ptrdiff_t kn, float *partial, float *db_partial, float *work)
    void fcnn_conv_dw_tile_f64(const fcnn_conv_dw *g, ptrdiff_t p0, ptrdiff_t pc, ptrdiff_t k0,
                               ptrdiff_t kn, double *partial, double *db_partial, double *work)
    void fcnn_conv_dwt_tile_f32(const fcnn_conv_dw *g, ptrdiff_t p0, ptrdiff_t pc, ptrdiff_t k0,
                                ptrdiff_t kn, float *partial, float *db_partial, float *work)
    void fcnn_conv_dwt_tile_f64(const fcnn_conv_dw *g, ptrdiff_t p0, ptrdiff_t pc, ptrdiff_t k0,
                                ptrdiff_t kn, double *partial, double *db_partial, double *work)
    void fcnn_transpose_f32(const float *a, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t r0,
                            ptrdiff_t r1, float *out)
    void fcnn_transpose_f64(const double *a, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t r0,
                            ptrdiff_t r1, double *out)
    void fcnn_sum_parts_f32(const float *partials, ptrdiff_t nparts, ptrdiff_t size,
                            ptrdiff_t e0, ptrdiff_t e1, float *out)
    void fcnn_sum_parts_f64(const double *partials, ptrdiff_t nparts, ptrdiff_t size,
                            ptrdiff_t e0, ptrdiff_t e1, double *out)
    void fcnn_conv_dx_direct_rows_f32(const fcnn_conv_dx_direct *g, ptrdiff_t row0, ptrdiff_t nrows)
    void fcnn_conv_dx_direct_rows_f64(const fcnn_conv_dx_direct *g, ptrdiff_t row0, ptrdiff_t nrows)
    void fcnn_conv_dx_border_rows_f32(const fcnn_conv_dx_direct *g, ptrdiff_t row0, ptrdiff_t nrows)
    void fcnn_conv_dx_border_rows_f64(const fcnn_conv_dx_direct *g, ptrdiff_t row0, ptrdiff_t nrows)

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
        int cb_f32
        int cb_f64
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

    const fcnn_pool_kernels *fcnn_current_pool()

cdef extern from "registry.h" nogil:
    ctypedef struct fcnn_kernel_entry:
        const char *name
        const char *op
        int f64
        int level
        const fcnn_isa *gemm
        const fcnn_pool_kernels *pool
        int kc, mc, nc, conv_kc, conv_mc

    const fcnn_kernel_entry fcnn_kernel_table[]
    const int fcnn_kernel_table_size
    int fcnn_cpu_level()
    int fcnn_kernel_compiled(int i)
    int fcnn_kernel_runnable(int i)
    int fcnn_kernel_in_use(int i)
    void fcnn_use_kernels(const fcnn_isa *gemm, const fcnn_pool_kernels *pool)
