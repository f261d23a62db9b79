"""Every cross-layer optimisation of fastcnn, as rules matched on a model's graph.

A rule looks at a node and the graph around it and either leaves it alone or returns a step
that runs that node together with the next one(s). Rules only match where no other layer can
notice: every tensor passed between the fused calls must be read by the next call alone and
must not be a model output. Every fused step gives bitwise the results of its layers run one
by one (tests run models both ways, ``Model.compile(fuse=False)``), except the folding of
batch normalization in inference, which rounds differently.

Rules (``fuse=True``):

- **A ReLU in the pass before it** (:class:`ReluStep`, training and inference): a layer that
  can apply a ReLU to its output in its own pass (Conv2D and Dense without activation,
  BatchNormalization, Add) followed by an ``Activation("relu")`` or plain ``ReLU()`` layer:
  the ReLU in that layer's output pass (the convolution's epilogue, the normalizing pass, the
  sum), the ReLU's mask in its backward pass (in the weight gradient's pass where the
  convolution needs no input gradient, in both passes of batch normalization's).
- **ReLU into max pooling** (:class:`ReluMaxPoolStep`, training): a layer ending in ReLU
  (Conv2D or Dense with ``activation="relu"``, ``Activation("relu")``, ``ReLU()``, or a layer
  and the ReLU layer after it as above) whose output only a MaxPooling2D reads. The pooling
  records where each maximum was found and does the ReLU's backward pass on its own
  gradient (a maximum > 0 passes it, which is exactly where the ReLU would), so the ReLU's
  backward pass is skipped.
- **Conv2D + ReLU + max pooling in one pass** (:class:`ConvReluMaxPoolStep`, the same rule
  when the layer is a Conv2D; also in inference plans): each image's convolution (few-channel
  kernel or GEMM; not a 1x1 kernel) is pooled while still in cache and never written out (in
  inference no picks are recorded); and where the few-channel kernels apply and the
  convolution needs no input gradient (a first layer) and the windows do not overlap, its
  weight gradients are computed straight from the pooling's gradient and picks, without the
  convolution output's gradient being written either.
- **Batch normalization, Add and ReLU in one pass** (:class:`BatchNormAddReluStep`,
  training): a BatchNormalization whose output only an Add of two inputs reads, whose input
  only it reads, and the ReLU layer that alone reads the sum (a residual block's end): the
  sum and the ReLU in the normalizing pass, the step placed where the Add runs.
- **Batch normalization folded into the convolution** (:class:`FoldedBatchNormStep`,
  inference plans: ``predict``, ``evaluate``): a Conv2D without activation followed by a
  BatchNormalization (and optionally a ReLU layer) runs as one convolution with the
  normalization in its kernel and bias and the ReLU in its epilogue.
- **Convolution and Add in one pass** (:class:`ConvAddStep`, inference plans): a Conv2D
  without activation (and a BatchNormalization after it, folded as above) whose result only
  an Add of two inputs reads, and optionally the ReLU layer that alone reads the sum: the
  other input is added to each tile of the convolution's output (and the ReLU applied) while
  the tile is in cache, the step placed where the Add runs.

Not switchable, because it is how the loss is defined rather than an optimisation (as in
Keras' TensorFlow backend): an output layer ending in the activation the loss pairs with
(softmax for categorical cross-entropy, sigmoid for binary) hands the loss its logits
(:class:`LogitsStep`).
"""
from ..layers.activated import ActivatedLayer
from ..layers.conv import Conv2D
from ..layers.merging import Add
from ..layers.normalization import BatchNormalization
from ..layers.pooling import MaxPooling2D
from .fused_steps import (BatchNormAddReluStep, ConvAddStep, ConvReluMaxPoolStep,
                          FoldedBatchNormStep, LogitsStep, ReluMaxPoolStep, ReluStep)
from .steps import LayerStep

__all__ = ["plan_steps"]


class _Graph:
    """What the rules ask of the graph."""

    def __init__(self, graph):
        self.consumers = graph.consumers
        self.output_ids = {id(t) for t in graph.outputs}

    def sole_consumer(self, node):
        """The one node that reads ``node``'s output, or None (several, or a model output)."""
        return self.sole_reader(node.outputs[0])

    def sole_reader(self, tensor):
        """The one node that reads ``tensor``, or None (several, or a model output)."""
        readers = self.consumers.get(id(tensor), [])
        if len(readers) != 1 or id(tensor) in self.output_ids:
            return None
        return readers[0]


def _ends_in_relu(layer):
    return isinstance(layer, ActivatedLayer) and layer.activation.name == "relu"


def _is_relu_layer(layer):
    """``Activation("relu")`` or a plain ``ReLU()``: a ReLU and nothing else."""
    return _ends_in_relu(layer) and layer._linear_is_identity


def _relu_after(node, graph):
    """The ReLU layer's node that alone reads ``node``'s output when ``node``'s layer can
    apply it in its own pass, else None."""
    if not node.layer.takes_relu:
        return None
    reader = graph.sole_consumer(node)
    return reader if reader is not None and _is_relu_layer(reader.layer) else None


