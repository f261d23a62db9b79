/* The table of kernels (registry.h). Names follow XNNPACK's: dtype, operation, tile, then
 * after a double underscore the ISA; tests/test_kernel_table.py checks each name's tile against
 * its set's MR x NR (or channel block). */
#include "registry.h"

/* A GEMM set, with the drivers' blocking beside it; a pooling set (no blocking). */
#define GEMM(name, f64, level, set)                                                            \
    {name, "gemm", f64, level, &set, NULL,                                                     \
     FCNN_GEMM_KC, FCNN_GEMM_MC, FCNN_GEMM_NC, FCNN_KC, FCNN_MC}
#define POOL(name, f64, level, set) {name, "pool", f64, level, NULL, &set, 0, 0, 0, 0, 0}

const fcnn_kernel_entry fcnn_kernel_table[] = {
    GEMM("f32_gemm_4x16__generic", 0, FCNN_LEVEL_GENERIC, fcnn_isa_generic),
    GEMM("f64_gemm_4x8__generic", 1, FCNN_LEVEL_GENERIC, fcnn_isa_generic),
    POOL("f32_pool_c8__generic", 0, FCNN_LEVEL_GENERIC, fcnn_pool_generic),
    POOL("f64_pool_c4__generic", 1, FCNN_LEVEL_GENERIC, fcnn_pool_generic),
    GEMM("f32_gemm_6x16__avx2", 0, FCNN_LEVEL_AVX2, fcnn_isa_avx2),
    GEMM("f64_gemm_6x8__avx2", 1, FCNN_LEVEL_AVX2, fcnn_isa_avx2),
    POOL("f32_pool_c32__avx2", 0, FCNN_LEVEL_AVX2, fcnn_pool_avx2),
    POOL("f64_pool_c16__avx2", 1, FCNN_LEVEL_AVX2, fcnn_pool_avx2),
    GEMM("f32_gemm_12x32__avx512", 0, FCNN_LEVEL_AVX512, fcnn_isa_avx512),
    GEMM("f64_gemm_12x16__avx512", 1, FCNN_LEVEL_AVX512, fcnn_isa_avx512),
    /* the narrow tile, 16 x one vector, for GEMMs one vector wide (fcnn_isa_for_width) */
    GEMM("f32_gemm_16x16__avx512", 0, FCNN_LEVEL_AVX512, fcnn_isa_avx512_narrow),
    GEMM("f64_gemm_16x8__avx512", 1, FCNN_LEVEL_AVX512, fcnn_isa_avx512_narrow),
    POOL("f32_pool_c32__avx512", 0, FCNN_LEVEL_AVX512, fcnn_pool_avx512),
    POOL("f64_pool_c16__avx512", 1, FCNN_LEVEL_AVX512, fcnn_pool_avx512),
};

const int fcnn_kernel_table_size = (int)(sizeof fcnn_kernel_table / sizeof fcnn_kernel_table[0]);

int fcnn_kernel_compiled(int i)
{
    const fcnn_kernel_entry *e = &fcnn_kernel_table[i];
    return (e->gemm ? e->gemm->name : e->pool->name) != NULL;
}

int fcnn_kernel_runnable(int i)
{
    return fcnn_kernel_compiled(i) && fcnn_kernel_table[i].level <= fcnn_cpu_level();
}

int fcnn_kernel_in_use(int i)
{
    const fcnn_kernel_entry *e = &fcnn_kernel_table[i];
    if (!fcnn_kernel_compiled(i)) return 0;
    if (e->pool) return e->pool == fcnn_current_pool();
    if (e->gemm == fcnn_current_isa()) return 1;
    /* a tile picked per call by width: in use where its wide set is */
    return fcnn_isa_for_width(0, e->f64) == e->gemm;
}
