"""Interrupted training: a KeyboardInterrupt during fit (raised by a callback, or a real
SIGINT, even one that arrives while the optimizer is updating the weights) leaves the model
with the weights and optimizer state of the last completed step, usable, trainable and
savable; ModelCheckpoint keeps the last good checkpoint (a diverged epoch or an interrupted
save never replaces it).

Each check compares with a twin model trained the same way and stopped (stop_training) after
the same step, bit for bit.
"""
import os
import signal
import threading
import warnings

import numpy as np
import pytest

from fastcnn import saving, utils
from fastcnn.callbacks import Callback, ModelCheckpoint
from fastcnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from fastcnn.models import Sequential, load_model

STEPS_PER_EPOCH = 5
BATCH = 8


def _model(seed=0):
    utils.set_random_seed(seed)
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), MaxPool2D(),
                        Flatten(), Dense(16, activation="relu"),
                        Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.fixture
def data():
    gen = np.random.default_rng(11)
    x = gen.random((BATCH * STEPS_PER_EPOCH, 8, 8, 1), dtype=np.float32)
    return x, gen.integers(0, 3, len(x))


class _At(Callback):
    """Runs ``action(model)`` at train batch ``batch`` of epoch ``epoch`` (``when``: "begin"
    or "end" of the batch)."""

    def __init__(self, epoch, batch, action, when="end"):
        super().__init__()
        self.target, self.action, self.when = (epoch, batch), action, when
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def _maybe(self, batch, when):
        if when == self.when and (self.epoch, batch) == self.target:
            self.action(self.model)

    def on_train_batch_begin(self, batch, logs=None):
        self._maybe(batch, "begin")

    def on_train_batch_end(self, batch, logs=None):
        self._maybe(batch, "end")


def _raise_keyboard_interrupt(model):
    raise KeyboardInterrupt


def _send_sigint(model):
    os.kill(os.getpid(), signal.SIGINT)


def _stop(model):
    model.stop_training = True


def _twin(data, epoch, batch, when="end"):
    """A model trained like the interrupted one and stopped after step (epoch, batch), or
    before it when ``when`` is "begin" (the interrupted step then never ran)."""
    model = _model()
    x, y = data
    if when == "begin":
        epoch, batch = (epoch, batch - 1) if batch else (epoch - 1, STEPS_PER_EPOCH - 1)
    if epoch >= 0:
        model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0,
                  callbacks=[_At(epoch, batch, _stop)])
    return model


def _assert_same_state(model, twin):
    for a, b in zip(model.get_weights(), twin.get_weights()):
        assert a.tobytes() == b.tobytes()
    assert model.optimizer.iterations == twin.optimizer.iterations
    for a, b in zip(model.optimizer.variables, twin.optimizer.variables):
        assert a.tobytes() == b.tobytes()


def _assert_usable_after_interrupt(model, twin, data, tmp_path):
    x, y = data
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    acquired = []

    def try_lock():
        acquired.append(model._lock.acquire(blocking=False))
        if acquired[-1]:
            model._lock.release()

    other = threading.Thread(target=try_lock)
    other.start()
    other.join()
    assert acquired == [True], "the model's lock is still held"
    # trains on exactly like the twin, predicts, saves and loads
    for m in (model, twin):
        utils.set_random_seed(5)
        m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    _assert_same_state(model, twin)
    model.save(tmp_path / "after.fcnn")
    np.testing.assert_array_equal(load_model(tmp_path / "after.fcnn").predict(x),
                                  model.predict(x))


@pytest.mark.parametrize("epoch,batch", [(0, 0), (0, 3), (1, 4), (2, 2)])
def test_keyboard_interrupt_from_a_callback_keeps_the_last_completed_step(data, epoch, batch,
                                                                        tmp_path):
    model = _model()
    x, y = data
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0,
                  callbacks=[_At(epoch, batch, _raise_keyboard_interrupt)])
    twin = _twin(data, epoch, batch)
    assert model.optimizer.iterations == epoch * STEPS_PER_EPOCH + batch + 1
    _assert_same_state(model, twin)
    _assert_usable_after_interrupt(model, twin, data, tmp_path)


@pytest.mark.parametrize("epoch,batch", [(0, 2), (1, 0)])
def test_sigint_between_steps_stops_before_the_next_step(data, epoch, batch, tmp_path):
    model = _model()
    x, y = data
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0,
                  callbacks=[_At(epoch, batch, _send_sigint, when="begin")])
    twin = _twin(data, epoch, batch, when="begin")
    _assert_same_state(model, twin)
    _assert_usable_after_interrupt(model, twin, data, tmp_path)


