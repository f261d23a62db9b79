/* Shared by the per-ISA micro-kernel translation units: the scalar epilogue used for edge
 * tiles. It applies the same operations in the same order as the vector epilogues
 * (old + ab, then + bias, then relu as "v < 0 ? 0 : v", which keeps NaN and -0.0 exactly as
 * max(0, v) in the vector code does), so edge and interior tiles round identically. */
#ifndef FASTCNN_UKERNEL_COMMON_H
#define FASTCNN_UKERNEL_COMMON_H

#include "fastcnn_kernels.h"

#define FCNN_DEFINE_STORE_TILE(T, SFX)                                                         \
    static void store_tile_##SFX(const T *tile, int ldt, T *const *crow, ptrdiff_t col,        \
                                 int mr, int nr, int flags, const T *bias)                     \
    {                                                                                          \
        for (int r = 0; r < mr; ++r) {                                                         \
            T *dst = crow[r] + col;                                                            \
            for (int j = 0; j < nr; ++j) {                                                     \
                T v = tile[r * ldt + j];                                                       \
                if (flags & FCNN_ACCUMULATE) v = dst[j] + v;                                   \
                if (flags & FCNN_BIAS) v = v + bias[j];                                        \
                if (flags & FCNN_RELU) v = v < 0 ? (T)0 : v;                                   \
                dst[j] = v;                                                                    \
            }                                                                                  \
        }                                                                                      \
    }

/* The multiply-add peak of one core on this unit's vectors: `iters` iterations of 12
 * independent FMA chains (enough to cover an FMA latency of 4 cycles on two ports), started
 * from distinct values so that the compiler cannot merge them into one. Stores a value that
 * depends on every chain in *sink (so the loop stays) and returns the FLOPs done. */
#define FCNN_DEFINE_FMA_LOOP(NAME, VT, LANES, SET1, FMA, ADD, STORE)                            \
    static double NAME(ptrdiff_t iters, float *sink)                                           \
    {                                                                                          \
        const float v = *sink;                                                                 \
        const VT m = SET1(1.0f - v * 1e-7f), s = SET1(v * 1e-7f);                              \
        VT a0 = SET1(v), a1 = SET1(v + 1), a2 = SET1(v + 2), a3 = SET1(v + 3);                 \
        VT a4 = SET1(v + 4), a5 = SET1(v + 5), a6 = SET1(v + 6), a7 = SET1(v + 7);             \
        VT a8 = SET1(v + 8), a9 = SET1(v + 9), a10 = SET1(v + 10), a11 = SET1(v + 11);         \
        for (ptrdiff_t i = 0; i < iters; ++i) {                                                \
            a0 = FMA(a0, m, s); a1 = FMA(a1, m, s); a2 = FMA(a2, m, s);                        \
            a3 = FMA(a3, m, s); a4 = FMA(a4, m, s); a5 = FMA(a5, m, s);                        \
            a6 = FMA(a6, m, s); a7 = FMA(a7, m, s); a8 = FMA(a8, m, s);                        \
            a9 = FMA(a9, m, s); a10 = FMA(a10, m, s); a11 = FMA(a11, m, s);                    \
        }                                                                                      \
        a0 = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                \
        a0 = ADD(a0, ADD(ADD(a8, a9), ADD(a10, a11)));                                         \
        float out[LANES];                                                                      \
        STORE(out, a0);                                                                        \
        *sink = out[0];                                                                        \
        return (double)iters * 12 * 2 * (LANES);                                               \
    }

#endif
