"""The compile settings of a Keras 3 model file (``compile_config`` in its ``config.json``) in
fastcnn's terms: the optimizers SGD, Adam, AdamW and RMSprop with their options and learning-rate
schedules, and the losses and accuracy metrics fastcnn has.

A reference to code or to an object outside Keras is a ``ValueError`` (see
:func:`fastcnn.keras_config.check_references`); a setting of Keras' own that fastcnn has not
(another optimizer, an exponential moving average, a loss per output...) is
:class:`Unsupported`, and the loader then warns and leaves the model uncompiled, as Keras does
when it cannot restore a compile configuration.
"""
from . import losses, optimizers
from .keras_config import KERAS_LOSS_NAMES, KERAS_METRIC_NAMES, check_references
from .optimizers import schedules

__all__ = ["Unsupported", "translate_compile"]


class Unsupported(Exception):
    """A compile setting of Keras' own that fastcnn cannot restore (the message says which)."""


_OPTIMIZER_ARGS = {"Adam": ("beta_1", "beta_2", "epsilon", "amsgrad"),
                   "AdamW": ("beta_1", "beta_2", "epsilon", "amsgrad"),
                   "SGD": ("momentum", "nesterov"),
                   "RMSprop": ("rho", "momentum", "epsilon", "centered")}
_OPTIMIZER_COMMON = ("name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm",
                     "clipvalue")
# Keras options fastcnn has not, restorable only at these values; the EMA's settings are unused
# without use_ema
_OPTIMIZER_OFF = {"use_ema": False, "loss_scale_factor": None,
                  "gradient_accumulation_steps": None}
_OPTIMIZER_UNUSED = ("ema_momentum", "ema_overwrite_frequency")
_SCHEDULE_ARGS = {"ExponentialDecay": ("initial_learning_rate", "decay_steps", "decay_rate",
                                       "staircase", "name"),
                  "PiecewiseConstantDecay": ("boundaries", "values", "name"),
                  "CosineDecay": ("initial_learning_rate", "decay_steps", "alpha",
                                  "warmup_target", "warmup_steps", "name")}
_LOSS_ARGS = {"CategoricalCrossentropy": ("from_logits", "label_smoothing"),
              "SparseCategoricalCrossentropy": ("from_logits",),
              "BinaryCrossentropy": ("from_logits", "label_smoothing"),
              "MeanSquaredError": ()}
_LOSS_FIXED = {"reduction": "sum_over_batch_size", "axis": -1, "ignore_class": None}
_METRIC_CLASSES = {"CategoricalAccuracy": "categorical_accuracy",
                   "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
                   "BinaryAccuracy": "binary_accuracy"}


def _compile_object(value, allowed, kind):
    if not isinstance(value, dict) or not isinstance(value.get("config", {}), dict):
        raise ValueError(f"compile config: {kind} {value!r} is not a serialized Keras object")
    if value.get("class_name") not in allowed:
        raise Unsupported(f"the {kind} {value.get('class_name')!r}")
    return value["class_name"], value.get("config", {})


def _arguments(config, cls, allowed, fixed, unused=()):
    args = {}
    for key, value in config.items():
        if key in fixed:
            if value != fixed[key]:
                raise Unsupported(f"the {cls} option {key}={value!r}")
        elif key in allowed:
            args[key] = value
        elif key not in unused:
            raise Unsupported(f"the {cls} option {key!r}")
    return args


def _optimizer(value):
    if isinstance(value, str) and value.lower() in ("adam", "adamw", "sgd", "rmsprop"):
        return optimizers.get(value.lower())
    if isinstance(value, str):
        raise Unsupported(f"the optimizer {value!r}")
    cls, config = _compile_object(value, _OPTIMIZER_ARGS, "optimizer")
    args = _arguments(config, cls, _OPTIMIZER_COMMON + _OPTIMIZER_ARGS[cls], _OPTIMIZER_OFF,
                      _OPTIMIZER_UNUSED)
    if isinstance(args.get("learning_rate"), dict):
        name, config = _compile_object(args["learning_rate"], _SCHEDULE_ARGS,
                                       "learning rate schedule")
        args["learning_rate"] = schedules.deserialize(
            {"class_name": name, "config": _arguments(config, name, _SCHEDULE_ARGS[name], {})})
    return optimizers.get({"class_name": cls, "config": args})


def _function_name(value):
    """A Keras function reference (already checked to name a function fastcnn has) -> name."""
    if isinstance(value, dict) and value.get("class_name") == "function":
        return value["config"]
    return value


def _loss(value):
    value = _function_name(value)
    if isinstance(value, str):
        if value.lower() not in KERAS_LOSS_NAMES:
            raise Unsupported(f"the loss {value!r}")
        return losses.get(value.lower())
    cls, config = _compile_object(value, _LOSS_ARGS, "loss")
    args = _arguments(config, cls, _LOSS_ARGS[cls], _LOSS_FIXED, ("name", "dtype"))
    return losses.get({"class_name": cls, "config": args})


def _metric(value):
    value = _function_name(value)
    if isinstance(value, str):
        if value.lower() not in KERAS_METRIC_NAMES:
            raise Unsupported(f"the metric {value!r}")
        return value
    cls, config = _compile_object(value, _METRIC_CLASSES, "metric")
    name = _METRIC_CLASSES[cls]
    _arguments(config, cls, (), {"name": name, "threshold": 0.5}, ("dtype",))
    return name


def translate_compile(config):
    """``(optimizer, loss, metrics)`` for the ``compile_config`` of a Keras model file. A
    reference to code or to an object outside Keras is a ValueError; a setting of Keras' own
    that fastcnn has not is :class:`Unsupported`."""
    check_references(config, "compile config", KERAS_LOSS_NAMES + KERAS_METRIC_NAMES)
    if not isinstance(config, dict):
        raise ValueError(f"the compile config {config!r} is not a dict")
    args = _arguments(config, "compile", ("optimizer", "loss", "metrics"),
                      {"loss_weights": None, "weighted_metrics": None},
                      ("run_eagerly", "steps_per_execution", "jit_compile"))
    loss, metric_list = args.get("loss"), args.get("metrics") or []
    if loss is None:
        raise Unsupported("a compile config without a loss")
    if isinstance(loss, list) or (isinstance(loss, dict) and "class_name" not in loss):
        raise Unsupported("a loss per output")
    if not isinstance(metric_list, list):
        raise Unsupported("metrics per output")
    return (_optimizer(args.get("optimizer", "rmsprop")), _loss(loss),
            [_metric(m) for m in metric_list])
