/* Pooling kernels of csrc/pool.h, written once for T = float / double and one ISA. Included by
 * each pool_<isa>.c with T, SFX (f32/f64) and the vector operations defined:
 *   VT, VM          vector and comparison-mask types; VLEN lanes of T
 *   VLOAD(p), VSTORE(p, v), VZERO(), VSET1(s), VADD(a, b), VDIV(a, b)   (unaligned loads)
 *   VTAKES(v, best) mask of the lanes where v replaces the running maximum:
 *                   v > best, or v is NaN and best is not (the first NaN wins)
 *   VSELECT(m, a, b) m ? a : b;  VEQ(a, b) a == b;  VMASKED(m, a) m ? a : +0
 * and optionally POOL_NB, the vectors in a block of channels (default 1).
 * All index arithmetic is in ptrdiff_t. */
#include <string.h>

#define POOL_CAT_(a, b) a##b
#define POOL_CAT(a, b) POOL_CAT_(a, b)
#define FN(name) POOL_CAT(name, POOL_CAT(_, SFX))

#if defined(_MSC_VER)
#define POOL_INLINE static __forceinline
#else
#define POOL_INLINE static inline __attribute__((always_inline))
#endif

/* Blocks of POOL_NB vectors of channels (independent chains for the out-of-order core, one
 * loop overhead for several vectors): */
#ifndef POOL_NB
#define POOL_NB 1
#endif
typedef struct {
    VT v[POOL_NB];
} FN(block);
typedef struct {
    VM m[POOL_NB];
} FN(block_mask);
POOL_INLINE FN(block) FN(block_load)(const T *p)
{
    FN(block) r;
    for (int u = 0; u < POOL_NB; ++u) r.v[u] = VLOAD(p + u * VLEN);
    return r;
}
POOL_INLINE void FN(block_store)(T *p, FN(block) a)
{
    for (int u = 0; u < POOL_NB; ++u) VSTORE(p + u * VLEN, a.v[u]);
}
POOL_INLINE FN(block) FN(block_zero)(void)
{
    FN(block) r;
    for (int u = 0; u < POOL_NB; ++u) r.v[u] = VZERO();
    return r;
}
POOL_INLINE FN(block) FN(block_set1)(T s)
{
    FN(block) r;
    for (int u = 0; u < POOL_NB; ++u) r.v[u] = VSET1(s);
    return r;
}
POOL_INLINE FN(block) FN(block_add)(FN(block) a, FN(block) b)
{
    for (int u = 0; u < POOL_NB; ++u) a.v[u] = VADD(a.v[u], b.v[u]);
    return a;
}
POOL_INLINE FN(block) FN(block_div)(FN(block) a, FN(block) b)
{
    for (int u = 0; u < POOL_NB; ++u) a.v[u] = VDIV(a.v[u], b.v[u]);
    return a;
}
POOL_INLINE FN(block_mask) FN(block_takes)(FN(block) v, FN(block) best)
{
    FN(block_mask) r;
    for (int u = 0; u < POOL_NB; ++u) r.m[u] = VTAKES(v.v[u], best.v[u]);
    return r;
}
POOL_INLINE FN(block) FN(block_select)(FN(block_mask) m, FN(block) a, FN(block) b)
{
    for (int u = 0; u < POOL_NB; ++u) a.v[u] = VSELECT(m.m[u], a.v[u], b.v[u]);
    return a;
}
POOL_INLINE FN(block_mask) FN(block_eq)(FN(block) a, FN(block) b)
{
    FN(block_mask) r;
    for (int u = 0; u < POOL_NB; ++u) r.m[u] = VEQ(a.v[u], b.v[u]);
    return r;
}
POOL_INLINE FN(block) FN(block_masked)(FN(block_mask) m, FN(block) a)
{
    for (int u = 0; u < POOL_NB; ++u) a.v[u] = VMASKED(m.m[u], a.v[u]);
    return a;
}
#define LT FN(block)
#define LM FN(block_mask)
#define LLOAD FN(block_load)
#define LSTORE FN(block_store)
#define LZERO FN(block_zero)
#define LSET1 FN(block_set1)
#define LADD FN(block_add)
#define LDIV FN(block_div)
#define LTAKES FN(block_takes)
#define LSELECT FN(block_select)
#define LEQ FN(block_eq)
#define LMASKED FN(block_masked)
#define LFN(name) FN(POOL_CAT(name, _b))
#include "pool_window.h"
#undef LT
#undef LM
#undef LLOAD
#undef LSTORE
#undef LZERO
#undef LSET1
#undef LADD
#undef LDIV
#undef LTAKES
#undef LSELECT
#undef LEQ
#undef LMASKED
#undef LFN

