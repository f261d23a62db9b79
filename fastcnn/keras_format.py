"""Reading Keras 3 files: ``.keras`` archives (:func:`load_model`) and ``.weights.h5`` weights
(:func:`load_weights`). Needs h5py (the optional extra ``fastcnn[keras]``).

A ``.keras`` file is a zip of ``config.json`` (the model, see :mod:`fastcnn.keras_config`, and
its compile settings, :mod:`fastcnn.keras_compile`), ``metadata.json`` and ``model.weights.h5``,
where layer ``i`` of Keras' ``model.layers`` keeps its weights in the group
``layers/<snake_case class name>[_<k>]/vars`` (``k`` counting earlier layers of the class) as
datasets ``0``, ``1``... in the layer's weight order, and the optimizer its variables in
``optimizer/vars``.

Safety: nothing in a file is executed, imported or unpickled. The model is built from the
translated config while its weights may take at most 4 times the bytes ``model.weights.h5``
declares (float16 weights stored for a float64 model), checked before each is allocated;
that entry, whose declared size must agree with the bytes the archive stores (at most
``MAX_EXPANSION`` times them and 1 MiB when compressed), is read into memory only when it is no larger
than the model's weights could need (:func:`weights_size_limit`). Each dataset is reached by
hard links only, must be stored in the file itself, unfiltered, and hold the shape the model
expects in float16/32/64 (an integer scalar for the optimizer's step count) before it is read.
Every weight is read and checked before any is assigned, so a failed load changes nothing.
A truncated, corrupted or foreign file is a ``ValueError`` naming it.
"""
import io
import json
import os
import struct
import warnings
import zipfile
import zlib

import numpy as np

from . import _extras, _registry, keras_compile, keras_config
from .layers.base import _snake_case, weight_budget
from .optimizers import Adam
from .optimizers.schedules import LearningRateSchedule

__all__ = ["is_keras_file", "load_model", "load_weights", "weights_size_limit"]

CONFIG, WEIGHTS = "config.json", "model.weights.h5"
# a compressed weights entry may declare at most this many times its stored bytes, plus 1 MiB
# (honest weights are mostly random floats: they compress far less)
MAX_EXPANSION, _EXPANSION_SLACK = 20, 2**20
_MAX_CONFIG_BYTES = 16 * 2**20
_H5_ALLOWANCE, _H5_PER_OBJECT = 2**16, 2**12
_COPIES = 5               # the weights, and up to four optimizer slots (Adam's amsgrad, EMA)
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, struct.error,
               NotImplementedError)


class _Invalid(ValueError):
    pass


def is_keras_file(path):
    """True for a zip whose directory lists ``config.json`` and ``model.weights.h5``, and for a
    file named ``*.keras`` that is no readable zip (its error then speaks of Keras files)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, ValueError) + _ZIP_ERRORS:
        return os.fspath(path).lower().endswith(".keras")
    return CONFIG in names and WEIGHTS in names


def weights_size_limit(model):
    """The most bytes an honest Keras weights file of ``model`` takes: each weight and up to
    four optimizer copies of it in float64, and HDF5's bookkeeping per layer and dataset."""
    weights = model.weights
    return (_COPIES * 8 * sum(w.size for w in weights) + _H5_ALLOWANCE
            + _H5_PER_OBJECT * (len(model.layers) + _COPIES * len(weights)))


