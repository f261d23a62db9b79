"""Command line: ``train`` (real Fashion-MNIST, a small subset; fake data for the options;
CIFAR-10 from an archive the test writes), ``--save`` refused before training, and
``get-data``."""
import dataclasses
import os
import re

import numpy as np
import pytest

import fastcnn
import fastcnn.datasets
from fastcnn import cli, saving
from fastcnn.datasets import cifar10
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
    epochs = re.findall(r"^Epoch (\d)/2 - 16/16 - \d+s - \d+(?:us|ms|s)/step - loss: [\d.]+ - "
                        r"accuracy: (0\.\d+)$", out, re.M)
    assert [e[0] for e in epochs] == ["1", "2"]
    test_loss = float(re.search(r"^Test loss: ([\d.]+)$", out, re.M).group(1))
    test_acc = float(re.search(r"^Test accuracy: ([\d.]+) \(10000 images", out, re.M).group(1))
    assert test_acc > 0.6                          # chance is 0.1
    (_, _), (x_test, y_test) = fastcnn.datasets.fashion_mnist.load_data()
    model = load_model(path)
    loss, acc = model.evaluate(x_test.reshape(-1, 28, 28, 1) / 255.0,
                               np.eye(10)[y_test], batch_size=1000, verbose=0)
    assert round(acc, 4) == test_acc and round(loss, 4) == test_loss


def fake_data(shape=(28, 28), label_shape=(), n_train=64, n_test=32, seed=0):
    gen = np.random.default_rng(seed)
    return ((gen.integers(0, 256, (n_train, *shape), dtype=np.uint8),
             gen.integers(0, 10, (n_train, *label_shape), dtype=np.uint8)),
            (gen.integers(0, 256, (n_test, *shape), dtype=np.uint8),
             gen.integers(0, 10, (n_test, *label_shape), dtype=np.uint8)))


@pytest.fixture
def loads(monkeypatch):
    """cli._load returns fake data of each dataset's format and records what was asked."""
    asked = []
    formats = {"fashion_mnist": ((28, 28), ()), "mnist": ((28, 28), ()),
               "cifar10": ((32, 32, 3), (1,))}

    def load(dataset):
        asked.append(dataset)
        return fake_data(*formats[dataset])

    monkeypatch.setattr(cli, "_load", load)
    return asked