/* Full vectors of channels: */
#define LT VT
#define LM VM
#define LLOAD VLOAD
#define LSTORE VSTORE
#define LZERO VZERO
#define LSET1 VSET1
#define LADD VADD
#define LDIV VDIV
#define LTAKES VTAKES
#define LSELECT VSELECT
#define LEQ VEQ
#define LMASKED VMASKED
#define LFN(name) FN(POOL_CAT(name, _v))
#include "pool_window.h"
#undef LT
#undef LM
#undef LLOAD
#undef LSTORE
#undef LZERO
#undef LSET1
#undef LADD
#undef LDIV
#undef LTAKES
#undef LSELECT
#undef LEQ
#undef LMASKED
#undef LFN

/* The remaining channels, one at a time, with the same operations: */
#define LT T
#define LM int
#define LLOAD(p) (*(p))
#define LSTORE(p, v) (*(p) = (v))
#define LZERO() ((T)0)
#define LSET1(s) ((T)(s))
#define LADD(a, b) ((a) + (b))
#define LDIV(a, b) ((a) / (b))
#define LTAKES(v, best) ((v) > (best) || ((v) != (v) && (best) == (best)))
#define LSELECT(m, a, b) ((m) ? (a) : (b))
#define LEQ(a, b) ((a) == (b))
#define LMASKED(m, a) ((m) ? (a) : (T)0)
#define LFN(name) FN(POOL_CAT(name, _s))
#include "pool_window.h"
#undef LT
#undef LM
#undef LLOAD
#undef LSTORE
#undef LZERO
#undef LSET1
#undef LADD
#undef LDIV
#undef LTAKES
#undef LSELECT
#undef LEQ
#undef LMASKED
#undef LFN

/* Tap numbers are compared as T: exact below 2^24 (float) or 2^53 (double) taps. */
#define FN_EXACT_TAPS ((ptrdiff_t)1 << (sizeof(T) == sizeof(float) ? 24 : 53))

static inline ptrdiff_t FN(pmin)(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }
static inline ptrdiff_t FN(pmax)(ptrdiff_t a, ptrdiff_t b) { return a > b ? a : b; }

/* The real rows [*lo, *hi) of the windows of output row o (also used for columns). */
static inline void FN(extent)(ptrdiff_t o, ptrdiff_t s, ptrdiff_t pad, ptrdiff_t k,
                              ptrdiff_t size, ptrdiff_t *lo, ptrdiff_t *hi)
{
    const ptrdiff_t start = o * s - pad;
    *lo = FN(pmax)(start, 0);
    *hi = FN(pmin)(start + k, size);
}

/* Max pooling of output rows [o0, o1); with picks (not NULL), also each output's picked tap
 * number (see window_max_pick), laid out like y; with relu, -1 where the maximum is not > 0.
 * Picks need windows of fewer than FN_EXACT_TAPS taps (the caller checks). */
