"""The whole models of BENCHMARKS.md described once, and built from that description in Keras'
API (Keras 3, and fastcnn's own models to check them against) and in PyTorch.

A model is a dict ``{"name", "input_shape", "nodes"}``: ``nodes[0]`` is the input; every other
node is ``(class_name, args, inputs)``, a layer of Keras' API (class name and constructor
arguments, e.g. ``("Conv2D", {"filters": 32, "kernel_size": 3, "activation": "relu"}, [0])``)
called on the outputs of the nodes listed in ``inputs`` (indices into ``nodes``). The last node
is the output; its softmax is the class probabilities.

- ``seed``: the Keras tutorial's CNN on 28x28x1 (``fastcnn.models.zoo.seed_cnn``);
- ``tf-cnn``: the TensorFlow CIFAR-10 tutorial (``zoo.tf_cnn``);
- ``k-cnn``: the classic Keras ``cifar10_cnn`` example (``zoo.kcnn``);
- ``resnet20``: ResNet-20 v1 of Keras' ``cifar10_resnet`` example (``zoo.resnet20``, 274,442
  parameters).

fastcnn's benchmarks run the zoo's models (what its users call); ``tests/test_bench_models.py``
checks that each description builds, with fastcnn, the zoo model layer for layer, so Keras and
PyTorch are given the same architecture. Only the standard library is imported here (the
frameworks come in as arguments), so a worker under another interpreter can use this module.

PyTorch (:func:`torch_model`) gets the same layers in NCHW terms: ``Conv2d`` with the padding
that gives Keras' output size ("same" with stride 2 pads one row and column on both sides
where Keras pads only the bottom and right: the same size and work), ``BatchNorm2d`` with
Keras' epsilon 1e-3 and momentum (``momentum=0.01`` in PyTorch's convention), ``Flatten`` of
the NCHW tensor (the same parameter count as Keras' NHWC flatten), and no final softmax: it
returns logits for ``CrossEntropyLoss``, which fuses log-softmax and the loss as ``fit`` does;
predicting applies ``softmax``. Initializers are PyTorch's defaults (a throughput benchmark).
"""

CLASSES = 10


def _chain(name, input_shape, layers):
    nodes = [("Input", {"shape": tuple(input_shape)}, [])]
    for class_name, args in layers:
        nodes.append((class_name, args, [len(nodes) - 1]))
    return {"name": name, "input_shape": tuple(input_shape), "nodes": nodes}


def _conv(filters, kernel_size=3, **args):
    return ("Conv2D", dict(filters=filters, kernel_size=kernel_size, **args))


def _dense(units, **args):
    return ("Dense", dict(units=units, **args))


RELU = ("Activation", {"activation": "relu"})
POOL = ("MaxPooling2D", {})
FLAT = ("Flatten", {})


def seed():
    return _chain("seed", (28, 28, 1), [
        _conv(32, (3, 3), activation="relu"), POOL, FLAT,
        _dense(256, activation="relu"), _dense(CLASSES, activation="softmax")])


def tf_cnn():
    return _chain("tf-cnn", (32, 32, 3), [
        _conv(32, activation="relu"), POOL, _conv(64, activation="relu"), POOL,
        _conv(64, activation="relu"), FLAT,
        _dense(64, activation="relu"), _dense(CLASSES, activation="softmax")])


def kcnn():
    def block(filters):
        return [_conv(filters, padding="same"), RELU, _conv(filters), RELU, POOL,
                ("Dropout", {"rate": 0.25})]
    return _chain("k-cnn", (32, 32, 3), block(32) + block(64) + [
        FLAT, _dense(512), RELU, ("Dropout", {"rate": 0.5}),
        _dense(CLASSES), ("Activation", {"activation": "softmax"})])


def resnet20(input_shape=(32, 32, 3), front=()):
    """``front``: layers ``(class_name, args)`` applied to the input first (augmentation,
    as in ``bench/resnet20_recipe.py``)."""
    nodes = [("Input", {"shape": tuple(input_shape)}, [])]

    def add(class_name, args, inputs):
        nodes.append((class_name, args, list(inputs)))
        return len(nodes) - 1

    def layer(x, filters, kernel_size=3, strides=1, activation="relu", batch_norm=True):
        x = add("Conv2D", dict(filters=filters, kernel_size=kernel_size, strides=strides,
                               padding="same", kernel_initializer="he_normal"), [x])
        if batch_norm:
            x = add("BatchNormalization", {}, [x])
        return add("Activation", {"activation": activation}, [x]) if activation else x

    x = 0
    for class_name, args in front:
        x = add(class_name, args, [x])
    x = layer(x, 16)
    filters = 16
    for stage in range(3):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            y = layer(layer(x, filters, strides=strides), filters, activation=None)
            if stage > 0 and block == 0:
                x = layer(x, filters, kernel_size=1, strides=strides, activation=None,
                          batch_norm=False)
            x = add("Activation", {"activation": "relu"}, [add("Add", {}, [x, y])])
        filters *= 2
    x = add("GlobalAveragePooling2D", {}, [x])
    add("Dense", dict(units=CLASSES, activation="softmax", kernel_initializer="he_normal"), [x])
    return {"name": "resnet20", "input_shape": tuple(input_shape), "nodes": nodes}


SPECS = {"seed": seed, "tf-cnn": tf_cnn, "k-cnn": kcnn, "resnet20": resnet20}
MODELS = tuple(SPECS)


def spec(name):
    """The description of model ``name`` (one of MODELS)."""
    if name not in SPECS:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODELS)}")
    return SPECS[name]()


def is_chain(description):
    """Whether every node takes the one before it (a Sequential model)."""
    return all(inputs == [i] for i, (_, _, inputs) in enumerate(description["nodes"][1:]))


