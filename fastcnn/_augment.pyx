# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The image transforms of the augmentation layers, forward and backward, over NHWC batches:
flips, crops at per-image offsets, translations by per-image shifts, and the bilinear resize
of one box of every image.

Translations and resizes are separable: output pixel (i, j) is a weighted sum of input pixels
(r, s) over the taps r of row i and s of column j (two taps per axis for bilinear
interpolation, one for nearest), each tap a source index or -1 for the fill value. The taps
and weights of each axis are tabulated once per image; a row of the output is then computed
run by run, a run being output columns over which every tap steps by one source column with
unchanged weights: inside a run the output is a weighted sum of contiguous spans of input
rows, one loop over (column, channel) that compiles to vector code whatever the number of
channels (a translation's interior is one run; its borders, where fill modes fold the taps,
are short runs).

Backward passes scatter dy through the same taps (fill taps receive nothing), one image per
thread in a fixed order, so every result is bitwise the same at any thread count.

Arrays are C-contiguous and checked by the callers (fastcnn/_augment_ops.py): shapes, dtypes,
and that every offset, box and shift is in range; these functions trust them and release the
GIL.
"""
import numpy as np

from cython.parallel cimport prange
from libc.math cimport ceil, floor
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from fastcnn._parallel cimport MIN_VALUES_PER_THREAD, team_size

ctypedef fused floating:
    float
    double


cdef enum:
    FILL_CONSTANT = 0
    FILL_NEAREST = 1
    FILL_WRAP = 2
    FILL_REFLECT = 3

# Fill modes by their kernel code (the index in this tuple).
FILL_MODES = ("constant", "nearest", "wrap", "reflect")


cdef inline int _threads(int nthreads, Py_ssize_t images, Py_ssize_t values) noexcept nogil:
    return team_size(nthreads, images, <double>values, MIN_VALUES_PER_THREAD)


# --- flips ------------------------------------------------------------------------------------

cdef void _flip_image(const floating *x, floating *out, Py_ssize_t h, Py_ssize_t w,
                      Py_ssize_t c, bint rows, bint cols) noexcept nogil:
    """out = x with the order of its rows (and/or of its columns) reversed."""
    cdef Py_ssize_t i, j, k, row = w * c
    cdef const floating *src
    cdef floating *dst
    for i in range(h):
        src = x + (h - 1 - i if rows else i) * row
        dst = out + i * row
        if not cols:
            memcpy(dst, src, row * sizeof(floating))
        elif c == 1:
            for j in range(w):
                dst[j] = src[w - 1 - j]
        else:
            for j in range(w):
                for k in range(c):
                    dst[j * c + k] = src[(w - 1 - j) * c + k]


def flip_images(const floating[:, :, :, ::1] x, const unsigned char[::1] flip_rows,
                const unsigned char[::1] flip_cols, floating[:, :, :, ::1] out,
                int nthreads=1):
    """out[n] = x[n] upside down where flip_rows[n], mirrored left-right where flip_cols[n]
    (both, or neither). Its own backward pass."""
    cdef Py_ssize_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=_threads(nthreads, n, n * h * w * c)):
            _flip_image(&x[i, 0, 0, 0], &out[i, 0, 0, 0], h, w, c, flip_rows[i] != 0,
                        flip_cols[i] != 0)


# --- crops ------------------------------------------------------------------------------------

def crop_images(const floating[:, :, :, ::1] x, const Py_ssize_t[:, ::1] offsets,
                floating[:, :, :, ::1] out, int nthreads=1):
    """out[n] = x[n, top:top + h, left:left + w] with (top, left) = offsets[n] and (h, w) out's
    height and width."""
    cdef Py_ssize_t n = out.shape[0], h = out.shape[1], w = out.shape[2], c = out.shape[3]
    cdef Py_ssize_t i, r
    with nogil:
        for i in prange(n, schedule="static", num_threads=_threads(nthreads, n, n * h * w * c)):
            for r in range(h):
                memcpy(&out[i, r, 0, 0], &x[i, offsets[i, 0] + r, offsets[i, 1], 0],
                       w * c * sizeof(floating))


def crop_images_backward(const floating[:, :, :, ::1] dy, const Py_ssize_t[:, ::1] offsets,
                         floating[:, :, :, ::1] dx, int nthreads=1):
    """dx[n] = 0 but dx[n, top:top + h, left:left + w] = dy[n], (top, left) = offsets[n]."""
    cdef Py_ssize_t n = dy.shape[0], h = dy.shape[1], w = dy.shape[2], c = dy.shape[3]
    cdef Py_ssize_t size = dx.shape[1] * dx.shape[2] * c, i, r
    with nogil:
        for i in prange(n, schedule="static", num_threads=_threads(nthreads, n, n * size)):
            memset(&dx[i, 0, 0, 0], 0, size * sizeof(floating))
            for r in range(h):
                memcpy(&dx[i, offsets[i, 0] + r, offsets[i, 1], 0], &dy[i, r, 0, 0],
                       w * c * sizeof(floating))


# --- tap tables -------------------------------------------------------------------------------

cdef inline Py_ssize_t _fill_index(Py_ssize_t t, Py_ssize_t n, int mode) noexcept nogil:
    """The pixel that tap t of an axis of n pixels reads, or -1 for the fill value:
    constant (k k | a b c d | k k), nearest (a a | a b c d | d d), wrap (c d | a b c d | a b),
    reflect (b a | a b c d | d c), the last two periodic."""
    cdef Py_ssize_t m
    if 0 <= t < n:
        return t
    if mode == FILL_CONSTANT:
        return -1
    if mode == FILL_NEAREST:
        return 0 if t < 0 else n - 1
    if mode == FILL_WRAP:
        m = t % n                       # C remainder: the sign of t
        return m + n if m < 0 else m
    m = t % (2 * n)
    if m < 0:
        m += 2 * n
    return 2 * n - 1 - m if m >= n else m


cdef void _translation_taps(double shift, Py_ssize_t n, int mode, Py_ssize_t k,
                            Py_ssize_t *taps, floating *weights) noexcept nogil:
    """Taps of an axis of n pixels moved by ``shift`` pixels: output o samples the input at
    o - shift = o + d + f (d = floor(-shift), 0 <= f < 1, the same for every o). Bilinear
    (k = 2): taps o + d and o + d + 1 with weights 1 - f and f. Nearest (k = 1): the pixel
    o - shift rounds to, halves away from zero."""
    cdef double s = -shift
    cdef double fd = floor(s)
    cdef double f = s - fd
    cdef Py_ssize_t d = <Py_ssize_t>fd, o, t
    for o in range(n):
        t = o + d
        if k == 2:
            taps[2 * o] = _fill_index(t, n, mode)
            taps[2 * o + 1] = _fill_index(t + 1, n, mode)
            weights[2 * o] = <floating>(1.0 - f)
            weights[2 * o + 1] = <floating>f
        else:
            if f > 0.5 or (f == 0.5 and t >= 0):
                t += 1
            taps[o] = _fill_index(t, n, mode)
            weights[o] = 1


cdef void _resize_taps(Py_ssize_t start, Py_ssize_t n_in, Py_ssize_t n_out, Py_ssize_t *taps,
                       floating *weights) noexcept nogil:
    """Bilinear taps of a resize of n_in pixels (from ``start``) to n_out, with half-pixel
    centres as TensorFlow's resize: output o samples p = (o + 0.5) * n_in / n_out - 0.5,
    taps floor(p) and ceil(p) clamped to the axis, weights 1 - (p - floor(p)) and
    p - floor(p)."""
    cdef double scale = <double>n_in / n_out, p, lo
    cdef Py_ssize_t o
    for o in range(n_out):
        p = (o + 0.5) * scale - 0.5
        lo = floor(p)
        taps[2 * o] = start + max(<Py_ssize_t>lo, 0)
        taps[2 * o + 1] = start + min(<Py_ssize_t>ceil(p), n_in - 1)
        weights[2 * o] = <floating>(1.0 - (p - lo))
        weights[2 * o + 1] = <floating>(p - lo)


cdef bint _continues(const Py_ssize_t *taps, const floating *weights, Py_ssize_t o,
                     Py_ssize_t k) noexcept nogil:
    """Whether column o continues the run of column o - 1: each tap one source column on
    (or the fill value again) with an unchanged weight."""
    cdef Py_ssize_t e, prev, cur
    for e in range(k):
        prev = taps[(o - 1) * k + e]
        cur = taps[o * k + e]
        if weights[o * k + e] != weights[(o - 1) * k + e]:
            return False
        if prev < 0 or cur < 0:
            if prev != cur:
                return False
        elif cur != prev + 1:
            return False
    return True


cdef Py_ssize_t _column_runs(const Py_ssize_t *taps, const floating *weights, Py_ssize_t n,
                             Py_ssize_t k, Py_ssize_t *starts) noexcept nogil:
    """Split n output columns into runs; run r is columns starts[r] to starts[r + 1] - 1.
    Returns the number of runs."""
    cdef Py_ssize_t runs = 0, o
    starts[0] = 0
    for o in range(1, n):
        if not _continues(taps, weights, o, k):
            runs += 1
            starts[runs] = o
    runs += 1
    starts[runs] = n
    return runs


cdef struct Axes:
    # The tap tables of one image: rows (h_out * k), columns (w_out * k), and column runs.
    Py_ssize_t *row_taps
    Py_ssize_t *col_taps
    Py_ssize_t *starts
    Py_ssize_t runs


cdef void *_alloc_axes(Axes *a, Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t k,
                       size_t itemsize, void **row_weights, void **col_weights) noexcept nogil:
    """One block for the tables of an image (NULL when out of memory); weights go after the
    taps, so both are aligned."""
    cdef char *block = <char *>malloc(((h_out + w_out) * k + w_out + 1) * sizeof(Py_ssize_t)
                                      + (h_out + w_out) * k * itemsize)
    if block == NULL:
        return NULL
    a.row_taps = <Py_ssize_t *>block
    a.col_taps = a.row_taps + h_out * k
    a.starts = a.col_taps + w_out * k
    row_weights[0] = <void *>(a.starts + w_out + 1)
    col_weights[0] = <void *>(<char *>row_weights[0] + h_out * k * itemsize)
    return block


# --- sampling through tap tables --------------------------------------------------------------

cdef inline const floating *_tap(const floating *x, const floating *fill, Py_ssize_t row,
                                 Py_ssize_t col, Py_ssize_t row_len,
                                 Py_ssize_t c) noexcept nogil:
    if row < 0 or col < 0:
        return fill
    return x + row * row_len + col * c


cdef void _blend(const floating *p00, const floating *p01, const floating *p10,
                 const floating *p11, floating v0, floating v1, floating w0, floating w1,
                 bint lerp, floating *out, Py_ssize_t m) noexcept nogil:
    """Bilinear interpolation, elementwise, columns first, then rows, in the arithmetic of
    TensorFlow's kernels: out = v0 * (w0 * p00 + w1 * p01) + v1 * (w0 * p10 + w1 * p11) (its
    image transforms), or with ``lerp`` top + (bottom - top) * v1 with top = p00 + (p01 -
    p00) * w1 and bottom likewise (its resize). The two differ in rounding, and where a tap
    is infinite."""
    cdef Py_ssize_t q
    cdef floating top, bottom
    if lerp:
        for q in range(m):
            top = p00[q] + (p01[q] - p00[q]) * w1
            bottom = p10[q] + (p11[q] - p10[q]) * w1
            out[q] = top + (bottom - top) * v1
        return
    for q in range(m):
        out[q] = v0 * (w0 * p00[q] + w1 * p01[q]) + v1 * (w0 * p10[q] + w1 * p11[q])


cdef void _sample_image(const floating *x, Py_ssize_t w_in, Py_ssize_t c, const Axes *a,
                        const floating *row_weights, const floating *col_weights,
                        Py_ssize_t k, bint lerp, const floating *fill, floating *out,
                        Py_ssize_t h_out, Py_ssize_t w_out) noexcept nogil:
    """One output image from the tap tables ``a``; ``fill``: at least w_out * c values;
    ``lerp``: see _blend."""
    cdef Py_ssize_t row_len = w_in * c, i, r, lo, r0, r1, c0, c1
    cdef floating *dst
    for i in range(h_out):
        dst = out + i * w_out * c
        for r in range(a.runs):
            lo = a.starts[r]
            if k == 1:
                memcpy(dst + lo * c, _tap(x, fill, a.row_taps[i], a.col_taps[lo], row_len, c),
                       (a.starts[r + 1] - lo) * c * sizeof(floating))
                continue
            r0, r1 = a.row_taps[2 * i], a.row_taps[2 * i + 1]
            c0, c1 = a.col_taps[2 * lo], a.col_taps[2 * lo + 1]
            _blend(_tap(x, fill, r0, c0, row_len, c), _tap(x, fill, r0, c1, row_len, c),
                   _tap(x, fill, r1, c0, row_len, c), _tap(x, fill, r1, c1, row_len, c),
                   row_weights[2 * i], row_weights[2 * i + 1], col_weights[2 * lo],
                   col_weights[2 * lo + 1], lerp, dst + lo * c, (a.starts[r + 1] - lo) * c)


cdef void _sample_image_backward(const floating *dy, Py_ssize_t h_in, Py_ssize_t w_in,
                                 Py_ssize_t c, const Axes *a, const floating *row_weights,
                                 const floating *col_weights, Py_ssize_t k, floating *dx,
                                 Py_ssize_t h_out, Py_ssize_t w_out) noexcept nogil:
    """dx (one image) = the transpose of _sample_image applied to dy: every output value
    times each tap's weight (row weight * column weight) added to the tap's pixel, fill taps
    skipped; rows, runs and taps in order."""
    cdef Py_ssize_t row_len = w_in * c, i, r, lo, m, er, ec, row, col, q
    cdef const floating *src
    cdef floating *dst
    cdef floating coef
    memset(dx, 0, h_in * row_len * sizeof(floating))
    for i in range(h_out):
        for r in range(a.runs):
            lo = a.starts[r]
            m = (a.starts[r + 1] - lo) * c
            src = dy + (i * w_out + lo) * c
            for er in range(k):
                row = a.row_taps[i * k + er]
                if row < 0:
                    continue
                for ec in range(k):
                    col = a.col_taps[lo * k + ec]
                    if col < 0:
                        continue
                    coef = row_weights[i * k + er] * col_weights[lo * k + ec]
                    dst = dx + row * row_len + col * c
                    for q in range(m):
                        dst[q] += coef * src[q]


# --- translations -----------------------------------------------------------------------------

cdef bint _translate_image(const floating *x, double shift_rows, double shift_cols,
                           Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, int mode, Py_ssize_t k,
                           const floating *fill, floating *out, bint backward) noexcept nogil:
    """One image of translate_images (or, with ``backward``, of its backward pass: x is dy
    and out is dx); False when its tables could not be allocated."""
    cdef Axes a
    cdef floating *row_weights
    cdef floating *col_weights
    cdef void *block = _alloc_axes(&a, h, w, k, sizeof(floating), <void **>&row_weights,
                                   <void **>&col_weights)
    if block == NULL:
        return False
    _translation_taps(shift_rows, h, mode, k, a.row_taps, row_weights)
    _translation_taps(shift_cols, w, mode, k, a.col_taps, col_weights)
    a.runs = _column_runs(a.col_taps, col_weights, w, k, a.starts)
    if backward:
        _sample_image_backward(x, h, w, c, &a, row_weights, col_weights, k, out, h, w)
    else:
        _sample_image(x, w, c, &a, row_weights, col_weights, k, False, fill, out, h, w)
    free(block)
    return True


def translate_images(const floating[:, :, :, ::1] x, const double[:, ::1] shifts, int mode,
                     bint bilinear, const floating[::1] fill, floating[:, :, :, ::1] out,
                     int nthreads=1):
    """out[n](i, j) = x[n] sampled at (i - shifts[n, 0], j - shifts[n, 1]) (shifts in pixels,
    finite), bilinear or nearest, outside the image by fill mode ``mode`` (a FILL_MODES
    index); ``fill`` holds the constant fill value at least W * C times. Returns False when
    some image's tables could not be allocated (out is then incomplete)."""
    cdef Py_ssize_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3], i
    cdef Py_ssize_t k = 2 if bilinear else 1
    cdef int failed = 0
    with nogil:
        for i in prange(n, schedule="static", num_threads=_threads(nthreads, n, n * h * w * c)):
            failed += not _translate_image(&x[i, 0, 0, 0], shifts[i, 0], shifts[i, 1], h, w, c,
                                           mode, k, &fill[0], &out[i, 0, 0, 0], False)
    return failed == 0


