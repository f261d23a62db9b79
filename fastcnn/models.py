"""Sequential: a stack of layers with Keras' ``compile`` / ``fit`` / ``evaluate`` / ``predict``.

Training follows Keras: the data is shuffled every epoch (from :func:`fastcnn.utils.rng`), the
last partial batch is used, each step minimises the batch's mean loss, and the epoch's ``loss``
and metrics are sample-weighted means over the epoch. When the model ends in ``softmax``
(``sigmoid``) and the loss is (sparse) categorical (binary) cross-entropy, the loss is computed
from the logits (see :mod:`fastcnn.losses`), as Keras' TensorFlow backend does.
"""
import contextlib
import numbers
import signal
import threading

import numpy as np

from . import activations, callbacks as callbacks_module, losses, metrics as metrics_module
from . import optimizers, utils
from . import layers as layers_module
from .layers.base import Layer, as_input, shape_tuple

__all__ = ["Sequential", "load_model"]


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return int(value)


def _check_verbose(verbose):
    if verbose == "auto":
        return 1
    if isinstance(verbose, (bool, numbers.Integral)) and 0 <= int(verbose) <= 2:
        return int(verbose)
    raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")


def _as_array(data, name):
    if data is None:
        raise ValueError(f"{name} is required")
    try:
        arr = data if isinstance(data, np.ndarray) else np.asarray(data)
    except ValueError as exc:
        raise ValueError(f"{name} cannot be made into an array: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a batch of samples, got a scalar")
    return arr


def _format_count(n):
    return f"{n:,}"


def _format_bytes(n):
    size, unit = float(n), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            break
        size /= 1024
    return f"{size:.2f} {unit}"


class _Mean:
    """Sample-weighted running mean of the loss and each metric over one pass."""

    def __init__(self, names):
        self.names = names
        self.sums = dict.fromkeys(names, 0.0)
        self.count = 0

    def add(self, n, values):
        self.count += n
        for name, value in values.items():
            self.sums[name] += value

    def result(self):
        return {name: self.sums[name] / max(self.count, 1) for name in self.names}