@pytest.mark.parametrize("step,variable", [(0, 1), (3, 2), (7, 5)])
def test_sigint_during_the_weight_update_completes_that_update_first(data, step, variable,
                                                                     tmp_path):
    """The signal arrives after some variables of the step were updated and before the
    others: the update must finish (no half-applied step) and then the interrupt is raised."""
    model = _model()
    x, y = data
    opt = model.optimizer
    real_update = type(opt).update_step
    calls = []

    def update_step(g, var, i, tmp):
        calls.append(i)
        if opt.iterations == step and i == variable:
            os.kill(os.getpid(), signal.SIGINT)      # handled at the next bytecode
        real_update(opt, g, var, i, tmp)

    opt.update_step = update_step
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0)
    del opt.update_step
    n_variables = len(model.trainable_weights)
    assert len(calls) == (step + 1) * n_variables, "the interrupted step was not completed"
    assert opt.iterations == step + 1
    twin = _twin(data, step // STEPS_PER_EPOCH, step % STEPS_PER_EPOCH)
    _assert_same_state(model, twin)
    _assert_usable_after_interrupt(model, twin, data, tmp_path)


def test_fit_leaves_a_program_s_own_sigint_handler_in_place(data):
    received = []

    def handler(signum, frame):
        received.append(signum)

    seen = []
    previous = signal.signal(signal.SIGINT, handler)
    try:
        model = _model()
        model.fit(*data, batch_size=BATCH, epochs=1, verbose=0, callbacks=[
            _At(0, 1, lambda m: seen.append(signal.getsignal(signal.SIGINT))),
            _At(0, 2, _send_sigint)])
        assert seen == [handler]
        assert received == [signal.SIGINT]               # delivered to the program's handler
        assert model.optimizer.iterations == STEPS_PER_EPOCH
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_fit_in_a_worker_thread_is_not_affected_by_the_guard(data):
    model = _model()
    errors = []

    def train():
        try:
            model.fit(*data, batch_size=BATCH, epochs=1, verbose=0)
        except BaseException as exc:                   # pragma: no cover - reported below
            errors.append(exc)

    worker = threading.Thread(target=train)
    worker.start()
    worker.join()
    assert errors == [] and model.optimizer.iterations == STEPS_PER_EPOCH
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# ---- ModelCheckpoint keeps the last good checkpoint ---------------------------------------------

def _poison(model):
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])


class _AtEpochBegin(Callback):
    def __init__(self, epoch, action):
        super().__init__()
        self.epoch, self.action = epoch, action

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.action(self.model)


def test_checkpoint_is_not_replaced_by_a_diverged_epoch(data, tmp_path):
    path = tmp_path / "ckpt.fcnn"
    model = _model()
    saved = []
    model.fit(*data, batch_size=BATCH, epochs=1, verbose=0, callbacks=[ModelCheckpoint(path)])
    saved.append(path.read_bytes())
    good = model.get_weights()
    with pytest.warns(RuntimeWarning, match=r"loss of epoch \d is nan.*checkpoint is kept"):
        history = model.fit(*data, batch_size=BATCH, epochs=2, verbose=0,
                            callbacks=[_AtEpochBegin(0, _poison), ModelCheckpoint(path)])
    assert all(np.isnan(v) for v in history.history["loss"])
    assert path.read_bytes() == saved[0]
    for a, b in zip(load_model(path).get_weights(), good):
        np.testing.assert_array_equal(a, b)


def test_best_only_checkpoint_ignores_a_nan_monitor(data, tmp_path):
    path = tmp_path / "best.fcnn"
    model = _model()
    x, y = data
    checkpoint = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, validation_data=(x, y),
              callbacks=[checkpoint])
    before, best = path.read_bytes(), checkpoint.best
    x_nan = np.full_like(x, np.nan)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checkpoint.on_epoch_end(1, {"loss": 0.5, "val_loss": float("nan")})
        model.evaluate(x_nan, y, verbose=0)
    assert any("val_loss of epoch 2 is nan" in str(w.message) for w in caught)
    assert path.read_bytes() == before and checkpoint.best == best


def test_checkpoint_interrupted_mid_save_keeps_the_previous_one(data, tmp_path, monkeypatch):
    path = tmp_path / "ckpt.fcnn"
    model = _model()
    x, y = data
    epochs_done = []
    first = []

    class Record(Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs_done.append(epoch)
            if epoch == 0:
                first.append(path.read_bytes())

    real_write = saving._write_array
    writes = []

    def write_array(archive, name, array):
        writes.append(name)
        if len(epochs_done) == 1 and len(writes) > 2:   # inside the second epoch's save
            raise KeyboardInterrupt
        real_write(archive, name, array)

    monkeypatch.setattr(saving, "_write_array", write_array)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=BATCH, epochs=3, verbose=0,
                  callbacks=[ModelCheckpoint(path), Record()])
    monkeypatch.setattr(saving, "_write_array", real_write)
    assert epochs_done == [0]
    assert path.read_bytes() == first[0]
    assert sorted(os.listdir(tmp_path)) == ["ckpt.fcnn"]     # no temporary file left
    twin = _twin(data, 1, STEPS_PER_EPOCH - 1)               # two whole epochs
    _assert_same_state(model, twin)
    model.save(path)
    for a, b in zip(load_model(path).get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)
