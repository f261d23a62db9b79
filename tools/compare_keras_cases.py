"""The cases that tools/compare_keras.py runs on fastcnn and on Keras 3: plain data, no library.

Both sides build every model from the same description (``compare_keras_run.build_model``
translates it to each library's calls), so the two models cannot drift apart. A case is a dict:

- ``inputs``: ``[{"name", "shape", "data"}]``, ``data`` one of ``normal`` (N(0, 1)), ``pixels``
  (integers 0..255 as float32) or ``wide`` (N(0, 3): crosses ReLU thresholds and clips);
- ``layers``: ``[{"name", "class", "args", "inputs", "trainable"}]`` in call order, ``inputs``
  one node name or a list (``Add``, ``Concatenate``), the previous node when absent; ``class``
  and ``args`` are Keras' names; an ``args`` value ``{"@": "regularizers.L2", ...}`` is an
  object of the library's module;
- ``output``: the output node (the last layer when absent); ``sequential``: build with
  ``Sequential`` (a chain of one input) instead of ``Input`` + ``Model``;
- ``samples``: batch size of the data; ``randomize``: draw BatchNormalization's four weights
  and every bias (the initialisers make them 1/0, which would hide mistakes), a dict to
  change a draw (``compare_keras_run.DRAWS``);
- a layer entry may also have ``fixed_flips`` (a RandomFlip flips image i of every training
  batch where ``fixed_flips[i]``, on both sides, instead of drawing) and ``keras``: ``{"class",
  "args", "why"}``, the layer Keras builds instead, where its own cannot be the reference;
- ``forward``: run ``model(x, training=False)``, ``predict`` and ``model(x, training=True)``
  (``"inference"``: the first two only);
- ``fit``: training runs, each ``{"label", "optimizer": {"class", "args"}, "loss",
  "batch_size", "epochs"}`` from the same initial weights, and optionally ``kwargs`` (more
  ``fit`` arguments: ``sample_weight``, ``class_weight`` as ``{class: weight}``,
  ``initial_epoch``), ``callbacks`` (a list of ``{"@": "callbacks.Name", ...}``),
  ``evaluate`` (``evaluate``'s keyword arguments: evaluate on the initial and the trained
  weights), ``rates`` (record the learning rate after every batch); see compare_keras_fit.py;
- values anywhere in ``args``, ``loss``, ``kwargs``, ``callbacks``, ``evaluate``: ``{"@":
  "module.Class", ...}`` an object of the library's module (``"losses.
  CategoricalCrossentropy"``, ``"optimizers.schedules.CosineDecay"``, the other keys its
  arguments), ``{"fn": "module.name"}`` a function of a tools module (LearningRateScheduler's
  schedule), ``{"data": "sw"}`` an array of the case's data;
- ``targets``: ``onehot``, ``binary``, ``normal`` (shaped like the output) or ``sparse``
  (int32 labels); ``sample_weights``: also draw ``sw``, one weight per sample;
- ``tags``: for ``--skip`` / ``--only`` (``existing``: layers fastcnn has today; ``new``: the
  functional API and its layers; ``relu-options``: ReLU's ``max_value`` / ``negative_slope`` /
  ``threshold``; ``bn-axis``: BatchNormalization on another axis than the channels;
  ``regularizers``: ``kernel_regularizer`` / ``bias_regularizer``; ``recipes``: the training
  recipes of compare_keras_recipes.py (and the regularizers); ``augmentation``: its
  augmentation layers; ``slow``);
- ``tol``: overrides of :data:`TOLERANCES` for this case.
"""
import copy

# (rtol, atol): a result passes when max|fastcnn - keras| <= atol + rtol * max|keras|.
TOLERANCES = {
    "forward": (1e-5, 1e-6),    # one float32 pass: outputs, and moving stats after one call
    "losses": (1e-4, 1e-6),     # per-epoch and running per-batch losses of a few steps
    "weights": (1e-3, 1e-6),    # weights (and moving stats) after a few training steps
    # learning rates (a schedule's, a callback's): Keras computes and keeps them in float32,
    # fastcnn in double (rounded to float32 in the step), so they differ in float32's last bit
    "rates": (1e-6, 0.0),
    "exact": (0.0, 0.0),        # integers: history.epoch
}

