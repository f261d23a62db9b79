"""ONNX export: the exported graph passes onnx's full checker and, run by onnxruntime (the
oracle), gives what ``model.predict`` gives, for the zoo's models and for a model holding every
layer fastcnn has; geometry tables for convolutions and poolings; errors for what cannot be
exported or written."""
import errno
import os

import numpy as np
import onnx
import onnxruntime
import pytest

import fastcnn.layers as L
from fastcnn import saving, utils
from fastcnn.models import Model, Sequential, zoo

TOLERANCE = 1e-4            # |onnxruntime - predict|, outputs of magnitude about 1
BATCHES = (1, 5, 64)


def session(path):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1          # the machine is shared
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def sample_inputs(model, gen, n):
    return [gen.normal(0, 1, (n,) + t.shape[1:]).astype(np.float32) for t in model.inputs]


def perturb(model, gen):
    """Non-trivial weights: random biases; BatchNormalization's moving statistics those of a
    batch of data (momentum 0 for one training call, so that inference normalisation is
    exercised), gamma and beta random; the kernels of softmax layers scaled down, so that
    their outputs do not saturate (which would hide differences in the layers before)."""
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias[...] = gen.normal(0, 0.2, layer.bias.shape)
        if getattr(layer, "kernel", None) is not None and layer.activation.name == "softmax":
            layer.kernel *= 0.2
    norms = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)]
    if norms:
        for layer in norms:
            layer.momentum = 0.0
        xs = sample_inputs(model, gen, 32)
        model(xs if len(xs) > 1 else xs[0], training=True)
        for layer in norms:
            layer.momentum = 0.99
            c = layer.moving_mean.shape
            if layer.gamma is not None:
                layer.gamma[...] = gen.uniform(0.5, 1.5, c)
            if layer.beta is not None:
                layer.beta[...] = gen.normal(0, 0.3, c)
    return model


def export_and_check(model, path):
    """Export ``model`` to ``path``; the file passes the full checker; the ONNX model."""
    model.export(path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def max_difference(model, path, gen, batches=BATCHES, inputs=None):
    """The largest |onnxruntime - predict| over ``batches`` of random inputs (or ``inputs(n)``);
    each output is also checked for name order, shape and closeness."""
    sess = session(path)
    names = [t.node.layer.name for t in model.inputs]
    assert [i.name for i in sess.get_inputs()] == names
    worst = 0.0
    for n in batches:
        xs = inputs(n) if inputs else sample_inputs(model, gen, n)
        expected = model.predict(xs if len(xs) > 1 else xs[0], batch_size=max(n, 1), verbose=0)
        expected = expected if isinstance(expected, list) else [expected]
        got = sess.run(None, dict(zip(names, xs)))
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.dtype == np.float32 and g.shape == e.shape
            worst = max(worst, float(np.max(np.abs(g - e))))
            np.testing.assert_allclose(g, e, rtol=0, atol=TOLERANCE)
    return worst


# ---- whole models -------------------------------------------------------------------------------
def every_layer_model():
    """A functional model with two inputs and three outputs that calls every layer fastcnn has
    (shared, rank-2 and rank-4 uses, in both of the exporter's layouts)."""
    image = L.Input((13, 11, 3), name="image")
    side = L.Input((7, 6, 2), name="side")
    x = L.Rescaling(1 / 2.0, offset=-0.25)(image)
    x = L.RandomFlip()(x)
    x = L.RandomTranslation(0.1, 0.2)(x)
    x = L.RandomCrop(10, 9)(x)                             # a 12x11 centred box resized
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)          # 5x5
    x = L.BatchNormalization()(x)
    x = L.ZeroPadding2D(((1, 0), (2, 1)))(x)                                      # 6x8
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)                          # 3x4
    x = L.Rescaling(0.5, offset=0.1)(x)
    shared = L.Conv2D(8, 1, activation="tanh", name="shared_1x1")
    y = L.Activation("relu")(shared(x))
    x = L.Add()([x, y, L.Activation("sigmoid")(x)])
    x = L.Concatenate(axis=1)([x, shared(x)])                                    # 6x4x8
    map_out = L.Conv2D(3, 2, padding="same", activation="softmax", name="map")(x)

    s = L.Rescaling([0.5, 2.0], offset=[[[0.1]], [[0.0]], [[-0.1]], [[0.2]], [[0.0]], [[0.3]],
                                        [[0.1]]])(side)
    s = L.Conv2D(4, 2, activation="sigmoid")(s)                                   # 6x5
    s = L.AveragePooling2D(2, strides=1, padding="same")(s)
    s = L.ReLU(max_value=0.8, negative_slope=0.1, threshold=0.2)(s)
    s = L.ReLU()(L.Activation("tanh")(s))
    s = L.Dropout(0.5)(s)
    pooled = L.Concatenate(name="pooled")([
        L.GlobalAveragePooling2D(keepdims=True)(x), L.GlobalMaxPooling2D(keepdims=True)(s)])

    f = L.Dense(5, activation="tanh")(x)                   # per position, on 4-d input
    f = L.Flatten()(f)
    f = L.Concatenate()([f, L.GlobalAveragePooling2D()(s), L.GlobalMaxPooling2D()(f_map(x))])
    f = L.Dense(16)(f)
    f = L.BatchNormalization(center=False)(f)
    f = L.Activation("linear")(L.Dropout(0.3)(f))
    probs = L.Dense(4, activation="softmax", name="probs")(f)
    return Model([image, side], [probs, map_out, pooled], name="every_layer")


