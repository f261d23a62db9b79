# Convolution drivers (included by fastcnn/_kernels.pyx): implicit GEMM over NHWC on the
# micro-kernels of csrc/.
#
# Shapes, dtypes and geometry are checked once in fastcnn/ops.py; these functions trust them,
# release the GIL and split work over OpenMP threads in thread-count-independent blocks, so
# results are bitwise identical at any thread count.
from libc.string cimport memset

import numpy as np

from fastcnn._parallel cimport cdiv as _cdiv, team_size as _team

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FCNN_OPENMP 1
    static int fcnn_omp_max_threads(void) { return omp_get_max_threads(); }
    #else
    #define FCNN_OPENMP 0
    static int fcnn_omp_max_threads(void) { return 1; }
    #endif
    /* OpenMP 5.0's omp_pause_resource_all (in libgomp since GCC 9, which still reports an
     * older _OPENMP) ends the calling thread's pool of OpenMP threads. */
    #if defined(_OPENMP) && (_OPENMP >= 201811 || \
                             (defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9))
    static int fcnn_omp_release_threads(void) { return omp_pause_resource_all(omp_pause_hard) == 0; }
    #elif defined(_OPENMP)
    static int fcnn_omp_release_threads(void) { return 0; }
    #else
    static int fcnn_omp_release_threads(void) { return 1; }
    #endif
    /* Flush-to-zero (MXCSR bit 15: subnormal results become 0) and denormals-are-zero (bit
     * 6: subnormal inputs read as 0), the x86 SSE/AVX control of every float instruction of
     * a thread. Set on the calling thread; its OpenMP pool is then ended (new worker
     * threads start with a copy of the caller's floating-point state) and, where the pool
     * cannot be ended, a team of nthreads sets it in each of its threads. */
    #if defined(__x86_64__) || defined(_M_X64) || defined(__SSE__)
    #include <xmmintrin.h>
    #define FCNN_DENORMAL_BITS 0x8040u
    static void fcnn_set_csr_flush(int on) {
        unsigned int csr = _mm_getcsr();
        _mm_setcsr(on ? (csr | FCNN_DENORMAL_BITS) : (csr & ~FCNN_DENORMAL_BITS));
    }
    static int fcnn_get_flush_denormal(void) {
        return (_mm_getcsr() & FCNN_DENORMAL_BITS) == FCNN_DENORMAL_BITS;
    }
    static int fcnn_set_flush_denormal(int on, int nthreads) {
        fcnn_set_csr_flush(on);
    #ifdef _OPENMP
        if (!fcnn_omp_release_threads()) {
            #pragma omp parallel num_threads(nthreads)
            fcnn_set_csr_flush(on);
        }
    #endif
        return 1;
    }
    #else
    static int fcnn_get_flush_denormal(void) { return 0; }
    static int fcnn_set_flush_denormal(int on, int nthreads) { return 0; }
    #endif
    """
    const int FCNN_OPENMP
    int fcnn_omp_max_threads() nogil
    int fcnn_omp_release_threads() nogil
    int fcnn_set_flush_denormal(int on, int nthreads) nogil
    int fcnn_get_flush_denormal() nogil

cdef enum:
    # dW is reduced over output pixels in at most DW_MAX_PARTS parts, a number fixed by the
    # shape alone, each with its own partial sum; the parts are then added in order.
    DW_MAX_PARTS = 32
    DW_MIN_PART_ROWS = 512
    DW_PARTIALS_BUDGET = 64 * 1024 * 1024
    # the few-channel forward requests each image of at least this size while computing
    # the one before (fcnn_conv_small.next)
    PREFETCH_MIN_BYTES = 16 * 1024
    # Winograd's forward (3x3 at stride 1; also dx) from this many channels and filters and
    # 2x2 output tiles per image on (an image of fewer tiles leaves most of a micro-kernel's
    # rows empty: 4x4 outputs of 64 channels ran at half the direct speed, the backward
    # pass of 7x7x64 -> 64 (16 tiles) at 0.86x, of 8x8x64 at 1.00x); its blocks of
    # tiles hold their transformed tiles and products in about this many bytes (96 KB:
    # 1.28x the direct forward of 32x32x32 -> 32 and 1.56x for 56x56x64 -> 64, against
    # 1.31x / 1.42x at 48 KB and 1.17x / 1.48x at 24 KB)
    WINO_MIN_C = 32
    WINO_MIN_F = 32
    WINO_MIN_TILES = 25
    # ... or 16 tiles, all whole (8x8 outputs: ResNet-20's last stage on CIFAR-10; the
    # forward 1.3x the direct one, where 7x7 outputs (16 tiles, 49/64 of them used) broke
    # even, 5x5 and smaller lost); images of fewer than WINO_GROUP_TILES tiles are taken
    # several per call, their tiles in the same blocks (8x8x64 -> 64 and 14x14x32 -> 32,
    # 128 images: the forward 1.11x / 1.18x faster in groups of 192 tiles than of 25, and
    # 2-8% faster than in groups of 96 or 384)
    WINO_MIN_FULL_TILES = 16
    WINO_GROUP_TILES = 192
    WINO_BLOCK_BYTES = 96 * 1024
    # Winograd's dW (the same kernels; tiles taken across images, so any image size): the
    # batch in at most WINO_DW_PARTS parts of whole images, a number fixed by the shape
    # alone, each summed into its own 16 x C x F products; blocks of tiles (the products'
    # reduction run) hold their transformed tiles in about WINO_DW_BLOCK_BYTES, and are of
    # at least WINO_DW_MIN_TILES (on a Zen 5, 384 KB against 128 / 256 / 512 / 768 KB:
    # 1.2-1.5x the direct dW of K-CNN's, ResNet-20's, S5 and S6's shapes; the 128-channel S6
    # ran 1.2x faster at 32 tiles than at 24)
    WINO_DW_PARTS = 8
    # ... from this many channels and filters on (ResNet-20's 16-channel stage: 1.2x the
    # direct dW on a Zen 5, with AVX-512's 16 x 16 tile for 16 filters)
    WINO_DW_MIN_C = 16
    # ... where at least this share (%) of the tiles' outputs are outputs (5x5 and 7x7:
    # 69% and 77%, as fast as the direct dW; 3x3, 56%: 1.5x slower; 4x4 and 8x8 faster)
    WINO_DW_MIN_FILL = 80
    WINO_DW_BLOCK_BYTES = 384 * 1024
    WINO_DW_MIN_TILES = 32
    # (the few-channel thresholds are FCNN_*_C in csrc/fastcnn_kernels.h)
    # The fused convolution and max pooling keeps an image's convolution output in a buffer
    # per thread of at most this many bytes (in L2 at the seed model's 86 KB).
    FUSED_MAX_BUFFER = 1024 * 1024


def openmp_enabled():
    """Whether this build runs its loops on OpenMP threads."""
    return bool(FCNN_OPENMP)


def omp_max_threads():
    """OpenMP's default team size (OMP_NUM_THREADS when set), 1 without OpenMP."""
    return fcnn_omp_max_threads()


def release_openmp_threads():
    """End the calling thread's OpenMP worker threads (the next parallel loop starts new
    ones). Called before fork: a child inherits the runtime's record of those threads but not
    the threads, and would wait for them forever. True when done (or nothing to do)."""
    return bool(fcnn_omp_release_threads())


def set_flush_denormal(bint on, int nthreads):
    """Flush subnormal floats to zero (or stop) in the calling thread and in the OpenMP
    threads of its parallel loops (up to ``nthreads``); False where the CPU has no such
    mode (not x86)."""
    return bool(fcnn_set_flush_denormal(on, nthreads))


def flush_denormal():
    """Whether the calling thread flushes subnormal floats to zero."""
    return bool(fcnn_get_flush_denormal())


cdef inline Py_ssize_t _floordiv(Py_ssize_t a, Py_ssize_t b) nogil:
    # Python's floor division for b > 0 (with cdivision, // truncates toward zero).
    cdef Py_ssize_t q = a // b
    return q - 1 if (a % b != 0 and a < 0) else q


cdef inline size_t _lines(size_t nbytes) noexcept nogil:
    return (nbytes + 63) // 64 * 64


cdef inline void _gemm_block(const fcnn_conv_gemm *g, Py_ssize_t m0, Py_ssize_t mc, char *work,
                             const floating *like) noexcept nogil:
    """Rows [m0, m0 + mc) of the convolution GEMM g (`like` only selects the dtype)."""
    if floating is float:
        fcnn_conv_gemm_block_f32(g, m0, mc, work)
    else:
        fcnn_conv_gemm_block_f64(g, m0, mc, work)


