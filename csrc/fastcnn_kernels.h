/* fastcnn C core: register-blocked GEMM micro-kernels (one translation unit per ISA),
 * the runtime choice between them, and the packing/driver routines that turn convolution
 * into implicit GEMM over NHWC images.
 *
 * Layout conventions (row-major throughout):
 *   A micro-panel: kc steps of MR values   (a[p*MR + r])
 *   B micro-panel: kc steps of NR values   (b[p*NR + j])
 *   C tile: MR rows of NR values, row r written at crow[r] + col.
 * Row pointers rather than a leading dimension let one micro-kernel write convolution
 * outputs whose rows are not evenly spaced (the phases of a strided transposed conv).
 */
#ifndef FASTCNN_KERNELS_H
#define FASTCNN_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    FCNN_ACCUMULATE = 1, /* C += A*B (otherwise C = A*B) */
    FCNN_BIAS = 2,       /* add bias[col + j] (only with C = A*B) */
    FCNN_RELU = 4        /* max(0, .) after everything else */
};

typedef void (*fcnn_ukr_f32)(ptrdiff_t kc, const float *a, const float *b, float *const *crow,
                             ptrdiff_t col, int mr, int nr, int flags, const float *bias);
typedef void (*fcnn_ukr_f64)(ptrdiff_t kc, const double *a, const double *b, double *const *crow,
                             ptrdiff_t col, int mr, int nr, int flags, const double *bias);

/* Indirect variant (for convolution): row r of A, for tap t, is the contiguous vector
 * ind[t*MR + r][coff .. coff + c); the reduction runs over ntaps taps of c channels each. */
typedef void (*fcnn_ukr_ind_f32)(ptrdiff_t ntaps, ptrdiff_t c, ptrdiff_t coff,
                                 const float *const *ind, const float *b, float *const *crow,
                                 ptrdiff_t col, int mr, int nr, int flags, const float *bias);
typedef void (*fcnn_ukr_ind_f64)(ptrdiff_t ntaps, ptrdiff_t c, ptrdiff_t coff,
                                 const double *const *ind, const double *b, double *const *crow,
                                 ptrdiff_t col, int mr, int nr, int flags, const double *bias);

/* Strided variant (convolution over few channels): at reduction step p, row r of A is
 * a[r*rs + koff[p]]: the MR rows are output pixels a fixed stride apart in one image row,
 * and koff lists where each (tap, channel) step reads relative to the first row's window.
 * No pointer table to build: for few channels that table costs as much as the arithmetic. */
typedef void (*fcnn_ukr_str_f32)(ptrdiff_t kc, const ptrdiff_t *koff, const float *a,
                                 ptrdiff_t rs, const float *b, float *const *crow, ptrdiff_t col,
                                 int mr, int nr, int flags, const float *bias);
typedef void (*fcnn_ukr_str_f64)(ptrdiff_t kc, const ptrdiff_t *koff, const double *a,
                                 ptrdiff_t rs, const double *b, double *const *crow,
                                 ptrdiff_t col, int mr, int nr, int flags, const double *bias);

struct fcnn_conv_dx_direct_s;
typedef void (*fcnn_dx_small_f32)(const struct fcnn_conv_dx_direct_s *g, ptrdiff_t row0,
                                  ptrdiff_t nrows);
typedef fcnn_dx_small_f32 fcnn_dx_small_f64;
struct fcnn_conv_small_s;
typedef void (*fcnn_fwd_small_f32)(const struct fcnn_conv_small_s *g, ptrdiff_t row0,
                                   ptrdiff_t nrows);
typedef fcnn_fwd_small_f32 fcnn_fwd_small_f64;
struct fcnn_conv_dw_s;
typedef void (*fcnn_dw_small_f32)(const struct fcnn_conv_dw_s *g, ptrdiff_t p0, ptrdiff_t pc,
                                  ptrdiff_t k0, ptrdiff_t kn, float *partial, float *db_partial,
                                  float *work);
typedef void (*fcnn_dw_small_f64)(const struct fcnn_conv_dw_s *g, ptrdiff_t p0, ptrdiff_t pc,
                                  ptrdiff_t k0, ptrdiff_t kn, double *partial,
                                  double *db_partial, double *work);