def _max_pool_after(node, graph):
    reader = graph.sole_consumer(node)
    if (reader is None or not isinstance(reader.layer, MaxPooling2D)
            or not reader.layer.records_picks):
        return None
    return reader


def _folded_batch_norm(node, graph):
    """(conv, batch norm[, relu]) nodes for :class:`FoldedBatchNormStep`, or None."""
    layer = node.layer
    if not (isinstance(layer, Conv2D) and layer.activation.name == "linear"):
        return None
    bn = graph.sole_consumer(node)
    if bn is None or not isinstance(bn.layer, BatchNormalization):
        return None
    relu = _relu_after(bn, graph)
    return [node, bn] if relu is None else [node, bn, relu]


def _batch_norm_add_relu(node, graph):
    """(batch norm, add, relu) nodes for :class:`BatchNormAddReluStep`, ``node`` being the
    Add, or None. The normalization's input must have no other reader, so that its gradient
    (which the step gives where the Add's backward pass runs, not the normalization's) is
    not summed with others in another order."""
    if not isinstance(node.layer, Add) or len(node.inputs) != 2:
        return None
    relu = _relu_after(node, graph)
    if relu is None:
        return None
    for t in node.inputs:
        bn = t.node
        if (isinstance(bn.layer, BatchNormalization) and graph.sole_consumer(bn) is node
                and graph.sole_reader(bn.inputs[0]) is bn):
            return [bn, node, relu]
    return None


def _conv_add(node, graph):
    """(conv[, batch norm], add[, relu]) nodes for :class:`ConvAddStep`, ``node`` being the
    Add, or None. Of two candidates, a convolution folding a normalization is taken (a
    residual block's main path rather than its projection shortcut)."""
    if not isinstance(node.layer, Add) or len(node.inputs) != 2:
        return None
    relu = _relu_after(node, graph)
    found = None
    for t in node.inputs:
        chain = [t.node]
        if isinstance(t.node.layer, BatchNormalization):
            chain.insert(0, t.node.inputs[0].node)
        conv = chain[0]
        if (not isinstance(conv.layer, Conv2D) or conv.layer.activation.name != "linear"
                or any(graph.sole_consumer(a) is not b for a, b in zip(chain, chain[1:] + [node]))):
            continue
        if found is None or len(chain) > len(found):
            found = chain
    if found is None:
        return None
    return found + [node] + ([] if relu is None else [relu])


def _fused(node, graph, backward):
    """The fused step's class and nodes starting at ``node``, or None."""
    if not backward:
        nodes = _folded_batch_norm(node, graph)
        if nodes is not None:
            return FoldedBatchNormStep, nodes
    relu = _relu_after(node, graph)
    chain = [node] if relu is None else [node, relu]
    conv = isinstance(node.layer, Conv2D)
    # (in inference only a convolution gains: the pooling would read a layer's output anyway)
    if ((backward or conv) and not node.is_list
            and (relu is not None or _ends_in_relu(node.layer))):
        pool = _max_pool_after(chain[-1], graph)
        if pool is not None:
            return (ConvReluMaxPoolStep if conv else ReluMaxPoolStep), chain + [pool]
    return (ReluStep, chain) if relu is not None else None


def plan_steps(graph, slot, states, *, backward, fuse, loss_activations):
    """The steps that run ``graph``'s nodes in order, and the ids of the output tensors
    given as logits."""
    view = _Graph(graph)
    logits_for = {id(t): act for t, act in zip(graph.outputs, loss_activations)
                  if act is not None}
    steps, logits_ids, taken = [], set(), set()
    # steps that run at an Add's place: the nodes before it in the step wait for it
    at_add = {}
    if fuse:
        cls = BatchNormAddReluStep if backward else ConvAddStep
        for node in graph.nodes:
            nodes = _batch_norm_add_relu(node, view) if backward else _conv_add(node, view)
            if nodes is not None:
                at_add[id(node)] = cls, nodes
                taken.update(id(n) for n in nodes[:nodes.index(node)])
    for node in graph.nodes:
        if node.is_input or id(node) in taken:
            continue
        if id(node) in at_add:
            cls, nodes = at_add[id(node)]
            steps.append(cls(nodes, slot, states))
            taken.update(id(n) for n in nodes[nodes.index(node) + 1:])
            continue
        out = node.outputs[0]
        act = logits_for.get(id(out))
        if (act is not None and isinstance(node.layer, ActivatedLayer)
                and node.layer.activation.name == act and not graph.consumers.get(id(out))):
            steps.append(LogitsStep(node, slot, states))
            logits_ids.add(id(out))
            continue
        fused = _fused(node, view, backward) if fuse else None
        if fused is None:
            steps.append(LayerStep(node, slot, states))
            continue
        cls, nodes = fused
        steps.append(cls(nodes, slot, states))
        taken.update(id(n) for n in nodes[1:])
    return steps, logits_ids
