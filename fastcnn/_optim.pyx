# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The optimizers' updates, each one compiled pass over a variable, and the sum of squares
that gradient clipping by norm needs first.

``update`` runs, element by element and in the variable's dtype, what Keras 3 does to a
variable in one ``apply``: the gradient clipped (``_clip_gradients``), the decoupled weight
decay ``var - var * wd * lr`` (``_apply_weight_decay``), then the optimizer's
``update_step``, with Keras' operations in Keras' order, so that a NumPy rendering of Keras'
formulas in the same dtype gives the same bits. The work goes tile by tile: each tile of the
gradient is clipped into a buffer on the stack and the tile of the variable and its slots
stays in the L1 cache for the decay and the step, so memory is read and written once.

Arrays are flat and C-contiguous; ``update`` checks their sizes and dtypes, nothing else.
Every element is computed on its own, so the split over threads cannot change a result.

``sum_of_squares`` adds in double, in blocks of BLOCK values whose partial sums are added in
block order afterwards: the blocks depend on the size alone, so the result is bitwise the
same on any number of threads.

The build compiles this module with -ffp-contract=off: a multiply and an add fused into one
FMA would round once where Keras rounds twice.
"""
from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf
from libc.stdlib cimport free, malloc

from fastcnn._parallel cimport MIN_VALUES_PER_THREAD, cdiv, team_size

ctypedef fused floating:
    float
    double


cdef enum:
    # Elements of a tile: the gradient buffer (8 KB in float64) and the tiles of the
    # variable and its slots stay in L1 between the clip, the decay and the step.
    TILE = 1024
    # Values of a block of the sum of squares. A literal, not a threading constant: the
    # blocks fix the rounding of the sum.
    BLOCK = 8192

cdef enum Kind:
    # What ``update`` does (Keras 3's update_step of each optimizer) and the slots it takes,
    # in this order.
    KIND_SGD                        # no slots
    KIND_SGD_MOMENTUM               # momentums
    KIND_SGD_NESTEROV               # momentums
    KIND_ADAM                       # momentums, velocities
    KIND_ADAM_AMSGRAD               # momentums, velocities, velocity_hats
    KIND_RMSPROP                    # velocities
    KIND_RMSPROP_MOMENTUM           # velocities, momentums
    KIND_RMSPROP_CENTERED           # velocities, average_gradients
    KIND_RMSPROP_CENTERED_MOMENTUM  # velocities, momentums, average_gradients

cdef enum Clip:
    # How the gradient is clipped first.
    CLIP_OFF
    CLIP_BY_SCALE       # g * a                           (global_clipnorm: a is the scale)
    CLIP_BY_NORM        # (g * a) / b                     (clipnorm: a, b = max(norm, a))
    CLIP_BY_VALUE       # min(max(g, -a), a), NaN kept    (clipvalue: a)

SGD, SGD_MOMENTUM, SGD_NESTEROV = KIND_SGD, KIND_SGD_MOMENTUM, KIND_SGD_NESTEROV
ADAM, ADAM_AMSGRAD = KIND_ADAM, KIND_ADAM_AMSGRAD
RMSPROP, RMSPROP_MOMENTUM = KIND_RMSPROP, KIND_RMSPROP_MOMENTUM
RMSPROP_CENTERED, RMSPROP_CENTERED_MOMENTUM = (KIND_RMSPROP_CENTERED,
                                               KIND_RMSPROP_CENTERED_MOMENTUM)
_SLOTS = (0, 1, 1, 2, 3, 1, 2, 2, 3)
CLIP_NONE, CLIP_SCALE, CLIP_NORM, CLIP_VALUE = (CLIP_OFF, CLIP_BY_SCALE, CLIP_BY_NORM,
                                              CLIP_BY_VALUE)


cdef struct Step:
    int kind
    int clip
    bint decay
    double lr       # the learning rate of this step
    double wd       # the weight decay (when decay)
    double clip_a
    double clip_b
    double h[4]     # the kind's hyperparameters, see update()


cdef inline floating _sqrt(floating v) noexcept nogil:
    if floating is float:
        return sqrtf(v)     # float32 rounding, as Keras' float32 sqrt
    else:
        return sqrt(v)


cdef const floating *_clipped(const Step *s, const floating *g, floating *buf,
                              Py_ssize_t m) noexcept nogil:
    """The tile ``g`` clipped into ``buf`` (or ``g`` itself when nothing is clipped)."""
    cdef Py_ssize_t i
    cdef floating a = <floating>s.clip_a, b = <floating>s.clip_b, x
    if s.clip == CLIP_BY_SCALE:
        for i in range(m):
            buf[i] = g[i] * a
    elif s.clip == CLIP_BY_NORM:
        for i in range(m):
            buf[i] = (g[i] * a) / b
    elif s.clip == CLIP_BY_VALUE:
        for i in range(m):
            x = g[i]
            buf[i] = -a if x < -a else (a if x > a else x)
    else:
        return g
    return buf


cdef void _sgd_tile(const Step *s, floating *w, const floating *g, floating **slot,
                    Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating lr = <floating>s.lr, mu = <floating>s.h[0], mi
    cdef floating *mom
    if s.kind == KIND_SGD:
        for i in range(m):
            w[i] = w[i] - g[i] * lr
        return
    mom = slot[0]
    if s.kind == KIND_SGD_MOMENTUM:
        for i in range(m):
            mi = mom[i] * mu - g[i] * lr
            mom[i] = mi
            w[i] = w[i] + mi
    else:
        for i in range(m):
            mi = mom[i] * mu - g[i] * lr
            mom[i] = mi
            w[i] = w[i] + (mi * mu - g[i] * lr)


cdef inline floating _adam_moments(floating gi, floating *mo, floating *ve,
                                   floating one_b1, floating one_b2) noexcept nogil:
    """m += (g - m)*(1 - beta_1) and v += (g*g - v)*(1 - beta_2) at one element; the new v."""
    mo[0] = mo[0] + (gi - mo[0]) * one_b1
    ve[0] = ve[0] + (gi * gi - ve[0]) * one_b2
    return ve[0]


cdef void _adam_tile(const Step *s, floating *w, const floating *g, floating **slot,
                     Py_ssize_t m) noexcept nogil:
    # two loops, not a test inside one: each compiles to vector code
    cdef Py_ssize_t i
    cdef floating alpha = <floating>s.h[0], one_b1 = <floating>s.h[1]
    cdef floating one_b2 = <floating>s.h[2], eps = <floating>s.h[3], vi
    cdef floating *mo = slot[0]
    cdef floating *ve = slot[1]
    cdef floating *vh = slot[2]
    if s.kind == KIND_ADAM:
        for i in range(m):
            vi = _adam_moments(g[i], &mo[i], &ve[i], one_b1, one_b2)
            w[i] = w[i] - (mo[i] * alpha) / (_sqrt(vi) + eps)
    else:
        for i in range(m):
            vi = _adam_moments(g[i], &mo[i], &ve[i], one_b1, one_b2)
            vi = vh[i] if vh[i] >= vi else vi      # maximum(v_hat, v), NaN from v kept
            vh[i] = vi
            w[i] = w[i] - (mo[i] * alpha) / (_sqrt(vi) + eps)


cdef void _rmsprop_tile(const Step *s, floating *w, const floating *g, floating **slot,
                        Py_ssize_t m, floating *inc) noexcept nogil:
    # the increments go through ``inc`` (a tile on the stack) so that each of the four
    # variants is two loops without tests, which compile to vector code
    cdef Py_ssize_t i
    cdef floating lr = <floating>s.lr, rho = <floating>s.h[0], one_rho = <floating>s.h[1]
    cdef floating eps = <floating>s.h[2], mu = <floating>s.h[3], gi, vi, ai, mi
    cdef bint centered = (s.kind == KIND_RMSPROP_CENTERED
                          or s.kind == KIND_RMSPROP_CENTERED_MOMENTUM)
    cdef bint momentum = (s.kind == KIND_RMSPROP_MOMENTUM
                          or s.kind == KIND_RMSPROP_CENTERED_MOMENTUM)
    cdef floating *ve = slot[0]
    cdef floating *mo = slot[1]
    cdef floating *av = slot[2 if momentum else 1]
    if centered:
        for i in range(m):
            gi = g[i]
            vi = rho * ve[i] + one_rho * (gi * gi)
            ai = rho * av[i] + one_rho * gi
            ve[i] = vi
            av[i] = ai
            inc[i] = (lr * gi) / _sqrt((vi - ai * ai) + eps)
    else:
        for i in range(m):
            gi = g[i]
            vi = rho * ve[i] + one_rho * (gi * gi)
            ve[i] = vi
            inc[i] = (lr * gi) / _sqrt(vi + eps)
    if momentum:
        for i in range(m):
            mi = mu * mo[i] + inc[i]
            mo[i] = mi
            w[i] = w[i] - mi
    else:
        for i in range(m):
            w[i] = w[i] - inc[i]


cdef void _update_chunk(const Step *s, floating *w, const floating *g, floating **slot,
                        int nslots, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    cdef floating buf[TILE]
    cdef floating work[TILE]
    cdef floating *tile_slot[3]
    cdef floating lr = <floating>s.lr, wd = <floating>s.wd
    cdef const floating *gt
    cdef floating *wt
    cdef Py_ssize_t t = start, m, i
    cdef int k
    while t < end:
        m = min(<Py_ssize_t>TILE, end - t)
        gt = _clipped(s, g + t, buf, m)
        wt = w + t
        for k in range(3):
            tile_slot[k] = slot[k] + t if k < nslots else NULL
        if s.decay:
            for i in range(m):
                wt[i] = wt[i] - (wt[i] * wd) * lr
        if s.kind <= KIND_SGD_NESTEROV:
            _sgd_tile(s, wt, gt, tile_slot, m)
        elif s.kind <= KIND_ADAM_AMSGRAD:
            _adam_tile(s, wt, gt, tile_slot, m)
        else:
            _rmsprop_tile(s, wt, gt, tile_slot, m, work)
        t += m


def update(floating[::1] var, const floating[::1] grad, list slots, int kind, double lr,
           tuple hyper, int clip, double clip_a, double clip_b, weight_decay, int nthreads):
    """One optimizer step on ``var`` in place: clip ``grad`` (``clip``, ``clip_a``,
    ``clip_b``: see the CLIP_* constants), then ``var -= var * weight_decay * lr`` unless
    ``weight_decay`` is None, then the step of ``kind`` (see the constants for the slots it
    takes, in order), every operation in var's dtype. ``hyper``, by kind:

    - SGD*: ``(momentum,)`` (none for SGD); ``m = m*momentum - g*lr``, then
      ``var += m`` or, Nesterov, ``var += m*momentum - g*lr``; SGD: ``var -= g*lr``.
    - ADAM*: ``(alpha, 1 - beta_1, 1 - beta_2, epsilon)``; ``m += (g - m)*(1 - beta_1)``,
      ``v += (g*g - v)*(1 - beta_2)``, AMSGrad ``v = v_hat = maximum(v_hat, v)``, then
      ``var -= (m*alpha) / (sqrt(v) + epsilon)``; ``lr`` only enters the weight decay.
    - RMSPROP*: ``(rho, 1 - rho, epsilon, momentum)``; ``v = rho*v + (1 - rho)*(g*g)``,
      centered ``a = rho*a + (1 - rho)*g`` and ``den = (v - a*a) + epsilon``, else
      ``den = v + epsilon``; ``inc = (lr*g) / sqrt(den)``; with momentum
      ``mom = momentum*mom + inc`` and ``var -= mom``, else ``var -= inc``.

    Each hyperparameter is rounded to var's dtype once, as Keras casts it."""
    cdef Py_ssize_t n = var.shape[0], chunk, j
    cdef int nt, k, nslots
    cdef Step s
    cdef floating[::1] view
    cdef floating *slot[3]
    if not 0 <= kind < len(_SLOTS):
        raise ValueError(f"update: unknown kind {kind}")
    if not CLIP_OFF <= clip <= CLIP_BY_VALUE:
        raise ValueError(f"update: unknown clip mode {clip}")
    nslots = _SLOTS[kind]
    if len(slots) != nslots:
        raise ValueError(f"update: kind {kind} takes {nslots} slots, got {len(slots)}")
    if grad.shape[0] != n:
        raise ValueError(f"update: grad has {grad.shape[0]} values, var {n}")
    if len(hyper) > 4:
        raise ValueError(f"update: at most 4 hyperparameters, got {len(hyper)}")
    slot[0] = slot[1] = slot[2] = NULL
    for k in range(nslots):
        view = slots[k]
        if view.shape[0] != n:
            raise ValueError(f"update: slot {k} has {view.shape[0]} values, var {n}")
        slot[k] = &view[0] if n else NULL
    s.kind, s.clip, s.lr, s.clip_a, s.clip_b = kind, clip, lr, clip_a, clip_b
    s.decay = weight_decay is not None
    s.wd = weight_decay if s.decay else 0.0
    for k in range(4):
        s.h[k] = hyper[k] if k < len(hyper) else 0.0
    if n == 0:
        return var
    nt = team_size(nthreads, n, n, MIN_VALUES_PER_THREAD)
    chunk = cdiv(n, nt)
    with nogil:
        for j in prange(nt, schedule="static", num_threads=nt):
            if j * chunk < n:
                _update_chunk(&s, &var[0], &grad[0], slot, nslots, j * chunk,
                              min(n, (j + 1) * chunk))
    return var


