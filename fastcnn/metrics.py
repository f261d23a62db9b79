"""Accuracy metrics, and how ``"accuracy"`` is matched to the loss as Keras matches it.

Each function returns one value per sample; a model reports their mean over the epoch.
"""
import numpy as np

__all__ = ["categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy", "get"]


def categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of the one-hot ``y_true`` equals the arg-max of ``y_pred``."""
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label ``y_true`` equals the arg-max of ``y_pred``."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Fraction of the last axis where ``y_true`` equals ``y_pred > threshold``."""
    y_pred = np.asarray(y_pred)
    hits = np.asarray(y_true) == (y_pred > threshold).astype(y_pred.dtype)
    return np.mean(hits, axis=-1, dtype=np.float64)


_BY_NAME = {"categorical_accuracy": categorical_accuracy,
            "sparse_categorical_accuracy": sparse_categorical_accuracy,
            "binary_accuracy": binary_accuracy}


def get(identifier, loss_name=None, output_shape=None):
    """The metric function for ``identifier``.

    ``"accuracy"``/``"acc"`` follow the loss as in Keras: binary cross-entropy gives
    ``binary_accuracy``, sparse categorical cross-entropy ``sparse_categorical_accuracy``,
    categorical cross-entropy ``categorical_accuracy``; for other losses a model with one
    output unit gets ``binary_accuracy`` and any other ``categorical_accuracy``.
    """
    if not isinstance(identifier, str):
        raise ValueError(f"metrics must be names such as 'accuracy', got {identifier!r}")
    key = identifier.lower()
    if key in ("accuracy", "acc"):
        if loss_name == "binary_crossentropy":
            return binary_accuracy
        if loss_name == "sparse_categorical_crossentropy":
            return sparse_categorical_accuracy
        if loss_name == "categorical_crossentropy":
            return categorical_accuracy
        if output_shape is not None and output_shape[-1] == 1:
            return binary_accuracy
        return categorical_accuracy
    if key in _BY_NAME:
        return _BY_NAME[key]
    raise ValueError(f"unknown metric {identifier!r}; fastcnn has 'accuracy' and "
                     f"{sorted(_BY_NAME)}")