# ---- zip entries --------------------------------------------------------------------------------
def _entry(archive, name, path, archive_size):
    """The ZipInfo of ``name``; its declared size must be what the archive can hold."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _Invalid(f"{path!r} is not a Keras model file: it has no {name!r}") from None
    stored = info.compress_type == zipfile.ZIP_STORED
    expands = name == WEIGHTS and (
        info.file_size > MAX_EXPANSION * info.compress_size + _EXPANSION_SLACK)
    if (info.compress_size > archive_size or (stored and info.file_size != info.compress_size)
            or expands):
        raise _Invalid(f"{path!r}: entry {name!r} declares {info.file_size} bytes from "
                       f"{info.compress_size} stored ({archive_size} in the whole file); "
                       "refusing a decompression bomb")
    return info


def _read_entry(archive, info, limit, path, why):
    if info.file_size > limit:
        raise _Invalid(f"{path!r}: entry {info.filename!r} declares {info.file_size} bytes, "
                       f"more than the {limit} {why}")
    return archive.read(info)


# ---- HDF5 ---------------------------------------------------------------------------------------
class _H5:
    """Checked access to an in-memory HDF5 file (a context manager that closes it)."""

    def __init__(self, data, path, label):
        self.h5py = _extras.require("h5py", "reading Keras files")
        self.path, self.label = path, label
        self.file = self._guard(lambda: self.h5py.File(io.BytesIO(data), "r"))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.file.close()

    def _guard(self, fn):
        try:
            return fn()
        except _Invalid:
            raise
        except (OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
            raise _Invalid(f"{self.path!r}: {self.label} is not a valid HDF5 file, or is "
                           f"truncated or corrupted ({type(exc).__name__}: {exc})") from None

    def _child(self, group, name, kind, where):
        link = group.get(name, getlink=True)
        if link is None:
            return None
        if not isinstance(link, self.h5py.HardLink):
            raise _Invalid(f"{self.path!r}: {where} is a {type(link).__name__}; only objects "
                           f"stored in {self.label} itself are read")
        obj = group[name]
        if not isinstance(obj, kind):
            raise _Invalid(f"{self.path!r}: {where} is not an HDF5 {kind.__name__}")
        return obj

    def group(self, group_path):
        """The group at ``group_path`` ("a/b/c"), or None when it is not there."""
        def walk():
            group = self.file
            for i, part in enumerate(group_path.split("/")):
                where = "/".join(group_path.split("/")[:i + 1])
                group = self._child(group, part, self.h5py.Group, where)
                if group is None:
                    return None
            return group
        return self._guard(walk)

    def keys(self, group):
        return self._guard(lambda: sorted(group.keys()))

    def array(self, group, name, shape, where, integer=False):
        """Dataset ``name`` of ``group``, checked to hold ``shape`` floats (an integer
        scalar when ``integer``) before it is read."""
        return self._guard(lambda: self._array(group, name, tuple(shape), where, integer))

    def _array(self, group, name, shape, where, integer):
        ds = self._child(group, name, self.h5py.Dataset, where)
        if ds is None:
            raise _Invalid(f"{self.path!r}: {self.label} has no {where}")
        if ds.external or ds.is_virtual or ds.id.get_create_plist().get_nfilters():
            raise _Invalid(f"{self.path!r}: {where} is stored outside the file or filtered; "
                           "only plain datasets are read")
        dtype = ds.dtype
        wanted = "iu" if integer else "f"
        if (dtype.kind not in wanted or dtype.fields is not None or dtype.subdtype is not None
                or dtype.itemsize not in ((1, 2, 4, 8) if integer else (2, 4, 8))):
            raise _Invalid(f"{self.path!r}: {where} holds {dtype} values, expected "
                           f"{'an integer' if integer else 'float16, float32 or float64'}")
        if ds.shape != shape:
            raise _Invalid(f"{self.path!r}: {where} has shape {ds.shape}, expected {shape}")
        return np.asarray(ds[()])


def _layer_weights(h5, pairs):
    """The arrays for each (layer, Keras group path) pair's weights, all read and checked."""
    out = []
    for layer, group_path in pairs:
        expected = layer.weights
        vars_path = group_path + "/vars"
        group = h5.group(vars_path)
        keys = [] if group is None else h5.keys(group)
        if sorted(keys) != sorted(str(i) for i in range(len(expected))):
            raise _Invalid(f"{h5.path!r}: layer {layer.name!r} has {len(expected)} weights, "
                           f"but {h5.label} holds {len(keys)} at {vars_path!r}")
        for i, w in enumerate(expected):
            out.append(h5.array(group, str(i), w.shape, f"weight {i} of layer {layer.name!r} "
                                f"({vars_path}/{i})"))
    return out


def keras_group_paths(class_names):
    """The ``layers/...`` group of each layer of Keras' ``model.layers``, from their classes."""
    used, out = {}, []
    for cls in class_names:
        base = _snake_case(cls)
        used[base] = used.get(base, -1) + 1
        out.append(f"layers/{base}" + (f"_{used[base]}" if used[base] else ""))
    return out


# ---- optimizer state ----------------------------------------------------------------------------
def _optimizer_state(h5, model, notes):
    """Restore the optimizer variables Keras saved, when they fit the compiled optimizer:
    ``[iterations, learning rate (unless a schedule), slots...]``, Adam's moments interleaved
    per variable, other slots one list after the other. Otherwise a warning in ``notes``, as
    Keras warns."""
    group = h5.group("optimizer/vars")
    if group is None:
        return
    opt, variables = model.optimizer, model.trainable_weights
    slots = len(opt._active_slots())
    base = 1 if isinstance(opt._learning_rate, LearningRateSchedule) else 2
    count = len(h5.keys(group))
    if count not in (base, base + slots * len(variables)):
        notes.append(f"{h5.path!r}: the optimizer state was not restored: the file holds "
                     f"{count} optimizer variables, {type(opt).__name__} here has "
                     f"{base + slots * len(variables)}")
        return
    iterations = int(h5.array(group, "0", (), "the optimizer's iterations", integer=True))
    if iterations < 0:
        raise _Invalid(f"{h5.path!r}: negative optimizer iteration count {iterations}")
    if base == 2:
        h5.array(group, "1", (), "the optimizer's learning rate")
    if count == base:
        opt.iterations = iterations
        return
    n = len(variables)
    state = [np.array(iterations, dtype=np.int64)]
    for s in range(slots):
        for i, v in enumerate(variables):
            k = base + (2 * i + s if isinstance(opt, Adam) and s < 2 else s * n + i)
            state.append(h5.array(group, str(k), v.shape, f"optimizer variable {k}"))
    opt.set_state(state, variables)


