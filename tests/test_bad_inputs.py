"""The bad-input catalogue: malformed calls across fastcnn.ops, layers, models, optimizers,
datasets and load_model, one row each. Every row must raise ValueError, TypeError or
MemoryError (the row says which) with a message matching the row's pattern, which names the
problem: the argument, layer or file and what is wrong with it. None may crash the interpreter
(a crash ends this test process and fails the run) or hang (a watchdog ends the process after
WATCHDOG_SECONDS, printing every thread's stack).

Enormous shapes come from zero-stride broadcast views (no memory behind them) and from
configurations: they must fail before anything tries to allocate the impossible, with a
message naming what would not fit.

The module tables hold more: tests/test_ops_errors.py (the ops error contract, row by row),
test_ops_out.py and test_ops_fused.py (out= and fused activations), test_layers.py,
test_models.py, test_optimizers.py, test_losses.py, test_datasets.py and test_saving.py.
This catalogue adds the cross-cutting and hardening cases. A second table lists calls that
look odd but are valid (strides larger than the input, a window larger than the image, a
1x1 image): they must return the reference's result, not an error.
"""
import faulthandler
import io
import json
import struct
import zipfile

import numpy as np
import pytest

import fastcnn
from fastcnn import ops, optimizers, reference, utils
from fastcnn.datasets import read_idx
from fastcnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
from fastcnn.models import Sequential, load_model
from conftest import assert_close, random_array, widen, with_layout

WATCHDOG_SECONDS = 120
F32 = np.float32


@pytest.fixture(autouse=True)
def watchdog():
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def _x(shape=(2, 6, 5, 3)):
    return np.arange(np.prod(shape), dtype=F32).reshape(shape) / 7


def _w(shape=(3, 3, 3, 4)):
    return np.ones(shape, F32) / 9


def _huge(shape, dtype=F32):
    """A read-only view of ``shape`` over a single element: no memory behind it."""
    return np.broadcast_to(np.zeros((), dtype), shape)


# --- models and files used by the rows -----------------------------------------------------------

def _model(compiled=True, loss="sparse_categorical_crossentropy", units=3, activation="softmax"):
    model = Sequential([Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1)), Flatten(),
                        Dense(units, activation=activation)])
    if compiled:
        model.compile(optimizer="adam", loss=loss)
    return model


def _images(n=4, channels=1):
    return np.linspace(0, 1, n * 36 * channels, dtype=F32).reshape(n, 6, 6, channels)


LABELS = np.array([0, 1, 2, 1])


def _saved(tmp, config_change=None, entry_change=None, compression=zipfile.ZIP_STORED):
    """A trained model saved to ``tmp``, then rewritten: ``config_change(config)`` edits the
    parsed config.json, ``entry_change(entries)`` the dict of entry name -> bytes."""
    model = _model()
    model.fit(_images(), LABELS, batch_size=2, epochs=1, verbose=0)
    path = tmp / "model.fcnn"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    if config_change is not None:
        config_change(config)
    entries["config.json"] = json.dumps(config).encode()
    if entry_change is not None:
        entry_change(entries)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _layer_config(index, **changes):
    def change(config):
        config["model"]["config"]["layers"][index]["config"].update(changes)
    return change


def _set(key_path, value):
    def change(config):
        target = config
        for key in key_path[:-1]:
            target = target[key]
        target[key_path[-1]] = value
    return change


def _npy(array):
    stream = io.BytesIO()
    np.lib.format.write_array(stream, np.asarray(array), allow_pickle=False)
    return stream.getvalue()


def _raw_config(raw):
    def change(entries):
        entries["config.json"] = raw
    return change


def _idx(tmp, data):
    path = tmp / "bad.idx"
    path.write_bytes(data)
    return path


def _fit(model, x, y, **kw):
    return lambda: model.fit(x, y, verbose=0, **kw)


