/* BLIS-style GEMM driver, written once for T = float / double.
 * Included by gemm.c with T, SFX (f32/f64) and the kernel fields (MR_FIELD, NR_FIELD,
 * UKR_FIELD) defined.
 *
 * C[i, j] (=|+=) sum_p A[i, p] * B[p, j]  (+ bias[j]) (relu), with A and B given by row and
 * column strides, so X*W, X^T*dZ and dZ*W^T are all read in place, without transposes.
 * A task computes one rectangle of C with the five loops of BLIS around the micro-kernel:
 * columns in blocks of FCNN_GEMM_NC, the reduction in runs of at most FCNN_GEMM_KC (B's
 * micro-panel then stays in L1), rows in blocks of FCNN_GEMM_MC (A's block stays in L2),
 * each block packed once into contiguous zero-padded micro-panels.
 * Every C element is reduced over the same runs of K in the same order whatever rectangle it
 * falls in, so results do not depend on how C was cut into tasks (thread count). */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, CAT(_, SFX))

static inline ptrdiff_t FN(gemm_min)(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }

/* Copies of n values, with n known at compile time for the tile widths in use, so they
 * become a few vector moves instead of a loop (memcpy: the copies never overlap, which a
 * plain loop cannot tell the compiler). */
#define FN_COPY_CASES(dst, src, n)                                                             \
    switch (n) {                                                                               \
    case 4: memcpy((dst), (src), 4 * sizeof(T)); break;                                        \
    case 6: memcpy((dst), (src), 6 * sizeof(T)); break;                                        \
    case 8: memcpy((dst), (src), 8 * sizeof(T)); break;                                        \
    case 12: memcpy((dst), (src), 12 * sizeof(T)); break;                                      \
    case 16: memcpy((dst), (src), 16 * sizeof(T)); break;                                      \
    case 32: memcpy((dst), (src), 32 * sizeof(T)); break;                                      \
    default: memcpy((dst), (src), (size_t)(n) * sizeof(T)); break;                             \
    }

/* kc stored rows of `width` values (ld apart, from src) into micro-panels of `tile` values per
 * row: out[panel][p][t], the last panel zero-padded. Each row is read once, front to back,
 * and its tile-wide pieces dealt out to the panels. Rows a long stride apart (a Dense layer's
 * weights, or its input read transposed) are not streamed in time by the hardware
 * prefetcher: each row asks for the one 8 rows on (measured: D1's forward ~14% faster, its
 * dW 6-8%). */
static void FN(pack_rows)(const T *src, ptrdiff_t ld, ptrdiff_t kc, ptrdiff_t width, int tile,
                          T *out)
{
    const ptrdiff_t full = width / tile * tile, panel = (ptrdiff_t)tile * kc;
    for (ptrdiff_t p = 0; p < kc; ++p) {
        const T *s = src + p * ld;
        T *d = out + p * tile;
        ptrdiff_t q = 0;
        if (p + 8 < kc)
            for (ptrdiff_t e = 0; e < width; e += 64 / (ptrdiff_t)sizeof(T))
                __builtin_prefetch(s + 8 * ld + e);
        for (; q < full; q += tile, d += panel, s += tile) FN_COPY_CASES(d, s, tile)
        if (q < width) {
            int r = 0;
            for (; r < width - q; ++r) d[r] = s[r];
            for (; r < tile; ++r) d[r] = 0;
        }
    }
}

/* Four rows of A, kc values each (src, rs apart), into panel columns d, d + 1, d + 2, d + 3
 * (d[p * tile + r] = row r's value p): 4 x 4 blocks transposed in SSE registers, where the
 * values are floats on x86 (the scalar loop takes a load and a store per value). */
