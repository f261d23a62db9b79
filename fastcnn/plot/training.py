"""Pictures of training results: the curves of ``fit``'s history and a confusion matrix."""
import math

import numpy as np

from ._figure import finish, matplotlib_module, new_figure

__all__ = ["plot_history", "plot_confusion_matrix"]

# Confusion matrices with more classes than this leave their cells unlabelled: the numbers
# would not fit.
MAX_LABELLED_CLASSES = 30


# ---- history -------------------------------------------------------------------------------
def _logs(history):
    """``history`` (a History or its ``.history`` dict) as {name: float array} and the epoch
    numbers (1-based) a History recorded, or None."""
    epochs = None
    if isinstance(history, dict):
        logs = history
    elif isinstance(getattr(history, "history", None), dict):
        logs = history.history
        epochs = history.epoch if isinstance(getattr(history, "epoch", None), list) else None
    else:
        raise TypeError("history must be the History that fit() returns or its .history dict, "
                        f"got {type(history).__name__}")
    curves = {}
    for name, values in logs.items():
        if not isinstance(name, str):
            raise TypeError(f"history keys must be metric names (str), got {name!r}")
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"history[{name!r}] must be a list of numbers, got "
                            f"{values!r}") from None
        if array.ndim != 1:
            raise ValueError(f"history[{name!r}] must be a list of numbers (one per epoch), "
                             f"got an array of shape {array.shape}")
        if len(array):
            curves[name] = array
    if not curves:
        raise ValueError("history holds no epochs to plot")
    if epochs is not None:
        epochs = np.asarray(list(epochs), dtype=np.float64) + 1
    return curves, epochs


def _panels(curves):
    """{metric: [log names]}: the loss first, each metric's training curve, then its
    ``val_`` twin."""
    metrics = list(dict.fromkeys(name.removeprefix("val_") for name in curves))
    metrics.sort(key=lambda metric: metric != "loss")
    return {m: [n for n in (m, "val_" + m) if n in curves] for m in metrics}


def plot_history(history, *, path=None):
    """The training curves of ``history`` (what ``fit`` returns, or its ``.history`` dict).

    One panel per metric (``loss`` first), with the training curve (solid) and its
    ``val_`` curve (dashed) together; each curve is one line whose legend gives its last
    value. Epochs are numbered from 1. Returns a matplotlib Figure, also written to ``path``
    when given (PNG, or the format of its suffix)."""
    curves, epochs = _logs(history)
    panels = _panels(curves)
    ticker = matplotlib_module("ticker")
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    figure = new_figure(4.4 * columns, 3.3 * rows)
    for i, (metric, names) in enumerate(panels.items()):
        ax = figure.add_subplot(rows, columns, i + 1)
        for name in names:
            values = curves[name]
            x = (epochs if epochs is not None and len(epochs) == len(values)
                 else np.arange(1, len(values) + 1))
            validation = name.startswith("val_")
            ax.plot(x, values, linestyle="--" if validation else "-",
                    marker="s" if validation else "o", markersize=4,
                    color="C1" if validation else "C0",
                    label=f"{'validation' if validation else 'training'}: {values[-1]:.4g}")
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    figure.tight_layout()
    return finish(figure, path)