/* y = y + r over rows x cols values (each row ld values after the last, in y and r), then
 * max(0, .) when relu: a residual added to finished convolution outputs still in cache
 * (fcnn_conv_gemm, fcnn_conv_small): the sum of an Add layer (z + r: the same bits as r + z)
 * and the ReLU after it */
typedef void (*fcnn_add_residual_f32)(float *y, const float *r, ptrdiff_t rows, ptrdiff_t cols,
                                      ptrdiff_t ld, int relu);
typedef void (*fcnn_add_residual_f64)(double *y, const double *r, ptrdiff_t rows,
                                      ptrdiff_t cols, ptrdiff_t ld, int relu);

/* Winograd F(2x2, 3x3) transforms over c channels (conv_small_impl.h, per kernel set), of nt
 * tiles: tile t's input (4 x 4 pixels: the 16 pointers d[16t ..], to c values each, a row of
 * zeros outside the image) to V = B^T d B, written as 16 rows v + pos * vs + t * c; the
 * products m (16 rows m + pos * ms + t * c) to the 2 x 2 outputs A^T m A (+ bias, NULL:
 * none), stored at y[4t ..] (a scratch row where an output lies outside the image).
 * wino_out returns 0 where any of its outputs is not finite (before the relu), else 1. */
typedef void (*fcnn_wino_in_f32)(const float *const *d, ptrdiff_t nt, ptrdiff_t c, float *v,
                                 ptrdiff_t vs);
typedef void (*fcnn_wino_in_f64)(const double *const *d, ptrdiff_t nt, ptrdiff_t c, double *v,
                                 ptrdiff_t vs);
typedef int (*fcnn_wino_out_f32)(const float *m, ptrdiff_t ms, ptrdiff_t nt, ptrdiff_t c,
                                 const float *bias, int relu, float *const *y);
typedef int (*fcnn_wino_out_f64)(const double *m, ptrdiff_t ms, ptrdiff_t nt, ptrdiff_t c,
                                 const double *bias, int relu, double *const *y);
/* The weight gradient's dY transform over c values from offset coff: tile t's 2 x 2 pixels
 * (the 4 pointers d[4t ..], a row of zeros outside the output; where msk is not NULL, a value
 * whose msk[4t ..] counterpart is not > 0 counts as 0) to M' = A' dY A'^T, A' = [1 0; 1 1;
 * 1 -1; 0 1] (the forward's A with its last row negated), written as 16 rows m + pos * ms +
 * t * ts; the pixels are also added, in order, into db[0 .. c) when db is not NULL. */
typedef void (*fcnn_wino_dy_f32)(const float *const *d, const float *const *msk, ptrdiff_t nt,
                                 ptrdiff_t c, ptrdiff_t coff, float *m, ptrdiff_t ms,
                                 ptrdiff_t ts, float *db);
typedef void (*fcnn_wino_dy_f64)(const double *const *d, const double *const *msk,
                                 ptrdiff_t nt, ptrdiff_t c, ptrdiff_t coff, double *m,
                                 ptrdiff_t ms, ptrdiff_t ts, double *db);

