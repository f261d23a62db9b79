"""Command line: ``train`` (real Fashion-MNIST, a small subset) and ``get-data``."""
import os
import re

import numpy as np
import pytest

import fastcnn
import fastcnn.datasets
from fastcnn import cli
from fastcnn.models import load_model

needs_real_data = pytest.mark.skipif(os.environ.get("FASTCNN_SKIP_REAL_DATA") == "1",
                                     reason="FASTCNN_SKIP_REAL_DATA=1")


@needs_real_data
def test_train_subset_prints_epochs_and_test_accuracy_and_saves(tmp_path, capsys):
    path = tmp_path / "seed.fcnn"
    code = cli.main(["train", "--epochs", "2", "--limit", "1024", "--batch-size", "64",
                     "--seed", "0", "--save", str(path), "--verbose", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Epoch 1/2 - 16/16 - " in out and "Epoch 2/2 - 16/16 - " in out
    epochs = re.findall(r"^epoch (\d): accuracy (0\.\d+), loss [\d.]+, [\d.]+ s$", out, re.M)
    assert [e[0] for e in epochs] == ["1", "2"]
    test_loss = float(re.search(r"^Test loss: ([\d.]+)$", out, re.M).group(1))
    test_acc = float(re.search(r"^Test accuracy: ([\d.]+) \(10000 images", out, re.M).group(1))
    assert test_acc > 0.6                          # chance is 0.1
    (_, _), (x_test, y_test) = fastcnn.datasets.fashion_mnist.load_data()
    model = load_model(path)
    loss, acc = model.evaluate(x_test.reshape(-1, 28, 28, 1) / 255.0,
                               np.eye(10)[y_test], batch_size=1000, verbose=0)
    assert round(acc, 4) == test_acc and round(loss, 4) == test_loss


def test_train_threads_option_sets_the_thread_count(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(fastcnn, "set_num_threads", calls.append, raising=False)
    gen = np.random.default_rng(0)
    fake = ((gen.integers(0, 256, (64, 28, 28)).astype(np.uint8), gen.integers(0, 10, 64)),
            (gen.integers(0, 256, (32, 28, 28)).astype(np.uint8), gen.integers(0, 10, 32)))
    monkeypatch.setattr(cli, "_load", lambda dataset: fake)
    assert cli.main(["train", "--threads", "1", "--epochs", "1", "--verbose", "0"]) == 0
    assert calls == [1]
    assert "Test accuracy:" in capsys.readouterr().out


def test_train_reports_missing_data(monkeypatch, capsys):
    def missing(dataset):
        raise fastcnn.datasets.DatasetNotFoundError("looked in /nowhere")

    monkeypatch.setattr(cli, "_load", missing)
    assert cli.main(["train"]) == 1
    err = capsys.readouterr().err
    assert "looked in /nowhere" in err and "get-data" in err


@pytest.mark.parametrize("available,code", [(True, 0), (False, 1)])
def test_get_data_exit_code_follows_availability(monkeypatch, available, code):
    calls = []

    def ensure(install=True, stream=None):
        calls.append(install)
        return available

    monkeypatch.setattr(fastcnn.datasets, "ensure_system_fashion_mnist", ensure)
    assert cli.main(["get-data"]) == code
    assert calls == [True]


@pytest.mark.parametrize("argv", [[], ["fly"], ["train", "--epochs", "-1"],
                                  ["train", "--batch-size", "0"], ["train", "--dataset", "cifar"],
                                  ["train", "--verbose", "3"]])
def test_bad_command_lines_exit_with_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_seed_model_is_the_tutorial_model():
    model = cli.build_seed_model()
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    assert model.count_params() == 1387594
