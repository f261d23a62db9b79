/* Kernels for convolutions over few input channels, where GEMM tiles would sit mostly empty.
 * Included by each ISA's unit (ukernel_*.c) with T, KNAME and the vector macros of
 * ukernel_x86_impl.h (VT, VLEN, VLOAD, VSTORE, VFMA, VZERO; scalar stand-ins in the generic
 * unit) defined, and compiled with that unit's flags.
 *
 * dx of a convolution with C < 8 channels: each dx value is a dot product over the taps that
 * reach it and the F filters, summed in 2*VLEN lanes and then in a fixed order (pairwise
 * halves), so the result does not depend on how rows were split between threads. */

#include <string.h>

/* unroll the next loop 4 times, where the compiler takes the hint */
#if defined(__clang__)
#define FCNN_UNROLL4 _Pragma("unroll 4")
#elif defined(__GNUC__)
#define FCNN_UNROLL4 _Pragma("GCC unroll 4")
#else
#define FCNN_UNROLL4
#endif

#define SCAT_(a, b) a##b
#define SCAT(a, b) SCAT_(a, b)
#define SN(name) SCAT(name, SCAT(_, KNAME))

/* One dx pixel, all CC channels, into out[0 .. CC): the sum over the nt taps listed in
 * (d_off, w_off) (offsets into dy_n and w) and the F filters; per channel two vector
 * accumulators (two FMA chains; a last block of VLEN filters goes to the first), and a scalar
 * one for the F % VLEN tail. */
#define SMALL_DX_PIXEL(CC)                                                                     \
    static inline void SN(dx_pixel_##CC)(const T *dy_n, const T *w, ptrdiff_t F, int nt,       \
                                          const ptrdiff_t *d_off, const ptrdiff_t *w_off,      \
                                          int cc_rt, T *out)                                   \
    {                                                                                          \
        const int C = (CC) > 0 ? (CC) : cc_rt;                                                 \
        VT acc0[(CC) > 0 ? (CC) : 8], acc1[(CC) > 0 ? (CC) : 8];                               \
        T tail[(CC) > 0 ? (CC) : 8];                                                           \
        for (int c = 0; c < C; ++c) {                                                          \
            acc0[c] = VZERO();                                                                 \
            acc1[c] = VZERO();                                                                 \
            tail[c] = 0;                                                                       \
        }                                                                                      \
        for (int t = 0; t < nt; ++t) {                                                         \
            const T *d = dy_n + d_off[t], *wv = w + w_off[t];                                  \
            ptrdiff_t f = 0;                                                                   \
            for (; f + 2 * VLEN <= F; f += 2 * VLEN) {                                         \
                const VT d0 = VLOAD(d + f), d1 = VLOAD(d + f + VLEN);                          \
                for (int c = 0; c < C; ++c) {                                                  \
                    acc0[c] = VFMA(d0, VLOAD(wv + c * F + f), acc0[c]);                        \
                    acc1[c] = VFMA(d1, VLOAD(wv + c * F + f + VLEN), acc1[c]);                 \
                }                                                                              \
            }                                                                                  \
            if (f + VLEN <= F) { /* one more vector (F of 16 in 2*16 lanes) */                 \
                const VT d0 = VLOAD(d + f);                                                    \
                for (int c = 0; c < C; ++c)                                                    \
                    acc0[c] = VFMA(d0, VLOAD(wv + c * F + f), acc0[c]);                        \
                f += VLEN;                                                                     \
            }                                                                                  \
            for (; f < F; ++f)                                                                 \
                for (int c = 0; c < C; ++c) tail[c] += d[f] * wv[c * F + f];                   \
        }                                                                                      \
        for (int c = 0; c < C; ++c) {                                                          \
            T lanes[2 * VLEN];                                                                 \
            VSTORE(lanes, acc0[c]);                                                            \
            VSTORE(lanes + VLEN, acc1[c]);                                                     \
            for (int half = VLEN; half > 0; half /= 2)                                         \
                for (int l = 0; l < half; ++l) lanes[l] += lanes[l + half];                    \
            out[c] = lanes[0] + tail[c];                                                       \
        }                                                                                      \
    }

SMALL_DX_PIXEL(1)
SMALL_DX_PIXEL(2)
SMALL_DX_PIXEL(3)
SMALL_DX_PIXEL(4)
SMALL_DX_PIXEL(0) /* any C up to 8 */

/* dx_pixel_C for C of 1 to 4 (the channel loops unrolled), dx_pixel_0 for the rest. */
static inline void SN(dx_pixel)(const T *dy_n, const T *w, ptrdiff_t F, int nt,
                                const ptrdiff_t *d_off, const ptrdiff_t *w_off, int C, T *out)
{
    switch (C) {
    case 1: SN(dx_pixel_1)(dy_n, w, F, nt, d_off, w_off, 1, out); break;
    case 2: SN(dx_pixel_2)(dy_n, w, F, nt, d_off, w_off, 2, out); break;
    case 3: SN(dx_pixel_3)(dy_n, w, F, nt, d_off, w_off, 3, out); break;
    case 4: SN(dx_pixel_4)(dy_n, w, F, nt, d_off, w_off, 4, out); break;
    default: SN(dx_pixel_0)(dy_n, w, F, nt, d_off, w_off, C, out); break;
    }
}

/* Output position q reached from input position i by tap k (stride s, padding p), or -1. */
static inline ptrdiff_t SN(reached)(ptrdiff_t i, ptrdiff_t p, ptrdiff_t k, ptrdiff_t s,
                                    ptrdiff_t n_out)
{
    const ptrdiff_t num = i + p - k;
    if (num < 0) return -1;
    const ptrdiff_t q = s == 1 ? num : (num % s ? -1 : num / s);
    return q < n_out ? q : -1;
}

/* dx rows (n, ih) in [row0, row0 + nrows). The taps reaching a pixel are listed once per
 * pixel (kernel rows once per image row), so no division runs in the inner loops. */
static void SN(dx_small_rows)(const fcnn_conv_dx_direct *g, ptrdiff_t row0, ptrdiff_t nrows)
{
    enum { MAX_TAPS = FCNN_DX_SMALL_MAX_TAPS };
    const T *dy = (const T *)g->dy, *w = (const T *)g->w;
    T *dx = (T *)g->dx;
    const ptrdiff_t H = g->h, W = g->w_, C = g->c, OW = g->ow, F = g->f, KW = g->kw;
    ptrdiff_t row_oh[MAX_TAPS], row_kh[MAX_TAPS], d_off[MAX_TAPS], w_off[MAX_TAPS];
    /* At stride 1 a pixel whose taps all land inside dy reads dy at fixed offsets from its
     * own position: (ih + pt - kh, iw + pl - kw) for every tap. */
    ptrdiff_t all_doff[MAX_TAPS], all_woff[MAX_TAPS];
    const int unit_stride = g->sh == 1 && g->sw == 1;
    const int ntaps = (int)(g->kh * KW);
    for (int t = 0; t < ntaps && unit_stride; ++t) {
        all_doff[t] = -((t / KW) * OW + t % KW) * F;
        all_woff[t] = (ptrdiff_t)t * C * F;
    }
    for (ptrdiff_t row = row0; row < row0 + nrows; ++row) {
        const ptrdiff_t n = row / H, ih = row - n * H;
        const T *dy_n = dy + n * g->oh * OW * F;
        T *out = dx + (n * H + ih) * W * C;
        const int row_inside = unit_stride && ih + g->pt - (g->kh - 1) >= 0 && ih + g->pt < g->oh;
        if (row_inside) {
            /* the columns whose taps all land inside dy */
            const ptrdiff_t iw_lo = KW - 1 - g->pl, iw_hi = OW - 1 - g->pl;
            for (ptrdiff_t iw = iw_lo < 0 ? 0 : iw_lo; iw <= iw_hi && iw < W; ++iw) {
                const T *d = dy_n + ((ih + g->pt) * OW + iw + g->pl) * F;
                T *o = out + iw * C;
                SN(dx_pixel)(d, w, F, ntaps, all_doff, all_woff, (int)C, o);
            }
        }
        int nkh = 0;
        for (ptrdiff_t kh = 0; kh < g->kh && nkh < MAX_TAPS; ++kh) {
            const ptrdiff_t oh = SN(reached)(ih, g->pt, kh, g->sh, g->oh);
            if (oh >= 0) {
                row_oh[nkh] = oh;
                row_kh[nkh++] = kh;
            }
        }
        for (ptrdiff_t iw = 0; iw < W; ++iw, out += C) {
            if (row_inside && iw >= KW - 1 - g->pl && iw <= OW - 1 - g->pl)
                continue;   /* done above */
            int nt = 0;
            for (ptrdiff_t kw = 0; kw < KW; ++kw) {
                const ptrdiff_t ow = SN(reached)(iw, g->pl, kw, g->sw, OW);
                if (ow < 0) continue;
                for (int a = 0; a < nkh && nt < MAX_TAPS; ++a, ++nt) {
                    d_off[nt] = (row_oh[a] * OW + ow) * F;
                    w_off[nt] = (row_kh[a] * KW + kw) * C * F;
                }
            }
            SN(dx_pixel)(dy_n, w, F, nt, d_off, w_off, (int)C, out);
        }
    }
}


