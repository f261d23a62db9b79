"""fastcnn.plot: each picture of a small trained model, checked in the Figure (panels, lines,
cell texts, boxes and arrows against NumPy and the model's own weights) and in the file it
writes (decodes, not blank); bad arguments; ``python -m fastcnn train --plots DIR``."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastcnn
from fastcnn import cli, plot, reference
from fastcnn.layers import (Add, Concatenate, Conv2D, Dense, Flatten, GlobalAveragePooling2D,
                            Input, MaxPooling2D)
from fastcnn.models import Model, Sequential
from fastcnn.utils import set_random_seed

matplotlib_image = pytest.importorskip("matplotlib.image")   # the plot extra is in CI
patches = pytest.importorskip("matplotlib.patches")

FILTERS = 4


@pytest.fixture(scope="module")
def trained():
    """A tiny CNN trained for two epochs with validation, its history, and its data."""
    set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.random((48, 8, 8, 1)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 48)]
    model = Sequential([Conv2D(FILTERS, (3, 2), activation="relu", input_shape=(8, 8, 1),
                               name="conv"),
                        MaxPooling2D(name="pool"), Flatten(name="flat"),
                        Dense(3, activation="softmax", name="out")])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    return model, history, x


def assert_picture(path, min_std=0.02):
    """``path`` holds an image that decodes and is not one flat colour."""
    assert os.path.getsize(path) > 0
    pixels = matplotlib_image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    assert float(pixels[..., :3].std()) > min_std


def panels_and_colorbars(figure):
    bars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    return [ax for ax in figure.axes if ax not in bars], bars


# ---- plot_history ----------------------------------------------------------------------------
def test_history_pairs_each_metric_with_its_validation_curve(trained, tmp_path):
    _, history, _ = trained
    figure = plot.plot_history(history, path=tmp_path / "history.png")
    assert_picture(tmp_path / "history.png")
    assert [ax.get_title() for ax in figure.axes] == ["loss", "accuracy"]
    for ax in figure.axes:
        metric = ax.get_title()
        lines = ax.get_lines()
        assert len(lines) == 2
        np.testing.assert_array_equal(lines[0].get_ydata(), history.history[metric])
        np.testing.assert_array_equal(lines[1].get_ydata(), history.history["val_" + metric])
        for line in lines:
            np.testing.assert_array_equal(line.get_xdata(), [1, 2])
        assert lines[0].get_linestyle() == "-" and lines[1].get_linestyle() == "--"


@pytest.mark.parametrize("logs, titles", [
    ({"accuracy": [0.5, 0.6, 0.7], "loss": [1.0, 0.8, 0.7], "learning_rate": [0.1, 0.1, 0.01]},
     ["loss", "accuracy", "learning_rate"]),
    ({"val_loss": [1.0, 0.5]}, ["loss"]),
    ({"val_accuracy": [0.5, 0.6], "val_loss": [1.0, 0.5], "accuracy": [0.7, 0.8],
      "loss": [0.9, 0.4]}, ["loss", "accuracy"]),
    ({"loss": [2.0], "mse": [4.0], "val_mse": [5.0], "val_loss": [3.0]}, ["loss", "mse"]),
])
def test_history_dict_gives_one_panel_per_metric_and_a_line_per_curve(logs, titles):
    figure = plot.plot_history(logs)
    assert [ax.get_title() for ax in figure.axes] == titles
    for ax in figure.axes:
        names = [n for n in (ax.get_title(), "val_" + ax.get_title()) if n in logs]
        lines = ax.get_lines()
        assert [tuple(line.get_ydata()) for line in lines] == [tuple(logs[n]) for n in names]
        assert [line.get_linestyle() for line in lines] == [
            "--" if n.startswith("val_") else "-" for n in names]


# ---- plot_filters ----------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 2, 3])
def test_filters_one_panel_per_filter_shows_its_weights(channels, tmp_path):
    set_random_seed(channels)
    layer = Conv2D(5, (3, 2), input_shape=(6, 6, channels))
    Sequential([layer])
    kernel = layer.kernel.copy()
    figure = plot.plot_filters(layer, path=tmp_path / "filters.png")
    assert_picture(tmp_path / "filters.png")
    panels, bars = panels_and_colorbars(figure)
    assert len(panels) == 5
    assert len(bars) == (0 if channels == 3 else 1)          # colour needs no scale bar
    for f, ax in enumerate(panels):
        shown = np.asarray(ax.images[0].get_array())
        if channels == 3:       # RGB around grey: 0.5 + w / (2 max|w|)
            expected = 0.5 + kernel[..., f] / (2 * np.abs(kernel).max())
        else:
            expected = kernel[:, :, :, f].mean(axis=2)
        np.testing.assert_allclose(shown, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(layer.kernel, kernel)


def test_filters_of_the_trained_model_share_one_scale_centred_on_zero(trained):
    model, _, _ = trained
    figure = plot.plot_filters(model.get_layer("conv"))
    panels, (bar,) = panels_and_colorbars(figure)
    assert len(panels) == FILTERS
    bound = float(np.abs(model.get_layer("conv").kernel).max())
    for ax in panels:
        np.testing.assert_allclose(ax.images[0].get_clim(), (-bound, bound), rtol=1e-6)


# ---- plot_feature_maps -----------------------------------------------------------------------
def conv_relu(x, layer):
    """The oracle: NumPy's convolution, bias and ReLU."""
    y = reference.conv2d(x.astype(np.float64), layer.kernel.astype(np.float64),
                         layer.bias.astype(np.float64))
    return np.maximum(y, 0)


