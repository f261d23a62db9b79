"""The fusion rules of the execution plan (fastcnn.models.fusion): where they apply, where
they must not, and that a model trains to bitwise the same weights with fusion on and off
(``compile(fuse=False)``) at 1, 2 and 3 threads: the seed model, a K-CNN-like model, a ResNet,
residual models with and without normalization and a model that uses every layer type."""
import numpy as np
import pytest

import fastcnn
from fastcnn.layers import (Activation, Add, BatchNormalization, Concatenate, Conv2D, Dense,
                            Dropout, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Input,
                            MaxPool2D, ReLU, Rescaling, ZeroPadding2D)
from fastcnn.models import Model, Sequential
from fastcnn.models.plan import Plan
from fastcnn.utils import set_random_seed, to_categorical
from conftest import assert_close, numeric_gradient, widen
from layer_harness import FD_TOLERANCE, relative_error


def seed_model():
    return Sequential([Conv2D(8, (3, 3), activation="relu", input_shape=[16, 16, 2]),
                       MaxPool2D(), Flatten(), Dense(4, activation="softmax")])


def second_layer_model():
    return Sequential([Conv2D(4, (3, 3), input_shape=[12, 12, 1]),
                       Conv2D(6, (3, 3), activation="relu"), MaxPool2D(), Flatten(),
                       Dense(4, activation="softmax")])


def overlapping_windows_model():
    return Sequential([Conv2D(8, (3, 3), activation="relu", input_shape=[11, 12, 2]),
                       MaxPool2D(pool_size=(2, 3), strides=(1, 2)), Flatten(),
                       Dense(4, activation="softmax")])


def kcnn_like_model():
    """The Keras cifar10_cnn pattern: Conv2D - Activation(relu) pairs, max pooling, dropout."""
    return Sequential([Conv2D(8, 3, padding="same", input_shape=[12, 12, 3]),
                       Activation("relu"), Conv2D(8, 3), Activation("relu"), MaxPool2D(),
                       Dropout(0.25), Conv2D(16, 3, padding="same"), Activation("relu"),
                       MaxPool2D(), Flatten(), Dense(16), Activation("relu"), Dropout(0.5),
                       Dense(4), Activation("softmax")])


def gemm_pool_model():
    """A max pooling after a convolution over 20 channels: the GEMM pooled image by image."""
    return Sequential([Conv2D(20, 3, padding="same", input_shape=[10, 10, 3]),
                       Activation("relu"), Conv2D(8, 3, activation="relu"), MaxPool2D(),
                       Flatten(), Dense(4, activation="softmax")])


def resnet_like_model():
    """Conv-BN-ReLU stem, two residual blocks (the second strided, with a 1x1 projection),
    global average pooling."""
    inp = Input((12, 12, 3))

    def conv_bn(x, filters, strides=1, relu=True):
        x = BatchNormalization()(Conv2D(filters, 3, strides=strides, padding="same")(x))
        return Activation("relu")(x) if relu else x

    x = conv_bn(inp, 8)
    y = conv_bn(conv_bn(x, 8), 8, relu=False)
    x = Activation("relu")(Add()([x, y]))
    y = conv_bn(conv_bn(x, 16, strides=2), 16, relu=False)
    x = Activation("relu")(Add()([Conv2D(16, 1, strides=2)(x), y]))
    return Model(inp, Dense(4, activation="softmax")(GlobalAveragePooling2D()(x)))


def every_layer_model():
    """A residual model with every layer type, a ReLU-into-pooling rule that applies (the
    stem) and one that must not (a convolution also read by an Add)."""
    inp = Input((14, 14, 2))
    x = ZeroPadding2D(1)(Rescaling(1 / 4.0, offset=-0.5)(inp))
    x = MaxPool2D()(Conv2D(8, 3, activation="relu")(x))                      # fused
    c = Conv2D(8, 3, padding="same", activation="relu")(x)
    shortcut = Add()([MaxPool2D(1)(c), c])                     # c read twice: no fusion
    y = ReLU()(BatchNormalization()(Conv2D(8, 3, padding="same")(shortcut)))
    y = MaxPool2D()(y)                                                          # fused
    z = Concatenate()([GlobalAveragePooling2D()(y), GlobalMaxPooling2D()(y)])
    z = Dropout(0.3)(Dense(12, activation="relu")(z))
    return Model(inp, Dense(4, activation="softmax")(z))