static inline void FN(pack_four_rows)(const T *src, ptrdiff_t rs, ptrdiff_t kc, int tile, T *d)
{
    ptrdiff_t p = 0;
#ifdef __SSE2__
    if (sizeof(T) == sizeof(float)) {
        const float *s0 = (const float *)src, *s1 = s0 + rs, *s2 = s1 + rs, *s3 = s2 + rs;
        float *o = (float *)d;
        for (; p + 4 <= kc; p += 4) {
            __m128 r0 = _mm_loadu_ps(s0 + p), r1 = _mm_loadu_ps(s1 + p);
            __m128 r2 = _mm_loadu_ps(s2 + p), r3 = _mm_loadu_ps(s3 + p);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(o + p * tile, r0);
            _mm_storeu_ps(o + (p + 1) * tile, r1);
            _mm_storeu_ps(o + (p + 2) * tile, r2);
            _mm_storeu_ps(o + (p + 3) * tile, r3);
        }
    }
#endif
    for (; p < kc; ++p)
        for (int r = 0; r < 4; ++r) d[p * tile + r] = src[r * rs + p];
}

/* rows of A asked for ahead of their packing (see pack_a) */
#define FCNN_PACK_AHEAD 4

/* A[i0 .. i0+mc) x [p0 .. p0+kc) into micro-panels of MR rows: out[panel][p][r]. Only for an
 * A that is not row-major: row-major A is read in place by the indirect micro-kernel. */
static void FN(pack_a)(const fcnn_gemm *g, ptrdiff_t i0, ptrdiff_t mc, ptrdiff_t p0,
                       ptrdiff_t kc, int mr_tile, T *out)
{
    const T *a = (const T *)g->a;
    const ptrdiff_t rs = g->rsa, cs = g->csa;
    if (rs == 1) {
        /* A stored transposed (X^T of a Dense layer's dW = X^T dZ): the block's values in each
         * of A's columns are contiguous, in one row of the stored matrix; panel by panel each
         * value would come from another row, a long stride (and a page) away. */
        FN(pack_rows)(a + i0 + p0 * cs, cs, kc, mc, mr_tile, out);
        return;
    }
    for (ptrdiff_t ir = 0; ir < mc; ir += mr_tile, out += mr_tile * kc) {
        const int rows = (int)FN(gemm_min)(mr_tile, mc - ir);
        const T *src = a + (i0 + ir) * rs + p0 * cs;
        int r = 0;
        /* each row's run of kc values requested FCNN_PACK_AHEAD rows before it is packed: a
         * run is a few cache lines only, too short for the hardware to see the next row
         * coming, and A (a Dense layer's input: the batch's activations) usually comes from
         * memory (measured: the seed model's predict ~10% faster) */
        if (cs == 1) {
            for (; r < rows; ++r) {
                if (ir + r + FCNN_PACK_AHEAD < mc)
                    for (ptrdiff_t q = 0; q < kc; q += 64 / (ptrdiff_t)sizeof(T))
                        __builtin_prefetch(src + (r + FCNN_PACK_AHEAD) * rs + q);
                if (r % 4 == 3)
                    FN(pack_four_rows)(src + (r - 3) * rs, rs, kc, mr_tile, out + r - 3);
            }
            r = rows / 4 * 4;
        }
        for (; r < rows; ++r) {
            const T *s = src + r * rs;
            T *d = out + r;
            for (ptrdiff_t p = 0; p < kc; ++p) d[p * mr_tile] = s[p * cs];
        }
        for (r = rows; r < mr_tile; ++r)
            for (ptrdiff_t p = 0; p < kc; ++p) out[p * mr_tile + r] = 0;
    }
}

