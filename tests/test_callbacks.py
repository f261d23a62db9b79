"""Callbacks: hook order, History, stop_training, EarlyStopping and ModelCheckpoint (Keras'
semantics, checked on scripted metric sequences and inside real fits)."""
import numpy as np
import pytest

from fastcnn import utils
from fastcnn.callbacks import Callback, EarlyStopping, History, ModelCheckpoint
from fastcnn.layers import Dense
from fastcnn.models import Sequential, load_model


@pytest.fixture
def problem():
    gen = np.random.default_rng(5)
    x = gen.standard_normal((20, 4)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    return x, y


def make_model():
    utils.set_random_seed(0)
    model = Sequential([Dense(4, activation="relu", input_shape=(4,)),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin", self.params["epochs"], self.params["steps"]))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.events.append(("train_end",))


def test_hooks_run_in_keras_order_with_logs(problem):
    x, y = problem
    recorder = Recorder()
    history = make_model().fit(x, y, batch_size=8, epochs=2, verbose=0,
                               validation_data=(x, y), callbacks=[recorder])
    batch_keys = ["accuracy", "loss"]
    epoch_keys = ["accuracy", "loss", "val_accuracy", "val_loss"]
    expected = [("train_begin", 2, 3)]
    for epoch in range(2):
        expected.append(("epoch_begin", epoch))
        expected += [("batch_end", b, batch_keys) for b in range(3)]
        expected.append(("epoch_end", epoch, epoch_keys))
    expected.append(("train_end",))
    assert recorder.events == expected
    assert recorder.model is not None
    assert isinstance(history, History) and history.epoch == [0, 1]
    assert sorted(history.history) == epoch_keys


def test_stop_training_from_a_callback_ends_after_the_current_step(problem):
    x, y = problem

    class StopAtSecondStep(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    model = make_model()
    history = model.fit(x, y, batch_size=4, epochs=5, verbose=0, callbacks=[StopAtSecondStep()])
    assert model.optimizer.iterations == 2
    assert len(history.history["loss"]) == 1


class StubModel:
    """Stands in for a model: weights record the epoch they were taken at."""

    def __init__(self):
        self.stop_training = False
        self.epoch = 0
        self.restored = None

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.restored = int(weights[0])


def drive(callback, values, monitor="val_loss"):
    """Run ``callback`` over epochs whose ``monitor`` takes ``values``; return epochs run."""
    model = StubModel()
    callback.set_model(model)
    callback.on_train_begin()
    ran = 0
    for epoch, value in enumerate(values):
        model.epoch = epoch
        callback.on_epoch_end(epoch, {monitor: value})
        ran += 1
        if model.stop_training:
            break
    callback.on_train_end()
    return ran, model


def test_early_stopping_waits_patience_epochs():
    ran, _ = drive(EarlyStopping(patience=2), [1.0, 0.9, 0.95, 0.96, 0.8, 0.7])
    assert ran == 4                                  # best at epoch 1, then two bad epochs


def test_early_stopping_patience_zero_stops_at_the_first_bad_epoch():
    ran, _ = drive(EarlyStopping(), [1.0, 0.9, 0.91, 0.5])
    assert ran == 3


def test_early_stopping_min_delta_ignores_small_improvements():
    ran, _ = drive(EarlyStopping(min_delta=0.05, patience=1), [1.0, 0.97, 0.96, 0.5])
    assert ran == 2


def test_early_stopping_maximises_accuracy_in_auto_mode():
    ran, _ = drive(EarlyStopping(monitor="val_accuracy", patience=1),
                   [0.5, 0.6, 0.7, 0.65, 0.9], monitor="val_accuracy")
    assert ran == 4


def test_early_stopping_restores_the_best_weights():
    _, model = drive(EarlyStopping(patience=2, restore_best_weights=True),
                     [1.0, 0.4, 0.6, 0.7, 0.1])
    assert model.restored == 1
    _, model = drive(EarlyStopping(patience=2), [1.0, 0.4, 0.6, 0.7])
    assert model.restored is None


def test_early_stopping_warns_about_a_missing_monitor():
    with pytest.warns(RuntimeWarning, match="val_loss.*not available"):
        ran, _ = drive(EarlyStopping(), [1.0, 2.0], monitor="loss")
    assert ran == 2


def test_early_stopping_needs_a_mode_for_unknown_metrics():
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(monitor="val_f1")
    assert EarlyStopping(monitor="val_f1", mode="max").direction == 1


def test_early_stopping_inside_fit(problem):
    x, y = problem
    history = make_model().fit(x, y, epochs=10, verbose=0, validation_data=(x, y),
                               callbacks=[EarlyStopping(min_delta=1e9, patience=1)])
    assert len(history.history["loss"]) == 2


def test_model_checkpoint_saves_every_epoch_with_formatted_paths(tmp_path, problem):
    x, y = problem
    model = make_model()
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{loss:.3f}.fcnn"))])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and names[0].startswith("m-01-") and names[1].startswith("m-02-")
    np.testing.assert_array_equal(load_model(tmp_path / names[1]).predict(x), model.predict(x))


def test_model_checkpoint_save_best_only(tmp_path):
    saved = []

    checkpoint = ModelCheckpoint(str(tmp_path / "best-{epoch}"), save_best_only=True)
    model = StubModel()
    model.save = lambda path: saved.append(path)
    checkpoint.set_model(model)
    for epoch, value in enumerate([1.0, 0.8, 0.9, 0.7, 0.7]):
        checkpoint.on_epoch_end(epoch, {"val_loss": value})
    assert [p.rsplit("-", 1)[1] for p in saved] == ["1", "2", "4"]


def test_model_checkpoint_best_model_inside_fit(tmp_path, problem):
    x, y = problem
    path = tmp_path / "best.fcnn"
    model = make_model()
    history = model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y),
                        callbacks=[ModelCheckpoint(path, monitor="val_accuracy",
                                                   save_best_only=True)])
    best = max(history.history["val_accuracy"])
    assert load_model(path).evaluate(x, y, verbose=0)[1] == pytest.approx(best, abs=1e-12)


def test_callbacks_must_be_callback_instances(problem):
    x, y = problem
    with pytest.raises(TypeError, match="Callback"):
        make_model().fit(x, y, verbose=0, callbacks=[lambda: None])


# ---- learning rate, CSV, NaN ----------------------------------------------------------------
class _Scripted(Callback):
    """Puts scripted values of ``key`` into each epoch's logs (before the callbacks after
    it read them)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def _fit_scripted(problem, values, callback, monitor="val_loss", optimizer=None):
    from fastcnn import optimizers
    model = make_model()
    model.compile(optimizer=optimizer or optimizers.SGD(learning_rate=1.0),
                  loss="binary_crossentropy")
    x, y = problem
    return model.fit(x, y, epochs=len(values), verbose=0,
                     callbacks=[_Scripted(monitor, values), callback]), model


def test_reduce_lr_on_plateau_follows_patience_cooldown_and_min_lr(problem):
    from fastcnn.callbacks import ReduceLROnPlateau
    values = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.8, 0.8]
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    history, model = _fit_scripted(problem, values, cb)
    # the rate is logged before the epoch's reduction (Keras): epochs 2, 3 without gain ->
    # 0.5 after 3; epoch 4 leaves the cooldown (wait restarts) and 5 -> 0.25; 6, 7 -> 0.2
    # (min_lr); 8 improves
    assert history.history["learning_rate"] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25,
                                                 0.2, 0.2]
    assert model.optimizer.learning_rate == 0.2
    cb = ReduceLROnPlateau(monitor="val_accuracy", factor=0.1, patience=1, min_lr=0.05,
                           min_delta=0.0, mode="max")
    history, _ = _fit_scripted(problem, [0.5, 0.6, 0.6, 0.6], cb, monitor="val_accuracy")
    assert history.history["learning_rate"] == [1.0, 1.0, 1.0, 0.1]    # maximised
    assert _.optimizer.learning_rate == 0.05                             # min_lr


def test_learning_rate_scheduler_sets_each_epochs_rate(problem):
    from fastcnn.callbacks import LearningRateScheduler
    x, y = problem
    model = make_model()
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[
        LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)])
    assert history.history["learning_rate"] == pytest.approx([0.001, 0.0005, 0.00025])
    history = make_model().fit(x, y, epochs=2, verbose=0, callbacks=[
        LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05])
    with pytest.raises(ValueError, match="must be a finite float"):
        make_model().fit(x, y, epochs=1, verbose=0,
                         callbacks=[LearningRateScheduler(lambda epoch: "fast")])


def test_csv_logger_writes_keras_rows_and_appends(problem, tmp_path):
    from fastcnn.callbacks import CSVLogger
    x, y = problem
    path = tmp_path / "log.csv"
    make_model().fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert [l.split(",")[0] for l in lines[1:]] == ["0", "1"]
    assert all(l.endswith(",NA,NA") for l in lines[1:])
    make_model().fit(x, y, epochs=1, verbose=0, validation_split=0.25,
                     callbacks=[CSVLogger(path, separator=",", append=True)])
    assert len(path.read_text().splitlines()) == 4
    semi = tmp_path / "semi.csv"
    make_model().fit(x, y, epochs=1, verbose=0, validation_split=0.25,
                     callbacks=[CSVLogger(semi, separator=";")])
    assert semi.read_text().splitlines()[0] == "epoch;accuracy;loss;val_accuracy;val_loss"


def test_csv_logger_never_leaves_half_a_line(problem, tmp_path, monkeypatch):
    """Each epoch's file is written whole and renamed over the log: a failure while writing
    leaves the previous epochs' file as it was, and no temporary file behind."""
    import os
    from fastcnn.callbacks import CSVLogger
    x, y = problem
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    model = make_model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[logger])
    before = path.read_bytes()
    real_replace = os.replace

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path, append=True)])
    monkeypatch.setattr(os, "replace", real_replace)
    assert path.read_bytes() == before and before.endswith(b"\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]
    with pytest.raises(FileNotFoundError, match="folder"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(tmp_path / "no" / "l.csv")])


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_terminate_on_nan_stops_at_the_first_invalid_loss(problem, capsys):
    from fastcnn import optimizers
    from fastcnn.callbacks import TerminateOnNaN
    x, y = problem
    model = Sequential([Dense(1, input_shape=(4,))])
    model.compile(optimizer=optimizers.SGD(learning_rate=1e30), loss="mse")
    seen = []

    class Count(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs["loss"])

    model.fit(x * 1e20, y, batch_size=4, epochs=3, verbose=0,
              callbacks=[Count(), TerminateOnNaN()])
    assert not np.isfinite(seen[-1]) and all(np.isfinite(seen[:-1]))
    assert "Invalid loss, terminating training" in capsys.readouterr().out


@pytest.mark.parametrize("make,match", [
    (lambda: __import__("fastcnn.callbacks").callbacks.ReduceLROnPlateau(factor=1.0), "factor"),
    (lambda: __import__("fastcnn.callbacks").callbacks.ReduceLROnPlateau(factor=0), "factor"),
    (lambda: __import__("fastcnn.callbacks").callbacks.ReduceLROnPlateau(patience=-1),
     "patience"),
    (lambda: __import__("fastcnn.callbacks").callbacks.ReduceLROnPlateau(cooldown=1.5),
     "cooldown"),
    (lambda: __import__("fastcnn.callbacks").callbacks.ReduceLROnPlateau(min_lr=-1), "min_lr"),
    (lambda: __import__("fastcnn.callbacks").callbacks.ReduceLROnPlateau(mode="up"), "mode"),
    (lambda: __import__("fastcnn.callbacks").callbacks.ReduceLROnPlateau(monitor="score"),
     "pass mode='max' or mode='min'"),
    (lambda: __import__("fastcnn.callbacks").callbacks.CSVLogger("x.csv", separator=";;"),
     "separator"),
])
def test_bad_callback_arguments_name_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()
