"""The training loop: ``compile``, ``fit``, ``evaluate``, ``predict`` and ``model(x)``, with
Keras' semantics, run on the model's execution plans (:mod:`fastcnn.models.plan`).

Training follows Keras: the data is shuffled every epoch (from :func:`fastcnn.utils.rng`), the
last partial batch is used, each step minimises the batch's mean loss (summed over the
outputs of a model with several), and the epoch's ``loss`` and metrics are sample-weighted
means over the epoch. When an output ends in ``softmax`` (``sigmoid``) and the loss is
(sparse) categorical (binary) cross-entropy, the loss is computed from the logits (see
:mod:`fastcnn.losses`), as Keras' TensorFlow backend does.
"""
import numbers
import threading

import numpy as np

from .. import activations, callbacks as callbacks_module, distributed, losses
from .. import metrics as metrics_module, optimizers
from ..layers.base import CallState
from .data import Batches, Mean, as_array, batch_slices, check_int, check_verbose, weights_for
from .interrupt import SIGINT_GUARD
from .plan import Plan

__all__ = ["Trainer"]


class Trainer:
    """The part of a model that trains and runs it. The model provides ``_graph_for(xs)``
    (its graph, built from the data's shapes when needed), ``_input_count()``,
    ``_output_structure(list)`` (a list or its one element), ``trainable_weights`` and
    ``name``."""

    def _init_trainer(self):
        self.optimizer = None
        self.loss = None
        self._metric_names = []
        self.compiled = False
        self.fuse = True
        self.stop_training = False
        self.history = None
        self._plans = {}
        self._states = {}
        # fit, evaluate and predict reuse the plans' buffers: one call at a time per model
        self._lock = threading.RLock()

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_lock")
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # -- compile -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, *, fuse=True):
        """Choose the optimizer (name or object), the loss (name or object) and metrics
        (a list of names; ``"accuracy"`` is matched to the loss as in Keras). ``fuse=False``
        runs every layer call on its own (the results are bitwise the same; see
        :mod:`fastcnn.models.fusion`)."""
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='categorical_crossentropy'")
        if not isinstance(fuse, bool):
            raise TypeError(f"fuse must be a bool, got {fuse!r}")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
            raise TypeError(f"metrics must be a list of names such as ['accuracy'], got "
                            f"{metrics!r}")
        for name in metrics:
            metrics_module.get(name, self.loss.name)      # validates the name
        self._metric_names = list(metrics)
        self.fuse = fuse
        self._plans = {}
        self.compiled = True

    @property
    def metrics_names(self):
        return ["loss"] + self._metric_names

    def _require_compiled(self, method):
        if not self.compiled:
            raise ValueError(f"You must call compile() before {method}(): the model has no "
                             "optimizer or loss yet")

    # -- plans -------------------------------------------------------------------------------
    def _state(self, node):
        """The kept CallState of a node, shared by the model's plans (one runs at a time)."""
        state = self._states.get(id(node))
        if state is None:
            state = self._states[id(node)] = CallState(keep=True)
        return state

    def _plan(self, graph, purpose):
        """The plan for ``purpose``: "train" (forward and backward, logits for the loss),
        "test" (forward, logits for the loss) or "predict" (forward)."""
        weights = tuple(id(w) for w in self.trainable_weights) if purpose == "train" else ()
        key = (purpose, id(graph), self.fuse, weights)
        plan = self._plans.get(key)
        if plan is None:
            acts = None
            if purpose != "predict":
                acts = [self.loss.fused_activation if not self.loss.from_logits else None
                        for _ in graph.outputs]
            plan = Plan(graph, backward=purpose == "train", fuse=self.fuse,
                        loss_activations=acts, states=self._state)
            self._plans = {k: p for k, p in self._plans.items() if k[0] != purpose}
            self._plans[key] = plan
        return plan

    # -- data --------------------------------------------------------------------------------
    def _inputs(self, x, name="x"):
        """``x`` as a list of arrays, one per model input, checked against the graph (built
        from them when the model is not built yet); and the graph."""
        single = self._input_count() == 1
        if single and isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape"):
            x = x[0]                  # [x] for a model of one input, as Keras takes it
        if not single and not isinstance(x, (list, tuple)):
            raise ValueError(f'model "{self.name}" has {self._input_count()} inputs: {name} '
                             f"must be a list of {self._input_count()} arrays")
        xs = [as_array(x, name)] if single else [as_array(a, f"{name}[{i}]")
                                                 for i, a in enumerate(x)]
        graph = self._graph_for(xs)
        if len(xs) != len(graph.inputs):
            raise ValueError(f'model "{self.name}" has {len(graph.inputs)} inputs, got '
                             f"{len(xs)} arrays for {name}")
        for i, (a, t) in enumerate(zip(xs, graph.inputs)):
            label = name if single else f"{name}[{i}]"
            if a.shape[1:] != t.shape[1:]:
                raise ValueError(f'Input {label} of model "{self.name}" is incompatible: '
                                 f"expected shape {t.shape}, got {label} of shape {a.shape}")
            if len(a) != len(xs[0]):
                raise ValueError(f"the inputs {name} must have the same number of samples, "
                                 f"got {[len(b) for b in xs]}")
        return xs, graph

    def _targets(self, graph, y, xs, x_name="x", name="y"):
        ys = [y] if len(graph.outputs) == 1 else y
        if not isinstance(ys, (list, tuple)) or len(ys) != len(graph.outputs):
            raise ValueError(f'model "{self.name}" has {len(graph.outputs)} outputs: {name} '
                             f"must be a list of {len(graph.outputs)} arrays")
        out = []
        for i, (target, t) in enumerate(zip(ys, graph.outputs)):
            label = name if len(ys) == 1 else f"{name}[{i}]"
            target = as_array(target, label)
            if len(target) != len(xs[0]):
                raise ValueError(f"{x_name} and {label} must have the same number of samples: "
                                 f"{x_name} has {len(xs[0])} (shape {xs[0].shape}), {label} "
                                 f"has {len(target)} (shape {target.shape})")
            out.append(self.loss.prepare_targets(target, t.shape, t.dtype, label))
        return out

    def _inputs_and_targets(self, x, y, x_name="x", y_name="y"):
        xs, graph = self._inputs(x, x_name)
        return xs, self._targets(graph, y, xs, x_name, y_name), graph

    def _gatherers(self, count):
        """One Batches per input, kept between calls like the plans' buffers."""
        gathers = getattr(self, "_gather", None)
        if gathers is None or len(gathers) != count:
            gathers = self._gather = [Batches(np.float32) for _ in range(count)]
        return gathers

    def _gathered(self, xs, graph, index):
        gathers = self._gatherers(len(xs))
        for g, t in zip(gathers, graph.inputs):
            g.dtype = np.dtype(t.dtype)
        return [g(x, index) for g, x in zip(gathers, xs)]

    # -- steps -------------------------------------------------------------------------------
    def _metric_functions(self, graph):
        if self._metric_names and len(graph.outputs) > 1:
            raise ValueError(f'model "{self.name}" has {len(graph.outputs)} outputs; metrics '
                             "are supported for models with one output")
        return [metrics_module.get(name, self.loss.name, graph.outputs[0].shape)
                for name in self._metric_names]

    def _batch_logs(self, graph, plan, ybs, outs, per_output, penalty, fns):
        n = len(ybs[0])
        values = {"loss": (sum(per_output) + penalty) * n}
        if len(outs) > 1:
            for t, loss in zip(graph.outputs, per_output):
                values[f"{t.node.layer.name}_loss"] = loss * n
        if fns:
            out = outs[0]
            if plan.logits[0]:
                out = activations.get(self.loss.fused_activation).forward(out)
            for name, fn in zip(self._metric_names, fns):
                values[name] = float(np.sum(fn(ybs[0], out)))
        return values

    def _penalty(self, regularized):
        return sum(reg.penalty(w) for _, w, reg in regularized)

    def _train_step(self, graph, plan, xbs, ybs, swb, fns, world):
        """One step on this rank's share of the batch (all of it in one process); returns
        the global batch's size and summed logs (see :mod:`fastcnn.distributed`)."""
        penalty = self._penalty(plan.regularized)
        if len(ybs[0]):
            outs = plan.forward(xbs, training=True)
            per_output, grads = [], []
            for out, yb, logits in zip(outs, ybs, plan.logits):
                loss, grad = self.loss.value_and_grad(yb, out, logits=logits, sample_weight=swb)
                per_output.append(loss)
                grads.append(grad)
            weight_grads = plan.backward(grads) if plan.trainable_weights else []
            logs = self._batch_logs(graph, plan, ybs, outs, per_output, penalty, fns)
        else:       # this rank's share of the last, partial batch is empty
            weight_grads, logs = plan.gradients or [], dict.fromkeys(self._log_names(graph), 0.0)
        n, logs = world.average(weight_grads, len(ybs[0]), logs)
        for i, w, reg in plan.regularized:     # after the average: each penalty counts once
            if i is not None:
                reg.add_gradient(w, weight_grads[i])
        with SIGINT_GUARD.update():
            self.optimizer.apply(weight_grads, plan.trainable_weights,
                                 paths=plan.weight_paths)
        return n, logs

    def _test_step(self, graph, plan, xbs, ybs, swb, penalty, fns):
        outs = plan.forward(xbs, training=False)
        per_output = [self.loss.value(yb, out, logits=logits, sample_weight=swb)
                      for out, yb, logits in zip(outs, ybs, plan.logits)]
        return self._batch_logs(graph, plan, ybs, outs, per_output, penalty, fns)

    def _log_names(self, graph):
        names = ["loss"]
        if len(graph.outputs) > 1:
            names += [f"{t.node.layer.name}_loss" for t in graph.outputs]
        return names + self._metric_names

    def _run_test(self, graph, xs, ys, sw, batch_size, cbs=None):
        fns, plan = self._metric_functions(graph), self._plan(graph, "test")
        penalty = self._penalty(plan.regularized)
        tracker = Mean(self._log_names(graph))
        for step, index in enumerate(batch_slices(len(xs[0]), batch_size)):
            if cbs is not None:
                cbs.on_test_batch_begin(step)
            ybs = [y[index] for y in ys]
            tracker.add(len(ybs[0]), self._test_step(
                graph, plan, self._gathered(xs, graph, index), ybs,
                None if sw is None else sw[index], penalty, fns))
            if cbs is not None:
                cbs.on_test_batch_end(step, tracker.result())
        return distributed.world().mean(tracker)

    # -- fit / evaluate / predict ------------------------------------------------------------
    @distributed.collective
    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0):
        """Train for epochs ``initial_epoch`` to ``epochs - 1`` over ``(x, y)``; returns the
        :class:`History`.

        ``validation_data=(x_val, y_val)`` (or ``(x_val, y_val, sample_weight_val)``), or
        ``validation_split`` (a fraction taken from the end of the data before shuffling, as
        in Keras), adds ``val_*`` entries to the logs. ``sample_weight`` (one weight per
        sample) or ``class_weight`` (``{class: weight}``) weight each sample's loss: a batch's
        loss is the weighted sum over the batch size, as Keras reduces it.
        """
        self._require_compiled("fit")
        batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", 1)
        epochs = check_int(epochs, "epochs", 0)
        initial_epoch = check_int(initial_epoch, "initial_epoch", 0)
        verbose = check_verbose(verbose)
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
        xs, ys, graph = self._inputs_and_targets(x, y)
        if len(xs[0]) == 0:
            raise ValueError(f"x is empty (shape {xs[0].shape}); fit needs at least one sample")
        sw = weights_for(graph, ys, sample_weight, class_weight)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                                 "sample_weight_val)")
            vxs, vys, _ = self._inputs_and_targets(validation_data[0], validation_data[1],
                                                   "x_val", "y_val")
            vsw = (weights_for(graph, vys, validation_data[2], None, "sample_weight_val")
                   if len(validation_data) == 3 else None)
            val = (vxs, vys, vsw)
        elif validation_split:
            if not isinstance(validation_split, numbers.Real) or not 0 < validation_split < 1:
                raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
            split = int(np.floor(len(xs[0]) * (1.0 - validation_split)))
            if split == 0 or split == len(xs[0]):
                raise ValueError(f"validation_split={validation_split} leaves no training or no "
                                 f"validation samples out of {len(xs[0])}")
            val = ([a[split:] for a in xs], [a[split:] for a in ys],
                   None if sw is None else sw[split:])
            xs, ys = [a[:split] for a in xs], [a[:split] for a in ys]
            sw = None if sw is None else sw[:split]

        steps = -(-len(xs[0]) // batch_size)
        world = distributed.world()
        world.begin_fit(self, self._plan(graph, "train"), samples=len(xs[0]),
                        batch_size=batch_size, epochs=epochs, initial_epoch=initial_epoch,
                        shuffle=shuffle, validation_samples=-1 if val is None else len(val[0][0]),
                        weighted=sw is not None)
        if val is not None:
            val = world.part(*val)
        self.history = callbacks_module.History()
        extra = [self.history] + ([callbacks_module.ProgbarLogger()] if verbose else [])
        cbs = callbacks_module.CallbackList(
            list(callbacks or []) + extra, self,
            {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size})
        self.stop_training = False
        cbs.on_train_begin()
        with self._lock, SIGINT_GUARD:
            self._fit_epochs(graph, (xs, ys, sw), val, range(initial_epoch, epochs), batch_size,
                             shuffle, cbs)
        cbs.on_train_end()
        return self.history

    def _fit_epochs(self, graph, data, val, epochs, batch_size, shuffle, cbs):
        xs, ys, sw = data
        n = len(xs[0])
        fns, plan = self._metric_functions(graph), self._plan(graph, "train")
        world = distributed.world()
        for epoch in epochs:
            cbs.on_epoch_begin(epoch)
            tracker = Mean(self._log_names(graph))
            order = world.permutation(n) if shuffle else None
            for step, index in enumerate(batch_slices(n, batch_size, order)):
                cbs.on_train_batch_begin(step)
                index = world.share(index)
                xbs = self._gathered(xs, graph, index)
                tracker.add(*self._train_step(
                    graph, plan, xbs, [y[index] for y in ys], None if sw is None else sw[index],
                    fns, world))
                cbs.on_train_batch_end(step, tracker.result())
                self.stop_training = world.any(self.stop_training)
                if self.stop_training:
                    break
            world.end_epoch(self)
            logs = tracker.result()
            if val is not None:
                val_logs = self._run_test(graph, val[0], val[1], val[2], batch_size)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            self.stop_training = world.any(self.stop_training)
            if self.stop_training:
                break

    @distributed.collective
    def evaluate(self, x=None, y=None, batch_size=32, verbose="auto", sample_weight=None, *,
                 return_dict=False, callbacks=None):
        """Loss (and metrics) over ``(x, y)``: the loss alone, or ``[loss, *metrics]`` when
        the model was compiled with metrics (a dict with ``return_dict=True``);
        ``sample_weight`` weights each sample's loss as in ``fit``."""
        self._require_compiled("evaluate")
        batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", 1)
        verbose = check_verbose(verbose)
        xs, ys, graph = self._inputs_and_targets(x, y)
        if len(xs[0]) == 0:
            raise ValueError(f"x is empty (shape {xs[0].shape}); evaluate needs at least one "
                             "sample")
        sw = weights_for(graph, ys, sample_weight, None)
        world = distributed.world()
        world.begin_test(self, "evaluate", len(xs[0]), batch_size)
        xs, ys, sw = world.part(xs, ys, sw)
        extra = [callbacks_module.ProgbarLogger()] if verbose else []
        cbs = callbacks_module.CallbackList(
            list(callbacks or []) + extra, self,
            {"steps": -(-len(xs[0]) // batch_size), "verbose": verbose,
             "batch_size": batch_size})
        cbs.on_test_begin()
        with self._lock:
            logs = self._run_test(graph, xs, ys, sw, batch_size, cbs)
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        values = [logs[name] for name in self._log_names(graph)]
        return values[0] if len(values) == 1 else values

    @distributed.collective
    def predict(self, x, batch_size=32, verbose=0, *, callbacks=None):
        """The model's outputs for ``x`` (a list for a model with several), computed
        ``batch_size`` samples at a time."""
        batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", 1)
        verbose = check_verbose(verbose)
        xs, graph = self._inputs(x)
        world, total = distributed.world(), len(xs[0])
        world.begin_test(self, "predict", total, batch_size)
        (xs,) = world.part(xs)
        n = len(xs[0])
        outs = [np.empty((n,) + t.shape[1:], dtype=t.dtype) for t in graph.outputs]
        extra = [callbacks_module.ProgbarLogger()] if verbose else []
        cbs = callbacks_module.CallbackList(
            list(callbacks or []) + extra, self,
            {"steps": -(-n // batch_size), "verbose": verbose, "batch_size": batch_size})
        cbs.on_predict_begin()
        with self._lock:
            plan = self._plan(graph, "predict")
            for step, index in enumerate(batch_slices(n, batch_size)):
                cbs.on_predict_batch_begin(step)
                for out, value in zip(outs, plan.forward(self._gathered(xs, graph, index),
                                                         training=False)):
                    out[index] = value
                cbs.on_predict_batch_end(step)
        cbs.on_predict_end()
        return self._output_structure(world.gather(outs, total))

    def __call__(self, inputs, training=False):
        """The outputs for ``inputs`` (arrays the caller owns), in inference or, with
        ``training=True``, in training mode (dropout active, batch statistics)."""
        xs, graph = self._inputs(inputs, "inputs")
        xs = [a if a.dtype == t.dtype else a.astype(t.dtype) for a, t in zip(xs, graph.inputs)]
        plan = Plan(graph, backward=False, fuse=self.fuse)
        return self._output_structure(plan.forward(xs, training=training))
