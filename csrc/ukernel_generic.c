/* Portable micro-kernels: plain C that any compiler vectorizes for the baseline ISA. */
#include "ukernel_common.h"

#define GEN_MR 4
#define GEN_NR_F32 16
#define GEN_NR_F64 8

#define FCNN_DEFINE_GENERIC(T, SFX, MR, NR)                                                    \
    FCNN_DEFINE_STORE_TILE(T, SFX)                                                             \
    static void ukr_generic_##SFX(ptrdiff_t kc, const T *a, const T *b, T *const *crow,        \
                                  ptrdiff_t col, int mr, int nr, int flags, const T *bias)     \
    {                                                                                          \
        T acc[MR * NR];                                                                        \
        for (int i = 0; i < MR * NR; ++i) acc[i] = 0;                                          \
        for (ptrdiff_t p = 0; p < kc; ++p, a += MR, b += NR)                                   \
            for (int r = 0; r < MR; ++r) {                                                     \
                const T ar = a[r];                                                             \
                for (int j = 0; j < NR; ++j) acc[r * NR + j] += ar * b[j];                     \
            }                                                                                  \
        store_tile_##SFX(acc, NR, crow, col, mr, nr, flags, bias);                             \
    }                                                                                          \
    static void ukr_ind_generic_##SFX(ptrdiff_t ntaps, ptrdiff_t c, ptrdiff_t coff,            \
                                      const T *const *ind, const T *b, T *const *crow,         \
                                      ptrdiff_t col, int mr, int nr, int flags, const T *bias) \
    {                                                                                          \
        T acc[MR * NR];                                                                        \
        for (int i = 0; i < MR * NR; ++i) acc[i] = 0;                                          \
        for (ptrdiff_t t = 0; t < ntaps; ++t, ind += MR)                                       \
            for (ptrdiff_t i = 0; i < c; ++i, b += NR)                                         \
                for (int r = 0; r < MR; ++r) {                                                 \
                    const T ar = ind[r][coff + i];                                                    \
                    for (int j = 0; j < NR; ++j) acc[r * NR + j] += ar * b[j];                 \
                }                                                                              \
        store_tile_##SFX(acc, NR, crow, col, mr, nr, flags, bias);                             \
    }                                                                                          \
    static void ukr_str_generic_##SFX(ptrdiff_t kc, const ptrdiff_t *koff, const T *a,         \
                                      ptrdiff_t rs, const T *b, T *const *crow, ptrdiff_t col, \
                                      int mr, int nr, int flags, const T *bias)                \
    {                                                                                          \
        T acc[MR * NR];                                                                        \
        for (int i = 0; i < MR * NR; ++i) acc[i] = 0;                                          \
        for (ptrdiff_t p = 0; p < kc; ++p, b += NR)                                            \
            for (int r = 0; r < MR; ++r) {                                                     \
                const T ar = a[r * rs + koff[p]];                                              \
                for (int j = 0; j < NR; ++j) acc[r * NR + j] += ar * b[j];                     \
            }                                                                                  \
        store_tile_##SFX(acc, NR, crow, col, mr, nr, flags, bias);                             \
    }

FCNN_DEFINE_GENERIC(float, f32, GEN_MR, GEN_NR_F32)
FCNN_DEFINE_GENERIC(double, f64, GEN_MR, GEN_NR_F64)

/* scalar stand-ins for the vector macros of conv_small_impl.h */
#define VLEN 1
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMAX(a, b) ((b) < (a) ? (a) : (b))
#define VZERO() 0
#define VSET1(x) (x)
#define VKEEP(v, m) ((m) > 0 ? (v) : (T)0)
#define T float
#define VT float
#define KNAME generic_f32
#include "conv_small_impl.h"
#undef T
#undef VT
#undef KNAME
#define T double
#define VT double
#define KNAME generic_f64
#include "conv_small_impl.h"
#undef T
#undef VT
#undef KNAME

#define GEN_SET1(x) (x)
#define GEN_FMA(a, m, s) ((a) * (m) + (s))
#define GEN_ADD(a, b) ((a) + (b))
#define GEN_STORE(out, a) ((out)[0] = (a))
FCNN_DEFINE_FMA_LOOP(fma_loop_generic, float, 1, GEN_SET1, GEN_FMA, GEN_ADD, GEN_STORE)

const fcnn_isa fcnn_isa_generic = {
    "generic", GEN_MR, GEN_NR_F32, GEN_MR, GEN_NR_F64,
    ukr_generic_f32, ukr_generic_f64, ukr_ind_generic_f32, ukr_ind_generic_f64,
    ukr_str_generic_f32, ukr_str_generic_f64, dx_small_rows_generic_f32,
    dx_small_rows_generic_f64, dw_small_tile_generic_f32, dw_small_tile_generic_f64,
    NULL, NULL, /* forward over few channels: the strided kernel, tile by tile */
    fma_loop_generic, add_residual_generic_f32, add_residual_generic_f64,
    wino_in_generic_f32, wino_in_generic_f64, wino_out_generic_f32, wino_out_generic_f64,
    wino_dy_generic_f32, wino_dy_generic_f64,
};