@pytest.mark.parametrize("how", ["default", "name", "object", "batch_of_one"])
def test_feature_maps_one_panel_per_channel_hold_the_layers_output(trained, tmp_path, how):
    model, _, x = trained
    conv = model.get_layer("conv")
    layer = {"default": None, "name": "conv", "object": conv, "batch_of_one": None}[how]
    image = x[:1] if how == "batch_of_one" else x[0]
    weights, layers, before = model.get_weights(), model.layers, model.predict(x)
    figure = plot.plot_feature_maps(model, image, layer, path=tmp_path / "maps.png")
    assert_picture(tmp_path / "maps.png")
    panels, bars = panels_and_colorbars(figure)
    assert len(panels) == FILTERS and len(bars) == 1
    expected = conv_relu(x[:1], conv)[0]
    for c, ax in enumerate(panels):
        np.testing.assert_allclose(ax.images[0].get_array(), expected[..., c], rtol=1e-4,
                                   atol=1e-5)
    assert model.layers == layers            # the user's model is as it was
    for old, new in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(model.predict(x), before)


def test_feature_maps_of_a_later_layer_of_a_functional_model(trained):
    _, _, x = trained
    inp = Input((8, 8, 1))
    conv = Conv2D(3, 3, padding="same", activation="relu", name="c1")
    pooled = MaxPooling2D(name="p1")(conv(inp))
    model = Model(inp, Dense(2)(GlobalAveragePooling2D()(pooled)))
    figure = plot.plot_feature_maps(model, x[5], "p1")
    panels, _ = panels_and_colorbars(figure)
    assert len(panels) == 3
    y = reference.conv2d(x[5:6].astype(np.float64), conv.kernel.astype(np.float64),
                         conv.bias.astype(np.float64), padding="same")
    expected = np.maximum(y, 0).reshape(1, 4, 2, 4, 2, 3).max(axis=(2, 4))[0]
    for c, ax in enumerate(panels):
        np.testing.assert_allclose(ax.images[0].get_array(), expected[..., c], rtol=1e-4,
                                   atol=1e-5)


# ---- plot_confusion_matrix -------------------------------------------------------------------
def counted(true, pred, classes):
    counts = np.zeros((classes, classes), dtype=int)
    for t, p in zip(true, pred):
        counts[t, p] += 1
    return counts


