/* The table of fastcnn's kernels (csrc/registry.c): one entry per kernel set and dtype, named
 * as XNNPACK names its micro-kernels (operation, dtype, tile, ISA), with the ISA level it needs
 * and the blocking sizes its drivers run it with. The selection (dispatch.c, fcnn_select_isa)
 * picks among these sets; the tests run every entry the CPU can run (tests/test_kernel_table.py),
 * through fcnn_use_kernels. */
#ifndef FASTCNN_REGISTRY_H
#define FASTCNN_REGISTRY_H

#include "fastcnn_kernels.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { FCNN_LEVEL_GENERIC = 0, FCNN_LEVEL_AVX2 = 1, FCNN_LEVEL_AVX512 = 2 };

typedef struct {
    const char *name;  /* e.g. f32_gemm_12x32__avx512: the tile is MR x NR (gemm) or the
                          channel block (pool, c32) */
    const char *op;    /* "gemm": the set's GEMM micro-kernels (packed, indirect, strided) and
                          its few-channel convolution kernels; "pool": max and average pooling,
                          forward and backward */
    int f64;           /* the dtype: double, else float */
    int level;         /* the ISA it needs (FCNN_LEVEL_*) */
    const fcnn_isa *gemm;          /* op "gemm"; its name is NULL when not compiled in */
    const fcnn_pool_kernels *pool; /* op "pool"; likewise */
    /* blocking of the drivers (op "gemm"; 0 for pool): GEMM (gemm_impl.h) KC, MC, NC and
     * convolution (conv_impl.h) KC, MC. The same for every set today. */
    int kc, mc, nc, conv_kc, conv_mc;
} fcnn_kernel_entry;

extern const fcnn_kernel_entry fcnn_kernel_table[];
extern const int fcnn_kernel_table_size;

/* The best level the CPU (and OS) support, whatever was compiled in. */
int fcnn_cpu_level(void);
/* Whether entry i was compiled in; whether this CPU can run it. */
int fcnn_kernel_compiled(int i);
int fcnn_kernel_runnable(int i);
/* Whether the selection uses entry i (the narrow GEMM tile: where the set in use is its wide
 * set, for GEMMs one vector wide). */
int fcnn_kernel_in_use(int i);

/* Puts gemm / pool (either may be NULL: left as it is) in use in place of the selection's,
 * for tests to run one entry's kernels whatever was selected. With the GIL held; no kernel
 * may be running meanwhile. A GEMM set is used for every width (fcnn_isa_for_width is not
 * consulted); under the narrow tile the few-channel forward runs on its strided tile. */
void fcnn_use_kernels(const fcnn_isa *gemm, const fcnn_pool_kernels *pool);

#ifdef __cplusplus
}
#endif
#endif