def frozen_bn_model():
    """A frozen BatchNormalization (moving statistics in training too) and a Dense without
    bias, each followed by a ReLU layer; a ReLU before a pooling that is not a max pooling."""
    inp = Input((10, 10, 3))
    bn = BatchNormalization(trainable=False, moving_mean_initializer="ones",
                            moving_variance_initializer="ones")
    x = ReLU()(bn(Conv2D(6, 3, use_bias=False)(inp)))
    x = Activation("relu")(Conv2D(6, 3, strides=2, padding="same")(x))
    x = ReLU()(Dense(8, use_bias=False)(Flatten()(x)))
    return Model(inp, Dense(4, activation="softmax")(x))


def residual_variants_model():
    """Residual ends the BatchNormalization + Add + ReLU rule takes (the normalization as the
    Add's first input; a frozen normalization, whose step runs the layers one by one) and one
    it must not (the normalization's input also read by a pooling)."""
    inp = Input((10, 10, 3))
    c = Conv2D(6, 3, padding="same")(inp)
    a = Activation("relu")(Add()([BatchNormalization()(Conv2D(6, 3, padding="same")(c)), c]))
    frozen = BatchNormalization(trainable=False, moving_mean_initializer="ones",
                                moving_variance_initializer="ones")
    b = ReLU()(Add()([a, frozen(Conv2D(6, 3, padding="same")(a))]))
    d = Conv2D(6, 3, padding="same")(b)
    e = Activation("relu")(Add()([BatchNormalization()(d), MaxPool2D(1)(d)]))   # d read twice
    return Model(inp, Dense(4, activation="softmax")(GlobalAveragePooling2D()(e)))


def conv_add_model():
    """Residual ends without normalization that the convolution + Add rule takes in
    inference: a 3x3 convolution over 16 channels (the few-channel kernel) added to the
    block's input with a ReLU layer after, one over 24 (the GEMM) as the Add's first input
    without a ReLU, a pointwise one (summed in a pass of its own); and an Add whose
    convolution is also read elsewhere (not taken)."""
    inp = Input((10, 10, 3))
    c = Conv2D(16, 3, padding="same", activation="relu")(inp)
    a = ReLU()(Add()([c, Conv2D(16, 3, padding="same")(c)]))
    b = Conv2D(24, 3, padding="same", activation="relu")(a)
    d = Add()([Conv2D(24, 3, padding="same")(b), b])
    e = Activation("relu")(Add()([Conv2D(24, 1)(d), d]))
    f = Conv2D(24, 3, padding="same")(e)
    g = Add()([f, MaxPool2D(1)(f)])                                   # f read twice
    return Model(inp, Dense(4, activation="softmax")(GlobalAveragePooling2D()(g)))


MODELS = {"seed": (seed_model, (16, 16, 2)), "second_layer": (second_layer_model, (12, 12, 1)),
          "overlapping_windows": (overlapping_windows_model, (11, 12, 2)),
          "kcnn_like": (kcnn_like_model, (12, 12, 3)),
          "gemm_pool": (gemm_pool_model, (10, 10, 3)),
          "resnet_like": (resnet_like_model, (12, 12, 3)),
          "every_layer": (every_layer_model, (14, 14, 2)),
          "frozen_bn": (frozen_bn_model, (10, 10, 3)),
          "residual_variants": (residual_variants_model, (10, 10, 3)),
          "conv_add": (conv_add_model, (10, 10, 3))}
# The fused steps of each model's training plan, then of its predict plan
FUSED_STEPS = {
    "seed": (["ConvReluMaxPoolStep"], ["ConvReluMaxPoolStep"]),
    "second_layer": (["ConvReluMaxPoolStep"], ["ConvReluMaxPoolStep"]),
    "overlapping_windows": (["ConvReluMaxPoolStep"], ["ConvReluMaxPoolStep"]),
    "kcnn_like": (["ReluStep", "ConvReluMaxPoolStep", "ConvReluMaxPoolStep", "ReluStep"],
                  ["ReluStep", "ConvReluMaxPoolStep", "ConvReluMaxPoolStep", "ReluStep"]),
    "gemm_pool": (["ReluStep", "ConvReluMaxPoolStep"], ["ReluStep", "ConvReluMaxPoolStep"]),
    # BN + ReLU three times, BN + Add + ReLU twice (at the Adds' places); in predict each
    # block's second convolution with its normalization, the Add and the ReLU
    "resnet_like": (["ReluStep", "ReluStep", "BatchNormAddReluStep", "ReluStep",
                     "BatchNormAddReluStep"],
                    ["FoldedBatchNormStep"] * 2 + ["ConvAddStep", "FoldedBatchNormStep",
                                                   "ConvAddStep"]),
    "every_layer": (["ConvReluMaxPoolStep", "ReluMaxPoolStep"],
                    ["ConvReluMaxPoolStep", "FoldedBatchNormStep"]),
    "frozen_bn": (["ReluStep"] * 3, ["FoldedBatchNormStep", "ReluStep", "ReluStep"]),
    "residual_variants": (["BatchNormAddReluStep", "BatchNormAddReluStep", "ReluStep"],
                          ["ConvAddStep", "ConvAddStep", "ReluStep"]),
    "conv_add": (["ReluStep", "ReluStep"], ["ConvAddStep"] * 3),
}
# models whose predict plan folds batch normalization into a convolution (not bitwise): in a
# FoldedBatchNormStep, or a ConvAddStep (conv_add's have no normalization)
FOLDS = {"resnet_like", "every_layer", "frozen_bn", "residual_variants"}
assert FOLDS == {name for name, (_, steps) in FUSED_STEPS.items()
                 if {"FoldedBatchNormStep", "ConvAddStep"} & set(steps)} - {"conv_add"}


