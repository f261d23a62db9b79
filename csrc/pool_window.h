/* One pooling window, a lane of channels at a time. Included three times by pool_impl.h: with
 * blocks of POOL_NB vectors, with single vectors, and with scalars (LT is the lane's type),
 * which together cover a pixel's channels. All three apply the same IEEE operations in the
 * same order, so a channel's result does not depend on which one computed it.
 *
 * Arguments: p / d point at the first channel of the window's top-left pixel in x / dx,
 * g at the window's first channel in y / dy; the window has rows x cols real pixels, rows
 * rs apart and pixels cs apart. Backward writes the window's rows [r0, r1) (the part of the
 * window in the dx rows being computed): rows before ra, and the first ca columns of the
 * others, already hold the gradients of earlier windows and get this one's added; the rest
 * is reached by this window first and gets 0 + gradient, which is what adding to a zeroed
 * dx would give. */

/* First NaN, else first maximum, in row-major order. */
POOL_INLINE void LFN(window_max)(const T *p, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t rs,
                                 ptrdiff_t cs, T *y)
{
    LT best = LLOAD(p);
    for (ptrdiff_t j = 1; j < cols; ++j) {
        const LT v = LLOAD(p + j * cs);
        best = LSELECT(LTAKES(v, best), v, best);
    }
    for (ptrdiff_t i = 1; i < rows; ++i)
        for (ptrdiff_t j = 0; j < cols; ++j) {
            const LT v = LLOAD(p + i * rs + j * cs);
            best = LSELECT(LTAKES(v, best), v, best);
        }
    LSTORE(y, best);
}

/* (0 + x0 + x1 + ...) / count, the taps added in row-major order. */
POOL_INLINE void LFN(window_mean)(const T *p, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t rs,
                                  ptrdiff_t cs, T count, T *y)
{
    LT sum = LZERO();
    for (ptrdiff_t i = 0; i < rows; ++i)
        for (ptrdiff_t j = 0; j < cols; ++j) sum = LADD(sum, LLOAD(p + i * rs + j * cs));
    LSTORE(y, LDIV(sum, LSET1(count)));
}

/* The window's gradient grad (already masked) to the tap numbered pick (row-major, as T), +0 to
 * the others; rows and columns as described at the top. 0 + masked(grad) is masked(0 + grad):
 * the +0 that turns a -0 gradient into +0 is added once, not at every tap. */
POOL_INLINE void LFN(spread_grad)(LT pick, LT grad, T *d, ptrdiff_t cols, ptrdiff_t rs,
                                  ptrdiff_t cs, ptrdiff_t r0, ptrdiff_t ra, ptrdiff_t r1,
                                  ptrdiff_t ca)
{
    const LT first = LADD(LZERO(), grad);
    for (ptrdiff_t i = r0; i < r1; ++i) {
        const ptrdiff_t added = i < ra ? cols : ca;
        T *q = d + i * rs;
        ptrdiff_t j = 0;
        T tap = (T)(i * cols);
        for (; j < added; ++j, tap += 1)
            LSTORE(q + j * cs, LADD(LLOAD(q + j * cs), LMASKED(LEQ(pick, LSET1(tap)), grad)));
        for (; j < cols; ++j, tap += 1) LSTORE(q + j * cs, LMASKED(LEQ(pick, LSET1(tap)), first));
    }
}

/* window_max's maximum, and the number of the tap it was found at (row-major, exact in T:
 * the caller makes sure rows * cols is small enough). */