def f_map(x):
    return L.BatchNormalization(scale=False)(L.Conv2D(6, (2, 3), strides=(1, 2))(x))


def test_every_layer_model_uses_every_layer_fastcnn_has():
    builtin = {getattr(L, name) for name in L.__all__ if isinstance(getattr(L, name), type)
               and issubclass(getattr(L, name), L.Layer)} - {L.Layer}
    used = {type(layer) for layer in every_layer_model().layers}
    assert builtin - used == set()


def augmented_resnet20():
    return zoo.resnet20(augmentation=(L.RandomFlip(), L.RandomTranslation(0.1, 0.1)))


MODELS = {"seed_cnn": zoo.seed_cnn, "kcnn": zoo.kcnn, "tf_cnn": zoo.tf_cnn,
          "resnet20": zoo.resnet20, "resnet20_augmented": augmented_resnet20,
          "every_layer": every_layer_model}


@pytest.mark.parametrize("name", list(MODELS))
def test_exported_model_gives_predict_outputs_at_batch_1_5_64(tmp_path, name):
    utils.set_random_seed(3)
    gen = np.random.default_rng(7)
    model = perturb(MODELS[name](), gen)
    weights = model.get_weights()
    path = tmp_path / f"{name}.onnx"
    proto = export_and_check(model, path)
    worst = max_difference(model, path, gen)
    print(f"{name}: max |onnx - predict| = {worst:.3g}")
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)       # the export changed nothing
    assert [o.name for o in proto.graph.output] == [t.node.layer.name for t in model.outputs]
    for value in list(proto.graph.input) + list(proto.graph.output):
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert all(t.data_type == onnx.TensorProto.FLOAT for t in proto.graph.initializer
               if t.name.endswith(("kernel", "bias")))
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 18)]


def test_inference_leaves_out_dropout_and_augmentation_and_changes_no_statistics(tmp_path):
    gen = np.random.default_rng(5)
    model = perturb(Sequential([
        L.Input((9, 9, 2)), L.RandomFlip(), L.RandomTranslation(0.2, 0.2), L.Dropout(0.5),
        L.Conv2D(4, 3), L.BatchNormalization(), L.Dropout(0.5), L.GlobalAveragePooling2D(),
        L.Dense(3)]), gen)
    path = tmp_path / "m.onnx"
    proto = export_and_check(model, path)
    assert [node.op_type for node in proto.graph.node] == [
        "Transpose", "Conv", "Mul", "Add", "ReduceMean", "MatMul", "Add", "Identity"]
    norm = model.layers[4]
    statistics = norm.moving_mean.copy(), norm.moving_variance.copy()
    max_difference(model, path, gen, batches=(4,))
    np.testing.assert_array_equal(norm.moving_mean, statistics[0])
    np.testing.assert_array_equal(norm.moving_variance, statistics[1])


