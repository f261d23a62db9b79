# Declarations of the C core in csrc/fastcnn_kernels.h.
from libc.stddef cimport ptrdiff_t

cdef extern from "fastcnn_kernels.h" nogil:
    enum:
        FCNN_MC
        FCNN_KC
        FCNN_DW_PC
        FCNN_DW_NC

    ctypedef struct fcnn_isa:
        const char *name
        int mr_f32
        int nr_f32
        int mr_f64
        int nr_f64

    int fcnn_select_isa(const char *cap)
    const fcnn_isa *fcnn_current_isa()
    const char *fcnn_best_isa_name()
    void *fcnn_aligned_alloc(size_t nbytes)
    void fcnn_aligned_free(void *p)

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

    ctypedef struct fcnn_conv_dw:
        fcnn_gather x
        const void *dy
        ptrdiff_t m, k, f

    ctypedef struct fcnn_conv_dx_direct:
        const void *dy
        const void *w
        void *dx
        ptrdiff_t h, w_, c, oh, ow, f, kh, kw, sh, sw, pt, pl

    void fcnn_pack_b_f32(const float *b, ptrdiff_t ldb, ptrdiff_t k, ptrdiff_t n, int nr, float *out)
    void fcnn_pack_b_f64(const double *b, ptrdiff_t ldb, ptrdiff_t k, ptrdiff_t n, int nr, double *out)
    size_t fcnn_conv_gemm_workspace_f32(ptrdiff_t ntaps)
    size_t fcnn_conv_gemm_workspace_f64(ptrdiff_t ntaps)
    void fcnn_conv_gemm_block_f32(const fcnn_conv_gemm *g, ptrdiff_t m0, ptrdiff_t mc, void *work)
    void fcnn_conv_gemm_block_f64(const fcnn_conv_gemm *g, ptrdiff_t m0, ptrdiff_t mc, void *work)
    size_t fcnn_conv_dw_workspace_f32(ptrdiff_t f)
    size_t fcnn_conv_dw_workspace_f64(ptrdiff_t f)
    void fcnn_conv_dw_chunk_f32(const fcnn_conv_dw *g, ptrdiff_t p0, ptrdiff_t pc,
                                float *partial, float *db_partial, float *work)
    void fcnn_conv_dw_chunk_f64(const fcnn_conv_dw *g, ptrdiff_t p0, ptrdiff_t pc,
                                double *partial, double *db_partial, double *work)
    void fcnn_reduce_partials_f32(const float *partials, ptrdiff_t nparts, ptrdiff_t f, ptrdiff_t k,
                                  ptrdiff_t f0, ptrdiff_t f1, float *dw, float *row)
    void fcnn_reduce_partials_f64(const double *partials, ptrdiff_t nparts, ptrdiff_t f, ptrdiff_t k,
                                  ptrdiff_t f0, ptrdiff_t f1, double *dw, double *row)
    void fcnn_conv_dx_direct_rows_f32(const fcnn_conv_dx_direct *g, ptrdiff_t row0, ptrdiff_t nrows)
    void fcnn_conv_dx_direct_rows_f64(const fcnn_conv_dx_direct *g, ptrdiff_t row0, ptrdiff_t nrows)