def cell_texts(figure, classes):
    ax = panels_and_colorbars(figure)[0][0]
    cells = {}
    for text in ax.texts:
        x, y = text.get_position()
        cells[int(y), int(x)] = text.get_text()
    assert sorted(cells) == [(i, j) for i in range(classes) for j in range(classes)]
    return cells


@pytest.mark.parametrize("form", ["labels", "column_labels", "one_hot", "probabilities"])
def test_confusion_matrix_cells_hold_the_counts(form, tmp_path):
    rng = np.random.default_rng(7)
    true, pred = rng.integers(0, 4, 60), rng.integers(0, 4, 60)
    pred[:30] = true[:30]
    encode = {"labels": lambda a: a, "column_labels": lambda a: a.reshape(-1, 1),
              "one_hot": lambda a: np.eye(4)[a],
              "probabilities": lambda a: np.eye(4)[a] * 0.7 + 0.075}[form]
    figure = plot.plot_confusion_matrix(encode(true), encode(pred),
                                        path=tmp_path / "confusion.png")
    assert_picture(tmp_path / "confusion.png")
    panels, bars = panels_and_colorbars(figure)
    assert len(panels) == 1 and len(bars) == 1
    counts = counted(true, pred, 4)
    assert cell_texts(figure, 4) == {(i, j): str(counts[i, j]) for i in range(4)
                                     for j in range(4)}


def test_confusion_matrix_normalized_rows_and_class_names():
    true = np.array([0, 0, 0, 1, 2, 2])        # class 3 has no samples: its row stays 0
    pred = np.array([0, 1, 1, 1, 2, 0])
    names = ["cat", "dog", "bird", "fish"]
    figure = plot.plot_confusion_matrix(true, pred, class_names=names, normalize=True)
    counts = counted(true, pred, 4)
    totals = counts.sum(axis=1, keepdims=True)
    fractions = counts / np.maximum(totals, 1)
    assert cell_texts(figure, 4) == {(i, j): f"{fractions[i, j]:.2f}" for i in range(4)
                                     for j in range(4)}
    ax = panels_and_colorbars(figure)[0][0]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names


# ---- plot_model ------------------------------------------------------------------------------
def boxes_and_arrows(figure):
    ax = figure.axes[0]
    return ([p for p in ax.patches if isinstance(p, patches.FancyBboxPatch)],
            [p for p in ax.patches if isinstance(p, patches.FancyArrowPatch)])


def text_position(figure, text):
    (found,) = [t for t in figure.axes[0].texts if t.get_text() == text]
    return found.get_position()


def assert_no_arrow_crosses_a_box(figure):
    boxes, arrows = boxes_and_arrows(figure)
    inset = 0.02
    for arrow in arrows:
        points = np.concatenate([np.linspace(a, b, 40)
                                 for line in arrow.get_path().to_polygons(closed_only=False)
                                 for a, b in zip(line[:-1], line[1:])])
        for box in boxes:
            x0, y0 = box.get_x() + inset, box.get_y() + inset
            x1, y1 = box.get_x() + box.get_width() - inset, box.get_y() + box.get_height() - inset
            inside = ((points[:, 0] > x0) & (points[:, 0] < x1) & (points[:, 1] > y0)
                      & (points[:, 1] < y1))
            assert not inside.any(), "an arrow runs through a box"


def test_model_graph_of_a_sequential_shows_each_layer_and_shape(trained, tmp_path):
    model, _, _ = trained
    figure = plot.plot_model(model, path=tmp_path / "model.png")
    assert_picture(tmp_path / "model.png")
    boxes, arrows = boxes_and_arrows(figure)
    assert len(boxes) == 5 and len(arrows) == 4          # the input and 4 layers in a chain
    shapes = {"conv": "Conv2D  (None, 6, 7, 4)", "pool": "MaxPooling2D  (None, 3, 3, 4)",
              "flat": "Flatten  (None, 36)", "out": "Dense  (None, 3)"}
    ys = []
    for name, detail in shapes.items():
        x, y = text_position(figure, name)
        assert text_position(figure, detail)[0] == x
        ys.append(y)
    assert ys == sorted(ys, reverse=True)                  # top to bottom in order
    assert_no_arrow_crosses_a_box(figure)


