/* Implicit-GEMM convolution drivers, written once for T = float / double.
 * Included by conv.c with T, SFX (f32/f64) and the kernel fields (MR_FIELD, NR_FIELD,
 * UKR_FIELD) defined. All index arithmetic is in ptrdiff_t. */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, CAT(_, SFX))

static inline ptrdiff_t FN(min_idx)(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }

/* dst[0 .. n) = src[0 .. n), with n a compile-time constant for the tile widths in use so
 * the copy becomes vector moves. */
#define FN_COPY_WIDTH(dst, src, n)                                                             \
    switch (n) {                                                                               \
    case 8: memcpy((dst), (src), 8 * sizeof(T)); break;                                        \
    case 16: memcpy((dst), (src), 16 * sizeof(T)); break;                                      \
    case 32: memcpy((dst), (src), 32 * sizeof(T)); break;                                      \
    default: memcpy((dst), (src), (size_t)(n) * sizeof(T)); break;                             \
    }

/* values of T in a cache line */
static inline ptrdiff_t FN(line)(void) { return 64 / (ptrdiff_t)sizeof(T); }

/* Requests p[from, to) into L2, a line at a time (data read a little later: the next image
 * a loop copies, a residual added after a block's products). */
static inline void FN(prefetch_l2)(const T *p, ptrdiff_t from, ptrdiff_t to)
{
    for (ptrdiff_t v = from; v < to; v += FN(line)())
        __builtin_prefetch(p + v, 0, 2);
}

/* A GEMM row's position: image n, base pixel (bh, bw); advanced one row at a time. Also a
 * Winograd tile's: image, row and column of tiles. */
typedef struct {
    ptrdiff_t n, a, b;
} FN(rowpos);

static inline void FN(rowpos_init)(FN(rowpos) *p, ptrdiff_t m, ptrdiff_t rows_h, ptrdiff_t rows_w)
{
    const ptrdiff_t per = rows_h * rows_w;
    p->n = m / per;
    m -= p->n * per;
    p->a = m / rows_w;
    p->b = m - p->a * rows_w;
}

static inline void FN(rowpos_next)(FN(rowpos) *p, ptrdiff_t rows_h, ptrdiff_t rows_w)
{
    if (++p->b == rows_w) {
        p->b = 0;
        if (++p->a == rows_h) {
            p->a = 0;
            ++p->n;
        }
    }
}

void FN(fcnn_pack_b)(const T *b, ptrdiff_t ldb, ptrdiff_t k, ptrdiff_t n, int nr, T *out)
{
    for (ptrdiff_t j0 = 0; j0 < n; j0 += nr) {
        const ptrdiff_t width = FN(min_idx)(nr, n - j0);
        for (ptrdiff_t p = 0; p < k; ++p) {
            const T *src = b + p * ldb + j0;
            ptrdiff_t j = 0;
            for (; j < width; ++j) out[j] = src[j];
            for (; j < nr; ++j) out[j] = 0;
            out += nr;
        }
    }
}

void FN(fcnn_pack_bsource)(const fcnn_bsource *s, ptrdiff_t n, int nr, T *out)
{
    const T *src = (const T *)s->src;
    for (ptrdiff_t j0 = 0; j0 < n; j0 += nr) {
        const ptrdiff_t width = FN(min_idx)(nr, n - j0);
        for (ptrdiff_t t = 0; t < s->ntaps; ++t) {
            for (ptrdiff_t r = 0; r < s->rows; ++r) {
                const T *row = src + s->tap_off[t] + r * s->row_stride + j0 * s->col_stride;
                ptrdiff_t j = 0;
                if (s->col_stride == 1)
                    for (; j < width; ++j) out[j] = row[j];
                else
                    for (; j < width; ++j) out[j] = row[j * s->col_stride];
                for (; j < nr; ++j) out[j] = 0;
                out += nr;
            }
        }
    }
}

/* B block for dW: reduction over GEMM rows [p0, p0 + pc) (steps), columns [k0, k0 + kn) of
 * the reduction index k = t*C + c (lanes), in panels of nr lanes: out[jp][p][nr].
 * lane_off (kn entries) is scratch: each lane's offset from a row's base pixel. */
static void FN(pack_klanes)(const fcnn_gather *g, ptrdiff_t p0, ptrdiff_t pc, ptrdiff_t k0,
                            ptrdiff_t kn, int nr, T *out, ptrdiff_t *lane_off)
{
    const T *src = (const T *)g->src;
    const ptrdiff_t C = g->src_c, H = g->src_h, W = g->src_w, img = H * W * C;
    ptrdiff_t seg_t[64], seg_c[64], seg_lane[64], seg_len[64];
    /* the extent of the taps these lanes read, and each lane's offset from the base pixel */
    const ptrdiff_t t_first = k0 / C, t_last = (k0 + kn - 1) / C;
    ptrdiff_t th_lo = g->tap_h[t_first], th_hi = th_lo, tw_lo = g->tap_w[t_first], tw_hi = tw_lo;
    for (ptrdiff_t t = t_first; t <= t_last; ++t) {
        const ptrdiff_t th = g->tap_h[t], tw = g->tap_w[t];
        th_lo = th < th_lo ? th : th_lo;
        th_hi = th > th_hi ? th : th_hi;
        tw_lo = tw < tw_lo ? tw : tw_lo;
        tw_hi = tw > tw_hi ? tw : tw_hi;
    }
    for (ptrdiff_t k = k0; k < k0 + kn; ++k) {
        const ptrdiff_t t = k / C;
        lane_off[k - k0] = (g->tap_h[t] * W + g->tap_w[t]) * C + (k - t * C);
    }
    for (ptrdiff_t ka = k0; ka < k0 + kn; ka += nr) {
        const ptrdiff_t kb = FN(min_idx)(ka + nr, k0 + kn);
        const ptrdiff_t *off = lane_off + (ka - k0);
        /* Split the panel's lanes where they cross from one tap to the next. */
        int nseg = 0;
        for (ptrdiff_t k = ka; k < kb;) {
            const ptrdiff_t t = k / C, c = k - t * C;
            const ptrdiff_t len = FN(min_idx)(C - c, kb - k);
            seg_t[nseg] = t;
            seg_c[nseg] = c;
            seg_lane[nseg] = k - ka;
            seg_len[nseg] = len;
            ++nseg;
            k += len;
        }
        const ptrdiff_t used = kb - ka;
        /* a full panel inside one tap reads nr consecutive channels: one vector copy */
        const int contiguous = used == nr && nseg == 1;
        FN(rowpos) pos;
        FN(rowpos_init)(&pos, p0, g->rows_h, g->rows_w);
        for (ptrdiff_t p = 0; p < pc; ++p, out += nr) {
            const T *image = src + pos.n * img;
            const ptrdiff_t bh = g->base_h0 + pos.a * g->base_hs;
            const ptrdiff_t bw = g->base_w0 + pos.b * g->base_ws;
            if (bh + th_lo >= 0 && bh + th_hi < H && bw + tw_lo >= 0 && bw + tw_hi < W) {
                /* the window is inside the image: no checks */
                const T *base = image + (bh * W + bw) * C;
                if (contiguous)
                    FN_COPY_WIDTH(out, base + off[0], nr)
                else
                    for (ptrdiff_t j = 0; j < used; ++j) out[j] = base[off[j]];
            } else {
                for (int s = 0; s < nseg; ++s) {
                    const ptrdiff_t ih = bh + g->tap_h[seg_t[s]], iw = bw + g->tap_w[seg_t[s]];
                    T *dst = out + seg_lane[s];
                    if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
                        const T *v = image + (ih * W + iw) * C + seg_c[s];
                        for (ptrdiff_t j = 0; j < seg_len[s]; ++j) dst[j] = v[j];
                    } else {
                        for (ptrdiff_t j = 0; j < seg_len[s]; ++j) dst[j] = 0;
                    }
                }
            }
            for (ptrdiff_t j = used; j < nr; ++j) out[j] = 0;
            FN(rowpos_next)(&pos, g->rows_h, g->rows_w);
        }
    }
}

