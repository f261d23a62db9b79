# Max and average pooling drivers over the kernels of csrc/pool.h (NHWC, vectorized across
# channels), included by fastcnn/_kernels.pyx; the kernel set is the selection's
# (fcnn_current_pool).
#
# Shapes, dtypes, geometry and the output array are checked once in fastcnn/ops.py; these
# functions trust them, release the GIL and write every element of the output they are given.
# Forward passes run in parallel over output rows. Backward passes run in parallel over bands
# of dx rows: each band's kernel adds up, for every element of its rows, the gradients of the
# windows that hold it in a fixed window order, so dx is bitwise the same for any banding and
# any thread count. When windows of different output rows cannot overlap (pool height <=
# stride) a band is one output row's rows; otherwise bands are whole images, or parts of
# images when there are too few images to keep the threads busy (the rows where two bands meet
# then have their windows' argmax computed by both).
from fastcnn._parallel cimport MIN_VALUES_PER_THREAD, team_size


cdef enum:
    # Backward with overlapping rows: at least this many bands per thread, so that images of
    # unequal cost still share out evenly.
    BANDS_PER_THREAD = 4


cdef inline fcnn_pool_geom _geometry(Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, Py_ssize_t oh,
                                     Py_ssize_t ow, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                                     Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl) noexcept:
    cdef fcnn_pool_geom g
    g.h, g.w, g.c, g.oh, g.ow = h, w, c, oh, ow
    g.kh, g.kw, g.sh, g.sw, g.pt, g.pl = kh, kw, sh, sw, pt, pl
    return g


cdef int _forward(bint is_max, const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                  Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt,
                  Py_ssize_t pl, int nthreads, floating[:, :, :, ::1] picks=None,
                  bint relu=False) except -1:
    cdef Py_ssize_t n = y.shape[0], oh = y.shape[1], ow = y.shape[2], c = y.shape[3]
    if n * oh * ow * c == 0:
        return 0
    cdef fcnn_pool_geom g = _geometry(x.shape[1], x.shape[2], c, oh, ow, kh, kw, sh, sw, pt, pl)
    cdef const fcnn_pool_kernels *ks = fcnn_current_pool()
    cdef fcnn_pool_forward_f32 k32 = ks.max_forward_f32 if is_max else ks.avg_forward_f32
    cdef fcnn_pool_forward_f64 k64 = ks.max_forward_f64 if is_max else ks.avg_forward_f64
    cdef fcnn_pool_pick_forward_f32 p32 = ks.max_pick_forward_f32
    cdef fcnn_pool_pick_forward_f64 p64 = ks.max_pick_forward_f64
    cdef bint pick = picks is not None
    cdef int nt = team_size(nthreads, n * oh, <double>(n * oh * ow * c) * kh * kw,
                   MIN_VALUES_PER_THREAD)
    cdef Py_ssize_t u, b, o
    with nogil:
        for u in prange(n * oh, schedule="static", num_threads=nt):
            b = u // oh
            o = u - b * oh
            if floating is float:
                if pick:
                    p32(&g, &x[b, 0, 0, 0], &y[b, 0, 0, 0], &picks[b, 0, 0, 0], relu, o, o + 1)
                else:
                    k32(&g, &x[b, 0, 0, 0], &y[b, 0, 0, 0], o, o + 1)
            else:
                if pick:
                    p64(&g, &x[b, 0, 0, 0], &y[b, 0, 0, 0], &picks[b, 0, 0, 0], relu, o, o + 1)
                else:
                    k64(&g, &x[b, 0, 0, 0], &y[b, 0, 0, 0], o, o + 1)
    return 0


cdef inline Py_ssize_t _band_start(Py_ssize_t o, Py_ssize_t oh, Py_ssize_t h, Py_ssize_t sh,
                                   Py_ssize_t pt) noexcept nogil:
    # First dx row of the band that starts with output row o: where window o starts, clipped;
    # band 0 starts at row 0 and the band after the last one at row h.
    cdef Py_ssize_t r = o * sh - pt
    if o >= oh or r > h:
        return h
    if o == 0 or r < 0:
        return 0
    return r