POOL_INLINE void FN(max_forward_rows)(const fcnn_pool_geom *g, const T *x, T *y, T *picks,
                                      int relu, ptrdiff_t o0, ptrdiff_t o1)
{
    const ptrdiff_t c = g->c, rs = g->w * c, cv = c - c % VLEN, cb = c - c % (POOL_NB * VLEN);
    for (ptrdiff_t o = o0; o < o1; ++o) {
        ptrdiff_t h0, h1;
        FN(extent)(o, g->sh, g->pt, g->kh, g->h, &h0, &h1);
        for (ptrdiff_t j = 0; j < g->ow; ++j) {
            ptrdiff_t w0, w1;
            FN(extent)(j, g->sw, g->pl, g->kw, g->w, &w0, &w1);
            const ptrdiff_t rows = h1 - h0, cols = w1 - w0, at = (o * g->ow + j) * c;
            const T *p = x + h0 * rs + w0 * c;
            T *out = y + at, *pk = picks ? picks + at : NULL;
            ptrdiff_t ch = 0;
            for (; ch < cb; ch += POOL_NB * VLEN)
                if (picks)
                    FN(window_max_pick_b)(relu, p + ch, rows, cols, rs, c, out + ch, pk + ch);
                else
                    FN(window_max_b)(p + ch, rows, cols, rs, c, out + ch);
            for (; ch < cv; ch += VLEN)
                if (picks)
                    FN(window_max_pick_v)(relu, p + ch, rows, cols, rs, c, out + ch, pk + ch);
                else
                    FN(window_max_v)(p + ch, rows, cols, rs, c, out + ch);
            for (; ch < c; ++ch)
                if (picks)
                    FN(window_max_pick_s)(relu, p + ch, rows, cols, rs, c, out + ch, pk + ch);
                else
                    FN(window_max_s)(p + ch, rows, cols, rs, c, out + ch);
        }
    }
}

static void FN(max_forward)(const fcnn_pool_geom *g, const T *x, T *y, ptrdiff_t o0,
                            ptrdiff_t o1)
{
    FN(max_forward_rows)(g, x, y, NULL, 0, o0, o1);
}

static void FN(max_forward_pick)(const fcnn_pool_geom *g, const T *x, T *y, T *picks, int relu,
                                 ptrdiff_t o0, ptrdiff_t o1)
{
    FN(max_forward_rows)(g, x, y, picks, relu, o0, o1);
}

static void FN(avg_forward)(const fcnn_pool_geom *g, const T *x, T *y, ptrdiff_t o0,
                            ptrdiff_t o1)
{
    const ptrdiff_t c = g->c, rs = g->w * c, cv = c - c % VLEN, cb = c - c % (POOL_NB * VLEN);
    for (ptrdiff_t o = o0; o < o1; ++o) {
        ptrdiff_t h0, h1;
        FN(extent)(o, g->sh, g->pt, g->kh, g->h, &h0, &h1);
        for (ptrdiff_t j = 0; j < g->ow; ++j) {
            ptrdiff_t w0, w1;
            FN(extent)(j, g->sw, g->pl, g->kw, g->w, &w0, &w1);
            const T *p = x + h0 * rs + w0 * c;
            T *out = y + (o * g->ow + j) * c;
            const T count = (T)((h1 - h0) * (w1 - w0));
            ptrdiff_t ch = 0;
            for (; ch < cb; ch += POOL_NB * VLEN)
                FN(window_mean_b)(p + ch, h1 - h0, w1 - w0, rs, c, count, out + ch);
            for (; ch < cv; ch += VLEN)
                FN(window_mean_v)(p + ch, h1 - h0, w1 - w0, rs, c, count, out + ch);
            for (; ch < c; ++ch)
                FN(window_mean_s)(p + ch, h1 - h0, w1 - w0, rs, c, count, out + ch);
        }
    }
}

/* window_max_grad for windows of 2^24 or more taps in float: the tap number as an integer. */
static void FN(window_max_grad_wide)(int relu, const T *p, T *d, const T *g, ptrdiff_t rows,
                                     ptrdiff_t cols, ptrdiff_t rs, ptrdiff_t cs, ptrdiff_t r0,
                                     ptrdiff_t ra, ptrdiff_t r1, ptrdiff_t ca)
{
    T best = p[0];
    ptrdiff_t pick = 0;
    for (ptrdiff_t i = 0; i < rows; ++i)
        for (ptrdiff_t j = 0; j < cols; ++j) {
            const T v = p[i * rs + j * cs];
            if (v > best || (v != v && best == best)) {
                best = v;
                pick = i * cols + j;
            }
        }
    const T grad = relu && !(best > 0) ? (T)0 : g[0];
    for (ptrdiff_t i = r0; i < r1; ++i)
        for (ptrdiff_t j = 0; j < cols; ++j) {
            T *q = d + i * rs + j * cs;
            const T share = i * cols + j == pick ? grad : (T)0;
            *q = (i < ra || j < ca ? *q : (T)0) + share;
        }
}

