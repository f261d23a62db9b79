# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Per-channel work over rows of channels-last data: batch normalization (training and
inference, forward and backward) and global average and max pooling.

Batch normalization sees its input as M rows of C channels (everything but the last axis is
rows); global pooling sees an image (H, W, C) as H*W rows. Every inner loop runs over the C
contiguous channels of a row, so it compiles to vector code across channels. The hot row
kernels of batch normalization are C (csrc/norm_rows.h), compiled for AVX-512, AVX2 and the
baseline ISA with bitwise the same results.

Passes over memory (a training step's tensors do not stay in cache between passes): the
training forward pass reads x twice (statistics, then normalizing) and writes y; its backward
pass reads dy and x twice (sums, then dx) and writes dx. A ReLU fused after the layer adds no
array to read: its mask is found again from x (relu_coefficients).

Arrays are C-contiguous and their shapes, dtypes and sizes are checked by the callers
(fastcnn/_norm_ops.py); these functions trust them, release the GIL and write every element
of the outputs they are given.

Determinism. Sums over rows are taken in blocks of rows whose size is fixed by C alone
(BLOCK_VALUES values per block), never by the thread count: each block's per-channel partial
sums are accumulated in row order by one thread, and the partials are added in block order
afterwards. Global pooling runs one image per unit of work and sums its pixels in row-major
order. So results are bitwise the same on any number of threads.

Precision. Sums are accumulated in double for float32 and float64 alike; the per-channel
coefficients are computed in double and rounded once to the data's dtype; the per-element
passes (normalizing, dx) are computed in the data's dtype. The statistics the training
backward pass gets are the forward pass's, rounded to the data's dtype: in float32 its
results are then exact to about 6e-8 * |mean| / std relative, the precision float32 x
itself has about its mean.
"""
import numpy as np

from cython.parallel cimport prange
from libc.math cimport NAN, sqrt
from libc.string cimport memcpy, memset

from fastcnn._parallel cimport MIN_VALUES_PER_THREAD, cdiv, team_size

ctypedef fused floating:
    float
    double


cdef enum:
    # Values in a block of rows of a sum over rows: large enough that the per-block partials
    # (C doubles each) are a small fraction of the data, small enough that there is a block
    # for every thread as soon as team_size would give one work (MIN_VALUES_PER_THREAD).
    # A literal, not that constant: the blocks fix the rounding of the sums, and a change of
    # the threading policy should not change results.
    BLOCK_VALUES = 1 << 15
    # Rows of a chunk of the global max pooling's scan with picks: the rows are counted in the
    # data's type (one vector width in the loop), which holds every integer up to 2**24 even
    # in float32.
    PICK_CHUNK = 1 << 24


cdef inline Py_ssize_t _block_rows(Py_ssize_t c) noexcept nogil:
    return BLOCK_VALUES // c if BLOCK_VALUES > c else 1


cdef inline int _threads(int nthreads, Py_ssize_t units, Py_ssize_t values) noexcept nogil:
    return team_size(nthreads, units, <double>values, MIN_VALUES_PER_THREAD)


# --- row kernels (one thread, one block of rows) --------------------------------------------
# The hot ones are C (csrc/norm_rows.h), compiled for several ISAs; these wrappers pick the
# float or double version.

cdef extern from "norm_rows.h" nogil:
    void fcnn_norm_add_rows_f(const float *x, Py_ssize_t rows, Py_ssize_t c, double *acc)
    void fcnn_norm_add_rows_d(const double *x, Py_ssize_t rows, Py_ssize_t c, double *acc)
    void fcnn_norm_add_deviations_f(const float *x, Py_ssize_t rows, Py_ssize_t c,
                                    const double *center, double *dev, double *sq)
    void fcnn_norm_add_deviations_d(const double *x, Py_ssize_t rows, Py_ssize_t c,
                                    const double *center, double *dev, double *sq)
    void fcnn_norm_normalize_rows_f(const float *x, float *y, Py_ssize_t rows, Py_ssize_t c,
                                    const float *center, const float *scale,
                                    const float *shift, int relu)
    void fcnn_norm_normalize_rows_d(const double *x, double *y, Py_ssize_t rows, Py_ssize_t c,
                                    const double *center, const double *scale,
                                    const double *shift, int relu)
    void fcnn_norm_normalize_add_rows_f(const float *x, const float *add, float *y,
                                        Py_ssize_t rows, Py_ssize_t c, const float *center,
                                        const float *scale, const float *shift, int relu)
    void fcnn_norm_normalize_add_rows_d(const double *x, const double *add, double *y,
                                        Py_ssize_t rows, Py_ssize_t c, const double *center,
                                        const double *scale, const double *shift, int relu)
    void fcnn_norm_gradient_sums_f(const float *dy, const float *x, Py_ssize_t rows,
                                   Py_ssize_t c, const double *mean, double *sum_dy,
                                   double *sum_dy_xc, const float *relu_y, const float *center,
                                   const float *coefficients, float *row, Py_ssize_t row_step)
    void fcnn_norm_gradient_sums_d(const double *dy, const double *x, Py_ssize_t rows,
                                   Py_ssize_t c, const double *mean, double *sum_dy,
                                   double *sum_dy_xc, const double *relu_y,
                                   const double *center, const double *coefficients,
                                   double *row, Py_ssize_t row_step)
    void fcnn_norm_gradient_rows_f(const float *dy, const float *x, float *dx, Py_ssize_t rows,
                                   Py_ssize_t c, float count, const float *mean,
                                   const float *dbeta, const float *g, const float *k,
                                   const float *relu_y, const float *coefficients)
    void fcnn_norm_gradient_rows_d(const double *dy, const double *x, double *dx,
                                   Py_ssize_t rows, Py_ssize_t c, double count,
                                   const double *mean, const double *dbeta, const double *g,
                                   const double *k, const double *relu_y,
                                   const double *coefficients)


cdef inline void _add_rows(const floating *x, Py_ssize_t rows, Py_ssize_t c,
                           double *acc) noexcept nogil:
    """acc[j] += x[r, j] for r = 0, 1, ... (in that order)."""
    if floating is float:
        fcnn_norm_add_rows_f(x, rows, c, acc)
    else:
        fcnn_norm_add_rows_d(x, rows, c, acc)


cdef inline void _add_deviations(const floating *x, Py_ssize_t rows, Py_ssize_t c,
                                 const double *center, double *dev, double *sq) noexcept nogil:
    """dev[j] += x[r, j] - center[j]; sq[j] += (x[r, j] - center[j])**2, r = 0, 1, ..."""
    if floating is float:
        fcnn_norm_add_deviations_f(x, rows, c, center, dev, sq)
    else:
        fcnn_norm_add_deviations_d(x, rows, c, center, dev, sq)


cdef inline void _normalize_rows(const floating *x, floating *y, Py_ssize_t rows, Py_ssize_t c,
                                 const floating *center, const floating *scale,
                                 const floating *shift, bint relu) noexcept nogil:
    """y = (x - center) * scale + shift, per channel; then with relu the ReLU of
    _elementwise.relu (0 where < 0, else the value: NaN stays NaN) in the same pass."""
    if floating is float:
        fcnn_norm_normalize_rows_f(x, y, rows, c, center, scale, shift, relu)
    else:
        fcnn_norm_normalize_rows_d(x, y, rows, c, center, scale, shift, relu)


cdef inline void _normalize_add_rows(const floating *x, const floating *add, floating *y,
                                     Py_ssize_t rows, Py_ssize_t c, const floating *center,
                                     const floating *scale, const floating *shift,
                                     bint relu) noexcept nogil:
    """y = ((x - center) * scale + shift) + add, per channel; then the ReLU as in
    _normalize_rows."""
    if floating is float:
        fcnn_norm_normalize_add_rows_f(x, add, y, rows, c, center, scale, shift, relu)
    else:
        fcnn_norm_normalize_add_rows_d(x, add, y, rows, c, center, scale, shift, relu)


cdef inline void _add_gradient_sums(const floating *dy, const floating *x, Py_ssize_t rows,
                                    Py_ssize_t c, const double *mean, double *sum_dy,
                                    double *sum_dy_xc, const floating *relu_y,
                                    const floating *center, const floating *coefficients,
                                    floating *row, Py_ssize_t row_step=0) noexcept nogil:
    """sum_dy[j] += dy[r, j]; sum_dy_xc[j] += dy[r, j] * (x[r, j] - mean[j]), with dy masked
    by the ReLU output relu_y, or by the one found again from x with the normalizing pass's
    coefficients (center: mean in the data's type), when not NULL (row: scratch for c
    values then; with row_step c, where the masked rows are written, row r at row + r*c)."""
    if floating is float:
        fcnn_norm_gradient_sums_f(dy, x, rows, c, mean, sum_dy, sum_dy_xc, relu_y, center,
                                  coefficients, row, row_step)
    else:
        fcnn_norm_gradient_sums_d(dy, x, rows, c, mean, sum_dy, sum_dy_xc, relu_y, center,
                                  coefficients, row, row_step)


cdef inline void _gradient_rows(const floating *dy, const floating *x, floating *dx,
                                Py_ssize_t rows, Py_ssize_t c, floating count,
                                const floating *mean, const floating *dbeta, const floating *g,
                                const floating *k, const floating *relu_y,
                                const floating *coefficients) noexcept nogil:
    """dx = ((dy * count - dbeta) - (x - mean) * g) * k, per channel: the terms of
    batch_norm_train_backward's formula in its order, so that they cancel exactly where the
    formula's do (one row, a constant dy); dy masked as in _add_gradient_sums."""
    if floating is float:
        fcnn_norm_gradient_rows_f(dy, x, dx, rows, c, count, mean, dbeta, g, k, relu_y,
                                  coefficients)
    else:
        fcnn_norm_gradient_rows_d(dy, x, dx, rows, c, count, mean, dbeta, g, k, relu_y,
                                  coefficients)


cdef void _block_moments(const floating *x, Py_ssize_t rows, Py_ssize_t c,
                         double *moments) noexcept nogil:
    """The block's per-channel sum, mean and sum of squared deviations from that mean
    (moments[0:c], [c:2c], [2c:3c]; moments[3c:4c] scratch; all zero on entry): two passes
    over the block, the second while it is still in cache, so that memory is read once. The
    second pass takes the squares about the first pass's mean m and also sums x - m, which
    corrects m's rounding to first order (the corrected two-pass algorithm of Chan, Golub
    and LeVeque): the results do not suffer from the data's offset."""
    cdef Py_ssize_t j
    cdef double *mean = moments + c
    cdef double *sq = moments + 2 * c
    cdef double *dev = moments + 3 * c
    _add_rows(x, rows, c, moments)
    for j in range(c):
        mean[j] = moments[j] / rows
    _add_deviations(x, rows, c, mean, dev, sq)
    for j in range(c):
        mean[j] += dev[j] / rows
        sq[j] -= dev[j] * dev[j] / rows
        if sq[j] < 0:                   # rounding, about a constant channel (NaN stays)
            sq[j] = 0


cdef void _mask_row(const floating *dy, const floating *relu_y, floating *out,
                    Py_ssize_t n) noexcept nogil:
    """out = dy where relu_y > 0, else 0 (_elementwise.relu_backward). In the data's type
    alone, with dy read unconditionally, so that the select compiles to vector code."""
    cdef Py_ssize_t i
    cdef floating v
    for i in range(n):
        v = dy[i]
        out[i] = v if relu_y[i] > 0 else 0


cdef void _scale_rows(const floating *dy, floating *dx, Py_ssize_t rows, Py_ssize_t c,
                      const floating *scale, const floating *relu_y) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef const floating *d
    for r in range(rows):
        d = dy + r * c
        if relu_y != NULL:          # masked into dx's row, then scaled in place
            _mask_row(d, relu_y + r * c, dx + r * c, c)
            d = dx + r * c
        for j in range(c):
            dx[r * c + j] = d[j] * scale[j]


cdef inline bint _takes(floating v, floating m) noexcept nogil:
    # v replaces the running maximum m: v > m, or v is NaN and m is not (the first NaN wins).
    # Bitwise operators, not and/or: no branches, so the loops using it are vectorized.
    return (v > m) | ((v != v) & (m == m))


cdef void _max_rows(const floating *x, Py_ssize_t rows, Py_ssize_t c, floating *best,
                    floating *at) noexcept nogil:
    """best[j] = the first maximal x[r, j] over the rows, or the first NaN when there is one;
    at[j] (unless at is NULL) = its row r, held in the data's type (exact: rows <=
    PICK_CHUNK) so that the loop runs on vectors of one width."""
    cdef Py_ssize_t r, j
    cdef floating v, m, q, row
    cdef bint take
    memcpy(best, x, c * sizeof(floating))
    if at != NULL:
        memset(at, 0, c * sizeof(floating))
        for r in range(1, rows):
            row = <floating>r
            for j in range(c):
                v = x[r * c + j]
                m = best[j]
                q = at[j]                   # loaded whether or not it is replaced
                take = _takes(v, m)
                best[j] = v if take else m
                at[j] = row if take else q
    else:
        for r in range(1, rows):
            for j in range(c):
                v = x[r * c + j]
                m = best[j]
                best[j] = v if _takes(v, m) else m


cdef void _max_pixels(const floating *x, Py_ssize_t p, Py_ssize_t c, Py_ssize_t chunk,
                      floating *best, Py_ssize_t *picks, floating *chunk_best,
                      floating *chunk_at) noexcept nogil:
    """_max_rows over the p rows of x with the rows of the maxima in picks, found in chunks of
    at most ``chunk`` rows (chunk_best, chunk_at: room for C values each) whose maxima are
    merged in chunk order by the same rule, so the first maximum of the first chunk holding
    the overall maximum wins."""
    cdef Py_ssize_t t, k, j
    _max_rows(x, min(p, chunk), c, best, chunk_at)
    for j in range(c):
        picks[j] = <Py_ssize_t>chunk_at[j]
    for t in range(1, cdiv(p, chunk)):
        k = t * chunk
        _max_rows(x + k * c, min(chunk, p - k), c, chunk_best, chunk_at)
        for j in range(c):
            if _takes(chunk_best[j], best[j]):
                best[j] = chunk_best[j]
                picks[j] = k + <Py_ssize_t>chunk_at[j]


cdef void _unpool_max(const floating *dy, const Py_ssize_t *picks, floating *dx,
                      Py_ssize_t rows, Py_ssize_t c) noexcept nogil:
    """dx (rows, c) = 0 but dx[picks[j], j] = dy[j]."""
    cdef Py_ssize_t j
    memset(dx, 0, rows * c * sizeof(floating))
    for j in range(c):
        dx[picks[j] * c + j] = dy[j]


# --- sums over blocks of rows -----------------------------------------------------------------

cdef void _sum_blocks(double[:, ::1] part) noexcept nogil:
    """part[0, j] = the sum of part[b, j] over the blocks b, added in block order."""
    cdef Py_ssize_t b, j
    for b in range(1, part.shape[0]):
        for j in range(part.shape[1]):
            part[0, j] += part[b, j]


cdef floating[::1] _channel_vector(const floating[::1] values, double default,
                                   const floating[:, ::1] like):
    """A new (C,) array of like's dtype holding values, or default everywhere when values is
    None."""
    cdef Py_ssize_t c = like.shape[1], j
    cdef floating[::1] v = np.empty(c, np.float32 if floating is float else np.float64)
    for j in range(c):
        v[j] = values[j] if values is not None else <floating>default
    return v


def batch_norm_train(const floating[:, ::1] x, const floating[::1] gamma,
                     const floating[::1] beta, double epsilon, floating[:, ::1] y,
                     floating[::1] mean, floating[::1] var, floating[::1] inv_std,
                     int nthreads=1, bint relu=False, floating[:, ::1] coefficients=None,
                     const floating[:, ::1] residual=None):
    """Batch normalization of the rows of x (M, C) with its own statistics.

    mean = sum(x) / M and var = sum((x - mean)**2) / M (biased), both in double; inv_std =
    1 / sqrt(var + epsilon) in double; each rounded once into the outputs. The statistics take
    one pass over memory: each block of rows gives its sum and its squared deviations about
    its own mean (the block read twice while in cache; see _block_moments); mean is the sum
    of the block sums (as a two-pass algorithm has it, bitwise) over
    M, and the squared deviations about it are those of the blocks plus
    rows * (block mean - mean)**2 per block, added in block order (terms >= 0: no
    cancellation). y = (x - mean) * s + beta in the data's dtype, with mean as rounded and
    s = gamma * inv_std computed in double and rounded once. gamma None counts as 1, beta
    None as 0. With M == 0, mean, var and inv_std are NaN. With relu, y is then the ReLU
    of _elementwise.relu, in the same pass. ``coefficients`` (2, C), when given, receives
    (s, beta) as the normalizing pass used them (for batch_norm_train_backward's
    relu_coefficients). ``residual`` (M, C), when given, is added to the normalized values
    before the ReLU, in the same pass: y = relu(((x - mean) * s + beta) + residual), each
    step rounded as batch normalization and then _elementwise.add round them (the plan's
    BatchNormalization + Add + ReLU step).
    """
    cdef Py_ssize_t m = x.shape[0], c = x.shape[1], rows = _block_rows(c)
    cdef Py_ssize_t blocks = cdiv(m, rows), b, j
    cdef int nt = _threads(nthreads, blocks, m * c)
    cdef double[:, ::1] part = np.zeros((blocks, 4 * c))
    cdef double[::1] sq = np.zeros(c)
    cdef floating[::1] scale = _channel_vector(gamma, 1.0, x)
    cdef floating[::1] shift = _channel_vector(beta, 0.0, x)
    cdef double inv, mean_d, d
    cdef const floating *res = NULL if residual is None or m == 0 else &residual[0, 0]
    if coefficients is not None:
        coefficients[1, :] = shift
    if m == 0:
        mean[:] = NAN
        var[:] = NAN
        inv_std[:] = NAN
        if coefficients is not None:
            coefficients[0, :] = NAN
        return
    with nogil:
        for b in prange(blocks, schedule="static", num_threads=nt):
            _block_moments(&x[b * rows, 0], min(rows, m - b * rows), c, &part[b, 0])
        for b in range(1, blocks):              # the sums, in block order
            for j in range(c):
                part[0, j] += part[b, j]
        for j in range(c):
            mean_d = part[0, j] / m
            mean[j] = <floating>mean_d
            for b in range(blocks):
                d = part[b, c + j] - mean_d
                sq[j] += part[b, 2 * c + j] + min(rows, m - b * rows) * (d * d)
            var[j] = <floating>(sq[j] / m)
            inv = 1.0 / sqrt(sq[j] / m + epsilon)
            inv_std[j] = <floating>inv
            scale[j] = <floating>(inv * scale[j])      # gamma (or 1) * inv_std
        if res == NULL:
            for b in prange(blocks, schedule="static", num_threads=nt):
                _normalize_rows(&x[b * rows, 0], &y[b * rows, 0], min(rows, m - b * rows), c,
                                &mean[0], &scale[0], &shift[0], relu)
        else:
            for b in prange(blocks, schedule="static", num_threads=nt):
                _normalize_add_rows(&x[b * rows, 0], res + b * rows * c, &y[b * rows, 0],
                                    min(rows, m - b * rows), c, &mean[0], &scale[0],
                                    &shift[0], relu)
    if coefficients is not None:
        coefficients[0, :] = scale


cdef floating[::1] _inference_scale(const floating[::1] gamma, const floating[::1] moving_var,
                                    double epsilon, const floating[:, ::1] like):
    """gamma / sqrt(moving_var + epsilon) per channel, in double, rounded once."""
    cdef floating[::1] scale = _channel_vector(gamma, 1.0, like)
    cdef Py_ssize_t j
    for j in range(scale.shape[0]):
        scale[j] = <floating>(<double>scale[j] / sqrt(<double>moving_var[j] + epsilon))
    return scale


def batch_norm_inference(const floating[:, ::1] x, const floating[::1] gamma,
                         const floating[::1] beta, const floating[::1] moving_mean,
                         const floating[::1] moving_var, double epsilon, floating[:, ::1] y,
                         int nthreads=1, bint relu=False):
    """y = (x - moving_mean) * s + beta in the data's dtype, with
    s = gamma / sqrt(moving_var + epsilon) computed in double and rounded once.
    gamma None counts as 1, beta None as 0. With relu, the ReLU follows in the same pass."""
    cdef Py_ssize_t m = x.shape[0], c = x.shape[1], rows = _block_rows(c)
    cdef Py_ssize_t blocks = cdiv(m, rows), b
    cdef floating[::1] scale = _inference_scale(gamma, moving_var, epsilon, x)
    cdef floating[::1] shift = _channel_vector(beta, 0.0, x)
    with nogil:
        for b in prange(blocks, schedule="static", num_threads=_threads(nthreads, blocks, m * c)):
            _normalize_rows(&x[b * rows, 0], &y[b * rows, 0], min(rows, m - b * rows), c,
                            &moving_mean[0], &scale[0], &shift[0], relu)


def batch_norm_inference_backward(const floating[:, ::1] dy, const floating[::1] gamma,
                                  const floating[::1] moving_var, double epsilon,
                                  floating[:, ::1] dx, int nthreads=1,
                                  const floating[:, ::1] relu_output=None):
    """dx = dy * s with s the scale of batch_norm_inference (gamma / sqrt(moving_var +
    epsilon), in double, rounded once): the gradient of a frozen layer. With relu_output
    (the output of a ReLU applied to this layer's output, like dy), dy is first masked where
    it is not > 0, as _elementwise.relu_backward does."""
    cdef const floating *mask = (NULL if relu_output is None or dy.shape[0] == 0
                                 else &relu_output[0, 0])
    cdef Py_ssize_t m = dy.shape[0], c = dy.shape[1], rows = _block_rows(c)
    cdef Py_ssize_t blocks = cdiv(m, rows), b
    cdef floating[::1] scale = _inference_scale(gamma, moving_var, epsilon, dy)
    with nogil:
        for b in prange(blocks, schedule="static", num_threads=_threads(nthreads, blocks, m * c)):
            _scale_rows(&dy[b * rows, 0], &dx[b * rows, 0], min(rows, m - b * rows), c,
                        &scale[0], NULL if mask == NULL else mask + b * rows * c)


def batch_norm_train_backward(const floating[:, ::1] dy, const floating[:, ::1] x,
                              const floating[::1] gamma, const floating[::1] mean,
                              const floating[::1] inv_std, floating[:, ::1] dx,
                              floating[::1] dgamma, floating[::1] dbeta, int nthreads=1,
                              const floating[:, ::1] relu_output=None,
                              const floating[:, ::1] relu_coefficients=None,
                              floating[:, ::1] masked=None):
    """Gradients of batch_norm_train for dy, from its mean and inv_std:
    dx = gamma * inv_std / M * (M*dy - dbeta - xhat*dgamma), xhat = (x - mean) * inv_std.

    First pass, sums in double: dbeta = sum(dy), dgamma = inv_std * sum(dy * (x - mean)),
    each rounded once into the outputs. Second pass, in the data's dtype:
    dx = ((dy * M - dbeta) - (x - mean) * g) * k with per-channel g = inv_std * dgamma and
    k = gamma * inv_std / M computed in double and rounded once (dbeta as rounded).
    gamma None counts as 1. With M == 0, dgamma and dbeta are 0. With relu_output (the
    output of a ReLU applied to this layer's output, like dy), dy is masked where it is not
    > 0 wherever it is read, as _elementwise.relu_backward would have done. With
    relu_coefficients instead (the (2, C) coefficients batch_norm_train(relu=True) wrote),
    the same mask is found again from x, so that only dy and x are read. ``masked`` (like
    dy, with relu_output only): receives dy masked, written in the first pass and read by
    the second instead of dy and the mask (the gradient of the ReLU's input, which the plan's
    BatchNormalization + Add + ReLU step also hands to the Add's other input).
    """
    cdef Py_ssize_t m = dy.shape[0], c = dy.shape[1], rows = _block_rows(c)
    cdef const floating *mask = NULL if relu_output is None or m == 0 else &relu_output[0, 0]
    cdef const floating *coef = (NULL if relu_coefficients is None or mask != NULL
                                 else &relu_coefficients[0, 0])
    cdef Py_ssize_t blocks = cdiv(m, rows), b, j
    cdef int nt = _threads(nthreads, blocks, 2 * m * c)
    cdef floating *out_rows = NULL if masked is None or mask == NULL else &masked[0, 0]
    cdef const floating *src = NULL if m == 0 else &dy[0, 0]   # what the second pass reads
    cdef double[:, ::1] part = np.zeros((blocks, 2 * c))
    cdef double[::1] mean_d = np.empty(c)
    cdef floating[::1] k = _channel_vector(gamma, 1.0, x)
    # a masked row of dy per block (for the sums' pass)
    cdef floating[:, ::1] rows_dy = np.empty(
        (blocks if (mask != NULL or coef != NULL) and out_rows == NULL else 0, c),
        np.float32 if floating is float else np.float64)
    cdef floating[::1] g = np.empty(c, np.float32 if floating is float else np.float64)
    cdef double inv
    if m == 0:
        dgamma[:] = 0
        dbeta[:] = 0
        return
    with nogil:
        for j in range(c):
            mean_d[j] = mean[j]
        for b in prange(blocks, schedule="static", num_threads=nt):
            # the masked rows: written out (masked), or one row of scratch per block
            _add_gradient_sums(&dy[b * rows, 0], &x[b * rows, 0], min(rows, m - b * rows), c,
                               &mean_d[0], &part[b, 0], &part[b, c],
                               NULL if mask == NULL else mask + b * rows * c, &mean[0], coef,
                               out_rows + b * rows * c if out_rows != NULL
                               else (NULL if rows_dy.shape[0] == 0 else &rows_dy[b, 0]),
                               c if out_rows != NULL else 0)
        _sum_blocks(part)
        for j in range(c):
            inv = inv_std[j]
            dbeta[j] = <floating>part[0, j]
            dgamma[j] = <floating>(part[0, c + j] * inv)
            g[j] = <floating>(part[0, c + j] * inv * inv)
            k[j] = <floating>(k[j] * inv / m)         # k[j] is gamma (or 1) until here
        if out_rows != NULL:    # the second pass reads dy masked, as the first wrote it
            src, mask = out_rows, NULL
        for b in prange(blocks, schedule="static", num_threads=nt):
            _gradient_rows(src + b * rows * c, &x[b * rows, 0], &dx[b * rows, 0],
                           min(rows, m - b * rows), c, <floating>m, &mean[0], &dbeta[0],
                           &g[0], &k[0], NULL if mask == NULL else mask + b * rows * c, coef)


# --- global pooling ---------------------------------------------------------------------------

def global_avg_pool2d(const floating[:, :, ::1] x, floating[:, ::1] y, int nthreads=1):
    """y[n, c] = (sum of x[n, p, c] over the pixels p in row-major order, in double)
    * (1 / P), rounded once; x is (N, P, C) with P = H*W pixels."""
    cdef Py_ssize_t n = x.shape[0], p = x.shape[1], c = x.shape[2], i, j
    cdef double[:, ::1] sums = np.zeros((n, c))
    cdef double inv_p = 1.0 / p
    with nogil:
        for i in prange(n, schedule="static", num_threads=_threads(nthreads, n, n * p * c)):
            _add_rows(&x[i, 0, 0], p, c, &sums[i, 0])
            for j in range(c):
                y[i, j] = <floating>(sums[i, j] * inv_p)


def global_avg_pool2d_backward(const floating[:, ::1] dy, floating[:, :, ::1] dx,
                               int nthreads=1):
    """dx[n, p, c] = dy[n, c] / P (in the data's dtype) for every pixel p of dx (N, P, C)."""
    cdef Py_ssize_t n = dx.shape[0], p = dx.shape[1], c = dx.shape[2], i, j, q
    cdef floating count = <floating>p
    with nogil:
        for i in prange(n, schedule="static", num_threads=_threads(nthreads, n, n * p * c)):
            for j in range(c):
                dx[i, 0, j] = dy[i, j] / count
            for q in range(1, p):
                memcpy(&dx[i, q, 0], &dx[i, 0, 0], c * sizeof(floating))


def global_max_pool2d(const floating[:, :, ::1] x, floating[:, ::1] y,
                      Py_ssize_t[:, ::1] picks=None, int nthreads=1,
                      Py_ssize_t chunk=PICK_CHUNK):
    """y[n, c] = the first maximal x[n, p, c] over the pixels p in row-major order, or the
    first NaN when there is one (x is (N, P, C)); picks[n, c] (when given) = that pixel.
    ``chunk``: see _max_pixels (smaller values only to test the merge of chunks)."""
    cdef Py_ssize_t n = x.shape[0], p = x.shape[1], c = x.shape[2], i
    cdef int nt = _threads(nthreads, n, n * p * c)
    if picks is None:
        with nogil:
            for i in prange(n, schedule="static", num_threads=nt):
                _max_rows(&x[i, 0, 0], p, c, &y[i, 0], NULL)
        return
    cdef floating[:, ::1] chunk_best = np.empty((n, c), np.float32 if floating is float else np.float64)
    cdef floating[:, ::1] chunk_at = np.empty_like(chunk_best)
    with nogil:
        for i in prange(n, schedule="static", num_threads=nt):
            _max_pixels(&x[i, 0, 0], p, c, chunk, &y[i, 0], &picks[i, 0], &chunk_best[i, 0],
                        &chunk_at[i, 0])


def global_max_pool2d_backward(const floating[:, ::1] dy, const Py_ssize_t[:, ::1] picks,
                               floating[:, :, ::1] dx, int nthreads=1):
    """dx (N, P, C) = 0 but dx[n, picks[n, c], c] = dy[n, c]; picks in [0, P) (checked by the
    caller), as global_max_pool2d writes them."""
    cdef Py_ssize_t n = dx.shape[0], p = dx.shape[1], c = dx.shape[2], i
    with nogil:
        for i in prange(n, schedule="static", num_threads=_threads(nthreads, n, n * p * c)):
            _unpool_max(&dy[i, 0], &picks[i, 0], &dx[i, 0, 0], p, c)


def global_max_pool2d_backward_from_x(const floating[:, ::1] dy,
                                      const floating[:, :, ::1] x, floating[:, :, ::1] dx,
                                      int nthreads=1, Py_ssize_t chunk=PICK_CHUNK):
    """global_max_pool2d_backward with the picks found again in x (N, P, C), image by image
    (each thread's image is scanned and then written while still in cache)."""
    cdef Py_ssize_t n = x.shape[0], p = x.shape[1], c = x.shape[2], i
    cdef floating[:, :, ::1] scratch = np.empty((3, n, c), np.float32 if floating is float else np.float64)
    cdef Py_ssize_t[:, ::1] picks = np.empty((n, c), np.intp)
    with nogil:
        for i in prange(n, schedule="static", num_threads=_threads(nthreads, n, 2 * n * p * c)):
            _max_pixels(&x[i, 0, 0], p, c, chunk, &scratch[0, i, 0], &picks[i, 0],
                        &scratch[1, i, 0], &scratch[2, i, 0])
            _unpool_max(&dy[i, 0], &picks[i, 0], &dx[i, 0, 0], p, c)
