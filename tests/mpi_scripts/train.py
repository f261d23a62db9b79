"""python train.py OUTDIR: trains each case of common.CASES after fastcnn.distributed.init()
(under mpiexec: on every rank), with progress (verbose=2), a ModelCheckpoint, a CSVLogger and
model.save whose file names carry the rank; each rank writes its results to
OUTDIR/<case>-rank<r>.npz."""
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
for case in common.CASES:
    cbs = [callbacks.ModelCheckpoint(os.path.join(outdir, f"{case}-ckpt-rank{r}.fcnn"),
                                     monitor="loss"),
           callbacks.CSVLogger(os.path.join(outdir, f"{case}-log-rank{r}.csv"))]
    model, history, (x, y) = common.train(case, verbose=2, callbacks=cbs)
    model.save(os.path.join(outdir, f"{case}-rank{r}.fcnn"))
    np.savez(os.path.join(outdir, f"{case}-rank{r}.npz"), **common.results(model, history, x, y),
             size=dist.size(), threads=fastcnn.get_num_threads())
