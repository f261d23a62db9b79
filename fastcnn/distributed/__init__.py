"""Data-parallel training on MPI ranks (optional extra ``fastcnn[mpi]``: mpi4py and MPICH).

    import fastcnn.distributed as dist
    dist.init()                       # under mpiexec: joins the MPI world; alone: a world of one
    model.fit(x, y, batch_size=256)   # batch_size is the global batch, split over the ranks

Launched as ``mpiexec -n 4 python train.py`` (or ``mpiexec -n 4 python -m fastcnn train``).
Every rank runs the same program and loads the same data itself (no data is sent). After
:func:`init`, in a world of K > 1 ranks:

* ``fit`` first checks that every rank has the same model (layer configurations and weight
  shapes), compile settings, numbers of samples and fit arguments, and raises a ValueError on
  every rank that says what differs; ``batch_size`` smaller than K, or fewer samples than K, is
  a ValueError too. It then broadcasts rank 0's weights and optimizer state, and every epoch
  uses rank 0's shuffle (so rank 0 draws from :func:`fastcnn.utils.rng` as one process would).
* Each rank takes its share of every global batch, as equal as possible (the first
  ``batch % K`` ranks take one sample more; the last, partial batch is shared too, and a rank
  may get none of it). Every step the gradients are averaged over the ranks in a fixed order:
  each rank's flat gradient (the mean over its ``n_r`` samples) is weighted by ``n_r / N`` (N
  the global batch) and the weighted vectors are summed in rank order, in float64, by a
  reduce-scatter (MPI Alltoallv, then the sum) and an allgather. The losses are means over the
  batch (with sample weights, Keras' "sum over batch size"), so the result is the one-process
  gradient of the global batch: K ranks train the model one process trains, to float rounding,
  and a run is bitwise reproducible. Regularizer penalties are added once, after the average.
* The logs (loss, metrics) of every step and epoch are the global ones; ``stop_training`` set
  on any rank stops every rank after that step.
* BatchNormalization normalises each rank's share with the share's own statistics (as Horovod
  and Keras do without synchronised batch normalisation), so a model with it trains like one
  with a K times smaller batch for normalisation; its moving statistics are rank 0's, broadcast
  at the end of every epoch. Dropout and random augmentation draw from each rank's generator:
  ``fastcnn.utils.set_random_seed(seed + dist.rank())`` gives each rank its own masks and
  leaves rank 0 (the shuffle and the initial weights) as one process seeded with ``seed``.
* ``evaluate`` and ``predict`` are collective (call them on every rank): each rank runs a
  contiguous part of the rows, in batches of ``batch_size``, with rank 0's weights (broadcast
  when a rank's differ), and every rank gets the whole result (a progress bar shows rank 0's
  part).
* Only rank 0 shows progress, runs the callbacks that write files (``ModelCheckpoint``,
  ``CSVLogger``: callbacks whose class sets ``rank_zero_only = True``) and writes
  ``model.save`` (which does nothing on the other ranks).
* Failures: an exception that escapes ``fit``, ``evaluate`` or ``predict`` on one rank, or
  that no code catches, ends every rank (MPI Abort, exit status 1) after its traceback is
  printed, rather than leaving the others waiting for it. One raised before the call's first
  exchange (a bad argument) is not fatal: that rank raises it and the others raise a
  RuntimeError that names the rank, so every rank can catch what it raised.
* Threads: each rank runs ``OMP_NUM_THREADS`` threads when it is set; otherwise the cores this
  process may use divided by the number of ranks on this machine (at least 1), so that ranks
  sharing a machine do not oversubscribe it. Choose ranks per machine x threads per rank =
  cores (e.g. ``OMP_NUM_THREADS=8 mpiexec -n 4`` on 32 cores).

Without ``mpiexec`` (or with ``-n 1``), :func:`init` makes a world of one and everything runs
as without it. Before :func:`init`, :func:`rank` is 0 and :func:`size` 1.
"""
import contextlib
import functools
import os
import shutil
import sys
import sysconfig

