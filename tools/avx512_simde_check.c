/* The AVX-512 unit's few-channel convolution kernels against naive loops in double, on any
 * x86-64 or other CPU: tools/check_avx512_simde compiles csrc/ukernel_avx512.c against SIMDe
 * (portable implementations of the intrinsics) and links this file to it. Checks the forward
 * kernel (fwd_small_*), the dx kernel (dx_small_*) and the dW kernel (dw_small_*) over shapes
 * that reach their edge paths (rows shorter than a tile, the last tile moved back, partial
 * filter blocks, stride 2, padding, ReLU, masks, no bias), the three GEMM micro-kernels
 * (packed, indirect, strided) on full and partial tiles (edge panels of one vector or less
 * among them) with every epilogue flag, and the Winograd weight gradient's dY transform.
 * Exit status 1 on any mismatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "fastcnn_kernels.h"

extern const fcnn_isa fcnn_isa_avx512;
extern const fcnn_isa fcnn_isa_avx512_narrow;

static double rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 8) & 0xffff) / 32768.0 - 1.0; }

/* Whether got misses want by more than tol, relative to 1 + |want| (every check's rule). */
static int far_off(double got, double want, double tol)
{
    return fabs(got - want) > tol * (1 + fabs(want));
}

#define DEFINE_CHECK(T, SFX, FIELD, NRF, TOL)                                                  \
static int check_fwd_##SFX(int n, int h, int w, int c, int kh, int kw, int f, int s, int relu, \
                           int with_bias)                                                      \
{                                                                                              \
    const int nr = fcnn_isa_avx512.NRF;                                                        \
    const int oh = (h - kh) / s + 1, ow = (w - kw) / s + 1, k = kh * kw * c;                   \
    const int slack = (w + 12 * s + 1) * c;                                                    \
    T *x = calloc((size_t)n * h * w * c + slack, sizeof(T));                                   \
    T *wt = malloc(sizeof(T) * k * f), *b = malloc(sizeof(T) * f);                             \
    int fp = (f + nr - 1) / nr * nr;                                                           \
    T *bp = calloc((size_t)fp * k, sizeof(T));                                                 \
    T *y = malloc(sizeof(T) * n * oh * ow * f);                                                \
    ptrdiff_t *koff = malloc(sizeof(ptrdiff_t) * k);                                           \
    unsigned seed = 12345u + n * 7 + c * 13 + f * 17 + s;                                      \
    for (long i = 0; i < (long)n * h * w * c; ++i) x[i] = (T)rnd(&seed);                       \
    for (int i = 0; i < k * f; ++i) wt[i] = (T)rnd(&seed);                                     \
    for (int i = 0; i < f; ++i) b[i] = (T)rnd(&seed);                                          \
    /* pack: panel j0 (nr filters) is k rows of nr values, zero past f */                      \
    for (int j0 = 0; j0 < f; j0 += nr)                                                         \
        for (int p = 0; p < k; ++p)                                                            \
            for (int j = 0; j < nr && j0 + j < f; ++j) bp[j0 * k + p * nr + j] = wt[p * f + j0 + j]; \
    for (int t = 0; t < kh * kw; ++t)                                                          \
        for (int ci = 0; ci < c; ++ci) koff[t * c + ci] = ((t / kw) * w + t % kw) * c + ci;    \
    fcnn_conv_small g = {.src = x, .hp = h, .wp = w, .c = c, .sh = s, .sw = s, .oh = oh,       \
                         .ow = ow, .f = f, .k = k, .kw = kw, .koff = koff, .b_packed = bp,   \
                         .bias = with_bias ? b : NULL, .relu = relu, .dst = y};             \
    fcnn_isa_avx512.FIELD(&g, 0, (ptrdiff_t)n * oh);                                           \
    int bad = 0;                                                                               \
    for (int i = 0; i < n; ++i)                                                                \
        for (int a = 0; a < oh; ++a)                                                           \
            for (int q = 0; q < ow; ++q)                                                       \
                for (int j = 0; j < f; ++j) {                                                  \
                    double acc = 0;                                                            \
                    for (int t = 0; t < kh * kw; ++t)                                          \
                        for (int ci = 0; ci < c; ++ci)                                         \
                            acc += (double)x[((i * h + a * s + t / kw) * w + q * s + t % kw) * c + ci] \
                                   * wt[(t * c + ci) * f + j];                                 \
                    if (with_bias) acc += b[j];                                                \
                    if (relu && acc < 0) acc = 0;                                              \
                    double got = y[((i * oh + a) * ow + q) * f + j];                           \
                    if (far_off(got, acc, TOL) && bad++ < 3)                                   \
                        printf("  mismatch " #SFX " at (%d,%d,%d,%d): %g vs %g\n", i, a, q, j,  \
                               got, acc);                                                      \
                }                                                                              \
    printf("fwd_small " #SFX " n=%d %dx%dx%d k=%dx%d f=%d s=%d relu=%d bias=%d: %s\n", n, h, w, \
           c, kh, kw, f, s, relu, with_bias, bad ? "FAIL" : "ok");                             \
    free(x); free(wt); free(b); free(bp); free(y); free(koff);                                 \
    return bad != 0;                                                                           \
}
DEFINE_CHECK(float, f32, fwd_small_f32, nr_f32, 1e-4)
DEFINE_CHECK(double, f64, fwd_small_f64, nr_f64, 1e-12)

