# Work-splitting helpers shared by the Cython drivers (inline, so every module has its own).

cdef enum:
    # Waking a thread costs more than this many multiply-adds of work ...
    MIN_MACS_PER_THREAD = 1 << 18
    # ... or this many values read or written by memory-bound work (copies, elementwise
    # passes, pooling windows).
    MIN_VALUES_PER_THREAD = 1 << 15


cdef inline Py_ssize_t cdiv(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return (a + b - 1) // b


cdef inline int team_size(int nthreads, Py_ssize_t units, double work,
                          double min_work=MIN_MACS_PER_THREAD) noexcept nogil:
    """Threads for a loop of `units` independent pieces totalling `work`: no more than there
    are pieces, and none that would get less than `min_work` (MIN_MACS_PER_THREAD
    multiply-adds by default, MIN_VALUES_PER_THREAD for memory-bound work). Results never
    depend on it."""
    cdef double by_work = work / min_work
    cdef Py_ssize_t n = nthreads
    if n > units:
        n = units
    if n > by_work:
        n = <Py_ssize_t>by_work
    return <int>(n if n > 1 else 1)