# --- the catalogue -------------------------------------------------------------------------------
# (id, call taking the test's tmp_path, exception type(s), pattern the message must match)
CATALOGUE = [
    # ops: sizes, types and shapes at the boundary
    ("ops-conv2d-w-zero-filters", lambda t: ops.conv2d(_x(), _w((3, 3, 3, 0))),
     ValueError, r"w must have positive sizes.*\(3, 3, 3, 0\)"),
    ("ops-conv2d-x-zero-channels", lambda t: ops.conv2d(_x((2, 6, 5, 0)), _w((3, 3, 0, 4))),
     ValueError, r"x must have positive .*channels.*\(2, 6, 5, 0\)"),
    ("ops-max_pool2d-x-zero-width", lambda t: ops.max_pool2d(_x((1, 4, 0, 2))),
     ValueError, r"x must have positive height, width.*\(1, 4, 0, 2\)"),
    ("ops-conv2d-x-string-array", lambda t: ops.conv2d(np.full((2, 6, 5, 3), "a"), _w()),
     TypeError, r"x must have dtype float32 or float64, got <U1"),
    ("ops-conv2d-x-nested-list", lambda t: ops.conv2d(_x().tolist(), _w()),
     TypeError, r"x must be a numpy.ndarray .* got list"),
    ("ops-max_pool2d-x-masked-array",
     lambda t: ops.max_pool2d(np.ma.masked_less(_x(), 1.0)),
     TypeError, r"x is a masked array, whose mask fastcnn.ops would ignore"),
    ("ops-conv2d-activation-tanh", lambda t: ops.conv2d(_x(), _w(), activation="tanh"),
     ValueError, r"activation must be None, 'linear' or 'relu', got 'tanh'"),
    ("ops-conv2d-out-unaligned",
     lambda t: ops.conv2d(_x(), _w(), out=with_layout(np.zeros((2, 4, 3, 4), F32), "unaligned")),
     ValueError, r"out must be aligned"),
    ("ops-conv2d-strides-2**63", lambda t: ops.conv2d(_x(), _w(), strides=2**63),
     ValueError, r"strides must be at most 2147483647"),
    ("ops-avg_pool2d-pool_size-2**40-same",
     lambda t: ops.avg_pool2d(_x(), pool_size=2**40, padding="same"),
     ValueError, r"pool_size must be at most"),
    ("ops-max_pool2d_backward-strides-(1, 2**31)",
     lambda t: ops.max_pool2d_backward(_x((2, 3, 2, 3)), _x(), strides=(1, 2**31)),
     ValueError, r"strides must be at most"),
    ("ops-conv2d-x-48PiB-broadcast-view-small-result",
     lambda t: ops.conv2d(_huge((1, 2**26, 2**26, 3)), _w(), strides=2**26),
     MemoryError, r"x \(shape \(1, 67108864, 67108864, 3\).*cannot be allocated"),
    ("ops-conv2d-result-16PiB",
     lambda t: ops.conv2d(_huge((2**20, 2**20, 2**10, 3)), _w()),
     MemoryError, r"the result of conv2d would have shape \(1048576, 1048574, 1022, 4\).*"
                  r"cannot be allocated"),
    ("ops-conv2d-w-2**59-filters-result-beyond-addresses",
     lambda t: ops.conv2d(_x(), _huge((1, 1, 3, 2**59))),
     MemoryError, r"the result of conv2d would have shape \(2, 6, 5, 576460752303423488\) "
                  r"\(34587645138205409280 elements of float32\), which cannot be allocated"),
    ("ops-avg_pool2d_backward-dx-beyond-memory",
     lambda t: ops.avg_pool2d_backward(_huge((2**20, 2**20, 2**9, 2)),
                                       _huge((2**20, 2**21, 2**10, 2))),
     MemoryError, r"dx would have shape \(1048576, 2097152, 1024, 2\).*cannot be allocated"),
    ("ops-set_num_threads-2**40", lambda t: fastcnn.set_num_threads(2**40),
     ValueError, r"n must be at most 1024"),

    # layers
    ("layers-conv2d-called-on-rank3", lambda t: Conv2D(2, 3)(np.zeros((2, 6, 6), F32)),
     ValueError, r"needs NHWC inputs of rank 4.*\(None, 6, 6\)"),
    ("layers-conv2d-built-for-1-channel-given-3",
     lambda t: _built_conv()(np.zeros((2, 6, 6, 3), F32)),
     ValueError, r"incompatible.*expected shape \(None, 6, 6, 1\).*\(2, 6, 6, 3\)"),
    ("layers-dense-complex-input", lambda t: Dense(2)(np.ones((2, 3), complex)),
     TypeError, r"must hold real numbers, got an array of dtype complex128"),
    ("layers-dense-ragged-list", lambda t: Dense(2)([[1.0, 2.0], [3.0]]),
     ValueError, r"input of layer \"dense.*cannot be made into an array"),
    ("layers-maxpool-pool_size-negative", lambda t: MaxPool2D(pool_size=-2),
     ValueError, r"pool_size must be positive"),
    ("layers-conv2d-strides-2**31", lambda t: Conv2D(4, 3, strides=2**31),
     ValueError, r"strides must be at most"),
    ("layers-dropout-rate-nan", lambda t: Dropout(float("nan")),
     ValueError, r"rate must be in \[0, 1\), got nan"),
    ("layers-conv2d-2**40-filters-weights-beyond-memory",
     lambda t: Sequential([Conv2D(2**40, 3, input_shape=(6, 6, 1), name="wide")]),
     MemoryError, r"layer 'wide': a weight of shape \(3, 3, 1, 1099511627776\).*cannot be "
                  r"allocated"),
    ("layers-dense-2**62-units-weights-beyond-addresses",
     lambda t: Sequential([Dense(2**62, input_shape=(3,), name="huge")]),
     ValueError, r"layer 'huge': a weight of shape \(3, 4611686018427387904\)"),
    ("layers-flatten-2**80-features-into-dense",
     lambda t: Sequential([Flatten(input_shape=(2**40, 2**40, 1)), Dense(2, name="d")]),
     ValueError, r"layer 'd': a weight of shape \(1208925819614629174706176, 2\)"),

    # models
    ("models-fit-loaded-without-compile",
     lambda t: _fit(load_model(_saved(t), compile=False), _images(), LABELS)(),
     ValueError, r"You must call compile\(\) before fit\(\)"),
    ("models-fit-x-object-array", lambda t: _fit(_model(), np.empty((4, 6, 6, 1), object),
                                                 LABELS)(),
     TypeError, r"x must be numeric, got an array of dtype object"),
    ("models-fit-x-complex", lambda t: _fit(_model(), _images().astype(complex), LABELS)(),
     TypeError, r"x must hold real numbers, got an array of dtype complex128"),
    ("models-fit-x-ragged-list", lambda t: _fit(_model(), [[1.0, 2.0], [3.0]], LABELS)(),
     ValueError, r"x cannot be made into an array"),
    ("models-fit-y-object-array", lambda t: _fit(_model(), _images(), np.empty(4, object))(),
     TypeError, r"y must be numeric, got an array of dtype object"),
    ("models-fit-sparse-labels-one-hot-shaped",
     lambda t: _fit(_model(), _images(), np.eye(3)[LABELS])(),
     ValueError, r"y has shape \(4, 3\)"),
    ("models-fit-sparse-label-1e30", lambda t: _fit(_model(), _images(),
                                                    np.array([0, 1, 1e30, 1]))(),
     ValueError, r"y holds class indices .* outside \[0, 2\]"),
    ("models-fit-binary-labels-two-columns",
     lambda t: _fit(_model(loss="binary_crossentropy", units=1, activation="sigmoid"),
                    _images(), np.zeros((4, 2)))(),
     ValueError, r"y.*\(4, 2\)"),
    ("models-evaluate-x-4-y-3", lambda t: _model().evaluate(_images(), LABELS[:3], verbose=0),
     ValueError, r"x has 4 \(shape \(4, 6, 6, 1\)\), y has 3"),
    ("models-fit-validation-data-x-4-y-2",
     lambda t: _fit(_model(), _images(), LABELS, validation_data=(_images(), LABELS[:2]))(),
     ValueError, r"x_val has 4 .* y_val has 2"),
    ("models-predict-3-channels-for-1", lambda t: _model().predict(_images(channels=3)),
     ValueError, r"expected shape \(None, 6, 6, 1\), got x of shape \(4, 6, 6, 3\)"),
    ("models-predict-rank5", lambda t: _model().predict(np.zeros((1, 4, 6, 6, 1))),
     ValueError, r"expected shape \(None, 6, 6, 1\), got x of shape \(1, 4, 6, 6, 1\)"),
    ("models-set_weights-strings",
     lambda t: _model().set_weights([np.full(w.shape, "a") for w in _model().get_weights()]),
     TypeError, r"weight 0 must be numeric, got dtype <U1"),
    ("models-set_weights-dict", lambda t: _model().set_weights({"kernel": 1}),
     TypeError, r"weights must be a list of arrays, got dict"),

    # optimizers
    ("optimizers-apply-object-gradient",
     lambda t: optimizers.SGD().apply([np.empty(3, object)], [np.zeros(3)]),
     TypeError, r"gradient 0 must hold real numbers, got dtype object"),
    ("optimizers-apply-string-gradient",
     lambda t: optimizers.Adam().apply([np.array(["a", "b"])], [np.zeros(2)]),
     TypeError, r"gradient 0 must hold real numbers, got dtype <U1"),
    ("optimizers-apply-int-variable",
     lambda t: optimizers.SGD().apply([np.ones(3)], [np.zeros(3, np.int64)]),
     TypeError, r"variable 0 must be a writeable float32 or float64 numpy.ndarray, got an "
                r"array of dtype int64"),
    ("optimizers-apply-read-only-variable",
     lambda t: optimizers.SGD().apply([np.ones(3)], [_huge((3,), np.float64)]),
     TypeError, r"variable 0 must be a writeable .* \(read-only\)"),
    ("optimizers-apply-list-variable", lambda t: optimizers.SGD().apply([np.ones(3)], [[0.0]]),
     TypeError, r"variable 0 must be .* got list"),
    ("optimizers-adam-epsilon-inf", lambda t: optimizers.Adam(epsilon=float("inf")),
     ValueError, r"epsilon must be >= 0.0, got inf"),
    ("optimizers-rmsprop-momentum-nan", lambda t: optimizers.RMSprop(momentum=float("nan")),
     ValueError, r"momentum must be >= 0.0 and <= 1.0, got nan"),
    ("optimizers-config-learning_rate-string",
     lambda t: optimizers.get({"class_name": "Adam", "config": {"learning_rate": "x"}}),
     ValueError, r"invalid optimizer config .*learning_rate must be a number"),

    # datasets
    ("datasets-to_categorical-label-1e18", lambda t: utils.to_categorical([10**18]),
     MemoryError, r"to_categorical: 1 labels x 1000000000000000001 classes"),
    ("datasets-to_categorical-object-labels",
     lambda t: utils.to_categorical(np.array([1, None], dtype=object)),
     TypeError, r"y must hold integer class indices, got dtype object"),
    ("datasets-read_idx-255-dims-of-2**32-1",
     lambda t: read_idx(_idx(t, struct.pack(">HBB", 0, 0x08, 255)
                             + struct.pack(">255I", *[2**32 - 1] * 255) + bytes(64))),
     ValueError, r"is truncated: its header declares shape \(4294967295, 4294967295"),
    ("datasets-read_idx-float64-data-cut-mid-element",
     lambda t: read_idx(_idx(t, struct.pack(">HBBI", 0, 0x0E, 1, 2) + bytes(12))),
     ValueError, r"truncated: its header declares shape \(2,\) of float64 \(16 data bytes\)"),
    ("datasets-read_idx-empty-file", lambda t: read_idx(_idx(t, b"")),
     ValueError, r"truncated: 0 bytes, too short for the 4-byte magic number"),

    # load_model: corrupt or foreign files
    ("load_model-empty-file", lambda t: load_model(_idx(t, b"")),
     ValueError, r"not a valid fastcnn model file: it is truncated, corrupted or not a zip"),
    ("load_model-config-nested-100000-deep",
     lambda t: load_model(_saved(t, entry_change=_raw_config(b"[" * 100000 + b"]" * 100000))),
     ValueError, r"config.json is not valid JSON \(RecursionError"),
    ("load_model-config-integer-of-5000-digits",
     lambda t: load_model(_saved(t, entry_change=_raw_config(b"9" * 5000))),
     ValueError, r"config.json is not valid JSON"),
    ("load_model-config-10**12-filters",
     lambda t: load_model(_saved(t, config_change=_layer_config(0, filters=10**12))),
     ValueError, r"would create a weight of shape \(3, 3, 1, 1000000000000\) \(\d{14,} "
                 r"bytes\), more than the \d+ bytes the file's weights hold"),
    ("load_model-config-input-2**40-by-2**40",
     lambda t: load_model(_saved(t, config_change=_set(
         ("model", "config", "build_input_shape"), [None, 2**40, 2**40, 1]))),
     ValueError, r"invalid model config.*is incompatible: expected shape \(None, 6, 6, 1\), "
                 r"got \(None, 1099511627776, 1099511627776, 1\)"),
    ("load_model-config-filters-string",
     lambda t: load_model(_saved(t, config_change=_layer_config(0, filters="2"))),
     ValueError, r"invalid model config \(TypeError: filters must be a positive int"),
    ("load_model-config-layer-Lambda-with-code",
     lambda t: load_model(_saved(t, config_change=_set(
         ("model", "config", "layers", 1), {"class_name": "Lambda",
                                            "config": {"function": "__import__('os')"}}))),
     ValueError, r"unknown layer class 'Lambda'"),
    ("load_model-config-initializer-builtins-eval",
     lambda t: load_model(_saved(t, config_change=_layer_config(
         0, kernel_initializer={"class_name": "eval", "config": {}}))),
     ValueError, r"initializer must be one of"),
    ("load_model-config-loss-os-system",
     lambda t: load_model(_saved(t, config_change=_set(
         ("compile", "loss"), {"class_name": "system", "config": {"command": "true"}}))),
     ValueError, r"invalid compile config .*loss must be one of"),
    ("load_model-deflated-weight-entries",
     lambda t: load_model(_saved(t, compression=zipfile.ZIP_DEFLATED)),
     ValueError, r"entry 'weights/00000.npy' is compressed"),
    ("load_model-weights-entry-int64",
     lambda t: load_model(_saved(t, entry_change=lambda e: e.update(
         {"weights/00001.npy": _npy(np.zeros(2, np.int64))}))),
     ValueError, r"'weights/00001.npy' holds a int64 array of shape \(2,\)"),
    ("load_model-weights-entry-missing",
     lambda t: load_model(_saved(t, entry_change=lambda e: e.pop("weights/00002.npy"))),
     ValueError, r"has no 'weights/00002.npy'"),
    ("load_model-optimizer-iterations-negative",
     lambda t: load_model(_saved(t, entry_change=lambda e: e.update(
         {"optimizer/00000.npy": _npy(np.array(-5, np.int64))}))),
     ValueError, r"negative optimizer iteration count"),
]