/* Below FCNN_STR_MAX_C input channels (fastcnn_kernels.h), tiles of MR output pixels that lie
 * in one image row and inside the image read the input through the strided kernel (ukr_str)
 * instead of a table of row pointers. */

size_t FN(fcnn_conv_gemm_workspace)(ptrdiff_t ntaps, ptrdiff_t k)
{
    /* the indirection table: a pointer per tap for each row of the block, in whole panels;
     * each tap's offset; each reduction step's offset (strided kernel); a panel's first row
     * of input, or NULL when the panel goes through the table */
    return (sizeof(const T *) * (size_t)(FCNN_MC + 16) + sizeof(ptrdiff_t)) * (size_t)ntaps
           + sizeof(ptrdiff_t) * (size_t)k + sizeof(const T *) * (size_t)(FCNN_MC + 16);
}

/* Rows [m0, m0 + mc) of Y = gather(A) * B. A tile of MR rows that are consecutive pixels of
 * one output row, with windows inside the image, is read by the strided kernel (few
 * channels); any other tile through an indirection table pointing, for every row and tap, at
 * the C input values the tap reads (or at a zero row in the padding). A is never copied. */
void FN(fcnn_conv_gemm_block)(const fcnn_conv_gemm *g, ptrdiff_t m0, ptrdiff_t mc, void *work)
{
    const fcnn_isa *isa = g->isa ? g->isa : fcnn_current_isa();
    const int MR = isa->MR_FIELD, NR = isa->NR_FIELD;
    const fcnn_gather *a = &g->a;
    const ptrdiff_t C = a->src_c, H = a->src_h, W = a->src_w, img = H * W * C;
    const ptrdiff_t ntaps = a->ntaps, K = g->k, N = g->n;
    const T *src = (const T *)a->src, *zeros = (const T *)a->zeros;
    const T *bias = (const T *)g->bias;
    const T *b_packed = (const T *)g->b_packed;
    const T *residual = (const T *)g->residual;
    /* where a residual value lies relative to the output value it is added to */
    const ptrdiff_t res_off = residual ? residual - (const T *)g->c.dst : 0;
    const T **ind = (const T **)work;
    T *rows[FCNN_MC + 16];
    const ptrdiff_t panels = (mc + MR - 1) / MR;
    /* Where each tap reads relative to a row's base pixel, and the taps' extent: a row whose
     * window lies inside the image gets its pointers without a bounds check per tap. */
    ptrdiff_t *tap_off = (ptrdiff_t *)(ind + (FCNN_MC + 16) * ntaps);
    ptrdiff_t *koff = tap_off + ntaps;
    const T **panel_base = (const T **)(koff + K);
    ptrdiff_t th_lo = 0, th_hi = 0, tw_lo = 0, tw_hi = 0;
    for (ptrdiff_t t = 0; t < ntaps; ++t) {
        const ptrdiff_t th = a->tap_h[t], tw = a->tap_w[t];
        tap_off[t] = (th * W + tw) * C;
        for (ptrdiff_t c = 0; c < C && C < FCNN_STR_MAX_C; ++c) koff[t * C + c] = tap_off[t] + c;
        if (t == 0 || th < th_lo) th_lo = th;
        if (t == 0 || th > th_hi) th_hi = th;
        if (t == 0 || tw < tw_lo) tw_lo = tw;
        if (t == 0 || tw > tw_hi) tw_hi = tw;
    }
#define FCNN_INSIDE(bh, bw) \
    ((bh) + th_lo >= 0 && (bh) + th_hi < H && (bw) + tw_lo >= 0 && (bw) + tw_hi < W)

    {
        const fcnn_scatter *s = &g->c;
        T *dst = (T *)s->dst;
        FN(rowpos) pos;
        FN(rowpos_init)(&pos, m0, a->rows_h, a->rows_w);
        for (ptrdiff_t pi = 0; pi < panels; ++pi) {
            const ptrdiff_t i0 = pi * MR;
            panel_base[pi] = NULL;
            if (C < FCNN_STR_MAX_C && i0 + MR <= mc && pos.b + MR <= a->rows_w) {
                const ptrdiff_t bh = a->base_h0 + pos.a * a->base_hs;
                const ptrdiff_t bw = a->base_w0 + pos.b * a->base_ws;
                if (FCNN_INSIDE(bh, bw) && FCNN_INSIDE(bh, bw + (MR - 1) * a->base_ws))
                    panel_base[pi] = src + pos.n * img + (bh * W + bw) * C;
            }
            for (ptrdiff_t i = i0; i < i0 + MR; ++i) {
                const T **slot = ind + pi * ntaps * MR + (i - i0);
                if (i >= mc) {
                    for (ptrdiff_t t = 0; t < ntaps; ++t) slot[t * MR] = zeros;
                    continue;
                }
                if (!panel_base[pi]) {
                    const T *image = src + pos.n * img;
                    const ptrdiff_t bh = a->base_h0 + pos.a * a->base_hs;
                    const ptrdiff_t bw = a->base_w0 + pos.b * a->base_ws;
                    if (FCNN_INSIDE(bh, bw)) {
                        const T *base = image + (bh * W + bw) * C;
                        for (ptrdiff_t t = 0; t < ntaps; ++t) slot[t * MR] = base + tap_off[t];
                    } else {
                        for (ptrdiff_t t = 0; t < ntaps; ++t) {
                            const ptrdiff_t ih = bh + a->tap_h[t], iw = bw + a->tap_w[t];
                            slot[t * MR] = (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                               ? image + (ih * W + iw) * C : zeros;
                        }
                    }
                }
                const ptrdiff_t h = s->h0 + pos.a * s->hs, w = s->w0 + pos.b * s->ws;
                rows[i] = dst + ((pos.n * s->dst_h + h) * s->dst_w + w) * s->ldc;
                FN(rowpos_next)(&pos, a->rows_h, a->rows_w);
            }
        }
    }
#undef FCNN_INSIDE
    /* Reduction blocks: whole taps while a tap has fewer than kc_max channels, otherwise
     * each tap cut into near-equal channel runs. */
    ptrdiff_t tb, cb;
    const ptrdiff_t kc_max = C >= FCNN_KC_WIDE_MIN_C ? FCNN_KC_WIDE : FCNN_KC;
    if (C >= kc_max) {
        const ptrdiff_t ncb = (C + kc_max - 1) / kc_max;
        tb = 1;
        cb = (C + ncb - 1) / ncb;
    } else {
        const ptrdiff_t tmax = kc_max / C, nkb = (ntaps + tmax - 1) / tmax;
        tb = (ntaps + nkb - 1) / nkb;
        cb = C;
    }
    const ptrdiff_t rs = a->base_ws * C;
    for (ptrdiff_t t0 = 0; t0 < ntaps; t0 += tb) {
        const ptrdiff_t nt = FN(min_idx)(tb, ntaps - t0);
        for (ptrdiff_t c0 = 0; c0 < C; c0 += cb) {
            const ptrdiff_t cc = FN(min_idx)(cb, C - c0);
            const int first = t0 == 0 && c0 == 0, last = t0 + nt >= ntaps && c0 + cc >= C;
            int flags = first ? (bias ? FCNN_BIAS : 0) : FCNN_ACCUMULATE;
            if (g->relu && last && !residual) flags |= FCNN_RELU;
            for (ptrdiff_t j0 = 0; j0 < N; j0 += NR) {
                const T *bp = b_packed + j0 * K + (t0 * C + c0) * NR;
                const int nr = (int)FN(min_idx)(NR, N - j0);
                const T *bias_j = bias ? bias + j0 : NULL;
                for (ptrdiff_t i0 = 0; i0 < mc; i0 += MR) {
                    const int mr = (int)FN(min_idx)(MR, mc - i0);
                    const T *base = panel_base[i0 / MR];
                    if (residual && last)   /* requested now, read after the reduction */
                        for (int r = 0; r < mr; ++r)
                            for (int j = 0; j < nr; j += (int)FN(line)())
                                __builtin_prefetch(rows[i0 + r] + j0 + res_off + j);
                    if (base)   /* cb == C here: the run is steps [t0*C, (t0 + nt)*C) */
                        isa->UKR_STR_FIELD(nt * C, koff + t0 * C, base, rs, bp, rows + i0, j0,
                                           mr, nr, flags, bias_j);
                    else
                        isa->UKR_IND_FIELD(nt, cc, c0, ind + (i0 / MR) * ntaps * MR + t0 * MR,
                                           bp, rows + i0, j0, mr, nr, flags, bias_j);
                }
                if (residual && last)   /* the block's finished columns, still in L1 */
                    isa->ADD_RESIDUAL_FIELD(rows[0] + j0, rows[0] + j0 + res_off, mc, nr,
                                            g->c.ldc, g->relu);
            }
        }
    }
}

/* Winograd F(2x2, 3x3) (fcnn_conv_wino, fastcnn_kernels.h) */

size_t FN(fcnn_wino_packed_size)(const fcnn_isa *isa, ptrdiff_t c, ptrdiff_t f)
{
    const ptrdiff_t nr = isa->NR_FIELD;
    return (size_t)(16 * ((f + nr - 1) / nr * nr) * c);
}

/* The transformed weights of w (3, 3, c, f): u (16, c, f) = G g G^T for every channel and
 * filter, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], computed in double and rounded once;
 * then each position's c x f block packed (fcnn_wino_packed_size values). flip: w is
 * (3, 3, f, c) and g its taps turned by 180 degrees with channels and filters swapped (the
 * kernel whose forward pass over dy is dx at stride 1). */
void FN(fcnn_wino_weights)(const fcnn_isa *isa, const T *w, ptrdiff_t c, ptrdiff_t f, int flip,
                           T *u, T *packed)
{
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    for (ptrdiff_t ci = 0; ci < c; ++ci) {
        for (ptrdiff_t fi = 0; fi < f; ++fi) {
            double t[4][3];
            for (int i = 0; i < 4; ++i)
                for (int k = 0; k < 3; ++k) {
                    double acc = 0;
                    for (int r = 0; r < 3; ++r) {
                        const ptrdiff_t at = flip ? (((2 - r) * 3 + 2 - k) * f + fi) * c + ci
                                                  : ((r * 3 + k) * c + ci) * f + fi;
                        acc += G[i][r] * (double)w[at];
                    }
                    t[i][k] = acc;
                }
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) {
                    const double v = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
                    u[((4 * i + j) * c + ci) * f + fi] = (T)v;
                }
        }
    }
    const int nr = isa->NR_FIELD;
    const ptrdiff_t block = (f + nr - 1) / nr * nr * c;
    for (int pos = 0; pos < 16; ++pos)
        FN(fcnn_pack_b)(u + pos * c * f, f, c, f, nr, packed + pos * block);
}

