"""A functional model's configuration: its layers (by registered class name) and, for each,
the calls that make up the graph (the inbound nodes), in a JSON form close to Keras'::

    {"name": "model", "trainable": true,
     "layers": [{"class_name": "InputLayer", "name": "input_layer", "config": {...},
                 "inbound_nodes": []},
                {"class_name": "Add", "name": "add", "config": {...},
                 "inbound_nodes": [{"inputs": [["conv2d", 0, 0], ["input_layer", 0, 0]]}]},
                ...],
     "input_layers": [["input_layer", 0, 0]], "output_layers": [["dense", 0, 0]]}

A reference ``[layer name, node index, tensor index]`` names the output of a layer's call;
``"inputs"`` holds one reference for a layer called on a tensor, a list of them for a layer
called on a list. Node indices count only the calls inside the model. Rebuilding resolves
class names through the layer registry (never a module path) and makes the calls in an order
where every input exists; a reference to a missing layer or call, or calls that need each
other, is a ValueError.
"""
from .. import _registry
from .. import layers as layers_module

__all__ = ["class_name", "functional_config", "functional_from_config"]


def class_name(layer):
    """The registered name of ``layer``'s class; a ValueError when it has none."""
    try:
        return _registry.registered_name("layer", type(layer))
    except ValueError:
        raise ValueError(f"layer {layer.name!r} is of class {type(layer).__name__}, which is "
                         "not registered; register it with fastcnn.layers.register to save "
                         "the model") from None


def functional_config(model):
    graph = model._graph
    ref = graph.ref
    entries = []
    for layer in graph.layers:
        nodes = []
        for node in graph.layer_nodes[id(layer)]:
            if node.is_input:
                continue
            refs = [ref(t) for t in node.inputs]
            nodes.append({"inputs": refs if node.is_list else refs[0]})
        entries.append({"class_name": class_name(layer), "name": layer.name,
                        "config": layer.get_config(), "inbound_nodes": nodes})
    inputs, outputs = [ref(t) for t in graph.inputs], [ref(t) for t in graph.outputs]
    return {"name": model.name, "trainable": model.trainable, "layers": entries,
            "input_layers": inputs if model._inputs_as_list else inputs[0],
            "output_layers": outputs if model._outputs_as_list else outputs[0]}


def _is_ref(value):
    return (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                    for v in value[1:]))


def _tensor(ref, layers, what):
    if not _is_ref(ref):
        raise ValueError(f"{what}: {ref!r} is not a tensor reference [layer, node, tensor]")
    name, node_index, tensor_index = ref
    if name not in layers:
        raise ValueError(f"{what} refers to a layer {name!r} that the config does not have")
    nodes = layers[name]._inbound_nodes
    if node_index >= len(nodes) or tensor_index >= len(nodes[node_index].outputs):
        return None
    return nodes[node_index].outputs[tensor_index]


def _endpoints(spec, layers, what):
    """The tensor (a reference) or tensors (a list of them) of input/output_layers."""
    single = _is_ref(spec)
    if not single and not (isinstance(spec, list) and spec):
        raise ValueError(f"{what} must be a tensor reference or a non-empty list of them, got "
                         f"{spec!r}")
    tensors = [_tensor(r, layers, what) for r in ([spec] if single else spec)]
    if any(t is None for t in tensors):
        raise ValueError(f"{what} refers to a layer call that the config does not make")
    return tensors[0] if single else tensors


def functional_from_config(config):
    """(inputs, outputs, name, trainable) rebuilt from :func:`functional_config`'s output."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError("a functional model config needs a list of 'layers'")
    layers, pending = {}, []
    for entry in config["layers"]:
        if not isinstance(entry, dict):
            raise ValueError(f"each layer of the config must be a dict, got {entry!r}")
        layer = layers_module.get(entry.get("class_name")).from_config(entry.get("config", {}))
        if layer.name in layers:
            raise ValueError(f"the config has two layers named {layer.name!r}")
        layers[layer.name] = layer
        nodes = entry.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            raise ValueError(f"layer {layer.name!r}: inbound_nodes must be a list")
        pending.append([layer, list(nodes)])
    while any(nodes for _, nodes in pending):
        progress = False
        for item in pending:
            layer, nodes = item
            while nodes:
                call = nodes[0]
                spec = call.get("inputs") if isinstance(call, dict) else None
                is_list = isinstance(spec, list) and not _is_ref(spec)
                refs = spec if is_list else [spec]
                what = f"layer {layer.name!r}"
                tensors = [_tensor(r, layers, what) for r in refs]
                if any(t is None for t in tensors):
                    break                          # an input not made yet: later
                layer(tensors if is_list else tensors[0])
                nodes.pop(0)
                progress = True
        if not progress:
            waiting = [layer.name for layer, nodes in pending if nodes]
            raise ValueError(f"the config's layer calls cannot be made: layers {waiting} wait "
                             "for inputs that no call makes (missing, or a cycle)")
    inputs = _endpoints(config.get("input_layers"), layers, "input_layers")
    outputs = _endpoints(config.get("output_layers"), layers, "output_layers")
    trainable = config.get("trainable", True)
    if not isinstance(trainable, bool):
        raise ValueError(f"trainable must be a bool, got {trainable!r}")
    return inputs, outputs, config.get("name"), trainable
