"""Pictures of models and training, drawn with matplotlib (optional extra ``fastcnn[plot]``).

::

    from fastcnn import plot
    history = model.fit(x, y, validation_split=0.1, epochs=5)
    plot.plot_history(history, path="history.png")
    plot.plot_filters(model.layers[0], path="filters.png")
    plot.plot_feature_maps(model, x[0], path="maps.png")
    plot.plot_confusion_matrix(y_test, model.predict(x_test), path="confusion.png")
    plot.plot_model(model, path="model.png")

Each function returns a ``matplotlib.figure.Figure`` (shown by a notebook as it is) and,
given ``path=``, also writes it: PNG, or the format the suffix names (``.svg``, ``.pdf``...).
Figures are made on matplotlib's Agg canvas without ``pyplot``, so no GUI backend is needed
and no open-figure list grows. matplotlib is imported when a function is first called;
without it the call raises an ImportError that names the extra to install.
"""
from .images import plot_feature_maps, plot_filters
from .model import plot_model
from .training import plot_confusion_matrix, plot_history

__all__ = ["plot_history", "plot_filters", "plot_feature_maps", "plot_confusion_matrix",
           "plot_model"]