typedef struct {
    const char *name;
    int mr_f32, nr_f32, mr_f64, nr_f64;
    fcnn_ukr_f32 ukr_f32;
    fcnn_ukr_f64 ukr_f64;
    fcnn_ukr_ind_f32 ukr_ind_f32;
    fcnn_ukr_ind_f64 ukr_ind_f64;
    fcnn_ukr_str_f32 ukr_str_f32;
    fcnn_ukr_str_f64 ukr_str_f64;
    /* dx of a convolution over few channels (conv_small_impl.h) */
    fcnn_dx_small_f32 dx_small_f32;
    fcnn_dx_small_f64 dx_small_f64;
    /* dW of a convolution over few channels (conv_small_impl.h) */
    fcnn_dw_small_f32 dw_small_f32;
    fcnn_dw_small_f64 dw_small_f64;
    /* forward of a convolution over few channels (conv_small_impl.h); NULL: the strided
     * micro-kernel does it tile by tile (fcnn_conv_small_rows) */
    fcnn_fwd_small_f32 fwd_small_f32;
    fcnn_fwd_small_f64 fwd_small_f64;
    /* the FMA peak loop on float vectors (FCNN_DEFINE_FMA_LOOP in ukernel_common.h): what
     * one core can do, for benchmarks to state kernel speeds as a share of it */
    double (*fma_loop)(ptrdiff_t iters, float *sink);
    /* the residual sum of the convolution drivers (conv_impl.h), in this set's vectors */
    fcnn_add_residual_f32 add_residual_f32;
    fcnn_add_residual_f64 add_residual_f64;
    /* the Winograd forward's transforms (fcnn_conv_wino_images) */
    fcnn_wino_in_f32 wino_in_f32;
    fcnn_wino_in_f64 wino_in_f64;
    fcnn_wino_out_f32 wino_out_f32;
    fcnn_wino_out_f64 wino_out_f64;
    /* the Winograd weight gradient's dY transform (fcnn_conv_wino_dw_part) */
    fcnn_wino_dy_f32 wino_dy_f32;
    fcnn_wino_dy_f64 wino_dy_f64;
} fcnn_isa;

/* Per-ISA micro-kernels; each ISA's translation unit is compiled with its own flags. */
extern const fcnn_isa fcnn_isa_generic;
extern const fcnn_isa fcnn_isa_avx2;    /* name is NULL when not compiled in */
extern const fcnn_isa fcnn_isa_avx512;  /* name is NULL when not compiled in */
/* AVX-512's narrow tile (16 x one vector) for GEMMs one vector wide; not a kernel set of its
 * own: fcnn_isa_for_width picks it per call where the current set is avx512 */
extern const fcnn_isa fcnn_isa_avx512_narrow;

/* Chooses the best kernel set the CPU supports, capped at `cap` ("avx512", "avx2",
 * "generic", or NULL/"" for no cap). Returns 0, or -1 for an unknown cap name. */
int fcnn_select_isa(const char *cap);
const fcnn_isa *fcnn_current_isa(void);
/* The kernels for a GEMM of n columns: the current set's, or on avx512 its narrow tile where n
 * fits one vector (a 16-column GEMM fills only half of AVX-512's 12x32 tile). */
const fcnn_isa *fcnn_isa_for_width(ptrdiff_t n, int f64);
/* Best level this CPU and build support, ignoring any cap. */
const char *fcnn_best_isa_name(void);

void *fcnn_aligned_alloc(size_t bytes);
void fcnn_aligned_free(void *p);

/* A reusable 64-byte aligned scratch block, so kernels called step after step do not pay for
 * fresh pages each time. Call both with the GIL held (that is the lock): take hands out the
 * cached block when it is large enough (else a new one, NULL when out of memory) and leaves
 * the cache empty meanwhile; give returns a block, keeping the larger of it and the cached
 * one. A second caller while the block is out simply gets a block of its own. */
void *fcnn_scratch_take(size_t bytes);
void fcnn_scratch_give(void *p, size_t bytes);

/* Gathers an implicit GEMM operand out of an NHWC batch `src` (n, src_h, src_w, src_c).
 * GEMM row m stands for (n, a, b) with a < rows_h, b < rows_w; its base position in src is
 * (base_h0 + a*base_hs, base_w0 + b*base_ws), and tap t reads the pixel at
 * base + (tap_h[t], tap_w[t]); outside the image it reads `zeros` (src_c zeros: the padding).
 * Reduction index k = t*src_c + c. */
typedef struct {
    const void *src;
    const void *zeros;
    ptrdiff_t src_h, src_w, src_c;
    ptrdiff_t ntaps;
    const ptrdiff_t *tap_h, *tap_w;
    ptrdiff_t rows_h, rows_w;
    ptrdiff_t base_h0, base_hs, base_w0, base_ws;
} fcnn_gather;

/* Where GEMM row m = (n, a, b) is written: pixel (h0 + a*hs, w0 + b*ws) of image n of an
 * NHWC batch (n, dst_h, dst_w, ldc). */
