"""The step that runs one layer call in a plan (fused steps are in :mod:`fastcnn.models.fusion`)."""
__all__ = ["LayerStep"]


class LayerStep:
    """One layer call: ``inputs`` and ``output`` are slots, ``layers`` the layers whose
    weights the step uses (one here; several in fused steps), ``state`` what the call keeps.
    """

    def __init__(self, node, slot, states):
        self.layer = node.layer
        self.layers = [node.layer]
        self.inputs = [slot(t) for t in node.inputs]
        self.output = slot(node.outputs[0])
        self.is_list = node.is_list
        self.state = states(node)

    def gather(self, values):
        return [values[s] for s in self.inputs] if self.is_list else values[self.inputs[0]]

    def forward(self, values, training):
        values[self.output] = self.layer.forward(self.gather(values), self.state, training)

    def backward(self, dy, need_input_grad, grads):
        """Input gradients (a list, one per input slot, None where not wanted) for the output
        gradient ``dy``; ``grads`` maps each layer of :attr:`layers` to the arrays its
        weight gradients go to (None for a layer without trainable weights)."""
        dx = self.layer.backward(dy, self.state, need_input_grad, grads[0])
        if not need_input_grad:
            return [None] * len(self.inputs)
        return list(dx) if self.is_list else [dx]