cdef double _block_sum_of_squares(const floating *x, Py_ssize_t n) noexcept nogil:
    # eight running sums in a fixed order (a vector's worth, whatever the thread count)
    cdef double acc[8]
    cdef double v
    cdef Py_ssize_t i = 0, k
    for k in range(8):
        acc[k] = 0.0
    while i + 8 <= n:
        for k in range(8):
            v = x[i + k]
            acc[k] += v * v
        i += 8
    for k in range(n - i):
        v = x[i + k]
        acc[k] += v * v
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


def sum_of_squares(const floating[::1] x, int nthreads):
    """The sum of ``x*x`` in double, the same bits on any number of threads (blocks of
    BLOCK values, their partial sums added in block order)."""
    cdef Py_ssize_t n = x.shape[0], blocks = cdiv(n, BLOCK), b
    cdef int nt = team_size(nthreads, blocks, n, MIN_VALUES_PER_THREAD)
    cdef double total = 0.0
    cdef double *partial
    if n == 0:
        return 0.0
    partial = <double *>malloc(blocks * sizeof(double))
    if partial == NULL:
        raise MemoryError(f"sum_of_squares: no memory for {blocks} partial sums")
    try:
        with nogil:
            for b in prange(blocks, schedule="static", num_threads=nt):
                partial[b] = _block_sum_of_squares(&x[b * BLOCK], min(<Py_ssize_t>BLOCK,
                                                                       n - b * BLOCK))
            for b in range(blocks):
                total = total + partial[b]
    finally:
        free(partial)
    return total
