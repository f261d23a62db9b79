"""Model files: bit-exact round trips, resuming training, atomic writes (a process killed in
the middle of a save leaves the previous file intact), and clear errors for truncated or
foreign files, which are never unpickled and cannot run code."""
import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from fastcnn import saving, utils
from fastcnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
from fastcnn.models import Sequential, load_model
from audit_loading import load_under_audit


@pytest.fixture
def gen():
    return np.random.default_rng(21)


def small_model(dtype="float32"):
    return Sequential([
        Conv2D(3, 3, activation="relu", padding="same", input_shape=(8, 8, 1), dtype=dtype),
        MaxPool2D(dtype=dtype),
        Flatten(dtype=dtype),
        Dropout(0.25, dtype=dtype),
        Dense(5, activation="softmax", dtype=dtype),
    ], name="small")


def data(gen, n=16):
    return gen.random((n, 8, 8, 1)).astype(np.float32), gen.integers(0, 5, n)


@pytest.fixture
def trained(gen):
    utils.set_random_seed(0)
    model = small_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data(gen)
    model.fit(x, y, batch_size=5, epochs=2, verbose=0)
    return model, x, y


def test_round_trip_is_bit_exact(tmp_path, trained):
    model, x, y = trained
    path = tmp_path / "model.fcnn"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_config() == model.get_config()
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.compiled and loaded.metrics_names == ["loss", "accuracy"]
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_float64_model_round_trip(tmp_path, gen):
    model = small_model("float64")
    path = str(tmp_path / "m64")
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_weights()[0].dtype == np.float64
    x = gen.random((3, 8, 8, 1))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert not loaded.compiled


def test_training_resumes_exactly_from_a_saved_optimizer_state(tmp_path, trained):
    model, x, y = trained
    model.save(tmp_path / "m.fcnn")
    loaded = load_model(tmp_path / "m.fcnn")
    assert loaded.optimizer.iterations == model.optimizer.iterations == 8
    utils.set_random_seed(9)
    model.fit(x, y, batch_size=5, epochs=1, verbose=0)
    utils.set_random_seed(9)
    loaded.fit(x, y, batch_size=5, epochs=1, verbose=0)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_without_compile(tmp_path, trained):
    model, x, _ = trained
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", compile=False)
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_file_layout_is_config_json_plus_npy_entries(tmp_path, trained):
    model, _, _ = trained
    model.save(tmp_path / "m")
    with zipfile.ZipFile(tmp_path / "m") as archive:
        names = archive.namelist()
        config = json.loads(archive.read("config.json"))
    assert names[0] == "config.json"
    assert config["format"] == "fastcnn.model"
    assert config["weights"] == [n for n in names if n.startswith("weights/")]
    assert len(config["weights"]) == 4 and all(n.endswith(".npy") for n in names[1:])


def test_interrupted_save_leaves_the_old_file_intact(tmp_path, trained, monkeypatch, gen):
    model, x, _ = trained
    path = tmp_path / "model.fcnn"
    model.save(path)
    before = path.read_bytes()
    other = small_model()
    other.set_weights([w + 1 for w in model.get_weights()])
    calls = []
    real_write = saving._write_array

    def crash_on_second_array(archive, name, array):
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        real_write(archive, name, array)

    monkeypatch.setattr(saving, "_write_array", crash_on_second_array)
    with pytest.raises(OSError, match="simulated"):
        other.save(path)
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.fcnn"]          # no temporary file left
    np.testing.assert_array_equal(load_model(path).predict(x), model.predict(x))


def test_save_replaces_an_existing_file(tmp_path, trained):
    model, x, _ = trained
    path = tmp_path / "m"
    small_model().save(path)
    model.save(path)
    np.testing.assert_array_equal(load_model(path).predict(x), model.predict(x))