SGD_MOMENTUM = {"class": "SGD", "args": {"learning_rate": 0.05, "momentum": 0.9}}
ADAM = {"class": "Adam", "args": {"learning_rate": 0.01}}
L2_1E4 = {"@": "regularizers.L2", "l2": 1e-4}


def _layer(name, cls, inputs=None, trainable=True, **args):
    entry = {"name": name, "class": cls, "args": args}
    if inputs is not None:
        entry["inputs"] = inputs
    if not trainable:
        entry["trainable"] = False
    return entry


def _input(name, shape, data="normal"):
    return {"name": name, "shape": list(shape), "data": data}


def _case(name, inputs, layers, tags=(), **options):
    case = {"name": name, "inputs": inputs, "layers": layers, "tags": list(tags),
            "samples": 8, "forward": True, "fit": [], "randomize": False}
    case.update(options)
    return case


def _one_layer(name, cls, shape=(5, 6, 4), data="normal", tags=(), **args):
    """A new layer alone after an Input: the model is ``Input -> layer``."""
    return _case(name, [_input("x", shape, data)], [_layer(name, cls, "x", **args)],
                 tags=("new",) + tuple(tags), randomize=cls == "BatchNormalization")


def batch_norm_cases():
    """BatchNormalization alone (random gamma/beta/moving stats), after a Conv2D, frozen, and
    its moving statistics after one ``fit`` step with SGD(learning_rate=0)."""
    cases = [
        _one_layer("bn_default", "BatchNormalization"),
        _one_layer("bn_momentum_eps", "BatchNormalization", momentum=0.8, epsilon=0.02),
        _one_layer("bn_no_center", "BatchNormalization", center=False),
        _one_layer("bn_no_scale", "BatchNormalization", scale=False),
        _one_layer("bn_no_center_no_scale", "BatchNormalization", center=False, scale=False),
        _case("bn_after_conv", [_input("x", (7, 7, 3))],
              [_layer("conv", "Conv2D", "x", filters=6, kernel_size=3, padding="same"),
               _layer("bn", "BatchNormalization")], tags=("new",), randomize=True),
        _case("bn_frozen", [_input("x", (5, 6, 4))],
              [_layer("bn", "BatchNormalization", "x", trainable=False)],
              tags=("new",), randomize=True),
    ]
    # a frozen BatchNormalization normalises with its moving statistics in fit too, and
    # neither trains nor updates them; the gradient reaching conv goes through that
    frozen = [_layer("conv", "Conv2D", "x", filters=4, kernel_size=3),
              _layer("bn", "BatchNormalization", trainable=False), _layer("flat", "Flatten"),
              _layer("dense", "Dense", units=3, activation="softmax")]
    cases.append(_case("bn_frozen_fit", [_input("x", (6, 6, 2))], frozen, tags=("new",),
                       samples=16, randomize=True, targets="onehot",
                       fit=[{"label": "sgd", "optimizer": SGD_MOMENTUM,
                             "loss": "categorical_crossentropy", "batch_size": 8,
                             "epochs": 2}]))
    cases.append(_one_layer("bn_axis1", "BatchNormalization", tags=("bn-axis",), axis=1))
    lr0 = {"class": "SGD", "args": {"learning_rate": 0.0}}
    cases.append(_case("bn_fit_lr0", [_input("x", (5, 6, 4))],
                       [_layer("bn", "BatchNormalization", "x", momentum=0.9)],
                       tags=("new",), randomize=True, forward=False, targets="normal",
                       fit=[{"label": "sgd_lr0", "optimizer": lr0, "loss": "mse",
                             "batch_size": 8, "epochs": 1}]))
    return cases


