"""The functional API: Input, layers called on symbolic tensors, Model(inputs, outputs) with
several inputs and outputs, shared layers and fan-out, Keras' layer order, summary's
"Connected to" column, model(x, training=...), freezing, and malformed graphs."""
import numpy as np
import pytest

from fastcnn import layers
from fastcnn.layers import (Activation, Add, BatchNormalization, Concatenate, Conv2D, Dense,
                            Flatten, GlobalAveragePooling2D, Input, InputLayer, MaxPool2D,
                            SymbolicTensor)
from fastcnn.models import Model, Sequential
from fastcnn.models.plan import Plan
from fastcnn.utils import set_random_seed
from conftest import numeric_gradient
from layer_harness import FD_TOLERANCE, relative_error


def residual_block_model():
    inp = Input((8, 8, 3), name="image")
    t = Activation("relu", name="stem_relu")(
        BatchNormalization(name="stem_bn")(Conv2D(4, 3, padding="same", name="stem")(inp)))
    u = BatchNormalization(name="bn")(Conv2D(4, 3, padding="same", name="conv")(t))
    t = Activation("relu", name="out_relu")(Add(name="add")([t, u]))
    out = Dense(3, activation="softmax", name="head")(GlobalAveragePooling2D(name="gap")(t))
    return Model(inp, out, name="resblock")


# ---- building --------------------------------------------------------------------------------
def test_input_and_layer_calls_make_symbolic_tensors():
    inp = Input((8, 8, 3))
    assert isinstance(inp, SymbolicTensor) and inp.shape == (None, 8, 8, 3)
    assert inp.dtype == "float32" and isinstance(inp.node.layer, InputLayer)
    conv = Conv2D(4, 3)
    out = conv(inp)
    assert out.shape == (None, 6, 6, 4) and out.node.layer is conv
    assert conv.built and conv.kernel.shape == (3, 3, 3, 4)
    assert conv.input is inp and conv.output is out
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(out)


def test_model_layers_weights_and_counts_follow_keras_order():
    model = residual_block_model()
    assert [l.name for l in model.layers] == ["image", "stem", "stem_bn", "stem_relu", "conv",
                                               "bn", "add", "out_relu", "gap", "head"]
    assert model.count_params() == 112 + 16 + 148 + 16 + 15 == 307
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(3, 3, 3, 4), (4,), (4,), (4,), (4,), (4,), (3, 3, 4, 4), (4,), (4,),
                      (4,), (4,), (4,), (4, 3), (3,)]
    assert len(model.trainable_weights) == 10 and len(model.non_trainable_weights) == 4
    assert model.get_layer("bn") is model.layers[5] is model.get_layer(index=5)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        model.get_layer("nope")


def test_keras_order_puts_deeper_layers_first_then_the_order_of_the_walk():
    """A two-input model where one input joins late: layers by depth from the outputs (the
    late input sits at the depth of the layer it feeds), ties in the order a depth-first
    walk from the outputs meets them (Keras' map_graph)."""
    a, b = Input((4,), name="a"), Input((3,), name="b")
    x = Dense(5, name="d1")(Dense(5, name="d0")(a))
    y = Dense(5, name="e0")(b)
    out = Dense(2, name="out")(Concatenate(name="cat")([x, y]))
    model = Model([a, b], out)
    assert [l.name for l in model.layers] == ["a", "d0", "b", "d1", "e0", "cat", "out"]


