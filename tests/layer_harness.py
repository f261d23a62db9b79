"""One harness every layer goes through (Keras' ``run_layer_test``): build, output shape and
dtype, weight counts, config round trip, a float64 finite-difference check of the gradients
(inputs and weights, in training mode, through a model's plan), and a short fit plus
save/load inside a model.

A case is a :class:`LayerCase`: the layer class, its arguments, the input shape (without the
batch axis; a list of shapes for a layer called on a list), what to expect, and which checks
do not apply (with the reason)."""
import dataclasses
import json

import numpy as np

from conftest import numeric_gradient
from fastcnn import utils
from fastcnn.layers import Dense, Flatten, Input
from fastcnn.models import Model, load_model
from fastcnn.models.plan import Plan

FD_TOLERANCE = 1e-6      # relative error of an analytic float64 gradient vs central differences


@dataclasses.dataclass
class LayerCase:
    cls: type
    kwargs: dict
    input_shape: object                  # a shape, or a list of shapes
    output_shape: tuple                  # without the batch axis
    trainable: int = 0                   # expected trainable weight arrays
    non_trainable: int = 0
    gradient_check: bool = True
    fit: bool = True
    data: object = None                  # gen -> input array(s) of batch 3, else normal values
    why_not: str = ""                    # why a check does not apply

    @property
    def id(self):
        args = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.cls.__name__}({args})"

    @property
    def multi(self):
        return isinstance(self.input_shape, list)

    def shapes(self):
        return self.input_shape if self.multi else [self.input_shape]

    def inputs(self, gen, batch=3, dtype=np.float64):
        if self.data is not None:
            xs = self.data(gen)
            xs = xs if self.multi else [xs]
        else:
            xs = [gen.standard_normal((batch,) + tuple(s)) for s in self.shapes()]
        return [np.asarray(x, dtype=dtype) for x in xs]

    def layer(self, **extra):
        return self.cls(**dict(self.kwargs, **extra))

    def model(self, dtype="float64", head=False):
        """Input(s) -> the layer (-> Flatten -> Dense(2, softmax) with ``head``)."""
        inputs = [Input(s, dtype=dtype) for s in self.shapes()]
        layer = self.layer(dtype=dtype)
        out = layer(inputs if self.multi else inputs[0])
        if head:
            if len(out.shape) > 2:
                out = Flatten(dtype=dtype)(out)
            out = Dense(2, activation="softmax", dtype=dtype)(out)
        return Model(inputs if self.multi else inputs[0], out), layer


def check_build_and_shapes(case):
    layer = case.layer()
    batch_shapes = [(None,) + tuple(s) for s in case.shapes()]
    layer.build_for(batch_shapes if case.multi else batch_shapes[0])
    assert layer.built
    assert layer.output_shape == (None,) + tuple(case.output_shape)
    assert len(layer.trainable_weights) == case.trainable
    assert len(layer.non_trainable_weights) == case.non_trainable
    assert len(layer.weights) == case.trainable + case.non_trainable
    assert layer.count_params() == sum(w.size for w in layer.weights)


def check_output_shape_and_dtype(case, gen):
    for dtype in ("float32", "float64"):
        layer = case.layer(dtype=dtype)
        xs = case.inputs(gen, dtype=np.float32)       # layers cast to their dtype
        n = len(xs[0])
        for training in (False, True):
            y = layer(xs if case.multi else xs[0], training=training)
            assert isinstance(y, np.ndarray) and y.dtype == np.dtype(dtype)
            assert y.shape == (n,) + tuple(case.output_shape)
    model, _ = case.model()
    assert model.output_shape == (None,) + tuple(case.output_shape)


def check_config_round_trip(case):
    layer = case.layer()
    config = layer.get_config()
    json.dumps(config)                                 # model files hold it as JSON
    clone = case.cls.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    assert type(clone) is case.cls


def _loss_and_grads(model, xs, r):
    """sum(output * r) in training mode, and its gradients with respect to the inputs and
    the trainable weights (the plan of a training step)."""
    plan = Plan(model._graph, backward=True, input_gradients=True)
    out = plan.forward(xs, training=True)[0]
    weight_grads = plan.backward([r])
    return float(np.sum(out * r)), [g.copy() for g in plan.input_gradients], \
        [g.copy() for g in weight_grads]


def relative_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def check_gradients(case, gen, model=None):
    """Analytic input and weight gradients against central differences (float64)."""
    if model is None:
        model, _ = case.model()
        for w in model.weights:                        # weights away from their init values
            w[...] = gen.uniform(0.5, 1.5, w.shape)    # (moving variances stay positive)
        for w in model.trainable_weights:
            w *= np.where(gen.random(w.shape) < 0.5, -1, 1)
    xs = case.inputs(gen)
    plan = Plan(model._graph, backward=False)
    r = gen.standard_normal(plan.forward(xs, training=True)[0].shape)
    moving = [w.copy() for w in model.non_trainable_weights]
    _, dxs, dws = _loss_and_grads(model, xs, r)

    def loss():
        for w, saved in zip(model.non_trainable_weights, moving):
            w[...] = saved                             # training updates moving statistics
        return float(np.sum(plan.forward(xs, training=True)[0] * r))

    for i, (x, dx) in enumerate(zip(xs, dxs)):
        err = relative_error(dx, numeric_gradient(loss, x))
        assert err < FD_TOLERANCE, f"input {i}: relative error {err:.2e}"
    assert len(dws) == len(model.trainable_weights) == case.trainable
    for i, (w, dw) in enumerate(zip(model.trainable_weights, dws)):
        err = relative_error(dw, numeric_gradient(loss, w))
        assert err < FD_TOLERANCE, f"weight {i} {w.shape}: relative error {err:.2e}"


def check_fit_save_load(case, gen, tmp_path):
    utils.set_random_seed(0)
    model, _ = case.model(dtype="float32", head=True)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    xs = case.inputs(gen, batch=12, dtype=np.float32)
    y = gen.integers(0, 2, len(xs[0]))
    before = model.get_weights()
    history = model.fit(xs if case.multi else xs[0], y, batch_size=5, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    if model.trainable_weights:
        assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    path = tmp_path / "model.fcnn"
    model.save(path)
    loaded = load_model(path)
    assert [type(l) for l in loaded.layers] == [type(l) for l in model.layers]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.tobytes() == b.tobytes()
    data = xs if case.multi else xs[0]
    assert loaded.predict(data).tobytes() == model.predict(data).tobytes()
    loaded.fit(data, y, batch_size=5, epochs=1, verbose=0)     # trains on after loading