POOL_INLINE LT LFN(window_argmax)(const T *p, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t rs,
                                  ptrdiff_t cs, LT *pick_out)
{
    LT best = LLOAD(p), pick = LZERO();
    T tap = 0;
    for (ptrdiff_t j = 1; j < cols; ++j) {
        const LT v = LLOAD(p + j * cs);
        const LM take = LTAKES(v, best);
        tap += 1;
        best = LSELECT(take, v, best);
        pick = LSELECT(take, LSET1(tap), pick);
    }
    for (ptrdiff_t i = 1; i < rows; ++i)
        for (ptrdiff_t j = 0; j < cols; ++j) {
            const LT v = LLOAD(p + i * rs + j * cs);
            const LM take = LTAKES(v, best);
            tap += 1;
            best = LSELECT(take, v, best);
            pick = LSELECT(take, LSET1(tap), pick);
        }
    *pick_out = pick;
    return best;
}

/* The gradient goes to the element window_max selects, found by its tap number; the other
 * taps get +0. relu: x is a ReLU's output, whose backward pass is folded in: the gradient
 * counts only where the window's maximum (that ReLU's output at the element picked) is > 0,
 * else +0, exactly as masking dy by the pooled output first would give. */
POOL_INLINE void LFN(window_max_grad)(int relu, const T *p, T *d, const T *g, ptrdiff_t rows,
                                      ptrdiff_t cols, ptrdiff_t rs, ptrdiff_t cs, ptrdiff_t r0,
                                      ptrdiff_t ra, ptrdiff_t r1, ptrdiff_t ca)
{
    LT pick;
    const LT best = LFN(window_argmax)(p, rows, cols, rs, cs, &pick);
    LT grad = LLOAD(g);
    if (relu)   /* best > 0: LTAKES(best, 0) is "> 0 or NaN", LEQ(best, best) "not NaN" */
        grad = LMASKED(LEQ(best, best), LMASKED(LTAKES(best, LZERO()), grad));
    LFN(spread_grad)(pick, grad, d, cols, rs, cs, r0, ra, r1, ca);
}

/* window_max, also storing at pk the tap number window_max_grad would pick; with relu, -1
 * (no tap) where the maximum is not > 0, so that window_pick_grad then passes +0 everywhere,
 * as window_max_grad's masked gradient does. */
POOL_INLINE void LFN(window_max_pick)(int relu, const T *p, ptrdiff_t rows, ptrdiff_t cols,
                                      ptrdiff_t rs, ptrdiff_t cs, T *y, T *pk)
{
    LT pick;
    const LT best = LFN(window_argmax)(p, rows, cols, rs, cs, &pick);
    if (relu)
        pick = LSELECT(LEQ(best, best), LSELECT(LTAKES(best, LZERO()), pick, LSET1(-1)),
                       LSET1(-1));
    LSTORE(y, best);
    LSTORE(pk, pick);
}

/* window_max_grad with the tap numbers window_max_pick stored (at pk, laid out like g): the
 * same dx, bitwise, without reading x. */
POOL_INLINE void LFN(window_pick_grad)(const T *pk, T *d, const T *g, ptrdiff_t cols,
                                       ptrdiff_t rs, ptrdiff_t cs, ptrdiff_t r0, ptrdiff_t ra,
                                       ptrdiff_t r1, ptrdiff_t ca)
{
    LFN(spread_grad)(LLOAD(pk), LLOAD(g), d, cols, rs, cs, r0, ra, r1, ca);
}

/* Every real tap gets g / count. */
POOL_INLINE void LFN(window_mean_grad)(T *d, const T *g, ptrdiff_t cols, ptrdiff_t rs,
                                       ptrdiff_t cs, ptrdiff_t r0, ptrdiff_t ra, ptrdiff_t r1,
                                       ptrdiff_t ca, T count)
{
    const LT share = LDIV(LLOAD(g), LSET1(count));
    const LT first = LADD(LZERO(), share);
    for (ptrdiff_t i = r0; i < r1; ++i) {
        const ptrdiff_t added = i < ra ? cols : ca;
        T *q = d + i * rs;
        ptrdiff_t j = 0;
        for (; j < added; ++j) LSTORE(q + j * cs, LADD(LLOAD(q + j * cs), share));
        for (; j < cols; ++j) LSTORE(q + j * cs, first);
    }
}