#ifdef MR
/* Forward rows (n, oh) in [row0, row0 + nrows) of a convolution over few channels (see
 * fcnn_conv_small), for units with a vector tile of MR pixels x 2*VLEN filters (ROWS(X)
 * names its rows, ROWS_HALF(X) the first MR / 2 of them): for each block of 2*VLEN filters,
 * tiles of MR pixels along the row, then the last pixels by a half tile or a full one, moved
 * back to end at the row's end (its first pixels are computed twice, to the same values)
 * instead of a partial tile. The sums run over K in order from zero, then
 * + bias, then max(0, .): the order of the strided micro-kernel, so both give the same bits.
 * One named pair of accumulators per row, so nothing is indexed at run time and all stay
 * in registers. */
static inline void SN(fwd_store)(T *out, VT lo, VT hi, VT bias_lo, VT bias_hi, int bias,
                                 int relu, ptrdiff_t nr)
{
    if (bias) {
        lo = VADD(lo, bias_lo);
        hi = VADD(hi, bias_hi);
    }
    if (relu) {
        lo = VMAX(VZERO(), lo);
        hi = VMAX(VZERO(), hi);
    }
    if (nr == 2 * VLEN) {
        VSTORE(out, lo);
        VSTORE(out + VLEN, hi);
    } else {
        T tile[2 * VLEN];
        VSTORE(tile, lo);
        VSTORE(tile + VLEN, hi);
        for (ptrdiff_t j = 0; j < nr; ++j) out[j] = tile[j];
    }
}

/* One tile: the pixels a, a + rs, ... that ROWLIST names x 2*VLEN filters of the packed
 * weights bp, over the K steps of koff; the first mr pixels and nr filters stored at out,
 * out + F, ... */
#define FS_DECL(r) VT c##r##l = VZERO(), c##r##h = VZERO();
#define FS_STEP(r)                                                                             \
    {                                                                                          \
        const VT v = VSET1(ap[(r) * rs]);                                                      \
        c##r##l = VFMA(v, b0, c##r##l);                                                        \
        c##r##h = VFMA(v, b1, c##r##h);                                                        \
    }
