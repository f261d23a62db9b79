"""Model files: a zip archive of ``config.json`` plus one ``.npy`` entry per array.

Layout (format version 1)::

    config.json              {"format": "fastcnn.model", "format_version": 1, "model": {...},
                              "compile": {...} or null, "weights": [...], "optimizer": [...]}
    weights/00000.npy ...    the model's weights, in get_weights() order
    optimizer/00000.npy ...  the optimizer's iterations and slots (resuming training)

Saving writes a temporary file in the destination's folder, fsyncs it and renames it over the
destination (``os.replace``), so a crash or an error mid-save leaves any previous file intact.
Loading never unpickles (``allow_pickle=False``) and never runs code named by the file: model
and layer classes come from fastcnn's registry of names (:mod:`fastcnn._registry`; a layer of
your own is registered with ``fastcnn.layers.register``), optimizers, losses and initializers
from fixed tables. While the model is rebuilt, its weights may take at most the bytes of the
file's weight entries (stored uncompressed, as :func:`save_model` writes them), checked before
each weight is allocated, so a file cannot make the loader allocate much more memory than the
file itself holds; every array header is checked against the shape the configuration implies
before its data is read. A truncated, corrupted or foreign file raises ``ValueError``.
"""
import errno
import io
import json
import math
import os
import struct
import tempfile
import zipfile
import zlib

import numpy as np

from . import __version__, _registry, distributed, losses, optimizers
from .layers.base import weight_budget

__all__ = ["save_model", "load_model", "check_destination", "write_file"]

FORMAT = "fastcnn.model"
FORMAT_VERSION = 1
_MAX_CONFIG_BYTES = 16 * 2**20
_NPY_HEADER_ALLOWANCE = 2**16
_ALLOWED_DTYPES = {np.dtype(np.float32), np.dtype(np.float64)}


# ---- writing ------------------------------------------------------------------------------------
def _write_array(archive, name, array):
    """One array as a ``.npy`` entry (the unit a test interrupts to simulate a crash)."""
    with archive.open(name, "w", force_zip64=array.nbytes > 2**30) as entry:
        np.lib.format.write_array(entry, np.asarray(array), allow_pickle=False)


def _config(model, weight_names, optimizer_names):
    compile_config = None
    if model.compiled:
        compile_config = {"optimizer": optimizers.serialize(model.optimizer),
                          "loss": losses.serialize(model.loss),
                          "metrics": list(model.metrics_names[1:])}
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "fastcnn_version": __version__,
            "model": {"class_name": _registry.registered_name("model", type(model)),
                      "config": model.get_config()},
            "compile": compile_config, "weights": weight_names, "optimizer": optimizer_names}


def _optimizer_state(model):
    """The optimizer's state for the model's trainable weights, or [] when it has none."""
    if not model.compiled:
        return []
    return model.optimizer.state_for(model.trainable_weights) or []


def _write_model(model, stream):
    weights = model.get_weights()
    state = _optimizer_state(model)
    weight_names = [f"weights/{i:05d}.npy" for i in range(len(weights))]
    optimizer_names = [f"optimizer/{i:05d}.npy" for i in range(len(state))]
    config = json.dumps(_config(model, weight_names, optimizer_names), indent=1, allow_nan=False)
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("config.json", config)
        for name, array in zip(weight_names + optimizer_names, weights + state):
            _write_array(archive, name, array)


def _new_file_mode(path):
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def check_destination(filepath):
    """Raise the ``OSError`` :func:`save_model` would raise for a ``filepath`` it cannot write
    (see there), before any work is done: a temporary file is created in its folder and removed
    at once, and nothing else is written."""
    path, directory = _destination(filepath)
    try:
        _refuse_path(path)
        fd, tmp = _temporary_file(path, directory)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise _save_error(exc, path, directory) from None


def _destination(filepath):
    """``filepath`` as a str, and the folder the file goes in."""
    path = os.fspath(filepath)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    return path, os.path.dirname(os.path.abspath(path))


def _temporary_file(path, directory):
    """A new hidden file beside ``path``: ``(fd, name)``."""
    return tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                            dir=directory)


def _refuse_path(path):
    """Refuse, before writing anything, a path that cannot name a file."""
    if not path:
        raise FileNotFoundError(errno.ENOENT, "the path is empty")
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)


