/* AVX2+FMA micro-kernels, compiled with -mavx2 -mfma (setup.py) and run only where the CPU
 * and OS support them (dispatch.c).
 * f32: 6 x 16 tile = 12 ymm accumulators + 2 B vectors + 1 broadcast, of the 16 registers.
 * f64: 6 x 8, the same shape in doubles. */
#include "ukernel_common.h"

#if defined(FCNN_HAVE_AVX2)
#include <immintrin.h>

FCNN_DEFINE_STORE_TILE(float, f32)
FCNN_DEFINE_STORE_TILE(double, f64)
FCNN_DEFINE_FMA_LOOP(fma_loop_avx2, __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps,
                     _mm256_storeu_ps)

#define MR 6
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define ROWS_HALF(X) X(0) X(1) X(2)

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
/* Hand-scheduled main loops (GCC/Clang inline assembly), 4 steps of the reduction per
 * iteration. With intrinsics alone, how GCC allocates the 15 live ymm registers varies from
 * build to build, and the kernel ran at 60-75% of the FMA peak instead of 85% (Zen 3, from
 * L1). The step for one tile row r: broadcast A[r] into ymm15, two FMAs into the row's
 * accumulators (ymm13, ymm14 hold B's two vectors). ES is the element size in bytes. */
#define X2_STEP_ROW(BCAST, FMA, ADDR, r)                                                       \
    BCAST " " ADDR ", %%ymm15\n\t"                                                              \
    FMA " %%ymm13, %%ymm15, %[c" #r "l]\n\t"                                                    \
    FMA " %%ymm14, %%ymm15, %[c" #r "h]\n\t"
/* four steps of the reduction, o = 0..3 */
#define X2_UNROLL4(STEP, BCAST, FMA, ES)                                                       \
    STEP(BCAST, FMA, ES, 0) STEP(BCAST, FMA, ES, 1) STEP(BCAST, FMA, ES, 2) STEP(BCAST, FMA, ES, 3)