typedef struct {
    void *dst;
    ptrdiff_t dst_h, dst_w, ldc;
    ptrdiff_t h0, hs, w0, ws;
} fcnn_scatter;

/* Y = gather(A) * B (+ bias) (+ residual) (relu), rows over output pixels. */
typedef struct {
    fcnn_gather a;
    fcnn_scatter c;
    ptrdiff_t m, k, n;
    const void *b_packed; /* all of B, packed by fcnn_pack_b_* with the kernel's NR */
    const void *bias;     /* NULL or n values */
    int relu;
    const void *residual; /* NULL, or laid out as dst: added to each finished value (after
                             the bias, before the relu) while its tile is in cache; only
                             where row m is written at dst + m * ldc (a forward pass) */
    const fcnn_isa *isa;  /* the kernel set it runs on (fcnn_isa_for_width), NULL: current */
} fcnn_conv_gemm;

/* B operand of a convolution GEMM, read from the weights in place:
 * B[t*rows + r][j] = src[tap_off[t] + r*row_stride + j*col_stride], for ntaps taps. The
 * forward pass reads w as (K, F) rows; the transposed (dx) pass reads w[kh, kw] transposed. */
typedef struct {
    const void *src;
    ptrdiff_t ntaps;
    const ptrdiff_t *tap_off;
    ptrdiff_t rows, row_stride, col_stride;
} fcnn_bsource;

/* dY of a convolution whose output (rows_h x rows_w per image) went through a max pooling
 * that recorded its picks (csrc/pool.h's pick forward): dy and picks are the pooling's (n,
 * oh, ow, f); windows kh x kw moved by (sh, sw) do not overlap (kh <= sh, kw <= sw) and
 * start at (o*sh - pt, j*sw - pl), clipped to the image. A convolution output value is then
 * 0 + dy where its window's pick is its tap number, else +0: bitwise the pooling backward's
 * dx, never written out. */
typedef struct {
    const void *dy, *picks;
    ptrdiff_t oh, ow, kh, kw, sh, sw, pt, pl;
} fcnn_unpool;

/* dW (K x F) = gather(X)^T * dY, reduced over output pixels. */
typedef struct fcnn_conv_dw_s {
    fcnn_gather x;  /* forward geometry: rows are output pixels */
    const void *dy;   /* (m, f), or NULL with unpool */
    const void *mask; /* NULL, or (m, f) values: where mask <= 0, dy counts as 0 (the
                         backward pass of a fused ReLU whose output is mask) */
    const fcnn_unpool *unpool; /* NULL, or where dY comes from instead of dy (few channels
                                  only: fcnn_conv_dw_tile) */
    ptrdiff_t m, k, f;
    const fcnn_isa *isa; /* the kernel set of the transposed tile (fcnn_isa_for_width of f) */
} fcnn_conv_dw;

/* Forward convolution over few channels, on a zero-padded copy of the input with room to
 * spare at its end: every tile of MR output pixels along one output row (the last one
 * partial) is read by the strided micro-kernel, with no pointer tables and no bounds checks.
 * koff (k entries) lists each reduction step's offset from a window's first value. */
typedef struct fcnn_conv_small_s {
    const void *src;   /* padded input (n, hp, wp, c) */
    ptrdiff_t hp, wp, c;
    ptrdiff_t sh, sw;
    ptrdiff_t oh, ow, f, k;
    ptrdiff_t kw;      /* the kernel's width (taps per kernel row) */
    const ptrdiff_t *koff;
    const void *b_packed; /* the weights packed by fcnn_pack_b_* with the kernel's NR */
    const void *bias;
    int relu;
    void *dst;         /* (n, oh, ow, f) */
    const void *residual; /* NULL, or laid out as dst: added to the finished rows (after the
                             bias, before the relu) */
    const void *next;  /* NULL, or next_n values requested into L2, a share before each row
                          (the input the caller copies next: not read from memory then) */
    ptrdiff_t next_n;
} fcnn_conv_small;