def _built_conv():
    layer = Conv2D(2, 3, input_shape=(6, 6, 1))
    layer.build_for((None, 6, 6, 1))
    return layer


@pytest.mark.parametrize("call,error,match",
                         [pytest.param(c, e, m, id=i) for i, c, e, m in CATALOGUE])
def test_malformed_call_raises_a_clear_error(call, error, match, tmp_path):
    threads = fastcnn.get_num_threads()
    try:
        with pytest.raises(error, match=match):
            call(tmp_path)
    finally:
        fastcnn.set_num_threads(threads)
    assert fastcnn.get_num_threads() == threads


def test_catalogue_covers_every_area_with_40_rows_or_more():
    ids = [row[0] for row in CATALOGUE]
    assert len(ids) == len(set(ids)) >= 40
    areas = {i.split("-")[0] for i in ids}
    assert areas == {"ops", "layers", "models", "optimizers", "datasets", "load_model"}
    for row in CATALOGUE:
        assert row[2] in (ValueError, TypeError, MemoryError), row[0]


# --- odd but valid calls -------------------------------------------------------------------------
EDGE_CALLS = [
    # (id, function name, shapes of x and w (or None), keyword arguments)
    ("conv2d-strides-(9, 50)-larger-than-6x5-valid", "conv2d", (2, 6, 5, 3), (3, 3, 3, 4),
     dict(strides=(9, 50), padding="valid")),
    ("conv2d-strides-50-larger-than-6x5-same", "conv2d", (2, 6, 5, 3), (3, 3, 3, 4),
     dict(strides=50, padding="same")),
    ("conv2d-1x1-image-3x3-kernel-same", "conv2d", (3, 1, 1, 5), (3, 3, 5, 2),
     dict(padding="same")),
    ("conv2d-kernel-as-large-as-image-valid", "conv2d", (2, 6, 5, 3), (6, 5, 3, 4),
     dict(padding="valid")),
    ("conv2d_backward-strides-3-above-kernel-2", "conv2d_backward", (2, 8, 7, 9), (2, 2, 9, 3),
     dict(strides=3, padding="valid")),
    ("conv2d_backward-strides-50-same", "conv2d_backward", (2, 6, 5, 10), (3, 3, 10, 4),
     dict(strides=50, padding="same")),
    ("max_pool2d-pool-7-larger-than-6x5-same", "max_pool2d", (2, 6, 5, 3), None,
     dict(pool_size=7, padding="same")),
    ("avg_pool2d-pool-(1, 6)-strides-(9, 1)-same", "avg_pool2d", (2, 6, 5, 3), None,
     dict(pool_size=(1, 6), strides=(9, 1), padding="same")),
    ("max_pool2d_backward-strides-larger-than-image", "max_pool2d_backward", (2, 6, 5, 3),
     None, dict(pool_size=2, strides=(9, 9), padding="valid")),
    ("avg_pool2d_backward-pool-7-same", "avg_pool2d_backward", (2, 6, 5, 3), None,
     dict(pool_size=7, padding="same")),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name,x_shape,w_shape,kwargs",
                         [pytest.param(*row[1:], id=row[0]) for row in EDGE_CALLS])
def test_odd_but_valid_call_matches_the_reference(name, x_shape, w_shape, kwargs, dtype, rng):
    x = random_array(rng, x_shape, dtype)
    args = (x,) if w_shape is None else (x, random_array(rng, w_shape, dtype))
    forward = name.replace("_backward", "")
    if name.endswith("_backward"):
        y = getattr(reference, forward)(*[widen(a) for a in args], **kwargs)
        args = (random_array(rng, y.shape, dtype),) + args
    got = getattr(ops, name)(*args, **kwargs)
    expected = getattr(reference, name)(*[widen(a) for a in args], **kwargs)
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert_close(g, e, dtype, f"{name} result {i}")


def test_model_predict_on_zero_samples_and_fit_with_a_batch_larger_than_the_data():
    model = _model()
    assert model.predict(np.zeros((0, 6, 6, 1), F32)).shape == (0, 3)
    history = model.fit(_images(), LABELS, batch_size=1000, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and model.optimizer.iterations == 2