def test_model_graph_puts_branches_side_by_side_and_routes_shortcuts_around_boxes():
    inp = Input((8, 8, 3), name="image")
    a = Conv2D(4, 3, padding="same", name="left")(inp)
    b = Conv2D(4, 1, name="right")(inp)
    t = Concatenate(name="join")([a, b])
    u = Conv2D(8, 3, padding="same", name="deep1")(t)
    u = Conv2D(8, 3, padding="same", name="deep2")(u)
    out = Add(name="shortcut")([t, u])
    model = Model(inp, Dense(2, name="head")(Flatten(name="flat")(out)))
    figure = plot.plot_model(model)
    boxes, arrows = boxes_and_arrows(figure)
    assert len(boxes) == 9 and len(arrows) == 10     # one arrow per input of each call
    left, right = text_position(figure, "left"), text_position(figure, "right")
    assert left[1] == right[1] and left[0] != right[0]
    assert text_position(figure, "shortcut")[1] < text_position(figure, "deep2")[1]
    assert_no_arrow_crosses_a_box(figure)


def test_model_graph_of_resnet20_routes_every_shortcut_around_the_boxes():
    from fastcnn.models import zoo
    model = zoo.resnet20()
    figure = plot.plot_model(model)
    boxes, arrows = boxes_and_arrows(figure)
    assert len(boxes) == len(model.layers)
    assert len(arrows) == sum(2 if isinstance(layer, Add) else 1 for layer in model.layers[1:])
    assert_no_arrow_crosses_a_box(figure)


# ---- files, pyplot ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, magic", [("p.png", b"\x89PNG"), ("p", b"\x89PNG"),
                                         ("p.svg", b"<?xml"), ("p.PDF", b"%PDF")])
def test_path_suffix_chooses_the_format_and_replaces_a_previous_file(tmp_path, name, magic):
    (tmp_path / name).write_bytes(b"old")
    plot.plot_history({"loss": [1.0, 0.5]}, path=str(tmp_path / name))
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert sorted(os.listdir(tmp_path)) == [name]             # no temporary file left


def test_failed_write_leaves_nothing_behind(tmp_path):
    with pytest.raises(OSError, match="cannot write the picture to"):
        plot.plot_history({"loss": [1.0]}, path=tmp_path / "missing" / "p.png")
    assert os.listdir(tmp_path) == []


