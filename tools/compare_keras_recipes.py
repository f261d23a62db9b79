"""The training-recipe cases of tools/compare_keras.py (tag ``recipes``; issue 13): optimizers'
options, learning-rate schedules, losses with arguments, sample and class weights,
``initial_epoch``, callbacks that change the learning rate, and the augmentation layers.

Plain data like compare_keras_cases.py (whose helpers and format they use), plus the
``LearningRateScheduler`` schedules, plain Python functions that both sides import from here
(``{"fn": "compare_keras_recipes.<name>"}``). The training cases fit one small model (conv
without bias -> BatchNormalization -> ReLU -> max pooling -> dense; random BN weights and
biases) on a few batches in order, each run from the same initial weights, and compare the
per-batch and per-epoch losses, every ``history`` value, the learning rate after every batch
(runs with ``rates``) and the trained weights.

Augmentation: the random draws of the two libraries differ by design, so a training-mode
output is compared only for ``RandomFlip`` with both sides' draws replaced by one fixed flip
pattern (``fixed_flips``: each library's own draw hook, see the adapters' ``fix_flips``);
there the gradient through the flip is checked by ``fit`` as well. In inference RandomFlip and
RandomTranslation return their input (compared exactly: Keras returns it unchanged).
RandomCrop's inference (the largest centred box of the crop's aspect ratio, resized
bilinearly) is compared with Keras' ``Resizing(height, width, crop_to_aspect_ratio=True)``,
that is ``keras.ops.image.resize(x, (height, width), crop_to_aspect_ratio=True)``, because
Keras 3.15's own RandomCrop returns its input unchanged in inference (keras-team/keras#21868:
its ``transform_images`` resizes only under ``if training``).
"""
from compare_keras_cases import SGD_MOMENTUM, _case, _input, _layer

RECIPES = ("recipes",)
AUGMENTATION = ("recipes", "augmentation")
CATEGORICAL = "categorical_crossentropy"


# -- LearningRateScheduler's schedules (the same functions on both sides) -----------------------
def halve_after_first_epoch(epoch, learning_rate):
    """``schedule(epoch, lr)``: the rate unchanged in epoch 0, halved at each later epoch."""
    return learning_rate if epoch == 0 else learning_rate * 0.5


def rate_of_epoch(epoch):
    """``schedule(epoch)`` alone: both libraries call it so when ``schedule(epoch, lr)`` raises
    TypeError."""
    return 0.02 / (1.0 + epoch)


# -- descriptions --------------------------------------------------------------------------------
def _opt(cls, **args):
    return {"class": cls, "args": args}


def _obj(path, **args):
    """An object of the library's module (``"losses.CategoricalCrossentropy"``)."""
    return dict({"@": path}, **args)


def _run(label, optimizer, loss=CATEGORICAL, epochs=2, **extra):
    return dict({"label": label, "optimizer": optimizer, "loss": loss, "batch_size": 8,
                 "epochs": epochs}, **extra)


def _small_cnn(units, activation):
    return [
        _layer("conv", "Conv2D", "x", filters=4, kernel_size=3, use_bias=False),
        _layer("bn", "BatchNormalization"),
        _layer("relu", "ReLU"),
        _layer("pool", "MaxPooling2D"),
        _layer("flat", "Flatten"),
        _layer("dense", "Dense", units=units, activation=activation),
    ]


def _recipe(name, runs, targets="onehot", units=3, activation="softmax", samples=32,
            **options):
    """The small model on ``samples`` images of 8x8x2 (batches of 8), trained by ``runs``."""
    return _case(name, [_input("x", (8, 8, 2))], _small_cnn(units, activation),
                 tags=RECIPES, samples=samples, randomize=True, targets=targets, fit=runs,
                 forward=False, **options)


def optimizer_case():
    """Weight decay, the three clips, AdamW, Nesterov momentum, centred RMSprop with momentum.
    The clip thresholds are below the gradients' (per-variable and global) norms and values,
    so that every clip acts."""
    runs = [
        _run("sgd_weight_decay", _opt("SGD", learning_rate=0.05, momentum=0.9,
                                      weight_decay=0.01)),
        _run("sgd_clipnorm", _opt("SGD", learning_rate=0.1, clipnorm=0.05)),
        _run("rmsprop_clipvalue", _opt("RMSprop", learning_rate=0.005, clipvalue=0.01)),
        _run("adam_global_clipnorm", _opt("Adam", learning_rate=0.01, global_clipnorm=0.1)),
        _run("adam_weight_decay_clipnorm", _opt("Adam", learning_rate=0.01, weight_decay=0.05,
                                                clipnorm=0.05)),
        _run("adamw", _opt("AdamW", learning_rate=0.01, weight_decay=0.05)),
        _run("sgd_nesterov", _opt("SGD", learning_rate=0.05, momentum=0.9, nesterov=True)),
        _run("rmsprop_centered_momentum", _opt("RMSprop", learning_rate=0.005, centered=True,
                                               momentum=0.5)),
    ]
    return _recipe("recipe_optimizers", runs)


