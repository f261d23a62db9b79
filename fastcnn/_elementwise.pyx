# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Elementwise work of a training step, in single compiled passes instead of chains of NumPy
temporaries: ReLU and its backward pass, the sum of several arrays (with a ReLU after it),
rescaling, dropout, and softmax with cross-entropy (the optimizers' updates are in
fastcnn/_optim.pyx).

Arrays are flat and C-contiguous (the callers pass ``a.reshape(-1)`` of contiguous arrays),
shapes are checked by the callers. Each element is computed on its own, so splitting the loop
over threads cannot change a result.
"""
from cython.parallel cimport prange
from libc.math cimport exp, log
from libc.stdint cimport uint64_t
from libc.stdlib cimport free, malloc

from fastcnn._parallel cimport MIN_VALUES_PER_THREAD, team_size

ctypedef fused floating:
    float
    double


cdef enum:
    # Elements of a tile of the n-ary sum: the inputs are added into the output one after the
    # other while the tile stays in the L1 cache.
    ADD_TILE = 2048

cdef void _relu_backward_chunk(const floating *dy, const floating *y, floating *out,
                               Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g
    for i in range(n):
        g = dy[i]       # read unconditionally, so the select compiles to vector code
        out[i] = g if y[i] > 0 else 0


def relu_backward(const floating[::1] dy, const floating[::1] y, floating[::1] out,
                  int nthreads=1):
    """out = dy where y > 0, else 0 (y is ReLU's output; the gradient at 0 is 0, as in
    Keras/TensorFlow). ``out`` may be ``dy`` itself."""
    cdef Py_ssize_t n = dy.shape[0], chunk, j
    cdef int nt = team_size(nthreads, n, n, MIN_VALUES_PER_THREAD)
    if n == 0:
        return out
    chunk = (n + nt - 1) // nt
    with nogil:
        for j in prange(nt, schedule="static", num_threads=nt):
            if j * chunk < n:
                _relu_backward_chunk(&dy[j * chunk], &y[j * chunk], &out[j * chunk],
                                     min(chunk, n - j * chunk))
    return out


cdef enum UnaryOp:
    RELU
    RESCALE
    DROPOUT       # a second input: the uniform draws u


cdef void _relu_chunk(const floating *x, floating *out, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(n):
        v = x[i]
        out[i] = 0 if v < 0 else v


cdef void _unary_chunk(UnaryOp op, const floating *x, const floating *u, floating *out,
                       Py_ssize_t n, floating scale, floating offset) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    if op == RELU:
        _relu_chunk(x, out, n)
    elif op == RESCALE:
        for i in range(n):
            out[i] = x[i] * scale + offset
    else:                           # DROPOUT, with the rate as the offset
        for i in range(n):
            v = x[i]        # read unconditionally, so the select compiles to vector code
            out[i] = v * (scale if u[i] >= offset else 0)


cdef _unary(UnaryOp op, const floating[::1] x, floating[::1] out, double scale, double offset,
            int nthreads, const floating[::1] u=None):
    cdef Py_ssize_t n = x.shape[0], chunk, j
    cdef int nt = team_size(nthreads, n, n if u is None else 2 * n, MIN_VALUES_PER_THREAD)
    cdef floating s = <floating>scale, o = <floating>offset
    cdef const floating *up = NULL if u is None or n == 0 else &u[0]
    if n == 0:
        return out
    chunk = (n + nt - 1) // nt
    with nogil:
        for j in prange(nt, schedule="static", num_threads=nt):
            if j * chunk < n:
                _unary_chunk(op, &x[j * chunk], NULL if up == NULL else up + j * chunk,
                             &out[j * chunk], min(chunk, n - j * chunk), s, o)
    return out


def relu(const floating[::1] x, floating[::1] out, int nthreads=1):
    """out = 0 where x < 0, else x: NaN stays NaN and -0.0 stays -0.0 (as the convolution's
    fused ReLU; np.maximum(x, 0) gives +0.0 there, which compares equal). ``out`` may be ``x``
    itself."""
    return _unary(RELU, x, out, 0.0, 0.0, nthreads)


def rescale(const floating[::1] x, floating[::1] out, double scale, double offset,
            int nthreads=1):
    """out = x * scale + offset in the data's dtype (scale and offset rounded to it once).
    ``out`` may be ``x`` itself."""
    return _unary(RESCALE, x, out, scale, offset, nthreads)


def dropout(const floating[::1] x, const floating[::1] u, floating[::1] out, double rate,
            double scale, int nthreads=1):
    """out = x * (scale where u >= rate, else 0), with rate and scale rounded to the data's
    dtype once: Dropout's pass (forward on its input, backward on its gradient) for the
    uniform draws u in [0, 1) (like x). ``out`` may be ``x`` itself."""
    return _unary(DROPOUT, x, out, scale, rate, nthreads, u)


cdef void _uniform_chunk(floating *out, Py_ssize_t start, Py_ssize_t n,
                         uint64_t key) noexcept nogil:
    """out[i] for i in [start, start + n): output i + 1 of SplitMix64 started at key, its top
    24 (float) or 53 (double) bits as a fraction of 2**24 or 2**53."""
    cdef Py_ssize_t i
    cdef uint64_t z
    for i in range(start, start + n):
        z = key + <uint64_t>(i + 1) * <uint64_t>0x9E3779B97F4A7C15ULL
        z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
        z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
        z = z ^ (z >> 31)
        if floating is float:
            out[i - start] = <float>(z >> 40) * <float>5.9604644775390625e-08     # 2**-24
        else:
            out[i - start] = <double>(z >> 11) * 1.1102230246251565e-16          # 2**-53


def uniform(floating[::1] out, uint64_t key, int nthreads=1):
    """out = uniform draws in [0, 1): value i is SplitMix64's output i + 1 from the state
    ``key`` (a counter-based generator: every value computed on its own, the same at any
    thread count), its top 24 bits (float32) or 53 bits (float64) as a fraction, so that each
    is exactly representable and below 1. Dropout's draws, from a key its generator gives."""
    cdef Py_ssize_t n = out.shape[0], chunk, j
    cdef int nt = team_size(nthreads, n, 8 * n, MIN_VALUES_PER_THREAD)
    if n == 0:
        return out
    chunk = (n + nt - 1) // nt
    with nogil:
        for j in prange(nt, schedule="static", num_threads=nt):
            if j * chunk < n:
                _uniform_chunk(&out[j * chunk], j * chunk, min(chunk, n - j * chunk), key)
    return out


