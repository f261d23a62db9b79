"""Hostile Keras files (foreign classes, code and module references, unsupported arguments,
oversized shapes, malformed weights, truncated or bomb-like archives) are refused with a
ValueError naming the problem, without running code or allocating what the file claims."""
import base64
import marshal
import tracemalloc
import zipfile

import h5py
import numpy as np
import pytest

from fastcnn import keras_format
from audit_loading import load_under_audit
from keras_fixtures import DATA, keras_file, load_quietly, residual_model

PEAK_BYTES = 32 * 2**20


def layer(doc, cls, index=0):
    return [e for e in doc["config"]["layers"] if e["class_name"] == cls][index]


def lambda_entry(entry, marker):
    """``entry`` made a Keras Lambda layer whose marshalled function would create ``marker``."""
    code = compile(f"lambda x: open({str(marker)!r}, 'w').close() or x", "<hostile>", "eval")
    entry.update(class_name="Lambda", module="keras.layers")
    entry["config"] = {"name": entry["config"]["name"], "trainable": True, "function": {
        "class_name": "__lambda__", "config": {
            "code": base64.encodebytes(marshal.dumps(code.co_consts[0])).decode("ascii"),
            "defaults": None, "closure": None}}, "arguments": {}}


def replace_dataset(group_path, make):
    def edit(f):
        group = f[group_path.rsplit("/", 1)[0]]
        del group[group_path.rsplit("/", 1)[1]]
        make(group, group_path.rsplit("/", 1)[1])
    return edit


def _set(path, value):
    """An edit of config.json setting ``path`` (keys, ``("Class", i)`` for a layer) to value."""
    def edit(doc):
        node = doc
        for key in path[:-1]:
            node = layer(doc, *key) if isinstance(key, tuple) else node[key]
        node[path[-1]] = value
    return edit


_FOREIGN = {"module": "os", "class_name": "system", "config": {}, "registered_name": None}
_CONV = ("Conv2D", 0)
_DENSE_KERNEL = "layers/dense/vars/0"
HOSTILE = {
    "unknown_layer_class": (dict(config=_set([_CONV, "class_name"], "Conv3D")), r"'Conv3D'"),
    "lambda_layer": (dict(config=lambda d: lambda_entry(layer(d, "Rescaling"), MARKER[0])),
                     r"lambda \(marshalled code\)"),
    "module_os_initializer": (dict(config=_set([_CONV, "config", "kernel_initializer"],
                                               _FOREIGN)), r"module 'os'"),
    "builtins_function_activation": (
        dict(config=_set([_CONV, "config", "activation"], {
            "module": "builtins", "class_name": "function", "config": "exec",
            "registered_name": "function"})), r"function 'exec' of module 'builtins'"),
    "builtins_function_loss": (
        dict(config=_set(["compile_config", "loss"], {
            "module": "builtins", "class_name": "function", "config": "eval",
            "registered_name": "function"})), r"function 'eval'"),
    "custom_package_object": (
        dict(config=_set([_CONV, "registered_name"], "evil>MyLayer")), r"'evil>MyLayer'"),
    "custom_model_class": (dict(config=lambda d: d.update(class_name="MyModel",
                                                         module="my_package.models")),
                           r"'my_package.models'"),
    "dilation_rate": (dict(config=_set([_CONV, "config", "dilation_rate"], [2, 2])),
                      r"dilation_rate=\[2, 2\]"),
    "channels_first": (dict(config=_set([_CONV, "config", "data_format"], "channels_first")),
                       r"data_format='channels_first'"),
    "groups": (dict(config=_set([_CONV, "config", "groups"], 2)), r"groups=2"),
    "unknown_argument": (dict(config=_set([_CONV, "config", "new_option"], 1)),
                         r"'new_option'"),
    "mixed_precision": (dict(config=_set([_CONV, "config", "dtype", "config", "name"],
                                         "mixed_float16")), r"'mixed_float16'"),
    "huge_dense": (dict(config=_set([("Dense", 0), "config", "units"], 10**12)),
                   r"would create a weight of shape \(16, 1000000000000\)"),
    "huge_conv_kernel": (dict(config=_set([_CONV, "config", "kernel_size"], [40000, 40000])),
                         r"would create a weight of shape \(40000, 40000, 3, 8\)"),
    "dataset_wrong_shape": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, data=np.zeros((5, 16), np.float32)))), r"shape \(5, 16\), expected \(16, 5\)"),
    "dataset_int_dtype": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, data=np.zeros((16, 5), np.int32)))), r"int32 values"),
    "dataset_object_dtype": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, (16, 5), dtype=h5py.string_dtype()))), r"object values"),
    "dataset_compound_dtype": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, (16, 5), dtype=[("a", "<f4"), ("b", "<f4")]))), r"values, expected float"),
    "dataset_soft_link": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.__setitem__(
        n, h5py.SoftLink("/layers/dense/vars/1")))), r"SoftLink"),
    "dataset_external_link": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.__setitem__(
        n, h5py.ExternalLink("/etc/passwd", "/x")))), r"ExternalLink"),
    "dataset_external_storage": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, (16, 5), np.float32, external=[("/etc/passwd", 0, 320)]))), r"stored outside"),
    "dataset_compressed": (dict(h5=replace_dataset(_DENSE_KERNEL, lambda g, n: g.create_dataset(
        n, data=np.zeros((16, 5), np.float32), compression="gzip"))), r"filtered"),
    "extra_dataset": (dict(h5=lambda f: f["layers/dense/vars"].create_dataset(
        "2", data=np.zeros(3, np.float32))), r"has 2 weights, but model.weights.h5 holds 3"),
    "missing_layer_group": (dict(h5=lambda f: f["layers"].__delitem__("conv2d_5")),
                            r"layer 'conv2d_5' has 1 weights, but .* holds 0"),
    "declared_larger_than_the_model_needs": (dict(pad=2 * 2**20), r"more than the \d+ the "
                                                                  r"model's weights can take"),
    "deflate_bomb": (dict(pad=16 * 2**20, compression=zipfile.ZIP_DEFLATED),
                     r"decompression bomb"),
}
MARKER = [None]       # set per test: the file a hostile Lambda would create