/* The 16 pixels of the 4 x 4 input tile at (h0, w0) of image x (h, w, c) into d: row by
 * row, zeros for a pixel outside the image. */
static inline void FN(wino_tile_pixels)(const T *x, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c,
                                        ptrdiff_t h0, ptrdiff_t w0, const T *zeros,
                                        const T **d)
{
    if (h0 >= 0 && h0 + 4 <= h && w0 >= 0 && w0 + 4 <= w) {
        const T *base = x + (h0 * w + w0) * c;
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) d[4 * i + j] = base + (i * w + j) * c;
        return;
    }
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
            const ptrdiff_t ih = h0 + i, iw = w0 + j;
            d[4 * i + j] = ih >= 0 && ih < h && iw >= 0 && iw < w ? x + (ih * w + iw) * c
                                                                : zeros;
        }
}

size_t FN(fcnn_conv_wino_workspace)(const fcnn_conv_wino *g)
{
    /* the micro-kernel's row pointers (A rows, C rows: position 0's, the others at an
     * offset); the tiles' input and output pointers; the transformed tiles (16 rows of c per
     * tile), the products (16 rows of f per tile), a scratch output row */
    return (2 + 16 + 4) * sizeof(T *) * (size_t)g->tb
           + sizeof(T) * (size_t)(16 * g->tb * (g->c + g->f) + g->f);
}

