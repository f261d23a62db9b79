"""python disagree.py OUTDIR (under mpiexec -n 2): calls on which the ranks disagree, each
caught; every rank writes OUTDIR/rank<r>.txt, one line per case, "<case>: <exception class>:
<message>" (or "<case>: no error"), then "after: <weights checksum>" from a fit on which they
agree."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common

import fastcnn.distributed as dist
from fastcnn import layers, models

dist.init()
r = dist.rank()
report = open(os.path.join(sys.argv[1], f"rank{r}.txt"), "w")
x, y = common.data(40)


def other_model():
    model = models.Sequential([layers.Input((6, 6, 2)), layers.Conv2D(5, 3), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    return model


def attempt(case, call):
    try:
        call()
        print(f"{case}: no error", file=report)
    except Exception as exc:
        print(f"{case}: {type(exc).__name__}: {exc}", file=report)


model = common.build("sgd")
attempt("model", lambda: (model if r == 0 else other_model()).fit(x, y, batch_size=8, verbose=0))
attempt("samples", lambda: model.fit(x[:40 - r], y[:40 - r], batch_size=8, verbose=0))
attempt("batch_size", lambda: model.fit(x, y, batch_size=1, verbose=0))
attempt("argument", lambda: model.fit(x, y, batch_size=8, epochs=1 if r == 0 else "1", verbose=0))
attempt("evaluate", lambda: model.evaluate(x[:40 - r], y[:40 - r], verbose=0))
model.fit(x, y, batch_size=8, epochs=1, verbose=0)
print(f"after: {sum(float(w.sum()) for w in model.get_weights())!r}", file=report)
report.close()