class _UpdateGuard:
    """Ctrl-C during ``fit``: a KeyboardInterrupt (SIGINT) that arrives while the optimizer
    updates the weights is held back until the update is complete, so an interrupted fit
    leaves the weights and the optimizer's state of the last completed step, never part of
    one. Python delivers signals to the main thread only: ``with guard:`` (around a fit in
    the main thread, nested fits included) puts its handler in place unless the program has
    its own, and ``with guard.update():`` marks the update."""

    def __init__(self):
        self._depth = 0
        self._previous = None
        self._updating = False
        self._pending = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            if (self._depth == 0
                    and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
                self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._depth += 1
        return self

    def __exit__(self, *exc_info):
        if threading.current_thread() is threading.main_thread():
            self._depth -= 1
            if self._depth == 0 and self._previous is not None:
                signal.signal(signal.SIGINT, self._previous)
                self._previous = None
                self._pending = False

    def _on_sigint(self, signum, frame):
        if self._updating:
            self._pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def update(self):
        if self._previous is None or threading.current_thread() is not threading.main_thread():
            yield
            return
        self._updating = True
        try:
            yield
        finally:
            self._updating = False
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt


_SIGINT_GUARD = _UpdateGuard()


class _Batches:
    """The rows ``index`` (a slice, or an array of positions) of ``x`` as an array of the
    model's dtype, in memory reused from one batch to the next (fresh memory costs a page
    fault per 4 KiB). The array is overwritten by the next call."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self._raw = self._cast = None

    @staticmethod
    def _reuse(buf, shape, dtype):
        if buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:] or len(buf) < shape[0]:
            return np.empty(shape, dtype=dtype)
        return buf

    def __call__(self, x, index):
        if isinstance(index, slice):
            part = x[index]
        else:
            shape = (len(index),) + x.shape[1:]
            self._raw = self._reuse(self._raw, shape, x.dtype)
            # positions come from a permutation, always in range; "clip" spares the
            # temporary copy that mode="raise" makes of out
            part = np.take(x, index, axis=0, out=self._raw[:len(index)], mode="clip")
        if part.dtype == self.dtype:
            return part
        if part.dtype == object or not (np.issubdtype(part.dtype, np.number)
                                        or part.dtype == bool):
            raise TypeError(f"x must be numeric, got an array of dtype {part.dtype}")
        self._cast = self._reuse(self._cast, part.shape, self.dtype)
        out = self._cast[:len(part)]
        np.copyto(out, part, casting="unsafe")
        return out


class Sequential:
    """A linear stack of layers.

    ``Sequential([Conv2D(...), ...])`` or ``Sequential()`` and :meth:`add`. When the first
    layer has ``input_shape`` the model is built at once (weights created, shapes inferred);
    otherwise it is built from the first data it sees.
    """

    def __init__(self, layers=None, name=None):
        if name is None:
            name = layers_module.base.unique_name("sequential")
        elif not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        self.name = name
        self._layers = []
        self._input_shape = None
        self.optimizer = None
        self.loss = None
        self._metric_names = []
        self._metric_fns = []
        self.compiled = False
        self.stop_training = False
        self.history = None
        # fit, evaluate and predict reuse the layers' buffers: one call at a time per model
        self._lock = threading.RLock()
        for layer in [] if layers is None else list(layers):
            self.add(layer)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_lock")
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # -- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._layers)

    def add(self, layer):
        """Append ``layer``; it is built at once when the model's input shape is known."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a fastcnn layer, got {layer!r}")
        if any(layer.name == other.name for other in self._layers):
            raise ValueError(f"a layer named {layer.name!r} is already in the model; layer "
                             "names must be unique")
        if not self._layers and layer.input_shape_arg is not None:
            input_shape = (None,) + layer.input_shape_arg
            layer.build_for(input_shape)
            self._input_shape = input_shape
        elif self._input_shape is not None:
            layer.build_for(self._layers[-1].output_shape)
        self._layers.append(layer)

    def pop(self):
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError("the model has no layers to pop")
        layer = self._layers.pop()
        if not self._layers:
            self._input_shape = None
        return layer

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {[l.name for l in self._layers]}")

    @property
    def built(self):
        return self._input_shape is not None

    def build(self, input_shape):
        """Build every layer for inputs of ``input_shape`` (batch axis first, may be None)."""
        if not self._layers:
            raise ValueError("cannot build a Sequential model with no layers; add layers first")
        input_shape = (None,) + shape_tuple(input_shape[1:], "input_shape")
        if self.built:
            if input_shape != self._input_shape:
                raise ValueError(f'Input of model "{self.name}" is incompatible: expected shape '
                                 f"{self._input_shape}, got {input_shape}")
            return
        shape = input_shape
        for layer in self._layers:
            layer.build_for(shape)
            shape = layer.output_shape
        self._input_shape = input_shape

    @property
    def input_shape(self):
        return self._input_shape

    @property
    def output_shape(self):
        return self._layers[-1].output_shape if self.built else None

    @property
    def dtype(self):
        return self._layers[0].dtype if self._layers else "float32"

    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self._layers for w in layer.trainable_weights]

    def get_weights(self):
        """Copies of every weight array, layer by layer (kernel then bias)."""
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Set every weight from a list like :meth:`get_weights`'s; the count and each shape
        are checked before anything changes (``ValueError`` naming the layer)."""
        if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
            raise TypeError(f"weights must be a list of arrays, got {type(weights).__name__}")
        expected = self.weights
        if len(weights) != len(expected):
            raise ValueError(f"model {self.name!r} has {len(expected)} weight arrays, got "
                             f"{len(weights)}")
        owners = [(layer, i) for layer in self._layers for i in range(len(layer.weights))]
        for (layer, i), new, old in zip(owners, weights, expected):
            if np.shape(new) != old.shape:
                raise ValueError(f"weight {i} of layer {layer.name!r} has shape {old.shape}, "
                                 f"got an array of shape {np.shape(new)}")
        start = 0
        for layer in self._layers:
            count = len(layer.weights)
            layer.set_weights(weights[start:start + count])
            start += count

    def count_params(self):
        return sum(layer.count_params() for layer in self._layers)

    # -- compile -----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer (name or object), the loss (name or object) and metrics
        (a list of names; ``"accuracy"`` is matched to the loss as in Keras)."""
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='categorical_crossentropy'")
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
        self._metric_fns = []
        self.compiled = True

    @property
    def metrics_names(self):
        return ["loss"] + self._metric_names

    def _require_compiled(self, method):
        if not self.compiled:
            raise ValueError(f"You must call compile() before {method}(): the model has no "
                             "optimizer or loss yet")

    # -- data checks -------------------------------------------------------------------------
    def _inputs(self, x, name="x"):
        if not self._layers:
            raise ValueError("the model has no layers")
        x = _as_array(x, name)
        if not self.built:
            self.build(x.shape)
        if x.shape[1:] != self._input_shape[1:]:
            raise ValueError(f'Input {name} of model "{self.name}" is incompatible: expected '
                             f"shape {self._input_shape}, got {name} of shape {x.shape}")
        return x

    def _inputs_and_targets(self, x, y, x_name="x", y_name="y"):
        x = self._inputs(x, x_name)
        y = _as_array(y, y_name)
        if len(x) != len(y):
            raise ValueError(f"{x_name} and {y_name} must have the same number of samples: "
                             f"{x_name} has {len(x)} (shape {x.shape}), {y_name} has {len(y)} "
                             f"(shape {y.shape})")
        targets = self.loss.prepare_targets(y, self.output_shape, self._layers[-1].dtype, y_name)
        return x, targets

    def _metric_functions(self):
        return [metrics_module.get(name, self.loss.name, self.output_shape)
                for name in self._metric_names]

    def _fused(self):
        """True when the last layer's activation is the one the loss can take logits of."""
        last = self._layers[-1]
        return (not self.loss.from_logits and self.loss.fused_activation is not None
                and hasattr(last, "activation")
                and last.activation.name == self.loss.fused_activation)

    # -- forward and backward ----------------------------------------------------------------
    def _forward(self, x, training, logits=False):
        last = len(self._layers) - 1
        i = 0
        while i <= last:
            layer = self._layers[i]
            if logits and i == last:
                x = layer.pre_activation(x, training=training)
            else:
                fused = (self._fused_conv_pool(i, x) if training and i + 1 < last + (not logits)
                         else None)
                if fused is not None:
                    x, i = fused, i + 2
                    continue
                x = layer(x, training=training)
            i += 1
        return x

    def _weight_grads_through_pool(self, first, grad):
        """The first trainable layer a Conv2D with ReLU and the next a MaxPooling2D that did
        that ReLU's backward pass, grad the latter's output gradient: the Conv2D's weight
        gradients straight from grad and the pooling's picks
        (Conv2D._weight_grads_through_pool), or False."""
        conv, pool = self._layers[first], self._layers[first + 1]
        return (isinstance(conv, layers_module.Conv2D)
                and isinstance(pool, layers_module.MaxPooling2D)
                and conv._weight_grads_through_pool(pool, grad))

    def _fused_conv_pool(self, i, x):
        """In a training step: layer i a Conv2D with ReLU and layer i+1 the MaxPooling2D that
        does that ReLU's backward pass (set by _kept_buffers), both built: their two forward
        passes at once (MaxPooling2D._call_after_conv), or None."""
        conv, pool = self._layers[i], self._layers[i + 1]
        if not (isinstance(pool, layers_module.MaxPooling2D) and pool.masks_relu_input
                and isinstance(conv, layers_module.Conv2D) and conv.built and pool.built
                and conv.relu_backward_done):
            return None
        return pool._call_after_conv(conv, x)

    def __call__(self, inputs, training=False):
        return self._forward(self._inputs(inputs, "inputs"), training)

    def _batch_logs(self, yb, out, fused, loss, fns):
        y_pred = activations.get(self.loss.fused_activation).forward(out) if fused else out
        values = {"loss": loss * len(yb)}
        for name, fn in zip(self._metric_names, fns):
            values[name] = float(np.sum(fn(yb, y_pred)))
        return values

    def _train_step(self, xb, yb, fused, fns):
        out = self._forward(xb, training=True, logits=fused)
        loss, grad = self.loss.value_and_grad(yb, out, logits=fused)
        trainable = [i for i, layer in enumerate(self._layers) if layer.trainable_weights]
        if trainable:
            first = trainable[0]
            for i in range(len(self._layers) - 1, first - 1, -1):
                if i == first + 1 and self._weight_grads_through_pool(first, grad):
                    break
                grad = self._layers[i].backward(grad, need_input_grad=i > first)
        grads = [g for i in trainable for g in self._layers[i].grads]
        with _SIGINT_GUARD.update():
            self.optimizer.apply(grads, self.trainable_weights)
        return self._batch_logs(yb, out, fused, loss, fns)

    def _test_step(self, xb, yb, fused, fns):
        out = self._forward(xb, training=False, logits=fused)
        return self._batch_logs(yb, out, fused, self.loss.value(yb, out, logits=fused), fns)

    @staticmethod
    def _batches(n, batch_size, order=None):
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            yield slice(start, stop) if order is None else order[start:stop]

    def _batch_gatherer(self):
        """The model's _Batches, kept between calls like the layers' buffers."""
        if getattr(self, "_gather", None) is None or self._gather.dtype != np.dtype(self.dtype):
            self._gather = _Batches(self.dtype)
        return self._gather

    @contextlib.contextmanager
    def _kept_buffers(self):
        """While the model runs its layers (and only then: a layer called on its own returns
        arrays the caller owns and computes its own gradients), layers keep their result
        buffers from one batch to the next, and a max pooling that follows a ReLU does the
        ReLU's backward pass on its smaller gradient. The model's lock is held meanwhile, so
        threads sharing a model take turns."""
        with self._lock:
            before = [(layer.keep_buffers, layer.relu_backward_done,
                       getattr(layer, "masks_relu_input", False)) for layer in self._layers]
            for layer in self._layers:
                layer.keep_buffers = True
            for prev, layer in zip(self._layers, self._layers[1:]):
                if (isinstance(layer, layers_module.MaxPooling2D)
                        and getattr(prev, "activation", None) is not None
                        and prev.activation.name == "relu"):
                    layer.masks_relu_input = True
                    prev.relu_backward_done = True
            try:
                yield
            finally:
                for layer, (keep, done, masks) in zip(self._layers, before):
                    layer.keep_buffers, layer.relu_backward_done = keep, done
                    if isinstance(layer, layers_module.MaxPooling2D):
                        layer.masks_relu_input = masks

    def _run_test(self, x, y, batch_size, cbs=None):
        fused, fns = self._fused(), self._metric_functions()
        tracker = _Mean(self.metrics_names)
        gather = self._batch_gatherer()
        for step, index in enumerate(self._batches(len(x), batch_size)):
            if cbs is not None:
                cbs.on_test_batch_begin(step)
            tracker.add(len(y[index]), self._test_step(gather(x, index), y[index], fused, fns))
            if cbs is not None:
                cbs.on_test_batch_end(step, tracker.result())
        return tracker.result()

    # -- fit / evaluate / predict ------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose=1, validation_data=None,
            validation_split=0.0, shuffle=True, callbacks=None):
        """Train for ``epochs`` passes over ``(x, y)``; returns the :class:`History`.

        ``validation_data=(x_val, y_val)``, or ``validation_split`` (a fraction taken from the
        end of the data before shuffling, as in Keras), adds ``val_*`` entries to the logs.
        """
        self._require_compiled("fit")
        batch_size = 32 if batch_size is None else _check_int(batch_size, "batch_size", 1)
        epochs = _check_int(epochs, "epochs", 0)
        verbose = _check_verbose(verbose)
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
        x, y = self._inputs_and_targets(x, y)
        if len(x) == 0:
            raise ValueError(f"x is empty (shape {x.shape}); fit needs at least one sample")
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val)")
            val = self._inputs_and_targets(validation_data[0], validation_data[1],
                                           "x_val", "y_val")
        elif validation_split:
            if not isinstance(validation_split, numbers.Real) or not 0 < validation_split < 1:
                raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
            split = int(np.floor(len(x) * (1.0 - validation_split)))
            if split == 0 or split == len(x):
                raise ValueError(f"validation_split={validation_split} leaves no training or no "
                                 f"validation samples out of {len(x)}")
            val = (x[split:], y[split:])
            x, y = x[:split], y[:split]

        n = len(x)
        steps = -(-n // batch_size)
        self.history = callbacks_module.History()
        extra = [self.history] + ([callbacks_module.ProgbarLogger()] if verbose else [])
        cbs = callbacks_module.CallbackList(
            extra + list(callbacks or []), self,
            {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size})
        self.stop_training = False
        cbs.on_train_begin()
        with self._kept_buffers(), _SIGINT_GUARD:
            self._fit_epochs(x, y, val, epochs, batch_size, shuffle, cbs)
        cbs.on_train_end()
        return self.history

    def _fit_epochs(self, x, y, val, epochs, batch_size, shuffle, cbs):
        n = len(x)
        fused, fns = self._fused(), self._metric_functions()
        gather = self._batch_gatherer()
        for epoch in range(epochs):
            cbs.on_epoch_begin(epoch)
            tracker = _Mean(self.metrics_names)
            order = utils.rng().permutation(n) if shuffle else None
            for step, index in enumerate(self._batches(n, batch_size, order)):
                cbs.on_train_batch_begin(step)
                xb = gather(x, index)
                tracker.add(len(xb), self._train_step(xb, y[index], fused, fns))
                cbs.on_train_batch_end(step, tracker.result())
                if self.stop_training:
                    break
            logs = tracker.result()
            if val is not None:
                val_logs = self._run_test(val[0], val[1], batch_size)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break

    def evaluate(self, x=None, y=None, batch_size=32, verbose=1, *, return_dict=False,
                 callbacks=None):
        """Loss (and metrics) over ``(x, y)``: the loss alone, or ``[loss, *metrics]`` when
        the model was compiled with metrics (a dict with ``return_dict=True``)."""
        self._require_compiled("evaluate")
        batch_size = 32 if batch_size is None else _check_int(batch_size, "batch_size", 1)
        verbose = _check_verbose(verbose)
        x, y = self._inputs_and_targets(x, y)
        if len(x) == 0:
            raise ValueError(f"x is empty (shape {x.shape}); evaluate needs at least one sample")
        extra = [callbacks_module.ProgbarLogger()] if verbose else []
        cbs = callbacks_module.CallbackList(
            extra + list(callbacks or []), self,
            {"steps": -(-len(x) // batch_size), "verbose": verbose, "batch_size": batch_size})
        cbs.on_test_begin()
        with self._kept_buffers():
            logs = self._run_test(x, y, batch_size, cbs)
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=32, verbose=0, *, callbacks=None):
        """The model's outputs for ``x``, computed ``batch_size`` samples at a time."""
        batch_size = 32 if batch_size is None else _check_int(batch_size, "batch_size", 1)
        verbose = _check_verbose(verbose)
        x = self._inputs(x)
        out = np.empty((len(x),) + self.output_shape[1:], dtype=self._layers[-1].dtype)
        steps = -(-len(x) // batch_size)
        extra = [callbacks_module.ProgbarLogger()] if verbose else []
        cbs = callbacks_module.CallbackList(
            extra + list(callbacks or []), self,
            {"steps": steps, "verbose": verbose, "batch_size": batch_size})
        cbs.on_predict_begin()
        gather = self._batch_gatherer()
        with self._kept_buffers():
            for step, index in enumerate(self._batches(len(x), batch_size)):
                cbs.on_predict_batch_begin(step)
                out[index] = self._forward(gather(x, index), training=False)
                cbs.on_predict_batch_end(step)
        cbs.on_predict_end()
        return out

    # -- summary, config, saving -------------------------------------------------------------
    def summary(self, line_length=None, print_fn=None):
        """Print each layer's name, type, output shape and parameter count, then the totals,
        as Keras does. ``print_fn`` receives each line (default: ``print``)."""
        print_fn = print if print_fn is None else print_fn
        rows = []
        for layer in self._layers:
            label = f"{layer.name} ({type(layer).__name__})"
            if layer.built:
                rows.append((label, str(layer.output_shape), _format_count(layer.count_params())))
            else:
                rows.append((label, "?", "0 (unbuilt)"))
        header = ("Layer (type)", "Output Shape", "Param #")
        widths = [max([len(header[c]) + 2, (29, 26, 10)[c]] + [len(r[c]) + 2 for r in rows])
                  for c in range(3)]
        width = max(sum(widths) + 1, line_length or 0)
        widths[0] += width - sum(widths) - 1

        def row(cells):
            return (" " + cells[0].ljust(widths[0]) + cells[1].ljust(widths[1])
                    + cells[2].rjust(widths[2] - 2))

        trainable = sum(w.size for w in self.trainable_weights)
        total = sum(w.size for w in self.weights)
        itemsize = np.dtype(self.dtype).itemsize
        lines = [f'Model: "{self.name}"', "_" * width, row(header), "=" * width]
        lines += [row(r) for r in rows]
        lines += ["=" * width,
                  f" Total params: {_format_count(total)} ({_format_bytes(total * itemsize)})",
                  f" Trainable params: {_format_count(trainable)} "
                  f"({_format_bytes(trainable * itemsize)})",
                  f" Non-trainable params: {_format_count(total - trainable)} "
                  f"({_format_bytes((total - trainable) * itemsize)})",
                  "_" * width]
        for line in lines:
            print_fn(line)

    def get_config(self):
        config = {"name": self.name,
                  "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                             for layer in self._layers]}
        if self.built:
            config["build_input_shape"] = list(self._input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        """A new (untrained) model from :meth:`get_config`'s output."""
        model = cls(name=config.get("name"))
        for entry in config.get("layers", []):
            model.add(layers_module.get(entry["class_name"]).from_config(entry["config"]))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built:
            model.build(tuple(shape))
        return model

    def save(self, filepath):
        """Write the architecture, weights, compile settings and optimizer state to one file
        (see :mod:`fastcnn.saving`); the write is atomic."""
        from . import saving
        saving.save_model(self, filepath)

    def __repr__(self):
        return f"<Sequential name={self.name!r}, layers={len(self._layers)}>"


def load_model(filepath, compile=True):
    """Load a model written by :meth:`Sequential.save` (never unpickles)."""
    from . import saving
    return saving.load_model(filepath, compile=compile)