/* ni consecutive images x (ni, h, w, c) into y (ni, oh, ow, f), their tiles in blocks that
 * run across images (each output the same bits however tiles meet blocks). Returns 0, having
 * left y partly written and no residual added, where an output is not finite (a value of x,
 * a weight or the bias that is not, or an intermediate sum beyond the dtype's range): the
 * caller recomputes those images by the direct convolution, whose result IEEE arithmetic
 * over exactly the terms of the definition gives. Otherwise 1: y = conv (+ bias) (+ residual
 * (ni, oh, ow, f)) (relu). next: NULL, or the ni images the caller does next, requested into
 * L2 a share per block of tiles. */
int FN(fcnn_conv_wino_images)(const fcnn_conv_wino *g, const T *x, ptrdiff_t ni, T *y,
                              const T *residual, const T *next, void *work)
{
    const fcnn_isa *isa = g->isa;
    const int MR = isa->MR_FIELD, NR = isa->NR_FIELD;
    const ptrdiff_t C = g->c, F = g->f, H = g->h, W = g->w, OH = g->oh, OW = g->ow;
    const ptrdiff_t tw = (OW + 1) / 2, th = (OH + 1) / 2, tiles = ni * th * tw, TB = g->tb;
    const ptrdiff_t block = (F + NR - 1) / NR * NR * C;
    const T **ind = (const T **)work;
    T **crow = (T **)(ind + TB);
    const T **din = (const T **)(crow + TB);
    T **yout = (T **)(din + 16 * TB);
    T *v = (T *)(yout + 4 * TB);
    T *m = v + 16 * TB * C, *junk = m + 16 * TB * F;
    const T *zeros = (const T *)g->zeros, *u = (const T *)g->u_packed;
    const int relu = g->relu && !residual;
    const ptrdiff_t input = ni * H * W * C;
    const ptrdiff_t share = next ? (input + tiles - 1) / tiles * TB : 0;
    FN(rowpos) p = {0, 0, 0};
    /* row i of every position's product: A at ind[i] + pos * TB * C, C at crow[i] + pos *
     * TB * F (rows past a block's tiles read some tile's values and are not stored) */
    for (ptrdiff_t i = 0; i < TB; ++i) {
        ind[i] = v + i * C;
        crow[i] = m + i * F;
    }
    int ok = 1;
    for (ptrdiff_t t0 = 0; t0 < tiles; t0 += TB) {
        const ptrdiff_t nt = FN(min_idx)(TB, tiles - t0);
        if (next)
            FN(prefetch_l2)(next, t0 / TB * share, FN(min_idx)(t0 / TB * share + share, input));
        for (ptrdiff_t t = 0; t < nt; ++t, FN(rowpos_next)(&p, th, tw)) {
            FN(wino_tile_pixels)(x + p.n * H * W * C, H, W, C, 2 * p.a - g->pt,
                                 2 * p.b - g->pl, zeros, din + 16 * t);
            const ptrdiff_t oh = 2 * p.a, ow = 2 * p.b;
            T **o = yout + 4 * t;
            o[0] = y + ((p.n * OH + oh) * OW + ow) * F;
            o[1] = ow + 1 < OW ? o[0] + F : junk;
            o[2] = oh + 1 < OH ? o[0] + OW * F : junk;
            o[3] = oh + 1 < OH && ow + 1 < OW ? o[0] + (OW + 1) * F : junk;
        }
        isa->WINO_IN_FIELD(din, nt, C, v, TB * C);
        /* the products, position by position: (nt x C) * (C x F) */
        for (int pos = 0; pos < 16; ++pos)
            for (ptrdiff_t j0 = 0; j0 < F; j0 += NR) {
                const int nr = (int)FN(min_idx)(NR, F - j0);
                const T *bp = u + pos * block + j0 * C;
                for (ptrdiff_t i0 = 0; i0 < nt; i0 += MR) {
                    const int mr = (int)FN(min_idx)(MR, nt - i0);
                    for (ptrdiff_t c0 = 0; c0 < C; c0 += FCNN_KC) {
                        const ptrdiff_t cc = FN(min_idx)(FCNN_KC, C - c0);
                        isa->UKR_IND_FIELD(1, cc, pos * TB * C + c0, ind + i0, bp + c0 * NR,
                                           crow + i0, pos * TB * F + j0, mr, nr,
                                           c0 == 0 ? 0 : FCNN_ACCUMULATE, NULL);
                    }
                }
            }
        ok &= isa->WINO_OUT_FIELD(m, TB * F, nt, F, (const T *)g->bias, relu, yout);
    }
    if (ok && residual)
        isa->ADD_RESIDUAL_FIELD(y, residual, 1, ni * OH * OW * F, 0, g->relu);
    return ok;
}