# ------------------------------------------------------------------------------------------
# Keras' API: Keras 3 itself, or fastcnn
# ------------------------------------------------------------------------------------------
def keras_api_model(description, layers, Input, Model, Sequential):
    """The model in a library with Keras' API (``layers`` its layers module; ``Input``,
    ``Model``, ``Sequential`` its classes): a Sequential model for a chain of layers, as users
    write those, else a functional Model."""
    nodes = description["nodes"]
    built = [getattr(layers, class_name)(**args) for class_name, args, _ in nodes[1:]]
    if is_chain(description):
        return Sequential([Input(description["input_shape"])] + built)
    tensors = [Input(description["input_shape"])]
    for layer, (_, _, inputs) in zip(built, nodes[1:]):
        xs = [tensors[i] for i in inputs]
        tensors.append(layer(xs if len(xs) > 1 else xs[0]))
    return Model(tensors[0], tensors[-1])


def keras_model(description, keras):
    """The model in Keras 3 (``keras`` the imported module)."""
    return keras_api_model(description, keras.layers, keras.Input, keras.Model,
                           keras.Sequential)


# ------------------------------------------------------------------------------------------
# PyTorch
# ------------------------------------------------------------------------------------------
def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _torch_layer(nn, class_name, args, shape, last):
    """(module, output shape) of one layer; ``shape`` is (C, H, W) or (features,)."""
    activation = args.get("activation")
    if class_name == "Activation":
        return _torch_activation(nn, activation, last), shape
    if class_name == "Conv2D":
        (kh, kw), (sh, sw) = _pair(args["kernel_size"]), _pair(args.get("strides", 1))
        same = args.get("padding", "valid") == "same"
        c, h, w = shape
        if same:
            pad, out = (kh // 2, kw // 2), (-(-h // sh), -(-w // sw))
        else:
            pad, out = (0, 0), ((h - kh) // sh + 1, (w - kw) // sw + 1)
        module = nn.Conv2d(c, args["filters"], (kh, kw), (sh, sw), pad)
        return _then(nn, module, activation, last), (args["filters"],) + out
    if class_name == "Dense":
        module = nn.Linear(shape[0], args["units"])
        return _then(nn, module, activation, last), (args["units"],)
    if class_name == "MaxPooling2D":
        c, h, w = shape
        return nn.MaxPool2d(2), (c, h // 2, w // 2)
    if class_name == "Flatten":
        size = 1
        for d in shape:
            size *= d
        return nn.Flatten(), (size,)
    if class_name == "Dropout":
        return nn.Dropout(args["rate"]), shape
    if class_name == "BatchNormalization":
        return nn.BatchNorm2d(shape[0], eps=1e-3, momentum=0.01), shape
    if class_name == "GlobalAveragePooling2D":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), (shape[0],)
    raise ValueError(f"no PyTorch translation of {class_name}")


def _torch_activation(nn, activation, last):
    if activation in (None, "linear") or (activation == "softmax" and last):
        return nn.Identity()            # logits out: CrossEntropyLoss applies the softmax
    if activation == "relu":
        return nn.ReLU()
    raise ValueError(f"no PyTorch translation of activation {activation!r}")


def _then(nn, module, activation, last):
    if activation in (None, "linear") or (activation == "softmax" and last):
        return module
    return nn.Sequential(module, _torch_activation(nn, activation, last))


def torch_model(description, torch):
    """The model in PyTorch (``torch`` the imported module), returning logits: an
    ``nn.Sequential`` for a chain of layers, else a module that runs the nodes in order and
    drops each output after its last use (as a hand-written forward would)."""
    nn = torch.nn
    nodes = description["nodes"]
    h, w, c = description["input_shape"]
    shapes, modules = [(c, h, w)], []
    for i, (class_name, args, inputs) in enumerate(nodes[1:], start=1):
        last = i == len(nodes) - 1
        if class_name == "Add":
            modules.append(_Add(nn))
            shapes.append(shapes[inputs[0]])
            continue
        module, shape = _torch_layer(nn, class_name, args, shapes[inputs[0]], last)
        modules.append(module)
        shapes.append(shape)
    if is_chain(description):
        return nn.Sequential(*modules)
    return _graph_module(nn)(modules, [inputs for _, _, inputs in nodes[1:]])


def _Add(nn):
    class Add(nn.Module):
        def forward(self, *xs):
            out = xs[0]
            for x in xs[1:]:
                out = out + x
            return out
    return Add()


def _graph_module(nn):
    class Graph(nn.Module):
        def __init__(self, modules, inputs):
            super().__init__()
            self.steps = nn.ModuleList(modules)
            self.inputs = inputs
            last_use = {}
            for step, ins in enumerate(inputs, start=1):
                for i in ins:
                    last_use[i] = step
            # after step s, the outputs no later step reads
            self.drop = [[i for i, s in last_use.items() if s == step]
                         for step in range(1, len(inputs) + 1)]

        def forward(self, x):
            outs = {0: x}
            for step, (module, ins, drop) in enumerate(
                    zip(self.steps, self.inputs, self.drop), start=1):
                outs[step] = module(*[outs[i] for i in ins])
                for i in drop:
                    del outs[i]
            return outs[len(self.inputs)]
    return Graph


def torch_parameter_count(model):
    """Parameters as Keras counts them: the weights and BatchNormalization's moving statistics
    (PyTorch's running_mean and running_var buffers), not its batch counter."""
    count = sum(p.numel() for p in model.parameters())
    return count + sum(b.numel() for name, b in model.named_buffers()
                       if name.endswith(("running_mean", "running_var")))
