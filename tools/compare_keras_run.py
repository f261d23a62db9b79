"""Build a case's model with one library and run its checks: the code both sides share.

The same functions run under fastcnn (tools/compare_keras.py) and under Keras 3
(tools/compare_keras_side.py), so the two models and the two sequences of calls cannot differ
except through the library. This module imports NumPy only; a library comes in as an adapter
object with:

- ``name``; ``layer(class_name, name, args)``; ``input(shape, name)``;
  ``model(inputs, output, name)``; ``sequential(input_spec, layers, name)``;
- ``optimizer(class_name, args)``; ``obj(path, args)`` (``"regularizers.L2"``,
  ``"optimizers.schedules.CosineDecay"``: a class of the library's module -> an object);
- ``callback_base`` (the library's ``Callback``); ``seed(n)``; ``numpy(tensor)``;
- ``fix_flips(layer, flips)``: make a ``RandomFlip`` flip image i of every training batch
  where ``flips[i]``, instead of drawing (each library through its own draw).

The training checks (``fit``) are in compare_keras_fit.py.

Two roles share one job directory (see :func:`run_role`): ``init`` builds the model, draws the
data and the weights that need drawing, writes them to ``<case>.inputs.npz`` and runs the
checks; ``load`` builds the same model, copies those weights in by layer name and runs the same
checks. Results go to ``<case>.<role>.npz`` (arrays keyed ``check|kind|row|item``) and
``<case>.<role>.json`` (structure and errors): one failing check never stops the others.
"""
import importlib
import json
import os
import sys
import traceback
import zlib

import numpy as np

SEP = "|"
BN = "BatchNormalization"


