"""The graph of a functional model: which layer calls (nodes) lead from the inputs to the
outputs, in what order they run, and the layers in Keras' order.

Walking back from the outputs finds every node the outputs need (depth-first, as Keras'
``map_graph`` does); a tensor reached that is not made by one of the model's inputs is a
disconnected graph, a node met again while its own inputs are being walked is a cycle, and an
input the outputs do not use is unreachable: each a ValueError naming the layers and shapes.
"""
import collections

from ..layers.node import flatten_tensors

__all__ = ["Graph"]


class Graph:
    """``inputs`` and ``outputs`` (lists of symbolic tensors), ``nodes`` (every layer call
    between them, each after the nodes it reads from: the order a plan runs them in),
    ``layers`` (each layer once, in Keras' order: by depth, the inputs' side first, then in
    the order a depth-first walk from the outputs meets them) and ``consumers`` (for each
    tensor, the nodes that read it, by ``id``), ``layer_nodes`` (for each layer, by ``id``,
    its calls in the graph)."""

    def __init__(self, inputs, outputs):
        self.inputs = flatten_tensors(inputs, "inputs")
        self.outputs = flatten_tensors(outputs, "outputs")
        self._check_inputs()
        self.nodes, layer_index = self._walk()
        self.layers = self._keras_order(layer_index)
        self._check_names()
        self.consumers = collections.defaultdict(list)
        for node in self.nodes:
            for t in node.inputs:
                self.consumers[id(t)].append(node)
        in_graph = {id(node) for node in self.nodes}
        self.layer_nodes = {id(layer): [n for n in layer._inbound_nodes if id(n) in in_graph]
                            for layer in self.layers}
        self._node_index = {id(n): i for nodes in self.layer_nodes.values()
                            for i, n in enumerate(nodes)}

    def _check_inputs(self):
        seen = set()
        for t in self.inputs:
            if not t.node.is_input:
                raise ValueError(f"model inputs must come from fastcnn.layers.Input; {t!r} is "
                                 f"the output of layer {t.node.layer.name!r}")
            if id(t) in seen:
                raise ValueError(f"the input {t!r} is given twice in the model's inputs")
            seen.add(id(t))

    def _walk(self):
        """The nodes in post-order (each after its parents) and, per layer, the order in
        which the walk first met it."""
        input_ids = {id(t) for t in self.inputs}
        finished, in_progress, order, layer_index = set(), set(), [], {}

        def visit(tensor, path):
            node = tensor.node
            if id(node) in finished:
                return
            if id(node) in in_progress:
                raise ValueError(f"the model's graph has a cycle through layer "
                                 f"{node.layer.name!r}: "
                                 f"{' -> '.join(n.layer.name for n in path + [node])}")
            layer_index.setdefault(id(node.layer), (len(layer_index), node.layer))
            if node.is_input and id(tensor) not in input_ids:
                raise ValueError(
                    f"Graph disconnected: the tensor {tensor!r} (from input layer "
                    f"{node.layer.name!r}, shape {tensor.shape}) is needed by layer "
                    f"{path[-1].layer.name!r} but is not one of the model's inputs "
                    f"({', '.join(t.name for t in self.inputs)})")
            in_progress.add(id(node))
            for parent in node.inputs:
                visit(parent, path + [node])
            in_progress.discard(id(node))
            finished.add(id(node))
            order.append(node)

        for t in self.outputs:
            visit(t, [])
        unused = [t for t in self.inputs if id(t.node) not in finished]
        if unused:
            raise ValueError(f"the model's outputs do not depend on the input(s) "
                             f"{', '.join(f'{t.name} (shape {t.shape})' for t in unused)}: "
                             "every input must be reachable from an output")
        return order, layer_index

    def _keras_order(self, layer_index):
        """Keras' map_graph: a node's depth is its longest path to an output (a shared
        layer's nodes at least the depth its other nodes gave it); layers by depth, deepest
        first, then by the order the walk met them."""
        node_depth, layer_depth = {}, {}
        for node in reversed(self.nodes):
            depth = max(node_depth.get(id(node), 0), layer_depth.get(id(node.layer), 0))
            layer_depth[id(node.layer)] = node_depth[id(node)] = depth
            for parent in node.parents:
                node_depth[id(parent)] = max(node_depth.get(id(parent), 0), depth + 1)
        layers = sorted(layer_index.values(),
                        key=lambda item: (-layer_depth[id(item[1])], item[0]))
        return [layer for _, layer in layers]

    def _check_names(self):
        counts = collections.Counter(layer.name for layer in self.layers)
        repeated = [name for name, count in counts.items() if count > 1]
        if repeated:
            raise ValueError(f"the layer name(s) {repeated} are used more than once in the "
                             "model; layer names must be unique")

    def ref(self, tensor):
        """[layer name, node index, tensor index] of a tensor of the graph, counting only
        the layer's calls inside the graph (what configs and summaries show)."""
        return [tensor.node.layer.name, self._node_index[id(tensor.node)], tensor.index]
