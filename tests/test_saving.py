"""Model files: bit-exact round trips, resuming training, atomic writes, and clear errors for
truncated or foreign files (never unpickled)."""
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from fastcnn import saving, utils
from fastcnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
from fastcnn.models import Sequential, load_model


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
