"""The pictures ``python -m fastcnn train --plots DIR`` writes after training."""
import os

from ._figure import check_folder, matplotlib_module

__all__ = ["check_destination", "write_training_plots", "FILES"]

FILES = ("history.png", "filters.png", "confusion_matrix.png")


def check_destination(folder):
    """Before any work: an ImportError when matplotlib is missing, an OSError when
    ``folder`` cannot be created or written (it is created when missing)."""
    matplotlib_module("figure")
    check_folder(folder)


def write_training_plots(folder, model, history, y_test, y_pred, class_names=None):
    """Write the training curves (when there was an epoch), the filters of the model's first
    Conv2D (when it has one) and the confusion matrix of the model's predictions ``y_pred``
    of the labels ``y_test`` in ``folder``; return the paths written."""
    from ..layers import Conv2D
    from . import plot_confusion_matrix, plot_filters, plot_history
    history_path, filters_path, matrix_path = (os.path.join(folder, name) for name in FILES)
    written = []
    if history.epoch:
        plot_history(history, path=history_path)
        written.append(history_path)
    conv = next((layer for layer in model.layers if isinstance(layer, Conv2D)), None)
    if conv is not None:
        plot_filters(conv, path=filters_path)
        written.append(filters_path)
    plot_confusion_matrix(y_test, y_pred, class_names=class_names, path=matrix_path)
    return written + [matrix_path]