/* Forward 3x3 convolution at stride 1 by Winograd's F(2x2, 3x3), a few consecutive images
 * per call: the output in tiles of 2 x 2 pixels, each from a 4 x 4 input tile; per block of
 * tb tiles (which may span images), the input tiles transformed (16 rows of c values each),
 * 16 products (tb x c) * (c x f) by the indirect micro-kernel with the transformed weights u,
 * and the output transform (+ bias, relu). 2.25 times fewer multiplications than the direct
 * convolution, rounding differently (within the direct sum's error bound times a small
 * constant). */
typedef struct {
    ptrdiff_t h, w, c, f;    /* input image (h, w, c), f filters */
    ptrdiff_t oh, ow, pt, pl;
    const void *u_packed;    /* 16 blocks (one per position of the 4 x 4 tile), each the
                                c x f transformed weights packed by fcnn_pack_b_* with NR:
                                fcnn_wino_weights_* */
    const void *bias;        /* NULL or f values */
    int relu;
    const void *zeros;       /* c zeros (input outside the image) */
    ptrdiff_t tb;            /* tiles per block: a multiple of the kernel's MR */
    const fcnn_isa *isa;     /* the kernel set of the products (fcnn_isa_for_width of f) */
} fcnn_conv_wino;

/* dW of a 3x3 convolution at stride 1 by Winograd's F(2x2, 3x3): the output gradient in
 * tiles of 2 x 2 pixels, each beside the 4 x 4 input tile of the forward pass; per block of
 * tb tiles (across images), the input tiles transformed (V = B^T d B, as the forward's), the
 * dY tiles (M' = A' dY A'^T, fcnn_wino_dy_*), and for each of the 16 positions the product
 * V^T M' (c x f, reduced over the block's tiles) added into u (16, c, f) by the strided
 * micro-kernel, which reads V^T in place; dW = G'^T u G' at the end (fcnn_wino_dw_out_*).
 * 2.25 times fewer multiplications than the direct reduction (fewer where tiles overhang an
 * odd output). */
typedef struct {
    const void *x;           /* (n, h, w, c) */
    const void *dy;          /* (n, oh, ow, f) */
    const void *mask;        /* NULL, or laid out as dy: dY counts as 0 where it is not > 0 */
    const void *zeros;       /* max(c, f) zeros (input and dY outside their images) */
    ptrdiff_t h, w, c, f, oh, ow, pt, pl;
    ptrdiff_t tb;            /* tiles per block */
    const fcnn_isa *isa;
} fcnn_conv_wino_dw;

/* Elements the padded copy needs past its end: the partial last tile of the last output
 * row reads up to MR - 1 pixels (at stride sw) beyond the row, into a next row. The copy
 * itself is made by fcnn_pad_images_*: images [n0, n1) of x (n, h, w, c) into dst
 * (n, hp, wp, c) at offset (pt, pl), zeros elsewhere. */
#define FCNN_SMALL_SLACK(wp, c, sw, mr) (((wp) + (ptrdiff_t)(mr) * (sw) + 1) * (c))

/* dx for few input channels, as direct dot products over (taps, F), for kernels of at most
 * FCNN_DX_SMALL_MAX_TAPS taps (fcnn_conv_dx_direct_rows); also the geometry of
 * fcnn_conv_dx_border_rows, which rewrites the pixels of a dx made by the stride-phase GEMMs
 * that read zeros for dy outside the output (for weights that are not all finite). */
#define FCNN_DX_SMALL_MAX_TAPS 256

/* The few-channel thresholds, in one place (the drivers in fastcnn/_conv.pxi and conv_impl.h
 * read them from here): below these channel counts a GEMM whose reduction or width is the
 * channels would leave most of each MR x NR tile empty, and the pass takes a kernel of its
 * own. */
#define FCNN_DX_DIRECT_MAX_C 8      /* dx as direct dot products (fcnn_conv_dx_direct_rows) */
#define FCNN_SMALL_MAX_C 17         /* forward on a padded copy (fcnn_conv_small_rows) below this, */
#define FCNN_SMALL_MAX_K 1024       /* ... with at most this many reduction steps */
/* dW transposed (fcnn_conv_dwt_tile) from this many channels on; below, the direct kernel
 * (fcnn_conv_dw_tile: no packing) was the faster one on the 3x3 shapes measured (ResNet-20's,
 * S2, S4, S5): up to 32 channels with AVX2's 16 vector registers, up to 128 with AVX-512's 32
 * (S6's 128 channels: 1.30x on a Zen 5, with K in one block, FCNN_DW_DIRECT_NC).
 * fcnn_dw_transposed_min_c gives the one of a kernel set. */