# ---- a destination that cannot be written: an OSError about the user's path ---------------
def unwritable(tmp_path, case):
    """(path given to save, expected class, words of the reason) for each kind of bad path.
    All of them work as root (which ignores file permissions)."""
    (tmp_path / "file.txt").write_text("not a folder")
    return {
        "missing_folder": (tmp_path / "missing" / "model.fcnn", FileNotFoundError,
                           f"the folder {str(tmp_path / 'missing')!r} does not exist"),
        "missing_folders": (tmp_path / "a" / "b" / "model.fcnn", FileNotFoundError,
                            f"the folder {str(tmp_path / 'a' / 'b')!r} does not exist"),
        "path_is_a_folder": (tmp_path, IsADirectoryError, "it is a folder"),
        "parent_is_a_file": (tmp_path / "file.txt" / "model.fcnn", NotADirectoryError,
                             f"{str(tmp_path / 'file.txt')!r} is a file, not a folder"),
        "ancestor_is_a_file": (tmp_path / "file.txt" / "sub" / "model.fcnn",
                               NotADirectoryError,
                               f"{str(tmp_path / 'file.txt')!r} is a file, not a folder"),
        "empty_path": ("", FileNotFoundError, "the path is empty"),
    }[case]


@pytest.mark.parametrize("case", ["missing_folder", "missing_folders", "path_is_a_folder",
                                  "parent_is_a_file", "ancestor_is_a_file", "empty_path"])
def test_save_to_an_unwritable_path_names_it_and_leaves_nothing(tmp_path, trained, case):
    model, _, _ = trained
    path, error, reason = unwritable(tmp_path, case)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(error) as excinfo:
        model.save(path)
    message = str(excinfo.value)
    assert message == f"cannot save the model to {str(path)!r}: {reason}" + (
        "; give the path of a file" if case == "path_is_a_folder" else "")
    assert excinfo.value.errno == {FileNotFoundError: errno.ENOENT, IsADirectoryError: errno.EISDIR,
                                   NotADirectoryError: errno.ENOTDIR}[error]
    assert ".tmp" not in message
    assert sorted(os.listdir(tmp_path)) == before
    assert (tmp_path / "file.txt").read_text() == "not a folder"


@pytest.mark.parametrize("error, errno_, reason", [
    (PermissionError, 13, "no permission to write in the folder"),
    (OSError, 30, "Read-only file system"),
    (OSError, 28, "No space left on device"),
])
def test_save_errors_keep_their_class_and_errno_and_name_the_path(tmp_path, trained,
                                                                   monkeypatch, error, errno_,
                                                                   reason):
    """A refusal root cannot provoke (no permission) and the failures of a full or read-only
    disk, raised by the system call that creates the temporary file (naming that file)."""
    model, x, _ = trained
    path = tmp_path / "model.fcnn"
    model.save(path)
    before = path.read_bytes()

    def refuse(prefix, suffix, dir):
        name = os.path.join(dir, prefix + "x1y2z3" + suffix)
        raise OSError(errno_, os.strerror(errno_), name)

    monkeypatch.setattr(saving.tempfile, "mkstemp", refuse)
    with pytest.raises(error) as excinfo:
        small_model().save(path)
    assert type(excinfo.value) is error and excinfo.value.errno == errno_
    message = str(excinfo.value)
    assert message.startswith(f"cannot save the model to {str(path)!r}: ") and reason in message
    assert "x1y2z3" not in message
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.fcnn"]


