# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""fastcnn's compiled kernels: the C core of csrc/ linked once, with its drivers.

- the choice of kernel sets (csrc/dispatch.c): one selection, at import (fastcnn._config),
  for the GEMM micro-kernels and the pooling kernels together;
- the table of kernels (csrc/registry.c, :func:`kernel_table`) and a test entry point that
  runs any entry of it (:func:`run_with`);
- the convolution drivers (_conv.pxi), the GEMM behind Dense (_gemm.pxi) and pooling
  (_pool.pxi), included here so that they share one kernel set and one scratch block.
"""
from cython.parallel cimport prange, threadid
from libc.stddef cimport ptrdiff_t

ctypedef fused floating:
    float
    double

include "_conv.pxi"
include "_gemm.pxi"
include "_pool.pxi"

ISA_LEVELS = ("generic", "avx2", "avx512")


def select_isa(cap):
    """Use the best kernels the CPU supports, capped at ``cap`` ("avx512", "avx2", "generic";
    None for no cap): the GEMM set and the pooling set of that level. Returns the GEMM set's
    name."""
    cdef bytes name = (cap or "").encode("ascii")
    if fcnn_select_isa(name) != 0:
        raise ValueError(f"FASTCNN_ISA must be one of 'avx512', 'avx2', 'generic', got {cap!r}")
    return current_isa()


def current_isa():
    """Name of the GEMM kernel set in use."""
    return fcnn_current_isa().name.decode("ascii")


def pool_isa():
    """Name of the pooling kernel set in use (the GEMM set's level, or the next lower one
    compiled in)."""
    return fcnn_current_pool().name.decode("ascii")


def best_isa():
    """The best kernel set this CPU and build support, whatever FASTCNN_ISA says."""
    return fcnn_best_isa_name().decode("ascii")


def tile_sizes():
    """(MR, NR) of the micro-kernels in use, for float32 and float64."""
    cdef const fcnn_isa *isa = fcnn_current_isa()
    return {"float32": (isa.mr_f32, isa.nr_f32), "float64": (isa.mr_f64, isa.nr_f64)}


def kernel_table():
    """The table of kernels, one dict per entry (csrc/registry.c): ``name`` (operation, dtype,
    tile and ISA, as XNNPACK names its kernels), ``op`` ("gemm" or "pool"), ``dtype``,
    ``isa`` (the level it needs), ``compiled`` (built into this package), ``runnable`` (and
    this CPU has the ISA), ``in_use`` (by the current selection); for GEMM sets the tile
    ``mr`` x ``nr`` and the blocking ``kc``, ``mc``, ``nc`` (GEMM) and ``conv_kc``,
    ``conv_mc`` (convolution), for pooling sets ``channels`` (the channel block). Sizes are
    None where they do not apply or the entry was not compiled in."""
    cdef const fcnn_kernel_entry *e
    cdef int i
    rows = []
    for i in range(fcnn_kernel_table_size):
        e = &fcnn_kernel_table[i]
        compiled = bool(fcnn_kernel_compiled(i))
        gemm = e.gemm != NULL
        row = {"name": e.name.decode("ascii"), "op": e.op.decode("ascii"),
               "dtype": "float64" if e.f64 else "float32", "isa": ISA_LEVELS[e.level],
               "compiled": compiled, "runnable": bool(fcnn_kernel_runnable(i)),
               "in_use": bool(fcnn_kernel_in_use(i)), "mr": None, "nr": None, "kc": None,
               "mc": None, "nc": None, "conv_kc": None, "conv_mc": None, "channels": None}
        if compiled and gemm:
            row["mr"] = e.gemm.mr_f64 if e.f64 else e.gemm.mr_f32
            row["nr"] = e.gemm.nr_f64 if e.f64 else e.gemm.nr_f32
            row.update(kc=e.kc, mc=e.mc, nc=e.nc, conv_kc=e.conv_kc, conv_mc=e.conv_mc)
        elif compiled:
            row["channels"] = e.pool.cb_f64 if e.f64 else e.pool.cb_f32
        rows.append(row)
    return rows


def run_with(name, fn, *args, **kwargs):
    """Test entry point: ``fn(*args, **kwargs)`` with the kernels of table entry ``name`` in
    use in place of the selection's (a GEMM entry's set for every GEMM and convolution,
    whatever its width; a pooling entry's for pooling), which is put back afterwards.

    Not for use while other threads run kernels."""
    cdef int i
    cdef const fcnn_kernel_entry *e = NULL
    for i in range(fcnn_kernel_table_size):
        if fcnn_kernel_table[i].name.decode("ascii") == name:
            e = &fcnn_kernel_table[i]
            break
    if e == NULL:
        raise ValueError(f"no kernel {name!r} in the table")
    if not fcnn_kernel_runnable(i):
        raise ValueError(f"kernel {name!r} is not compiled in or this CPU cannot run it")
    cdef const fcnn_isa *isa = fcnn_current_isa()
    cdef const fcnn_pool_kernels *pool = fcnn_current_pool()
    fcnn_use_kernels(e.gemm, e.pool)
    try:
        return fn(*args, **kwargs)
    finally:
        fcnn_use_kernels(isa, pool)