def _fused_steps(model, purpose="train"):
    plan = model._plan(model._graph, purpose)
    return [type(s).__name__ for s in plan.steps if len(s.layers) > 1]


def _train(name, fuse, threads, predict=True):
    build, shape = MODELS[name]
    rng = np.random.default_rng(3)
    x = np.round(rng.standard_normal((40,) + shape), 1).astype(np.float32)     # ties
    y = to_categorical(rng.integers(0, 4, 40), 4)
    before = fastcnn.get_num_threads()
    fastcnn.set_num_threads(threads)
    try:
        set_random_seed(4)
        model = build()
        model.compile(optimizer="adam", loss="categorical_crossentropy", fuse=fuse)
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)    # 16, 16, 8
        return (model, history.history["loss"],
                model.predict(x, batch_size=16) if predict else None)
    finally:
        fastcnn.set_num_threads(before)


@pytest.mark.parametrize("name", list(MODELS))
def test_training_with_and_without_fusion_gives_bitwise_the_same_model(name):
    fused, fused_loss, fused_pred = _train(name, True, 2)
    assert (_fused_steps(fused), _fused_steps(fused, "predict")) == FUSED_STEPS[name]
    for threads in (2, 1, 3):
        plain, plain_loss, plain_pred = _train(name, False, threads)
        assert _fused_steps(plain) == [] and _fused_steps(plain, "predict") == []
        for a, b in zip(fused.get_weights(), plain.get_weights()):
            assert a.tobytes() == b.tobytes()
        assert fused_loss == plain_loss
        if name in FOLDS:     # folding rounds differently: test_batch_norm_folding_...
            assert_close(fused_pred, widen(plain_pred), np.float32, "predict")
        else:
            assert fused_pred.tobytes() == plain_pred.tobytes()


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_batch_norm_folding_changes_only_the_rounding_and_not_training_mode_calls(name):
    """A folded convolution gives what the convolution and the normalization give, to float32
    rounding (the fold is computed in float64 and rounded once) for predict and evaluate; a
    call in training mode through the same kind of plan runs the layers one by one (batch
    statistics), bitwise as without fusion."""
    fused = _train(name, True, 2, predict=False)[0]
    build, shape = MODELS[name]
    plain = build()
    plain.compile(optimizer="adam", loss="categorical_crossentropy", fuse=False)
    plain.set_weights(fused.get_weights())
    x = np.random.default_rng(5).standard_normal((24,) + shape).astype(np.float32)
    y = to_categorical(np.arange(24) % 4, 4)
    assert_close(fused.predict(x, batch_size=10), widen(plain.predict(x, batch_size=10)),
                 np.float32, "predict")
    assert abs(fused.evaluate(x, y, verbose=0) - plain.evaluate(x, y, verbose=0)) < 1e-5
    outs = []
    for model in (fused, plain):
        set_random_seed(6)                                        # the same dropout masks
        outs.append(model(x, training=True).tobytes())
    assert outs[0] == outs[1]
    unfolded = np.concatenate([w.ravel() for w in plain.get_weights()])
    assert unfolded.tobytes() == np.concatenate([w.ravel() for w in fused.get_weights()]
                                                ).tobytes()      # weights left alone


