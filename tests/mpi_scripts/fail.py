"""python fail.py WHERE (under mpiexec -n 2): rank 1 raises, WHERE = "callback" (in a
callback during fit, while rank 0 trains) or "toplevel" (outside fastcnn, while rank 0 calls
fit); the run must end on every rank with an error."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common

import fastcnn.distributed as dist
from fastcnn import callbacks


class RaiseOnRank1(callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if dist.rank() == 1 and batch == 2:
            raise RuntimeError("raised on rank 1 in a callback")


where = sys.argv[1]
dist.init()
x, y = common.data(400)
model = common.build("sgd")
if where == "toplevel" and dist.rank() == 1:
    raise RuntimeError("raised on rank 1 outside fastcnn")
model.fit(x, y, batch_size=8, epochs=100_000, verbose=0, callbacks=[RaiseOnRank1()])
print("fit returned", flush=True)