size_t FN(fcnn_conv_wino_dw_workspace)(const fcnn_conv_wino_dw *g)
{
    const ptrdiff_t MR = g->isa->MR_FIELD, NR = g->isa->NR_FIELD, TB = g->tb;
    const ptrdiff_t fp = (g->f + NR - 1) / NR * NR;
    /* pointers: 16 to input pixels, 4 to dY and 4 to mask pixels per tile, MR rows of u; the
     * transformed input tiles (16 rows of c per tile), the transformed dY tiles (16 rows of
     * fp per tile, in panels of NR); the offsets of the tiles in a row of v */
    return (size_t)(24 * TB + MR) * sizeof(T *)
           + sizeof(T) * (size_t)(16 * (TB * (g->c + fp) + 2 * FN(line)()))
           + sizeof(ptrdiff_t) * (size_t)TB;
}

/* Images [n0, n1) into u (16, c, f) (set, not added to) and db (f): see fcnn_conv_wino_dw.
 * The tiles run image by image, row by row, in blocks of tb; each sum of u is the block's
 * products (reduced in tile order by the micro-kernel) added block after block, so u depends
 * only on [n0, n1). */
void FN(fcnn_conv_wino_dw_part)(const fcnn_conv_wino_dw *g, ptrdiff_t n0, ptrdiff_t n1, T *u,
                                T *db, void *work)
{
    const fcnn_isa *isa = g->isa;
    const int MR = isa->MR_FIELD, NR = isa->NR_FIELD;
    const ptrdiff_t C = g->c, F = g->f, H = g->h, W = g->w, OH = g->oh, OW = g->ow, TB = g->tb;
    const ptrdiff_t tw = (OW + 1) / 2, th = (OH + 1) / 2, tiles = (n1 - n0) * th * tw;
    FN(rowpos) p = {n0, 0, 0};
    /* the 16 rows of a tile a line more than a block apart: 16 rows a power of two of
     * lines apart would all fall in one set of L1 (4x slower transforms at 64 x 64) */
    const ptrdiff_t npf = (F + NR - 1) / NR, ms = npf * TB * NR + FN(line)();
    const ptrdiff_t vs = TB * C + FN(line)();
    const T *x = (const T *)g->x, *dy = (const T *)g->dy, *mask = (const T *)g->mask;
    const T *zeros = (const T *)g->zeros;
    const T **din = (const T **)work;
    const T **dd = din + 16 * TB, **dm = dd + 4 * TB;
    T **crow = (T **)(dm + 4 * TB);
    T *v = (T *)(crow + MR);
    T *m = v + 16 * vs;
    /* A (c x tiles) read in place from v by the strided micro-kernel: row r at channel r,
     * step t at tile t */
    ptrdiff_t *koff = (ptrdiff_t *)(m + 16 * ms);
    for (ptrdiff_t t = 0; t < TB; ++t) koff[t] = t * C;
    for (ptrdiff_t j = 0; j < F; ++j) db[j] = 0;
    /* the next block's share of the part's x, dY and mask requested into L2 before each
     * block (the tiles run through them about evenly): the strided reads of 4 rows of x and 2
     * of dY at once waited on memory (1.3x slower at 128 x 32 x 32 x 32 than in cache) */
    const ptrdiff_t xn = (n1 - n0) * H * W * C, yn = (n1 - n0) * OH * OW * F;
    const T *xp = x + n0 * H * W * C, *yp = dy + n0 * OH * OW * F;
    const T *mp = mask ? mask + n0 * OH * OW * F : NULL;
    for (ptrdiff_t t0 = 0; t0 < tiles; t0 += TB) {
        const ptrdiff_t nt = FN(min_idx)(TB, tiles - t0);
        /* the next block's x and dY: [x0, x1), [y0, y1), requested 1/16 per position */
        ptrdiff_t x0 = 0, x1 = 0, y0 = 0, y1 = 0;
        if (t0 + TB < tiles) {
            const double f0 = (double)(t0 + TB) / (double)tiles;
            const double f1 = (double)FN(min_idx)(t0 + 2 * TB, tiles) / (double)tiles;
            x0 = (ptrdiff_t)(f0 * (double)xn), x1 = (ptrdiff_t)(f1 * (double)xn);
            y0 = (ptrdiff_t)(f0 * (double)yn), y1 = (ptrdiff_t)(f1 * (double)yn);
        }
        const ptrdiff_t xs = (x1 - x0 + 15) / 16, ys = (y1 - y0 + 15) / 16;
        for (ptrdiff_t t = 0; t < nt; ++t, FN(rowpos_next)(&p, th, tw)) {
            FN(wino_tile_pixels)(x + p.n * H * W * C, H, W, C, 2 * p.a - g->pt,
                                 2 * p.b - g->pl, zeros, din + 16 * t);
            const ptrdiff_t oh = 2 * p.a, ow = 2 * p.b, at = ((p.n * OH + oh) * OW + ow) * F;
            const int right = ow + 1 < OW, down = oh + 1 < OH;
            const ptrdiff_t off[4] = {0, F, OW * F, (OW + 1) * F};
            const int in[4] = {1, right, down, right && down};
            for (int k = 0; k < 4; ++k) {
                dd[4 * t + k] = in[k] ? dy + at + off[k] : zeros;
                if (mask) dm[4 * t + k] = in[k] ? mask + at + off[k] : zeros;
            }
        }
        isa->WINO_IN_FIELD(din, nt, C, v, vs);
        for (ptrdiff_t j = 0; j < npf; ++j)
            isa->WINO_DY_FIELD(dd, mask ? dm : NULL, nt, FN(min_idx)(NR, F - j * NR), j * NR,
                               m + j * TB * NR, ms, NR, db + j * NR);
        const int flags = t0 == 0 ? 0 : FCNN_ACCUMULATE;
        for (int pos = 0; pos < 16; ++pos) {
            if (x1 > x0) {
                FN(prefetch_l2)(xp, x0 + pos * xs, FN(min_idx)(x0 + (pos + 1) * xs, x1));
                FN(prefetch_l2)(yp, y0 + pos * ys, FN(min_idx)(y0 + (pos + 1) * ys, y1));
                if (mp)
                    FN(prefetch_l2)(mp, y0 + pos * ys, FN(min_idx)(y0 + (pos + 1) * ys, y1));
            }
            for (ptrdiff_t c0 = 0; c0 < C; c0 += MR) {
                const int mr = (int)FN(min_idx)(MR, C - c0);
                for (int i = 0; i < mr; ++i) crow[i] = u + (pos * C + c0 + i) * F;
                for (ptrdiff_t j = 0; j < npf; ++j)
                    isa->UKR_STR_FIELD(nt, koff, v + pos * vs + c0, 1, m + pos * ms + j * TB * NR,
                                       crow, j * NR, mr, (int)FN(min_idx)(NR, F - j * NR), flags,
                                       NULL);
            }
        }
    }
}