@pytest.mark.parametrize("verbose", ["1", "2"])
def test_each_epoch_is_reported_once_with_its_time(loads, capsys, verbose):
    assert cli.main(["train", "--epochs", "2", "--batch-size", "32", "--seed", "1",
                     "--verbose", verbose]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("Training the seed model on fashion_mnist: 64 images, 2 epochs, "
                        f"batch size 32, {fastcnn.get_num_threads()} threads")
    for epoch, line in zip((1, 2), lines[1:3]):
        assert re.fullmatch(rf"Epoch {epoch}/2 - 2/2 - \d+s - \d+(?:us|ms|s)/step - "
                            r"loss: [\d.]+ - accuracy: [\d.]+", line), line
    assert re.fullmatch(r"Test loss: [\d.]+", lines[3])
    assert re.fullmatch(r"Test accuracy: [01]\.\d{4} \(32 images, [\d.]+ s\)", lines[4])
    assert len(lines) == 5                 # no second summary line per epoch


def test_train_threads_option_sets_the_thread_count(monkeypatch, loads, capsys):
    calls = []
    monkeypatch.setattr(fastcnn, "set_num_threads", calls.append, raising=False)
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


@pytest.mark.parametrize("model, dataset, input_shape, params", [
    ("seed", "cifar10", (32, 32, 3), 896 + 15 * 15 * 32 * 256 + 256 + 2570),
    ("seed", "mnist", (28, 28, 1), 1387594),
    ("resnet20", "fashion_mnist", (28, 28, 1), 274442 - 3 * 3 * 2 * 16),   # 1 channel, not 3
])
def test_model_and_dataset_options_build_the_model_for_the_images(loads, tmp_path, capsys,
                                                                  model, dataset, input_shape,
                                                                  params):
    path = tmp_path / "model.fcnn"
    assert cli.main(["train", "--model", model, "--dataset", dataset, "--epochs", "1",
                     "--limit", "4", "--verbose", "0", "--save", str(path)]) == 0
    assert loads == [dataset]
    out = capsys.readouterr().out
    assert f"Training {cli.MODELS[model]} on {dataset}: 4 images" in out
    assert re.search(r"^Test accuracy: [01]\.\d{4} \(32 images, ", out, re.M)
    saved = load_model(path)
    assert saved.input_shape == (None, *input_shape) and saved.count_params() == params


def test_train_on_cifar10_from_an_archive(tmp_path, monkeypatch, capsys):
    from test_cifar10 import md5, random_batches, write_archive
    archive = write_archive(tmp_path / cifar10.ARCHIVE, random_batches(records=4))
    monkeypatch.setattr(cifar10, "RECORDS_PER_BATCH", 4)
    monkeypatch.setattr(cifar10, "SPEC", dataclasses.replace(
        cifar10.SPEC, checksums={cifar10.ARCHIVE: md5(archive)}))
    monkeypatch.setenv("FASTCNN_DATA", str(tmp_path))
    assert cli.main(["train", "--dataset", "cifar10", "--epochs", "1", "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "on cifar10: 20 images" in out and "(4 images, " in out


def test_cifar10_missing_reports_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("FASTCNN_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(cifar10, "SPEC", dataclasses.replace(
        cifar10.SPEC, mirrors=((tmp_path / "offline").as_uri() + "/",)))
    assert cli.main(["train", "--dataset", "cifar10"]) == 1
    err = capsys.readouterr().err
    assert "error: cannot load cifar10: CIFAR-10 dataset not found. Looked in:" in err
    assert str(tmp_path / ".fastcnn" / "datasets" / "cifar10") in err
    assert "get-data" not in err


@pytest.mark.parametrize("case", ["missing_folder", "path_is_a_folder", "parent_is_a_file",
                                  "empty_path", "no_permission"])
def test_unwritable_save_path_is_refused_before_training(loads, tmp_path, monkeypatch, capsys,
                                                         case):
    (tmp_path / "file.txt").write_text("")
    path, reason = {
        "missing_folder": (tmp_path / "no" / "m.fcnn",
                           f"the folder {str(tmp_path / 'no')!r} does not exist"),
        "path_is_a_folder": (tmp_path, "it is a folder"),
        "parent_is_a_file": (tmp_path / "file.txt" / "m.fcnn",
                             f"{str(tmp_path / 'file.txt')!r} is a file, not a folder"),
        "empty_path": ("", "the path is empty"),
        "no_permission": (tmp_path / "m.fcnn", "no permission to write in the folder"),
    }[case]
    if case == "no_permission":           # root writes anywhere: the system call refuses here
        def refuse(prefix, suffix, dir):
            raise PermissionError(13, "Permission denied", os.path.join(dir, prefix + suffix))
        monkeypatch.setattr(saving.tempfile, "mkstemp", refuse)
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--epochs", "1", "--save", str(path)])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert f"error: argument --save: cannot save the model to {str(path)!r}: {reason}" \
        in captured.err
    assert "usage: python -m fastcnn train" in captured.err
    assert loads == [] and captured.out == ""            # no data loaded, no training
    assert sorted(os.listdir(tmp_path)) == ["file.txt"]  # the check left nothing behind


def test_save_check_leaves_an_existing_file_alone(loads, tmp_path, capsys):
    path = tmp_path / "m.fcnn"
    path.write_bytes(b"previous")
    saving.check_destination(path)
    assert path.read_bytes() == b"previous" and os.listdir(tmp_path) == ["m.fcnn"]
    assert cli.main(["train", "--epochs", "1", "--verbose", "0", "--save", str(path)]) == 0
    assert load_model(path).count_params() == 1387594
    assert os.listdir(tmp_path) == ["m.fcnn"]


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
                                  ["train", "--verbose", "3"], ["train", "--model", "vgg16"],
                                  ["train", "--learning-rate", "-1"],
                                  ["train", "--label-smoothing", "1.5"],
                                  ["train", "--weight-decay", "nan"],
                                  ["train", "--optimizer", "adagrad"],
                                  ["train", "--schedule", "cosine", "--warmup-epochs", "-2"],
                                  ["train", "--warmup-epochs", "2"]])
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


def test_recipe_options_build_the_optimizer_loss_and_augmentation(loads, tmp_path, capsys):
    """The recipe of BENCHMARKS.md's ResNet-20 run, on the seed model: augmentation layers
    at the input, AdamW with weight decay on a cosine schedule, label smoothing."""
    path = tmp_path / "recipe.fcnn"
    argv = ["train", "--epochs", "2", "--limit", "40", "--batch-size", "16", "--verbose", "0",
            "--augment", "--optimizer", "adamw", "--learning-rate", "2e-3", "--schedule",
            "cosine", "--warmup-epochs", "1", "--weight-decay", "5e-4", "--label-smoothing",
            "0.1", "--save", str(path)]
    assert cli.main(argv) == 0
    model = load_model(path)
    assert [type(l).__name__ for l in model.layers[:3]] == ["RandomFlip", "RandomTranslation",
                                                           "Conv2D"]
    opt = model.optimizer
    assert type(opt).__name__ == "AdamW" and opt.weight_decay == 5e-4
    rate = opt.get_config()["learning_rate"]
    assert rate["class_name"] == "CosineDecay"
    assert rate["config"]["warmup_target"] == 2e-3 and rate["config"]["warmup_steps"] == 3
    assert rate["config"]["decay_steps"] == 3                    # 3 steps an epoch, 2 epochs
    assert opt.iterations == 6 and opt.learning_rate == pytest.approx(0.0)
    assert model.loss.label_smoothing == 0.1


def test_default_recipe_is_adam_without_smoothing(loads, tmp_path):
    path = tmp_path / "plain.fcnn"
    assert cli.main(["train", "--epochs", "1", "--limit", "8", "--verbose", "0", "--save",
                     str(path)]) == 0
    model = load_model(path)
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.weight_decay is None
    assert model.loss.label_smoothing == 0.0 and type(model.layers[0]).__name__ == "Conv2D"


def test_flush_denormal_option_turns_flushing_on_for_the_run_only(loads, monkeypatch, capsys):
    calls = []
    real = fastcnn.set_flush_denormal
    monkeypatch.setattr(fastcnn, "set_flush_denormal", lambda mode: calls.append(mode) or
                        real(mode))
    assert cli.main(["train", "--epochs", "1", "--limit", "8", "--verbose", "0",
                     "--flush-denormal"]) == 0
    assert calls == [True, False]
    from fastcnn import _kernels
    assert not _kernels.flush_denormal()
    assert cli.main(["train", "--epochs", "1", "--limit", "8", "--verbose", "0"]) == 0
    assert calls == [True, False]