cdef int _backward(int kind, const floating[:, :, :, ::1] dy,
                   const floating[:, :, :, ::1] x, floating[:, :, :, ::1] dx, Py_ssize_t kh,
                   Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl,
                   int nthreads) except -1:
    cdef Py_ssize_t n = dx.shape[0], h = dx.shape[1], w = dx.shape[2], c = dx.shape[3]
    cdef Py_ssize_t oh = dy.shape[1], ow = dy.shape[2]
    if n * h * w * c == 0:
        return 0
    cdef fcnn_pool_geom g = _geometry(h, w, c, oh, ow, kh, kw, sh, sw, pt, pl)
    cdef const fcnn_pool_kernels *ks = fcnn_current_pool()
    # kind: 0 average, 1 max, 2 max with the ReLU before it folded in, 3 max from the picks
    # of max_pool2d_forward_picks (then in x's place)
    cdef bint is_max = kind != 0
    cdef fcnn_pool_backward_f32 k32 = (ks.avg_backward_f32 if kind == 0 else
                                       ks.max_backward_f32 if kind == 1 else
                                       ks.max_relu_backward_f32 if kind == 2 else
                                       ks.max_pick_backward_f32)
    cdef fcnn_pool_backward_f64 k64 = (ks.avg_backward_f64 if kind == 0 else
                                       ks.max_backward_f64 if kind == 1 else
                                       ks.max_relu_backward_f64 if kind == 2 else
                                       ks.max_pick_backward_f64)
    # Bands of output rows per image (each band computes the dx rows its windows start in).
    cdef Py_ssize_t bands = oh
    if kh > sh:
        bands = 1
        if n < BANDS_PER_THREAD * nthreads:
            bands = (BANDS_PER_THREAD * nthreads + n - 1) // n
            if bands > oh:
                bands = oh
    cdef int nt = team_size(nthreads, n * bands, <double>(n * oh * ow * c) * kh * kw,
                   MIN_VALUES_PER_THREAD)
    cdef const floating *xb
    cdef Py_ssize_t u, b, k, r0, r1
    with nogil:
        for u in prange(n * bands, schedule="static", num_threads=nt):
            b = u // bands
            k = u - b * bands
            r0 = _band_start(k * oh // bands, oh, h, sh, pt)
            r1 = _band_start((k + 1) * oh // bands, oh, h, sh, pt)
            xb = &x[b, 0, 0, 0] if is_max else NULL
            if floating is float:
                k32(&g, xb, &dy[b, 0, 0, 0], &dx[b, 0, 0, 0], r0, r1)
            else:
                k64(&g, xb, &dy[b, 0, 0, 0], &dx[b, 0, 0, 0], r0, r1)
    return 0


def max_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y, Py_ssize_t kh,
                       Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt,
                       Py_ssize_t pl, int nthreads):
    """y (N, OH, OW, C) = max pooling of x (N, H, W, C)."""
    _forward(True, x, y, kh, kw, sh, sw, pt, pl, nthreads)


def max_pool2d_forward_picks(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                             floating[:, :, :, ::1] picks, Py_ssize_t kh, Py_ssize_t kw,
                             Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl,
                             int nthreads, bint relu_input=False):
    """max_pool2d_forward, also writing into picks (like y) the number of the tap each maximum
    was found at, for max_pool2d_backward_picks (see csrc/pool.h). The caller checks that
    windows have fewer than 2**24 taps."""
    _forward(True, x, y, kh, kw, sh, sw, pt, pl, nthreads, picks, relu_input)


def max_pool2d_backward_picks(const floating[:, :, :, ::1] dy,
                              const floating[:, :, :, ::1] picks, floating[:, :, :, ::1] dx,
                              Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                              Py_ssize_t pt, Py_ssize_t pl, int nthreads):
    """max_pool2d_backward's dx (with relu_input as the picks were made), from the picks of
    max_pool2d_forward_picks instead of x: dy and the picks are read, x is not."""
    _backward(3, dy, picks, dx, kh, kw, sh, sw, pt, pl, nthreads)


def avg_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y, Py_ssize_t kh,
                       Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt,
                       Py_ssize_t pl, int nthreads):
    """y (N, OH, OW, C) = average pooling of x (N, H, W, C)."""
    _forward(False, x, y, kh, kw, sh, sw, pt, pl, nthreads)


def max_pool2d_backward(const floating[:, :, :, ::1] dy, const floating[:, :, :, ::1] x,
                        floating[:, :, :, ::1] dx, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                        Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl, int nthreads,
                        bint relu_input=False):
    """dx (like x) = gradient of max pooling for dy, the argmax recomputed from x. With
    ``relu_input`` (x is a ReLU's output), that ReLU's backward pass too: dy counts only where
    the window's maximum is > 0, as if it had been masked by the pooled output first."""
    _backward(2 if relu_input else 1, dy, x, dx, kh, kw, sh, sw, pt, pl, nthreads)


def avg_pool2d_backward(const floating[:, :, :, ::1] dy, floating[:, :, :, ::1] dx,
                        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                        Py_ssize_t pt, Py_ssize_t pl, int nthreads):
    """dx (N, H, W, C) = gradient of average pooling for dy."""
    # Average pooling reads no x: dx fills the argument (the kernel gets NULL).
    _backward(0, dy, dx, dx, kh, kw, sh, sw, pt, pl, nthreads)
