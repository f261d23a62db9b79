"""The hooks the training loop calls (fastcnn/models/trainer.py), for one process
(:data:`LOCAL`: each hook leaves the loop as it is) and for K MPI ranks (:class:`Ranks`).
The semantics are described in :mod:`fastcnn.distributed`."""
import contextlib
import os
import sys
import time
import traceback

import numpy as np

from .. import utils
from ._agree import (FAILED, FIELDS, KINDS, check_rows, compile_fingerprint, model_fingerprint,
                     on_all_ranks, raised_on_all_ranks, row, weights_fingerprint)
from ._exchange import GradientAverager, bounds, broadcast_arrays, gather_rows

__all__ = ["LOCAL", "Ranks", "raised_on_all_ranks"]

_WEIGHTS = list(FIELDS).index("weights")


class _Local:
    """One process: the hooks of :class:`Ranks` that change nothing."""

    rank, size = 0, 1

    def begin_fit(self, model, plan, **arguments):
        pass

    def permutation(self, n):
        return utils.rng().permutation(n)

    def share(self, index):
        return index

    def average(self, grads, n, logs):
        return n, logs

    def any(self, flag):
        return flag

    def end_epoch(self, model):
        pass

    def begin_test(self, model, what, samples, batch_size):
        pass

    def part(self, *parts):
        return parts

    def mean(self, tracker):
        return tracker.result()

    def gather(self, outs, total):
        return outs


LOCAL = _Local()