cdef inline void _gemm_image(const fcnn_conv_gemm *g, const floating *src, floating *dst,
                             const floating *residual, char *work,
                             const floating *bp) noexcept nogil:
    """Every row of one image (g.a.rows_h x g.a.rows_w) of the forward convolution GEMM g,
    reading the image at src, writing dst (+ residual, laid out as dst), in blocks of FCNN_MC
    rows (`bp` only selects the dtype)."""
    cdef fcnn_conv_gemm gi = g[0]
    cdef Py_ssize_t rows = g.a.rows_h * g.a.rows_w, m0 = 0
    gi.a.src, gi.c.dst, gi.m, gi.residual = src, dst, rows, residual
    while m0 < rows:
        _gemm_block(&gi, m0, min(<Py_ssize_t>FCNN_MC, rows - m0), work, bp)
        m0 += FCNN_MC


cdef inline void _pool_image(const fcnn_pool_geom *pg, const void *pool_kernel,
                             const floating *buf, floating *py, floating *picks,
                             Py_ssize_t at) noexcept nogil:
    """One image's convolution output in buf (ReLU input) max-pooled by pool_kernel (a
    max_pick_forward of csrc/pool.h) into py + at, with its picks at picks + at (picks NULL:
    none recorded)."""
    cdef floating *pk = NULL if picks == NULL else picks + at
    if floating is float:
        (<fcnn_pool_pick_forward_f32>pool_kernel)(pg, buf, py + at, pk, 1, 0, pg.oh)
    else:
        (<fcnn_pool_pick_forward_f64>pool_kernel)(pg, buf, py + at, pk, 1, 0, pg.oh)


cdef int _run_gemm(fcnn_conv_gemm *g, const fcnn_bsource *bsrc, const floating *like,
                   int nthreads, const fcnn_pool_geom *pg=NULL, const void *pool_kernel=NULL,
                   floating *py=NULL, floating *picks=NULL) except -1:
    """Packs B from the weights and runs the GEMM over blocks of FCNN_MC rows. (`like` only
    selects the dtype.)

    With ``pool_kernel`` (a max_pick_forward of csrc/pool.h, pg its geometry over one image
    of the output, ReLU input), a forward convolution's GEMM runs image by image instead, each
    image's rows into a buffer of the thread's own, pooled from there while in cache into py
    and picks (N, pg.oh, pg.ow, F; picks NULL: none); g.c.dst is not used. Every output value
    is the same reduction, in the same order, in any block: the same bits as the GEMM over the
    batch followed by the pooling."""
    # a narrow GEMM (16 filters or channels in float32) runs on the kernel set whose tile it fills
    cdef const fcnn_isa *isa = fcnn_isa_for_width(g.n, floating is double)
    cdef int nr
    cdef size_t wsz
    g.isa = isa
    if floating is float:
        nr = isa.nr_f32
        wsz = fcnn_conv_gemm_workspace_f32(g.a.ntaps, g.k)
    else:
        nr = isa.nr_f64
        wsz = fcnn_conv_gemm_workspace_f64(g.a.ntaps, g.k)
    wsz = _lines(wsz)
    cdef bint pool = pool_kernel != NULL
    cdef Py_ssize_t image_rows = g.a.rows_h * g.a.rows_w
    cdef Py_ssize_t images = g.m // image_rows if pool else 0
    cdef Py_ssize_t nblocks = images if pool else _cdiv(g.m, FCNN_MC)
    cdef int nt = _team(nthreads, nblocks, <double>g.m * g.k * g.n)
    # one scratch block: packed B | a row of zeros (the padding) | per-thread tables |
    # (pooling) an output buffer per thread
    cdef size_t bp_bytes = _lines(<size_t>(_cdiv(g.n, nr) * nr * g.k) * sizeof(floating))
    cdef size_t zeros_bytes = _lines(<size_t>g.a.src_c * sizeof(floating))
    cdef size_t buf_bytes = _lines(<size_t>(image_rows * g.n) * sizeof(floating)) if pool else 0
    cdef size_t total = bp_bytes + zeros_bytes + nt * (wsz + buf_bytes)
    cdef char *block = <char *>fcnn_scratch_take(total)
    if block == NULL:
        raise MemoryError("could not allocate convolution workspace")
    cdef floating *bp = <floating *>block
    cdef floating *zeros = <floating *>(block + bp_bytes)
    cdef char *work = block + bp_bytes + zeros_bytes
    cdef char *bufs = work + nt * wsz
    cdef Py_ssize_t i, m0, pooled = pg.oh * pg.ow * g.n if pool else 0
    cdef Py_ssize_t image = g.a.src_h * g.a.src_w * g.a.src_c
    cdef int tid
    cdef floating *buf
    try:
        with nogil:
            memset(zeros, 0, <size_t>g.a.src_c * sizeof(floating))
            g.a.zeros = zeros
            if floating is float:
                fcnn_pack_bsource_f32(bsrc, g.n, nr, bp)
            else:
                fcnn_pack_bsource_f64(bsrc, g.n, nr, bp)
            g.b_packed = bp
            if pool:
                for i in prange(images, schedule="static", num_threads=nt):
                    tid = threadid()
                    buf = <floating *>(bufs + tid * buf_bytes)
                    _gemm_image(g, <const floating *>g.a.src + i * image, buf, NULL,
                                work + tid * wsz, bp)
                    _pool_image(pg, pool_kernel, buf, py, picks, i * pooled)
                return 0
            for i in prange(nblocks, schedule="static", num_threads=nt):
                tid = threadid()
                m0 = i * FCNN_MC
                _gemm_block(g, m0, min(<Py_ssize_t>FCNN_MC, g.m - m0), work + tid * wsz, bp)
    finally:
        fcnn_scratch_give(block, total)
    return 0


cdef inline void _pad_images(const floating[:, :, :, ::1] x, Py_ssize_t hp, Py_ssize_t wp,
                             Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t n0, Py_ssize_t n1,
                             floating *dst) noexcept nogil:
    """Images n0 .. n1-1 of x zero-padded to hp x wp (at offset pt, pl), image n0 at dst
    (fcnn_pad_images)."""
    if floating is float:
        fcnn_pad_images_f32(&x[n0, 0, 0, 0], x.shape[1], x.shape[2], x.shape[3], hp, wp, pt, pl,
                            0, n1 - n0, dst)
    else:
        fcnn_pad_images_f64(&x[n0, 0, 0, 0], x.shape[1], x.shape[2], x.shape[3], hp, wp, pt, pl,
                            0, n1 - n0, dst)