def pooling_merge_cases():
    """Global poolings, Add, Concatenate, ZeroPadding2D and Rescaling, one at a time."""
    two = [_input("a", (4, 5, 3)), _input("b", (4, 5, 3))]
    return [
        _one_layer("gap", "GlobalAveragePooling2D"),
        _one_layer("gap_keepdims", "GlobalAveragePooling2D", keepdims=True),
        _one_layer("gmp", "GlobalMaxPooling2D"),
        _one_layer("gmp_keepdims", "GlobalMaxPooling2D", keepdims=True),
        _case("add2", two, [_layer("add", "Add", ["a", "b"])], tags=("new",)),
        _case("add3", two + [_input("c", (4, 5, 3))], [_layer("add", "Add", ["a", "b", "c"])],
              tags=("new",)),
        _case("concat_last", [_input("a", (4, 5, 3)), _input("b", (4, 5, 2))],
              [_layer("cat", "Concatenate", ["a", "b"])], tags=("new",)),
        # Keras counts the batch axis: axis=1 is the image height
        _case("concat_axis1", [_input("a", (4, 5, 3)), _input("b", (2, 5, 3))],
              [_layer("cat", "Concatenate", ["a", "b"], axis=1)], tags=("new",)),
        _case("concat_axis_m2", [_input("a", (4, 5, 3)), _input("b", (4, 1, 3))],
              [_layer("cat", "Concatenate", ["a", "b"], axis=-2)], tags=("new",)),
        _one_layer("zeropad_default", "ZeroPadding2D"),
        _one_layer("zeropad_int", "ZeroPadding2D", padding=2),
        _one_layer("zeropad_pair", "ZeroPadding2D", padding=[1, 2]),
        _one_layer("zeropad_pairs", "ZeroPadding2D", padding=[[1, 0], [2, 3]]),
        _one_layer("rescale_255", "Rescaling", data="pixels", scale=1 / 255),
        _one_layer("rescale_offset", "Rescaling", data="pixels", scale=1 / 127.5, offset=-1.0),
    ]


def relu_cases():
    """ReLU with its defaults, and (tag ``relu-options``) the three Keras options."""
    options = ("relu-options",)
    return [
        _one_layer("relu_default", "ReLU"),
        _one_layer("relu_max_value", "ReLU", data="wide", tags=options, max_value=1.5),
        _one_layer("relu_negative_slope", "ReLU", tags=options, negative_slope=0.1),
        _one_layer("relu_threshold", "ReLU", data="wide", tags=options, threshold=0.5),
        _one_layer("relu_all_options", "ReLU", data="wide", tags=options, max_value=2.0,
                   negative_slope=0.2, threshold=0.3),
    ]


def residual_case(name, optimizer, conv_bias):
    """Every new layer in one small functional model, trained for 2 epochs of 4 batches.

    ``conv_bias=False`` drops the bias of the convolutions that feed a BatchNormalization:
    its true gradient is 0, so float noise (~1e-7) is all Adam sees there, and Adam's
    normalised step turns noise into steps of ``learning_rate`` of random sign.
    """
    layers = [
        _layer("rescale", "Rescaling", "pixels", scale=1 / 127.5, offset=-1.0),
        _layer("pad", "ZeroPadding2D", padding=1),
        _layer("conv1", "Conv2D", filters=8, kernel_size=3, use_bias=conv_bias),
        _layer("bn1", "BatchNormalization"),
        _layer("relu1", "ReLU"),
        _layer("conv2", "Conv2D", filters=8, kernel_size=3, padding="same", use_bias=conv_bias),
        _layer("bn2", "BatchNormalization"),
        _layer("add", "Add", ["relu1", "bn2"]),
        _layer("relu2", "ReLU"),
        _layer("side_conv", "Conv2D", "rescale", filters=4, kernel_size=1),
        _layer("side_relu", "ReLU"),
        _layer("cat", "Concatenate", ["relu2", "side_relu"]),
        _layer("gap", "GlobalAveragePooling2D", "cat"),
        _layer("gmp", "GlobalMaxPooling2D", "cat"),
        _layer("head_cat", "Concatenate", ["gap", "gmp"]),
        _layer("dense", "Dense", units=5, activation="softmax"),
    ]
    fit = {"label": optimizer["class"].lower(), "optimizer": optimizer,
           "loss": "categorical_crossentropy", "batch_size": 8, "epochs": 2}
    return _case(name, [_input("pixels", (10, 10, 3), "pixels")], layers, tags=("new",),
                 samples=32, randomize=True, targets="onehot", fit=[fit])