/* dW (3, 3, c, f), its channels [c0, c1), from u (16, c, f) summed over all tiles:
 * G'^T u G' for every channel and filter, G' = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 -1]
 * (G with the last row negated, as A' is A), in double and rounded once. Returns 0 where a
 * value is not finite, else 1. */
int FN(fcnn_wino_dw_out)(const T *u, ptrdiff_t c, ptrdiff_t f, ptrdiff_t c0, ptrdiff_t c1,
                         T *dw)
{
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, -1}};
    const ptrdiff_t plane = c * f;
    int ok = 1;
    for (ptrdiff_t ci = c0; ci < c1; ++ci)
        for (ptrdiff_t fi = 0; fi < f; ++fi) {
            const T *e = u + ci * f + fi;
            double t[4][3];
            for (int i = 0; i < 4; ++i) {
                const T *ei = e + 4 * i * plane;
                const double e0 = (double)ei[0], e1 = (double)ei[plane];
                const double e2 = (double)ei[2 * plane], e3 = (double)ei[3 * plane];
                for (int k = 0; k < 3; ++k)
                    t[i][k] = e0 * G[0][k] + e1 * G[1][k] + e2 * G[2][k] + e3 * G[3][k];
            }
            for (int r = 0; r < 3; ++r)
                for (int k = 0; k < 3; ++k) {
                    const T o = (T)(G[0][r] * t[0][k] + G[1][r] * t[1][k] + G[2][r] * t[2][k]
                                    + G[3][r] * t[3][k]);
                    ok &= o - o == 0;
                    dw[((r * 3 + k) * c + ci) * f + fi] = o;
                }
        }
    return ok;
}

void FN(fcnn_pad_images)(const T *x, ptrdiff_t h, ptrdiff_t w, ptrdiff_t c, ptrdiff_t hp,
                         ptrdiff_t wp, ptrdiff_t pt, ptrdiff_t pl, ptrdiff_t n0, ptrdiff_t n1,
                         T *dst)
{
    for (ptrdiff_t n = n0; n < n1; ++n) {
        T *img = dst + n * hp * wp * c;
        memset(img, 0, (size_t)(pt * wp * c) * sizeof(T));
        for (ptrdiff_t i = 0; i < h; ++i) {
            T *row = img + (pt + i) * wp * c;
            memset(row, 0, (size_t)(pl * c) * sizeof(T));
            memcpy(row + pl * c, x + (n * h + i) * w * c, (size_t)(w * c) * sizeof(T));
            memset(row + (pl + w) * c, 0, (size_t)((wp - pl - w) * c) * sizeof(T));
        }
        memset(img + (pt + h) * wp * c, 0, (size_t)((hp - pt - h) * wp * c) * sizeof(T));
    }
}

/* Output rows (n, oh) in [row0, row0 + nrows) of a few-channel convolution (see
 * fcnn_conv_small): the ISA's own row kernel when it has one (conv_small_impl.h), else for
 * each filter panel the row's tiles of MR pixels through the strided micro-kernel, the last
 * one partial (its missing pixels read the padding or the next row, and are not stored). */
void FN(fcnn_conv_small_rows)(const fcnn_conv_small *g, ptrdiff_t row0, ptrdiff_t nrows)
{
    if (g->next || g->residual) {
        /* the rows plain (no relu before a residual), the residual added after them all;
         * with next, in up to 8 runs of rows, each after its share of the requests for the
         * next input and for this residual */
        fcnn_conv_small plain = *g;
        plain.next = plain.residual = NULL;
        if (g->residual) plain.relu = 0;
        const ptrdiff_t at = row0 * g->ow * g->f, len = nrows * g->ow * g->f;
        const T *next = (const T *)g->next;
        const T *res = g->residual ? (const T *)g->residual + at : NULL;
        if (next) {
            const ptrdiff_t run = (nrows + 7) / 8, runs = (nrows + run - 1) / run;
            const ptrdiff_t share = (g->next_n + runs - 1) / runs;
            const ptrdiff_t res_share = res ? (len + runs - 1) / runs : 0;
            for (ptrdiff_t q = 0; q < runs; ++q) {
                FN(prefetch_l2)(next, q * share, FN(min_idx)((q + 1) * share, g->next_n));
                if (res)
                    FN(prefetch_l2)(res, q * res_share, FN(min_idx)((q + 1) * res_share, len));
                FN(fcnn_conv_small_rows)(&plain, row0 + q * run,
                                         FN(min_idx)(run, nrows - q * run));
            }
        } else {
            FN(fcnn_conv_small_rows)(&plain, row0, nrows);
        }
        if (res)
            fcnn_current_isa()->ADD_RESIDUAL_FIELD((T *)g->dst + at, res, 1, len, 0, g->relu);
        return;
    }
    const fcnn_isa *isa = fcnn_current_isa();
    if (isa->FWD_SMALL_FIELD) {
        isa->FWD_SMALL_FIELD(g, row0, nrows);
        return;
    }
    const int MR = isa->MR_FIELD, NR = isa->NR_FIELD;
    const ptrdiff_t C = g->c, OH = g->oh, OW = g->ow, F = g->f, K = g->k;
    const ptrdiff_t rs = g->sw * C;
    const T *src = (const T *)g->src, *b_packed = (const T *)g->b_packed;
    const T *bias = (const T *)g->bias;
    const int flags = (bias ? FCNN_BIAS : 0) | (g->relu ? FCNN_RELU : 0);
    T *rows[FCNN_GEMM_MAX_MR];
    for (ptrdiff_t row = row0; row < row0 + nrows; ++row) {
        const ptrdiff_t n = row / OH, oh = row - n * OH;
        const T *in_row = src + ((n * g->hp + oh * g->sh) * g->wp) * C;
        T *out_row = (T *)g->dst + row * OW * F;
        for (ptrdiff_t j0 = 0; j0 < F; j0 += NR) {
            const int nr = (int)FN(min_idx)(NR, F - j0);
            const T *bp = b_packed + j0 * K;
            for (ptrdiff_t ow0 = 0; ow0 < OW; ow0 += MR) {
                const int mr = (int)FN(min_idx)(MR, OW - ow0);
                for (int r = 0; r < mr; ++r) rows[r] = out_row + (ow0 + r) * F;
                isa->UKR_STR_FIELD(K, g->koff, in_row + ow0 * rs, rs, bp, rows, j0, mr, nr,
                                   flags, bias ? bias + j0 : NULL);
            }
        }
    }
}

