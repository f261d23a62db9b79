"""What the ranks check together at the start of ``fit``, ``evaluate`` and ``predict``: one
row of integers per rank (fingerprints of the model and compile settings, lengths of the data,
the call's arguments), exchanged with one Allgather, so that a difference is found by every
rank at once and raised on every rank with the same message."""
import hashlib
import json

import numpy as np

__all__ = ["FAILED", "FIELDS", "KINDS", "check_rows", "compile_fingerprint", "model_fingerprint",
           "on_all_ranks", "raised_on_all_ranks", "row", "weights_fingerprint"]

# kind codes (field "kind")
FAILED = -1
KINDS = {"fit": 1, "evaluate": 2, "predict": 3}

# field -> what a difference means (None: not compared)
FIELDS = {
    "kind": None,                       # compared on its own (which call each rank makes)
    "model": "the model differs between ranks (its layers' configurations or weight shapes)",
    "compiled": "the compile() settings (optimizer, loss, metrics) differ between ranks",
    "samples": "the number of samples differs between ranks",
    "batch_size": "batch_size differs between ranks",
    "epochs": "epochs differs between ranks",
    "initial_epoch": "initial_epoch differs between ranks",
    "shuffle": "shuffle differs between ranks",
    "validation_samples": "the number of validation samples differs between ranks",
    "sample_weight": "sample_weight or class_weight is given on some ranks only",
    "optimizer_state": "the optimizer has a state on some ranks only (trained before on some)",
    "weights": None,                    # compared by the caller (rank 0's are broadcast)
}

_ALL_RANKS = "_fastcnn_raised_on_all_ranks"


def on_all_ranks(exc):
    """Mark ``exc`` as raised on every rank (so that nothing aborts the others); return it."""
    setattr(exc, _ALL_RANKS, True)
    return exc


def raised_on_all_ranks(exc):
    return getattr(exc, _ALL_RANKS, False)


def row(**values):
    """This rank's row: ``values`` (ints, bools) in the order of :data:`FIELDS`, 0 for those
    not given."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    return np.array([int(values.get(name, 0)) for name in FIELDS], dtype=np.int64)


def _per_rank(column):
    return ", ".join(f"rank {r}: {int(v)}" for r, v in enumerate(column))


def check_rows(rows, what):
    """Raise, the same way on every rank, when the rows (one per rank) show a rank that
    failed or a difference between ranks. ``what``: the call, e.g. ``"fit"``."""
    kinds = rows[:, 0]
    failed = [r for r, k in enumerate(kinds) if k == FAILED]
    if failed:
        raise on_all_ranks(RuntimeError(
            f"fastcnn.distributed: rank {', '.join(map(str, failed))} raised an error in "
            f"{what}() before it started (its traceback is printed above), so every rank "
            f"stops"))
    if (kinds != kinds[0]).any():
        names = {code: name for name, code in KINDS.items()}
        calls = ", ".join(f"rank {r}: {names.get(int(k), '?')}()" for r, k in enumerate(kinds))
        raise on_all_ranks(ValueError(
            f"fastcnn.distributed: the ranks called different methods together ({calls}); "
            "every rank must call fit, evaluate and predict in the same order"))
    for j, (name, meaning) in enumerate(FIELDS.items()):
        if meaning is None or (rows[:, j] == rows[0, j]).all():
            continue
        if name in ("model", "compiled"):
            detail = "fingerprints " + ", ".join(
                f"rank {r}: {int(v) & 0xffffffffffffffff:016x}" for r, v in enumerate(rows[:, j]))
        else:
            detail = _per_rank(rows[:, j])
        raise on_all_ranks(ValueError(
            f"fastcnn.distributed: {what}(): {meaning} ({detail}); every rank must build the "
            "same model and pass the same arguments and data"))


def _fingerprint(obj):
    text = json.dumps(obj, sort_keys=True, default=repr).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little", signed=True)


def model_fingerprint(model):
    """The layers' classes and configurations (names left out: they count layers built
    before, not what the model is) and the shapes and dtypes of their weights."""
    return _fingerprint([
        [type(layer).__name__,
         {k: v for k, v in layer.get_config().items() if k != "name"},
         [[list(w.shape), str(w.dtype)] for w in layer.weights]]
        for layer in model.layers])


def compile_fingerprint(model):
    """The optimizer, loss and metrics given to compile() (0 when not compiled)."""
    if not model.compiled:
        return 0
    opt, loss = model.optimizer, model.loss
    return _fingerprint([type(opt).__name__, opt.get_config(), type(loss).__name__,
                         loss.get_config(), model.metrics_names, model.fuse])


def weights_fingerprint(model):
    """The weights' values."""
    digest = hashlib.blake2b(digest_size=8)
    for w in model.weights:
        digest.update(np.ascontiguousarray(w).reshape(-1).view(np.uint8))
    return int.from_bytes(digest.digest(), "little", signed=True)
