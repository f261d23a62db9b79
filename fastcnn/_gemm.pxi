# Matrix products on the GEMM core of csrc/ (gemm_impl.h), for the Dense layer (included by
# fastcnn/_kernels.pyx).
#
# One thread policy for the whole model: these products run on fastcnn's OpenMP threads, never
# on a BLAS library's. Shapes are checked by the caller (fastcnn/layers, fastcnn/ops); C is cut
# into one rectangle per thread, and every element is reduced in an order fixed by K alone, so
# results are bitwise identical at any thread count.
from fastcnn._parallel cimport cdiv, team_size


def fma_peak(double seconds=0.05, int threads=1):
    """GFLOP/s of the current kernel set's FMA loop (12 independent chains of float vector
    multiply-adds per core) on ``threads`` threads for about ``seconds``: what the cores can do
    right now, for benchmarks to state a kernel's speed as a share of it. (On shared virtual
    machines the clock moves by a third from minute to minute, so a figure means something
    only next to a kernel timed at the same time.)"""
    import time
    if threads < 1 or threads > 1024:
        raise ValueError(f"threads must be in [1, 1024], got {threads}")
    if not 0 < seconds <= 60:
        raise ValueError(f"seconds must be in (0, 60], got {seconds}")
    cdef const fcnn_isa *isa = fcnn_current_isa()
    cdef ptrdiff_t iters = 1 << 14
    cdef int t
    cdef double flops[1024]
    cdef float sink[1024]
    while True:
        for t in range(threads):
            sink[t] = 1.0 + t
        start = time.perf_counter()
        with nogil:
            for t in prange(threads, schedule="static", num_threads=threads):
                flops[t] = isa.fma_loop(iters, &sink[t])
        elapsed = time.perf_counter() - start
        if elapsed >= seconds or iters >= (<ptrdiff_t>1 << 40):
            return sum(flops[t] for t in range(threads)) / elapsed / 1e9
        iters = <ptrdiff_t>(iters * min(max(1.2 * seconds / max(elapsed, 1e-6), 2.0), 1e3))


cdef void _grid(int nt, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, Py_ssize_t um, Py_ssize_t un,
                int *tm, int *tn) noexcept nogil:
    """tm x tn = nt rectangles (tm <= um row panels, tn <= un column panels) that pack the
    least: a rectangle packs its rows of A and its columns of B, so cutting columns costs
    another copy of A (m*k), cutting rows another copy of B (k*n)."""
    cdef int a, best_a = 1
    cdef double cost, best = -1
    for a in range(1, nt + 1):
        if nt % a or a > um or nt // a > un:
            continue
        cost = (nt // a) * <double>m * k + a * <double>k * n
        if best < 0 or cost < best:
            best, best_a = cost, a
    if best < 0:        # nt cannot be split evenly within the panels: rows only
        best_a = <int>min(<Py_ssize_t>nt, um)
        tn[0] = 1
    else:
        tn[0] = nt // best_a
    tm[0] = best_a


cdef double _packing(bint a_rows, bint b_rows, Py_ssize_t m, Py_ssize_t n,
                     Py_ssize_t k) noexcept nogil:
    """Values a product packs: A only when it is not row-major (else it is read in place),
    all of B, a transposed B at twice the cost (its copy walks columns)."""
    return (0.0 if a_rows else <double>m * k) + <double>k * n * (1.0 if b_rows else 2.0)


def gemm(const floating[:, ::1] a, const floating[:, ::1] b, out, bint trans_a=False,
         bint trans_b=False, const floating[::1] bias=None, bint accumulate=False,
         bint relu=False, int nthreads=1):
    """c (=|+=) op(a) @ op(b) (+ bias) (relu), op(a) = a.T when trans_a (likewise b).

    ``out`` (c, returned) is (M, N); op(a) is (M, K) and op(b) (K, N). The caller checks
    shapes and dtypes and that c does not overlap a or b.
    """
    cdef floating[:, ::1] c = out
    cdef fcnn_gemm g
    cdef const fcnn_isa *isa = fcnn_current_isa()
    cdef int mr, nr, tm, tn, nt, tid
    cdef size_t wsz
    cdef Py_ssize_t m = c.shape[0], n = c.shape[1]
    cdef Py_ssize_t k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0:
        return out
    # A[i, p] = a[i*rsa + p*csa], B[p, j] = b[p*rsb + j*csb]
    cdef Py_ssize_t rsa = 1 if trans_a else a.shape[1], csa = a.shape[1] if trans_a else 1
    cdef Py_ssize_t rsb = 1 if trans_b else b.shape[1], csb = b.shape[1] if trans_b else 1
    cdef const void *pa = &a[0, 0] if a.shape[0] * a.shape[1] else NULL
    cdef const void *pb = &b[0, 0] if b.shape[0] * b.shape[1] else NULL
    g.c, g.ldc = &c[0, 0], n
    g.bias = NULL if bias is None else <const void *>&bias[0]
    g.accumulate, g.relu = accumulate, relu
    g.k = k
    # C^T = op(B)^T op(A)^T may pack much less (dZ @ W.T then reads W in place): its A is
    # row-major exactly when b is stored transposed, its B when a is.
    if bias is None and _packing(trans_b, trans_a, n, m, k) < 0.7 * _packing(
            not trans_a, not trans_b, m, n, k):
        g.m, g.n, g.c_trans = n, m, 1
        g.a, g.rsa, g.csa = pb, csb, rsb
        g.b, g.rsb, g.csb = pa, csa, rsa
    else:
        g.m, g.n, g.c_trans = m, n, 0
        g.a, g.rsa, g.csa = pa, rsa, csa
        g.b, g.rsb, g.csb = pb, rsb, csb
    if floating is float:
        mr, nr = isa.mr_f32, isa.nr_f32
        wsz = fcnn_gemm_workspace_f32()
    else:
        mr, nr = isa.mr_f64, isa.nr_f64
        wsz = fcnn_gemm_workspace_f64()
    cdef Py_ssize_t um = cdiv(g.m, mr), un = cdiv(g.n, nr)
    nt = team_size(nthreads, um * un, <double>g.m * g.n * g.k)
    _grid(nt, g.m, g.n, g.k, um, un, &tm, &tn)
    nt = tm * tn
    cdef Py_ssize_t rows = cdiv(um, tm) * mr, cols = cdiv(un, tn) * nr
    cdef Py_ssize_t t, i0, j0
    cdef size_t total = nt * wsz
    cdef char *work = <char *>fcnn_scratch_take(total)
    if work == NULL:
        raise MemoryError("could not allocate the GEMM workspace")
    try:
        with nogil:
            for t in prange(nt, schedule="static", num_threads=nt):
                tid = threadid()
                i0 = (t // tn) * rows
                j0 = (t % tn) * cols
                if i0 < g.m and j0 < g.n:
                    if floating is float:
                        fcnn_gemm_tile_f32(&g, i0, min(i0 + rows, g.m), j0, min(j0 + cols, g.n),
                                           work + tid * wsz)
                    else:
                        fcnn_gemm_tile_f64(&g, i0, min(i0 + rows, g.m), j0, min(j0 + cols, g.n),
                                           work + tid * wsz)
    finally:
        fcnn_scratch_give(work, total)
    return out