def test_several_inputs_and_outputs_and_fan_out():
    set_random_seed(0)
    a, b = Input((6,), name="a"), Input((6,), name="b")
    shared = Dense(4, activation="tanh", name="shared")
    ha, hb = shared(a), shared(b)                      # one layer, two calls
    merged = Add(name="add")([ha, hb, ha])             # ha read twice: fan-out
    out1 = Dense(2, name="out1")(merged)
    out2 = Dense(1, name="out2")(hb)
    model = Model([a, b], [out1, out2])
    assert len(shared._inbound_nodes) == 2
    assert [l.name for l in model.layers].count("shared") == 1
    gen = np.random.default_rng(1)
    xa, xb = gen.standard_normal((5, 6)), gen.standard_normal((5, 6))
    p1, p2 = model.predict([xa, xb])
    assert p1.shape == (5, 2) and p2.shape == (5, 1)
    wa, ba = shared.get_weights()
    ya, yb = np.tanh(xa @ wa + ba), np.tanh(xb @ wa + ba)
    w1, b1 = model.get_layer("out1").get_weights()
    np.testing.assert_allclose(p1, (2 * ya + yb) @ w1 + b1, rtol=1e-5, atol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit([xa, xb], [np.zeros((5, 2)), np.ones((5, 1))], epochs=2, verbose=0)
    assert set(history.history) == {"loss", "out1_loss", "out2_loss"}
    logs = model.evaluate([xa, xb], [np.zeros((5, 2)), np.ones((5, 1))], verbose=0,
                          return_dict=True)
    assert logs["loss"] == pytest.approx(logs["out1_loss"] + logs["out2_loss"])


def test_shared_layers_and_fan_out_give_the_gradients_of_finite_differences():
    """The weight gradients of a layer called twice are summed over its calls, and a tensor
    read by several layers sums their gradients (float64, central differences)."""
    a, b = Input((5,), dtype="float64"), Input((5,), dtype="float64")
    shared = Dense(3, activation="tanh", dtype="float64")
    ha, hb = shared(a), shared(b)
    mixed = Add(dtype="float64")([ha, Dense(3, dtype="float64")(ha), hb])
    model = Model([a, b], Dense(2, dtype="float64")(mixed))
    plan = Plan(model._graph, backward=True, input_gradients=True)
    gen = np.random.default_rng(2)
    xs = [gen.standard_normal((4, 5)), gen.standard_normal((4, 5))]
    r = gen.standard_normal((4, 2))
    plan.forward(xs, training=True)
    grads = [g.copy() for g in plan.backward([r])]
    dxs = [g.copy() for g in plan.input_gradients]

    def loss():
        return float(np.sum(plan.forward(xs, training=True)[0] * r))

    for w, g in zip(model.trainable_weights, grads):
        assert relative_error(g, numeric_gradient(loss, w)) < FD_TOLERANCE
    for x, g in zip(xs, dxs):
        assert relative_error(g, numeric_gradient(loss, x)) < FD_TOLERANCE


def test_model_call_in_inference_and_training_mode():
    set_random_seed(1)
    model = residual_block_model()
    x = np.random.default_rng(0).standard_normal((4, 8, 8, 3)).astype(np.float32)
    bn = model.get_layer("stem_bn")
    moving = bn.get_weights()[2:]
    inference = model(x)
    np.testing.assert_array_equal(inference, model.predict(x))
    for a, b in zip(bn.get_weights()[2:], moving):
        np.testing.assert_array_equal(a, b)             # inference leaves them alone
    training = model(x, training=True)                  # batch statistics, moving ones move
    assert not np.allclose(training, inference)
    assert not np.array_equal(bn.get_weights()[2], moving[0])


def test_summary_has_a_connected_to_column_for_functional_models():
    lines = []
    residual_block_model().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in lines[2]
    add_line = next(l for l in lines if l.startswith(" add (Add)"))
    assert add_line.rstrip().endswith("stem_relu[0][0]")
    assert lines[lines.index(add_line) + 1].strip() == "bn[0][0]"
    assert "image (InputLayer)" in text and " Total params: 307" in text
    assert " Non-trainable params: 16" in text
    seq = []
    Sequential([Dense(2, input_shape=(3,))]).summary(print_fn=seq.append)
    assert "Connected to" not in seq[2]


# ---- freezing ----------------------------------------------------------------------------------
def test_frozen_layers_keep_their_weights_and_frozen_batch_norm_uses_moving_statistics():
    set_random_seed(2)
    model = residual_block_model()
    stem, bn = model.get_layer("stem"), model.get_layer("stem_bn")
    stem.trainable = False
    bn.trainable = False
    assert stem.trainable_weights == [] and len(stem.non_trainable_weights) == 2
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4
    assert len(model.trainable_weights) == 6
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    frozen = stem.get_weights() + bn.get_weights()
    gen = np.random.default_rng(3)
    x, y = gen.standard_normal((16, 8, 8, 3)), gen.integers(0, 3, 16)
    before_head = model.get_layer("head").get_weights()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for a, b in zip(stem.get_weights() + bn.get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.get_layer("head").get_weights()[0], before_head[0])
    h = stem(x)
    np.testing.assert_array_equal(bn(h, training=True), bn(h, training=False))
    model.trainable = False
    assert model.trainable_weights == [] and not model.get_layer("head").trainable
    assert len(model.non_trainable_weights) == len(model.weights)


# ---- malformed graphs --------------------------------------------------------------------------
def test_an_output_that_needs_another_input_is_a_disconnected_graph():
    a, b = Input((4,), name="in_a"), Input((4,), name="in_b")
    out = Add(name="join")([Dense(3, name="da")(a), Dense(3, name="db")(b)])
    with pytest.raises(ValueError, match=r"Graph disconnected.*in_b.*\(None, 4\).*db"):
        Model(a, out)


def test_an_input_the_outputs_do_not_use_is_an_error():
    a, b = Input((4,), name="used"), Input((2,), name="unused")
    with pytest.raises(ValueError, match=r"do not depend on.*unused\[0\]\[0\] \(shape \(None, 2\)\)"):
        Model([a, b], Dense(1)(a))


def test_a_tensor_from_another_graph_is_refused():
    a = Input((4,), name="mine")
    other = Dense(2, name="theirs")(Input((4,), name="elsewhere"))
    with pytest.raises(ValueError, match=r"disconnected.*elsewhere.*theirs"):
        Model(a, Add()([Dense(2)(a), other]))
    with pytest.raises(ValueError, match="must come from fastcnn.layers.Input"):
        Model(other, Dense(1)(other))


@pytest.mark.parametrize("make,match", [
    (lambda a, b: Add(name="plus")([a, b]),
     r'"plus" \(Add\) needs inputs of one shape, got shapes \(None, 4, 4, 2\), \(None, 4, 4, 3\)'),
    (lambda a, b: Concatenate(name="cat")([a, Flatten()(b)]),
     r'"cat" \(Concatenate\) needs inputs of one rank, got shapes \(None, 4, 4, 2\), '
     r'\(None, 48\)'),
    (lambda a, b: Concatenate(axis=1, name="cat1")([a, b]),
     r'"cat1" \(Concatenate\) needs inputs whose shapes match except on axis 1'),
    (lambda a, b: Add(name="single")([a]), r'"single" \(Add\) must be called on a list of at '
                                           r"least 2 inputs"),
])
def test_mismatched_shapes_at_merge_layers_name_the_layer_and_shapes(make, match):
    a, b = Input((4, 4, 2)), Input((4, 4, 3))
    with pytest.raises(ValueError, match=match):
        make(a, b)


def test_a_config_whose_calls_need_each_other_is_refused():
    model = residual_block_model()
    config = model.get_config()
    stem = next(e for e in config["layers"] if e["name"] == "stem")
    stem["inbound_nodes"] = [{"inputs": ["out_relu", 0, 0]}]     # a cycle through the block
    with pytest.raises(ValueError, match=r"cannot be made.*'stem'"):
        Model.from_config(config)


def test_repeated_layer_names_are_refused():
    a = Input((3,))
    with pytest.raises(ValueError, match="'twin'.*used more than once"):
        Model(a, Dense(2, name="twin")(Dense(2, name="twin")(a)))


def test_mixing_arrays_and_symbolic_tensors_in_a_call_is_a_type_error():
    with pytest.raises(TypeError, match="mixes symbolic tensors"):
        Add()([Input((2,)), np.zeros((1, 2))])


def test_data_of_the_wrong_shape_or_count_names_the_input():
    model = residual_block_model()
    with pytest.raises(ValueError, match=r"expected shape \(None, 8, 8, 3\), got x of shape"):
        model.predict(np.zeros((2, 8, 8, 1)))
    a, b = Input((2,)), Input((3,))
    two = Model([a, b], Concatenate()([a, b]))
    with pytest.raises(ValueError, match="has 2 inputs"):
        two.predict(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"x\[1\] of shape \(2, 2\)"):
        two.predict([np.zeros((2, 2)), np.zeros((2, 2))])


# ---- configs ------------------------------------------------------------------------------------
def test_functional_config_round_trips_with_shared_layers_and_several_inputs():
    a, b = Input((6,), name="a"), Input((6,), name="b")
    shared = Dense(4, name="shared")
    out = Concatenate(name="cat")([shared(a), shared(b)])
    model = Model([a, b], [out, shared(a)], name="twins")
    config = model.get_config()
    clone = Model.from_config(config)
    assert clone.get_config() == config
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert len(clone.get_layer("shared")._inbound_nodes) == 3
    clone.set_weights(model.get_weights())
    xs = [np.ones((2, 6), np.float32), np.full((2, 6), 2, np.float32)]
    for got, want in zip(clone.predict(xs), model.predict(xs)):
        np.testing.assert_array_equal(got, want)


def test_sequential_runs_on_the_same_engine():
    model = Sequential([Input((5, 5, 1)), Conv2D(2, 3), MaxPool2D(1), Flatten(), Dense(2)])
    assert model.built and model.input_shape == (None, 5, 5, 1)
    assert [type(l).__name__ for l in model.layers] == ["Conv2D", "MaxPooling2D", "Flatten",
                                                        "Dense"]
    assert isinstance(model, Model) and model._graph.layers[0].__class__ is InputLayer
    assert model.output_shape == (None, 2)
    popped = model.pop()
    assert isinstance(popped, Dense) and model.output_shape == (None, 18)
    model.add(Dense(3))
    assert model.predict(np.zeros((2, 5, 5, 1))).shape == (2, 3)


@pytest.fixture
def registry(monkeypatch):
    """The layer registry, restored after the test (the classes it registers are local)."""
    from fastcnn import _registry
    monkeypatch.setitem(_registry._CLASSES, "layer", dict(_registry._CLASSES["layer"]))


def test_a_layer_of_your_own_is_registered_by_name(registry):
    @layers.register
    class TimesTwo(layers.Layer):
        def call(self, inputs, training=False):
            return inputs * 2

    assert layers.get("TimesTwo") is TimesTwo
    inp = Input((3,))
    model = Model(inp, TimesTwo()(inp))
    np.testing.assert_array_equal(model.predict(np.ones((1, 3))), [[2, 2, 2]])
    assert Model.from_config(model.get_config()).layers[1].__class__ is TimesTwo
    with pytest.raises(ValueError, match="already registered"):
        layers.register(type("Dense", (layers.Layer,), {}))
    with pytest.raises(TypeError, match="subclass of fastcnn.layers.Layer"):
        layers.register(object)


def test_unregistered_layer_classes_cannot_be_saved_and_unknown_names_not_loaded(tmp_path):
    class Unlisted(layers.Layer):
        def call(self, inputs, training=False):
            return inputs

    inp = Input((2,))
    model = Model(inp, Unlisted()(inp))
    with pytest.raises(ValueError, match="Unlisted, which is not registered"):
        model.save(tmp_path / "m.fcnn")
    with pytest.raises(ValueError, match="unknown layer class 'Nope'"):
        layers.get("Nope")