cdef void _add_chunk(const floating **src, Py_ssize_t k, floating *out, Py_ssize_t start,
                     Py_ssize_t end, bint relu) noexcept nogil:
    """out = ((src[0] + src[1]) + src[2]) + ... over the elements start to end, tile by
    tile; then the ReLU of relu()."""
    cdef Py_ssize_t t, i, s, m
    cdef const floating *a
    cdef const floating *b
    cdef floating *o
    t = start
    while t < end:
        m = min(<Py_ssize_t>ADD_TILE, end - t)
        a, b, o = src[0] + t, src[1] + t, out + t
        for i in range(m):
            o[i] = a[i] + b[i]
        for s in range(2, k):
            a = src[s] + t
            for i in range(m):
                o[i] = o[i] + a[i]
        if relu:
            _relu_chunk(o, o, m)
        t += m


def add(list inputs, floating[::1] out, bint relu=False, int nthreads=1):
    """out = inputs[0] + inputs[1] + ... added in that order (at least two flat arrays of
    out's dtype and size), then, with ``relu``, the ReLU of relu(). ``out`` may be
    ``inputs[0]`` or ``inputs[1]`` itself, not a later input (its tile would be overwritten
    before it is read)."""
    cdef Py_ssize_t n = out.shape[0], k = len(inputs), chunk, j, s
    cdef int nt = team_size(nthreads, n, n * (k + 1), MIN_VALUES_PER_THREAD)
    cdef const floating[::1] view
    cdef const floating **src
    if n == 0:
        return out
    src = <const floating **>malloc(k * sizeof(floating *))
    if src == NULL:
        raise MemoryError(f"add: no memory for {k} pointers")
    try:
        for s in range(k):
            view = inputs[s]
            src[s] = &view[0]
        chunk = (n + nt - 1) // nt
        with nogil:
            for j in prange(nt, schedule="static", num_threads=nt):
                if j * chunk < n:
                    _add_chunk(src, k, &out[0], j * chunk, min(n, (j + 1) * chunk), relu)
    finally:
        free(src)
    return out


def softmax_crossentropy(const floating[:, ::1] logits, const floating[:, ::1] targets,
                         floating[:, ::1] grad, double scale):
    """Per-sample cross-entropy of ``targets`` (one-hot or soft) and softmax(logits), summed
    over the batch and returned as a float; ``grad`` receives its gradient with respect to the
    logits times ``scale``: (softmax(z) * sum(t) - t) * scale. Stable for any finite logits
    (log-sum-exp shifted by the row maximum)."""
    cdef Py_ssize_t i, j, n = logits.shape[0], k = logits.shape[1]
    cdef double zmax, total, lse, tsum, loss = 0.0
    with nogil:
        for i in range(n):
            zmax = logits[i, 0]
            for j in range(1, k):
                if logits[i, j] > zmax:
                    zmax = logits[i, j]
            total = 0.0
            for j in range(k):
                total += exp(<double>logits[i, j] - zmax)
            lse = zmax + log(total)
            tsum = 0.0
            for j in range(k):
                tsum += targets[i, j]
                loss -= targets[i, j] * (<double>logits[i, j] - lse)
            for j in range(k):
                grad[i, j] = <floating>((exp(<double>logits[i, j] - lse) * tsum
                                         - targets[i, j]) * scale)
    return loss