def _resnet_block(layers, x, name, filters, strides, activation=None, bn=True, kernel=3):
    """Keras' ``resnet_layer``: Conv2D(he_normal) -> BN -> activation; returns the node."""
    layers.append(_layer(name + "_conv", "Conv2D", x, filters=filters, kernel_size=kernel,
                         strides=strides, padding="same", kernel_initializer="he_normal"))
    x = name + "_conv"
    if bn:
        layers.append(_layer(name + "_bn", "BatchNormalization"))
        x = name + "_bn"
    if activation:
        layers.append(_layer(name + "_relu", "Activation", activation=activation))
        x = name + "_relu"
    return x


def resnet20_case():
    """ResNet-20 v1 of BENCHMARKS.md (Keras' ``cifar10_resnet``, depth 20; 274,442 params).

    Without the example's ``kernel_regularizer=l2(1e-4)``, so that the model's structure,
    forward passes and training are checked even while regularizers are missing; the penalty
    itself is :func:`regularizer_case`'s."""
    layers = []
    x = _resnet_block(layers, "image", "stem", 16, 1, activation="relu")
    filters = 16
    for stage in range(3):
        for block in range(3):
            name = f"s{stage + 1}b{block + 1}"
            strides = 2 if stage > 0 and block == 0 else 1
            y = _resnet_block(layers, x, name + "a", filters, strides, activation="relu")
            y = _resnet_block(layers, y, name + "b", filters, 1)
            if strides == 2:
                x = _resnet_block(layers, x, name + "_proj", filters, strides, bn=False,
                                  kernel=1)
            layers.append(_layer(name + "_add", "Add", [x, y]))
            layers.append(_layer(name + "_out", "Activation", activation="relu"))
            x = name + "_out"
        filters *= 2
    layers.append(_layer("gap", "GlobalAveragePooling2D", x))
    layers.append(_layer("dense", "Dense", units=10, activation="softmax",
                         kernel_initializer="he_normal"))
    fit = {"label": "sgd", "optimizer": SGD_MOMENTUM, "loss": "categorical_crossentropy",
           "batch_size": 8, "epochs": 1}
    # gamma in 0.2..0.5: with moving statistics drawn at random, nine residual blocks of
    # gamma ~1 grow the logits to ~100 and predict's softmax saturates (0 and 1 compare equal
    # whatever the logits); the training step's gradients were then ill-conditioned too
    # (Keras float32 1% off Keras float64, fastcnn float32 1e-4 off)
    return _case("resnet20", [_input("image", (32, 32, 3))], layers, tags=("new", "slow"),
                 samples=16, randomize={"gamma": (0.2, 0.5)}, targets="onehot", fit=[fit],
                 tol={"forward": (1e-4, 1e-5)})