# ---- confusion matrix ----------------------------------------------------------------------
def _class_indices(y, name):
    """``y`` (integer labels of shape (N,) or (N, 1), or one-hot/probabilities (N, K)) as
    int64 labels, and K for the second kind (else None)."""
    try:
        array = np.asarray(y)
    except ValueError as exc:
        raise ValueError(f"{name} cannot be made into an array: {exc}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == bool):
        raise TypeError(f"{name} must hold numbers (class labels or probabilities), got an "
                        f"array of dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim not in (1, 2):
        raise ValueError(f"{name} must be labels of shape (N,) or scores of shape (N, classes), "
                         f"got shape {array.shape}")
    if len(array) == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    if array.ndim == 2:
        return np.argmax(array, axis=1), array.shape[1]
    if (array < 0).any() or (array != np.round(array)).any():
        raise ValueError(f"{name} must hold class labels 0, 1, 2..., got "
                         f"{array[(array < 0) | (array != np.round(array))][0]!r}")
    return array.astype(np.int64), None


def _class_count(true, pred, widths, class_names):
    """The number of classes and their names, checked against the labels: the width of the
    scores when one is given as scores, else the largest label + 1 (or more names)."""
    given = {w for w in widths if w is not None}
    if len(given) > 1:
        raise ValueError(f"y_true and y_pred give scores for different numbers of classes: "
                         f"{widths[0]} and {widths[1]}")
    needed = int(max(true.max(), pred.max())) + 1
    width = given.pop() if given else None
    if width is not None and needed > width:
        raise ValueError(f"the labels go up to {needed - 1} but the scores have {width} "
                         "classes")
    if class_names is None:
        return width or needed, [str(i) for i in range(width or needed)]
    if isinstance(class_names, (str, bytes)) or not hasattr(class_names, "__len__"):
        raise TypeError(f"class_names must be a list of names, got {class_names!r}")
    names = [str(n) for n in class_names]
    if width is not None and len(names) != width:
        raise ValueError(f"class_names has {len(names)} names for scores of {width} classes")
    if len(names) < needed:
        raise ValueError(f"class_names has {len(names)} names but the labels go up to "
                         f"{needed - 1}")
    return len(names), names


def plot_confusion_matrix(y_true, y_pred, class_names=None, normalize=False, *, path=None):
    """The confusion matrix of ``y_pred`` against ``y_true``: row = true class, column =
    predicted class, each cell labelled with its count (up to 30 classes).

    ``y_true`` and ``y_pred`` are integer labels (shape (N,) or (N, 1)) or one-hot
    vectors/probabilities (N, classes), which count as their argmax. ``class_names`` names
    the classes (one per class; default 0, 1, 2...). ``normalize=True`` shows each row as
    fractions of its true class (rows sum to 1; a class with no samples stays 0). Returns a
    matplotlib Figure (the matrix and its colour bar), also written to ``path`` when given."""
    true, true_width = _class_indices(y_true, "y_true")
    pred, pred_width = _class_indices(y_pred, "y_pred")
    if len(true) != len(pred):
        raise ValueError(f"y_true and y_pred must hold the same number of samples, got "
                         f"{len(true)} and {len(pred)}")
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be True or False, got {normalize!r}")
    count, names = _class_count(true, pred, (true_width, pred_width), class_names)
    counts = np.zeros((count, count), dtype=np.int64)
    np.add.at(counts, (true, pred), 1)
    matrix = counts.astype(np.float64)
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)

    side = min(max(5.0, 0.55 * count + 2.5), 20.0)
    figure = new_figure(side + 1.0, side)
    ax = figure.add_subplot()
    top = 1.0 if normalize else max(int(counts.max()), 1)
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=top, interpolation="nearest")
    colorbar = figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label("fraction of the true class" if normalize else "samples")
    if count <= MAX_LABELLED_CLASSES:
        size = 10 if count <= 10 else max(5, 100 // count)
        for i in range(count):
            for j in range(count):
                text = f"{matrix[i, j]:.2f}" if normalize else str(counts[i, j])
                colour = ("white" if matrix[i, j] > top / 2
                          else "black" if counts[i, j] else "#a0a0a0")   # zeros recede
                ax.text(j, i, text, ha="center", va="center", fontsize=size, color=colour)
    if max(map(len, names)) > 2:
        ax.set_xticks(range(count), names, rotation=45, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(range(count), names)
    ax.set_yticks(range(count), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / counts.sum()
    ax.set_title(f"Confusion matrix: {len(true):,} samples, accuracy {accuracy:.4f}"
                 + ("\n(each row: fractions of its true class)" if normalize else ""))
    figure.tight_layout()
    return finish(figure, path)