#define DEFINE_DX_CHECK(T, SFX, FIELD, TOL)                                                    \
static int check_dx_##SFX(int n, int h, int w, int c, int kh, int kw, int f, int s, int pt,    \
                          int pl, int oh, int ow)                                              \
{                                                                                              \
    T *dy = malloc(sizeof(T) * n * oh * ow * f), *wt = malloc(sizeof(T) * kh * kw * c * f);    \
    T *dx = malloc(sizeof(T) * n * h * w * c);                                                 \
    unsigned seed = 777u + n * 7 + c * 13 + f * 17 + s;                                        \
    for (long i = 0; i < (long)n * oh * ow * f; ++i) dy[i] = (T)rnd(&seed);                    \
    for (int i = 0; i < kh * kw * c * f; ++i) wt[i] = (T)rnd(&seed);                           \
    fcnn_conv_dx_direct g = {dy, wt, dx, h, w, c, oh, ow, f, kh, kw, s, s, pt, pl};            \
    fcnn_isa_avx512.FIELD(&g, 0, (ptrdiff_t)n * h);                                            \
    int bad = 0;                                                                               \
    for (int i = 0; i < n; ++i)                                                                \
        for (int ih = 0; ih < h; ++ih)                                                         \
            for (int iw = 0; iw < w; ++iw)                                                     \
                for (int ci = 0; ci < c; ++ci) {                                               \
                    double acc = 0;                                                            \
                    for (int a = 0; a < kh; ++a)                                               \
                        for (int q = 0; q < kw; ++q) {                                         \
                            int nh = ih + pt - a, nw = iw + pl - q;                            \
                            if (nh < 0 || nw < 0 || nh % s || nw % s) continue;                \
                            nh /= s;                                                           \
                            nw /= s;                                                           \
                            if (nh >= oh || nw >= ow) continue;                                \
                            for (int j = 0; j < f; ++j)                                        \
                                acc += (double)dy[((i * oh + nh) * ow + nw) * f + j]           \
                                       * wt[((a * kw + q) * c + ci) * f + j];                  \
                        }                                                                      \
                    double got = dx[((i * h + ih) * w + iw) * c + ci];                         \
                    if (far_off(got, acc, TOL) && bad++ < 3)                                   \
                        printf("  mismatch " #SFX " at (%d,%d,%d,%d): %g vs %g\n", i, ih, iw,  \
                               ci, got, acc);                                                  \
                }                                                                              \
    printf("dx_small  " #SFX " n=%d %dx%dx%d k=%dx%d f=%d s=%d pad=%d,%d: %s\n", n, h, w, c,   \
           kh, kw, f, s, pt, pl, bad ? "FAIL" : "ok");                                         \
    free(dy); free(wt); free(dx);                                                              \
    return bad != 0;                                                                           \
}
DEFINE_DX_CHECK(float, f32, dx_small_f32, 1e-4)
DEFINE_DX_CHECK(double, f64, dx_small_f64, 1e-12)