/* B[p0 .. p0+kc) x [j0 .. j0+nc) into micro-panels of NR columns: out[panel][p][j]. */
static void FN(pack_b)(const fcnn_gemm *g, ptrdiff_t p0, ptrdiff_t kc, ptrdiff_t j0,
                       ptrdiff_t nc, int nr_tile, T *out)
{
    const T *b = (const T *)g->b;
    const ptrdiff_t rs = g->rsb, cs = g->csb;
    if (cs == 1) {   /* B row-major */
        FN(pack_rows)(b + p0 * rs + j0, rs, kc, nc, nr_tile, out);
        return;
    }
    for (ptrdiff_t jr = 0; jr < nc; jr += nr_tile, out += nr_tile * kc) {
        const int cols = (int)FN(gemm_min)(nr_tile, nc - jr);
        const T *src = b + p0 * rs + (j0 + jr) * cs;
        /* B stored transposed (cs != 1): the panel's NR columns are read as NR streams down
         * K, a value from each per step, so every write is sequential and the NR source
         * lines stay in L1 while they are used up. */
        for (ptrdiff_t p = 0; p < kc; ++p) {
            const T *s = src + p * rs;
            T *d = out + p * nr_tile;
            int j = 0;
            for (; j < cols; ++j) d[j] = s[j * cs];
            for (; j < nr_tile; ++j) d[j] = 0;
        }
    }
}

/* A computed mr x nr tile (row stride ldt) stored transposed at dst (dst[j*ldc + r]), with
 * the epilogue of the micro-kernels' stores (old + ab, then relu; no bias here). */
static void FN(scatter_transposed)(const T *tile, int ldt, T *dst, ptrdiff_t ldc, int mr, int nr,
                                   int flags)
{
    if (flags == 0) {   /* the common case, a plain store: no tests per value */
        for (int j = 0; j < nr; ++j, dst += ldc)
            for (int r = 0; r < mr; ++r) dst[r] = tile[r * ldt + j];
        return;
    }
    for (int j = 0; j < nr; ++j, dst += ldc)
        for (int r = 0; r < mr; ++r) {
            T v = tile[r * ldt + j];
            if (flags & FCNN_ACCUMULATE) v = dst[r] + v;
            if (flags & FCNN_RELU) v = v < 0 ? (T)0 : v;
            dst[r] = v;
        }
}

size_t FN(fcnn_gemm_workspace)(void)
{
    const fcnn_isa *isa = fcnn_current_isa();
    const size_t mr = (size_t)isa->MR_FIELD, nr = (size_t)isa->NR_FIELD;
    const size_t mc = (FCNN_GEMM_MC + mr - 1) / mr * mr, nc = (FCNN_GEMM_NC + nr - 1) / nr * nr;
    /* A block, B panel, each rounded to whole cache lines */
    return ((mc * FCNN_GEMM_KC * sizeof(T) + 63) / 64 * 64)
           + ((nc * FCNN_GEMM_KC * sizeof(T) + 63) / 64 * 64);
}