def translate_images_backward(const floating[:, :, :, ::1] dy, const double[:, ::1] shifts,
                              int mode, bint bilinear, floating[:, :, :, ::1] dx,
                              int nthreads=1):
    """dx = the gradient of translate_images with respect to x for the gradient dy of its
    output (fill values receive nothing). Returns False when out of memory."""
    cdef Py_ssize_t n = dy.shape[0], h = dy.shape[1], w = dy.shape[2], c = dy.shape[3], i
    cdef Py_ssize_t k = 2 if bilinear else 1
    cdef int failed = 0
    with nogil:
        for i in prange(n, schedule="static", num_threads=_threads(nthreads, n, n * h * w * c)):
            failed += not _translate_image(&dy[i, 0, 0, 0], shifts[i, 0], shifts[i, 1], h, w,
                                           c, mode, k, NULL, &dx[i, 0, 0, 0], True)
    return failed == 0


# --- resize of a box --------------------------------------------------------------------------

cdef object _resize_tables(Py_ssize_t top, Py_ssize_t left, Py_ssize_t box_h, Py_ssize_t box_w,
                           Py_ssize_t h_out, Py_ssize_t w_out, dtype):
    """The bilinear tables (shared by every image) of the resize of the box to h_out x w_out:
    (row taps, column taps, runs, row weights, column weights) as arrays."""
    cdef Py_ssize_t[::1] row_taps = np.empty(2 * h_out, np.intp)
    cdef Py_ssize_t[::1] col_taps = np.empty(2 * w_out, np.intp)
    cdef Py_ssize_t[::1] starts = np.empty(w_out + 1, np.intp)
    row_weights = np.empty(2 * h_out, dtype)
    col_weights = np.empty(2 * w_out, dtype)
    cdef float[::1] rw32, cw32
    cdef double[::1] rw64, cw64
    cdef Py_ssize_t runs
    if dtype == np.float32:
        rw32, cw32 = row_weights, col_weights
        _resize_taps(top, box_h, h_out, &row_taps[0], &rw32[0])
        _resize_taps(left, box_w, w_out, &col_taps[0], &cw32[0])
        runs = _column_runs(&col_taps[0], &cw32[0], w_out, 2, &starts[0])
    else:
        rw64, cw64 = row_weights, col_weights
        _resize_taps(top, box_h, h_out, &row_taps[0], &rw64[0])
        _resize_taps(left, box_w, w_out, &col_taps[0], &cw64[0])
        runs = _column_runs(&col_taps[0], &cw64[0], w_out, 2, &starts[0])
    return row_taps, col_taps, starts, runs, row_weights, col_weights


