"""One thread-count policy and the build/CPU report, for every compiled kernel."""
import os
import platform
import sys
import sysconfig

from fastcnn import _kernels

__all__ = ["set_num_threads", "get_num_threads", "set_flush_denormal", "show_config",
           "config"]

# One choice of kernel sets (GEMM and pooling together), made in csrc/dispatch.c.
_isa = _kernels.select_isa(os.environ.get("FASTCNN_ISA") or None)
# More threads than this only cost (and thousands can fail to start, which ends the process
# from inside the OpenMP runtime).
MAX_THREADS = 1024
# OMP_NUM_THREADS is honoured: OpenMP's default team size is read once, at import.
_num_threads = (min(max(1, int(_kernels.omp_max_threads())), MAX_THREADS)
                if _kernels.openmp_enabled() else 1)


def set_num_threads(n):
    """Number of threads the kernels use from now on (an int from 1 to MAX_THREADS).

    Results do not depend on it: work is split in blocks fixed by the shapes alone and
    reductions are added in a fixed order.
    """
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int) and not hasattr(n, "__index__"):
        raise TypeError(f"n must be an int >= 1, got {n!r}")
    n = int(n.__index__()) if not isinstance(n, int) else n
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if n > MAX_THREADS:
        raise ValueError(f"n must be at most {MAX_THREADS}, got {n}")
    _num_threads = n


def get_num_threads():
    """Number of threads the kernels use."""
    return _num_threads


def set_flush_denormal(mode):
    """Flush subnormal numbers to zero (``True``) or compute with them (``False``, the
    default), as PyTorch's ``set_flush_denormal``: in the calling thread and the worker
    threads of the kernels it runs (NumPy's arithmetic in that thread too). Returns True
    where the CPU has the mode (x86), False otherwise (nothing changes).

    Subnormals (|x| < 1.2e-38 in float32) cost some CPUs a hundred cycles an operation:
    training the seed model on one Intel Xeon, Adam's first moments of dead ReLU units decay
    into them and the epochs slow from 4 s to 7-8 s by the third (with the mode on, every
    epoch takes 4 s; README, "Subnormal numbers"). Flushing changes results (those numbers become 0), so it is off by
    default; results stay bitwise the same at any thread count either way."""
    if not isinstance(mode, bool):
        raise TypeError(f"mode must be a bool, got {mode!r}")
    threads = max(_num_threads, int(_kernels.omp_max_threads()))
    return _kernels.set_flush_denormal(mode, threads)


# os.fork() after the kernels ran on several threads: GNU OpenMP keeps a pool of worker
# threads that a child inherits the record of but not the threads, so the child's first
# parallel loop would wait for them forever. The pool is ended before the fork (the parent
# starts a new one at its next parallel loop); where the runtime cannot do that, the child
# runs on one thread.
_released_for_fork = True


def _before_fork():
    global _released_for_fork
    _released_for_fork = _kernels.release_openmp_threads()


def _after_fork_in_child():
    global _num_threads
    if not _released_for_fork:
        _num_threads = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def config():
    """The build and runtime configuration as a dict (what show_config prints)."""
    from fastcnn import __version__
    tiles = _kernels.tile_sizes()
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}",
        "compiler": sysconfig.get_config_var("CC") or "unknown",
        "openmp": bool(_kernels.openmp_enabled()),
        "threads": _num_threads,
        "simd": _kernels.current_isa(),
        "simd_best": _kernels.best_isa(),
        "simd_cap": os.environ.get("FASTCNN_ISA") or None,
        "tile_float32": tiles["float32"],
        "tile_float64": tiles["float64"],
        "kernels": [e["name"] for e in _kernels.kernel_table() if e["in_use"]],
    }


def show_config(file=None):
    """Prints version, compiler, OpenMP on/off, threads, the SIMD level in use and the
    kernels of fastcnn._kernels.kernel_table() that it runs."""
    c = config()
    cap = f", capped by FASTCNN_ISA={c['simd_cap']}" if c["simd_cap"] else ""
    lines = [
        f"fastcnn {c['version']} (Python {c['python']}, {c['platform']})",
        f"  compiler:   {c['compiler']}",
        f"  OpenMP:     {'on' if c['openmp'] else 'off (serial build)'}",
        f"  threads:    {c['threads']}",
        f"  SIMD:       {c['simd']} (best on this CPU: {c['simd_best']}{cap})",
        f"  GEMM tiles: float32 {c['tile_float32'][0]}x{c['tile_float32'][1]}, "
        f"float64 {c['tile_float64'][0]}x{c['tile_float64'][1]}",
        f"  kernels:    {' '.join(c['kernels'])}",
    ]
    print("\n".join(lines), file=file if file is not None else sys.stdout)