/* Scratch (in units of T) for the dW tiles: the transposed tile's two packed blocks, each
 * with room to round up to whole panels of MR or of NR, the lanes' offsets, a row of dY;
 * the direct tile of few channels uses its first FCNN_DW_PC * f values (a masked block of
 * dY), then f * FCNN_DW_CV_NC(f) (its sums by column vectors of channels). */
size_t FN(fcnn_conv_dw_workspace)(const fcnn_isa *isa, ptrdiff_t f)
{
    const ptrdiff_t spare = isa->MR_FIELD + isa->NR_FIELD;
    const ptrdiff_t k_round = FCNN_DW_NC + spare, f_round = f + spare;
    return (size_t)(k_round + f_round) * FCNN_DW_PC
           + (FCNN_DW_NC * sizeof(ptrdiff_t) + sizeof(T) - 1) / sizeof(T) + (size_t)f_round
           + (size_t)f * FCNN_DW_CV_NC(f);
}

/* Rows [k0, k0 + kn) of a partial dW (K x F) summed over GEMM rows [p0, p0 + pc): written
 * (not accumulated) into partial[k * F + f], with db_partial (the task with k0 == 0) the
 * sums of dY's columns over the rows, in row order. Few channels: the ISA's direct kernel
 * (conv_small_impl.h), which needs no packing; its windows must lie inside the source. */
void FN(fcnn_conv_dw_tile)(const fcnn_conv_dw *g, ptrdiff_t p0, ptrdiff_t pc, ptrdiff_t k0,
                           ptrdiff_t kn, T *partial, T *db_partial, T *work)
{
    fcnn_current_isa()->DW_SMALL_FIELD(g, p0, pc, k0, kn, partial, db_partial, work);
}

/* dY^T for the transposed dW tile: rows [0, rows) of dY (ld f) into panels of mr filters,
 * out[panel][p][r] (where mask <= 0, dY counts as 0), each row also added into col_sums when
 * not NULL. row is scratch for f values. */
static void FN(pack_dy_t)(const T *dy, const T *mask, ptrdiff_t f, ptrdiff_t rows, int mr,
                          T *out, T *col_sums, T *row)
{
    const ptrdiff_t panels = (f + mr - 1) / mr, panel = (ptrdiff_t)mr * rows;
    for (ptrdiff_t j = f; j < panels * mr; ++j) row[j] = 0;
    for (ptrdiff_t p = 0; p < rows; ++p, dy += f, mask = mask ? mask + f : NULL) {
        const T *src = dy;
        if (mask) {
            for (ptrdiff_t j = 0; j < f; ++j) {
                const T v = dy[j];  /* read unconditionally, so the select vectorizes */
                row[j] = mask[j] > 0 ? v : (T)0;
            }
            src = row;
        } else if (f % mr) {
            memcpy(row, dy, (size_t)f * sizeof(T));
            src = row;
        }
        if (col_sums)
            for (ptrdiff_t j = 0; j < f; ++j) col_sums[j] += src[j];
        T *o = out + p * mr;
        switch (mr) {
        case 6: for (ptrdiff_t q = 0; q < panels; ++q) memcpy(o + q * panel, src + q * 6, 6 * sizeof(T)); break;
        case 12: for (ptrdiff_t q = 0; q < panels; ++q) memcpy(o + q * panel, src + q * 12, 12 * sizeof(T)); break;
        case 4: for (ptrdiff_t q = 0; q < panels; ++q) memcpy(o + q * panel, src + q * 4, 4 * sizeof(T)); break;
        default: for (ptrdiff_t q = 0; q < panels; ++q) memcpy(o + q * panel, src + q * mr, (size_t)mr * sizeof(T)); break;
        }
    }
}

/* The transposed orientation of fcnn_conv_dw_tile, for many channels: rows (MR lanes) are
 * filters and columns (NR lanes) reduction indices, so the large operand (the input's
 * windows) is copied in NR-wide runs of consecutive channels and the small one (dY) in
 * MR-wide ones. Columns [k0, k0 + kn) of a partial dW^T (F x K), written (not accumulated)
 * into partial[f * K + k]; db_partial as in fcnn_conv_dw_tile. */
void FN(fcnn_conv_dwt_tile)(const fcnn_conv_dw *g, ptrdiff_t p0, ptrdiff_t pc, ptrdiff_t k0,
                            ptrdiff_t kn, T *partial, T *db_partial, T *work)
{
    const fcnn_isa *isa = g->isa;
    const int MR = isa->MR_FIELD, NR = isa->NR_FIELD;
    const ptrdiff_t F = g->f, K = g->k;
    const T *dy = (const T *)g->dy, *mask = (const T *)g->mask;
    T *abuf = work;
    T *bbuf = work + (F + MR - 1) / MR * MR * FCNN_DW_PC;
    ptrdiff_t *lane_off = (ptrdiff_t *)(bbuf + (FCNN_DW_NC + NR - 1) / NR * NR * FCNN_DW_PC);
    T *dyrow = (T *)(lane_off + FCNN_DW_NC);
    T *rows[64];

    if (db_partial)
        for (ptrdiff_t j = 0; j < F; ++j) db_partial[j] = 0;
    for (ptrdiff_t pp = p0; pp < p0 + pc; pp += FCNN_DW_PC) {
        const ptrdiff_t pcc = FN(min_idx)(FCNN_DW_PC, p0 + pc - pp);
        const int flags = pp == p0 ? 0 : FCNN_ACCUMULATE;
        FN(pack_dy_t)(dy + pp * F, mask ? mask + pp * F : NULL, F, pcc, MR, abuf, db_partial,
                      dyrow);
        FN(pack_klanes)(&g->x, pp, pcc, k0, kn, NR, bbuf, lane_off);
        /* each packed panel of the input's windows (the larger operand) stays in L1 while
         * every filter panel passes over it */
        for (ptrdiff_t j0 = 0; j0 < kn; j0 += NR) {
            const int nr = (int)FN(min_idx)(NR, kn - j0);
            for (ptrdiff_t i0 = 0; i0 < F; i0 += MR) {
                const int mr = (int)FN(min_idx)(MR, F - i0);
                for (int r = 0; r < mr; ++r) rows[r] = partial + (i0 + r) * K + k0;
                isa->UKR_FIELD(pcc, abuf + i0 * pcc, bbuf + j0 * pcc, rows, j0, mr, nr, flags,
                               NULL);
            }
        }
    }
}