void FN(fcnn_gemm_tile)(const fcnn_gemm *g, ptrdiff_t i0, ptrdiff_t i1, ptrdiff_t j0,
                        ptrdiff_t j1, void *work)
{
    const fcnn_isa *isa = fcnn_current_isa();
    const int MR = isa->MR_FIELD, NR = isa->NR_FIELD;
    const ptrdiff_t K = g->k;
    const size_t mc_max = (FCNN_GEMM_MC + MR - 1) / MR * MR;
    T *ap = (T *)work;
    T *bp = (T *)((char *)work + (mc_max * FCNN_GEMM_KC * sizeof(T) + 63) / 64 * 64);
    T *c = (T *)g->c;
    const T *bias = (const T *)g->bias;
    T *rows[FCNN_GEMM_MAX_MR], *trows[FCNN_GEMM_MAX_MR];
    T ttile[FCNN_GEMM_MAX_MR * FCNN_GEMM_MAX_NR];
    const T *arows[FCNN_GEMM_MAX_MR];
    const T *a = (const T *)g->a;
    /* A row-major A needs no packing when the indirect micro-kernel can read its MR rows in
     * place cheaply: at most one row block (the small-batch products of Dense layers), or
     * rows at most one reduction run long, which lie back to back (W read for dZ * W^T, whose
     * C^T = W * dZ^T). Taller blocks of long rows are packed: rows a long stride apart, read
     * in place block after block, cost more in cache misses than one copy. */
    const int a_in_place = g->csa == 1 && (i1 - i0 <= FCNN_GEMM_MC || g->rsa <= FCNN_GEMM_KC);
    /* the reduction in near-equal runs of at most KC, fixed by K alone */
    const ptrdiff_t kruns = K > 0 ? (K + FCNN_GEMM_KC - 1) / FCNN_GEMM_KC : 0;
    const ptrdiff_t krun = kruns ? (K + kruns - 1) / kruns : 0;

    if (K == 0) {   /* C = bias (or 0), or unchanged when accumulating; then relu */
        for (ptrdiff_t i = i0; i < i1; ++i)
            for (ptrdiff_t j = j0; j < j1; ++j) {
                T *cij = g->c_trans ? c + j * g->ldc + i : c + i * g->ldc + j;
                T v = g->accumulate ? *cij : (bias ? bias[j] : (T)0);
                if (g->relu) v = v < 0 ? (T)0 : v;
                *cij = v;
            }
        return;
    }
    for (ptrdiff_t jc = j0; jc < j1; jc += FCNN_GEMM_NC) {
        const ptrdiff_t nc = FN(gemm_min)(FCNN_GEMM_NC, j1 - jc);
        for (ptrdiff_t pc = 0; pc < K; pc += krun) {
            const ptrdiff_t kc = FN(gemm_min)(krun, K - pc);
            const int first = pc == 0, last = pc + kc >= K;
            int flags = (first && !g->accumulate) ? (bias ? FCNN_BIAS : 0) : FCNN_ACCUMULATE;
            if (last && g->relu) flags |= FCNN_RELU;
            FN(pack_b)(g, pc, kc, jc, nc, NR, bp);
            for (ptrdiff_t ic = i0; ic < i1; ic += FCNN_GEMM_MC) {
                const ptrdiff_t mc = FN(gemm_min)(FCNN_GEMM_MC, i1 - ic);
                if (!a_in_place) FN(pack_a)(g, ic, mc, pc, kc, MR, ap);
                for (ptrdiff_t jr = 0; jr < nc; jr += NR) {
                    const int nr = (int)FN(gemm_min)(NR, nc - jr);
                    const T *bpanel = bp + jr * kc;
                    const T *bias_j = bias ? bias + jc + jr : NULL;
                    for (ptrdiff_t ir = 0; ir < mc; ir += MR) {
                        const int mr = (int)FN(gemm_min)(MR, mc - ir);
                        for (int r = 0; r < mr; ++r) rows[r] = c + (ic + ir + r) * g->ldc;
                        T *const *dst = rows;
                        ptrdiff_t dcol = jc + jr;
                        int dflags = flags;
                        if (g->c_trans) {   /* into a tile here, scattered below */
                            for (int r = 0; r < MR; ++r) trows[r] = ttile + r * NR;
                            dst = trows;
                            dcol = 0;
                            dflags = 0;
                        }
                        if (a_in_place) {
                            /* rows past the end read row ic + ir again; their sums are
                             * computed and dropped by the edge store */
                            for (int r = 0; r < MR; ++r)
                                arows[r] = a + (ic + ir + (r < mr ? r : 0)) * g->rsa;
                            isa->UKR_IND_FIELD(1, kc, pc, arows, bpanel, dst, dcol, mr, nr,
                                               dflags, bias_j);
                        } else {
                            isa->UKR_FIELD(kc, ap + ir * kc, bpanel, dst, dcol, mr, nr, dflags,
                                           bias_j);
                        }
                        if (g->c_trans)
                            FN(scatter_transposed)(ttile, NR, c + (jc + jr) * g->ldc + ic + ir,
                                                   g->ldc, mr, nr, flags);
                    }
                }
            }
        }
    }
}

#undef FN_COPY_CASES
#undef FN
#undef CAT
#undef CAT_