def schedule_case():
    """Learning rates as schedules over 12 steps, the rate recorded after every batch."""
    def schedule(cls, **args):
        return _obj("optimizers.schedules." + cls, **args)
    exponential = schedule("ExponentialDecay", initial_learning_rate=0.1, decay_steps=3,
                           decay_rate=0.5)
    staircase = dict(exponential, staircase=True)
    piecewise = schedule("PiecewiseConstantDecay", boundaries=[3, 7], values=[0.1, 0.05, 0.01])
    # warm-up over 4 steps, decay over 6, then 2 steps at the floor alpha * warmup_target
    cosine = schedule("CosineDecay", initial_learning_rate=0.001, decay_steps=6, alpha=0.1,
                      warmup_target=0.01, warmup_steps=4)
    runs = [
        _run("sgd_exponential", _opt("SGD", learning_rate=exponential, momentum=0.9)),
        _run("sgd_exponential_staircase", _opt("SGD", learning_rate=staircase)),
        _run("sgd_piecewise", _opt("SGD", learning_rate=piecewise, momentum=0.9)),
        _run("adam_cosine_warmup", _opt("Adam", learning_rate=cosine)),
        # the decoupled decay is scaled by the scheduled rate
        _run("adamw_cosine", _opt("AdamW", learning_rate=schedule(
            "CosineDecay", initial_learning_rate=0.01, decay_steps=8), weight_decay=0.05)),
    ]
    for run in runs:
        run.update(epochs=3, rates=True)
    return _recipe("recipe_schedules", runs)


def loss_cases():
    """Loss objects with arguments (fastcnn feeds them the logits of the softmax / sigmoid
    output, as Keras' TensorFlow backend does), each also through ``evaluate``."""
    adam = _opt("Adam", learning_rate=0.01)
    return [
        _recipe("recipe_cce_smoothing", [_run(
            "sgd", SGD_MOMENTUM, _obj("losses.CategoricalCrossentropy", label_smoothing=0.1),
            evaluate={})]),
        _recipe("recipe_bce_smoothing", [_run(
            "adam", adam, _obj("losses.BinaryCrossentropy", label_smoothing=0.2),
            evaluate={})], targets="binary", activation="sigmoid"),
        _recipe("recipe_sparse_cce", [
            _run("sgd", SGD_MOMENTUM, _obj("losses.SparseCategoricalCrossentropy"),
                 evaluate={}),
            _run("sgd_class_weight", SGD_MOMENTUM, "sparse_categorical_crossentropy",
                 kwargs={"class_weight": {0: 0.5, 1: 2.0, 2: 1.5}})], targets="sparse"),
    ]


def weights_case():
    """``fit(sample_weight=)`` and ``evaluate(sample_weight=)`` (weights in [0, 2), some 0),
    ``fit(class_weight=)`` on one-hot targets, and ``initial_epoch``; 28 samples, so the last
    batch of each epoch has 4."""
    sw = {"sample_weight": {"data": "sw"}}
    runs = [
        _run("sample_weight", SGD_MOMENTUM, kwargs=sw, evaluate=sw),
        _run("class_weight", SGD_MOMENTUM, kwargs={"class_weight": {0: 0.5, 1: 2.0, 2: 1.0}}),
        _run("initial_epoch", SGD_MOMENTUM, epochs=3, kwargs={"initial_epoch": 1}),
    ]
    return _recipe("recipe_weights", runs, samples=28, sample_weights=True)


