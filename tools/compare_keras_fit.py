"""The training checks of tools/compare_keras.py: one ``fit`` run of a case, shared by both
sides like compare_keras_run.py (NumPy only; the library comes in as the same adapter).

A run (an entry of a case's ``fit``, see compare_keras_cases.py) compiles the model from the
case's initial weights with a fresh optimizer and loss (names or described objects: schedules
as learning rates, losses with arguments), trains in order (``shuffle=False``) with the run's
``fit`` keyword arguments and callbacks, and records:

- ``history.history[key]`` for every key (``loss`` as "epoch losses", the others as
  "history <key>": ``learning_rate`` when a callback logs it) and ``history.epoch``;
- the running mean ``logs["loss"]`` after every batch ("batch losses") and, with ``rates``,
  ``float(model.optimizer.learning_rate)`` after every batch ("batch learning rates": the rate
  of the next step, a schedule's value at the optimizer's ``iterations``);
- with ``evaluate``, ``model.evaluate(x, y, **evaluate)`` on the initial and on the trained
  weights;
- every layer's weights after training (BatchNormalization's moving statistics included).
"""
import numpy as np

from compare_keras_run import model_inputs, named_weights, resolve, set_named_weights


def _recorder(base, record_rates):
    """A callback keeping ``logs["loss"]`` after every batch (the running mean over the epoch
    in Keras 3 and in fastcnn alike; equal running means mean equal per-step losses) and, when
    asked, the optimizer's learning rate."""
    class BatchLog(base):
        def __init__(self):
            super().__init__()
            self.losses, self.rates = [], []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))
            if record_rates:
                self.rates.append(float(np.asarray(self.model.optimizer.learning_rate)))
    return BatchLog()


def fit_kwargs(lib, run, data):
    """The run's extra ``fit`` keyword arguments as the library takes them: ``{"data": key}``
    values are the case's arrays; ``class_weight``'s keys, strings once the case went through
    JSON, are class indices again."""
    kwargs = resolve(lib, run.get("kwargs", {}), data)
    if "class_weight" in kwargs:
        kwargs["class_weight"] = {int(k): float(v) for k, v in kwargs["class_weight"].items()}
    return kwargs


def _evaluate(model, x, y, run, data, lib):
    value = model.evaluate(x, y, batch_size=run["batch_size"], verbose=0,
                           **resolve(lib, run["evaluate"], data))
    return np.array(value, dtype=np.float64)


def fit(lib, model, case, data, weights, run):
    """Train from the initial weights as ``run`` describes; returns the results keyed
    ``(kind, row, item)`` (kinds are compare_keras_cases.TOLERANCES' keys)."""
    set_named_weights(model, weights)
    opt = run["optimizer"]
    model.compile(optimizer=lib.optimizer(opt["class"], resolve(lib, opt["args"])),
                  loss=resolve(lib, run["loss"]))
    x, y = model_inputs(case, data), data["y"]
    results = {}
    if "evaluate" in run:
        results[("losses", "evaluate before fit", "")] = _evaluate(model, x, y, run, data, lib)
    recorder = _recorder(lib.callback_base, run.get("rates", False))
    callbacks = [recorder] + [resolve(lib, c) for c in run.get("callbacks", [])]
    history = model.fit(x, y, batch_size=run["batch_size"], epochs=run["epochs"],
                        shuffle=False, verbose=0, callbacks=callbacks,
                        **fit_kwargs(lib, run, data))
    for key, values in history.history.items():
        kind = "rates" if key.startswith("learning_rate") else "losses"
        row = "epoch losses" if key == "loss" else f"history {key}"
        results[(kind, row, "")] = np.array(values, dtype=np.float64)
    results[("exact", "history epochs", "")] = np.array(history.epoch, dtype=np.int64)
    results[("losses", "batch losses", "")] = np.array(recorder.losses)
    if run.get("rates"):
        results[("rates", "batch learning rates", "")] = np.array(recorder.rates)
    if "evaluate" in run:
        results[("losses", "evaluate after fit", "")] = _evaluate(model, x, y, run, data, lib)
    for layer, arrays in named_weights(model).items():
        for i, array in enumerate(arrays):
            results[("weights", "weights after", f"{layer}:{i}")] = array
    return results