#define FS_STORE(r)                                                                            \
    if ((r) < mr)                                                                              \
        SN(fwd_store)(out + (r) * F, c##r##l, c##r##h, bias_lo, bias_hi, has_bias, relu, nr);
#define FS_TILE(NAME, ROWLIST)                                                                 \
    static inline void SN(NAME)(const T *a, ptrdiff_t rs, const ptrdiff_t *koff, ptrdiff_t K,  \
                                const T *bp, T *out, ptrdiff_t F, ptrdiff_t mr, ptrdiff_t nr,  \
                                VT bias_lo, VT bias_hi, int has_bias, int relu)                \
    {                                                                                          \
        ROWLIST(FS_DECL)                                                                       \
        const T *b = bp;                                                                       \
        FCNN_UNROLL4                                                                           \
        for (ptrdiff_t p = 0; p < K; ++p, b += 2 * VLEN) {                                     \
            const T *ap = a + koff[p];                                                         \
            const VT b0 = VLOAD(b), b1 = VLOAD(b + VLEN);                                      \
            ROWLIST(FS_STEP)                                                                   \
        }                                                                                      \
        ROWLIST(FS_STORE)                                                                      \
    }
FS_TILE(fwd_tile, ROWS)
/* the unit's half tile (MR / 2 pixels), for a row's last few pixels */
FS_TILE(fwd_tile_half, ROWS_HALF)
#undef FS_TILE
#undef FS_STORE
#undef FS_STEP
#undef FS_DECL

/* The same tiles over a block of at most VLEN filters (F = 16 in 2*16-lane blocks): one
 * accumulator per pixel, the other half of the block neither computed nor stored. */
static inline void SN(fwd_store_narrow)(T *out, VT lo, VT bias_lo, int bias, int relu,
                                        ptrdiff_t nr)
{
    if (bias) lo = VADD(lo, bias_lo);
    if (relu) lo = VMAX(VZERO(), lo);
    if (nr == VLEN) {
        VSTORE(out, lo);
    } else {
        T tile[VLEN];
        VSTORE(tile, lo);
        for (ptrdiff_t j = 0; j < nr; ++j) out[j] = tile[j];
    }
}
#define FN_DECL(r) VT c##r##l = VZERO();
#define FN_STEP(r) c##r##l = VFMA(VSET1(ap[(r) * rs]), b0, c##r##l);
#define FN_STORE(r)                                                                            \
    if ((r) < mr) SN(fwd_store_narrow)(out + (r) * F, c##r##l, bias_lo, has_bias, relu, nr);
#define FN_TILE(NAME, ROWLIST)                                                                 \
    static inline void SN(NAME)(const T *a, ptrdiff_t rs, const ptrdiff_t *koff, ptrdiff_t K,  \
                                const T *bp, T *out, ptrdiff_t F, ptrdiff_t mr, ptrdiff_t nr,  \
                                VT bias_lo, int has_bias, int relu)                            \
    {                                                                                          \
        ROWLIST(FN_DECL)                                                                       \
        const T *b = bp;                                                                       \
        FCNN_UNROLL4                                                                           \
        for (ptrdiff_t p = 0; p < K; ++p, b += 2 * VLEN) {                                     \
            const T *ap = a + koff[p];                                                         \
            const VT b0 = VLOAD(b);                                                            \
            ROWLIST(FN_STEP)                                                                   \
        }                                                                                      \
        ROWLIST(FN_STORE)                                                                      \
    }
FN_TILE(fwd_tile_narrow, ROWS)
FN_TILE(fwd_tile_half_narrow, ROWS_HALF)
#undef FN_TILE
#undef FN_STORE
#undef FN_STEP
#undef FN_DECL

#ifdef FWD_NARROW_WIDE
/* Units with 32 vector registers: a narrow block (at most VLEN filters) in tiles of up to
 * 28 pixels, one accumulator each, so each weight vector loaded serves up to 28 FMAs, where
 * consecutive pixels of a tile lie NW_RS values apart (16 channels at stride 1, 8 at stride 2):
 * every pixel's address is then a constant offset from one pointer (with the distance known
 * only at run time the compiler runs out of integer registers and reloads offsets from the
 * stack). The reduction runs tap by tap, the C channels of a tap at consecutive offsets from
 * the tap's first step (koff[t * C + c] == koff[t * C] + c, as the driver lists them): no
 * offset load per step. Same order over K as the tiles above, so the same bits. */
#define NW_RS 16
#define NW_DECL(r) VT c##r = VZERO();
#define NW_STEP(r) c##r = VFMA(VSET1(ap[(r) * NW_RS + ci]), b0, c##r);
#define NW_STORE(r) SN(fwd_store_narrow)(out + (r) * F, c##r, bias_lo, has_bias, relu, nr);
#define NW_TILE(R, ROWLIST)                                                                    \
    static void SN(fwd_narrow_##R)(const T *a, const ptrdiff_t *koff,                          \
                                   ptrdiff_t C, ptrdiff_t K, const T *bp, T *out, ptrdiff_t F, \
                                   ptrdiff_t nr, VT bias_lo, int has_bias, int relu)           \
    {                                                                                          \
        ROWLIST(NW_DECL)                                                                       \
        const T *b = bp;                                                                       \
        for (ptrdiff_t p0 = 0; p0 < K; p0 += C) {                                              \
            const T *ap = a + koff[p0];                                                        \
            FCNN_UNROLL4                                                                       \
            for (ptrdiff_t ci = 0; ci < C; ++ci, b += 2 * VLEN) {                              \
                const VT b0 = VLOAD(b);                                                        \
                ROWLIST(NW_STEP)                                                               \
            }                                                                                  \
        }                                                                                      \
        ROWLIST(NW_STORE)                                                                      \
    }
#define NW_R8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define NW_R12(X) NW_R8(X) X(8) X(9) X(10) X(11)
#define NW_R14(X) NW_R12(X) X(12) X(13)
#define NW_R16(X) NW_R14(X) X(14) X(15)
#define NW_R20(X) NW_R16(X) X(16) X(17) X(18) X(19)
#define NW_R24(X) NW_R20(X) X(20) X(21) X(22) X(23)
#define NW_R28(X) NW_R24(X) X(24) X(25) X(26) X(27)
NW_TILE(8, NW_R8)
NW_TILE(12, NW_R12)
NW_TILE(14, NW_R14)
NW_TILE(16, NW_R16)
NW_TILE(20, NW_R20)
NW_TILE(24, NW_R24)
NW_TILE(28, NW_R28)

/* The tile width for rows of OW >= 8 pixels, of the widths given (widest first, down to 8):
 * the fewest pixels computed (tiles x (width + 2), the 2 for a tile's fixed costs), ties to
 * the wider tile; never wider than the row. The narrow tiles go up to 28 pixels. */
static ptrdiff_t SN(tile_width)(ptrdiff_t OW, const ptrdiff_t *widths)
{
    ptrdiff_t best = 8, best_cost = -1;
    for (int i = 0;; ++i) {
        const ptrdiff_t wd = widths[i];
        const ptrdiff_t cost = (OW + wd - 1) / wd * (wd + 2);
        if (wd <= OW && (best_cost < 0 || cost < best_cost)) {
            best = wd;
            best_cost = cost;
        }
        if (wd == 8) return best;
    }
}
static const ptrdiff_t SN(narrow_widths)[] = {28, 24, 20, 16, 14, 12, 8};

/* One output row's narrow block: tiles of tw pixels, the last moved back to end at the row's
 * end (its first pixels computed twice, to the same values), so nothing past the row is
 * read. */
static void SN(fwd_narrow_row)(const T *in_row, const ptrdiff_t *koff,
                               ptrdiff_t C, ptrdiff_t K, const T *bp, T *out_row, ptrdiff_t F,
                               ptrdiff_t OW, ptrdiff_t tw, ptrdiff_t nr, VT bias_lo,
                               int has_bias, int relu)
{
    for (ptrdiff_t o0 = 0; o0 < OW; o0 += tw) {
        const ptrdiff_t o = o0 + tw <= OW ? o0 : OW - tw;
        const T *a = in_row + o * NW_RS;
        T *out = out_row + o * F;
        switch (tw) {
        case 28: SN(fwd_narrow_28)(a, koff, C, K, bp, out, F, nr, bias_lo, has_bias, relu); break;
        case 24: SN(fwd_narrow_24)(a, koff, C, K, bp, out, F, nr, bias_lo, has_bias, relu); break;
        case 20: SN(fwd_narrow_20)(a, koff, C, K, bp, out, F, nr, bias_lo, has_bias, relu); break;
        case 16: SN(fwd_narrow_16)(a, koff, C, K, bp, out, F, nr, bias_lo, has_bias, relu); break;
        case 14: SN(fwd_narrow_14)(a, koff, C, K, bp, out, F, nr, bias_lo, has_bias, relu); break;
        case 12: SN(fwd_narrow_12)(a, koff, C, K, bp, out, F, nr, bias_lo, has_bias, relu); break;
        default: SN(fwd_narrow_8)(a, koff, C, K, bp, out, F, nr, bias_lo, has_bias, relu); break;
        }
    }
}
/* Tiles for stride 1 over 16 channels (NW_RS) with kernels 3 taps wide: each input value,
 * broadcast once, serves the 3 taps that read it (the pixel under it through w0, the one
 * before through w1, two before through w2), so a tap row of R pixels takes R + 2 broadcasts
 * and 3 weight loads per channel for 3R FMAs, where the tiles above take a broadcast per FMA.
 * Accumulator a<j> holds pixel j - 2: a0, a1 and the two after the last pixel stand for
 * pixels outside the tile, never stored, so the compiler drops their FMAs. The reduction
 * runs over (kh, c, kw): an order of its own, the same for every pixel of every row, whatever
 * the tile or thread. WR_S<n> lists the n broadcasts (j, j + 1, j + 2), WR_O<R> the stores
 * (pixel, accumulator). */
#define WR_DECL(r) VT a##r = VZERO();
#define WR_STEP(j, j1, j2)                                                                     \
    {                                                                                          \
        const VT v = VSET1(ap[(j) * NW_RS + ci]);                                              \
        a##j2 = VFMA(v, w0, a##j2);                                                            \
        a##j1 = VFMA(v, w1, a##j1);                                                            \
        a##j = VFMA(v, w2, a##j);                                                              \
    }
#define WR_STORE(r, acc) SN(fwd_store_narrow)(out + (r) * F, acc, bias_lo, has_bias, relu, nr);
#define WR_TILE(R, ACCS, STEPS, STORES)                                                        \
    static void SN(fwd_wr_##R)(const T *a, const ptrdiff_t *koff, ptrdiff_t KH, const T *bp,   \
                               T *out, ptrdiff_t F, ptrdiff_t nr, VT bias_lo, int has_bias,    \
                               int relu)                                                       \
    {                                                                                          \
        ACCS(WR_DECL)                                                                          \
        for (ptrdiff_t kh = 0; kh < KH; ++kh) {                                                \
            const T *ap = a + koff[kh * 3 * NW_RS];                                            \
            const T *b = bp + kh * 3 * NW_RS * 2 * VLEN;                                       \
            for (ptrdiff_t ci = 0; ci < NW_RS; ++ci, b += 2 * VLEN) {                          \
                const VT w0 = VLOAD(b), w1 = VLOAD(b + NW_RS * 2 * VLEN);                      \
                const VT w2 = VLOAD(b + 2 * NW_RS * 2 * VLEN);                                 \
                STEPS(WR_STEP)                                                                 \
            }                                                                                  \
        }                                                                                      \
        STORES(WR_STORE)                                                                       \
    }
#define NW_R18(X) NW_R16(X) X(16) X(17)
#define WR_S10(X) X(0, 1, 2) X(1, 2, 3) X(2, 3, 4) X(3, 4, 5) X(4, 5, 6) X(5, 6, 7) X(6, 7, 8)   \
    X(7, 8, 9) X(8, 9, 10) X(9, 10, 11)
#define WR_S14(X) WR_S10(X) X(10, 11, 12) X(11, 12, 13) X(12, 13, 14) X(13, 14, 15)
#define WR_S16(X) WR_S14(X) X(14, 15, 16) X(15, 16, 17)
#define WR_S18(X) WR_S16(X) X(16, 17, 18) X(17, 18, 19)
#define WR_S22(X) WR_S18(X) X(18, 19, 20) X(19, 20, 21) X(20, 21, 22) X(21, 22, 23)
#define WR_S26(X) WR_S22(X) X(22, 23, 24) X(23, 24, 25) X(24, 25, 26) X(25, 26, 27)
#define WR_O8(X) X(0, a2) X(1, a3) X(2, a4) X(3, a5) X(4, a6) X(5, a7) X(6, a8) X(7, a9)
#define WR_O12(X) WR_O8(X) X(8, a10) X(9, a11) X(10, a12) X(11, a13)
#define WR_O14(X) WR_O12(X) X(12, a14) X(13, a15)
#define WR_O16(X) WR_O14(X) X(14, a16) X(15, a17)
#define WR_O20(X) WR_O16(X) X(16, a18) X(17, a19) X(18, a20) X(19, a21)
#define WR_O24(X) WR_O20(X) X(20, a22) X(21, a23) X(22, a24) X(23, a25)
WR_TILE(8, NW_R12, WR_S10, WR_O8)
WR_TILE(12, NW_R16, WR_S14, WR_O12)
WR_TILE(14, NW_R18, WR_S16, WR_O14)
WR_TILE(16, NW_R20, WR_S18, WR_O16)
WR_TILE(20, NW_R24, WR_S22, WR_O20)
WR_TILE(24, NW_R28, WR_S26, WR_O24)
#undef WR_TILE
#undef WR_STORE
#undef WR_STEP
#undef WR_DECL
#undef NW_R18
#undef WR_S10
#undef WR_S14
#undef WR_S16
#undef WR_S18
#undef WR_S22
#undef WR_S26
#undef WR_O8
#undef WR_O12
#undef WR_O14
#undef WR_O16
#undef WR_O20
#undef WR_O24

/* the width-reuse tiles' widths (up to 24 pixels: the 3 weights and a broadcast take 4 of
 * the 32 registers) */
static const ptrdiff_t SN(wr_widths)[] = {24, 20, 16, 14, 12, 8};

/* One output row's narrow block by those tiles, the last moved back to end at the row's end
 * (its first pixels computed twice, to the same values). */
static void SN(fwd_wr_row)(const T *in_row, const ptrdiff_t *koff, ptrdiff_t KH, const T *bp,
                           T *out_row, ptrdiff_t F, ptrdiff_t OW, ptrdiff_t tw, ptrdiff_t nr,
                           VT bias_lo, int has_bias, int relu)
{
    for (ptrdiff_t o0 = 0; o0 < OW; o0 += tw) {
        const ptrdiff_t o = o0 + tw <= OW ? o0 : OW - tw;
        const T *a = in_row + o * NW_RS;
        T *out = out_row + o * F;
        switch (tw) {
        case 24: SN(fwd_wr_24)(a, koff, KH, bp, out, F, nr, bias_lo, has_bias, relu); break;
        case 20: SN(fwd_wr_20)(a, koff, KH, bp, out, F, nr, bias_lo, has_bias, relu); break;
        case 16: SN(fwd_wr_16)(a, koff, KH, bp, out, F, nr, bias_lo, has_bias, relu); break;
        case 14: SN(fwd_wr_14)(a, koff, KH, bp, out, F, nr, bias_lo, has_bias, relu); break;
        case 12: SN(fwd_wr_12)(a, koff, KH, bp, out, F, nr, bias_lo, has_bias, relu); break;
        default: SN(fwd_wr_8)(a, koff, KH, bp, out, F, nr, bias_lo, has_bias, relu); break;
        }
    }
}

#undef NW_TILE
#undef NW_STORE
#undef NW_STEP
#undef NW_DECL
#undef NW_R8
#undef NW_R12
#undef NW_R14
#undef NW_R16
#undef NW_R20
#undef NW_R24
#undef NW_R28
#endif

static void SN(fwd_small_rows)(const fcnn_conv_small *g, ptrdiff_t row0, ptrdiff_t nrows)
{
    enum { FB = 2 * VLEN };
    const ptrdiff_t C = g->c, OH = g->oh, OW = g->ow, F = g->f, K = g->k, rs = g->sw * C;
    const T *src = (const T *)g->src, *b_packed = (const T *)g->b_packed;
    const T *bias = (const T *)g->bias;
    const ptrdiff_t *koff = g->koff;
    const int relu = g->relu, has_bias = bias != NULL;
    /* full tiles over the row; the rest (fewer than MR pixels) by a half tile when it fits
     * one, else by a full tile, moved back to end at the row's end when the row is long
     * enough, else reading past it (the copy's slack) */
    const ptrdiff_t full_end = OW / MR * MR, rest = OW - full_end;
    const ptrdiff_t rest_tile = rest <= MR / 2 ? MR / 2 : MR;
    const ptrdiff_t rest_o = OW >= rest_tile ? OW - rest_tile : 0;
    const ptrdiff_t rest_mr = OW - rest_o < rest_tile ? OW - rest_o : rest_tile;
#ifdef FWD_NARROW_WIDE
    const ptrdiff_t narrow_tw = OW >= 8 ? SN(tile_width)(OW, SN(narrow_widths)) : 0;
    /* stride 1 over 16 channels, 3 taps wide: the width-reuse tiles */
    const int wr = OW >= 8 && rs == NW_RS && g->sw == 1 && g->kw == 3;
    const ptrdiff_t wr_tw = wr ? SN(tile_width)(OW, SN(wr_widths)) : 0;
#endif
    for (ptrdiff_t row = row0; row < row0 + nrows; ++row) {
        const ptrdiff_t n = row / OH, oh = row - n * OH;
        const T *in_row = src + ((n * g->hp + oh * g->sh) * g->wp) * C;
        T *out_row = (T *)g->dst + row * OW * F;
        for (ptrdiff_t j0 = 0; j0 < F; j0 += FB) {
            const ptrdiff_t nr = F - j0 < FB ? F - j0 : FB;
            const T *bp = b_packed + j0 * K;
            /* bias of this block, zero past F: copied, not a loop, which GCC made masked
             * loads reaching past the bias (the second one wholly masked for 16 filters),
             * that took 13% of a 16-channel forward on an AVX-512 Xeon */
            T bias_blk[FB] = {0};
            if (has_bias)
                memcpy(bias_blk, bias + j0, (size_t)nr * sizeof(T));
            const VT bias_lo = VLOAD(bias_blk), bias_hi = VLOAD(bias_blk + VLEN);
            if (nr <= VLEN) {   /* a narrow block: half the work */
#ifdef FWD_NARROW_WIDE
                if (wr) {
                    SN(fwd_wr_row)(in_row, koff, K / (3 * NW_RS), bp, out_row + j0, F, OW,
                                   wr_tw, nr, bias_lo, has_bias, relu);
                    continue;
                }
                if (OW >= 8 && rs == NW_RS) {
                    SN(fwd_narrow_row)(in_row, koff, C, K, bp, out_row + j0, F, OW,
                                       narrow_tw, nr, bias_lo, has_bias, relu);
                    continue;
                }
#endif
                for (ptrdiff_t o = 0; o < full_end; o += MR)
                    SN(fwd_tile_narrow)(in_row + o * rs, rs, koff, K, bp, out_row + o * F + j0,
                                        F, MR, nr, bias_lo, has_bias, relu);
                if (rest == 0)
                    continue;
                const T *a = in_row + rest_o * rs;
                T *out = out_row + rest_o * F + j0;
                if (rest_tile < MR)
                    SN(fwd_tile_half_narrow)(a, rs, koff, K, bp, out, F, rest_mr, nr, bias_lo,
                                             has_bias, relu);
                else
                    SN(fwd_tile_narrow)(a, rs, koff, K, bp, out, F, rest_mr, nr, bias_lo,
                                        has_bias, relu);
                continue;
            }
            for (ptrdiff_t o = 0; o < full_end; o += MR)
                SN(fwd_tile)(in_row + o * rs, rs, koff, K, bp, out_row + o * F + j0, F, MR, nr,
                             bias_lo, bias_hi, has_bias, relu);
            if (rest == 0)
                continue;
            const T *a = in_row + rest_o * rs;
            T *out = out_row + rest_o * F + j0;
            if (rest_tile < MR)
                SN(fwd_tile_half)(a, rs, koff, K, bp, out, F, rest_mr, nr, bias_lo, bias_hi,
                                  has_bias, relu);
            else
                SN(fwd_tile)(a, rs, koff, K, bp, out, F, rest_mr, nr, bias_lo, bias_hi,
                             has_bias, relu);
        }
    }
}
#ifdef FWD_NARROW_WIDE
#undef NW_RS
#endif
#endif

/* dW of a convolution over few channels, without packing: rows [k0, k0 + kn) (kn at most
 * FCNN_DW_DIRECT_NC) of a partial dW (K x F) summed over output pixels [p0, p0 + pc),
 * written into partial[k * F + f] (not accumulated), and with db_partial the sums of dY's
 * columns over those pixels. The windows must lie inside g->x's source (the driver pads it
 * when they would not). For each group of at most 6 values of K and each 2*VLEN filters, the
 * accumulators stay in registers while the pixels go by in order, so every sum runs over the
 * pixels in order and the result does not depend on how pixels were split between threads
 * beyond the driver's fixed parts. */
/* Values of K per group: the wide groups keep 2 * SMALL_DW_KMAX accumulators, which must fit
 * the vector registers beside dY's two vectors and a broadcast (6 for AVX2's 16 registers; a
 * unit with 32 defines 12 before including this file). Kernels exist for up to 12. */
#ifndef SMALL_DW_KMAX
#define SMALL_DW_KMAX 6
#endif

#define SMALL_DW_GROUP(KB)                                                                     \
    static inline void SN(dw_group_##KB)(const T *const *xs, const ptrdiff_t *off,             \
                                         const T *d, ptrdiff_t F, ptrdiff_t pc,                \
                                         T *const *out, int first)                             \
    {                                                                                          \
        VT a0[KB], a1[KB];                                                                     \
        for (int r = 0; r < (KB); ++r) {                                                       \
            a0[r] = first ? VZERO() : VLOAD(out[r]);                                           \
            a1[r] = first ? VZERO() : VLOAD(out[r] + VLEN);                                    \
        }                                                                                      \
        for (ptrdiff_t i = 0; i < pc; ++i, d += F) {                                           \
            const VT d0 = VLOAD(d), d1 = VLOAD(d + VLEN);                                      \
            const T *x = xs[i];                                                                \
            for (int r = 0; r < (KB); ++r) {                                                   \
                const VT v = VSET1(x[off[r]]);                                                 \
                a0[r] = VFMA(v, d0, a0[r]);                                                    \
                a1[r] = VFMA(v, d1, a1[r]);                                                    \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < (KB); ++r) {                                                       \
            VSTORE(out[r], a0[r]);                                                             \
            VSTORE(out[r] + VLEN, a1[r]);                                                      \
        }                                                                                      \
    }

/* The same over 4*VLEN filters (64 in float32 on AVX-512): KB values of K (at most 6) keep
 * 4 * KB accumulators, so per pixel 4 loads of dY and KB broadcasts feed 4 * KB FMAs (against
 * 2 + 12 for 24 in the groups above, which take 64 filters in two passes). Each accumulator
 * is the same chain over the pixels in order as there: the same bits. */
#define SMALL_DW_GROUP4(KB)                                                                    \
    static inline void SN(dw_group4_##KB)(const T *const *xs, const ptrdiff_t *off,            \
                                          const T *d, ptrdiff_t F, ptrdiff_t pc,               \
                                          T *const *out, int first)                            \
    {                                                                                          \
        VT a0[KB], a1[KB], a2[KB], a3[KB];                                                     \
        for (int r = 0; r < (KB); ++r) {                                                       \
            a0[r] = first ? VZERO() : VLOAD(out[r]);                                           \
            a1[r] = first ? VZERO() : VLOAD(out[r] + VLEN);                                    \
            a2[r] = first ? VZERO() : VLOAD(out[r] + 2 * VLEN);                                \
            a3[r] = first ? VZERO() : VLOAD(out[r] + 3 * VLEN);                                \
        }                                                                                      \
        for (ptrdiff_t i = 0; i < pc; ++i, d += F) {                                           \
            const VT d0 = VLOAD(d), d1 = VLOAD(d + VLEN);                                      \
            const VT d2 = VLOAD(d + 2 * VLEN), d3 = VLOAD(d + 3 * VLEN);                       \
            const T *x = xs[i];                                                                \
            for (int r = 0; r < (KB); ++r) {                                                   \
                const VT v = VSET1(x[off[r]]);                                                 \
                a0[r] = VFMA(v, d0, a0[r]);                                                    \
                a1[r] = VFMA(v, d1, a1[r]);                                                    \
                a2[r] = VFMA(v, d2, a2[r]);                                                    \
                a3[r] = VFMA(v, d3, a3[r]);                                                    \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < (KB); ++r) {                                                       \
            VSTORE(out[r], a0[r]);                                                             \
            VSTORE(out[r] + VLEN, a1[r]);                                                      \
            VSTORE(out[r] + 2 * VLEN, a2[r]);                                                  \
            VSTORE(out[r] + 3 * VLEN, a3[r]);                                                  \
        }                                                                                      \
    }
SMALL_DW_GROUP4(1)
SMALL_DW_GROUP4(2)
SMALL_DW_GROUP4(3)
SMALL_DW_GROUP4(4)
SMALL_DW_GROUP4(5)
SMALL_DW_GROUP4(6)

/* The same over VLEN filters (one accumulator per value of K): the block of F % (2*VLEN) >=
 * VLEN filters after the full ones (F = 16 with 2*16-lane blocks). */
#define SMALL_DW_GROUP_NARROW(KB)                                                              \
    static inline void SN(dw_narrow_##KB)(const T *const *xs, const ptrdiff_t *off,            \
                                          const T *d, ptrdiff_t F, ptrdiff_t pc,               \
                                          T *const *out, int first)                            \
    {                                                                                          \
        VT a0[KB];                                                                             \
        for (int r = 0; r < (KB); ++r) a0[r] = first ? VZERO() : VLOAD(out[r]);                \
        for (ptrdiff_t i = 0; i < pc; ++i, d += F) {                                           \
            const VT d0 = VLOAD(d);                                                            \
            const T *x = xs[i];                                                                \
            for (int r = 0; r < (KB); ++r) a0[r] = VFMA(VSET1(x[off[r]]), d0, a0[r]);          \
        }                                                                                      \
        for (int r = 0; r < (KB); ++r) VSTORE(out[r], a0[r]);                                  \
    }

SMALL_DW_GROUP_NARROW(1)
SMALL_DW_GROUP_NARROW(2)
SMALL_DW_GROUP_NARROW(3)
SMALL_DW_GROUP_NARROW(4)
SMALL_DW_GROUP_NARROW(5)
SMALL_DW_GROUP_NARROW(6)
SMALL_DW_GROUP_NARROW(7)
SMALL_DW_GROUP_NARROW(8)
SMALL_DW_GROUP_NARROW(9)
SMALL_DW_GROUP_NARROW(10)
SMALL_DW_GROUP_NARROW(11)
SMALL_DW_GROUP_NARROW(12)

SMALL_DW_GROUP(1)
SMALL_DW_GROUP(2)
SMALL_DW_GROUP(3)
SMALL_DW_GROUP(4)
SMALL_DW_GROUP(5)
SMALL_DW_GROUP(6)
SMALL_DW_GROUP(7)
SMALL_DW_GROUP(8)
SMALL_DW_GROUP(9)
SMALL_DW_GROUP(10)
SMALL_DW_GROUP(11)
SMALL_DW_GROUP(12)

/* dW over channels that fill whole vectors (C % VLEN == 0) and filters that do not fill
 * whole pairs of them (F % (2 * VLEN) != 0: 16 or 48 in float32 on AVX-512, where the groups
 * above fall back to one vector or scalars), the other way round: each
 * accumulator is a vector of VLEN consecutive channels of one tap for one filter, J such
 * column vectors times FB filters, so per pixel J vector loads of the input and FB broadcasts
 * of dY feed J * FB FMAs (against 1 + KB loads for KB FMAs in the groups above; on AVX-512,
 * 3 x 8: 11 loads for 24 FMAs). Accumulates the columns of filters [0, FB) into acc (a row of
 * ld values per filter). Each value is the same chain of FMAs over the pixels in order as in
 * the groups above. */
#ifndef SMALL_DW_CV_J
#define SMALL_DW_CV_J 2   /* column vectors per tile, and filters (16 registers) */
#define SMALL_DW_CV_FB 6
#endif
#define SMALL_DW_CV(J, FB)                                                                     \
    static void SN(dw_cv_##J##_##FB)(const T *const *xs, const ptrdiff_t *voff, const T *d,    \
                                     ptrdiff_t F, ptrdiff_t pc, T *acc, ptrdiff_t ld,          \
                                     int first)                                                \
    {                                                                                          \
        VT a[J][FB];                                                                           \
        for (int j = 0; j < (J); ++j)                                                          \
            for (int f = 0; f < (FB); ++f)                                                     \
                a[j][f] = first ? VZERO() : VLOAD(acc + f * ld + j * VLEN);                    \
        for (ptrdiff_t i = 0; i < pc; ++i, d += F) {                                           \
            const T *x = xs[i];                                                                \
            VT xv[J];                                                                          \
            for (int j = 0; j < (J); ++j) xv[j] = VLOAD(x + voff[j]);                          \
            for (int f = 0; f < (FB); ++f) {                                                   \
                const VT dv = VSET1(d[f]);                                                     \
                for (int j = 0; j < (J); ++j) a[j][f] = VFMA(xv[j], dv, a[j][f]);              \
            }                                                                                  \
        }                                                                                      \
        for (int j = 0; j < (J); ++j)                                                          \
            for (int f = 0; f < (FB); ++f) VSTORE(acc + f * ld + j * VLEN, a[j][f]);           \
    }
#define SMALL_DW_CV_FBS(J)                                                                     \
    SMALL_DW_CV(J, 1) SMALL_DW_CV(J, 2) SMALL_DW_CV(J, 3) SMALL_DW_CV(J, 4)                    \
    SMALL_DW_CV(J, 5) SMALL_DW_CV(J, 6) SMALL_DW_CV(J, 7) SMALL_DW_CV(J, 8)
SMALL_DW_CV_FBS(1)
SMALL_DW_CV_FBS(2)
SMALL_DW_CV_FBS(3)

typedef void (*SN(dw_cv_fn))(const T *const *, const ptrdiff_t *, const T *, ptrdiff_t,
                             ptrdiff_t, T *, ptrdiff_t, int);
#define SMALL_DW_CV_ROW(J)                                                                     \
    {SN(dw_cv_##J##_1), SN(dw_cv_##J##_2), SN(dw_cv_##J##_3), SN(dw_cv_##J##_4),               \
     SN(dw_cv_##J##_5), SN(dw_cv_##J##_6), SN(dw_cv_##J##_7), SN(dw_cv_##J##_8)}
static const SN(dw_cv_fn) SN(dw_cv_table)[3][8] = {SMALL_DW_CV_ROW(1), SMALL_DW_CV_ROW(2),
                                                   SMALL_DW_CV_ROW(3)};

/* One pixel's f values of dY: 0 + g where its window's pick is the pixel's tap number, else
 * +0 (restrict: nothing aliases, so the loop vectorizes, without a branch per value). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-trapping-math")))   /* else GCC keeps a branch per value */
#endif
static inline void SN(unpool_pixel)(const T *restrict g, const T *restrict pk, T tap,
                                    ptrdiff_t f, T *restrict out)
{
    for (ptrdiff_t e = 0; e < f; ++e) {
        const T v = g[e];   /* read unconditionally, so the select vectorizes */
        out[e] = (T)0 + (pk[e] == tap ? v : (T)0);   /* 0 + masked(v) is masked(0 + v) */
    }
}

/* Rows [p0, p0 + pcc) of dY (f values each; output pixel p0 is image n, row a, column b)
 * from a max pooling's dy and picks (fcnn_unpool), into out. Window and tap numbers are
 * kept up to date along the rows, without a division per pixel. */
static void SN(unpool_rows)(const fcnn_unpool *u, ptrdiff_t rows_h, ptrdiff_t rows_w,
                            ptrdiff_t n, ptrdiff_t a, ptrdiff_t b, ptrdiff_t pcc, ptrdiff_t f,
                            T *out)
{
    const T *dy = (const T *)u->dy, *picks = (const T *)u->picks;
    ptrdiff_t i = 0;
    while (i < pcc) {
        /* row a of image n: its window row o (when a is in one) and first tap number */
        const ptrdiff_t o = (a + u->pt) / u->sh;
        const int row_in = o < u->oh && a + u->pt - o * u->sh < u->kh;
        const ptrdiff_t h0 = o * u->sh - u->pt > 0 ? o * u->sh - u->pt : 0;
        const ptrdiff_t run = rows_w - b < pcc - i ? rows_w - b : pcc - i;
        ptrdiff_t j = (b + u->pl) / u->sw, q = b + u->pl - j * u->sw;
        for (ptrdiff_t e0 = 0; e0 < run; ++e0, ++b, out += f) {
            const ptrdiff_t w0 = j * u->sw - u->pl > 0 ? j * u->sw - u->pl : 0;
            if (row_in && j < u->ow && q < u->kw) {
                const ptrdiff_t w1 = j * u->sw - u->pl + u->kw < rows_w
                                         ? j * u->sw - u->pl + u->kw : rows_w;
                const T tap = (T)((a - h0) * (w1 - w0) + (b - w0));
                const ptrdiff_t at = ((n * u->oh + o) * u->ow + j) * f;
                SN(unpool_pixel)(dy + at, picks + at, tap, f, out);
            } else {
                for (ptrdiff_t e = 0; e < f; ++e) out[e] = 0;
            }
            if (++q == u->sw) {
                q = 0;
                ++j;
            }
        }
        i += run;
        if (b == rows_w) {
            b = 0;
            if (++a == rows_h) {
                a = 0;
                ++n;
            }
        }
    }
}

/* The group kernel KIND (dw_group / dw_narrow) of `size` values of K for the filters from F0
 * (in dw_small_tile, whose locals it names); SMALL_DW_CALL4 the same for dw_group4 (at most 6
 * values). */
#define SMALL_DW_ARGS(F0) (xs, off + kq, d + (F0), F, pcc, out, first)
#define SMALL_DW_OUT(F0)                                                                       \
    for (ptrdiff_t r = 0; r < size; ++r) out[r] = partial + (k0 + kq + r) * F + (F0)
#define SMALL_DW_CALL(KIND, F0)                                                                \
    do {                                                                                       \
        SMALL_DW_OUT(F0);                                                                      \
        switch (size) {                                                                        \
        case 1: SN(KIND##_1) SMALL_DW_ARGS(F0); break;                                         \
        case 2: SN(KIND##_2) SMALL_DW_ARGS(F0); break;                                         \
        case 3: SN(KIND##_3) SMALL_DW_ARGS(F0); break;                                         \
        case 4: SN(KIND##_4) SMALL_DW_ARGS(F0); break;                                         \
        case 5: SN(KIND##_5) SMALL_DW_ARGS(F0); break;                                         \
        case 6: SN(KIND##_6) SMALL_DW_ARGS(F0); break;                                         \
        case 7: SN(KIND##_7) SMALL_DW_ARGS(F0); break;                                         \
        case 8: SN(KIND##_8) SMALL_DW_ARGS(F0); break;                                         \
        case 9: SN(KIND##_9) SMALL_DW_ARGS(F0); break;                                         \
        case 10: SN(KIND##_10) SMALL_DW_ARGS(F0); break;                                       \
        case 11: SN(KIND##_11) SMALL_DW_ARGS(F0); break;                                       \
        default: SN(KIND##_12) SMALL_DW_ARGS(F0); break;                                       \
        }                                                                                      \
    } while (0)
#define SMALL_DW_CALL4(F0)                                                                     \
    do {                                                                                       \
        SMALL_DW_OUT(F0);                                                                      \
        switch (size) {                                                                        \
        case 1: SN(dw_group4_1) SMALL_DW_ARGS(F0); break;                                      \
        case 2: SN(dw_group4_2) SMALL_DW_ARGS(F0); break;                                      \
        case 3: SN(dw_group4_3) SMALL_DW_ARGS(F0); break;                                      \
        case 4: SN(dw_group4_4) SMALL_DW_ARGS(F0); break;                                      \
        case 5: SN(dw_group4_5) SMALL_DW_ARGS(F0); break;                                      \
        default: SN(dw_group4_6) SMALL_DW_ARGS(F0); break;                                     \
        }                                                                                      \
    } while (0)

static void SN(dw_small_tile)(const fcnn_conv_dw *g, ptrdiff_t p0, ptrdiff_t pc, ptrdiff_t k0,
                              ptrdiff_t kn, T *partial, T *db_partial, T *work)
{
    enum { PC = FCNN_DW_PC, KMAX = SMALL_DW_KMAX, FB = 2 * VLEN };
    const fcnn_gather *x = &g->x;
    const T *src = (const T *)x->src, *dy = (const T *)g->dy, *mask = (const T *)g->mask;
    const ptrdiff_t F = g->f, C = x->src_c, H = x->src_h, W = x->src_w;
    const ptrdiff_t F_vec = F - F % FB, F_narrow = F - F_vec >= VLEN ? F_vec + VLEN : F_vec;
    ptrdiff_t off[FCNN_DW_DIRECT_NC];
    const T *xs[PC];
    T *out[12];   /* the largest group a kernel exists for */

    for (ptrdiff_t k = k0; k < k0 + kn; ++k) {
        const ptrdiff_t t = k / C;
        off[k - k0] = (x->tap_h[t] * W + x->tap_w[t]) * C + (k - t * C);
    }
    if (db_partial)
        for (ptrdiff_t j = 0; j < F; ++j) db_partial[j] = 0;
    /* the first pixel's position: image n, output row a, column b */
    const ptrdiff_t per_image = x->rows_h * x->rows_w;
    ptrdiff_t n = p0 / per_image, a = (p0 - n * per_image) / x->rows_w;
    ptrdiff_t b = p0 - n * per_image - a * x->rows_w;
    /* filters in whole blocks of 4 vectors, with registers for 24 accumulators: groups of at
     * most 6 values of K over 4 vectors (dw_group4), else of at most KMAX over 2 */
    const int quad = KMAX >= 12 && F % (4 * VLEN) == 0;
    const ptrdiff_t kmax = quad ? 6 : KMAX;
    const ptrdiff_t ngroups = (kn + kmax - 1) / kmax;
    /* whole vectors of channels: the transposed tiles, accumulated in acc (after the masked
     * block of dY in work), for filters that do not fill whole blocks of FB or fill just one
     * (on a Zen 5, 32 filters with avx512 3-4% faster than the groups, 16 with avx2 6-10%;
     * the groups were the faster for more filters on an AVX-512 Xeon) */
    const int cvec = VLEN >= 4 && C % VLEN == 0 && k0 % VLEN == 0 && kn % VLEN == 0
                     && (F % FB != 0 || F == FB) && kn <= FCNN_DW_CV_NC(F);   /* acc's room */
    T *acc = work + (ptrdiff_t)PC * F;
    /* pixels per block: the groups pass over a block once per group of K, so its dY rows
     * and windows should stay in L1 (a third of a block, 64 pixels, was 7-13% faster for 32
     * and 64 filters than whole blocks, and a quarter slower again, on an AVX-512 Xeon); the
     * column-vector tiles make fewer passes and keep whole blocks */
    const ptrdiff_t step = cvec ? PC : PC / 3;
    for (ptrdiff_t pp = p0; pp < p0 + pc; pp += step) {
        const ptrdiff_t pcc = p0 + pc - pp < step ? p0 + pc - pp : step;
        const int first = pp == p0;
        const ptrdiff_t n0 = n, a0 = a, b0 = b;   /* the block's first pixel */
        for (ptrdiff_t i = 0; i < pcc; ++i) {
            xs[i] = src + ((n * H + x->base_h0 + a * x->base_hs) * W + x->base_w0
                           + b * x->base_ws) * C;
            if (++b == x->rows_w) {
                b = 0;
                if (++a == x->rows_h) {
                    a = 0;
                    ++n;
                }
            }
        }
        const T *d = work;
        if (g->unpool) {
            SN(unpool_rows)(g->unpool, x->rows_h, x->rows_w, n0, a0, b0, pcc, F, work);
        } else if (!mask) {
            d = dy + pp * F;
        } else {   /* dY where the mask is > 0, else 0 */
            const T *keep = mask + pp * F, *src = dy + pp * F;
            for (ptrdiff_t e = 0; e < pcc * F; ++e) {
                const T v = src[e];   /* read unconditionally, so the select vectorizes */
                work[e] = keep[e] > 0 ? v : (T)0;
            }
        }
        if (db_partial) {   /* each column summed over the pixels in order, in registers */
            ptrdiff_t j = 0;
            for (; j + 2 * VLEN <= F; j += 2 * VLEN) {
                VT s0 = VLOAD(db_partial + j), s1 = VLOAD(db_partial + j + VLEN);
                for (ptrdiff_t i = 0; i < pcc; ++i) {
                    s0 = VADD(s0, VLOAD(d + i * F + j));
                    s1 = VADD(s1, VLOAD(d + i * F + j + VLEN));
                }
                VSTORE(db_partial + j, s0);
                VSTORE(db_partial + j + VLEN, s1);
            }
            for (; j + VLEN <= F; j += VLEN) {
                VT s0 = VLOAD(db_partial + j);
                for (ptrdiff_t i = 0; i < pcc; ++i) s0 = VADD(s0, VLOAD(d + i * F + j));
                VSTORE(db_partial + j, s0);
            }
            for (; j < F; ++j) {
                T s = db_partial[j];
                for (ptrdiff_t i = 0; i < pcc; ++i) s += d[i * F + j];
                db_partial[j] = s;
            }
        }
        if (cvec) {   /* column vectors of channels in tiles of J x FB (dw_cv_*) */
            const ptrdiff_t nv = kn / VLEN;
            for (ptrdiff_t v0 = 0; v0 < nv; v0 += SMALL_DW_CV_J) {
                const int nj = (int)(nv - v0 < SMALL_DW_CV_J ? nv - v0 : SMALL_DW_CV_J);
                ptrdiff_t voff[SMALL_DW_CV_J];
                for (int j = 0; j < nj; ++j) voff[j] = off[(v0 + j) * VLEN];
                for (ptrdiff_t f0 = 0; f0 < F; f0 += SMALL_DW_CV_FB) {
                    const int nf = (int)(F - f0 < SMALL_DW_CV_FB ? F - f0 : SMALL_DW_CV_FB);
                    SN(dw_cv_table)[nj - 1][nf - 1](xs, voff, d + f0, F, pcc,
                                                    acc + f0 * kn + v0 * VLEN, kn, first);
                }
            }
            continue;
        }
        /* K in near-equal groups of at most kmax values */
        for (ptrdiff_t q = 0, kq = 0; q < ngroups; ++q) {
            const ptrdiff_t size = kn / ngroups + (q < kn % ngroups);
            if (quad) {
                for (ptrdiff_t f0 = 0; f0 < F; f0 += 4 * VLEN) SMALL_DW_CALL4(f0);
            } else {
                for (ptrdiff_t f0 = 0; f0 < F_vec; f0 += FB) SMALL_DW_CALL(dw_group, f0);
                if (F_narrow > F_vec) /* a block of VLEN filters */
                    SMALL_DW_CALL(dw_narrow, F_vec);
            }
            /* the last F % VLEN filters, one value at a time */
            for (ptrdiff_t r = 0; r < size; ++r) {
                T *o = partial + (k0 + kq + r) * F;
                const ptrdiff_t lane = off[kq + r];
                for (ptrdiff_t j = F_narrow; j < F; ++j) {
                    T s = first ? (T)0 : o[j];
                    for (ptrdiff_t i = 0; i < pcc; ++i) s += xs[i][lane] * d[i * F + j];
                    o[j] = s;
                }
            }
            kq += size;
        }
    }
    if (cvec)   /* acc (filters x kn) into the partial's rows k0.. (kn x F) */
        for (ptrdiff_t f = 0; f < F; ++f)
            for (ptrdiff_t k = 0; k < kn; ++k) partial[(k0 + k) * F + f] = acc[f * kn + k];
}

/* y = y + r over rows x cols values (rows ld apart in both), then max(0, .) when relu
 * (fcnn_add_residual_*): compiled with this set's flags, so the loops run in its vectors. */
static void SN(add_residual)(T *restrict y, const T *restrict r, ptrdiff_t rows, ptrdiff_t cols,
                             ptrdiff_t ld, int relu)
{
    for (ptrdiff_t i = 0; i < rows; ++i, y += ld, r += ld) {
        if (relu) {
            for (ptrdiff_t j = 0; j < cols; ++j) {
                const T v = y[j] + r[j];
                y[j] = v < 0 ? (T)0 : v;
            }
        } else {
            for (ptrdiff_t j = 0; j < cols; ++j) y[j] = y[j] + r[j];
        }
    }
}

/* Winograd F(2x2, 3x3) transforms (fcnn_wino_in_* / fcnn_wino_out_*, fastcnn_kernels.h),
 * over the channels in this set's vectors, then one channel at a time. B^T = [1 0 -1 0;
 * 0 1 1 0; 0 -1 1 0; 0 1 0 -1], A^T = [1 1 1 0; 0 1 -1 -1]; position pos = 4 * row + column
 * of the 4 x 4 tile. The body is written once over load (L), store (S), add (A), subtract (B)
 * operations on values of type V. */
#define WINO_IN_BODY(V, L, S, A, B)                                                             \
    {                                                                                          \
        /* columns j of B^T d, then the rows of (B^T d) B */                                   \
        const V t00 = B(L(d[0] + k), L(d[8] + k)), t01 = B(L(d[1] + k), L(d[9] + k));          \
        const V t02 = B(L(d[2] + k), L(d[10] + k)), t03 = B(L(d[3] + k), L(d[11] + k));        \
        const V t10 = A(L(d[4] + k), L(d[8] + k)), t11 = A(L(d[5] + k), L(d[9] + k));          \
        const V t12 = A(L(d[6] + k), L(d[10] + k)), t13 = A(L(d[7] + k), L(d[11] + k));        \
        const V t20 = B(L(d[8] + k), L(d[4] + k)), t21 = B(L(d[9] + k), L(d[5] + k));          \
        const V t22 = B(L(d[10] + k), L(d[6] + k)), t23 = B(L(d[11] + k), L(d[7] + k));        \
        const V t30 = B(L(d[4] + k), L(d[12] + k)), t31 = B(L(d[5] + k), L(d[13] + k));        \
        const V t32 = B(L(d[6] + k), L(d[14] + k)), t33 = B(L(d[7] + k), L(d[15] + k));        \
        S(v + 0 * vs + k, B(t00, t02));                                                        \
        S(v + 1 * vs + k, A(t01, t02));                                                        \
        S(v + 2 * vs + k, B(t02, t01));                                                        \
        S(v + 3 * vs + k, B(t01, t03));                                                        \
        S(v + 4 * vs + k, B(t10, t12));                                                        \
        S(v + 5 * vs + k, A(t11, t12));                                                        \
        S(v + 6 * vs + k, B(t12, t11));                                                        \
        S(v + 7 * vs + k, B(t11, t13));                                                        \
        S(v + 8 * vs + k, B(t20, t22));                                                        \
        S(v + 9 * vs + k, A(t21, t22));                                                        \
        S(v + 10 * vs + k, B(t22, t21));                                                       \
        S(v + 11 * vs + k, B(t21, t23));                                                       \
        S(v + 12 * vs + k, B(t30, t32));                                                       \
        S(v + 13 * vs + k, A(t31, t32));                                                       \
        S(v + 14 * vs + k, B(t32, t31));                                                       \
        S(v + 15 * vs + k, B(t31, t33));                                                       \
    }
/* rows i of m A, then the columns of A^T (m A), + bias; z collects o * 0 of every output (0
 * while all are finite); then the relu */
#define WINO_OUT_BODY(V, L, S, A, B, MUL0, MAX0, BIAS)                                          \
    {                                                                                          \
        const V s00 = A(A(L(m + 0 * ms + k), L(m + 1 * ms + k)), L(m + 2 * ms + k));           \
        const V s01 = B(B(L(m + 1 * ms + k), L(m + 2 * ms + k)), L(m + 3 * ms + k));           \
        const V s10 = A(A(L(m + 4 * ms + k), L(m + 5 * ms + k)), L(m + 6 * ms + k));           \
        const V s11 = B(B(L(m + 5 * ms + k), L(m + 6 * ms + k)), L(m + 7 * ms + k));           \
        const V s20 = A(A(L(m + 8 * ms + k), L(m + 9 * ms + k)), L(m + 10 * ms + k));          \
        const V s21 = B(B(L(m + 9 * ms + k), L(m + 10 * ms + k)), L(m + 11 * ms + k));         \
        const V s30 = A(A(L(m + 12 * ms + k), L(m + 13 * ms + k)), L(m + 14 * ms + k));        \
        const V s31 = B(B(L(m + 13 * ms + k), L(m + 14 * ms + k)), L(m + 15 * ms + k));        \
        V o00 = A(A(s00, s10), s20), o01 = A(A(s01, s11), s21);                                \
        V o10 = B(B(s10, s20), s30), o11 = B(B(s11, s21), s31);                                \
        if (bias) {                                                                            \
            const V bk = BIAS;                                                                 \
            o00 = A(o00, bk);                                                                  \
            o01 = A(o01, bk);                                                                  \
            o10 = A(o10, bk);                                                                  \
            o11 = A(o11, bk);                                                                  \
        }                                                                                      \
        z = A(z, A(A(MUL0(o00), MUL0(o01)), A(MUL0(o10), MUL0(o11))));                         \
        if (relu) {                                                                            \
            o00 = MAX0(o00);                                                                   \
            o01 = MAX0(o01);                                                                   \
            o10 = MAX0(o10);                                                                   \
            o11 = MAX0(o11);                                                                   \
        }                                                                                      \
        S(y[0] + k, o00);                                                                      \
        S(y[1] + k, o01);                                                                      \
        S(y[2] + k, o10);                                                                      \
        S(y[3] + k, o11);                                                                      \
    }
/* the dY tile's pixels y0..y3 (row by row) to M' = A' dY A'^T: the rows of A' dY are (y0,
 * y1), (y0 + y2, y1 + y3), (y0 - y2, y1 - y3), (y2, y3); each row (p, q) then gives (p,
 * p + q, p - q, q) */
#define WINO_DY_BODY(V, L, S, A, B, KEEP)                                                       \
    {                                                                                          \
        V y0 = L(d[0] + k), y1 = L(d[1] + k), y2 = L(d[2] + k), y3 = L(d[3] + k);              \
        if (mm) {                                                                              \
            y0 = KEEP(y0, L(mk[0] + k));                                                       \
            y1 = KEEP(y1, L(mk[1] + k));                                                       \
            y2 = KEEP(y2, L(mk[2] + k));                                                       \
            y3 = KEEP(y3, L(mk[3] + k));                                                       \
        }                                                                                      \
        if (db)                                                                                \
            S(db + k, A(A(A(A(L(db + k), y0), y1), y2), y3));                                  \
        const V p1 = A(y0, y2), q1 = A(y1, y3), p2 = B(y0, y2), q2 = B(y1, y3);                \
        S(m + 0 * ms + k, y0);                                                                 \
        S(m + 1 * ms + k, A(y0, y1));                                                          \
        S(m + 2 * ms + k, B(y0, y1));                                                          \
        S(m + 3 * ms + k, y1);                                                                 \
        S(m + 4 * ms + k, p1);                                                                 \
        S(m + 5 * ms + k, A(p1, q1));                                                          \
        S(m + 6 * ms + k, B(p1, q1));                                                          \
        S(m + 7 * ms + k, q1);                                                                 \
        S(m + 8 * ms + k, p2);                                                                 \
        S(m + 9 * ms + k, A(p2, q2));                                                          \
        S(m + 10 * ms + k, B(p2, q2));                                                         \
        S(m + 11 * ms + k, q2);                                                                \
        S(m + 12 * ms + k, y2);                                                                \
        S(m + 13 * ms + k, A(y2, y3));                                                         \
        S(m + 14 * ms + k, B(y2, y3));                                                         \
        S(m + 15 * ms + k, y3);                                                                \
    }
#define WINO_SL(p) (*(p))
#define WINO_SS(p, x) (*(p) = (x))
#define WINO_SA(a, b) ((a) + (b))
#define WINO_SB(a, b) ((a) - (b))
#define WINO_SMUL0(a) ((a) * (T)0)
#define WINO_SMAX0(a) ((a) < 0 ? (T)0 : (a))
#define WINO_SKEEP(v, m) ((m) > 0 ? (v) : (T)0)
#define WINO_VMUL0(a) VFMA((a), VZERO(), VZERO())
#define WINO_VMAX0(a) VMAX(VZERO(), (a))

static void SN(wino_in)(const T *const *dd, ptrdiff_t nt, ptrdiff_t c, T *vv, ptrdiff_t vs)
{
    for (ptrdiff_t t = 0; t < nt; ++t) {
        const T *const *d = dd + 16 * t;
        T *v = vv + t * c;
        ptrdiff_t k = 0;
        for (; k + VLEN <= c; k += VLEN) WINO_IN_BODY(VT, VLOAD, VSTORE, VADD, VSUB)
        for (; k < c; ++k) WINO_IN_BODY(T, WINO_SL, WINO_SS, WINO_SA, WINO_SB)
    }
}

static void SN(wino_dy)(const T *const *dd, const T *const *mm, ptrdiff_t nt, ptrdiff_t c,
                        ptrdiff_t coff, T *mv, ptrdiff_t ms, ptrdiff_t ts, T *db)
{
    for (ptrdiff_t t = 0; t < nt; ++t) {
        const T *d[4] = {dd[4 * t] + coff, dd[4 * t + 1] + coff, dd[4 * t + 2] + coff,
                         dd[4 * t + 3] + coff};
        const T *mk[4] = {NULL, NULL, NULL, NULL};
        if (mm)
            for (int q = 0; q < 4; ++q) mk[q] = mm[4 * t + q] + coff;
        T *m = mv + t * ts;
        ptrdiff_t k = 0;
        for (; k + VLEN <= c; k += VLEN) WINO_DY_BODY(VT, VLOAD, VSTORE, VADD, VSUB, VKEEP)
        for (; k < c; ++k) WINO_DY_BODY(T, WINO_SL, WINO_SS, WINO_SA, WINO_SB, WINO_SKEEP)
    }
}

static int SN(wino_out)(const T *mm, ptrdiff_t ms, ptrdiff_t nt, ptrdiff_t c, const T *bias,
                        int relu, T *const *yy)
{
    VT zv = VZERO();
    T zs = 0;
    for (ptrdiff_t t = 0; t < nt; ++t) {
        const T *m = mm + t * c;
        T *const *y = yy + 4 * t;
        ptrdiff_t k = 0;
        {
            VT z = zv;
            for (; k + VLEN <= c; k += VLEN)
                WINO_OUT_BODY(VT, VLOAD, VSTORE, VADD, VSUB, WINO_VMUL0, WINO_VMAX0,
                              VLOAD(bias + k))
            zv = z;
        }
        T z = zs;
        for (; k < c; ++k)
            WINO_OUT_BODY(T, WINO_SL, WINO_SS, WINO_SA, WINO_SB, WINO_SMUL0, WINO_SMAX0, bias[k])
        zs = z;
    }
    T lanes[VLEN];
    VSTORE(lanes, zv);
    for (int l = 0; l < VLEN; ++l)
        if (lanes[l] != lanes[l]) return 0;
    return zs == zs;
}
#undef WINO_IN_BODY
#undef WINO_OUT_BODY
#undef WINO_DY_BODY
#undef WINO_SKEEP
#undef WINO_SL
#undef WINO_SS
#undef WINO_SA
#undef WINO_SB
#undef WINO_SMUL0
#undef WINO_SMAX0
#undef WINO_VMUL0
#undef WINO_VMAX0

#undef SMALL_DW_GROUP
#undef SMALL_DW_GROUP_NARROW
#undef SMALL_DW_GROUP4
#undef SMALL_DW_CV
#undef SMALL_DW_CV_FBS
#undef SMALL_DW_CV_ROW
#undef SMALL_DW_CALL
#undef SMALL_DW_CALL4
#undef SMALL_DW_OUT
#undef SMALL_DW_ARGS
#undef SMALL_DX_PIXEL
#undef SN
#undef SCAT
#undef SCAT_
#undef FCNN_UNROLL4