# ---- geometry tables ----------------------------------------------------------------------------
GEOMETRY = [  # (input h, w), window, strides, padding
    ((7, 9), 3, 1, "valid"), ((7, 9), 3, 1, "same"), ((7, 9), 3, 2, "valid"),
    ((7, 9), 3, 2, "same"), ((8, 8), 3, 2, "same"), ((8, 9), 2, 2, "same"),
    ((9, 7), (2, 3), (2, 1), "same"), ((6, 10), 4, 3, "same"), ((5, 5), 5, 2, "same"),
    ((4, 6), 1, 2, "same"), ((3, 3), 5, 1, "same"), ((10, 7), (3, 1), (3, 2), "valid"),
]


def geometry_id(case):
    (h, w), k, s, p = case
    return f"{h}x{w}-k{k}-s{s}-{p}".replace(" ", "")


def single_layer_model(layer, hw, channels):
    inp = L.Input(hw + (channels,), name="x")
    return Model(inp, layer(inp))


@pytest.mark.parametrize("case", GEOMETRY, ids=geometry_id)
@pytest.mark.parametrize("kind", ["conv", "max", "avg"])
def test_window_geometry(tmp_path, kind, case):
    """TensorFlow's "same" padding (the extra row or column at the bottom or right), with
    all-negative inputs so that a max pooling that returned a pad value would show."""
    hw, k, s, p = case
    gen = np.random.default_rng(11)
    layer = {"conv": lambda: L.Conv2D(4, k, strides=s, padding=p, activation="linear"),
             "max": lambda: L.MaxPooling2D(k, strides=s, padding=p),
             "avg": lambda: L.AveragePooling2D(k, strides=s, padding=p)}[kind]()
    model = perturb(single_layer_model(layer, hw, 3), gen)
    path = tmp_path / "m.onnx"
    export_and_check(model, path)
    max_difference(model, path, gen, batches=(1, 3),
                   inputs=lambda n: [-gen.uniform(0.5, 2, (n,) + hw + (3,)).astype(np.float32)])


@pytest.mark.parametrize("hw, size", [((13, 11), (10, 9)), ((8, 8), (8, 8)), ((5, 9), (6, 4)),
                                      ((6, 6), (12, 3)), ((5, 9), (1, 3)), ((4, 7), (5, 1))])
def test_random_crop_resizes_the_centred_box_as_predict_does(tmp_path, hw, size):
    gen = np.random.default_rng(12)
    model = single_layer_model(L.RandomCrop(*size), hw, 2)
    path = tmp_path / "m.onnx"
    export_and_check(model, path)
    max_difference(model, path, gen, batches=(1, 3))


@pytest.mark.parametrize("kwargs", [dict(max_value=0.5), dict(negative_slope=0.2),
                                    dict(threshold=0.3), dict(max_value=1.0, threshold=0.5,
                                                              negative_slope=0.05)])
def test_relu_arguments(tmp_path, kwargs):
    gen = np.random.default_rng(13)
    model = single_layer_model(L.ReLU(**kwargs), (3, 4), 2)
    path = tmp_path / "m.onnx"
    export_and_check(model, path)
    max_difference(model, path, gen, batches=(5,))


@pytest.mark.parametrize("scale_shape", [(4,), (1, 5, 1), (3, 1, 4), (3, 5, 4)])
def test_rescaling_by_arrays_after_a_convolution(tmp_path, scale_shape):
    """The arrays broadcast against NHWC samples, whatever layout the graph holds them in."""
    gen = np.random.default_rng(17)
    inp = L.Input((5, 7, 2), name="x")
    scaled = L.Rescaling(gen.normal(0, 1, scale_shape).tolist(),
                         offset=gen.normal(0, 1, scale_shape[::-1][:1]).tolist())
    model = perturb(Model(inp, scaled(L.Conv2D(4, 3)(inp))), gen)
    path = tmp_path / "m.onnx"
    export_and_check(model, path)
    max_difference(model, path, gen, batches=(2,))


@pytest.mark.parametrize("axis", [1, 2, 3, -1, -3])
def test_concatenate_axes_of_images_in_nchw(tmp_path, axis):
    """Both inputs come from convolutions (NCHW inside the graph); the axis is NHWC's."""
    gen = np.random.default_rng(14)
    inp = L.Input((4, 4, 2), name="x")
    a = L.Conv2D(3, 1)(inp)
    b = L.Conv2D(3, 1, activation="relu")(inp)
    model = perturb(Model(inp, L.Concatenate(axis=axis)([a, b])), gen)
    path = tmp_path / "m.onnx"
    export_and_check(model, path)
    max_difference(model, path, gen, batches=(2,))