#define FCNN_DW_TRANSPOSED_MIN_C 33
#define FCNN_DW_TRANSPOSED_MIN_C_AVX512 129
static inline ptrdiff_t fcnn_dw_transposed_min_c(const fcnn_isa *isa)
{
    return isa == &fcnn_isa_avx512 ? FCNN_DW_TRANSPOSED_MIN_C_AVX512 : FCNN_DW_TRANSPOSED_MIN_C;
}
#define FCNN_STR_MAX_C 16           /* a GEMM tile in one image row read by the strided kernel */
typedef struct fcnn_conv_dx_direct_s {
    const void *dy, *w;
    void *dx;
    ptrdiff_t h, w_, c, oh, ow, f, kh, kw, sh, sw, pt, pl;
} fcnn_conv_dx_direct;

/* C (m x n, row-major, leading dimension ldc) (=|+=) A * B (+ bias) (relu), where
 * A[i, p] = a[i*rsa + p*csa] and B[p, j] = b[p*rsb + j*csb]: any operand may be transposed. */
typedef struct {
    ptrdiff_t m, n, k;
    const void *a;
    ptrdiff_t rsa, csa;
    const void *b;
    ptrdiff_t rsb, csb;
    void *c;
    ptrdiff_t ldc;
    const void *bias; /* NULL or n values, added when not accumulating */
    int accumulate;   /* C += A*B instead of C = A*B */
    int relu;
    int c_trans;      /* C[i, j] lives at c[j*ldc + i] (the product is computed transposed) */
} fcnn_gemm;

/* GEMM blocking: a B micro-panel (KC x NR) stays in L1, an A block (MC x KC) in L2 and a
 * B panel (KC x NC) in L3. */
#define FCNN_GEMM_MC 144
#define FCNN_GEMM_KC 256
#define FCNN_GEMM_NC 3072
#define FCNN_GEMM_MAX_MR 16
#define FCNN_GEMM_MAX_NR 32

/* Blocking: the reduction is cut into near-equal runs of whole taps of at most FCNN_KC
 * values (at least one tap), taps of FCNN_KC_WIDE_MIN_C or more channels into runs of at most
 * FCNN_KC_WIDE: a 3x3 kernel over 32, 64 or 128 channels in one run, so each C tile is stored
 * once. The B micro-panel (kc x NR, up to 72 KB) then streams from L2 instead of sitting in
 * L1; with the AVX2 kernel that keeps every tap of a call in registers, this was 1-4% faster
 * forward for S2, S4, S5, S6 and S8 than runs of 192 / 384 and neutral backward (paired
 * runs). Runs of one tap (128 steps) were 7% slower for S6. */
#define FCNN_MC 96
#define FCNN_KC 576
#define FCNN_KC_WIDE 1152
#define FCNN_KC_WIDE_MIN_C 128
/* dW: output pixels are reduced in steps of FCNN_DW_PC; K is cut in column blocks of
 * FCNN_DW_NC, which are independent tasks (parallel also when the batch is small). The
 * direct tile over whole vectors of filters takes blocks of up to FCNN_DW_DIRECT_NC (all of a
 * 3x3 kernel's K over 256 channels), so a part's images are padded once for all of K, not
 * once per block (S4-S6 and S8's dW 4-8% faster than blocks of 256, S6's 9% on a Zen 5). */
#define FCNN_DW_PC 192
#define FCNN_DW_NC 256
#define FCNN_DW_DIRECT_NC 2304
/* The direct tile's column-vector tiles keep their sums in a block of f x FCNN_DW_CV_NC(f)
 * values: for up to 64 filters room for a whole FCNN_DW_DIRECT_NC block. */
#define FCNN_DW_CV_NC(f) ((f) <= 64 ? FCNN_DW_DIRECT_NC : FCNN_DW_NC)

