/* The one place where the kernel sets are chosen, GEMM and pooling together: at import, from
 * what the CPU and the OS support, capped by FASTCNN_ISA (passed in by the Python side) so
 * every path can be tested on one machine. Linked once, into fastcnn._kernels: one selection,
 * one scratch block. */
#include <stdlib.h>
#include <string.h>

#include "registry.h"

#if defined(_MSC_VER)
#include <intrin.h>
#include <malloc.h>
#endif

static const fcnn_isa *current = &fcnn_isa_generic;
static const fcnn_pool_kernels *current_pool = &fcnn_pool_generic;

static int cpu_has_avx2(void)
{
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    int r[4];
    __cpuid(r, 0);
    if (r[0] < 7) return 0;
    __cpuid(r, 1);
    int fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1;
    if (!fma || !osxsave || (_xgetbv(0) & 6) != 6) return 0;
    __cpuidex(r, 7, 0);
    return (r[1] >> 5) & 1;
#else
    return 0;
#endif
}

static int cpu_has_avx512(void)
{
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    /* libgcc's / compiler-rt's cpu model also checks that the OS saves the zmm state. The
     * AVX-512 units are compiled with -mavx512f -mavx512vl -mavx512dq -mavx512bw (setup.py):
     * the compiler may use any of them, so all four must be there (F alone is not: the Xeon
     * Phi has F without VL, DQ and BW). */
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
           && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
           && cpu_has_avx2();
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    int r[4];
    if (!cpu_has_avx2() || (_xgetbv(0) & 0xe6) != 0xe6) return 0;
    __cpuidex(r, 7, 0);
    /* EBX: F (bit 16), DQ (17), BW (30), VL (31) */
    return ((r[1] >> 16) & 1) && ((r[1] >> 17) & 1) && ((r[1] >> 30) & 1) && ((r[1] >> 31) & 1);
#else
    return 0;
#endif
}

int fcnn_cpu_level(void)
{
    return cpu_has_avx512() ? FCNN_LEVEL_AVX512 : cpu_has_avx2() ? FCNN_LEVEL_AVX2
                                                                 : FCNN_LEVEL_GENERIC;
}

static const fcnn_isa *best_isa(int level_cap)
{
    const int cpu = fcnn_cpu_level(), level = level_cap < cpu ? level_cap : cpu;
    if (level >= FCNN_LEVEL_AVX512 && fcnn_isa_avx512.name) return &fcnn_isa_avx512;
    if (level >= FCNN_LEVEL_AVX2 && fcnn_isa_avx2.name) return &fcnn_isa_avx2;
    return &fcnn_isa_generic;
}

/* The pooling set of the chosen GEMM set's level, or the next lower one compiled in. */
static const fcnn_pool_kernels *pool_for(const fcnn_isa *isa)
{
    if (isa == &fcnn_isa_avx512 && fcnn_pool_avx512.name) return &fcnn_pool_avx512;
    if (isa != &fcnn_isa_generic && fcnn_pool_avx2.name) return &fcnn_pool_avx2;
    return &fcnn_pool_generic;
}

int fcnn_select_isa(const char *cap)
{
    int level;
    if (cap == NULL || cap[0] == '\0' || strcmp(cap, "avx512") == 0)
        level = FCNN_LEVEL_AVX512;
    else if (strcmp(cap, "avx2") == 0)
        level = FCNN_LEVEL_AVX2;
    else if (strcmp(cap, "generic") == 0)
        level = FCNN_LEVEL_GENERIC;
    else
        return -1;
    current = best_isa(level);
    current_pool = pool_for(current);
    return 0;
}

void fcnn_use_kernels(const fcnn_isa *gemm, const fcnn_pool_kernels *pool)
{
    if (gemm) current = gemm;
    if (pool) current_pool = pool;
}

const fcnn_pool_kernels *fcnn_current_pool(void) { return current_pool; }

const fcnn_isa *fcnn_current_isa(void) { return current; }

const fcnn_isa *fcnn_isa_for_width(ptrdiff_t n, int f64)
{
    if (current != &fcnn_isa_avx512 || !fcnn_isa_avx512_narrow.name)
        return current;
    const int narrow = f64 ? fcnn_isa_avx512_narrow.nr_f64 : fcnn_isa_avx512_narrow.nr_f32;
    return n <= narrow ? &fcnn_isa_avx512_narrow : current;
}

const char *fcnn_best_isa_name(void) { return best_isa(FCNN_LEVEL_AVX512)->name; }

void *fcnn_aligned_alloc(size_t bytes)
{
    if (bytes == 0) bytes = 64;
#if defined(_MSC_VER)
    return _aligned_malloc(bytes, 64);
#else
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return p;
#endif
}

void fcnn_aligned_free(void *p)
{
#if defined(_MSC_VER)
    _aligned_free(p);
#else
    free(p);
#endif
}

/* One cached scratch block. A caller gives back the size it asked for, which may be less
 * than the block it was lent: the lent block's real size is remembered, so a larger request
 * after a smaller one finds it again instead of allocating (and page-faulting) anew. Callers
 * take and give with the GIL held. */
static void *scratch_block = NULL;
static size_t scratch_bytes = 0;
static void *lent_block = NULL;
static size_t lent_bytes = 0;

void *fcnn_scratch_take(size_t bytes)
{
    if (scratch_block != NULL && scratch_bytes >= bytes) {
        void *p = scratch_block;
        lent_block = p;
        lent_bytes = scratch_bytes;
        scratch_block = NULL;
        return p;
    }
    return fcnn_aligned_alloc(bytes);
}

void fcnn_scratch_give(void *p, size_t bytes)
{
    if (p == NULL) return;
    if (p == lent_block) {
        bytes = lent_bytes;
        lent_block = NULL;
    }
    if (scratch_block == NULL || scratch_bytes < bytes) {
        fcnn_aligned_free(scratch_block);
        scratch_block = p;
        scratch_bytes = bytes;
    } else {
        fcnn_aligned_free(p);
    }
}