def callback_case():
    """ReduceLROnPlateau on the training loss, LearningRateScheduler with ``schedule(epoch,
    lr)`` and with ``schedule(epoch)`` (from ``initial_epoch=1``): ``history["learning_rate"]``,
    the rate after every batch, and the losses."""
    plateau = _obj("callbacks.ReduceLROnPlateau", monitor="loss", factor=0.5, patience=1,
                   mode="min")

    def scheduler(name):
        return _obj("callbacks.LearningRateScheduler",
                    schedule={"fn": "compare_keras_recipes." + name})
    runs = [
        # a rate high enough that the epoch loss stops improving and the callback acts
        _run("reduce_lr_on_plateau", _opt("SGD", learning_rate=0.5, momentum=0.9),
             epochs=6, callbacks=[plateau]),
        _run("lr_scheduler", SGD_MOMENTUM, epochs=3,
             callbacks=[scheduler("halve_after_first_epoch")]),
        _run("lr_scheduler_epoch_only", _opt("SGD", learning_rate=0.05), epochs=4,
             kwargs={"initial_epoch": 1}, callbacks=[scheduler("rate_of_epoch")]),
    ]
    for run in runs:
        run["rates"] = True
    return _recipe("recipe_callbacks", runs)


# -- augmentation layers -------------------------------------------------------------------------
def _crop(name, height, width, source=None):
    """RandomCrop, and for Keras its inference as a stand-in (see the module's docstring)."""
    entry = _layer(name, "RandomCrop", source, height=height, width=width)
    entry["keras"] = {"class": "Resizing", "args": {"height": height, "width": width,
                                                    "crop_to_aspect_ratio": True},
                      "why": "Keras 3.15's RandomCrop returns its input in inference "
                             "(keras-team/keras#21868)"}
    return entry


def _inference(name, shape, layers, data="normal", **options):
    return _case(name, [_input("x", shape, data)], layers, tags=AUGMENTATION,
                 forward="inference", **options)


# a fixed flip pattern for a batch of up to 16 images (both values in the first 8)
FLIPS = [True, False, False, True, True, True, False, False,
         False, True, True, False, True, False, False, True]


def augmentation_cases():
    """Inference of the three layers (alone and in a model), and RandomFlip in training with
    a fixed flip pattern (forward, and fit through the flip)."""
    identity = [_layer("flip", "RandomFlip", "x"),
                _layer("flip_h", "RandomFlip", mode="horizontal"),
                _layer("translate", "RandomTranslation", height_factor=0.3,
                       width_factor=[-0.2, 0.4]),
                _layer("translate_nearest", "RandomTranslation", height_factor=0.5,
                       width_factor=0.5, fill_mode="constant", interpolation="nearest")]
    in_model = [_layer("rescale", "Rescaling", "x", scale=1 / 127.5, offset=-1.0),
                _layer("flip", "RandomFlip"),
                _layer("translate", "RandomTranslation", height_factor=0.1, width_factor=0.1),
                _crop("crop", 10, 10),
                _layer("conv", "Conv2D", filters=6, kernel_size=3, activation="relu"),
                _layer("gap", "GlobalAveragePooling2D"),
                _layer("dense", "Dense", units=4, activation="softmax")]
    cases = [
        # output == input exactly (Keras' is the input, unchanged)
        _inference("aug_identity", (7, 9, 3), identity, tol={"forward": (0.0, 0.0)}),
        _inference("aug_crop_down", (9, 12, 3), [_crop("crop", 6, 6, "x")]),
        _inference("aug_crop_aspect", (10, 10, 3), [_crop("crop", 4, 7, "x")]),
        _inference("aug_crop_up", (5, 6, 2), [_crop("crop", 8, 8, "x")]),
        _inference("aug_crop_same", (8, 8, 3), [_crop("crop", 8, 8, "x")]),
        _inference("aug_in_model", (12, 14, 3), in_model, "pixels", randomize=True),
    ]
    for suffix, mode in (("h", "horizontal"), ("v", "vertical"),
                         ("hv", "horizontal_and_vertical")):
        flip = _layer("flip", "RandomFlip", mode=mode)
        flip["fixed_flips"] = FLIPS
        layers = [_layer("conv", "Conv2D", "x", filters=3, kernel_size=3, padding="same"),
                  flip, _layer("flat", "Flatten"),
                  _layer("dense", "Dense", units=3, activation="softmax")]
        cases.append(_case(f"aug_flip_fixed_{suffix}", [_input("x", (6, 5, 2))], layers,
                           tags=AUGMENTATION, samples=16, randomize=True, targets="onehot",
                           fit=[_run("sgd", SGD_MOMENTUM)]))
    return cases


def recipe_cases():
    """Every case of this module, in the order the table shows them."""
    return ([optimizer_case(), schedule_case()] + loss_cases()
            + [weights_case(), callback_case()] + augmentation_cases())
