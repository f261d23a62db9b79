"""Keras 3 model configurations (the ``config.json`` of a ``.keras`` file) in fastcnn's terms.

Only names on fixed lists are honoured: the layer classes below (each Keras argument mapped
to fastcnn's, or required to keep the value fastcnn computes with), Keras' own initializers,
regularizers and dtype policies, and in the compile settings the optimizers, schedules,
losses and metrics fastcnn has. Every object a config names must come from Keras' own
modules (``keras``, ``keras.layers``...) and carry no registered name of a package; a Python
lambda (marshalled code), a function reference, a custom or unknown class, or an argument
fastcnn cannot honour is a ``ValueError`` naming it. Nothing named here is ever imported:
the translation is table lookups on JSON values, and fastcnn builds the model from its own
registry (:func:`fastcnn.models.config.functional_from_config`, ``Sequential.from_config``).

The compile settings are read by :mod:`fastcnn.keras_compile`.
"""
import re

__all__ = ["check_references", "translate_model", "KERAS_LOSS_NAMES", "KERAS_METRIC_NAMES",
           "KERAS_ONLY_INITIALIZERS"]

_KERAS_MODULE = re.compile(r"keras(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_DROP = object()
_MAX_DEPTH = 64


# ---- references to code ------------------------------------------------------------------------
KERAS_LOSS_NAMES = ("categorical_crossentropy", "sparse_categorical_crossentropy",
                    "binary_crossentropy", "mean_squared_error", "mse")
KERAS_METRIC_NAMES = ("accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy",
                      "binary_accuracy")


def _check_reference(node, where, functions):
    cls, module = node.get("class_name"), node.get("module")
    registered = node.get("registered_name")
    if cls == "__lambda__":
        raise ValueError(f"{where} holds a Python lambda (marshalled code); fastcnn never runs "
                         "code from a file")
    if cls == "function":
        # Keras writes its own loss and metric functions as {"module": "builtins", "class_name":
        # "function", "config": <name>}: honoured by name from fastcnn's table, never imported
        if not (module == "builtins" and registered == "function" and node.get("config")
                in functions):
            raise ValueError(f"{where} refers to the function {node.get('config')!r} of module "
                             f"{module!r}; fastcnn never imports code named by a file")
        return
    if module is not None and not (isinstance(module, str) and _KERAS_MODULE.match(module)):
        raise ValueError(f"{where} refers to {cls!r} of module {module!r}, which is not one of "
                         "Keras' own; fastcnn never imports code named by a file")
    if registered is not None and registered != cls:
        raise ValueError(f"{where} refers to the custom object {registered!r} (class {cls!r}); "
                         "fastcnn reads only the Keras layers it has, never custom objects")


def check_references(node, where, functions=(), depth=0):
    """A ValueError naming the first reference to code or to an object outside Keras in
    ``node`` (a JSON value), at any depth; ``functions`` are the names a Keras function
    reference may have (see :data:`KERAS_LOSS_NAMES`)."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"{where} is nested more than {_MAX_DEPTH} levels deep")
    if isinstance(node, dict):
        if {"class_name", "module", "registered_name"} & node.keys():
            _check_reference(node, where, functions)
        items = node.values()
    elif isinstance(node, list):
        items = node
    else:
        return
    for item in items:
        check_references(item, where, functions, depth + 1)


def _object(value, allowed, kind, where):
    """(class_name, config) of a serialized Keras object whose class is in ``allowed``."""
    if not isinstance(value, dict) or not isinstance(value.get("config", {}), dict):
        raise ValueError(f"{where}: {kind} {value!r} is not a Keras {kind}")
    cls = value.get("class_name")
    if cls not in allowed:
        raise ValueError(f"{where}: {kind} {cls!r} is not one fastcnn can read; it reads "
                         f"{sorted(allowed)}")
    return cls, value.get("config", {})


# ---- argument handlers: (value, where, arg) -> the value fastcnn takes, or _DROP ---------------
def _same(value, where, arg):
    if isinstance(value, dict):
        raise ValueError(f"{where}: argument {arg!r} holds a serialized object {value!r}, which "
                         "fastcnn does not support there")
    return value


def _fixed(*allowed):
    """The argument may only have one of ``allowed`` (the values fastcnn computes with)."""
    def norm(v):
        return tuple(norm(x) for x in v) if isinstance(v, (list, tuple)) else v

    def check(value, where, arg):
        if norm(value) not in [norm(a) for a in allowed]:
            raise ValueError(f"{where}: argument {arg}={value!r} is not supported by fastcnn "
                             f"(only {' or '.join(repr(a) for a in allowed)})")
        return _DROP
    return check


def _ignored(value, where, arg):
    return _DROP


def _activation(value, where, arg):
    if not isinstance(value, str) or value.lower() not in ("relu", "softmax", "sigmoid", "tanh",
                                                           "linear"):
        raise ValueError(f"{where}: activation {value!r} is not one fastcnn has (relu, softmax, "
                         "sigmoid, tanh, linear)")
    return value.lower()


_INITIALIZERS = {"GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal",
                 "HeNormal": "he_normal", "HeUniform": "he_uniform", "Zeros": "zeros",
                 "Ones": "ones", "VarianceScaling": "variance_scaling"}
_LECUN = {"LecunNormal": "truncated_normal", "LecunUniform": "uniform"}
# Keras' own, not fastcnn's: a loaded model's weights come from the file, so the layer keeps
# fastcnn's default for the argument (used only if its weights are ever made again), and the
# loader warns
KERAS_ONLY_INITIALIZERS = {"RandomNormal", "RandomUniform", "TruncatedNormal", "Constant",
                           "Orthogonal", "Identity"}


def _initializer(value, where, arg, replaced=None):
    if isinstance(value, str) and value.lower() in _INITIALIZERS.values():
        return value.lower()
    cls, config = _object(value, set(_INITIALIZERS) | set(_LECUN) | KERAS_ONLY_INITIALIZERS,
                          "initializer", f"{where}, argument {arg!r}")
    if cls in KERAS_ONLY_INITIALIZERS:
        if replaced is not None:
            replaced.append(f"{where}: {arg}={cls}")
        return _DROP
    config = dict(config)
    for axes in ("input_axes", "output_axes"):
        if config.pop(axes, None) is not None:
            raise ValueError(f"{where}: initializer {cls} with {axes} is not supported by fastcnn")
    if cls in _LECUN:   # LeCun's initializers are variance scaling with these arguments
        config.update(scale=1.0, mode="fan_in", distribution=_LECUN[cls])
        cls = "VarianceScaling"
    return {"class_name": cls, "config": config}


def _regularizer(value, where, arg):
    if value is None or (isinstance(value, str) and value.lower() in ("l1", "l2", "l1_l2")):
        return value
    cls, config = _object(value, {"L1", "L2", "L1L2"}, "regularizer", f"{where}, argument {arg!r}")
    return {"class_name": cls, "config": dict(config)}


def _dtype(value, where, arg):
    name = value
    if isinstance(value, dict):
        _, config = _object(value, {"DTypePolicy", "FloatDTypePolicy"}, "dtype policy", where)
        name = config.get("name")
    if name not in ("float32", "float64"):
        raise ValueError(f"{where}: dtype {name!r} is not supported by fastcnn (float32 or "
                         "float64 only)")
    return name


_NONE = _fixed(None)
_CHANNELS_LAST = _fixed("channels_last", None)
_COMMON = {"name": _same, "trainable": _same, "dtype": _dtype}
_KERNEL_BIAS = {"activation": _activation, "use_bias": _same,
                "kernel_initializer": _initializer, "bias_initializer": _initializer,
                "kernel_regularizer": _regularizer, "bias_regularizer": _regularizer,
                "activity_regularizer": _NONE, "kernel_constraint": _NONE,
                "bias_constraint": _NONE, "lora_rank": _NONE, "lora_alpha": _ignored,
                "quantization_config": _NONE}
_POOLING = {"pool_size": _same, "strides": _same, "padding": _same,
            "data_format": _CHANNELS_LAST}
_GLOBAL_POOLING = {"data_format": _CHANNELS_LAST, "keepdims": _same}
_AUGMENTATION = {"seed": _same, "data_format": _CHANNELS_LAST}

LAYERS = {
    "Conv2D": dict(_KERNEL_BIAS, filters=_same, kernel_size=_same, strides=_same, padding=_same,
                   data_format=_CHANNELS_LAST, dilation_rate=_fixed(1, [1, 1]),
                   groups=_fixed(1)),
    "Dense": dict(_KERNEL_BIAS, units=_same),
    "MaxPooling2D": _POOLING, "AveragePooling2D": _POOLING,
    "GlobalAveragePooling2D": _GLOBAL_POOLING, "GlobalMaxPooling2D": _GLOBAL_POOLING,
    "Flatten": {"data_format": _CHANNELS_LAST},
    "Dropout": {"rate": _same, "noise_shape": _same, "seed": _same},
    "Activation": {"activation": _activation},
    "ReLU": {"max_value": _same, "negative_slope": _same, "threshold": _same},
    "BatchNormalization": {
        "axis": _same, "momentum": _same, "epsilon": _same, "center": _same, "scale": _same,
        "beta_initializer": _initializer, "gamma_initializer": _initializer,
        "moving_mean_initializer": _initializer, "moving_variance_initializer": _initializer,
        "beta_regularizer": _NONE, "gamma_regularizer": _NONE, "beta_constraint": _NONE,
        "gamma_constraint": _NONE, "synchronized": _fixed(False), "renorm": _fixed(False),
        "renorm_clipping": _NONE, "renorm_momentum": _ignored},
    "Add": {}, "Concatenate": {"axis": _same},
    "ZeroPadding2D": {"padding": _same, "data_format": _CHANNELS_LAST},
    "Rescaling": {"scale": _same, "offset": _same},
    "RandomFlip": dict(_AUGMENTATION, mode=_same),
    "RandomTranslation": dict(_AUGMENTATION, height_factor=_same, width_factor=_same,
                              fill_mode=_same, interpolation=_same, fill_value=_same),
    "RandomCrop": dict(_AUGMENTATION, height=_same, width=_same),
}


def _input_dtype(value, where, arg):
    # Keras' layers cast integer inputs (8-bit images) to their float dtype, as fastcnn's do
    if value in ("uint8", "int8", "uint16", "int16", "int32", "int64"):
        return "float32"
    return _dtype(value, where, arg)


_INPUT_LAYER = {"batch_shape": _same, "dtype": _input_dtype, "name": _same,
                "sparse": _fixed(False), "ragged": _fixed(False), "optional": _fixed(False)}


def _layer(entry, replaced):
    """(class_name, fastcnn config, where) of a serialized Keras layer."""
    if not isinstance(entry, dict):
        raise ValueError(f"a layer of the config is not a serialized Keras layer: {entry!r}")
    cls, config = entry.get("class_name"), entry.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    where = f"layer {name!r} ({cls})"
    check_references(entry, where)
    table = _INPUT_LAYER if cls == "InputLayer" else LAYERS.get(cls)
    if table is None:
        raise ValueError(f"{where}: the layer class {cls!r} is not one fastcnn has; it reads "
                         f"{sorted(LAYERS)}")
    if not isinstance(config, dict) or not isinstance(name, str):
        raise ValueError(f"{where} has no config with a name")
    args = {}
    for arg, value in config.items():
        handler = table.get(arg, _COMMON.get(arg)) if cls != "InputLayer" else table.get(arg)
        if handler is None:
            raise ValueError(f"{where}: argument {arg!r} is not one fastcnn supports")
        out = (_initializer(value, where, arg, replaced) if handler is _initializer
               else handler(value, where, arg))
        if out is not _DROP:
            args[arg] = out
    return cls, args, where


def _call_inputs(node, where):
    """The fastcnn ``inputs`` (a reference or a list of them) of a Keras 3 inbound node."""
    if not isinstance(node, dict) or not isinstance(node.get("args"), list):
        raise ValueError(f"{where}: an inbound node is not a Keras 3 node: {node!r}")
    kwargs = node.get("kwargs", {})
    if not isinstance(kwargs, dict) or any(
            k not in ("training", "mask") or (v is not None and not isinstance(v, bool))
            for k, v in kwargs.items()):
        raise ValueError(f"{where}: call arguments {kwargs!r} are not supported by fastcnn")
    if len(node["args"]) != 1:
        raise ValueError(f"{where}: a call with {len(node['args'])} positional arguments is not "
                         "supported by fastcnn")

    def ref(tensor):
        config = tensor.get("config") if isinstance(tensor, dict) else None
        if (not isinstance(config, dict) or tensor.get("class_name") != "__keras_tensor__"
                or not isinstance(config.get("keras_history"), list)):
            raise ValueError(f"{where}: a call input {tensor!r} is not a Keras tensor")
        return config["keras_history"]
    arg = node["args"][0]
    return [ref(t) for t in arg] if isinstance(arg, list) else ref(arg)


def _check_keys(config, allowed, where):
    extra = sorted(set(config) - set(allowed))
    if extra:
        raise ValueError(f"{where}: {extra} not supported by fastcnn")


def translate_model(document, replaced=None):
    """``(fastcnn model class name, fastcnn model config, [(layer name, Keras class name)] in
    the order of Keras' ``model.layers``)`` for the top object of a Keras ``config.json``.
    ``replaced`` (a list) receives a line for each Keras-only initializer left to fastcnn's
    default."""
    replaced = [] if replaced is None else replaced
    if not isinstance(document, dict):
        raise ValueError("config.json does not hold a Keras model")
    cls, config = document.get("class_name"), document.get("config")
    check_references({k: v for k, v in document.items() if k != "compile_config"},
                     f"model ({cls})")
    check_references(document.get("compile_config"), "compile config",
                     KERAS_LOSS_NAMES + KERAS_METRIC_NAMES)
    if cls not in ("Sequential", "Functional") or not isinstance(config, dict):
        raise ValueError(f"the model class {cls!r} is not one fastcnn reads (Sequential or "
                         "Functional)")
    if not isinstance(config.get("layers"), list):
        raise ValueError("the model config has no list of layers")
    where = f"model {config.get('name')!r}"
    if config.get("dtype") is not None:
        _dtype(config["dtype"], where, "dtype")
    trainable = config.get("trainable", True)
    out = {"name": config.get("name"), "trainable": trainable}
    translated = [_layer(entry, replaced) for entry in config["layers"]]
    if cls == "Sequential":
        _check_keys(config, ("name", "trainable", "dtype", "layers", "build_input_shape"), where)
        shape = config.get("build_input_shape")
        if shape is None and isinstance(document.get("build_config"), dict):
            shape = document["build_config"].get("input_shape")
        if translated and translated[0][0] == "InputLayer":
            batch_shape = translated.pop(0)[1].get("batch_shape")
            if shape is not None and list(shape) != list(batch_shape):
                raise ValueError(f"{where}: build_input_shape {shape} differs from its input's "
                                 f"batch_shape {batch_shape}")
            shape = batch_shape
        out["layers"] = [{"class_name": c, "config": a} for c, a, _ in translated]
        if shape is not None:
            out["build_input_shape"] = shape
        return "Sequential", out, [(a["name"], c) for c, a, _ in translated]
    _check_keys(config, ("name", "trainable", "dtype", "layers", "input_layers",
                         "output_layers"), where)
    layers = []
    for entry, (layer_cls, args, layer_where) in zip(config["layers"], translated):
        nodes = entry.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            raise ValueError(f"{layer_where}: inbound_nodes must be a list")
        layers.append({"class_name": layer_cls, "name": args.get("name"), "config": args,
                       "inbound_nodes": [{"inputs": _call_inputs(n, layer_where)}
                                         for n in nodes]})
    out.update(layers=layers, input_layers=config.get("input_layers"),
               output_layers=config.get("output_layers"))
    return "Functional", out, [(a["name"], c) for c, a, _ in translated]