def test_disk_full_while_writing_leaves_the_old_file_and_names_the_path(tmp_path, trained,
                                                                         monkeypatch):
    model, _, _ = trained
    path = tmp_path / "model.fcnn"
    model.save(path)
    before = path.read_bytes()

    def full(archive, name, array):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(saving, "_write_array", full)
    with pytest.raises(OSError, match=r"^cannot save the model to .*model\.fcnn': No space left "
                                      r"on device$") as excinfo:
        model.save(path)
    assert excinfo.value.errno == 28
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.fcnn"]


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file_is_a_value_error(tmp_path, trained, keep):
    model, _, _ = trained
    path = tmp_path / "m"
    model.save(path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(ValueError, match="fastcnn model file|truncated|corrupted"):
        load_model(path)


def test_corrupted_weights_are_a_value_error(tmp_path, trained):
    model, _, _ = trained
    path = tmp_path / "m"
    model.save(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("weights/00000.npy")
    data[info.header_offset + 200] ^= 0xFF                      # inside the kernel's data
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        load_model(path)


def test_random_bytes_are_a_value_error(tmp_path, gen):
    path = tmp_path / "random.bin"
    path.write_bytes(gen.integers(0, 256, 4096).astype(np.uint8).tobytes())
    with pytest.raises(ValueError, match="not a zip archive|not a valid fastcnn model"):
        load_model(path)


def test_zip_without_config_is_a_value_error(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="no 'config.json'"):
        load_model(path)


@pytest.mark.parametrize("config", [b"not json", b'{"format": "keras"}', b"[1, 2]",
                                    b'{"format": "fastcnn.model", "format_version": 99}'])
def test_foreign_config_is_a_value_error(tmp_path, config):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", config)
    with pytest.raises(ValueError, match="config.json|format version"):
        load_model(path)


class _Marker:
    """Unpickling this creates a file: proof that a loader unpickled something."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_file_is_rejected_without_unpickling(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_Marker(str(marker))))
    with pytest.raises(ValueError):
        load_model(path)
    assert not marker.exists()


def test_object_array_entry_is_rejected_without_unpickling(tmp_path, trained):
    model, _, _ = trained
    path = tmp_path / "m"
    model.save(path)
    marker = tmp_path / "unpickled"
    payload = np.empty(1, dtype=object)
    payload[0] = _Marker(str(marker))
    rebuilt = tmp_path / "evil"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(rebuilt, "w") as dst:
        for name in src.namelist():
            if name == "weights/00000.npy":
                with dst.open(name, "w") as entry:
                    np.lib.format.write_array(entry, payload, allow_pickle=True)
            else:
                dst.writestr(name, src.read(name))
    with pytest.raises(ValueError, match="weights/00000.npy"):
        load_model(rebuilt)
    assert not marker.exists()


def test_config_with_unknown_layer_is_a_value_error(tmp_path, trained):
    model, _, _ = trained
    path = tmp_path / "m"
    model.save(path)
    with zipfile.ZipFile(path) as src:
        config = json.loads(src.read("config.json"))
        entries = {n: src.read(n) for n in src.namelist()}
    config["model"]["config"]["layers"][0]["class_name"] = "Lambda"
    entries["config.json"] = json.dumps(config)
    with zipfile.ZipFile(path, "w") as dst:
        for name, raw in entries.items():
            dst.writestr(name, raw)
    with pytest.raises(ValueError, match="Lambda"):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nothing.fcnn")


# ---- a real process killed in the middle of a save ----------------------------------------------
KILL_TIMEOUT = 120

_SAVER = """
import sys, time
import numpy as np
from fastcnn import saving
from fastcnn.models import load_model

base, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
model = load_model(base)
versions = [[w + 1 for w in model.get_weights()], [w + 2 for w in model.get_weights()]]
real_write = saving._write_array

def write_then_wait(archive, name, array):
    real_write(archive, name, array)
    print("mid-save", flush=True)      # one array written, the rest still to come
    time.sleep(KILL_TIMEOUT)

if mode == "pause":
    saving._write_array = write_then_wait
    model.set_weights(versions[0])
    model.save(path)
else:                                  # save one version after the other until killed
    print("saving", flush=True)
    for i in range(10**6):
        model.set_weights(versions[i % 2])
        model.save(path)
""".replace("KILL_TIMEOUT", str(KILL_TIMEOUT))


def _saver(base, path, mode):
    """A process that loads the model at ``base`` and saves its weights + 1 (and + 2) to
    ``path``: pausing after the first array ("pause"), or over and over ("loop")."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(saving.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [package_parent] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    return subprocess.Popen([sys.executable, "-c", _SAVER, str(base), str(path), mode],
                            env=env, cwd=package_parent, stdout=subprocess.PIPE, text=True)


def _big_model():
    # about 8 MB of weights, so that writing a file takes a while
    return Sequential([Dense(1000, input_shape=(1000,)), Dense(1000), Dense(10)], name="big")


def _temporary_files(folder, path):
    return [n for n in os.listdir(folder) if n.startswith("." + path.name) and n.endswith(".tmp")]


def test_process_killed_mid_save_leaves_the_previous_file_intact(tmp_path):
    utils.set_random_seed(3)
    model = _big_model()
    path = tmp_path / "model.fcnn"
    model.save(path)
    before = path.read_bytes()
    proc = _saver(path, path, "pause")
    try:
        assert proc.stdout.readline().strip() == "mid-save"
        assert _temporary_files(tmp_path, path), "the save is not writing a temporary file"
        proc.kill()                                                # SIGKILL: no clean-up runs
    finally:
        proc.kill()
        proc.wait(KILL_TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    for a, b in zip(load_model(path).get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_process_killed_at_random_moments_while_saving_always_leaves_a_whole_file(tmp_path):
    utils.set_random_seed(4)
    model = _big_model()
    base, path = tmp_path / "base.fcnn", tmp_path / "model.fcnn"
    model.save(base)
    model.save(path)
    versions = [model.get_weights(), [w + 1 for w in model.get_weights()],
                [w + 2 for w in model.get_weights()]]
    gen = np.random.default_rng(0)
    mid_write = 0
    for attempt in range(12):          # until two kills have landed in the middle of a write
        if mid_write >= 2:
            break
        proc = _saver(base, path, "loop")
        try:
            assert proc.stdout.readline().strip() == "saving"
            time.sleep(gen.uniform(0.05, 0.6))
            proc.kill()
        finally:
            proc.kill()
            proc.wait(KILL_TIMEOUT)
        leftovers = _temporary_files(tmp_path, path)
        mid_write += bool(leftovers)
        loaded = load_model(path).get_weights()
        assert any(all(np.array_equal(a, b) for a, b in zip(loaded, v)) for v in versions), (
            f"attempt {attempt}: the file holds none of the saved versions")
        for name in leftovers:                  # what a SIGKILL leaves: a temporary file only
            os.unlink(tmp_path / name)
    assert mid_write >= 2, "no kill landed during a write; the test did not test anything"


# ---- functional models and files of earlier releases ---------------------------------------
def residual_model():
    from fastcnn.layers import Activation, Add, BatchNormalization, GlobalAveragePooling2D, Input
    from fastcnn.models import Model
    inp = Input((8, 8, 1), name="image")
    t = Activation("relu")(BatchNormalization()(Conv2D(4, 3, padding="same")(inp)))
    u = BatchNormalization()(Conv2D(4, 3, padding="same")(t))
    t = Activation("relu")(Add()([t, u]))
    return Model(inp, Dense(5, activation="softmax")(GlobalAveragePooling2D()(t)), name="res")


def test_functional_model_round_trip_resumes_training_bitwise(tmp_path, gen):
    """Saved mid-training and loaded, a residual model with batch normalization trains on to
    bitwise the weights of the model that was never saved (optimizer state and moving
    statistics included)."""
    x, y = data(gen, 24)
    utils.set_random_seed(5)
    model = residual_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "res.fcnn")
    loaded = load_model(tmp_path / "res.fcnn")
    assert type(loaded).__name__ == "Model" and loaded.get_config() == model.get_config()
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.tobytes() == b.tobytes()
    for m in (model, loaded):
        m.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.tobytes() == b.tobytes()
    assert loaded.predict(x).tobytes() == model.predict(x).tobytes()


# config.json of a file written by fastcnn 0.1.0 before functional models (commit 52a64b5)
RELEASE_0_1_0_CONFIG = {
    "format": "fastcnn.model", "format_version": 1, "fastcnn_version": "0.1.0",
    "model": {"class_name": "Sequential", "config": {"name": "old", "layers": [
        {"class_name": "Conv2D", "config": {
            "name": "c", "trainable": True, "dtype": "float32", "input_shape": [6, 6, 1],
            "filters": 2, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid",
            "activation": "relu", "use_bias": True, "kernel_initializer": "glorot_uniform",
            "bias_initializer": "zeros"}},
        {"class_name": "MaxPooling2D", "config": {"name": "p", "trainable": True,
                                                  "dtype": "float32", "pool_size": [2, 2],
                                                  "strides": [2, 2], "padding": "valid"}},
        {"class_name": "Flatten", "config": {"name": "f", "trainable": True,
                                             "dtype": "float32"}},
        {"class_name": "Dropout", "config": {"name": "d", "trainable": True, "dtype": "float32",
                                             "rate": 0.2, "noise_shape": None, "seed": None}},
        {"class_name": "Dense", "config": {
            "name": "o", "trainable": True, "dtype": "float32", "units": 3,
            "activation": "softmax", "use_bias": True, "kernel_initializer": "glorot_uniform",
            "bias_initializer": "zeros"}}], "build_input_shape": [None, 6, 6, 1]}},
    "compile": {"optimizer": {"class_name": "Adam", "config": {
        "name": "adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
        "epsilon": 1e-07, "amsgrad": False}},
        "loss": {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": False}},
        "metrics": ["accuracy"]},
    "weights": [f"weights/{i:05d}.npy" for i in range(4)],
    "optimizer": [f"optimizer/{i:05d}.npy" for i in range(9)]}


def test_a_file_written_by_release_0_1_0_loads_and_trains_on(tmp_path, gen):
    shapes = [(3, 3, 1, 2), (2,), (8, 3), (3,)]
    weights = [gen.standard_normal(s).astype(np.float32) for s in shapes]
    state = [np.array(7, np.int64)] + [gen.random(s).astype(np.float32) for s in shapes * 2]
    path = tmp_path / "old.fcnn"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("config.json", json.dumps(RELEASE_0_1_0_CONFIG))
        names = RELEASE_0_1_0_CONFIG["weights"] + RELEASE_0_1_0_CONFIG["optimizer"]
        for name, array in zip(names, weights + state):
            with archive.open(name, "w") as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)
    model = load_model(path)
    assert isinstance(model, Sequential) and model.name == "old"
    assert [l.name for l in model.layers] == ["c", "p", "f", "d", "o"]
    for a, b in zip(model.get_weights(), weights):
        assert a.tobytes() == b.tobytes()
    assert model.optimizer.iterations == 7
    for a, b in zip(model.optimizer.variables[1:], state[1:]):
        assert a.tobytes() == b.tobytes()
    # what this release writes for the same model is what 0.1.0 wrote
    assert model.get_config() == json.loads(json.dumps(RELEASE_0_1_0_CONFIG))["model"]["config"]
    x = gen.random((6, 6, 6, 1)).astype(np.float32)
    model.fit(x, gen.integers(0, 3, 6), verbose=0)
    assert model.optimizer.iterations == 8


# ---- loading runs no code named by the file -----------------------------------------------------
def test_loading_hostile_files_runs_no_code(tmp_path, trained):
    model, _, _ = trained
    good = tmp_path / "good.fcnn"
    model.save(good)
    marker = tmp_path / "unpickled"
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(_Marker(str(marker))))
    object_entry = tmp_path / "object_entry.fcnn"
    payload = np.empty(1, dtype=object)
    payload[0] = _Marker(str(marker))
    code_config = tmp_path / "code_config.fcnn"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(object_entry, "w") as dst, \
            zipfile.ZipFile(code_config, "w") as dst2:
        for name in src.namelist():
            data = src.read(name)
            if name == "weights/00000.npy":
                with dst.open(name, "w") as entry:
                    np.lib.format.write_array(entry, payload, allow_pickle=True)
            else:
                dst.writestr(name, data)
            if name == "config.json":
                config = json.loads(data)
                config["compile"]["optimizer"] = {"class_name": "__import__",
                                                  "config": {"name": "os"}}
                data = json.dumps(config)
            dst2.writestr(name, data)
    results, events = load_under_audit(good, [good, pickled, object_entry, code_config],
                                       timeout=KILL_TIMEOUT)
    assert results == ["loaded", "ValueError", "ValueError", "ValueError"]
    assert events == "[]"
    assert not marker.exists()