def save_model(model, filepath):
    """Write ``model`` to ``filepath`` atomically (see the module docstring).

    Any failure to write is an ``OSError`` of the class the system gave (``FileNotFoundError``
    for a missing folder, ``IsADirectoryError`` when ``filepath`` is a folder,
    ``NotADirectoryError`` when a parent is a file, ``PermissionError``...) whose message names
    ``filepath`` and says why; a previous file at ``filepath`` is left intact and no temporary
    file is left behind. Under :mod:`fastcnn.distributed`, ranks other than 0 write nothing.
    """
    if distributed.rank() != 0:
        return
    write_file(filepath, lambda stream: _write_model(model, stream))


def write_file(filepath, write, action="save the model"):
    """Call ``write(stream)`` on a new temporary file beside ``filepath``, then rename it over
    ``filepath``, with the errors and guarantees of :func:`save_model` (messages say "cannot
    ``action`` to ``filepath``")."""
    path, directory = _destination(filepath)
    try:
        _refuse_path(path)
        replace_file(path, directory, write)
    except OSError as exc:
        raise _save_error(exc, path, directory, action) from None
    try:   # make the rename itself durable; not every platform can open a folder
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def replace_file(path, directory, write):
    """Call ``write(stream)`` on a new temporary file in ``directory`` (the folder of
    ``path``), flush it to disk, give it the mode of the file it replaces (or what the umask
    gives a new file) and rename it over ``path``; on any error the temporary file is
    removed and ``path`` is left as it was. (fastcnn.plot writes its pictures so too.)"""
    fd, tmp = _temporary_file(path, directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _save_error(exc, path, directory, action="save the model"):
    """``exc`` again (same class and errno) with a message about ``path``, not the temporary
    file it may name."""
    if not path:
        why = "the path is empty"
    elif isinstance(exc, IsADirectoryError) or os.path.isdir(path):
        why = "it is a folder; give the path of a file"
    elif isinstance(exc, NotADirectoryError):
        why = f"{_first_non_folder(directory)!r} is a file, not a folder"
    elif isinstance(exc, FileNotFoundError) and not os.path.isdir(directory):
        why = f"the folder {directory!r} does not exist"
    elif isinstance(exc, PermissionError):
        why = f"no permission to write in the folder {directory!r} ({exc.strerror or exc})"
    else:
        why = exc.strerror or str(exc)
    message = f"cannot {action} to {path!r}: {why}"
    try:
        error = type(exc)(message)
    except Exception:                      # an OSError subclass with another signature
        error = OSError(message)
    error.errno = exc.errno
    return error


def _first_non_folder(directory):
    """The first ancestor of ``directory`` (or itself) that exists and is not a folder."""
    parts = []
    head = directory
    while head and not os.path.exists(head):
        head, tail = os.path.split(head)
        if not tail:
            break
        parts.append(tail)
    while parts and os.path.isdir(head):
        head = os.path.join(head, parts.pop())
    return head


# ---- reading ------------------------------------------------------------------------------------
class _Invalid(ValueError):
    pass


def _read_entry(archive, name, max_bytes, path):
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _Invalid(f"{path!r} is not a fastcnn model file: it has no {name!r}") from None
    if info.file_size > max_bytes:
        raise _Invalid(f"{path!r}: entry {name!r} is {info.file_size} bytes, more than the "
                       f"{max_bytes} it can hold")
    return archive.read(name)


def _read_array(archive, name, shape, path, dtypes=_ALLOWED_DTYPES):
    """The array stored in ``name``, whose header must announce ``shape`` and one of ``dtypes``."""
    _stored_entry(archive, name, path)
    expected_bytes = math.prod(shape) * 8
    data = _read_entry(archive, name, expected_bytes + _NPY_HEADER_ALLOWANCE, path)
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            header = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as exc:
        raise _Invalid(f"{path!r}: entry {name!r} is not a valid .npy array ({exc})") from None
    stored_shape, _, dtype = header
    if tuple(stored_shape) != tuple(shape) or dtype not in dtypes:
        raise _Invalid(f"{path!r}: entry {name!r} holds a {dtype} array of shape "
                       f"{tuple(stored_shape)}, expected shape {tuple(shape)} of "
                       f"{' or '.join(sorted(d.name for d in dtypes))}")
    stream.seek(0)
    try:
        return np.lib.format.read_array(stream, allow_pickle=False)
    except ValueError as exc:
        raise _Invalid(f"{path!r}: entry {name!r} is truncated or corrupted ({exc})") from None


def _stored_entry(archive, name, path):
    """The ZipInfo of array entry ``name``, which must be stored uncompressed."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _Invalid(f"{path!r} is not a fastcnn model file: it has no {name!r}") from None
    if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
        raise _Invalid(f"{path!r}: entry {name!r} is compressed; fastcnn model files store "
                       "their arrays uncompressed")
    return info


def _stored_weight_bytes(archive, config, path):
    """The bytes of the file's weight entries (what the rebuilt model's weights may take)."""
    names = config.get("weights")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _Invalid(f"{path!r}: config.json lists weights that are not entry names")
    stored = sum(_stored_entry(archive, n, path).file_size for n in dict.fromkeys(names))
    if stored > os.path.getsize(path):
        raise _Invalid(f"{path!r}: the file's weight entries claim {stored} bytes, more than "
                       f"the file's {os.path.getsize(path)}")
    return stored


def _parse_config(raw, path):
    try:
        config = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:   # JSONDecodeError, UnicodeDecodeError too
        raise _Invalid(f"{path!r}: config.json is not valid JSON ({type(exc).__name__}: "
                       f"{exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise _Invalid(f"{path!r} is not a fastcnn model file (config.json has no "
                       f"format={FORMAT!r})")
    if config.get("format_version") != FORMAT_VERSION:
        raise _Invalid(f"{path!r} has format version {config.get('format_version')!r}; this "
                       f"fastcnn ({__version__}) reads version {FORMAT_VERSION}")
    return config


def _rebuild(config, path, budget, compile):
    spec = config.get("model")
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise _Invalid(f"{path!r}: config.json has no model description")
    try:
        cls = _registry.registered("model", spec.get("class_name"))
        with weight_budget(budget):
            model = cls.from_config(spec["config"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError,
            RecursionError) as exc:
        raise _Invalid(f"{path!r}: invalid model config ({type(exc).__name__}: {exc})") from None
    compile_config = config.get("compile")
    if compile and compile_config is not None:
        try:
            model.compile(optimizer=optimizers.get(compile_config["optimizer"]),
                          loss=losses.get(compile_config["loss"]),
                          metrics=compile_config["metrics"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _Invalid(f"{path!r}: invalid compile config ({type(exc).__name__}: "
                           f"{exc})") from None
    return model


def _names(config, key, count, path):
    names = config.get(key)
    if (not isinstance(names, list) or len(names) != count
            or not all(isinstance(n, str) for n in names)):
        raise _Invalid(f"{path!r}: config.json lists {key} that do not match the model "
                       f"({count} expected)")
    return names


def _load(archive, path, compile):
    config = _parse_config(_read_entry(archive, "config.json", _MAX_CONFIG_BYTES, path), path)
    model = _rebuild(config, path, _stored_weight_bytes(archive, config, path), compile)
    expected = model.weights
    names = _names(config, "weights", len(expected), path)
    model.set_weights([_read_array(archive, n, w.shape, path) for n, w in zip(names, expected)])
    state_names = config.get("optimizer") or []
    if model.compiled and state_names:
        opt = model.optimizer
        opt.build(model.trainable_weights)
        shapes = [v.shape for v in opt.variables]
        names = _names(config, "optimizer", len(shapes), path)
        state = [_read_array(archive, names[0], (), path, {np.dtype(np.int64)})]
        state += [_read_array(archive, n, s, path) for n, s in zip(names[1:], shapes[1:])]
        if int(state[0]) < 0:
            raise _Invalid(f"{path!r}: negative optimizer iteration count")
        opt.set_state(state, model.trainable_weights)
    return model


def load_model(filepath, compile=True):
    """The model saved at ``filepath`` (compiled as saved when ``compile``)."""
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        with zipfile.ZipFile(path, "r") as archive:
            return _load(archive, path, compile)
    except _Invalid as exc:
        raise ValueError(str(exc)) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, struct.error,
            NotImplementedError) as exc:
        raise ValueError(f"{path!r} is not a valid fastcnn model file: it is truncated, "
                         f"corrupted or not a zip archive ({type(exc).__name__}: {exc})") from None
