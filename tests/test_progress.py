"""Progress output: a live bar on a terminal, one line per epoch elsewhere."""
import io
import re
import sys

import numpy as np
import pytest

from fastcnn import _progress, utils
from fastcnn.layers import Dense
from fastcnn.models import Sequential


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


class Pipe(io.StringIO):
    def isatty(self):
        return False


@pytest.fixture
def problem():
    gen = np.random.default_rng(0)
    x = gen.standard_normal((40, 3)).astype(np.float32)
    return x, (x[:, :1] > 0).astype(np.float32)


def make_model():
    utils.set_random_seed(0)
    model = Sequential([Dense(2, activation="relu", input_shape=(3,)),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


LINE = re.compile(r"^Epoch (\d)/3 - 5/5 - \d+s - \d+(us|ms|s)/step - loss: [\d.e+-]+ - "
                  r"accuracy: [\d.]+ - val_loss: [\d.e+-]+ - val_accuracy: [\d.]+$")


@pytest.mark.parametrize("verbose", [1, 2])
def test_fit_off_a_terminal_writes_one_line_per_epoch(monkeypatch, problem, verbose):
    stream = Pipe()
    monkeypatch.setattr(sys, "stdout", stream)
    x, y = problem
    make_model().fit(x, y, batch_size=8, epochs=3, verbose=verbose, validation_data=(x, y))
    text = stream.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and len(lines) == 3
    for epoch, line in enumerate(lines, start=1):
        match = LINE.match(line)
        assert match, line
        assert int(match.group(1)) == epoch


def test_fit_verbose_zero_writes_nothing(monkeypatch, problem):
    stream = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", stream)
    x, y = problem
    make_model().fit(x, y, epochs=2, verbose=0)
    assert stream.getvalue() == ""


def test_fit_on_a_terminal_draws_a_live_bar(monkeypatch, problem):
    stream = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(_progress, "REFRESH_INTERVAL", 0.0)     # redraw on every step
    x, y = problem
    make_model().fit(x, y, batch_size=8, epochs=2, verbose=1)
    text = stream.getvalue()
    assert text.count("Epoch 1/2\n") == 1 and text.count("Epoch 2/2\n") == 1
    assert text.count("\n") == 4                  # header and final line per epoch
    frames = [f for f in text.split("\r") if f.startswith("3/5")]
    assert frames and "ETA: " in frames[0] and "/step" in frames[0]
    assert "loss: " in frames[0] and "accuracy: " in frames[0]
    assert "[=================>............]" in frames[0]
    final = [f for f in text.split("\r") if f.startswith("5/5")]
    assert len(final) == 2 and all(f.endswith("\n") for f in final)
    assert all("[" + "=" * 30 + "]" in f and "ETA" not in f for f in final)


def test_evaluate_writes_one_line_off_a_terminal(monkeypatch, problem):
    stream = Pipe()
    monkeypatch.setattr(sys, "stdout", stream)
    x, y = problem
    make_model().evaluate(x, y, batch_size=10, verbose=1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("4/4 - ") and "accuracy: " in lines[0]


def test_progbar_redraws_in_place_and_clears_a_longer_previous_line():
    stream = FakeTerminal()
    bar = _progress.Progbar(10, stream=stream, interval=0.0)
    bar.update(3, [("loss", 123.456789), ("accuracy", 0.5)])
    bar.update(4, [("loss", 1.0)])
    frames = stream.getvalue().split("\r")[1:]
    assert frames[0].startswith("3/10 [========>.....................] - ETA: ")
    assert "loss: 123.4568 - accuracy: 0.5000" in frames[0]
    assert len(frames[1]) == len(frames[0])           # padded over the longer line
    bar.update(10, [("loss", 0.25)], finalize=True)
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("10/10 [" + "=" * 30 + "] - ") and last.endswith("\n")
    assert "loss: 0.2500" in last


def test_progbar_throttles_redraws():
    stream = FakeTerminal()
    bar = _progress.Progbar(1000, stream=stream, interval=3600.0)
    for step in range(1, 1000):
        bar.update(step)
    assert stream.getvalue().count("\r") == 1


def test_progbar_off_a_terminal_writes_only_the_final_line():
    stream = Pipe()
    bar = _progress.Progbar(5, stream=stream, prefix="Epoch 1/1 - ")
    for step in range(1, 5):
        bar.update(step, [("loss", 1.0)])
    assert stream.getvalue() == ""
    bar.update(5, [("loss", 1.0)], finalize=True)
    assert re.fullmatch(r"Epoch 1/1 - 5/5 - \d+s - \d+(us|ms|s)/step - loss: 1\.0000\n",
                        stream.getvalue())


@pytest.mark.parametrize("seconds,text", [(0.4, "0s"), (7, "7s"), (65, "1:05"),
                                          (3725, "1:02:05")])
def test_durations_are_formatted_like_keras(seconds, text):
    assert _progress.format_duration(seconds) == text


@pytest.mark.parametrize("seconds,text", [(2.0, "2s/step"), (0.0187, "19ms/step"),
                                          (0.0000421, "42us/step")])
def test_time_per_step_format(seconds, text):
    assert _progress.format_per_step(seconds) == text


def test_small_values_use_scientific_notation():
    assert _progress.format_values([("loss", 1.5e-5)]) == " - loss: 1.5000e-05"
