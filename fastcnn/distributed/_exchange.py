"""The data that moves between ranks: the fixed-order average of the gradients, arrays
broadcast from rank 0, rows gathered in rank order. Everything here is plain data movement
(MPI never adds), so the results do not depend on MPI's choice of algorithm."""
import time

import numpy as np

__all__ = ["GradientAverager", "bounds", "broadcast_arrays", "gather_rows"]


def bounds(count, parts, part):
    """``(start, stop)`` of part ``part`` of ``count`` items cut into ``parts`` parts as equal
    as possible (the first ``count % parts`` parts one longer)."""
    base, extra = divmod(count, parts)
    start = part * base + min(part, extra)
    return start, start + base + (part < extra)


class GradientAverager:
    """Replaces each rank's gradients by ``sum_r weights[r] * gradients of rank r``, the same
    on every rank and bitwise reproducible.

    The gradients are packed into one flat vector cut into K chunks; an Alltoallv gives rank r
    chunk r of every rank's vector (a reduce-scatter's traffic), rank r sums its chunk in rank
    order in float64, and an Allgatherv gives everyone every summed chunk. Each rank sends
    2 (K - 1) / K of the vector, as a ring allreduce does; MPI's own Allreduce is not used
    because its order of additions is its own choice."""

    def __init__(self, comm):
        self.comm, self.size, self.rank = comm, comm.Get_size(), comm.Get_rank()
        self.stats = {"steps": 0, "bytes_sent": 0, "payload_bytes": 0, "seconds": 0.0}
        self._buffers = {}

    def _buffer(self, name, count, dtype):
        buf = self._buffers.get(name)
        if buf is None or buf.dtype != dtype or buf.size < count:
            buf = self._buffers[name] = np.empty(count, dtype=dtype)
        return buf[:count]

    def __call__(self, grads, weights):
        if not grads:
            return
        started = time.perf_counter()
        dtype = np.result_type(*grads)
        total = sum(g.size for g in grads)
        flat = self._buffer("flat", total, dtype)
        pos = 0
        for g in grads:
            flat[pos:pos + g.size] = g.reshape(-1)
            pos += g.size
        cuts = [bounds(total, self.size, r) for r in range(self.size)]
        counts, displs = [b - a for a, b in cuts], [a for a, _ in cuts]
        mine = counts[self.rank]
        received = self._buffer("received", self.size * mine, dtype)
        self.comm.Alltoallv([flat, (counts, displs)],
                            [received, ([mine] * self.size, [r * mine for r in range(self.size)])])
        total64 = self._buffer("sum", mine, np.float64)
        term = self._buffer("term", mine, np.float64)
        total64.fill(0.0)
        for r, weight in enumerate(weights):        # rank order: the same sum on every run
            if weight:                               # an empty share adds nothing, not 0 * NaN
                term[...] = received[r * mine:(r + 1) * mine]
                term *= weight
                total64 += term
        part = self._buffer("part", mine, dtype)
        part[...] = total64
        self.comm.Allgatherv(part, [flat, (counts, displs)])
        pos = 0
        for g in grads:
            np.copyto(g, flat[pos:pos + g.size].reshape(g.shape))
            pos += g.size
        stats = self.stats
        stats["steps"] += 1
        stats["bytes_sent"] += (total - mine + (self.size - 1) * mine) * flat.itemsize
        stats["payload_bytes"] += total * flat.itemsize
        stats["seconds"] += time.perf_counter() - started


def broadcast_arrays(comm, arrays, root=0):
    """Copy rank ``root``'s values of ``arrays`` (any dtypes and shapes, the same on every
    rank) into every rank's arrays, in place, in one message."""
    sizes = [a.nbytes for a in arrays]
    buf = np.empty(sum(sizes), dtype=np.uint8)
    if comm.Get_rank() == root:
        pos = 0
        for a, n in zip(arrays, sizes):
            buf[pos:pos + n] = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
            pos += n
    comm.Bcast(buf, root=root)
    if comm.Get_rank() != root:
        pos = 0
        for a, n in zip(arrays, sizes):
            np.copyto(a, buf[pos:pos + n].view(a.dtype).reshape(a.shape))
            pos += n


def gather_rows(comm, MPI, part, total):
    """The ``total`` rows of which each rank holds its :func:`bounds` part ``part``, on every
    rank, in rank order."""
    size = comm.Get_size()
    row = part.dtype.itemsize * int(np.prod(part.shape[1:], dtype=np.int64))
    cuts = [bounds(total, size, r) for r in range(size)]
    counts, displs = [(b - a) * row for a, b in cuts], [a * row for a, _ in cuts]
    out = np.empty((total,) + part.shape[1:], dtype=part.dtype)
    part = np.ascontiguousarray(part)
    comm.Allgatherv([part, part.nbytes, MPI.BYTE], [out, (counts, displs), MPI.BYTE])
    return out