/* One window's gradient over all channels (see pool_window.h for r0, ra, r1, ca); kind:
 * 0 average, 1 max, 2 max with the ReLU before it folded in (window_max_grad's relu), 3 max
 * from the tap numbers max_forward_pick stored (p then points at the window's picks). */
POOL_INLINE void FN(window_grad)(int kind, const T *p, T *d, const T *gy, ptrdiff_t c,
                                 ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t rs, ptrdiff_t r0,
                                 ptrdiff_t ra, ptrdiff_t r1, ptrdiff_t ca)
{
    const ptrdiff_t cv = c - c % VLEN, cb = c - c % (POOL_NB * VLEN);
    const int relu = kind == 2;
    ptrdiff_t ch = 0;
    if (kind == 3) {
        for (; ch < cb; ch += POOL_NB * VLEN)
            FN(window_pick_grad_b)(p + ch, d + ch, gy + ch, cols, rs, c, r0, ra, r1, ca);
        for (; ch < cv; ch += VLEN)
            FN(window_pick_grad_v)(p + ch, d + ch, gy + ch, cols, rs, c, r0, ra, r1, ca);
        for (; ch < c; ++ch)
            FN(window_pick_grad_s)(p + ch, d + ch, gy + ch, cols, rs, c, r0, ra, r1, ca);
    } else if (kind == 0) {
        const T count = (T)(rows * cols);
        for (; ch < cb; ch += POOL_NB * VLEN)
            FN(window_mean_grad_b)(d + ch, gy + ch, cols, rs, c, r0, ra, r1, ca, count);
        for (; ch < cv; ch += VLEN)
            FN(window_mean_grad_v)(d + ch, gy + ch, cols, rs, c, r0, ra, r1, ca, count);
        for (; ch < c; ++ch)
            FN(window_mean_grad_s)(d + ch, gy + ch, cols, rs, c, r0, ra, r1, ca, count);
    } else if (rows * cols < FN_EXACT_TAPS) {
        for (; ch < cb; ch += POOL_NB * VLEN)
            FN(window_max_grad_b)(relu, p + ch, d + ch, gy + ch, rows, cols, rs, c, r0, ra, r1,
                                  ca);
        for (; ch < cv; ch += VLEN)
            FN(window_max_grad_v)(relu, p + ch, d + ch, gy + ch, rows, cols, rs, c, r0, ra, r1,
                                  ca);
        for (; ch < c; ++ch)
            FN(window_max_grad_s)(relu, p + ch, d + ch, gy + ch, rows, cols, rs, c, r0, ra, r1,
                                  ca);
    } else {
        for (; ch < c; ++ch)
            FN(window_max_grad_wide)(relu, p + ch, d + ch, gy + ch, rows, cols, rs, c, r0, ra,
                                     r1, ca);
    }
}

static void FN(zero_rows)(T *dx, ptrdiff_t rs, ptrdiff_t r0, ptrdiff_t r1)
{
    if (r1 > r0) memset(dx + r0 * rs, 0, (size_t)((r1 - r0) * rs) * sizeof(T));
}

/* Columns [w0, w1) of rows [r0, r1). */
static void FN(zero_block)(T *dx, ptrdiff_t rs, ptrdiff_t c, ptrdiff_t r0, ptrdiff_t r1,
                           ptrdiff_t w0, ptrdiff_t w1)
{
    if (w1 <= w0) return;
    for (ptrdiff_t i = r0; i < r1; ++i)
        memset(dx + i * rs + w0 * c, 0, (size_t)((w1 - w0) * c) * sizeof(T));
}