#define X2_LOAD_B(o) "vmovups " #o "*64(%[b]), %%ymm13\n\t" "vmovups " #o "*64+32(%[b]), %%ymm14\n\t"
/* packed A: step o, row r at (o*6 + r)*ES bytes */
#define X2_PSTEP(BCAST, FMA, ES, o)                                                            \
    X2_LOAD_B(o)                                                                               \
    X2_STEP_ROW(BCAST, FMA, #o "*6*" ES "+0*" ES "(%[a])", 0)                                   \
    X2_STEP_ROW(BCAST, FMA, #o "*6*" ES "+1*" ES "(%[a])", 1)                                   \
    X2_STEP_ROW(BCAST, FMA, #o "*6*" ES "+2*" ES "(%[a])", 2)                                   \
    X2_STEP_ROW(BCAST, FMA, #o "*6*" ES "+3*" ES "(%[a])", 3)                                   \
    X2_STEP_ROW(BCAST, FMA, #o "*6*" ES "+4*" ES "(%[a])", 4)                                   \
    X2_STEP_ROW(BCAST, FMA, #o "*6*" ES "+5*" ES "(%[a])", 5)
#define X2_ACCUMULATORS                                                                        \
    [c0l] "+x"(c0l), [c0h] "+x"(c0h), [c1l] "+x"(c1l), [c1h] "+x"(c1h), [c2l] "+x"(c2l),       \
    [c2h] "+x"(c2h), [c3l] "+x"(c3l), [c3h] "+x"(c3h), [c4l] "+x"(c4l), [c4h] "+x"(c4h),       \
    [c5l] "+x"(c5l), [c5h] "+x"(c5h)
#define X2_ASM_PACKED(BCAST, FMA, ES)                                                          \
    if (kc >= 4) {                                                                             \
        ptrdiff_t n4 = kc / 4;                                                                 \
        __asm__ volatile("1:\n\t"                                                              \
                         X2_UNROLL4(X2_PSTEP, BCAST, FMA, ES)                                   \
                         "add $4*6*" ES ", %[a]\n\t"                                           \
                         "add $256, %[b]\n\t"                                                  \
                         "dec %[n]\n\t"                                                        \
                         "jnz 1b\n\t"                                                          \
                         : X2_ACCUMULATORS, [a] "+r"(a), [b] "+r"(b), [n] "+r"(n4)            \
                         :                                                                     \
                         : "xmm13", "xmm14", "xmm15", "memory", "cc");                         \
    }
/* indirect A, every tap in one asm block: the accumulators live in ymm0-ymm11 from zeroing
 * to the final store into `tile` (MR x 16 values, row-major), so no operands are shuffled
 * between taps (GCC allows 30 asm operands, and 12 accumulators as operands count as 24).
 * Per tap: its 6 row pointers in r8-r13, the channel index in rax from coff, 4 steps per
 * iteration up to coff + c/4*4 (rbx), then single steps up to coff + c. */
#define X2_TSTEP_ROW(BCAST, FMA, ADDR, lo, hi)                                                 \
    BCAST " " ADDR ", %%ymm15\n\t"                                                              \
    FMA " %%ymm13, %%ymm15, %%ymm" #lo "\n\t"                                                   \
    FMA " %%ymm14, %%ymm15, %%ymm" #hi "\n\t"
#define X2_TSTEP(BCAST, FMA, ES, o)                                                            \
    "vmovups " #o "*64(%%rdx), %%ymm13\n\t"                                                     \
    "vmovups " #o "*64+32(%%rdx), %%ymm14\n\t"                                                  \
    X2_TSTEP_ROW(BCAST, FMA, #o "*" ES "(%%r8,%%rax," ES ")", 0, 1)                             \
    X2_TSTEP_ROW(BCAST, FMA, #o "*" ES "(%%r9,%%rax," ES ")", 2, 3)                             \
    X2_TSTEP_ROW(BCAST, FMA, #o "*" ES "(%%r10,%%rax," ES ")", 4, 5)                            \
    X2_TSTEP_ROW(BCAST, FMA, #o "*" ES "(%%r11,%%rax," ES ")", 6, 7)                            \
    X2_TSTEP_ROW(BCAST, FMA, #o "*" ES "(%%r12,%%rax," ES ")", 8, 9)                            \
    X2_TSTEP_ROW(BCAST, FMA, #o "*" ES "(%%r13,%%rax," ES ")", 10, 11)
#define X2_TSTORE(r, lo, hi)                                                                   \
    "vmovups %%ymm" #lo ", " #r "*64(%%rcx)\n\t" "vmovups %%ymm" #hi ", " #r "*64+32(%%rcx)\n\t"
#define X2_ASM_IND_TILE(BCAST, FMA, ES)                                                        \
    {                                                                                          \
        const struct {                                                                         \
            const T *const *ind;                                                               \
            ptrdiff_t ntaps, coff, cend4;                                                      \
            const T *b;                                                                        \
            T *tile;                                                                           \
            ptrdiff_t cend;                                                                    \
        } prm = {ind, ntaps, coff, coff + c / 4 * 4, b, tile, coff + c};                       \
        __asm__ volatile("mov 0(%[prm]), %%rsi\n\t"                                            \
                         "mov 8(%[prm]), %%rdi\n\t"                                            \
                         "mov 24(%[prm]), %%rbx\n\t"                                           \
                         "mov 32(%[prm]), %%rdx\n\t"                                           \
                         "vxorps %%xmm0, %%xmm0, %%xmm0\n\t" "vxorps %%xmm1, %%xmm1, %%xmm1\n\t" \
                         "vxorps %%xmm2, %%xmm2, %%xmm2\n\t" "vxorps %%xmm3, %%xmm3, %%xmm3\n\t" \
                         "vxorps %%xmm4, %%xmm4, %%xmm4\n\t" "vxorps %%xmm5, %%xmm5, %%xmm5\n\t" \
                         "vxorps %%xmm6, %%xmm6, %%xmm6\n\t" "vxorps %%xmm7, %%xmm7, %%xmm7\n\t" \
                         "vxorps %%xmm8, %%xmm8, %%xmm8\n\t" "vxorps %%xmm9, %%xmm9, %%xmm9\n\t" \
                         "vxorps %%xmm10, %%xmm10, %%xmm10\n\t"                                 \
                         "vxorps %%xmm11, %%xmm11, %%xmm11\n\t"                                 \
                         "2:\n\t"                                                               \
                         "mov 0(%%rsi), %%r8\n\t"                                               \
                         "mov 8(%%rsi), %%r9\n\t"                                               \
                         "mov 16(%%rsi), %%r10\n\t"                                             \
                         "mov 24(%%rsi), %%r11\n\t"                                             \
                         "mov 32(%%rsi), %%r12\n\t"                                             \
                         "mov 40(%%rsi), %%r13\n\t"                                             \
                         "mov 16(%[prm]), %%rax\n\t"                                           \
                         "cmp %%rbx, %%rax\n\t"                                                 \
                         "jge 3f\n\t"                                                           \
                         "1:\n\t"                                                               \
                         X2_UNROLL4(X2_TSTEP, BCAST, FMA, ES)                                   \
                         "add $4, %%rax\n\t"                                                    \
                         "add $256, %%rdx\n\t"                                                  \
                         "cmp %%rbx, %%rax\n\t"                                                 \
                         "jl 1b\n\t"                                                            \
                         "3:\n\t"                                                               \
                         "cmp 48(%[prm]), %%rax\n\t"                                           \
                         "jge 4f\n\t"                                                           \
                         X2_TSTEP(BCAST, FMA, ES, 0)                                           \
                         "add $1, %%rax\n\t"                                                    \
                         "add $64, %%rdx\n\t"                                                   \
                         "jmp 3b\n\t"                                                           \
                         "4:\n\t"                                                               \
                         "add $48, %%rsi\n\t"                                                   \
                         "dec %%rdi\n\t"                                                        \
                         "jnz 2b\n\t"                                                           \
                         "mov 40(%[prm]), %%rcx\n\t"                                           \
                         X2_TSTORE(0, 0, 1) X2_TSTORE(1, 2, 3) X2_TSTORE(2, 4, 5)              \
                         X2_TSTORE(3, 6, 7) X2_TSTORE(4, 8, 9) X2_TSTORE(5, 10, 11)            \
                         :                                                                     \
                         : [prm] "r"(&prm)                                                     \
                         : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", \
                           "r12", "r13", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",       \
                           "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm13", "xmm14", \
                           "xmm15", "memory", "cc");                                           \
    }
/* strided rows: step o reads koff[o]; rows 0-2 at p + {0,1,2}*rs, rows 3-5 at q = p + 3*rs;
 * the loop bounds and strides come in a small struct (the operand limit again) */
#define X2_SSTEP(BCAST, FMA, ES, o)                                                            \
    "mov " #o "*8(%[koff]), %%rax\n\t"                                                         \
    "lea (%%r8,%%rax," ES "), %%rcx\n\t"                                                       \
    "lea (%%rcx,%%r10,1), %%rdx\n\t"                                                           \
    X2_LOAD_B(o)                                                                               \
    X2_STEP_ROW(BCAST, FMA, "(%%rcx)", 0)                                                      \
    X2_STEP_ROW(BCAST, FMA, "(%%rcx,%%r9,1)", 1)                                               \
    X2_STEP_ROW(BCAST, FMA, "(%%rcx,%%r9,2)", 2)                                               \
    X2_STEP_ROW(BCAST, FMA, "(%%rdx)", 3)                                                      \
    X2_STEP_ROW(BCAST, FMA, "(%%rdx,%%r9,1)", 4)                                               \
    X2_STEP_ROW(BCAST, FMA, "(%%rdx,%%r9,2)", 5)
#define X2_ASM_STR(BCAST, FMA, ES)                                                             \
    if (kc >= 4) {                                                                             \
        const struct {                                                                         \
            const T *a;                                                                        \
            ptrdiff_t rs_bytes, rs3_bytes;                                                     \
            const ptrdiff_t *koff_end;                                                         \
        } prm = {a, rs * (ptrdiff_t)sizeof(T), 3 * rs * (ptrdiff_t)sizeof(T), koff + kc / 4 * 4}; \
        __asm__ volatile("mov 0(%[prm]), %%r8\n\t"                                             \
                         "mov 8(%[prm]), %%r9\n\t"                                             \
                         "mov 16(%[prm]), %%r10\n\t"                                           \
                         "mov 24(%[prm]), %%r11\n\t"                                           \
                         ".p2align 5\n\t"                                                      \
                         "1:\n\t"                                                              \
                         X2_UNROLL4(X2_SSTEP, BCAST, FMA, ES)                                   \
                         "add $32, %[koff]\n\t"                                                \
                         "add $256, %[b]\n\t"                                                  \
                         "cmp %%r11, %[koff]\n\t"                                              \
                         "jne 1b\n\t"                                                          \
                         : X2_ACCUMULATORS, [koff] "+r"(koff), [b] "+r"(b)                    \
                         : [prm] "r"(&prm)                                                     \
                         : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "xmm13", "xmm14",   \
                           "xmm15", "memory", "cc");                                           \
    }
#define KASM_PACKED X2_ASM_PACKED(X2_BCAST, X2_FMA, X2_ES)
#define KASM_STR X2_ASM_STR(X2_BCAST, X2_FMA, X2_ES)
#define KASM_IND_TILE X2_ASM_IND_TILE(X2_BCAST, X2_FMA, X2_ES)
#endif

#define X2_BCAST "vbroadcastss"
#define X2_FMA "vfmadd231ps"
#define X2_ES "4"
#define KNAME avx2_f32
#include "vec_avx2.h"
#include "ukernel_x86_impl.h"
#include "conv_small_impl.h"
#include "vec_undef.h"

#undef X2_BCAST
#undef X2_FMA
#undef X2_ES
#define X2_BCAST "vbroadcastsd"
#define X2_FMA "vfmadd231pd"
#define X2_ES "8"
#define FCNN_VEC_F64
#define KNAME avx2_f64
#include "vec_avx2.h"
#include "ukernel_x86_impl.h"
#include "conv_small_impl.h"

const fcnn_isa fcnn_isa_avx2 = {
    "avx2", 6, 16, 6, 8, ukr_avx2_f32, ukr_avx2_f64, ukr_ind_avx2_f32, ukr_ind_avx2_f64,
    ukr_str_avx2_f32, ukr_str_avx2_f64,
    dx_small_rows_avx2_f32, dx_small_rows_avx2_f64,
    dw_small_tile_avx2_f32, dw_small_tile_avx2_f64,
    fwd_small_rows_avx2_f32, fwd_small_rows_avx2_f64, fma_loop_avx2,
    add_residual_avx2_f32, add_residual_avx2_f64,
    wino_in_avx2_f32, wino_in_avx2_f64, wino_out_avx2_f32, wino_out_avx2_f64,
    wino_dy_avx2_f32, wino_dy_avx2_f64,
};

#else
const fcnn_isa fcnn_isa_avx2 = {0};
#endif