def regularizer_case():
    """Penalties added to the loss as Keras adds them: objects and the ``"l2"`` name."""
    layers = [
        _layer("conv1", "Conv2D", filters=4, kernel_size=3, activation="relu",
               kernel_regularizer=L2_1E4),
        _layer("conv2", "Conv2D", filters=4, kernel_size=3,
               kernel_regularizer={"@": "regularizers.L1L2", "l1": 1e-3, "l2": 1e-3}),
        _layer("flat", "Flatten"),
        _layer("dense", "Dense", units=3, activation="softmax", kernel_regularizer="l2",
               bias_regularizer={"@": "regularizers.L1", "l1": 1e-2}),
    ]
    # evaluate's loss includes the penalties too
    fit = {"label": "sgd", "optimizer": SGD_MOMENTUM, "loss": "categorical_crossentropy",
           "batch_size": 8, "epochs": 2, "evaluate": {}}
    return _case("regularizers", [_input("x", (7, 7, 2))], layers,
                 tags=("regularizers", "recipes"),
                 samples=16, randomize=True, targets="onehot", fit=[fit])


def existing_cases():
    """Layers fastcnn has today, as ``Sequential`` (runs now) and as a functional twin."""
    cnn = [
        _layer("conv1", "Conv2D", filters=6, kernel_size=3, activation="relu"),
        _layer("pool", "MaxPooling2D"),
        _layer("conv2", "Conv2D", filters=8, kernel_size=3, padding="same"),
        _layer("act", "Activation", activation="relu"),
        _layer("flat", "Flatten"),
        _layer("hidden", "Dense", units=16, activation="relu"),
        _layer("dense", "Dense", units=5, activation="softmax"),
    ]
    rmsprop = {"class": "RMSprop", "args": {"learning_rate": 0.005}}
    fits = [{"label": label, "optimizer": opt, "loss": "categorical_crossentropy",
             "batch_size": 8, "epochs": 2}
            for label, opt in (("sgd", SGD_MOMENTUM), ("adam", ADAM), ("rmsprop", rmsprop))]
    strided = [
        _layer("conv", "Conv2D", filters=4, kernel_size=[3, 2], strides=[2, 1],
               padding="same", activation="tanh"),
        _layer("avg", "AveragePooling2D", pool_size=3, strides=2, padding="same"),
        _layer("max", "MaxPooling2D", pool_size=2, padding="same"),
        _layer("flat", "Flatten"),
        _layer("dense", "Dense", units=3, activation="sigmoid"),
    ]
    bce = [{"label": "adam", "optimizer": ADAM, "loss": "binary_crossentropy",
            "batch_size": 8, "epochs": 2}]
    mlp = [_layer("flat", "Flatten"), _layer("hidden", "Dense", units=8, activation="tanh"),
           _layer("dense", "Dense", units=3)]
    mse = [{"label": "sgd", "optimizer": {"class": "SGD", "args": {"learning_rate": 0.05}},
            "loss": "mse", "batch_size": 8, "epochs": 2}]
    image = [_input("image", (12, 12, 2))]
    seq = {"sequential": True, "samples": 32, "randomize": True, "tags": ["existing"]}
    return [
        dict(_case("seq_cnn", image, cnn, targets="onehot", fit=fits), **seq),
        dict(_case("seq_strided", [_input("image", (11, 9, 3))], strided, targets="binary",
                   fit=bce), **seq),
        dict(_case("seq_mlp", [_input("image", (4, 4, 2))], mlp, targets="normal", fit=mse),
             **seq),
        _case("fn_cnn", image, copy.deepcopy(cnn), tags=("new",), samples=32,
              randomize=True, targets="onehot", fit=fits[:1]),
    ]


def all_cases():
    """Every case, in the order the table shows them (the recipes' are in
    compare_keras_recipes.py, which uses this module's helpers)."""
    import compare_keras_recipes
    return (existing_cases() + batch_norm_cases() + pooling_merge_cases() + relu_cases()
            + [residual_case("residual_sgd", SGD_MOMENTUM, conv_bias=True),
               residual_case("residual_adam", ADAM, conv_bias=False),
               regularizer_case(), resnet20_case()] + compare_keras_recipes.recipe_cases())


def tolerance(case, kind):
    """The (rtol, atol) that results of ``kind`` in ``case`` are held to."""
    return tuple(case.get("tol", {}).get(kind, TOLERANCES[kind]))
