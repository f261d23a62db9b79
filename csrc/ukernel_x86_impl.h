/* Register-blocked micro-kernels for one x86 vector ISA and one dtype: an MR x (KNV*VLEN) tile
 * held in KNV*MR vector accumulators (KNV, the vectors per row, is 2 unless the unit defines
 * it as 1: a narrow tile for GEMMs one vector wide). Included by ukernel_avx2.c /
 * ukernel_avx512.c with:
 *   T, VT, VLEN, MR, ROWS(X) (X(0) ... X(MR-1)), TSFX (f32/f64), KNAME (e.g. avx512_f32),
 *   VLOAD, VSTORE, VADD, VMAX, VZERO, VFMA, VSET1.
 * A unit may define KASM_PACKED / KASM_STR: hand-scheduled main loops, and KASM_IND_TILE:
 * the indirect kernel's whole reduction into a tile (see ukernel_avx2.c).
 * Three kernels share the epilogue: `ukr` reads a packed A panel, `ukr_ind` reads each row of A
 * straight from the image through a table of row pointers (indirect convolution), `ukr_str`
 * reads rows a fixed stride apart through a table of reduction-step offsets. */

#define KCAT_(a, b) a##b
#define KCAT(a, b) KCAT_(a, b)
#define KN(name) KCAT(name, KCAT(_, KNAME))
#ifndef KNV
#define KNV 2
#endif
#if KNV == 2
#define KHI(x) x /* what the second vector of a row adds */
#else
#define KHI(x)
#endif
#define KNR (KNV * VLEN)

static inline void KN(store_row)(T *dst, VT lo, VT hi, int flags, const T *bias)
{
    (void)hi;
    if (flags & FCNN_ACCUMULATE) {
        lo = VADD(VLOAD(dst), lo);
        KHI(hi = VADD(VLOAD(dst + VLEN), hi);)
    }
    if (flags & FCNN_BIAS) {
        lo = VADD(lo, VLOAD(bias));
        KHI(hi = VADD(hi, VLOAD(bias + VLEN));)
    }
    if (flags & FCNN_RELU) {
        lo = VMAX(VZERO(), lo);
        KHI(hi = VMAX(VZERO(), hi);)
    }
    VSTORE(dst, lo);
    KHI(VSTORE(dst + VLEN, hi);)
}