cdef inline void _small_setup(const floating[:, :, :, ::1] w, Py_ssize_t wp, Py_ssize_t sw,
                              int mr, int nr, Py_ssize_t padded_size, floating *padded,
                              floating *bp, ptrdiff_t *koff) noexcept nogil:
    """What the few-channel forward needs before the images: each reduction step's offset in
    a padded image (width wp), zeros in the slack after the padded images, the packed
    weights."""
    cdef Py_ssize_t kh = w.shape[0], kw = w.shape[1], c = w.shape[2], f = w.shape[3]
    cdef Py_ssize_t t, ci, i
    for t in range(kh * kw):
        for ci in range(c):
            koff[t * c + ci] = ((t // kw) * wp + t % kw) * c + ci
    for i in range(padded_size, padded_size + FCNN_SMALL_SLACK(wp, c, sw, mr)):
        padded[i] = 0
    if floating is float:
        fcnn_pack_b_f32(&w[0, 0, 0, 0], f, kh * kw * c, f, nr, bp)
    else:
        fcnn_pack_b_f64(&w[0, 0, 0, 0], f, kh * kw * c, f, nr, bp)


cdef inline bint _few_channels(Py_ssize_t c, Py_ssize_t k) noexcept nogil:
    """Whether a convolution over c input channels with k reduction steps takes the
    few-channel forward (fcnn_conv_small)."""
    return c < FCNN_SMALL_MAX_C and k <= FCNN_SMALL_MAX_K


cdef inline bint _has_row_kernel(bint f64) noexcept nogil:
    """Whether the kernel set in use has a few-channel forward row kernel of its own for this
    dtype (else fcnn_conv_small_rows runs the strided micro-kernel tile by tile)."""
    cdef const fcnn_isa *isa = fcnn_current_isa()
    return (isa.fwd_small_f64 if f64 else isa.fwd_small_f32) != NULL


cdef int _conv2d_forward_small(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                               const floating[::1] b, Py_ssize_t sh, Py_ssize_t sw,
                               Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t oh, Py_ssize_t ow,
                               bint relu, floating *y, int nthreads,
                               const fcnn_pool_geom *pg=NULL, const void *pool_kernel=NULL,
                               floating *py=NULL, floating *picks=NULL,
                               const floating *residual=NULL) except -1:
    """Forward pass over few channels (fcnn_conv_small) into y (N, oh, ow, F): a zero-padded
    copy of x, then every output row in tiles along the row through the strided micro-kernel
    (``residual``, laid out as y: added to the rows as they are finished, before the relu).

    With ``pool_kernel`` (a max_pick_forward of csrc/pool.h; pg its geometry over one image
    of the output, relu input) y is not used: each image's output goes to a buffer of the
    thread's own and is pooled from there, still in cache, into py and picks (N, pg.oh,
    pg.ow, F; picks NULL: none recorded); the convolution's output is never written out."""
    cdef const fcnn_isa *isa = fcnn_current_isa()
    cdef int mr = isa.mr_f32 if floating is float else isa.mr_f64
    cdef int nr = isa.nr_f32 if floating is float else isa.nr_f64
    cdef Py_ssize_t n = x.shape[0], h = x.shape[1], wd = x.shape[2], c = x.shape[3]
    cdef Py_ssize_t kh = w.shape[0], kw = w.shape[1], f = w.shape[3], k = kh * kw * c
    cdef Py_ssize_t hp = max(pt + h, (oh - 1) * sh + kh), wp = max(pl + wd, (ow - 1) * sw + kw)
    cdef bint pool = pool_kernel != NULL
    cdef Py_ssize_t rows = n * oh, i, r
    cdef int t
    cdef int nt = _team(nthreads, n if pool else rows, <double>rows * ow * f * k)
    cdef int nt_pad = _team(nthreads, n, <double>n * hp * wp * c, MIN_VALUES_PER_THREAD)
    # Enough images for a fair share each (or pooling): every thread pads an image and runs its
    # rows at once, in one parallel loop (no barrier between the two, and the copy is still in
    # cache). Only the ISA's row kernel on rows of at least a tile reads nothing outside its
    # own image (the strided kernel's partial tiles read into the next one): otherwise all
    # images are padded first.
    cdef bint rows_alone = ow >= mr and _has_row_kernel(floating is double)
    cdef bint by_image = pool or (n >= 4 * nt and rows_alone)
    cdef bint pad_first = not (by_image and rows_alone)
    # Image by image (and not padded first), each thread pads its image into a buffer of its
    # own, which stays in cache from one image to the next (a copy of the whole batch would
    # go through memory: 7.4 MB for ResNet-20's first stage)
    cdef bint own = by_image and not pad_first
    # (an image of a few KB is copied at once: its requests ahead would cost more than they
    # save)
    cdef bint prefetch = <size_t>(h * wd * c) * sizeof(floating) >= PREFETCH_MIN_BYTES
    cdef Py_ssize_t image = hp * wp * c, slack = FCNN_SMALL_SLACK(wp, c, sw, mr)
    cdef size_t own_bytes = _lines(<size_t>(image + slack) * sizeof(floating))
    # one scratch block: padded images (and the slack a partial tile reads past the end), or
    # one per thread | packed weights | step offsets | (pooling) an output buffer per thread
    cdef size_t pad_bytes = (nt * own_bytes if own else
                             _lines(<size_t>(n * image + slack) * sizeof(floating)))
    cdef size_t bp_bytes = _lines(<size_t>(_cdiv(f, nr) * nr * k) * sizeof(floating))
    cdef size_t koff_bytes = _lines(<size_t>k * sizeof(ptrdiff_t))
    cdef size_t buf_bytes = _lines(<size_t>(oh * ow * f) * sizeof(floating)) if pool else 0
    cdef size_t total = pad_bytes + bp_bytes + koff_bytes + nt * buf_bytes
    cdef char *block = <char *>fcnn_scratch_take(total)
    if block == NULL:
        raise MemoryError("could not allocate convolution workspace")
    cdef floating *padded = <floating *>block
    cdef floating *bp = <floating *>(block + pad_bytes)
    cdef ptrdiff_t *koff = <ptrdiff_t *>(block + pad_bytes + bp_bytes)
    cdef char *bufs = block + pad_bytes + bp_bytes + koff_bytes
    cdef Py_ssize_t pooled = pg.oh * pg.ow * f if pool else 0
    cdef fcnn_conv_small g, gi
    g.src, g.hp, g.wp, g.c = padded, hp, wp, c
    g.sh, g.sw, g.oh, g.ow, g.f, g.k, g.kw = sh, sw, oh, ow, f, k, kw
    g.koff, g.b_packed = koff, bp
    g.bias = NULL if b is None else <const void *>&b[0]
    g.relu, g.dst, g.residual = relu, y, residual
    g.next, g.next_n = NULL, 0
    cdef floating *buf
    try:
        with nogil:
            _small_setup(w, wp, sw, mr, nr, image if own else n * image, padded, bp, koff)
            if pad_first:
                for i in prange(n, schedule="static", num_threads=nt_pad):
                    _pad_images(x, hp, wp, pt, pl, i, i + 1, padded + i * image)
            if own:
                for t in range(1, nt):      # every thread's slack zero, as thread 0's
                    memset(block + t * own_bytes + image * sizeof(floating), 0,
                           slack * sizeof(floating))
            if by_image:
                for i in prange(n, schedule="static", num_threads=nt):
                    gi = g
                    if own:
                        gi.src = block + threadid() * own_bytes
                        _pad_images(x, hp, wp, pt, pl, i, i + 1, <floating *>gi.src)
                        if i + 1 < n and prefetch:  # the next image, in cache when copied
                            gi.next, gi.next_n = &x[i + 1, 0, 0, 0], h * wd * c
                    else:
                        gi.src = padded + i * image
                    if not pool:
                        gi.dst = y + i * oh * ow * f
                        if residual != NULL:
                            gi.residual = residual + i * oh * ow * f
                        _small_rows(&gi, 0, oh, y)
                        continue
                    # rows 0 .. oh-1 of image i into the thread's buffer, pooled from there
                    buf = <floating *>(bufs + threadid() * buf_bytes)
                    gi.dst = buf
                    _small_rows(&gi, 0, oh, buf)
                    _pool_image(pg, pool_kernel, buf, py, picks, i * pooled)
            else:
                for r in prange(rows, schedule="static", num_threads=nt):
                    _small_rows(&g, r, 1, y)
    finally:
        fcnn_scratch_give(block, total)
    return 0


cdef inline void _small_rows(const fcnn_conv_small *g, Py_ssize_t row0, Py_ssize_t nrows,
                             floating *dst) noexcept nogil:
    """fcnn_conv_small_rows (`dst`: g's output, which selects the dtype)."""
    if floating is float:
        fcnn_conv_small_rows_f32(g, row0, nrows)
    else:
        fcnn_conv_small_rows_f64(g, row0, nrows)


cdef bint _winograd = True


def set_winograd(bint on):
    """Whether 3x3 convolutions at stride 1 over WINO_MIN_C channels and WINO_MIN_F filters
    or more run their forward pass by Winograd's F(2x2, 3x3) (the default) or directly; the
    previous setting is returned. For tests and benchmarks that compare the two."""
    global _winograd
    before = _winograd
    _winograd = on
    return before


cdef inline Py_ssize_t _wino_tiles(Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """The 2x2 tiles that cover an image of oh x ow outputs."""
    return (oh + 1) // 2 * ((ow + 1) // 2)


cdef inline bint _wino_applies(Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                               Py_ssize_t c, Py_ssize_t f, Py_ssize_t oh,
                               Py_ssize_t ow) noexcept nogil:
    """Whether the forward pass (or dx, as a forward pass over dy) takes Winograd."""
    return (_winograd and kh == 3 and kw == 3 and sh == 1 and sw == 1 and c >= WINO_MIN_C
            and f >= WINO_MIN_F
            and (_wino_tiles(oh, ow) >= WINO_MIN_TILES
                 or (oh % 2 == 0 and ow % 2 == 0 and oh * ow >= 4 * WINO_MIN_FULL_TILES)))


cdef inline bint _wino_dw_applies(Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                                  Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t c, Py_ssize_t f,
                                  Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """Whether dW takes Winograd (_conv2d_dw_wino)."""
    return (_winograd and kh == 3 and kw == 3 and sh == 1 and sw == 1
            and c >= WINO_DW_MIN_C and f >= WINO_DW_MIN_C and 0 <= pt <= 2 and 0 <= pl <= 2
            and 100 * oh * ow >= WINO_DW_MIN_FILL * 4 * _wino_tiles(oh, ow))


cdef inline Py_ssize_t _wino_group(Py_ssize_t tiles) noexcept nogil:
    """Images per call of the Winograd forward: as many as make WINO_GROUP_TILES tiles."""
    return _cdiv(WINO_GROUP_TILES, tiles)


def winograd_group(Py_ssize_t oh, Py_ssize_t ow):
    """How many images (of oh x ow outputs) the Winograd forward takes per call: their tiles
    share blocks, and an output that is not finite has all of them recomputed directly."""
    return _wino_group(_wino_tiles(oh, ow))


cdef int _conv2d_forward_wino(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                              const floating[::1] b, Py_ssize_t pt, Py_ssize_t pl,
                              Py_ssize_t oh, Py_ssize_t ow, bint relu, floating *y,
                              int nthreads, const fcnn_pool_geom *pg=NULL,
                              const void *pool_kernel=NULL, floating *py=NULL,
                              floating *picks=NULL, const floating *residual=NULL,
                              bint flip=False) except -1:
    """Forward pass of a 3x3 convolution at stride 1 by Winograd's F(2x2, 3x3)
    (fcnn_conv_wino), in groups of images (_wino_group: one image of WINO_GROUP_TILES tiles
    or more), into y (N, oh, ow, F) (+ residual, laid out as y, before the relu). A group
    with an output that is not finite is recomputed by the direct GEMM (the same as
    conv2d_forward's without Winograd), which follows IEEE arithmetic over exactly the terms
    of the definition. With ``pool_kernel``: as _conv2d_forward_small's, each image's output
    pooled from a buffer of the thread's own, y not used.

    ``flip``: w is (3, 3, F, C) and the kernel it runs w turned by 180 degrees with its
    channels and filters swapped: with x = dy and the padding 2 - pt, 2 - pl, the dx of a
    convolution at stride 1 (for finite w only: the padding's zeros are then terms that add
    nothing)."""
    cdef Py_ssize_t wf = w.shape[2] if flip else w.shape[3]
    cdef const fcnn_isa *isa = fcnn_isa_for_width(wf, floating is double)
    cdef int mr = isa.mr_f32 if floating is float else isa.mr_f64
    cdef int nr = isa.nr_f32 if floating is float else isa.nr_f64
    cdef Py_ssize_t n = x.shape[0], c = x.shape[3], f = wf, i
    cdef Py_ssize_t tiles = _wino_tiles(oh, ow)
    # small images in groups of gi: their tiles in the same blocks
    cdef Py_ssize_t gi = min(n, _wino_group(tiles)), ngroups = _cdiv(n, gi), i0, ni, j
    cdef bint pool = pool_kernel != NULL
    cdef Py_ssize_t image_rows = oh * ow
    cdef Py_ssize_t pooled = pg.oh * pg.ow * f if pool else 0
    cdef fcnn_conv_wino wg
    wg.h, wg.w, wg.c, wg.f = x.shape[1], x.shape[2], c, f
    wg.oh, wg.ow, wg.pt, wg.pl = oh, ow, pt, pl
    wg.bias = NULL if b is None else <const void *>&b[0]
    wg.relu, wg.isa = relu, isa
    wg.tb = max(mr, min(WINO_BLOCK_BYTES // (16 * (c + f) * <Py_ssize_t>sizeof(floating)),
                        _cdiv(gi * tiles, mr) * mr) // mr * mr)
    # the direct GEMM of an image whose Winograd outputs are not all finite
    cdef Py_ssize_t[::1] tap_h = np.repeat(np.arange(3, dtype=np.intp), 3)
    cdef Py_ssize_t[::1] tap_w = np.tile(np.arange(3, dtype=np.intp), 3)
    cdef fcnn_conv_gemm g
    cdef ptrdiff_t zero = 0
    cdef fcnn_bsource bs
    _forward_gemm(x, w, b, 1, 1, pt, pl, oh, ow, relu, tap_h, tap_w, &zero, &g, &bs)
    cdef Py_ssize_t[::1] flip_off
    if flip:
        # B[t*C + r][j] = w[2 - tap_h[t], 2 - tap_w[t], j, r], as in _conv2d_dx_gemm
        flip_off = ((2 - np.asarray(tap_h)) * 3 + 2 - np.asarray(tap_w)) * f * c
        g.a.src_c, g.c.ldc, g.k, g.n = c, f, 9 * c, f
        bs.ntaps, bs.tap_off = 9, <const ptrdiff_t *>&flip_off[0]
        bs.rows, bs.row_stride, bs.col_stride = c, 1, c
    g.isa = isa
    cdef size_t u_bytes, packed_bytes, wsz, gsz
    if floating is float:
        packed_bytes = fcnn_wino_packed_size_f32(isa, c, f) * sizeof(float)
        wsz = fcnn_conv_wino_workspace_f32(&wg)
        gsz = fcnn_conv_gemm_workspace_f32(g.a.ntaps, g.k)
    else:
        packed_bytes = fcnn_wino_packed_size_f64(isa, c, f) * sizeof(double)
        wsz = fcnn_conv_wino_workspace_f64(&wg)
        gsz = fcnn_conv_gemm_workspace_f64(g.a.ntaps, g.k)
    packed_bytes = _lines(packed_bytes)
    u_bytes = _lines(<size_t>(16 * c * f) * sizeof(floating))
    wsz, gsz = _lines(wsz), _lines(gsz)
    cdef size_t bp_bytes = _lines(<size_t>(_cdiv(f, nr) * nr * g.k) * sizeof(floating))
    cdef size_t zeros_bytes = _lines(<size_t>c * sizeof(floating))
    cdef size_t buf_bytes = _lines(<size_t>(gi * image_rows * f) * sizeof(floating)) if pool else 0
    cdef int nt = _team(nthreads, ngroups, <double>n * image_rows * f * 9 * c)
    cdef size_t per_thread = wsz + gsz + buf_bytes
    cdef size_t total = packed_bytes + u_bytes + bp_bytes + zeros_bytes + nt * per_thread
    cdef char *block = <char *>fcnn_scratch_take(total)
    if block == NULL:
        raise MemoryError("could not allocate convolution workspace")
    cdef floating *packed = <floating *>block
    cdef floating *u = <floating *>(block + packed_bytes)
    cdef floating *bp = <floating *>(block + packed_bytes + u_bytes)
    cdef floating *zeros = <floating *>(block + packed_bytes + u_bytes + bp_bytes)
    cdef char *threads = block + packed_bytes + u_bytes + bp_bytes + zeros_bytes
    cdef char *mine
    cdef floating *dst
    cdef const floating *res
    cdef const floating *nxt
    cdef int ok
    try:
        with nogil:
            memset(zeros, 0, <size_t>c * sizeof(floating))
            g.a.zeros = zeros
            wg.zeros = zeros
            if floating is float:
                fcnn_wino_weights_f32(isa, &w[0, 0, 0, 0], c, f, flip, u, packed)
                fcnn_pack_bsource_f32(&bs, f, nr, bp)
            else:
                fcnn_wino_weights_f64(isa, &w[0, 0, 0, 0], c, f, flip, u, packed)
                fcnn_pack_bsource_f64(&bs, f, nr, bp)
            wg.u_packed = packed
            g.b_packed = bp
            for i in prange(ngroups, schedule="static", num_threads=nt):
                mine = threads + threadid() * per_thread
                i0 = i * gi
                ni = min(gi, n - i0)
                dst = <floating *>(mine + wsz + gsz) if pool else y + i0 * image_rows * f
                res = NULL if residual == NULL else residual + i0 * image_rows * f
                nxt = &x[i0 + gi, 0, 0, 0] if i0 + 2 * gi <= n else NULL
                if floating is float:
                    ok = fcnn_conv_wino_images_f32(&wg, &x[i0, 0, 0, 0], ni, dst, res, nxt, mine)
                else:
                    ok = fcnn_conv_wino_images_f64(&wg, &x[i0, 0, 0, 0], ni, dst, res, nxt, mine)
                for j in range(ni):
                    if not ok:
                        _gemm_image(&g, &x[i0 + j, 0, 0, 0], dst + j * image_rows * f,
                                    NULL if res == NULL else res + j * image_rows * f,
                                    mine + wsz, bp)
                    if pool:
                        _pool_image(pg, pool_kernel, dst + j * image_rows * f, py, picks,
                                    (i0 + j) * pooled)
    finally:
        fcnn_scratch_give(block, total)
    return 0


def conv2d_relu_max_pool_picks(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                               const floating[::1] b, Py_ssize_t sh, Py_ssize_t sw,
                               Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t oh, Py_ssize_t ow,
                               Py_ssize_t pkh, Py_ssize_t pkw, Py_ssize_t psh,
                               Py_ssize_t psw, Py_ssize_t ppt, Py_ssize_t ppl,
                               floating[:, :, :, ::1] y, floating[:, :, :, ::1] picks,
                               int nthreads):
    """Max pooling, with picks (max_pool2d_forward_picks, ReLU input, on the pooling set in
    use; picks None: none recorded, y as max_pool2d_forward gives it), of
    relu(conv(x, w) + b) (oh x ow), image by image, the convolution's output never written
    out: the few-channel forward (see _conv2d_forward_small) or the GEMM (_run_gemm).
    Returns False, having done nothing, for a kernel of one tap (conv2d_forward's GEMM
    reads its pixels in place; callers take such a convolution as a pointwise product), or
    where an image's output would pass FUSED_MAX_BUFFER bytes."""
    cdef Py_ssize_t c = x.shape[3], k = w.shape[0] * w.shape[1] * c, f = w.shape[3]
    if (w.shape[0] * w.shape[1] == 1 or y.size == 0
            or <size_t>(oh * ow * f) * sizeof(floating) > FUSED_MAX_BUFFER):
        return False
    cdef const void *kernel = (<const void *>fcnn_current_pool().max_pick_forward_f32
                               if floating is float else
                               <const void *>fcnn_current_pool().max_pick_forward_f64)
    cdef fcnn_pool_geom pg
    pg.h, pg.w, pg.c, pg.oh, pg.ow = oh, ow, f, y.shape[1], y.shape[2]
    pg.kh, pg.kw, pg.sh, pg.sw, pg.pt, pg.pl = pkh, pkw, psh, psw, ppt, ppl
    cdef floating *pk = NULL if picks is None else &picks[0, 0, 0, 0]
    if _wino_applies(w.shape[0], w.shape[1], sh, sw, c, f, oh, ow):
        _conv2d_forward_wino(x, w, b, pt, pl, oh, ow, True, <floating *>NULL, nthreads, &pg,
                             kernel, &y[0, 0, 0, 0], pk)
        return True
    if _few_channels(c, k):
        _conv2d_forward_small(x, w, b, sh, sw, pt, pl, oh, ow, True, <floating *>NULL,
                              nthreads, &pg, kernel, &y[0, 0, 0, 0], pk)
        return True
    cdef Py_ssize_t[::1] tap_h = np.repeat(np.arange(w.shape[0], dtype=np.intp), w.shape[1])
    cdef Py_ssize_t[::1] tap_w = np.tile(np.arange(w.shape[1], dtype=np.intp), w.shape[0])
    cdef fcnn_conv_gemm g
    cdef ptrdiff_t zero = 0
    cdef fcnn_bsource bs
    _forward_gemm(x, w, b, sh, sw, pt, pl, oh, ow, True, tap_h, tap_w, &zero, &g, &bs)
    _run_gemm(&g, &bs, &w[0, 0, 0, 0], nthreads, &pg, kernel, &y[0, 0, 0, 0], pk)
    return True


def conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                   const floating[::1] b, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt,
                   Py_ssize_t pl, Py_ssize_t oh, Py_ssize_t ow, bint relu, int nthreads,
                   out=None, const floating[:, :, :, ::1] residual=None):
    """y = conv(x, w) (+ b) (+ residual) (relu); x (N,H,W,C), w (KH,KW,C,F) -> (N,oh,ow,F),
    written into ``out`` when given; ``residual`` None or shaped as y, not overlapping it
    (both checked by the caller)."""
    cdef Py_ssize_t n = x.shape[0], kh = w.shape[0], kw = w.shape[1], c = w.shape[2]
    cdef Py_ssize_t f = w.shape[3]
    y = (np.empty((n, oh, ow, f), dtype=np.float32 if floating is float else np.float64)
         if out is None else out)
    if y.size == 0:
        return y
    cdef floating[:, :, :, ::1] yv = y
    cdef const floating *res = NULL if residual is None else &residual[0, 0, 0, 0]
    # (a 1x1 kernel reads no window: the GEMM gathers its pixels, where the few-channel
    # kernel would first copy all of x, padded)
    if _few_channels(c, kh * kw * c) and kh * kw > 1:
        _conv2d_forward_small(x, w, b, sh, sw, pt, pl, oh, ow, relu, &yv[0, 0, 0, 0], nthreads,
                              NULL, NULL, NULL, NULL, res)
        return y
    if _wino_applies(kh, kw, sh, sw, c, f, oh, ow):
        _conv2d_forward_wino(x, w, b, pt, pl, oh, ow, relu, &yv[0, 0, 0, 0], nthreads,
                             NULL, NULL, NULL, NULL, res)
        return y
    cdef Py_ssize_t[::1] tap_h = np.repeat(np.arange(kh, dtype=np.intp), kw)
    cdef Py_ssize_t[::1] tap_w = np.tile(np.arange(kw, dtype=np.intp), kh)
    cdef fcnn_conv_gemm g
    cdef ptrdiff_t zero = 0
    cdef fcnn_bsource bs
    _forward_gemm(x, w, b, sh, sw, pt, pl, oh, ow, relu, tap_h, tap_w, &zero, &g, &bs)
    g.c.dst = &yv[0, 0, 0, 0]
    g.residual = res
    _run_gemm(&g, &bs, &w[0, 0, 0, 0], nthreads)
    return y


cdef void _forward_gemm(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
                        const floating[::1] b, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt,
                        Py_ssize_t pl, Py_ssize_t oh, Py_ssize_t ow, bint relu,
                        const Py_ssize_t[::1] tap_h, const Py_ssize_t[::1] tap_w,
                        const ptrdiff_t *zero, fcnn_conv_gemm *g, fcnn_bsource *bs):
    """The GEMM of a forward convolution (all but its destination, g.c.dst): rows over the
    output pixels, the taps (tap_h, tap_w) of the kernel in row-major order, B the weights
    as (K, F) rows (zero: a 0 offset that outlives the call)."""
    cdef Py_ssize_t kh = w.shape[0], kw = w.shape[1], c = w.shape[2], f = w.shape[3]
    g.a.src = &x[0, 0, 0, 0]
    g.a.zeros = NULL
    g.a.src_h, g.a.src_w, g.a.src_c = x.shape[1], x.shape[2], c
    g.a.ntaps, g.a.tap_h, g.a.tap_w = kh * kw, <const ptrdiff_t *>&tap_h[0], <const ptrdiff_t *>&tap_w[0]
    g.a.rows_h, g.a.rows_w = oh, ow
    g.a.base_h0, g.a.base_hs, g.a.base_w0, g.a.base_ws = -pt, sh, -pl, sw
    g.c.dst = NULL
    g.c.dst_h, g.c.dst_w, g.c.ldc = oh, ow, f
    g.c.h0, g.c.hs, g.c.w0, g.c.ws = 0, 1, 0, 1
    g.m, g.k, g.n = x.shape[0] * oh * ow, kh * kw * c, f
    g.bias = NULL if b is None else <const void *>&b[0]
    g.relu = relu
    g.residual = NULL
    bs.src, bs.ntaps, bs.tap_off = &w[0, 0, 0, 0], 1, zero
    bs.rows, bs.row_stride, bs.col_stride = g.k, f, 1


cdef void _sum_parts(const floating *partials, Py_ssize_t nparts, Py_ssize_t size,
                     floating *out, const floating *dbp, Py_ssize_t f, floating *db,
                     int nthreads) noexcept nogil:
    """A weight gradient's parts added in part order (fcnn_sum_parts: the order, not the
    threads, fixes the bits): partials (nparts, size) into out (part 0 itself allowed; with
    one part, out is left as it is), in chunks over threads; their db sums dbp (nparts, f)
    into db."""
    cdef Py_ssize_t chunk = 4096, nchunks = _cdiv(size, chunk), e, q, ff
    cdef int nt = _team(nthreads, nchunks, <double>nparts * size, MIN_VALUES_PER_THREAD)
    cdef floating acc
    if nparts > 1:
        for e in prange(nchunks, schedule="static", num_threads=nt):
            if floating is float:
                fcnn_sum_parts_f32(partials, nparts, size, e * chunk,
                                   min(size, (e + 1) * chunk), out)
            else:
                fcnn_sum_parts_f64(partials, nparts, size, e * chunk,
                                   min(size, (e + 1) * chunk), out)
    for ff in range(f):
        acc = dbp[ff]
        for q in range(1, nparts):
            acc = acc + dbp[q * f + ff]
        db[ff] = acc


cdef int _conv2d_dw_wino(const floating *dyp, Py_ssize_t n, Py_ssize_t oh, Py_ssize_t ow,
                         Py_ssize_t f, const floating[:, :, :, ::1] x, const floating *mask,
                         Py_ssize_t pt, Py_ssize_t pl, floating[:, :, :, ::1] dw,
                         floating[::1] db, int nthreads) except -1:
    """dW and db of a 3x3 convolution at stride 1 by Winograd's F(2x2, 3x3)
    (fcnn_conv_wino_dw): the batch in parts of whole images, a number fixed by the shape,
    each part's products summed on its own; the parts then added in order, transformed into
    dw. Returns 1, or 0 with dw and db unspecified where a value of dw is not finite (a value
    of x or dy that is not, or a sum beyond the dtype's range): the caller then computes them
    directly, by IEEE arithmetic over exactly the terms of the definition."""
    cdef Py_ssize_t c = x.shape[3]
    cdef const fcnn_isa *isa = fcnn_isa_for_width(f, floating is double)
    cdef Py_ssize_t size = 16 * c * f
    cdef Py_ssize_t nparts = min(n, <Py_ssize_t>WINO_DW_PARTS)
    nparts = max(1, min(nparts, DW_PARTIALS_BUDGET // max(1, size * <Py_ssize_t>sizeof(floating))))
    cdef Py_ssize_t per_part = _cdiv(n, nparts)
    nparts = _cdiv(n, per_part)
    cdef fcnn_conv_wino_dw g
    g.x, g.dy, g.mask = &x[0, 0, 0, 0], dyp, mask
    g.h, g.w, g.c, g.f, g.oh, g.ow, g.pt, g.pl = x.shape[1], x.shape[2], c, f, oh, ow, pt, pl
    g.tb = max(<Py_ssize_t>WINO_DW_MIN_TILES,
               WINO_DW_BLOCK_BYTES // (16 * (c + f) * <Py_ssize_t>sizeof(floating)))
    g.isa = isa
    cdef size_t wsz
    if floating is float:
        wsz = fcnn_conv_wino_dw_workspace_f32(&g)
    else:
        wsz = fcnn_conv_wino_dw_workspace_f64(&g)
    wsz = _lines(wsz)
    cdef size_t partial_bytes = _lines(<size_t>(nparts * size) * sizeof(floating))
    cdef size_t dbp_bytes = _lines(<size_t>(nparts * f) * sizeof(floating))
    cdef size_t zeros_bytes = _lines(<size_t>max(c, f) * sizeof(floating))
    cdef int nt = _team(nthreads, nparts, <double>n * oh * ow * f * 9 * c)
    cdef Py_ssize_t cstep = max(1, _cdiv(c, 4 * max(1, nthreads)))
    cdef Py_ssize_t cchunks = _cdiv(c, cstep)
    cdef int nt_out = _team(nthreads, cchunks, <double>size, MIN_VALUES_PER_THREAD)
    cdef size_t total = partial_bytes + dbp_bytes + zeros_bytes + nt * wsz
    cdef char *block = <char *>fcnn_scratch_take(total)
    if block == NULL:
        raise MemoryError("could not allocate the weight-gradient workspace")
    cdef floating *partials = <floating *>block
    cdef floating *dbp = <floating *>(block + partial_bytes)
    cdef floating *zeros = <floating *>(block + partial_bytes + dbp_bytes)
    cdef char *work = block + partial_bytes + dbp_bytes + zeros_bytes
    cdef Py_ssize_t p, e
    cdef int bad = 0
    try:
        with nogil:
            memset(zeros, 0, <size_t>max(c, f) * sizeof(floating))
            g.zeros = zeros
            for p in prange(nparts, schedule="static", num_threads=nt):
                if floating is float:
                    fcnn_conv_wino_dw_part_f32(&g, p * per_part, min(n, (p + 1) * per_part),
                                               partials + p * size, dbp + p * f,
                                               work + threadid() * wsz)
                else:
                    fcnn_conv_wino_dw_part_f64(&g, p * per_part, min(n, (p + 1) * per_part),
                                               partials + p * size, dbp + p * f,
                                               work + threadid() * wsz)
            _sum_parts(partials, nparts, size, partials, dbp, f, &db[0], nthreads)
            for e in prange(cchunks, schedule="static", num_threads=nt_out):
                if floating is float:
                    bad += 1 - fcnn_wino_dw_out_f32(partials, c, f, e * cstep,
                                                    min(c, (e + 1) * cstep), &dw[0, 0, 0, 0])
                else:
                    bad += 1 - fcnn_wino_dw_out_f64(partials, c, f, e * cstep,
                                                    min(c, (e + 1) * cstep), &dw[0, 0, 0, 0])
    finally:
        fcnn_scratch_give(block, total)
    return bad == 0


cdef int _conv2d_dw(const floating *dyp, Py_ssize_t n, Py_ssize_t oh, Py_ssize_t ow,
                    Py_ssize_t f, const floating[:, :, :, ::1] x, const floating *mask,
                    Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt,
                    Py_ssize_t pl, floating[:, :, :, ::1] dw, floating[::1] db, int nthreads,
                    const fcnn_unpool *unpool=NULL) except -1:
    """dW and db. Where _wino_dw_applies: by Winograd (_conv2d_dw_wino), unless a value
    comes out not finite. Otherwise directly: tasks of (part of the output pixels) x (block
    of K); each part writes its own partial sums, which are then added in part order. Where
    ``mask`` (laid out like dy) is <= 0, dy counts as 0.

    Few channels: partial dW (K x F) by the ISA's direct kernel, without packing, from a
    zero-padded copy of x when windows would leave it (fcnn_conv_dw_tile). Many channels:
    partial dW^T (F x K) with K as its columns (fcnn_conv_dwt_tile), so the input's windows
    are copied in runs of consecutive channels; transposed into dw at the end.

    dY is (n, oh, ow, f) at dyp, or (unpool, few channels only) made from a max pooling's
    gradient and picks, block by block, never written out."""
    cdef Py_ssize_t c = x.shape[3]
    if (unpool == NULL and _wino_dw_applies(kh, kw, sh, sw, pt, pl, c, f, oh, ow)
            and _conv2d_dw_wino(dyp, n, oh, ow, f, x, mask, pt, pl, dw, db, nthreads)):
        return 0
    cdef Py_ssize_t m = n * oh * ow, k = kh * kw * c
    cdef bint transposed = c >= fcnn_dw_transposed_min_c(fcnn_current_isa())
    cdef Py_ssize_t nparts = min(<Py_ssize_t>DW_MAX_PARTS, max(1, m // DW_MIN_PART_ROWS))
    nparts = max(1, min(nparts, DW_PARTIALS_BUDGET // max(1, f * k * <Py_ssize_t>sizeof(floating))))
    cdef Py_ssize_t part_rows = _cdiv(m, nparts)
    nparts = _cdiv(m, part_rows)
    # K in blocks (a block of a part is a task): of FCNN_DW_NC values, or for the direct tile
    # over whole vectors of filters up to FCNN_DW_DIRECT_NC; and into enough blocks for two
    # tasks per thread when there are few parts (how K is cut changes no sum)
    cdef Py_ssize_t nc = FCNN_DW_DIRECT_NC if not transposed and f % 32 == 0 else FCNN_DW_NC
    cdef Py_ssize_t kblocks = max(_cdiv(k, nc), _cdiv(2 * max(1, nthreads), nparts))
    nc = _cdiv(_cdiv(k, kblocks), 16) * 16
    kblocks = _cdiv(k, nc)
    cdef Py_ssize_t[::1] tap_h = np.repeat(np.arange(kh, dtype=np.intp), kw)
    cdef Py_ssize_t[::1] tap_w = np.tile(np.arange(kw, dtype=np.intp), kh)
    # Few channels: gather from a zero-padded copy of x, so no window needs bounds checks
    cdef bint pad = not transposed and (pt > 0 or pl > 0 or oh * sh + kh > x.shape[1] + sh
                                        or ow * sw + kw > x.shape[2] + sw)
    cdef Py_ssize_t hp = max(pt + x.shape[1], (oh - 1) * sh + kh) if pad else x.shape[1]
    cdef Py_ssize_t wp = max(pl + x.shape[2], (ow - 1) * sw + kw) if pad else x.shape[2]
    cdef fcnn_conv_dw g
    g.x.src = &x[0, 0, 0, 0]
    g.x.zeros = NULL
    g.x.src_h, g.x.src_w, g.x.src_c = hp, wp, c
    g.x.ntaps, g.x.tap_h, g.x.tap_w = kh * kw, <const ptrdiff_t *>&tap_h[0], <const ptrdiff_t *>&tap_w[0]
    g.x.rows_h, g.x.rows_w = oh, ow
    g.x.base_h0, g.x.base_hs, g.x.base_w0, g.x.base_ws = (0 if pad else -pt), sh, (0 if pad else -pl), sw
    g.dy = dyp
    g.mask = mask
    g.unpool = unpool
    g.m, g.k, g.f = m, k, f
    # the transposed tile's rows are filters: 16 of them fill AVX2's tile, not AVX-512's
    g.isa = fcnn_isa_for_width(f, floating is double)
    cdef size_t wsz
    if floating is float:
        wsz = fcnn_conv_dw_workspace_f32(g.isa, f)
    else:
        wsz = fcnn_conv_dw_workspace_f64(g.isa, f)
    cdef int nt = _team(nthreads, nparts * kblocks, <double>m * k * f)
    cdef Py_ssize_t size = k * f
    # One scratch block: partial sums (a single part of the K x F orientation writes straight
    # into dw) | partial db | per-thread packing buffers.
    cdef bint direct = nparts == 1 and not transposed
    cdef size_t partial_bytes = 0 if direct else _lines(<size_t>(nparts * size) * sizeof(floating))
    cdef size_t dbp_bytes = _lines(<size_t>(nparts * f) * sizeof(floating))
    cdef size_t work_bytes = _lines(wsz * sizeof(floating))
    # Padded, each task copies the images of its pixels into a buffer of its thread's, where
    # they stay in cache while it reads them (a copy of the whole batch would go through
    # memory); with a pooling's gradient (unpool) the batch is copied first.
    cdef bint own = pad and unpool == NULL
    cdef Py_ssize_t per_image = oh * ow, image = hp * wp * c
    cdef Py_ssize_t own_images = _cdiv(part_rows, per_image) + 1
    cdef size_t own_bytes = _lines(<size_t>(own_images * image) * sizeof(floating)) if own else 0
    cdef size_t pad_bytes = 0
    if own:
        pad_bytes = nt * own_bytes
    elif pad:
        pad_bytes = _lines(<size_t>(n * image) * sizeof(floating))
    cdef size_t total = partial_bytes + dbp_bytes + nt * work_bytes + pad_bytes
    cdef char *block = <char *>fcnn_scratch_take(total)
    if block == NULL:
        raise MemoryError("could not allocate the weight-gradient workspace")
    cdef floating *partials = &dw[0, 0, 0, 0] if direct else <floating *>block
    cdef floating *dbp = <floating *>(block + partial_bytes)
    cdef char *work = block + partial_bytes + dbp_bytes
    cdef floating *padded = <floating *>(block + partial_bytes + dbp_bytes + nt * work_bytes)
    cdef int nt_pad = _team(nthreads, n, <double>n * hp * wp * c, MIN_VALUES_PER_THREAD)
    cdef Py_ssize_t i
    cdef floating *summed = partials if transposed else &dw[0, 0, 0, 0]
    cdef Py_ssize_t task, p, p0, pn, k0, kn
    cdef int tid
    cdef floating *dbq
    cdef fcnn_conv_dw gt
    cdef Py_ssize_t n0, n1
    try:
        with nogil:
            if pad and not own:
                for i in prange(n, schedule="static", num_threads=nt_pad):
                    _pad_images(x, hp, wp, pt, pl, i, i + 1, padded + i * image)
                g.x.src = padded
            for task in prange(nparts * kblocks, schedule="static", num_threads=nt):
                tid = threadid()
                p = task // kblocks
                p0 = p * part_rows
                pn = min(part_rows, m - p0)
                k0 = (task - p * kblocks) * nc
                kn = min(nc, k - k0)
                # the part's first K block also sums the part's dY columns (db)
                dbq = dbp + p * f if k0 == 0 else NULL
                gt = g
                if own:     # images n0 .. n1-1 padded into the thread's buffer
                    n0 = p0 // per_image
                    n1 = (p0 + pn - 1) // per_image + 1
                    gt.x.src = padded + tid * (own_bytes // sizeof(floating))
                    _pad_images(x, hp, wp, pt, pl, n0, n1, <floating *>gt.x.src)
                    gt.dy = dyp + n0 * per_image * f
                    gt.mask = NULL if mask == NULL else mask + n0 * per_image * f
                    p0 = p0 - n0 * per_image
                if floating is float:
                    if transposed:
                        fcnn_conv_dwt_tile_f32(&gt, p0, pn, k0, kn, partials + p * size, dbq,
                                               <float *>(work + tid * work_bytes))
                    else:
                        fcnn_conv_dw_tile_f32(&gt, p0, pn, k0, kn, partials + p * size, dbq,
                                              <float *>(work + tid * work_bytes))
                else:
                    if transposed:
                        fcnn_conv_dwt_tile_f64(&gt, p0, pn, k0, kn, partials + p * size, dbq,
                                               <double *>(work + tid * work_bytes))
                    else:
                        fcnn_conv_dw_tile_f64(&gt, p0, pn, k0, kn, partials + p * size, dbq,
                                              <double *>(work + tid * work_bytes))
            # the parts in order into dw (K x F), or in place into part 0 (F x K)
            _sum_parts(partials, nparts, size, summed, dbp, f, &db[0], nthreads)
            if transposed:
                if floating is float:
                    fcnn_transpose_f32(summed, f, k, 0, f, &dw[0, 0, 0, 0])
                else:
                    fcnn_transpose_f64(summed, f, k, 0, f, &dw[0, 0, 0, 0])
    finally:
        fcnn_scratch_give(block, total)
    return 0


cdef int _conv2d_dx_by_pixel(const floating[:, :, :, ::1] dy, const floating[:, :, :, ::1] w,
                             Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl,
                             floating[:, :, :, ::1] dx, bint borders, int nthreads) except -1:
    """dx pixel by pixel, each a sum over the taps that reach dy only: all of dx (few channels,
    fcnn_conv_dx_direct_rows), or with ``borders`` the pixels of a dx from _conv2d_dx_gemm
    whose GEMM read a zero for a tap outside dy (fcnn_conv_dx_border_rows), for weights that
    are not all finite (0 * inf is NaN; dx has no such term)."""
    cdef fcnn_conv_dx_direct g
    g.dy, g.w, g.dx = &dy[0, 0, 0, 0], &w[0, 0, 0, 0], &dx[0, 0, 0, 0]
    g.h, g.w_, g.c = dx.shape[1], dx.shape[2], dx.shape[3]
    g.oh, g.ow, g.f = dy.shape[1], dy.shape[2], dy.shape[3]
    g.kh, g.kw, g.sh, g.sw, g.pt, g.pl = w.shape[0], w.shape[1], sh, sw, pt, pl
    cdef Py_ssize_t rows = dx.shape[0] * dx.shape[1], r
    cdef int nt = _team(nthreads, rows, <double>dy.size * w.shape[0] * w.shape[1] * dx.shape[3])
    with nogil:
        for r in prange(rows, schedule="static", num_threads=nt):
            if borders:
                if floating is float:
                    fcnn_conv_dx_border_rows_f32(&g, r, 1)
                else:
                    fcnn_conv_dx_border_rows_f64(&g, r, 1)
            elif floating is float:
                fcnn_conv_dx_direct_rows_f32(&g, r, 1)
            else:
                fcnn_conv_dx_direct_rows_f64(&g, r, 1)
    return 0


cdef int _conv2d_dx_small(const floating[:, :, :, ::1] dy, const floating[:, :, :, ::1] w,
                          Py_ssize_t pt, Py_ssize_t pl, floating[:, :, :, ::1] dx,
                          int nthreads) except -1:
    """dx of a stride-1 convolution whose output has few channels (dy's F below
    FCNN_SMALL_MAX_C), as the forward pass over few channels of dy: dx[ih, iw, c] sums
    dy[ih + pt - kh, iw + pl - kw, f] * w[kh, kw, c, f], a valid convolution of dy padded by
    (KH - 1 - pt, KW - 1 - pl) with the weights flipped in both axes and C, F swapped. Taps
    outside dy read the padding's zeros (as the stride-phase GEMMs read theirs)."""
    cdef Py_ssize_t kh = w.shape[0], kw = w.shape[1]
    cdef const floating[:, :, :, ::1] wt = np.ascontiguousarray(
        np.asarray(w)[::-1, ::-1].transpose(0, 1, 3, 2))
    cdef const floating[::1] no_bias = None
    _conv2d_forward_small(dy, wt, no_bias, 1, 1, kh - 1 - pt, kw - 1 - pl, dx.shape[1], dx.shape[2],
                          False, &dx[0, 0, 0, 0], nthreads)
    return 0


cdef int _conv2d_dx_gemm(const floating[:, :, :, ::1] dy, const floating[:, :, :, ::1] w,
                         Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl,
                         floating[:, :, :, ::1] dx, int nthreads) except -1:
    """dx as one implicit GEMM per stride phase: the dx pixels with (ih + pt) % sh == rh and
    (iw + pl) % sw == rw are reached exactly by the taps kh = rh + j*sh, kw = rw + i*sw, each
    reading dy at (q - j, p - i); every dx pixel is written by exactly one phase."""
    cdef Py_ssize_t n = dy.shape[0], oh = dy.shape[1], ow = dy.shape[2], f = dy.shape[3]
    cdef Py_ssize_t h = dx.shape[1], wd = dx.shape[2], c = dx.shape[3]
    cdef Py_ssize_t rh, rw, q0h, q0w, nqh, nqw, nth, ntw
    cdef Py_ssize_t kh = w.shape[0], kw = w.shape[1]
    cdef Py_ssize_t[::1] tap_h, tap_w, tap_off
    cdef fcnn_conv_gemm g
    cdef fcnn_bsource bs
    for rh in range(sh):
        q0h = -_floordiv(rh - pt, sh)
        nqh = _floordiv(h - 1 + pt - rh, sh) - q0h + 1
        nth = len(range(rh, kh, sh))
        if nqh <= 0 or nth == 0:
            continue
        for rw in range(sw):
            q0w = -_floordiv(rw - pl, sw)
            nqw = _floordiv(wd - 1 + pl - rw, sw) - q0w + 1
            ntw = len(range(rw, kw, sw))
            if nqw <= 0 or ntw == 0:
                continue
            # taps j, i = nth-1 .. 0, ntw-1 .. 0 (kernel taps from the last of the phase to
            # its first), so that they read dy's rows in increasing address order, as the
            # forward pass reads x (the other order, which starts each tile at the rows
            # furthest ahead, made the kernel 1.3x slower on a Zen 5)
            tap_h = np.repeat(np.arange(1 - nth, 1, dtype=np.intp), ntw)
            tap_w = np.tile(np.arange(1 - ntw, 1, dtype=np.intp), nth)
            # B[t*F + f][c] = w[kh_t, kw_t, c, f]: each tap's (C, F) slice read transposed.
            tap_off = ((np.repeat(np.arange(rh, kh, sh, dtype=np.intp)[::-1], ntw) * kw
                        + np.tile(np.arange(rw, kw, sw, dtype=np.intp)[::-1], nth)) * c * f)
            g.a.src = &dy[0, 0, 0, 0]
            g.a.zeros = NULL
            g.a.src_h, g.a.src_w, g.a.src_c = oh, ow, f
            g.a.ntaps, g.a.tap_h, g.a.tap_w = nth * ntw, <const ptrdiff_t *>&tap_h[0], <const ptrdiff_t *>&tap_w[0]
            g.a.rows_h, g.a.rows_w = nqh, nqw
            g.a.base_h0, g.a.base_hs, g.a.base_w0, g.a.base_ws = q0h, 1, q0w, 1
            g.c.dst = &dx[0, 0, 0, 0]
            g.c.dst_h, g.c.dst_w, g.c.ldc = h, wd, c
            g.c.h0, g.c.hs = q0h * sh + rh - pt, sh
            g.c.w0, g.c.ws = q0w * sw + rw - pl, sw
            g.m, g.k, g.n = n * nqh * nqw, nth * ntw * f, c
            g.bias = NULL
            g.relu = 0
            g.residual = NULL
            bs.src, bs.ntaps, bs.tap_off = &w[0, 0, 0, 0], nth * ntw, <const ptrdiff_t *>&tap_off[0]
            bs.rows, bs.row_stride, bs.col_stride = f, 1, f
            _run_gemm(&g, &bs, &w[0, 0, 0, 0], nthreads)
    return 0


def conv2d_backward_weight_unpool(const floating[:, :, :, ::1] pool_dy,
                                  const floating[:, :, :, ::1] picks,
                                  const floating[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw,
                                  Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl,
                                  Py_ssize_t oh, Py_ssize_t ow, Py_ssize_t pkh, Py_ssize_t pkw,
                                  Py_ssize_t psh, Py_ssize_t psw, Py_ssize_t ppt,
                                  Py_ssize_t ppl, int nthreads, dw, db):
    """dw, db of a convolution (output oh x ow) followed by a max pooling whose gradient
    pool_dy and picks (max_pool2d_forward_picks) are given: dY made block by block as the
    pooling's backward (from picks) would write it, never written out. Few channels and
    non-overlapping windows only: returns False, having done nothing, otherwise."""
    cdef Py_ssize_t c = x.shape[3], f = pool_dy.shape[3]
    if (c >= fcnn_dw_transposed_min_c(fcnn_current_isa()) or pkh > psh or pkw > psw
            or x.shape[0] == 0 or oh * ow == 0):
        return False
    cdef fcnn_unpool u
    u.dy, u.picks = &pool_dy[0, 0, 0, 0], &picks[0, 0, 0, 0]
    u.oh, u.ow, u.kh, u.kw = pool_dy.shape[1], pool_dy.shape[2], pkh, pkw
    u.sh, u.sw, u.pt, u.pl = psh, psw, ppt, ppl
    cdef floating[:, :, :, ::1] dwv = dw
    cdef floating[::1] dbv = db
    _conv2d_dw(<const floating *>NULL, x.shape[0], oh, ow, f, x, NULL, kh, kw, sh, sw, pt, pl,
               dwv, dbv, nthreads, &u)
    return True


def conv2d_backward(const floating[:, :, :, ::1] dy, const floating[:, :, :, ::1] x,
                    const floating[:, :, :, ::1] w, Py_ssize_t sh, Py_ssize_t sw,
                    Py_ssize_t pt, Py_ssize_t pl, bint need_dx, int nthreads, dx=None,
                    dw=None, db=None, const floating[:, :, :, ::1] relu_output=None,
                    bint w_finite=True):
    """(dx or None, dw, db) of y = conv(x, w) + b for the output gradient dy, written into the
    given dx, dw, db when there are (checked by the caller).

    ``relu_output``: the forward pass ended in a fused ReLU whose output this is; dy counts
    as 0 where it is <= 0 (only without dx: the weight-gradient pass applies the mask while it
    packs dy). ``w_finite``: False when w holds an inf or NaN (the caller checks); dx's
    pixels that the stride-phase GEMMs computed with a zero for dy outside the output are
    then computed again without those terms.
    """
    dtype = np.float32 if floating is float else np.float64
    cdef Py_ssize_t kh = w.shape[0], kw = w.shape[1], c = w.shape[2], f = w.shape[3]
    if relu_output is not None and need_dx:
        raise ValueError("relu_output is only taken without dx")
    if dw is None:
        dw = np.empty((kh, kw, c, f), dtype=dtype)
    if db is None:
        db = np.empty((f,), dtype=dtype)
    cdef floating[:, :, :, ::1] dwv = dw
    cdef floating[::1] dbv = db
    cdef floating[:, :, :, ::1] dxv
    cdef const floating *mask = NULL if relu_output is None else &relu_output[0, 0, 0, 0]
    cdef const floating[::1] no_bias = None
    if not need_dx:
        dx = None
    if dy.shape[0] == 0 or dy.shape[1] == 0 or dy.shape[2] == 0:
        dw[...] = 0
        db[...] = 0
        if need_dx:
            if dx is None:
                dx = np.zeros((x.shape[0], x.shape[1], x.shape[2], x.shape[3]), dtype=dtype)
            else:
                dx[...] = 0
        return dx, dw, db
    _conv2d_dw(&dy[0, 0, 0, 0], dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3], x, mask,
               kh, kw, sh, sw, pt, pl, dwv, dbv, nthreads)
    if need_dx:
        if dx is None:
            dx = np.empty((x.shape[0], x.shape[1], x.shape[2], c), dtype=dtype)
        dxv = dx
        if c < FCNN_DX_DIRECT_MAX_C and kh * kw <= FCNN_DX_SMALL_MAX_TAPS:
            _conv2d_dx_by_pixel(dy, w, sh, sw, pt, pl, dxv, False, nthreads)
        # few filters: dx as the few-channel forward over dy, where a row kernel runs it
        # (the generic set's strided fallback is slower than its stride-phase GEMMs)
        elif (sh == 1 and sw == 1 and _few_channels(f, kh * kw * f) and 0 <= pt < kh
              and 0 <= pl < kw and _has_row_kernel(floating is double)):
            _conv2d_dx_small(dy, w, pt, pl, dxv, nthreads)
            if not w_finite:
                _conv2d_dx_by_pixel(dy, w, sh, sw, pt, pl, dxv, True, nthreads)
        # at stride 1, 3x3 over enough filters and channels, with finite weights: the forward
        # pass over dy with the kernel turned and transposed, by Winograd
        elif (w_finite and sh == 1 and sw == 1 and 0 <= pt <= 2 and 0 <= pl <= 2
              and _wino_applies(kh, kw, 1, 1, f, c, dxv.shape[1], dxv.shape[2])):
            _conv2d_forward_wino(dy, w, no_bias, 2 - pt, 2 - pl, dxv.shape[1], dxv.shape[2],
                                 False, &dxv[0, 0, 0, 0], nthreads, NULL, NULL,
                                 <floating *>NULL, <floating *>NULL, <const floating *>NULL,
                                 True)
        else:
            if sh > kh or sw > kw:
                dx[...] = 0     # pixels of a phase that no tap reaches are never written
            _conv2d_dx_gemm(dy, w, sh, sw, pt, pl, dxv, nthreads)
            if not w_finite:
                _conv2d_dx_by_pixel(dy, w, sh, sw, pt, pl, dxv, True, nthreads)
    return dx, dw, db