/* out (cols x rows) = the transpose of a (rows x cols), for rows [r0, r1) of a. */
void FN(fcnn_transpose)(const T *a, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t r0, ptrdiff_t r1,
                        T *out)
{
    for (ptrdiff_t i = r0; i < r1; ++i)
        for (ptrdiff_t j = 0; j < cols; ++j) out[j * rows + i] = a[i * cols + j];
}

/* out[e] = sum over parts, in part order, of partials[part * size + e], for e in [e0, e1).
 * The fixed order makes the weight gradient independent of how parts met threads. */
void FN(fcnn_sum_parts)(const T *partials, ptrdiff_t nparts, ptrdiff_t size, ptrdiff_t e0,
                        ptrdiff_t e1, T *out)
{
    for (ptrdiff_t e = e0; e < e1; ++e) out[e] = partials[e];
    for (ptrdiff_t part = 1; part < nparts; ++part) {
        const T *p = partials + part * size;
        for (ptrdiff_t e = e0; e < e1; ++e) out[e] += p[e];
    }
}

/* dx rows (n, ih) in [row0, row0 + nrows) for few input channels: the ISA's kernel of
 * conv_small_impl.h. */
void FN(fcnn_conv_dx_direct_rows)(const fcnn_conv_dx_direct *g, ptrdiff_t row0, ptrdiff_t nrows)
{
    fcnn_current_isa()->DX_SMALL_FIELD(g, row0, nrows);
}

/* The kernel taps k (of nk) that reach input position i (stride s, padding p) from an
 * output position of [0, n_out); *phase: how many taps of i's stride phase there are
 * ((i + p) % s, (i + p) % s + s, ... below nk), whether or not they reach the output. */
static inline ptrdiff_t FN(taps_reaching)(ptrdiff_t i, ptrdiff_t p, ptrdiff_t s, ptrdiff_t nk,
                                          ptrdiff_t n_out, ptrdiff_t *phase)
{
    const ptrdiff_t r = (i + p) % s;
    ptrdiff_t reached = 0;
    *phase = r < nk ? (nk - 1 - r) / s + 1 : 0;
    for (ptrdiff_t k = r; k < nk; k += s) {
        const ptrdiff_t q = (i + p - k) / s;
        reached += k <= i + p && q < n_out;
    }
    return reached;
}

/* dx rows (n, ih) in [row0, row0 + nrows) of a dx computed by the stride-phase GEMMs
 * (_conv2d_dx_gemm), for weights that are not all finite: the GEMMs read a zero for every
 * tap of a pixel's phase that falls outside dy, and 0 * inf is NaN, while dx has no term
 * there (fastcnn.reference). Each pixel with such a tap (the borders of each phase) is
 * written again as the sum over the taps that reach dy only, tap by tap in kernel order, each
 * a dot product over the filters; the others keep the GEMMs' value. Plain C for every kernel
 * set: this runs only when a weight is inf or NaN. */
void FN(fcnn_conv_dx_border_rows)(const fcnn_conv_dx_direct *g, ptrdiff_t row0, ptrdiff_t nrows)
{
    const T *dy = (const T *)g->dy, *w = (const T *)g->w;
    const ptrdiff_t H = g->h, W = g->w_, C = g->c, OH = g->oh, OW = g->ow, F = g->f;
    const ptrdiff_t KH = g->kh, KW = g->kw, sh = g->sh, sw = g->sw, pt = g->pt, pl = g->pl;
    for (ptrdiff_t row = row0; row < row0 + nrows; ++row) {
        const ptrdiff_t n = row / H, ih = row - n * H;
        ptrdiff_t phase_h, phase_w;
        const int rows_in = FN(taps_reaching)(ih, pt, sh, KH, OH, &phase_h) == phase_h;
        for (ptrdiff_t iw = 0; iw < W; ++iw) {
            if (rows_in && FN(taps_reaching)(iw, pl, sw, KW, OW, &phase_w) == phase_w)
                continue;   /* every tap of the phase reads dy: the GEMMs' value stands */
            T *out = (T *)g->dx + ((n * H + ih) * W + iw) * C;
            for (ptrdiff_t c = 0; c < C; ++c) out[c] = 0;
            for (ptrdiff_t kh = (ih + pt) % sh; kh < KH && kh <= ih + pt; kh += sh) {
                const ptrdiff_t oh = (ih + pt - kh) / sh;
                if (oh >= OH)
                    continue;
                for (ptrdiff_t kw = (iw + pl) % sw; kw < KW && kw <= iw + pl; kw += sw) {
                    const ptrdiff_t ow = (iw + pl - kw) / sw;
                    if (ow >= OW)
                        continue;
                    const T *d = dy + ((n * OH + oh) * OW + ow) * F;
                    const T *wt = w + (kh * KW + kw) * C * F;
                    for (ptrdiff_t c = 0; c < C; ++c) {
                        T acc = 0;
                        for (ptrdiff_t f = 0; f < F; ++f) acc += d[f] * wt[c * F + f];
                        out[c] += acc;
                    }
                }
            }
        }
    }
}

#undef FN_COPY_WIDTH
#undef FN
#undef CAT
#undef CAT_