/* The GEMM micro-kernels: C (mr x nr of an MR x NR tile) = A * B over kc steps, with the
 * epilogue flags; A packed (a[p*MR + r]), through row pointers (indirect: row r of tap t is
 * ind[t*MR + r][coff ..]) and strided (row r at a[r*rs + koff[p]]). */
#define DEFINE_UKR_CHECK(T, SFX, TOL)                                                          \
static int check_ukr_##SFX(const fcnn_isa *isa, int kind, int kc, int mr, int nr, int flags) \
{                                                                                              \
    const int MR = isa->mr_##SFX, NR = isa->nr_##SFX, ldc = NR + 3, rs = 5;                    \
    unsigned seed = 99u + kind * 1000 + kc * 31 + mr * 7 + nr * 3 + flags;                     \
    T *a = malloc(sizeof(T) * kc * MR), *b = malloc(sizeof(T) * kc * NR);                      \
    /* room for both readers: the strided rows (rs apart) and the indirect ones (kc + 3) */   \
    const int nsrc = (MR * rs + kc + 8 > MR * (kc + 3) + 2 ? MR * rs + kc + 8 : MR * (kc + 3) + 2) * 2; \
    T *src = calloc((size_t)nsrc, sizeof(T));                                                  \
    T *c = malloc(sizeof(T) * MR * ldc), *c0 = malloc(sizeof(T) * MR * ldc);                   \
    T *bias = malloc(sizeof(T) * NR);                                                          \
    T *crow[64];                                                                               \
    const T **ind = malloc(sizeof(T *) * MR);                                                  \
    ptrdiff_t *koff = malloc(sizeof(ptrdiff_t) * kc);                                          \
    for (int i = 0; i < kc * NR; ++i) b[i] = (T)rnd(&seed);                                    \
    for (int i = 0; i < NR; ++i) bias[i] = (T)rnd(&seed);                                      \
    for (int i = 0; i < MR * ldc; ++i) c[i] = c0[i] = (T)rnd(&seed);                           \
    for (int i = 0; i < nsrc; ++i) src[i] = (T)rnd(&seed);                                     \
    for (int p = 0; p < kc; ++p) koff[p] = p + (p % 3 == 2);   /* steps not all adjacent */  \
    /* A[r][p] as each kernel reads it */                                                     \
    for (int r = 0; r < MR; ++r) {                                                             \
        ind[r] = src + r * (kc + 3);                                                           \
        for (int p = 0; p < kc; ++p)                                                           \
            a[p * MR + r] = kind == 0 ? (T)rnd(&seed)                                          \
                          : kind == 1 ? ind[r][1 + p] : src[r * rs + koff[p]];                 \
    }                                                                                          \
    for (int r = 0; r < MR; ++r) crow[r] = c + r * ldc;                                        \
    if (kind == 0)                                                                             \
        isa->ukr_##SFX(kc, a, b, crow, 1, mr, nr, flags, bias);                                \
    else if (kind == 1)                                                                        \
        isa->ukr_ind_##SFX(1, kc, 1, ind, b, crow, 1, mr, nr, flags, bias);                    \
    else                                                                                       \
        isa->ukr_str_##SFX(kc, koff, src, rs, b, crow, 1, mr, nr, flags, bias);                \
    int bad = 0;                                                                               \
    for (int r = 0; r < MR; ++r)                                                               \
        for (int j = 0; j < ldc; ++j) {                                                        \
            double want = c0[r * ldc + j];                                                     \
            if (r < mr && j >= 1 && j < 1 + nr) {                                              \
                double acc = 0;                                                                \
                for (int p = 0; p < kc; ++p) acc += (double)a[p * MR + r] * b[p * NR + j - 1]; \
                if (flags & FCNN_ACCUMULATE) acc += c0[r * ldc + j];                           \
                if (flags & FCNN_BIAS) acc += bias[j - 1];                                     \
                if ((flags & FCNN_RELU) && acc < 0) acc = 0;                                   \
                want = acc;                                                                    \
            }                                                                                  \
            double got = c[r * ldc + j];                                                       \
            if (far_off(got, want, TOL) && bad++ < 3)                                         \
                printf("  mismatch " #SFX " at (%d,%d): %g vs %g\n", r, j, got, want);         \
        }                                                                                      \
    printf("ukr%s " #SFX " %s kc=%d tile %dx%d of %dx%d flags=%d: %s\n",                       \
           kind == 0 ? "    " : kind == 1 ? "_ind" : "_str", isa->name, kc, mr, nr, MR, NR,    \
           flags, bad ? "FAIL" : "ok");                                                        \
    free(a); free(b); free(src); free(c); free(c0); free(bias); free(ind); free(koff);         \
    return bad != 0;                                                                           \
}
DEFINE_UKR_CHECK(float, f32, 1e-4)
DEFINE_UKR_CHECK(double, f64, 1e-12)

/* dW over few channels: rows [k0, k0 + kn) of dW = X^T dY over pixels [p0, p0 + pc) of a
 * valid convolution (stride s), db over the same pixels, dY masked where mask <= 0. */
#define DEFINE_DW_CHECK(T, SFX, TOL)                                                           \
static int check_dw_##SFX(int n, int h, int w, int c, int kh, int kw, int f, int s,            \
                          int masked, int p0, int pc, int k0, int kn)                          \
{                                                                                              \
    const int oh = (h - kh) / s + 1, ow = (w - kw) / s + 1, k = kh * kw * c, m = n * oh * ow;  \
    T *x = malloc(sizeof(T) * n * h * w * c), *dy = malloc(sizeof(T) * m * f);                 \
    T *mask = malloc(sizeof(T) * m * f), *part = malloc(sizeof(T) * k * f);                    \
    /* the kernel's share of fcnn_conv_dw_workspace: a masked block of dY, then the sums by  \
     * column vectors of channels */                                                          \
    T *db = malloc(sizeof(T) * f), *work = malloc(sizeof(T) * (FCNN_DW_PC + FCNN_DW_NC) * f);  \
    ptrdiff_t *tap_h = malloc(sizeof(ptrdiff_t) * kh * kw), *tap_w = malloc(sizeof(ptrdiff_t) * kh * kw); \
    unsigned seed = 4242u + n * 7 + c * 13 + f * 17 + s + masked;                              \
    for (long i = 0; i < (long)n * h * w * c; ++i) x[i] = (T)rnd(&seed);                      \
    for (long i = 0; i < (long)m * f; ++i) dy[i] = (T)rnd(&seed);                              \
    for (long i = 0; i < (long)m * f; ++i) mask[i] = (T)rnd(&seed);                            \
    for (int i = 0; i < k * f; ++i) part[i] = -7;                                              \
    for (int t = 0; t < kh * kw; ++t) { tap_h[t] = t / kw; tap_w[t] = t % kw; }                \
    fcnn_conv_dw g;                                                                            \
    memset(&g, 0, sizeof g);                                                                   \
    g.x.src = x; g.x.src_h = h; g.x.src_w = w; g.x.src_c = c; g.x.ntaps = kh * kw;             \
    g.x.tap_h = tap_h; g.x.tap_w = tap_w; g.x.rows_h = oh; g.x.rows_w = ow;                    \
    g.x.base_h0 = 0; g.x.base_hs = s; g.x.base_w0 = 0; g.x.base_ws = s;                        \
    g.dy = dy; g.mask = masked ? mask : NULL; g.m = m; g.k = k; g.f = f;                       \
    fcnn_isa_avx512.dw_small_##SFX(&g, p0, pc, k0, kn, part, k0 == 0 ? db : NULL, work);       \
    int bad = 0;                                                                               \
    for (int kk = 0; kk < k; ++kk)                                                             \
        for (int j = 0; j < f; ++j) {                                                          \
            double want = -7;                                                                  \
            if (kk >= k0 && kk < k0 + kn) {                                                    \
                const int t = kk / c, ci = kk % c;                                             \
                want = 0;                                                                      \
                for (int pp = p0; pp < p0 + pc; ++pp) {                                        \
                    const int i = pp / (oh * ow), a = pp / ow % oh, q = pp % ow;               \
                    double d = dy[(long)pp * f + j];                                           \
                    if (masked && !(mask[(long)pp * f + j] > 0)) d = 0;                        \
                    want += d * x[((i * h + a * s + t / kw) * w + q * s + t % kw) * c + ci];   \
                }                                                                              \
            }                                                                                  \
            double got = part[kk * f + j];                                                     \
            if (far_off(got, want, TOL) && bad++ < 3)                                         \
                printf("  mismatch " #SFX " dW at (%d,%d): %g vs %g\n", kk, j, got, want);     \
        }                                                                                      \
    for (int j = 0; j < f && k0 == 0; ++j) {                                                   \
        double want = 0;                                                                       \
        for (int pp = p0; pp < p0 + pc; ++pp) {                                                \
            double d = dy[(long)pp * f + j];                                                   \
            if (masked && !(mask[(long)pp * f + j] > 0)) d = 0;                                \
            want += d;                                                                         \
        }                                                                                      \
        if (far_off(db[j], want, TOL) && bad++ < 3)                                           \
            printf("  mismatch " #SFX " db at %d: %g vs %g\n", j, (double)db[j], want);        \
    }                                                                                          \
    printf("dw_small  " #SFX " n=%d %dx%dx%d k=%dx%d f=%d s=%d mask=%d pixels %d+%d k %d+%d: %s\n", \
           n, h, w, c, kh, kw, f, s, masked, p0, pc, k0, kn, bad ? "FAIL" : "ok");             \
    free(x); free(dy); free(mask); free(part); free(db); free(work); free(tap_h); free(tap_w);  \
    return bad != 0;                                                                           \
}
DEFINE_DW_CHECK(float, f32, 1e-4)
DEFINE_DW_CHECK(double, f64, 1e-12)

/* The Winograd weight gradient's dY transform (wino_dy_*): nt tiles of 2 x 2 pixels over c
 * values from coff, some pixels a row of zeros, with and without a mask (values not > 0,
 * NaN among them, count as 0) and the db sums, against the definition M' = A' dY A'^T. */
#define DEFINE_WINO_DY_CHECK(T, SFX, TOL)                                                      \
static int check_wino_dy_##SFX(int nt, int c, int coff, int masked)                           \
{                                                                                              \
    static const double A[4][2] = {{1, 0}, {1, 1}, {1, -1}, {0, 1}};                           \
    unsigned seed = 7u + nt * 13 + c * 5 + coff + masked;                                      \
    const int width = coff + c, ts = c + 3, ms = nt * ts + 1;                                  \
    T *px = malloc(sizeof(T) * 4 * nt * width), *mk = malloc(sizeof(T) * 4 * nt * width);      \
    T *zeros = calloc((size_t)width, sizeof(T)), *m = malloc(sizeof(T) * 16 * ms);             \
    T *db = malloc(sizeof(T) * c);                                                             \
    const T **d = malloc(sizeof(T *) * 4 * nt), **dm = malloc(sizeof(T *) * 4 * nt);           \
    for (int i = 0; i < 4 * nt * width; ++i) {                                                 \
        px[i] = (T)rnd(&seed);                                                                 \
        mk[i] = i % 7 == 3 ? (T)NAN : i % 5 == 1 ? (T)0 : (T)rnd(&seed);                      \
    }                                                                                          \
    for (int q = 0; q < 4 * nt; ++q) {  /* every fifth pixel outside the output */            \
        d[q] = q % 5 == 4 ? zeros : px + q * width;                                            \
        dm[q] = q % 5 == 4 ? zeros : mk + q * width;                                           \
    }                                                                                          \
    for (int j = 0; j < c; ++j) db[j] = (T)j;                                                  \
    fcnn_isa_avx512.wino_dy_##SFX(d, masked ? dm : NULL, nt, c, coff, m, ms, ts, db);          \
    int bad = 0;                                                                               \
    for (int j = 0; j < c; ++j) {                                                              \
        double sum = j;                                                                        \
        for (int t = 0; t < nt; ++t) {                                                         \
            double y[2][2];                                                                    \
            for (int q = 0; q < 4; ++q) {                                                      \
                const double v = d[4 * t + q][coff + j];                                       \
                y[q / 2][q % 2] = masked && !(dm[4 * t + q][coff + j] > 0) ? 0 : v;            \
                sum += y[q / 2][q % 2];                                                        \
            }                                                                                  \
            for (int i = 0; i < 4; ++i)                                                        \
                for (int k = 0; k < 4; ++k) {                                                  \
                    double want = 0;                                                           \
                    for (int a = 0; a < 2; ++a)                                                \
                        for (int b = 0; b < 2; ++b) want += A[i][a] * y[a][b] * A[k][b];       \
                    const double got = m[(4 * i + k) * ms + t * ts + j];                       \
                    if (far_off(got, want, TOL) && bad++ < 3)                                 \
                        printf("  mismatch " #SFX " M' tile %d pos %d value %d: %g vs %g\n",  \
                               t, 4 * i + k, j, got, want);                                    \
                }                                                                              \
        }                                                                                      \
        if (far_off(db[j], sum, TOL) && bad++ < 3)                                            \
            printf("  mismatch " #SFX " db at %d: %g vs %g\n", j, (double)db[j], sum);         \
    }                                                                                          \
    printf("wino_dy   " #SFX " tiles=%d c=%d coff=%d mask=%d: %s\n", nt, c, coff, masked,     \
           bad ? "FAIL" : "ok");                                                               \
    free(px); free(mk); free(zeros); free(m); free(db); free(d); free(dm);                     \
    return bad != 0;                                                                           \
}
DEFINE_WINO_DY_CHECK(float, f32, 1e-5)
DEFINE_WINO_DY_CHECK(double, f64, 1e-13)

int main(void)
{
    int fails = 0;
    printf("isa %s mr_f32=%d nr_f32=%d\n", fcnn_isa_avx512.name, fcnn_isa_avx512.mr_f32, fcnn_isa_avx512.nr_f32);
    int cases[][9] = {{2, 28, 28, 1, 3, 3, 32, 1, 0}, {1, 10, 30, 3, 3, 3, 40, 1, 1},
                      {2, 9, 9, 1, 5, 5, 7, 1, 1}, {1, 12, 31, 2, 3, 3, 33, 2, 0},
                      {3, 8, 14, 5, 2, 2, 16, 1, 1}, {1, 7, 7, 1, 3, 3, 64, 1, 0},
                      {2, 10, 12, 16, 3, 3, 16, 1, 1},    /* 16 channels: ResNet-20's stage 1 */
                      /* the narrow block's wide tiles (16 values between pixels): rows of
                       * 28, 24, 20 pixels, 32 (2 x 16), 14 with 12 filters, 13 (8 + 8
                       * overlapping), 58 (3 x 20 overlapping), 8 filters (narrow in f64
                       * too), 8 channels at stride 2 (10: 8 + 8), and 7 (the 12 tile) */
                      {2, 5, 30, 16, 3, 3, 16, 1, 0}, {1, 3, 26, 16, 3, 3, 16, 1, 1},
                      {1, 3, 22, 16, 3, 3, 7, 1, 1}, {1, 4, 34, 16, 3, 3, 16, 1, 1},
                      {1, 4, 16, 16, 3, 3, 12, 1, 0}, {1, 3, 15, 16, 3, 3, 5, 1, 1},
                      {1, 3, 60, 16, 3, 3, 16, 1, 0}, {1, 4, 30, 16, 3, 3, 8, 1, 1},
                      {1, 5, 21, 8, 3, 3, 8, 2, 1}, {1, 3, 9, 16, 3, 3, 16, 1, 0}};
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        for (int bias = 0; bias < 2; ++bias) {
            int *a = cases[i];
            fails += check_fwd_f32(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], bias);
            fails += check_fwd_f64(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], bias);
        }
    /* n, h, w, c, kh, kw, f, stride, pad top, pad left, out h, out w */
    int dx_cases[][12] = {{2, 28, 28, 1, 3, 3, 32, 1, 0, 0, 26, 26},
                          {1, 9, 11, 3, 3, 3, 40, 1, 1, 1, 9, 11},
                          {2, 8, 8, 1, 5, 5, 7, 1, 2, 2, 8, 8},
                          {1, 12, 13, 2, 3, 3, 33, 2, 1, 1, 6, 7},
                          {1, 6, 6, 5, 2, 2, 16, 2, 0, 0, 3, 3}};
    for (unsigned i = 0; i < sizeof dx_cases / sizeof dx_cases[0]; ++i) {
        int *a = dx_cases[i];
        fails += check_dx_f32(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10],
                              a[11]);
        fails += check_dx_f64(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10],
                              a[11]);
    }
    /* the wide and the narrow tile: kind (packed, indirect, strided), kc, mr, nr (of MR x NR),
     * flags */
    const fcnn_isa *isas[] = {&fcnn_isa_avx512, &fcnn_isa_avx512_narrow};
    const int kcs[] = {1, 3, 4, 17, 64};
    for (int u = 0; u < 2; ++u) {
        const fcnn_isa *isa = isas[u];
        const int MR32 = isa->mr_f32, NR32 = isa->nr_f32, MR64 = isa->mr_f64, NR64 = isa->nr_f64;
        for (int kind = 0; kind < 3; ++kind)
            for (unsigned q = 0; q < sizeof kcs / sizeof kcs[0]; ++q)
                for (int flags = 0; flags < 8; ++flags) {
                    if ((flags & FCNN_ACCUMULATE) && (flags & FCNN_BIAS)) continue; /* not used */
                    fails += check_ukr_f32(isa, kind, kcs[q], MR32, NR32, flags);
                    fails += check_ukr_f32(isa, kind, kcs[q], MR32 - 5, NR32 - 9, flags);
                    fails += check_ukr_f64(isa, kind, kcs[q], MR64, NR64, flags);
                    fails += check_ukr_f64(isa, kind, kcs[q], 1, NR64 - 1, flags);
                    /* edge panels of one vector or less (the wide tile's low vector only) */
                    fails += check_ukr_f32(isa, kind, kcs[q], MR32, 16, flags);
                    fails += check_ukr_f32(isa, kind, kcs[q], MR32 - 1, 5, flags);
                    fails += check_ukr_f64(isa, kind, kcs[q], MR64 - 2, 3, flags);
                }
    }
    /* n, h, w, c, kh, kw, f, stride, masked, first pixel, pixels, first k, k count */
    int dw_cases[][13] = {{2, 28, 28, 1, 3, 3, 32, 1, 0, 0, 1352, 0, 9},
                          {2, 28, 28, 1, 3, 3, 32, 1, 1, 100, 500, 3, 6},
                          {1, 10, 12, 3, 3, 3, 40, 1, 1, 0, 80, 0, 27},
                          {2, 9, 9, 1, 5, 5, 7, 1, 0, 3, 47, 0, 25},
                          {1, 13, 11, 2, 3, 3, 33, 2, 1, 0, 30, 5, 13},
                          {3, 8, 14, 5, 2, 2, 64, 1, 0, 0, 273, 0, 20},
                          /* channels the direct kernel takes on AVX-512 (up to 64): groups
                           * of 12 and 11 values of K, narrow and wide filter blocks */
                          {2, 10, 10, 16, 3, 3, 16, 1, 1, 0, 128, 0, 144},
                          {1, 9, 9, 32, 3, 3, 48, 2, 0, 0, 16, 7, 23},
                          {1, 8, 8, 64, 3, 3, 64, 1, 1, 5, 31, 256, 256}};
    for (unsigned i = 0; i < sizeof dw_cases / sizeof dw_cases[0]; ++i) {
        int *a = dw_cases[i];
        fails += check_dw_f32(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10],
                              a[11], a[12]);
        fails += check_dw_f64(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10],
                              a[11], a[12]);
    }
    /* tiles, values (whole vectors and a tail), offset, mask */
    int wino_cases[][4] = {{3, 32, 0, 0}, {5, 32, 32, 1}, {2, 19, 5, 1}, {1, 7, 0, 0}};
    for (unsigned i = 0; i < sizeof wino_cases / sizeof wino_cases[0]; ++i) {
        int *a = wino_cases[i];
        fails += check_wino_dy_f32(a[0], a[1], a[2], a[3]);
        fails += check_wino_dy_f64(a[0], a[1], a[2], a[3]);
    }
    printf("%d failing\n", fails);
    return fails != 0;
}