def test_failed_replace_keeps_the_previous_picture(tmp_path, monkeypatch):
    (tmp_path / "p.png").write_bytes(b"old")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError, match="cannot write the picture to .*p.png"):
        plot.plot_history({"loss": [1.0]}, path=tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["p.png"]


def test_plotting_never_imports_pyplot_or_warns():
    code = ("import sys, warnings, numpy as np\n"
            "warnings.simplefilter('error')\n"
            "from fastcnn import plot\n"
            "from fastcnn.models import zoo\n"
            "m = zoo.seed_cnn()\n"
            "plot.plot_history({'loss': [1.0, 0.5], 'val_loss': [1.2, 0.9]})\n"
            "plot.plot_filters(m.layers[0])\n"
            "plot.plot_feature_maps(m, np.ones((28, 28, 1)))\n"
            "plot.plot_confusion_matrix([0, 1, 2], [0, 2, 2])\n"
            "plot.plot_model(m)\n"
            "print('matplotlib.pyplot' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(fastcnn.__file__)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ---- bad arguments ---------------------------------------------------------------------------
def other_conv():
    layer = Conv2D(2, 3, input_shape=(8, 8, 1))
    Sequential([layer])
    return layer


def two_input_model():
    a, b = Input((8, 8, 1)), Input((8, 8, 1))
    return Model([a, b], Add()([Conv2D(2, 3)(a), Conv2D(2, 3)(b)]))


BAD_CALLS = [
    ("history_type", lambda m, x: plot.plot_history(42), TypeError, r"^history must"),
    ("history_empty", lambda m, x: plot.plot_history({"loss": []}), ValueError, r"^history "),
    ("history_values", lambda m, x: plot.plot_history({"loss": ["a"]}), TypeError,
     r"history\['loss'\]"),
    ("filters_dense", lambda m, x: plot.plot_filters(m.get_layer("out")), TypeError,
     r"^layer must be a Conv2D layer .*'out' of type Dense"),
    ("filters_str", lambda m, x: plot.plot_filters("conv"), TypeError, r"^layer must"),
    ("filters_unbuilt", lambda m, x: plot.plot_filters(Conv2D(2, 3)), ValueError,
     r"not built"),
    ("maps_model", lambda m, x: plot.plot_feature_maps("model", x[0]), TypeError,
     r"^model must"),
    ("maps_unbuilt", lambda m, x: plot.plot_feature_maps(Sequential([Conv2D(2, 3)]), x[0]),
     ValueError, r"^model .* not built"),
    ("maps_two_inputs", lambda m, x: plot.plot_feature_maps(two_input_model(), x[0]),
     ValueError, r"^model .* has 2 inputs"),
    ("maps_no_conv", lambda m, x: plot.plot_feature_maps(Sequential([Flatten(
        input_shape=(8, 8, 1))]), x[0]), ValueError, r"has no Conv2D layer: give .* layer="),
    ("maps_no_such_layer", lambda m, x: plot.plot_feature_maps(m, x[0], "nope"), ValueError,
     r"^layer: .*no layer named 'nope'"),
    ("maps_foreign_layer", lambda m, x: plot.plot_feature_maps(m, x[0], other_conv()),
     ValueError, r"^layer .* is not a layer of model"),
    ("maps_layer_type", lambda m, x: plot.plot_feature_maps(m, x[0], 0), TypeError,
     r"^layer must"),
    ("maps_not_images", lambda m, x: plot.plot_feature_maps(m, x[0], "flat"), ValueError,
     r"^layer 'flat' outputs shape \(None, 36\)"),
    ("maps_batch", lambda m, x: plot.plot_feature_maps(m, x[:2]), ValueError,
     r"^x must be one image of shape \(8, 8, 1\)"),
    ("maps_shape", lambda m, x: plot.plot_feature_maps(m, np.ones((8, 9))), ValueError,
     r"^x must"),
    ("maps_strings", lambda m, x: plot.plot_feature_maps(m, "image"), TypeError, r"^x must"),
    ("cm_lengths", lambda m, x: plot.plot_confusion_matrix([0, 1], [0]), ValueError,
     r"^y_true and y_pred .* 2 and 1"),
    ("cm_names_short", lambda m, x: plot.plot_confusion_matrix([0, 2], [1, 1], ["a", "b"]),
     ValueError, r"^class_names has 2 names"),
    ("cm_names_width", lambda m, x: plot.plot_confusion_matrix(np.eye(3), np.eye(3),
                                                                ["a", "b", "c", "d"]),
     ValueError, r"^class_names has 4 names for scores of 3 classes"),
    ("cm_names_str", lambda m, x: plot.plot_confusion_matrix([0], [0], "ab"), TypeError,
     r"^class_names must"),
    ("cm_strings", lambda m, x: plot.plot_confusion_matrix(["a"], [0]), TypeError,
     r"^y_true must hold numbers"),
    ("cm_negative", lambda m, x: plot.plot_confusion_matrix([0, 1], [0, -1]), ValueError,
     r"^y_pred must hold class labels"),
    ("cm_fraction", lambda m, x: plot.plot_confusion_matrix([0.5], [0]), ValueError,
     r"^y_true must hold class labels"),
    ("cm_nan", lambda m, x: plot.plot_confusion_matrix([[np.nan, 1.0]], [0]), ValueError,
     r"^y_true holds NaN"),
    ("cm_widths", lambda m, x: plot.plot_confusion_matrix(np.eye(3), np.eye(4)[:3]),
     ValueError, r"different numbers of classes: 3 and 4"),
    ("cm_label_beyond_scores", lambda m, x: plot.plot_confusion_matrix([5], np.eye(3)[:1]),
     ValueError, r"labels go up to 5 but the scores have 3"),
    ("cm_empty", lambda m, x: plot.plot_confusion_matrix([], []), ValueError,
     r"^y_true is empty"),
    ("cm_normalize", lambda m, x: plot.plot_confusion_matrix([0], [0], normalize="yes"),
     TypeError, r"^normalize must"),
    ("model_type", lambda m, x: plot.plot_model([m]), TypeError, r"^model must"),
    ("model_unbuilt", lambda m, x: plot.plot_model(Sequential([Dense(2)])), ValueError,
     r"not built"),
    ("path_type", lambda m, x: plot.plot_model(m, path=42), TypeError, r"^path must"),
    ("path_suffix", lambda m, x: plot.plot_model(m, path="model.xyz"), ValueError,
     r"^path 'model.xyz': cannot write pictures of type 'xyz'"),
    ("path_empty", lambda m, x: plot.plot_model(m, path=""), ValueError, r"^path is empty"),
]


@pytest.mark.parametrize("call, error, message", [c[1:] for c in BAD_CALLS],
                         ids=[c[0] for c in BAD_CALLS])
def test_bad_arguments_raise_errors_naming_them(trained, call, error, message):
    model, _, x = trained
    with pytest.raises(error, match=message):
        call(model, x)


# ---- python -m fastcnn train --plots DIR -----------------------------------------------------
@pytest.fixture
def fake_fashion(monkeypatch):
    """cli._load returns a few random Fashion-MNIST-like images and records the calls."""
    calls = []

    def load(dataset):
        calls.append(dataset)
        rng = np.random.default_rng(0)
        return ((rng.integers(0, 256, (64, 28, 28), dtype=np.uint8),
                 rng.integers(0, 10, 64, dtype=np.uint8)),
                (rng.integers(0, 256, (32, 28, 28), dtype=np.uint8),
                 rng.integers(0, 10, 32, dtype=np.uint8)))

    monkeypatch.setattr(cli, "_load", load)
    return calls


@pytest.mark.parametrize("epochs, names", [
    ("2", ["history.png", "filters.png", "confusion_matrix.png"]),
    ("0", ["filters.png", "confusion_matrix.png"]),          # no epoch, no curve
])
def test_cli_plots_writes_curves_filters_and_confusion_matrix(fake_fashion, tmp_path, capsys,
                                                              epochs, names):
    folder = tmp_path / "new" / "pictures"
    assert cli.main(["train", "--epochs", epochs, "--batch-size", "32", "--seed", "1",
                     "--verbose", "0", "--plots", str(folder)]) == 0
    assert sorted(os.listdir(folder)) == sorted(names)
    for name in names:
        assert_picture(folder / name)
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == ("Wrote the pictures "
                                    + ", ".join(str(folder / n) for n in names))


def refuse_temporary_files(monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(plot._figure.tempfile, "mkstemp", refuse)


@pytest.mark.parametrize("case", ["file", "under_a_file", "no_permission", "no_matplotlib"])
def test_cli_refuses_plots_it_cannot_write_before_loading_data(fake_fashion, tmp_path,
                                                               monkeypatch, capsys, case):
    (tmp_path / "file").write_text("x")
    folder = {"file": tmp_path / "file", "under_a_file": tmp_path / "file" / "pics"}.get(
        case, tmp_path / "pics")
    if case == "no_permission":
        refuse_temporary_files(monkeypatch)
    if case == "no_matplotlib":
        monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--epochs", "1", "--plots", str(folder)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --plots:" in err
    assert ("fastcnn[plot]" if case == "no_matplotlib" else "cannot write pictures in") in err
    assert fake_fashion == []