cdef _resize_batch(const floating[:, :, :, ::1] src, Py_ssize_t top, Py_ssize_t left,
                   Py_ssize_t box_h, Py_ssize_t box_w, floating[:, :, :, ::1] dst,
                   bint backward, int nthreads):
    """resize_images (src: the images, dst: the resized ones) or, with ``backward``, its
    backward pass (src: dy, dst: dx)."""
    cdef Py_ssize_t n = src.shape[0], c = src.shape[3], i
    cdef Py_ssize_t h_in = dst.shape[1] if backward else src.shape[1]
    cdef Py_ssize_t w_in = dst.shape[2] if backward else src.shape[2]
    cdef Py_ssize_t h_out = src.shape[1] if backward else dst.shape[1]
    cdef Py_ssize_t w_out = src.shape[2] if backward else dst.shape[2]
    cdef Py_ssize_t[::1] row_taps, col_taps, starts
    cdef floating[::1] row_weights, col_weights
    cdef Axes a
    row_taps, col_taps, starts, a.runs, row_weights, col_weights = _resize_tables(
        top, left, box_h, box_w, h_out, w_out, np.float32 if floating is float else np.float64)
    a.row_taps, a.col_taps, a.starts = &row_taps[0], &col_taps[0], &starts[0]
    with nogil:
        for i in prange(n, schedule="static",
                        num_threads=_threads(nthreads, n, n * (h_in * w_in + h_out * w_out) * c)):
            if backward:
                _sample_image_backward(&src[i, 0, 0, 0], h_in, w_in, c, &a, &row_weights[0],
                                       &col_weights[0], 2, &dst[i, 0, 0, 0], h_out, w_out)
            else:
                _sample_image(&src[i, 0, 0, 0], w_in, c, &a, &row_weights[0], &col_weights[0],
                              2, True, NULL, &dst[i, 0, 0, 0], h_out, w_out)


def resize_images(const floating[:, :, :, ::1] x, Py_ssize_t top, Py_ssize_t left,
                  Py_ssize_t box_h, Py_ssize_t box_w, floating[:, :, :, ::1] out,
                  int nthreads=1):
    """out[n] = the box (top, left, box_h, box_w) of x[n] resized to out's height and width
    by bilinear interpolation with half-pixel centres (see _resize_taps), in the arithmetic
    of TensorFlow's resize (see _blend)."""
    _resize_batch(x, top, left, box_h, box_w, out, False, nthreads)


def resize_images_backward(const floating[:, :, :, ::1] dy, Py_ssize_t top, Py_ssize_t left,
                           Py_ssize_t box_h, Py_ssize_t box_w, floating[:, :, :, ::1] dx,
                           int nthreads=1):
    """dx = the gradient of resize_images with respect to x for the gradient dy of its
    output (0 outside the box)."""
    _resize_batch(dy, top, left, box_h, box_w, dx, True, nthreads)