def test_dense_only_model_on_flat_inputs(tmp_path):
    gen = np.random.default_rng(15)
    model = perturb(Sequential([L.Dense(6, activation="relu", input_shape=(5,)),
                                L.BatchNormalization(), L.Dense(3, activation="sigmoid")]), gen)
    path = tmp_path / "m.onnx"
    export_and_check(model, path)
    max_difference(model, path, gen, batches=(1, 7))


def test_outputs_named_uniquely_when_an_input_or_a_tensor_is_given_again(tmp_path):
    gen = np.random.default_rng(16)
    inp = L.Input((3, 3, 1), name="x")
    shared = L.Conv2D(2, 1, name="x_1")
    outputs = [L.Dropout(0.5)(inp), inp, shared(inp), shared(inp)]
    model = perturb(Model(inp, outputs + [outputs[2]]), gen)
    path = tmp_path / "m.onnx"
    proto = export_and_check(model, path)
    names = [o.name for o in proto.graph.output]
    assert names[0] == model.outputs[0].node.layer.name and len(set(names + ["x"])) == 6
    max_difference(model, path, gen, batches=(2,))


# ---- errors -------------------------------------------------------------------------------------
@L.register(name="OnnxExportTestScale")
class Doubling(L.Layer):
    """A registered layer of a user's own: it can be saved, not exported."""

    def compute_output_shape(self, input_shape):
        return input_shape

    def forward(self, inputs, state, training):
        return inputs * 2


class MyDense(L.Dense):
    """A subclass of a built-in layer may compute something else: not exported either."""


@pytest.mark.parametrize("make", [lambda: Doubling(name="twice"),
                                  lambda: MyDense(3, name="twice")])
def test_layer_that_cannot_be_exported_is_a_value_error_naming_it(tmp_path, make):
    layer = make()
    model = Sequential([L.Dense(4, input_shape=(3,)), layer])
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    with pytest.raises(ValueError, match=rf"layer 'twice' \({type(layer).__name__}\)"):
        model.export(path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["m.onnx"]


@pytest.mark.parametrize("fmt", ["tf_saved_model", "ONNX", "", None, 1])
def test_unsupported_format_is_a_value_error(tmp_path, fmt):
    with pytest.raises(ValueError, match=r"format must be 'onnx'.*got " + repr(fmt)):
        zoo.seed_cnn().export(tmp_path / "m.onnx", format=fmt)
    assert os.listdir(tmp_path) == []


def test_unbuilt_model_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        Sequential([L.Dense(3)]).export(tmp_path / "m.onnx")


def test_missing_folder_is_an_os_error_naming_the_path(tmp_path):
    path = tmp_path / "missing" / "m.onnx"
    with pytest.raises(FileNotFoundError, match=f"cannot export the model to {str(path)!r}: "
                                                "the folder .* does not exist"):
        zoo.seed_cnn().export(path)
    assert os.listdir(tmp_path) == []


def test_path_that_is_a_folder_is_an_os_error_naming_it(tmp_path):
    with pytest.raises(IsADirectoryError, match=f"cannot export the model to "
                                                f"{str(tmp_path)!r}: it is a folder"):
        zoo.seed_cnn().export(tmp_path)


@pytest.mark.parametrize("where", ["creating", "writing"])
def test_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch, where):
    """No permission (which root, running the tests, cannot provoke otherwise) when the
    temporary file is created; a full disk while it is written."""
    path = tmp_path / "m.onnx"
    model = zoo.seed_cnn()
    model.export(path)
    before = path.read_bytes()

    def refuse(prefix, suffix, dir):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES),
                              os.path.join(dir, prefix + suffix))

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if where == "creating":
        monkeypatch.setattr(saving.tempfile, "mkstemp", refuse)
    else:
        monkeypatch.setattr(saving.os, "fsync", full)
    with pytest.raises(OSError, match=f"^cannot export the model to {str(path)!r}: ") as info:
        perturb(zoo.seed_cnn(), np.random.default_rng(1)).export(path)
    assert info.value.errno == (errno.EACCES if where == "creating" else errno.ENOSPC)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.onnx"]