from .. import _extras
from ._world import LOCAL, Ranks, raised_on_all_ranks

__all__ = ["init", "is_initialized", "launched_by_mpiexec", "mpiexec_path", "rank",
           "reduction_stats", "size"]

_world = None

# Variables that launchers set in the processes they start: MPICH's and Intel MPI's Hydra
# (PMI_*), Open MPI (OMPI_*), Slurm's srun with PMI (PMI_*) and PMIx.
_LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_SIZE",
                       "PMIX_RANK")


def init():
    """Join the MPI world (``mpiexec -n K``): K ranks, or a world of one without ``mpiexec``.
    Calling it again does nothing. Needs mpi4py (``pip install 'fastcnn[mpi]'``)."""
    global _world
    if _world is not None:
        return
    MPI = _extras.require("mpi4py.MPI", "fastcnn.distributed.init()")
    world = Ranks(MPI, MPI.COMM_WORLD.Dup())        # our own communicator: no message of the
    threads = _threads_per_rank(world.local_size)    # program's can match one of ours
    if threads is not None:
        from .. import _config
        _config.set_num_threads(threads)
    if world.size > 1:
        _abort_on_uncaught_exceptions(world)
    _world = world


def is_initialized():
    """True after :func:`init`."""
    return _world is not None


def rank():
    """This process's rank, 0 to :func:`size` - 1 (0 before :func:`init`)."""
    return 0 if _world is None else _world.rank


def size():
    """The number of ranks (1 before :func:`init`)."""
    return 1 if _world is None else _world.size


def launched_by_mpiexec():
    """True when an MPI launcher (``mpiexec``, ``srun``) started this process."""
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def mpiexec_path():
    """The ``mpiexec`` to launch ranks with: the one the ``mpich`` wheel installed, else one
    beside this Python or in its scripts folder, else one on PATH; None when there is none."""
    try:
        from importlib import metadata
        for entry in metadata.files("mpich") or ():
            if entry.name == "mpiexec" and entry.parent.name == "bin":
                path = entry.locate()
                if os.path.isfile(path):
                    return os.path.normpath(path)
    except ImportError:             # importlib.metadata.PackageNotFoundError is one
        pass
    for folder in (os.path.dirname(sys.executable), sysconfig.get_path("scripts")):
        path = os.path.join(folder, "mpiexec")
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which("mpiexec")


def reduction_stats():
    """The gradient averaging so far: ``{"steps", "bytes_sent", "payload_bytes",
    "seconds"}`` (bytes this rank sent, bytes of the gradient vectors, time in the exchanges
    and the sum), summed over the steps; zeros in a world of one."""
    return dict(world().averager.stats) if world() is not LOCAL else {
        "steps": 0, "bytes_sent": 0, "payload_bytes": 0, "seconds": 0.0}


def world():
    """The world the training loop talks to: the MPI ranks, or a stand-in for one process
    whose every hook leaves the loop as it is (internal)."""
    return _world if _world is not None and _world.size > 1 else LOCAL


def collective(method):
    """Decorate a model method that every rank calls together (fit, evaluate, predict): an
    exception on one rank ends every rank rather than leaving them waiting (internal)."""
    @functools.wraps(method)
    def run(*args, **kwargs):
        current = world()
        if current is LOCAL:
            return method(*args, **kwargs)
        with current.guard(method.__name__):
            return method(*args, **kwargs)
    return run


def _threads_per_rank(local_ranks):
    """Threads for each rank when OMP_NUM_THREADS is not set and ranks share this machine."""
    if "OMP_NUM_THREADS" in os.environ or local_ranks <= 1:
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores // local_ranks)


def _abort_on_uncaught_exceptions(current):
    """An exception no code catches ends every rank: without this, the others would wait in
    their next exchange for a rank that has gone (MPI_Finalize does not end them)."""
    previous = sys.excepthook

    def hook(kind, exc, tb):
        with contextlib.suppress(Exception):
            previous(kind, exc, tb)
        if not raised_on_all_ranks(exc):
            current.abort(f"an uncaught {kind.__name__}")

    sys.excepthook = hook