class Ranks:
    """K ranks of an MPI communicator ``comm`` (``MPI``: the mpi4py.MPI module)."""

    def __init__(self, MPI, comm):
        self.MPI, self.comm = MPI, comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        local = comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_size = local.Get_size()
        local.Free()
        self.averager = GradientAverager(comm)
        self._agreed = []           # per collective call in progress: past its first exchange?

    # -- failures ----------------------------------------------------------------------------
    def abort(self, reason):
        """End every rank now (exit status 1), saying why on stderr."""
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.write(f"fastcnn.distributed: rank {self.rank} of {self.size}: {reason}; "
                             "ending every rank (MPI Abort)\n")
            sys.stderr.flush()
        # mpiexec forwards a rank's output through its proxy and drops what is still in
        # flight when Abort ends the job (a loaded machine lost all but the traceback's first
        # line): give the proxy a moment to pass the message on
        time.sleep(0.5)
        try:
            self.MPI.COMM_WORLD.Abort(1)
        finally:     # MPICH's Abort may return before the launcher ends this process
            os._exit(1)

    @contextlib.contextmanager
    def guard(self, what):
        """Around a collective call: an exception raised on this rank alone before the call's
        first exchange takes part in that exchange (the other ranks raise too); one raised
        later ends every rank, which would otherwise wait for this one forever."""
        self._agreed.append(False)
        try:
            yield
        except BaseException as exc:
            if raised_on_all_ranks(exc):
                raise
            if not self._agreed[-1]:
                self._agreed[-1] = True
                self._exchange(row(kind=FAILED))
                on_all_ranks(exc)
                raise
            with contextlib.suppress(Exception):
                traceback.print_exc()
            self.abort(f"{type(exc).__name__} in {what}()")
        finally:
            self._agreed.pop()

    def _exchange(self, mine):
        rows = np.empty((self.size, mine.size), dtype=mine.dtype)
        self.comm.Allgather(mine, rows)
        return rows

    def _agree(self, what, **fields):
        if self._agreed:
            self._agreed[-1] = True       # from here on a failure aborts
        rows = self._exchange(row(**fields))
        check_rows(rows, what)
        return rows

    # -- fit ---------------------------------------------------------------------------------
    def begin_fit(self, model, plan, *, samples, batch_size, epochs, initial_epoch, shuffle,
                  validation_samples, weighted):
        """Check that the ranks agree, then give every rank rank 0's weights and optimizer
        state."""
        state = model.optimizer.state_for(plan.trainable_weights)
        self._agree("fit", kind=KINDS["fit"], model=model_fingerprint(model),
                    compiled=compile_fingerprint(model), samples=samples, batch_size=batch_size,
                    epochs=epochs, initial_epoch=initial_epoch, shuffle=shuffle,
                    validation_samples=validation_samples, sample_weight=weighted,
                    optimizer_state=state is not None)
        if batch_size < self.size:
            raise on_all_ranks(ValueError(
                f"batch_size={batch_size} is smaller than the number of ranks ({self.size}): "
                f"batch_size is the global batch, of which every rank takes a share; pass "
                f"batch_size >= {self.size}"))
        if samples < self.size:
            raise on_all_ranks(ValueError(
                f"x has {samples} training samples, fewer than the {self.size} ranks"))
        broadcast_arrays(self.comm, model.weights)
        if state is not None:
            broadcast_arrays(self.comm, state)       # [iterations, *slots], slots in place
            model.optimizer.iterations = int(state[0])

    def permutation(self, n):
        """Rank 0's shuffle of ``n`` samples, on every rank."""
        order = np.empty(n, dtype=np.int64)
        if self.rank == 0:
            order[...] = utils.rng().permutation(n)
        self.comm.Bcast(order, root=0)
        return order

    def share(self, index):
        """This rank's share of a global batch (a slice, or positions)."""
        if isinstance(index, slice):
            start, stop = bounds(index.stop - index.start, self.size, self.rank)
            return slice(index.start + start, index.start + stop)
        start, stop = bounds(len(index), self.size, self.rank)
        return index[start:stop]

    def average(self, grads, n, logs):
        """After a step on ``n`` samples with ``logs`` (sums over them): every rank's
        gradients become those of the global batch, in place; returns (global batch size,
        global sums)."""
        names = list(logs)
        every = self._exchange(np.array([n] + [logs[k] for k in names], dtype=np.float64))
        sums = every[0].copy()
        for r in range(1, self.size):               # rank order: the same sums on every run
            sums += every[r]
        total = int(sums[0])
        self.averager(grads, [count / total for count in every[:, 0]])
        return total, dict(zip(names, sums[1:].tolist()))

    def any(self, flag):
        """True on every rank when ``flag`` is true on one."""
        out = np.empty(1, dtype=np.int32)
        self.comm.Allreduce(np.array([bool(flag)], dtype=np.int32), out, op=self.MPI.MAX)
        return bool(out[0])

    def end_epoch(self, model):
        """Rank 0's non-trainable weights (BatchNormalization's moving statistics, computed
        by each rank on its shares) on every rank."""
        arrays = model.non_trainable_weights
        if arrays:
            broadcast_arrays(self.comm, arrays)

    # -- evaluate / predict ------------------------------------------------------------------
    def begin_test(self, model, what, samples, batch_size):
        """Check that the ranks agree; rank 0's weights where a rank's differ."""
        rows = self._agree(what, kind=KINDS[what], model=model_fingerprint(model),
                           compiled=compile_fingerprint(model) if what == "evaluate" else 0,
                           samples=samples, batch_size=batch_size,
                           weights=weights_fingerprint(model))
        if (rows[:, _WEIGHTS] != rows[0, _WEIGHTS]).any():
            broadcast_arrays(self.comm, model.weights)

    def part(self, *parts):
        """This rank's contiguous part of the rows of each of ``parts`` (lists of arrays, an
        array, or None)."""
        first = parts[0][0] if isinstance(parts[0], list) else parts[0]
        rows = slice(*bounds(len(first), self.size, self.rank))
        return tuple(None if p is None else [a[rows] for a in p] if isinstance(p, list)
                     else p[rows] for p in parts)

    def mean(self, tracker):
        """The means over every rank's rows of a :class:`fastcnn.models.data.Mean`."""
        every = self._exchange(np.array([tracker.count] + [tracker.sums[k] for k in
                                                           tracker.names], dtype=np.float64))
        sums = every[0].copy()
        for r in range(1, self.size):
            sums += every[r]
        count = max(sums[0], 1)
        return {name: float(value / count) for name, value in zip(tracker.names, sums[1:])}

    def gather(self, outs, total):
        """Every rank's rows of ``outs`` (arrays), ``total`` rows each, in rank order."""
        return [gather_rows(self.comm, self.MPI, out, total) for out in outs]
