"""python train.py OUTDIR: trains each case of common.CASES after fastcnn.distributed.init()
(under mpiexec: on every rank), with progress (verbose=2), a ModelCheckpoint, a CSVLogger and
model.save whose file names carry the rank; each rank writes its results to
OUTDIR/<run>-rank<r>.npz for each run of common.RUNS.

Rank r seeds fastcnn's generator with r (rank 0 starts as one process seeded with 0; the
others' initial weights and dropout masks differ), and before "adam" resumes, rank 1's
optimizer state is overwritten: fit must give every rank rank 0's weights and state."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common

import fastcnn
import fastcnn.distributed as dist
from fastcnn import callbacks

outdir = sys.argv[1]
dist.init()
r = dist.rank()


def record(run, model, history, x, y):
    np.savez(os.path.join(outdir, f"{run}-rank{r}.npz"), **common.results(model, history, x, y),
             size=dist.size(), threads=fastcnn.get_num_threads())


for case in common.CASES:
    cbs = [callbacks.ModelCheckpoint(os.path.join(outdir, f"{case}-ckpt-rank{r}.fcnn"),
                                     monitor="loss"),
           callbacks.CSVLogger(os.path.join(outdir, f"{case}-log-rank{r}.csv"))]
    model, history, (x, y) = common.train(case, verbose=2, callbacks=cbs, seed=r)
    model.save(os.path.join(outdir, f"{case}-rank{r}.fcnn"))
    record(case, model, history, x, y)
    if case == "adam":
        if r == 1:
            for slot in model.optimizer.variables[1:]:
                slot[...] = 1.0
            model.optimizer.iterations += 5
        record("adam-resumed", model, common.resume(model, x, y), x, y)