# -- building ----------------------------------------------------------------------------------
def resolve(lib, value, data=None):
    """A value of a case as the library takes it: ``{"@": "module.Class", ...}`` an object of
    the library's module (the other keys its arguments, resolved in turn), ``{"fn":
    "module.name"}`` a function of a tools module (the same function on both sides),
    ``{"data": key}`` the case's array ``data[key]``; lists and other dicts item by item."""
    if isinstance(value, dict):
        if "@" in value:
            return lib.obj(value["@"], {k: resolve(lib, v, data) for k, v in value.items()
                                        if k != "@"})
        if "fn" in value:
            module, name = value["fn"].rsplit(".", 1)
            return getattr(importlib.import_module(module), name)
        if "data" in value:
            return data[value["data"]]
        return {k: resolve(lib, v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(lib, v, data) for v in value]
    return value


def make_layer(lib, entry):
    """The layer of an entry: its ``class`` and ``args``, or for Keras its ``keras`` stand-in
    (``{"class", "args", "why"}``) where Keras' own layer cannot be the reference (a known
    Keras bug)."""
    spec = (entry.get("keras") if lib.name == "keras" else None) or entry
    return lib.layer(spec["class"], entry["name"], resolve(lib, spec["args"]))


def build_model(lib, case):
    """The case's model: ``Sequential`` for a chain marked so, else ``Input``s + ``Model``."""
    built = [(entry, make_layer(lib, entry)) for entry in case["layers"]]
    if case.get("sequential"):
        model = lib.sequential(case["inputs"][0], [layer for _, layer in built], case["name"])
    else:
        nodes = {spec["name"]: lib.input(spec["shape"], spec["name"])
                 for spec in case["inputs"]}
        previous = case["inputs"][-1]["name"]
        for entry, layer in built:
            source = entry.get("inputs", previous)
            nodes[entry["name"]] = layer([nodes[s] for s in source] if isinstance(source, list)
                                         else nodes[source])
            previous = entry["name"]
        model = lib.model([nodes[spec["name"]] for spec in case["inputs"]],
                          nodes[case.get("output", previous)], case["name"])
    for entry, layer in built:
        if not entry.get("trainable", True):
            layer.trainable = False
        if "fixed_flips" in entry:
            lib.fix_flips(layer, entry["fixed_flips"])
    return model


# -- weights by layer name ---------------------------------------------------------------------
def named_weights(model):
    """``{layer name: [arrays]}`` for every layer that has weights (Keras' weight order)."""
    out = {}
    for layer in model.layers:
        arrays = [np.array(w) for w in layer.get_weights()]
        if arrays:
            out[layer.name] = arrays
    return out


def set_named_weights(model, weights):
    """Copy ``weights`` in by layer name; a name on one side only is an error, so that a
    renamed or missing layer is reported rather than left at its initial weights."""
    mine = {layer.name for layer in model.layers if layer.get_weights()}
    if mine != set(weights):
        raise ValueError(f"layers with weights differ: only here {sorted(mine - set(weights))}, "
                         f"only in the file {sorted(set(weights) - mine)}")
    for layer in model.layers:
        if layer.name in weights:
            layer.set_weights(weights[layer.name])


def weight_names(entry):
    """Names of a layer's weights in Keras' order (what :func:`randomize` draws for)."""
    args = entry["args"]
    if entry["class"] == BN:
        return ((["gamma"] if args.get("scale", True) else [])
                + (["beta"] if args.get("center", True) else [])
                + ["moving_mean", "moving_variance"])
    return ["kernel", "bias"] if args.get("use_bias", True) else ["kernel"]


# what randomize draws for each weight its initialiser leaves at 0 or 1: (low, high) is
# uniform, (std,) normal around 0; kernels keep their initialiser's values
DRAWS = {"gamma": (0.5, 1.5), "moving_variance": (0.5, 2.0), "beta": (0.5,),
         "moving_mean": (0.5,), "bias": (0.2,)}


def _draw(rng, draws, name, array):
    if name not in draws:
        return array
    low_high_or_std = draws[name]
    if len(low_high_or_std) == 2:
        return rng.uniform(*low_high_or_std, array.shape).astype(np.float32)
    return (low_high_or_std[0] * rng.standard_normal(array.shape)).astype(np.float32)


def randomize(model, case, rng):
    """Draw the weights of :data:`DRAWS` (a case may override them: ``randomize`` a dict)."""
    draws = dict(DRAWS, **case["randomize"]) if isinstance(case["randomize"], dict) else DRAWS
    for entry in case["layers"]:
        layer = model.get_layer(entry["name"])
        arrays = layer.get_weights()
        if arrays:
            names = weight_names(entry)
            if len(names) != len(arrays):
                raise ValueError(f"layer {entry['name']!r} has {len(arrays)} weights, "
                                 f"Keras has {len(names)} ({names})")
            layer.set_weights([_draw(rng, draws, n, a) for n, a in zip(names, arrays)])


# -- data ----------------------------------------------------------------------------------------
def case_rng(case, seed):
    """A generator of the case's own, so that a case's data do not depend on the others."""
    return np.random.default_rng([seed, zlib.crc32(case["name"].encode())])


def make_data(lib, model, case, rng):
    """``x0, x1, ...`` for the inputs, ``y`` shaped like the output (``targets``; ``sparse``:
    int32 class labels) and, with ``sample_weights``, ``sw`` (one weight per sample)."""
    n, data = case["samples"], {}
    for i, spec in enumerate(case["inputs"]):
        shape = (n,) + tuple(spec["shape"])
        if spec["data"] == "pixels":
            x = rng.integers(0, 256, shape).astype(np.float32)
        else:
            x = (3.0 if spec["data"] == "wide" else 1.0) * rng.standard_normal(shape)
        data[f"x{i}"] = x.astype(np.float32)
    kind = case.get("targets")
    if kind:
        shape = lib.numpy(model(model_inputs(case, data), training=False)).shape
        if kind == "sparse":
            y = rng.integers(0, shape[-1], shape[:-1]).astype(np.int32)
        elif kind == "onehot":
            y = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
        elif kind == "binary":
            y = rng.integers(0, 2, shape)
        else:
            y = rng.standard_normal(shape)
        data["y"] = y if kind == "sparse" else y.astype(np.float32)
    if case.get("sample_weights"):
        # weights in [0, 2), every fifth exactly 0 (a sample that must count for nothing)
        sw = rng.uniform(0.0, 2.0, n)
        sw[::5] = 0.0
        data["sw"] = sw.astype(np.float32)
    return data


def model_inputs(case, data):
    xs = [data[f"x{i}"] for i in range(len(case["inputs"]))]
    return xs[0] if len(xs) == 1 else xs


# -- checks --------------------------------------------------------------------------------------
def _bn_stats(model, case):
    return {layer: arrays for layer, arrays in named_weights(model).items()
            if any(e["name"] == layer and e["class"] == BN for e in case["layers"])}


def inference(lib, model, case, data):
    """Outputs in inference mode: ``model(x, training=False)`` and ``predict``."""
    x = model_inputs(case, data)
    return {("forward", "infer", ""): lib.numpy(model(x, training=False)),
            ("forward", "predict", ""): np.asarray(
                model.predict(x, batch_size=case["samples"], verbose=0))}


def training_call(lib, model, case, data, weights):
    """``model(x, training=True)``, and BatchNormalization's weights after it (Keras updates
    the moving statistics in any training-mode call, not only in ``fit``)."""
    results = {("forward", "train", ""): lib.numpy(model(model_inputs(case, data),
                                                         training=True))}
    for layer, arrays in _bn_stats(model, case).items():
        for i, array in enumerate(arrays):
            results[("forward", "train: BN weights after", f"{layer}:{i}")] = array
    set_named_weights(model, weights)
    return results


def structure(model):
    """What must match exactly: layer names (Keras' order), weight shapes, parameter counts."""
    layers = [[layer.name, type(layer).__name__, [list(w.shape) for w in layer.get_weights()]]
              for layer in model.layers]
    trainable = sum(int(np.prod(np.shape(w))) for w in model.trainable_weights)
    return {"params": int(model.count_params()), "trainable_params": trainable,
            "layers": layers}


def run_checks(lib, model, case, data, weights):
    """Every check of the case; returns (results keyed (check, kind, row, item), errors by
    check). A check that raises is recorded and the next one still runs."""
    import compare_keras_fit as fitting  # here: compare_keras_fit imports this module
    checks = []
    if case["forward"]:
        checks.append(("inference", lambda: inference(lib, model, case, data)))
    if case["forward"] is True:
        checks.append(("training call", lambda: training_call(lib, model, case, data, weights)))
    checks += [(f"fit {run['label']}",
                lambda run=run: fitting.fit(lib, model, case, data, weights, run))
               for run in case["fit"]]
    results, errors = {}, {}
    for name, check in checks:
        try:
            results.update({(name,) + key: value for key, value in check().items()})
        except Exception:                       # noqa: BLE001 - reported, the rest goes on
            errors[name] = traceback.format_exc()
    return results, errors


# -- roles and files -----------------------------------------------------------------------------
def _save_inputs(path, data, weights):
    arrays = dict(data)
    for layer, items in weights.items():
        for i, array in enumerate(items):
            arrays[SEP.join(("w", layer, str(i)))] = array
    np.savez(path, **arrays)


def _load_inputs(path):
    data, weights = {}, {}
    with np.load(path, allow_pickle=False) as arrays:
        for key in arrays.files:
            if key.startswith("w" + SEP):
                _, layer, i = key.split(SEP)
                weights.setdefault(layer, {})[int(i)] = arrays[key]
            else:
                data[key] = arrays[key]
    return data, {layer: [d[i] for i in sorted(d)] for layer, d in weights.items()}


def run_role(lib, case, role, job, seed):
    """Run one case as ``init`` or ``load``, write its files and return its report."""
    base = os.path.join(job, case["name"])
    report = {"library": lib.name, "errors": {}}
    results = {}
    try:
        # the load side initialises from another seed: a weight its copy misses shows
        lib.seed(seed if role == "init" else seed + 1)
        model = build_model(lib, case)
        report["structure"] = structure(model)
        if role == "init":
            rng = case_rng(case, seed)
            if case["randomize"]:
                randomize(model, case, rng)
            data, weights = make_data(lib, model, case, rng), named_weights(model)
            _save_inputs(base + ".inputs.npz", data, weights)
        else:
            data, weights = _load_inputs(base + ".inputs.npz")
            set_named_weights(model, weights)
        results, report["errors"] = run_checks(lib, model, case, data, weights)
    except Exception:                           # noqa: BLE001 - reported, other cases go on
        report["errors"]["build"] = traceback.format_exc()
    np.savez(base + f".{role}.npz", **{SEP.join(key): value for key, value in results.items()})
    with open(base + f".{role}.json", "w") as f:
        json.dump(report, f)
    return report


def read_role(job, name, role):
    """``(results keyed (check, kind, row, item), report)`` from :func:`run_role`, or None."""
    base = os.path.join(job, name)
    if not os.path.exists(base + f".{role}.json"):
        return None
    with open(base + f".{role}.json") as f:
        report = json.load(f)
    with np.load(base + f".{role}.npz", allow_pickle=False) as arrays:
        results = {tuple(key.split(SEP)): arrays[key] for key in arrays.files}
    return results, report


def print_progress(case, report, file=sys.stderr):
    """One line per case, with the last line of each error (the whole text is in the json)."""
    errors = report["errors"]
    status = "FAILED to build" if "build" in errors else "errors" if errors else "ok"
    print(f"[{report['library']}] {case['name']}: {status}", file=file, flush=True)
    for check, text in errors.items():
        print(f"    {check}: {text.strip().splitlines()[-1]}", file=file, flush=True)