#define KDECL(r) VT c##r##l = VZERO(); KHI(VT c##r##h = VZERO();)
#define KSTEP(r, aval)                                                                         \
    {                                                                                          \
        const VT ar = VSET1(aval);                                                             \
        c##r##l = VFMA(ar, b0, c##r##l);                                                       \
        KHI(c##r##h = VFMA(ar, b1, c##r##h);)                                                  \
    }
#define KLOADB const VT b0 = VLOAD(b); KHI(const VT b1 = VLOAD(b + VLEN);)
#if KNV == 1
/* the narrow tile's indirect kernel, four steps at a time: four rows of B in registers beside
 * the MR accumulators */
#define KLOADB4 const VT b0 = VLOAD(b), b1 = VLOAD(b + VLEN), b2 = VLOAD(b + 2 * VLEN),       \
                 b3 = VLOAD(b + 3 * VLEN);
#define KSTEPS4(r)                                                                             \
    c##r##l = VFMA(VSET1(a##r[i]), b0, c##r##l);                                               \
    c##r##l = VFMA(VSET1(a##r[i + 1]), b1, c##r##l);                                           \
    c##r##l = VFMA(VSET1(a##r[i + 2]), b2, c##r##l);                                           \
    c##r##l = VFMA(VSET1(a##r[i + 3]), b3, c##r##l);
#endif
#if KNV == 2
#define KSTORE(r) KN(store_row)(crow[r] + col, c##r##l, c##r##h, flags, bias);
#else
#define KSTORE(r) KN(store_row)(crow[r] + col, c##r##l, c##r##l, flags, bias);
#endif
#define KSPILL(r)                                                                              \
    VSTORE(tile + r * KNR, c##r##l);                                                           \
    KHI(VSTORE(tile + r * KNR + VLEN, c##r##h);)
#define KEPILOGUE                                                                              \
    if (mr == MR && nr == KNR) {                                                               \
        ROWS(KSTORE)                                                                           \
    } else {                                                                                   \
        T tile[MR * KNR];                                                                      \
        ROWS(KSPILL)                                                                           \
        KCAT(store_tile_, TSFX)(tile, KNR, crow, col, mr, nr, flags, bias);                    \
    }

#if KNV == 2
/* An edge panel of at most VLEN columns (a Dense layer of 100 units: its last 4): the low
 * vector of each row only, half the multiply-adds of the whole tile. B keeps its panel
 * stride (KNR); each sum takes the same products in the same order as in the whole tile,
 * and the edge store is the whole tile's, so the values are the same bits. */
#define KDECL_HALF(r) VT c##r##l = VZERO();
#define KSPILL_HALF(r) VSTORE(tile + r * VLEN, c##r##l);
#define KEPILOGUE_HALF                                                                         \
    T tile[MR * VLEN];                                                                         \
    ROWS(KSPILL_HALF)                                                                          \
    KCAT(store_tile_, TSFX)(tile, VLEN, crow, col, mr, nr, flags, bias);

static void KN(ukr_half)(ptrdiff_t kc, const T *a, const T *b, T *const *crow, ptrdiff_t col,
                         int mr, int nr, int flags, const T *bias)
{
    ROWS(KDECL_HALF)
    for (ptrdiff_t p = 0; p < kc; ++p, a += MR, b += KNR) {
        const VT b0 = VLOAD(b);
#define KSTEP_HALF(r) c##r##l = VFMA(VSET1(a[r]), b0, c##r##l);
        ROWS(KSTEP_HALF)
#undef KSTEP_HALF
    }
    KEPILOGUE_HALF
}

static void KN(ukr_ind_half)(ptrdiff_t ntaps, ptrdiff_t c, ptrdiff_t coff, const T *const *ind,
                             const T *b, T *const *crow, ptrdiff_t col, int mr, int nr,
                             int flags, const T *bias)
{
    ROWS(KDECL_HALF)
    for (ptrdiff_t t = 0; t < ntaps; ++t, ind += MR) {
#define KROWPTR(r) const T *a##r = ind[r] + coff;
        ROWS(KROWPTR)
#undef KROWPTR
        for (ptrdiff_t i = 0; i < c; ++i, b += KNR) {
            const VT b0 = VLOAD(b);
#define KSTEP_HALF(r) c##r##l = VFMA(VSET1(a##r[i]), b0, c##r##l);
            ROWS(KSTEP_HALF)
#undef KSTEP_HALF
        }
    }
    KEPILOGUE_HALF
}
#undef KDECL_HALF
#undef KSPILL_HALF
#undef KEPILOGUE_HALF
#define KHALF(call)                                                                            \
    if (nr <= VLEN) {                                                                          \
        call;                                                                                  \
        return;                                                                                \
    }
#else
#define KHALF(call)
#endif

static void KN(ukr)(ptrdiff_t kc, const T *a, const T *b, T *const *crow, ptrdiff_t col, int mr,
                    int nr, int flags, const T *bias)
{
    KHALF(KN(ukr_half)(kc, a, b, crow, col, mr, nr, flags, bias))
    ROWS(KDECL)
    ptrdiff_t p = 0;
#ifdef KASM_PACKED
    /* the unit's hand-scheduled loop: steps [0, kc/4*4), advancing a and b */
    KASM_PACKED
    p = kc / 4 * 4;
#endif
    for (; p < kc; ++p, a += MR, b += KNR) {
        KLOADB
#define KSTEP_PACKED(r) KSTEP(r, a[r])
        ROWS(KSTEP_PACKED)
#undef KSTEP_PACKED
    }
    KEPILOGUE
}

static void KN(ukr_ind)(ptrdiff_t ntaps, ptrdiff_t c, ptrdiff_t coff, const T *const *ind,
                        const T *b, T *const *crow, ptrdiff_t col, int mr, int nr, int flags,
                        const T *bias)
{
    KHALF(KN(ukr_ind_half)(ntaps, c, coff, ind, b, crow, col, mr, nr, flags, bias))
#ifdef KASM_IND_TILE
    /* the unit's whole reduction in one loop: the products of every tap in the same order as
     * below, into `tile`, then the same epilogue */
    if (c > 0 && ntaps > 0) {
        T tile[MR * KNR];
        KASM_IND_TILE
        if (mr == MR && nr == KNR) {
#define KSTORE_TILE(r) KN(store_row)(crow[r] + col, VLOAD(tile + (r) * KNR),                   \
                                     VLOAD(tile + (r) * KNR + VLEN), flags, bias);
            ROWS(KSTORE_TILE)
#undef KSTORE_TILE
        } else {
            KCAT(store_tile_, TSFX)(tile, KNR, crow, col, mr, nr, flags, bias);
        }
        return;
    }
#endif
    ROWS(KDECL)
    for (ptrdiff_t t = 0; t < ntaps; ++t, ind += MR) {
#define KROWPTR(r) const T *a##r = ind[r] + coff;
        ROWS(KROWPTR)
#undef KROWPTR
        ptrdiff_t i = 0;
#if KNV == 1
        /* four steps at a time, row by row: the narrow tile's 16 row pointers do not all fit
         * the integer registers, and a row's pointer is then fetched once for four products
         * instead of once for each (each accumulator still takes its products in step
         * order). 28x28x16->16 at batch 128: backward (dx, dW) 1.04x faster. The wide tile
         * (12 row pointers) measured no faster unrolled. */
        for (; i + 4 <= c; i += 4) {
            KLOADB4
            ROWS(KSTEPS4)
            b += 4 * KNR;
        }
#endif
        for (; i < c; ++i) {
            KLOADB
#define KSTEP_IND(r) KSTEP(r, a##r[i])
            ROWS(KSTEP_IND)
#undef KSTEP_IND
            b += KNR;
        }
    }
    KEPILOGUE
}

static void KN(ukr_str)(ptrdiff_t kc, const ptrdiff_t *koff, const T *a, ptrdiff_t rs,
                        const T *b, T *const *crow, ptrdiff_t col, int mr, int nr, int flags,
                        const T *bias)
{
    ROWS(KDECL)
    ptrdiff_t p = 0;
#ifdef KASM_STR
    /* the unit's hand-scheduled loop: steps [0, kc/4*4), advancing koff and b */
    KASM_STR
    p = kc / 4 * 4;
#endif
    for (; p < kc; ++p, ++koff, b += KNR) {
        const T *ap = a + *koff;
        KLOADB
#define KSTEP_STR(r) KSTEP(r, ap[(r) * rs])
        ROWS(KSTEP_STR)
#undef KSTEP_STR
    }
    KEPILOGUE
}

#undef KDECL
#undef KHALF
#undef KSTEP
#undef KLOADB
#undef KLOADB4
#undef KSTEPS4
#undef KHI
#undef KNV
#undef KSTORE
#undef KSPILL
#undef KEPILOGUE
#undef KNR
#undef KN
#undef KCAT
#undef KCAT_