# ---- entry points -------------------------------------------------------------------------------
def _build(document, path, budget, notes):
    replaced = []
    try:
        cls_name, config, order = keras_config.translate_model(document, replaced)
        cls = _registry.registered("model", cls_name)
        with weight_budget(budget):
            model = cls.from_config(config)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError,
            RecursionError) as exc:
        raise _Invalid(f"{path!r}: {exc}") from None
    notes.extend(f"{path!r}: {line} is not an initializer fastcnn has; the layer keeps "
                 "fastcnn's default (its weights are the file's: this matters only if they are "
                 "ever made again)" for line in replaced)
    pairs = list(zip([model.get_layer(name) for name, _ in order],
                     keras_group_paths([cls for _, cls in order])))
    return model, pairs


def _compile_args(document, path, notes):
    """(optimizer, loss, metrics) of the file, or None (with a warning in ``notes``) when
    fastcnn cannot restore them."""
    config = document.get("compile_config")
    if not config:              # Keras writes {} for a model that was never compiled
        return None
    try:
        return keras_compile.translate_compile(config)
    except keras_compile.Unsupported as exc:
        notes.append(f"{path!r}: the model is loaded uncompiled: fastcnn cannot restore {exc} "
                     "of its compile config; call model.compile(...) before training it")
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"{path!r}: invalid compile config ({exc})") from None
    return None


def _load(archive, path, compile, notes):
    size = os.path.getsize(path)
    raw = _read_entry(archive, _entry(archive, CONFIG, path, size), _MAX_CONFIG_BYTES, path,
                      "a model config may take")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise _Invalid(f"{path!r}: config.json is not valid JSON ({exc})") from None
    info = _entry(archive, WEIGHTS, path, size)
    model, pairs = _build(document, path, 4 * info.file_size, notes)
    compile_args = _compile_args(document, path, notes) if compile else None
    data = _read_entry(archive, info, weights_size_limit(model), path,
                       "the model's weights can take")
    with _H5(data, path, WEIGHTS) as h5:
        model.set_weights(_layer_weights(h5, pairs))
        if compile_args is not None:
            optimizer, loss, metrics = compile_args
            model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
            _optimizer_state(h5, model, notes)
    return model


def _reading(path, read):
    """``read()``, its failures a ValueError naming ``path``."""
    try:
        return read()
    except _Invalid as exc:
        raise ValueError(str(exc)) from None
    except _ZIP_ERRORS as exc:
        raise ValueError(f"{path!r} is not a valid Keras file: it is truncated, corrupted or not "
                         f"a zip archive ({type(exc).__name__}: {exc})") from None


def _existing(filepath):
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no file at {path!r}")
    return path


def load_model(filepath, compile=True):
    """The model of the Keras 3 ``.keras`` file ``filepath`` (see the module docstring),
    compiled as saved when ``compile`` and fastcnn has its optimizer, loss and metrics."""
    path = _existing(filepath)
    notes = []

    def read():
        with zipfile.ZipFile(path) as archive:
            return _load(archive, path, compile, notes)
    model = _reading(path, read)
    for note in notes:          # at the caller of fastcnn.models.load_model
        warnings.warn(note, stacklevel=3)
    return model


def load_weights(model, filepath):
    """Read a Keras ``.weights.h5`` file (or the weights of a ``.keras`` file) into ``model``,
    whose layers must be those of the model that saved them, in Keras' order: the weights of
    the ``k``-th layer of a class go to the ``k``-th layer of that class in ``model.layers``.
    A missing layer, a weight count or shape that differs is a ValueError naming the layer and
    the shapes, and leaves ``model``'s weights as they were."""
    path = _existing(filepath)
    limit = weights_size_limit(model)
    layers = model.layers
    pairs = list(zip(layers, keras_group_paths([type(layer).__name__ for layer in layers])))

    def read():
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                info = _entry(archive, WEIGHTS, path, os.path.getsize(path))
                data = _read_entry(archive, info, limit, path, "the model's weights can take")
            label = WEIGHTS
        else:
            if os.path.getsize(path) > limit:
                raise _Invalid(f"{path!r} has {os.path.getsize(path)} bytes, more than the "
                               f"{limit} that weights of model {model.name!r} can take")
            with open(path, "rb") as stream:
                data = stream.read()
            label = "the weights file"
        with _H5(data, path, label) as h5:
            model.set_weights(_layer_weights(h5, pairs))
    _reading(path, read)
