"""What the plotting functions share: a Figure on matplotlib's Agg canvas, and writing it.

Figures are made with the object-oriented API (``matplotlib.figure.Figure`` and the Agg
canvas), never through ``pyplot``: no GUI backend is chosen, no global list of open figures
grows, and plotting works the same in a script, a notebook or a server. matplotlib is
imported at first use only, through :func:`fastcnn._extras.require`.
"""
import errno
import io
import os
import tempfile

from .. import saving
from .._extras import require

__all__ = ["new_figure", "finish", "matplotlib_module", "check_folder"]

FEATURE = "fastcnn.plot"
DPI = 100


def matplotlib_module(name):
    """``matplotlib.<name>`` (e.g. ``"ticker"``), or an ImportError naming ``fastcnn[plot]``."""
    return require(f"matplotlib.{name}", FEATURE)


def new_figure(width, height):
    """A Figure of ``width`` x ``height`` inches on its own Agg canvas."""
    figure = matplotlib_module("figure").Figure(figsize=(width, height), dpi=DPI)
    matplotlib_module("backends.backend_agg").FigureCanvasAgg(figure)
    return figure


def finish(figure, path):
    """Write ``figure`` to ``path`` when one is given (see :func:`save`); return it."""
    if path is not None:
        save(figure, path)
    return figure


def _path_and_format(figure, path):
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    elif not isinstance(path, str):
        try:
            path = os.fspath(path)
        except TypeError:
            raise TypeError(f"path must be a file name (str or os.PathLike), got "
                            f"{type(path).__name__}: {path!r}") from None
        path = os.fsdecode(path)
    if not path:
        raise ValueError("path is empty: give the name of the picture file, e.g. 'plot.png'")
    suffix = os.path.splitext(path)[1][1:].lower()
    supported = figure.canvas.get_supported_filetypes()
    if suffix and suffix not in supported:
        raise ValueError(f"path {path!r}: cannot write pictures of type {suffix!r}; use one of "
                         f"{', '.join('.' + s for s in sorted(supported))}")
    return path, suffix or "png"


def save(figure, path):
    """Write ``figure`` to ``path``: PNG, or the format its suffix names (``.svg``, ``.pdf``...).

    The picture is rendered in memory first, then written to a temporary file beside
    ``path`` that replaces ``path``, so a failure leaves any previous file intact. An
    unknown suffix is a ValueError; a folder that cannot be written an OSError naming
    ``path``."""
    path, fmt = _path_and_format(figure, path)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=DPI)
    try:
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, "it is a folder")
        saving.replace_file(path, os.path.dirname(os.path.abspath(path)),
                            lambda stream: stream.write(buffer.getbuffer()))
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write the picture to {path!r}: "
                                 f"{exc.strerror or exc}") from None


def check_folder(folder):
    """Create ``folder`` (and its parents) if needed and check that files can be written in
    it, by creating and removing a temporary file; an OSError says why not."""
    folder = os.fsdecode(os.fspath(folder))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".fastcnn-plots.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write pictures in {folder!r}: "
                                 f"{exc.strerror or exc}") from None
