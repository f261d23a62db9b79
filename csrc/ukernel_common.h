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

#endif
