"""The execution plan: a model's graph as a list of steps that run it.

A plan is made once for a purpose (a training step, or a forward pass) and kept: every step
keeps its result buffers from one batch to the next (made for the largest batch seen), and
the plan keeps the gradient buffers. Each step runs one layer call, or several that a rule of
:mod:`fastcnn.models.fusion` runs as one (that module is the only place where layers are
combined; a plan made with ``fuse=False`` has one step per layer call and gives bitwise the
same results).

Values live in slots, one per tensor of the graph. The backward pass walks the steps in
reverse: a step whose output depends on no trainable weight is skipped, a step is asked for
its input gradients only where some trainable weight lies behind that input, and the
gradients of a tensor read by several layers are summed in a fixed order. A layer called more
than once gets one weight gradient per call, summed in the order of the calls.
"""
import numpy as np

from .. import _config, _elementwise
from ..layers.base import CallState
from . import fusion

__all__ = ["Plan"]

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Plan:
    """The steps that run ``graph`` (a :class:`fastcnn.models.graph.Graph`).

    ``backward``: the plan also computes weight gradients (a training step).
    ``fuse``: apply the fusion rules. ``loss_activations``: per output, the activation whose
    logits the loss takes instead of its output (see :mod:`fastcnn.losses`), or None; the
    outputs where that applies are given as logits (:attr:`logits`). ``states``: the
    CallState of each node (a function of the node), whose kept buffers a model's plans
    share from one batch to the next; without it every result is a new array.
    ``input_gradients``: the backward pass also gives the gradients with respect to the
    inputs (:attr:`input_gradients`).
    """

    def __init__(self, graph, *, backward, fuse=True, loss_activations=None, states=None,
                 input_gradients=False):
        self.graph = graph
        self._keep = states is not None
        if states is None:
            states = lambda node: CallState()  # noqa: E731
        self._slots = {}
        for t in graph.inputs:
            self.slot(t)
        loss_activations = loss_activations or [None] * len(graph.outputs)
        self.steps, logits_ids = fusion.plan_steps(graph, self.slot, states, backward=backward,
                                                   fuse=fuse,
                                                   loss_activations=loss_activations)
        self.input_slots = [self.slot(t) for t in graph.inputs]
        self.output_slots = [self.slot(t) for t in graph.outputs]
        self.logits = [id(t) in logits_ids for t in graph.outputs]
        self._values = [None] * len(self._slots)
        self.input_gradients = None
        self.trainable_weights, self.weight_paths = [], []
        if backward:
            self._prepare_backward(input_gradients)
        index = {id(w): i for i, w in enumerate(self.trainable_weights)}
        # (gradient index or None, weight, regularizer) of every regularized weight: the
        # penalty counts in the loss of every plan, its gradient where the weight is trained
        self.regularized = [(index.get(id(w)), w, reg) for layer in graph.layers
                            for w, reg in layer.regularized_weights]

    def slot(self, tensor):
        """The slot of a symbolic tensor (made on first use)."""
        return self._slots.setdefault(id(tensor), len(self._slots))

    # -- forward -----------------------------------------------------------------------------
    def forward(self, inputs, training):
        """The outputs (a list) for ``inputs`` (a list of arrays, one per model input, of the
        inputs' dtypes and shapes)."""
        values = self._values
        for slot, x in zip(self.input_slots, inputs):
            values[slot] = x
        for step in self.steps:
            step.forward(values, training)
        return [values[s] for s in self.output_slots]

    # -- backward ----------------------------------------------------------------------------
    def _prepare_backward(self, input_gradients):
        """Which slots need gradients, which layers' weights are trained, and the order in
        which their per-call gradients are summed."""
        needs = [False] * len(self._slots)
        for slot in self.input_slots:
            needs[slot] = input_gradients
        self._wants_input_gradients = input_gradients
        self._calls = {}          # layer id -> number of steps that use its weights
        for step in self.steps:
            trains = False
            for layer in step.layers:
                if layer.trainable_weights:
                    trains = True
                    self._calls[id(layer)] = self._calls.get(id(layer), 0) + 1
            step.need_input_grad = any(needs[s] for s in step.inputs)
            step.runs_backward = needs[step.output] = trains or step.need_input_grad
        for layer in self.graph.layers:
            if id(layer) in self._calls:
                self.trainable_weights.extend(layer.trainable_weights)
                # what the optimizer's exclude_from_weight_decay(var_names=) matches
                self.weight_paths.extend(f"{layer.name}/{layer.weight_name(w)}"
                                         for w in layer.trainable_weights)
        self._needs = needs
        self._grads = None
        self._sums = CallState(self._keep)

    def _grad_arrays(self):
        """Per step, per layer of the step: the arrays its weight gradients go to. A layer's
        first call writes the gradients the optimizer reads; later calls get their own,
        added to the first after the backward pass."""
        first, extra, per_step = {}, [], []
        for step in self.steps:
            arrays = []
            for layer in step.layers:
                if id(layer) not in self._calls:
                    arrays.append(None)
                    continue
                own = [np.empty_like(w) for w in layer.trainable_weights]
                if id(layer) in first:
                    extra.append((first[id(layer)], own))
                else:
                    first[id(layer)] = own
                arrays.append(own)
            per_step.append(arrays)
        grads = [g for layer in self.graph.layers if id(layer) in first for g in first[id(layer)]]
        return per_step, extra, grads

    def backward(self, output_grads):
        """The gradients of the trainable weights (aligned with :attr:`trainable_weights`)
        for the gradients of the outputs of the last :meth:`forward` (training)."""
        if self._grads is None:
            self._grads = self._grad_arrays()
        per_step, extra, weight_grads = self._grads
        grads = {}
        for slot, g in zip(self.output_slots, output_grads):
            self._accumulate(grads, slot, g)
        for step, arrays in zip(reversed(self.steps), reversed(per_step)):
            dy = grads.pop(step.output, None)
            if not step.runs_backward or dy is None:
                continue
            dxs = step.backward(dy, step.need_input_grad, arrays)
            for slot, dx in zip(step.inputs, dxs):
                if dx is not None and self._needs[slot]:
                    self._accumulate(grads, slot, dx)
        for total, part in extra:
            for t, p in zip(total, part):
                t += p
        if self._wants_input_gradients:
            self.input_gradients = [grads.get(s) for s in self.input_slots]
        return weight_grads

    @property
    def gradients(self):
        """The weight gradients of the last :meth:`backward` (None before the first)."""
        return None if self._grads is None else self._grads[2]

    def _accumulate(self, grads, slot, g):
        """grads[slot] += g, into a buffer of the plan's when a second gradient arrives (the
        first one may be another step's buffer, which is not ours to write)."""
        if slot not in grads:
            grads[slot] = g
            return
        first = grads[slot]
        buf = self._sums.buffer(slot, g.shape, g.dtype)
        if (first.dtype == g.dtype and g.dtype in _KERNEL_DTYPES and first.shape == g.shape
                and first.flags.c_contiguous and g.flags.c_contiguous):
            # the compiled sum runs on every thread (np.add on one); bitwise the same sums.
            # buf may be first itself (a third gradient), which that kernel allows.
            _elementwise.add([first.reshape(-1), g.reshape(-1)], buf.reshape(-1), False,
                             _config.get_num_threads())
        else:
            np.add(first, g, out=buf)
        grads[slot] = buf