def test_the_seed_models_fused_step_never_writes_the_convolution_output_or_its_gradient():
    """The first layer's forward runs the fused kernel (no convolution output buffer) and its
    weight gradients come from the pooling's gradient and picks (no gradient buffer for the
    convolution's output); a second-layer convolution still gets its dx through the picks."""
    fused = _train("seed", True, 2, predict=False)[0]      # predict has a plan of its own
    step = fused._plan(fused._graph, "train").steps[0]
    assert not step.state.has_buffer("z") and not step.pool_state.has_buffer("dz")
    second = _train("second_layer", True, 2, predict=False)[0]
    step = second._plan(second._graph, "train").steps[1]
    assert not step.state.has_buffer("z") and step.pool_state.has_buffer("dz")
    overlapping = _train("overlapping_windows", True, 2, predict=False)[0]
    step = overlapping._plan(overlapping._graph, "train").steps[0]
    assert step.pool_state.has_buffer("dz")            # windows overlap: no weights from picks
    gemm = _train("gemm_pool", True, 2, predict=False)[0]    # 20 channels: the GEMM, pooled
    step = gemm._plan(gemm._graph, "train").steps[1]
    assert not step.state.has_buffer("z") and step.pool_state.has_buffer("dz")


def test_predict_pools_in_cache_without_picks_and_falls_back_bitwise():
    """In inference the Conv2D + ReLU + max pooling step pools each image's convolution in
    cache and records no picks (a few-channel convolution, 8 channels; a GEMM one, 24
    channels); a convolution the fused kernels decline (a 1x1 kernel: a pointwise product)
    runs, then plain pooling. All predict bitwise as the layers one by one."""
    gen = np.random.default_rng(7)
    for channels, kernel, declined in ((8, 3, False), (24, 3, False), (24, 1, True)):
        preds = []
        for fuse in (True, False):
            set_random_seed(5)
            model = Sequential([Conv2D(5, kernel, padding="same",
                                       input_shape=[9, 10, channels]),
                                Activation("relu"), MaxPool2D(), Flatten(), Dense(3)])
            model.compile(optimizer="adam", loss="mse", fuse=fuse)
            x = gen.standard_normal((12, 9, 10, channels)).astype(np.float32)
            preds.append(model.predict(x, batch_size=5))
            if fuse:
                step = model._plan(model._graph, "predict").steps[0]
                assert type(step).__name__ == "ConvReluMaxPoolStep"
                assert step.state.has_buffer("z") == declined
                assert not step.pool_state.has_buffer("picks")
            gen = np.random.default_rng(7)
        assert preds[0].tobytes() == preds[1].tobytes()


def test_relu_into_pooling_applies_only_where_the_pooling_is_the_sole_reader():
    """A convolution whose ReLU output a max pooling and another layer both read keeps its
    own ReLU backward pass (folding it into the pooling would be wrong for the other path);
    the gradients match finite differences (float64)."""
    inp = Input((6, 6, 2), dtype="float64")
    c = Conv2D(3, 3, padding="same", activation="relu", dtype="float64")(inp)
    pooled = Flatten(dtype="float64")(MaxPool2D(dtype="float64")(c))
    other = Flatten(dtype="float64")(Conv2D(2, 1, dtype="float64")(c))
    model = Model(inp, Dense(3, dtype="float64")(Concatenate(dtype="float64")([pooled, other])))
    plan = Plan(model._graph, backward=True, input_gradients=True)
    assert all(len(s.layers) == 1 for s in plan.steps)
    gen = np.random.default_rng(0)
    x = gen.standard_normal((2, 6, 6, 2))
    r = gen.standard_normal((2, 3))
    plan.forward([x], training=True)
    grads = [g.copy() for g in plan.backward([r])]

    def loss():
        return float(np.sum(plan.forward([x], training=True)[0] * r))

    for w, g in zip(model.trainable_weights, grads):
        assert relative_error(g, numeric_gradient(loss, w)) < FD_TOLERANCE


@pytest.mark.parametrize("keepdims", [False, True], ids=["gap", "gap_keepdims_flatten"])
def test_global_pooling_feeds_dense_without_a_copy(keepdims):
    """The Dense after a global pooling reads the pooling's own result buffer (and its
    gradient goes back in the Dense's buffer), with or without a Flatten in between."""
    inp = Input((6, 6, 3))
    pooled = GlobalAveragePooling2D(keepdims=keepdims)(Conv2D(5, 3)(inp))
    if keepdims:
        pooled = Flatten()(pooled)
    model = Model(inp, Dense(4, activation="softmax")(pooled))
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((8, 6, 6, 3)).astype(np.float32)
    model.fit(x, to_categorical(np.arange(8) % 4, 4), batch_size=8, verbose=0)
    steps = model._plan(model._graph, "train").steps
    pool_step = next(s for s in steps if isinstance(s.layer, GlobalAveragePooling2D))
    dense_step = steps[-1]
    assert np.shares_memory(dense_step.state.x, pool_step.state.buffer("y", (8, 5), np.float32)
                            if not keepdims else
                            pool_step.state.buffer("y", (8, 1, 1, 5), np.float32))