def _not_hdf5(tmp_path):
    path = tmp_path / "hostile.keras"
    with zipfile.ZipFile(DATA / "residual.keras") as src, zipfile.ZipFile(path, "w") as dst:
        for name in ("metadata.json", "config.json"):
            dst.writestr(name, src.read(name))
        size = src.getinfo("model.weights.h5").file_size
        dst.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(size - 8))
    return path


def _truncated(keep):
    def make(tmp_path):
        path = tmp_path / "hostile.keras"
        data = (DATA / "residual.keras").read_bytes()
        path.write_bytes(data[:keep(len(data))])
        return path
    return make


def _weights_truncated(tmp_path):
    path = tmp_path / "hostile.keras"
    with zipfile.ZipFile(DATA / "residual.keras") as src, zipfile.ZipFile(path, "w") as dst:
        for name in ("metadata.json", "config.json"):
            dst.writestr(name, src.read(name))
        weights = src.read("model.weights.h5")
        dst.writestr("model.weights.h5", weights[:len(weights) // 2])
    return path


def _forged_size(tmp_path):
    """The central directory claims model.weights.h5 holds 2**32 - 16 bytes."""
    path = keras_file(tmp_path)
    data = bytearray(path.read_bytes())
    at = data.rindex(b"PK\x01\x02", 0, data.rindex(b"model.weights.h5"))
    data[at + 24:at + 28] = (2**32 - 16).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


MADE_WHOLE = {"weights_not_hdf5": (_not_hdf5, r"model.weights.h5 is not a valid HDF5 file"),
              "truncated_zip_start": (_truncated(lambda n: 100),
                                      r"truncated, corrupted or not a zip"),
              "truncated_zip_half": (_truncated(lambda n: n // 2),
                                     r"truncated, corrupted or not a zip"),
              "truncated_zip_end": (_truncated(lambda n: n - 1),
                                    r"truncated, corrupted or not a zip"),
              "weights_truncated": (_weights_truncated,
                                    r"model.weights.h5 is not a valid HDF5 file, or is trunc"),
              "forged_declared_size": (_forged_size, r"decompression bomb")}
CASES = sorted(HOSTILE) + sorted(MADE_WHOLE)


def make_hostile(case, tmp_path):
    """(path, what the error must match) of hostile file ``case``."""
    if case in MADE_WHOLE:
        make, match = MADE_WHOLE[case]
        return make(tmp_path), match
    kwargs, match = HOSTILE[case]
    return keras_file(tmp_path, out=f"{case}.keras", **kwargs), match


@pytest.mark.parametrize("case", CASES)
def test_hostile_keras_file_is_refused_naming_the_problem(tmp_path, case):
    MARKER[0] = tmp_path / "marker"
    path, match = make_hostile(case, tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as info:
            load_quietly(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert peak < PEAK_BYTES, f"loading allocated {peak} bytes"
    assert not MARKER[0].exists()


@pytest.mark.parametrize("case", ["dataset_wrong_shape", "dataset_object_dtype",
                                  "dataset_soft_link", "weights_not_hdf5"])
def test_hostile_weights_file_is_refused_by_load_weights(tmp_path, case):
    path, match = make_hostile(case, tmp_path)
    with zipfile.ZipFile(path) as archive:
        weights = tmp_path / "hostile.weights.h5"
        weights.write_bytes(archive.read("model.weights.h5"))
    model = residual_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=match.replace("model.weights.h5", "the weights file")):
        model.load_weights(weights)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(model.get_weights(), before))


def test_weights_file_larger_than_the_model_needs_is_refused_unread(tmp_path):
    path = tmp_path / "big.weights.h5"
    path.write_bytes((DATA / "residual.weights.h5").read_bytes() + bytes(2 * 2**20))
    model = residual_model()
    assert path.stat().st_size > keras_format.weights_size_limit(model)
    with pytest.raises(ValueError, match=r"more than the \d+ that weights of model"):
        model.load_weights(path)


def test_loading_hostile_keras_files_runs_no_code(tmp_path):
    MARKER[0] = tmp_path / "marker"
    paths = []
    for i, case in enumerate(CASES):
        folder = tmp_path / str(i)
        folder.mkdir()
        paths.append(make_hostile(case, folder)[0])
    results, events = load_under_audit(DATA / "layers.keras", [DATA / "residual.keras"] + paths)
    assert results == ["loaded"] + ["ValueError"] * len(CASES)
    assert events == "[]"
    assert not MARKER[0].exists()