static inline ptrdiff_t FN(floor_div)(ptrdiff_t a, ptrdiff_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* dx rows [r0, r1) of one image, each element written once or more, never zeroed first:
 * windows are visited in (o, j) order and the first window to reach an element writes
 * 0 + its gradient, the later ones (overlapping windows) add theirs, which fixes the order of
 * every dx sum whatever [r0, r1) is. Elements no window reaches get +0. */
POOL_INLINE void FN(backward)(int kind, const fcnn_pool_geom *g, const T *x, const T *dy,
                              T *dx, ptrdiff_t r0, ptrdiff_t r1)
{
    const ptrdiff_t c = g->c, rs = g->w * c;
    /* Output rows whose windows reach into [r0, r1): o*sh - pt + kh > r0, o*sh - pt < r1. */
    const ptrdiff_t o_lo = FN(pmax)(FN(floor_div)(r0 + g->pt - g->kh, g->sh) + 1, 0);
    const ptrdiff_t o_hi = FN(pmin)(FN(floor_div)(r1 + g->pt - 1, g->sh) + 1, g->oh);
    ptrdiff_t done = r0; /* rows [r0, done) have been reached by a window */
    for (ptrdiff_t o = o_lo; o < o_hi; ++o) {
        ptrdiff_t h0, h1;
        FN(extent)(o, g->sh, g->pt, g->kh, g->h, &h0, &h1);
        const ptrdiff_t b0 = FN(pmax)(h0, r0), b1 = FN(pmin)(h1, r1);
        if (b0 >= b1) continue;
        FN(zero_rows)(dx, rs, done, b0); /* between windows of consecutive rows */
        /* Rows [b0, fresh) hold earlier rows' gradients; [fresh, b1) are reached first here.
         * Columns reached by no window are the same in every row: zeroed in fresh rows. */
        const ptrdiff_t fresh = FN(pmax)(b0, done);
        const T *gy = dy + o * g->ow * c;
        ptrdiff_t covered = 0; /* columns reached by this row's windows before window j */
        for (ptrdiff_t j = 0; j < g->ow; ++j, gy += c) {
            ptrdiff_t w0, w1;
            FN(extent)(j, g->sw, g->pl, g->kw, g->w, &w0, &w1);
            FN(zero_block)(dx, rs, c, fresh, b1, covered, w0);
            const ptrdiff_t ca = FN(pmin)(FN(pmax)(covered - w0, 0), w1 - w0);
            /* the window in x, or (kind 3) its picks, at the same place as its dy */
            const T *p = kind == 3 ? x + (gy - dy) : x ? x + h0 * rs + w0 * c : NULL;
            FN(window_grad)(kind, p, dx + h0 * rs + w0 * c, gy, c, h1 - h0, w1 - w0, rs,
                            b0 - h0, fresh - h0, b1 - h0, ca);
            covered = FN(pmax)(covered, w1);
        }
        FN(zero_block)(dx, rs, c, fresh, b1, covered, g->w);
        done = FN(pmax)(done, b1);
    }
    FN(zero_rows)(dx, rs, done, r1);
}

static void FN(max_backward)(const fcnn_pool_geom *g, const T *x, const T *dy, T *dx,
                             ptrdiff_t r0, ptrdiff_t r1)
{
    FN(backward)(1, g, x, dy, dx, r0, r1);
}

static void FN(max_relu_backward)(const fcnn_pool_geom *g, const T *x, const T *dy, T *dx,
                                  ptrdiff_t r0, ptrdiff_t r1)
{
    FN(backward)(2, g, x, dy, dx, r0, r1);
}

/* max_backward from the picks of max_forward_pick (laid out like dy) instead of x. */
static void FN(max_pick_backward)(const fcnn_pool_geom *g, const T *picks, const T *dy, T *dx,
                                  ptrdiff_t r0, ptrdiff_t r1)
{
    FN(backward)(3, g, picks, dy, dx, r0, r1);
}

static void FN(avg_backward)(const fcnn_pool_geom *g, const T *x, const T *dy, T *dx,
                             ptrdiff_t r0, ptrdiff_t r1)
{
    (void)x;
    FN(backward)(0, g, NULL, dy, dx, r0, r1);
}

#undef FN_EXACT_TAPS
#undef FN
#undef POOL_INLINE