#define FCNN_DECLARE(T, SFX)                                                                   \
    void fcnn_pack_b_##SFX(const T *b, ptrdiff_t ldb, ptrdiff_t k, ptrdiff_t n, int nr,        \
                           T *out);                                                            \
    void fcnn_pack_bsource_##SFX(const fcnn_bsource *s, ptrdiff_t n, int nr, T *out);          \
    size_t fcnn_conv_gemm_workspace_##SFX(ptrdiff_t ntaps, ptrdiff_t k);                        \
    void fcnn_conv_gemm_block_##SFX(const fcnn_conv_gemm *g, ptrdiff_t m0, ptrdiff_t mc,       \
                                    void *work);                                                  \
    size_t fcnn_conv_dw_workspace_##SFX(const fcnn_isa *isa, ptrdiff_t f);                                          \
    void fcnn_conv_dw_tile_##SFX(const fcnn_conv_dw *g, ptrdiff_t p0, ptrdiff_t pc,            \
                                 ptrdiff_t k0, ptrdiff_t kn, T *partial, T *db_partial,        \
                                 T *work);                                                     \
    void fcnn_conv_dwt_tile_##SFX(const fcnn_conv_dw *g, ptrdiff_t p0, ptrdiff_t pc,           \
                                  ptrdiff_t k0, ptrdiff_t kn, T *partial, T *db_partial,       \
                                  T *work);                                                    \
    void fcnn_transpose_##SFX(const T *a, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t r0,         \
                              ptrdiff_t r1, T *out);                                           \
    void fcnn_sum_parts_##SFX(const T *partials, ptrdiff_t nparts, ptrdiff_t size,             \
                              ptrdiff_t e0, ptrdiff_t e1, T *out);                             \
    void fcnn_conv_dx_direct_rows_##SFX(const fcnn_conv_dx_direct *g, ptrdiff_t row0,          \
                                        ptrdiff_t nrows);                                      \
    void fcnn_conv_dx_border_rows_##SFX(const fcnn_conv_dx_direct *g, ptrdiff_t row0,          \
                                        ptrdiff_t nrows);                                      \
    void fcnn_pad_images_##SFX(const T *x, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,              \
                               ptrdiff_t hp, ptrdiff_t wp, ptrdiff_t pt, ptrdiff_t pl,         \
                               ptrdiff_t n0, ptrdiff_t n1, T *dst);                            \
    void fcnn_conv_small_rows_##SFX(const fcnn_conv_small *g, ptrdiff_t row0, ptrdiff_t nrows); \
    size_t fcnn_wino_packed_size_##SFX(const fcnn_isa *isa, ptrdiff_t c, ptrdiff_t f);          \
    void fcnn_wino_weights_##SFX(const fcnn_isa *isa, const T *w, ptrdiff_t c, ptrdiff_t f,     \
                                 int flip, T *u, T *packed);                                  \
    size_t fcnn_conv_wino_workspace_##SFX(const fcnn_conv_wino *g);                            \
    int fcnn_conv_wino_images_##SFX(const fcnn_conv_wino *g, const T *x, ptrdiff_t ni, T *y,   \
                                    const T *residual, const T *next, void *work);             \
    size_t fcnn_conv_wino_dw_workspace_##SFX(const fcnn_conv_wino_dw *g);                      \
    void fcnn_conv_wino_dw_part_##SFX(const fcnn_conv_wino_dw *g, ptrdiff_t n0, ptrdiff_t n1,  \
                                      T *u, T *db, void *work);                                \
    int fcnn_wino_dw_out_##SFX(const T *u, ptrdiff_t c, ptrdiff_t f, ptrdiff_t c0,             \
                               ptrdiff_t c1, T *dw);                                           \
    size_t fcnn_gemm_workspace_##SFX(void);                                                    \
    void fcnn_gemm_tile_##SFX(const fcnn_gemm *g, ptrdiff_t i0, ptrdiff_t i1, ptrdiff_t j0,    \
                              ptrdiff_t j1, void *work);

FCNN_DECLARE(float, f32)
FCNN_DECLARE(double, f64)

#ifdef __cplusplus
}
#endif
#endif
