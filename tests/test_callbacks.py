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
