# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Max and average pooling over NHWC, vectorized across channels.

Windows are clipped to the image (padded positions take no part: max pooling never returns
a pad value, average pooling divides by the number of real inputs). Forward passes run in
parallel over output rows. Backward passes accumulate into dx: they run in parallel over
output rows when windows of different rows cannot overlap (pool height <= stride), and over
images otherwise, so each dx element is only ever summed by one thread in a fixed order.

NaN rule (the same as fastcnn.reference): a window holding a NaN has a NaN maximum, and its
gradient goes to the first NaN in row-major window order; otherwise the gradient goes to the
first maximal element.
"""
from cython.parallel cimport prange, threadid
from libc.stdlib cimport malloc, free

import numpy as np

ctypedef fused floating:
    float
    double


cdef enum:
    # Fewer window elements than this per thread are not worth waking a thread for.
    MIN_WORK_PER_THREAD = 1 << 16


cdef inline int _team(int nthreads, Py_ssize_t units, double work) noexcept nogil:
    cdef double by_work = work / MIN_WORK_PER_THREAD
    cdef Py_ssize_t n = nthreads
    if n > units:
        n = units
    if n > by_work:
        n = <Py_ssize_t>by_work
    return <int>(n if n > 1 else 1)


cdef inline bint _takes_over(floating v, floating best) noexcept nogil:
    # v replaces the running maximum when it is larger, or the first NaN met.
    return v > best or (v != v and best == best)


# A window's extent clipped to the image: [_lo(...), _hi(...)). (Returned by value: prange
# only privatizes variables that are assigned, not ones written through pointers.)
cdef inline Py_ssize_t _lo(Py_ssize_t o, Py_ssize_t s, Py_ssize_t pad) noexcept nogil:
    cdef Py_ssize_t start = o * s - pad
    return start if start > 0 else 0


cdef inline Py_ssize_t _hi(Py_ssize_t o, Py_ssize_t s, Py_ssize_t pad, Py_ssize_t k,
                           Py_ssize_t size) noexcept nogil:
    cdef Py_ssize_t end = o * s - pad + k
    return end if end < size else size


def max_pool2d_forward(const floating[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw,
                       Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl,
                       Py_ssize_t oh, Py_ssize_t ow, int nthreads):
    cdef Py_ssize_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    y = np.empty((n, oh, ow, c), dtype=np.float32 if floating is float else np.float64)
    if y.size == 0:
        return y
    cdef floating[:, :, :, ::1] yv = y
    cdef Py_ssize_t row, b, o, j, h0, h1, w0, w1, ih, iw, ch
    cdef floating *out
    cdef const floating *src
    cdef floating v
    cdef int nt = _team(nthreads, n * oh, <double>y.size * kh * kw)
    with nogil:
        for row in prange(n * oh, schedule="static", num_threads=nt):
            b = row // oh
            o = row - b * oh
            h0 = _lo(o, sh, pt)
            h1 = _hi(o, sh, pt, kh, h)
            for j in range(ow):
                w0 = _lo(j, sw, pl)
                w1 = _hi(j, sw, pl, kw, w)
                out = &yv[b, o, j, 0]
                src = &x[b, h0, w0, 0]
                for ch in range(c):
                    out[ch] = src[ch]
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        if ih == h0 and iw == w0:
                            continue
                        src = &x[b, ih, iw, 0]
                        for ch in range(c):
                            v = src[ch]
                            if _takes_over(v, out[ch]):
                                out[ch] = v
    return y


cdef inline bint _rows_independent(Py_ssize_t kh, Py_ssize_t sh) noexcept nogil:
    return kh <= sh


def max_pool2d_backward(const floating[:, :, :, ::1] dy, const floating[:, :, :, ::1] x,
                        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                        Py_ssize_t pt, Py_ssize_t pl, int nthreads):
    cdef Py_ssize_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef Py_ssize_t oh = dy.shape[1], ow = dy.shape[2]
    dx = np.zeros((n, h, w, c), dtype=np.float32 if floating is float else np.float64)
    if dx.size == 0 or dy.size == 0:
        return dx
    cdef floating[:, :, :, ::1] dxv = dx
    cdef bint by_row = _rows_independent(kh, sh)
    cdef Py_ssize_t units = n * oh if by_row else n
    cdef Py_ssize_t rows_per_unit = 1 if by_row else oh
    cdef int nt = _team(nthreads, units, <double>dy.size * kh * kw)
    # Per thread: the running maximum and its offset in the image, for each channel.
    cdef floating *best = <floating *>malloc(nt * c * sizeof(floating))
    cdef Py_ssize_t *where = <Py_ssize_t *>malloc(nt * c * sizeof(Py_ssize_t))
    cdef Py_ssize_t u, r, row, b, o, j, h0, h1, w0, w1, ih, iw, ch, off
    cdef floating *bv
    cdef Py_ssize_t *bw
    cdef const floating *src
    cdef const floating *g
    cdef floating *image
    cdef floating v
    cdef int tid
    try:
        if best == NULL or where == NULL:
            raise MemoryError("could not allocate the max-pool workspace")
        with nogil:
            for u in prange(units, schedule="static", num_threads=nt):
                tid = threadid()
                bv = best + tid * c
                bw = where + tid * c
                for r in range(rows_per_unit):
                    row = u * rows_per_unit + r
                    b = row // oh
                    o = row - b * oh
                    image = &dxv[b, 0, 0, 0]
                    h0 = _lo(o, sh, pt)
                    h1 = _hi(o, sh, pt, kh, h)
                    for j in range(ow):
                        w0 = _lo(j, sw, pl)
                        w1 = _hi(j, sw, pl, kw, w)
                        off = (h0 * w + w0) * c
                        src = &x[b, h0, w0, 0]
                        for ch in range(c):
                            bv[ch] = src[ch]
                            bw[ch] = off
                        for ih in range(h0, h1):
                            for iw in range(w0, w1):
                                if ih == h0 and iw == w0:
                                    continue
                                off = (ih * w + iw) * c
                                src = &x[b, ih, iw, 0]
                                for ch in range(c):
                                    v = src[ch]
                                    if _takes_over(v, bv[ch]):
                                        bv[ch] = v
                                        bw[ch] = off
                        g = &dy[b, o, j, 0]
                        for ch in range(c):
                            image[bw[ch] + ch] += g[ch]
    finally:
        free(best)
        free(where)
    return dx


def avg_pool2d_forward(const floating[:, :, :, ::1] x, Py_ssize_t kh, Py_ssize_t kw,
                       Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl,
                       Py_ssize_t oh, Py_ssize_t ow, int nthreads):
    cdef Py_ssize_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    y = np.empty((n, oh, ow, c), dtype=np.float32 if floating is float else np.float64)
    if y.size == 0:
        return y
    cdef floating[:, :, :, ::1] yv = y
    cdef Py_ssize_t row, b, o, j, h0, h1, w0, w1, ih, iw, ch
    cdef floating *out
    cdef const floating *src
    cdef floating count
    cdef int nt = _team(nthreads, n * oh, <double>y.size * kh * kw)
    with nogil:
        for row in prange(n * oh, schedule="static", num_threads=nt):
            b = row // oh
            o = row - b * oh
            h0 = _lo(o, sh, pt)
            h1 = _hi(o, sh, pt, kh, h)
            for j in range(ow):
                w0 = _lo(j, sw, pl)
                w1 = _hi(j, sw, pl, kw, w)
                out = &yv[b, o, j, 0]
                for ch in range(c):
                    out[ch] = 0
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        src = &x[b, ih, iw, 0]
                        for ch in range(c):
                            out[ch] += src[ch]
                count = <floating>((h1 - h0) * (w1 - w0))
                for ch in range(c):
                    out[ch] = out[ch] / count
    return y


def avg_pool2d_backward(const floating[:, :, :, ::1] dy, Py_ssize_t n, Py_ssize_t h,
                        Py_ssize_t w, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                        Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl, int nthreads):
    cdef Py_ssize_t c = dy.shape[3], oh = dy.shape[1], ow = dy.shape[2]
    dx = np.zeros((n, h, w, c), dtype=np.float32 if floating is float else np.float64)
    if dx.size == 0 or dy.size == 0:
        return dx
    cdef floating[:, :, :, ::1] dxv = dx
    cdef bint by_row = _rows_independent(kh, sh)
    cdef Py_ssize_t units = n * oh if by_row else n
    cdef Py_ssize_t rows_per_unit = 1 if by_row else oh
    cdef int nt = _team(nthreads, units, <double>dy.size * kh * kw)
    cdef Py_ssize_t u, r, row, b, o, j, h0, h1, w0, w1, ih, iw, ch
    cdef const floating *g
    cdef floating *dst
    cdef floating count
    with nogil:
        for u in prange(units, schedule="static", num_threads=nt):
            for r in range(rows_per_unit):
                row = u * rows_per_unit + r
                b = row // oh
                o = row - b * oh
                h0 = _lo(o, sh, pt)
                h1 = _hi(o, sh, pt, kh, h)
                for j in range(ow):
                    w0 = _lo(j, sw, pl)
                    w1 = _hi(j, sw, pl, kw, w)
                    count = <floating>((h1 - h0) * (w1 - w0))
                    g = &dy[b, o, j, 0]
                    for ih in range(h0, h1):
                        for iw in range(w0, w1):
                            dst = &dxv[b, ih, iw, 0]
                            for ch in range(c):
                                dst[ch] += g[ch] / count
    return dx
