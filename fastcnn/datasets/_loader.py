"""Finding, downloading and checking the four IDX files of an MNIST-style dataset.

Search order (the first folder holding all four files wins):
``$FASTCNN_DATA/<name>/``, ``$FASTCNN_DATA/``, ``~/.fastcnn/datasets/<name>/``, the dataset's system
folders (Debian's package for Fashion-MNIST), and only then a download into the cache folder.
The named subfolder of ``$FASTCNN_DATA`` comes before its top level because it cannot hold the
other dataset by mistake.
"""
import dataclasses
import os

import numpy as np

from . import _fetch
from .idx import read_idx

__all__ = ["DatasetNotFoundError", "DatasetSpec", "load_dataset", "find_dataset_dir",
           "cache_dir", "how_to_get"]

# Output key -> base file name, in the order load_data returns them.
FILE_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


class DatasetNotFoundError(FileNotFoundError):
    """Raised when a dataset is in none of the search folders and cannot be downloaded."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where one dataset lives.

    ``name`` is the folder name (``"fashion-mnist"``), ``title`` the human name,
    ``sha256`` maps each ``<base name>.gz`` to the sha256 of the file the mirrors serve,
    ``mirrors`` are base URLs tried in order, ``system_dirs`` are read-only folders that an OS
    package fills, and ``install_hint`` is an extra line for the error message.
    """

    name: str
    title: str
    sha256: dict
    mirrors: tuple
    system_dirs: tuple = ()
    install_hint: str = ""


def cache_dir(spec):
    """The per-user download cache, ``~/.fastcnn/datasets/<name>/``."""
    return os.path.join(os.path.expanduser("~"), ".fastcnn", "datasets", spec.name)


def _search_dirs(spec):
    """``(description, folder)`` pairs in search order; a folder of None is a location not set."""
    root = os.environ.get("FASTCNN_DATA", "")
    if root:
        root = os.path.expanduser(root)
        yield f"$FASTCNN_DATA/{spec.name}", os.path.join(root, spec.name)
        yield "$FASTCNN_DATA", root
    else:
        yield "$FASTCNN_DATA", None
    yield "user cache", cache_dir(spec)
    for folder in spec.system_dirs:
        yield "system copy", folder


def _files_in(folder):
    """Map each output key to the file found in ``folder`` (raw name first, then ``.gz``)."""
    found = {}
    for key, base in FILE_NAMES.items():
        for candidate in (base, base + ".gz"):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                found[key] = path
                break
    return found


def _describe_missing(found):
    missing = [FILE_NAMES[key] + "[.gz]" for key in FILE_NAMES if key not in found]
    return "missing " + ", ".join(missing)


def find_dataset_dir(spec):
    """Return the first search folder (not the download) that holds all four files, or None."""
    for _, folder in _search_dirs(spec):
        if folder is not None and len(_files_in(folder)) == len(FILE_NAMES):
            return folder
    return None


def how_to_get(spec):
    """Human instructions for getting the dataset files by hand."""
    files = ", ".join(base + ".gz" for base in FILE_NAMES.values())
    lines = ["How to get the files:"]
    if spec.install_hint:
        lines.append(f"  - {spec.install_hint}")
    lines.append(f"  - {'or ' if spec.install_hint else ''}download {files}")
    for mirror in spec.mirrors:
        lines.append(f"      from {mirror}")
    lines.append(f"    and put them in the folder named by $FASTCNN_DATA (directly or in "
                 f"$FASTCNN_DATA/{spec.name}/) or in {cache_dir(spec)}/")
    return "\n".join(lines)


def load_dataset(spec, download=True, stream=None):
    """Find (or download) the dataset and return ``(x_train, y_train), (x_test, y_test)``."""
    looked = []
    for description, folder in _search_dirs(spec):
        if folder is None:
            looked.append(f"  - {description}: not set")
            continue
        if not os.path.isdir(folder):
            looked.append(f"  - {folder} ({description}): no such folder")
            continue
        found = _files_in(folder)
        if len(found) == len(FILE_NAMES):
            return _load_files(found)
        looked.append(f"  - {folder} ({description}): {_describe_missing(found)}")
    if download:
        try:
            found = _download(spec, stream)
        except OSError as exc:
            looked.append(f"  - download into {cache_dir(spec)} failed: {exc}")
        else:
            return _load_files(found)
    else:
        looked.append("  - download: not attempted (download=False)")
    raise DatasetNotFoundError(
        f"{spec.title} dataset not found. Looked in:\n" + "\n".join(looked) + "\n"
        + how_to_get(spec))


def _download(spec, stream):
    """Download the files the cache folder lacks; return the complete set of cached files."""
    folder = cache_dir(spec)
    os.makedirs(folder, exist_ok=True)
    found = _files_in(folder)
    for key, base in FILE_NAMES.items():
        if key in found:
            continue
        filename = base + ".gz"
        urls = [mirror + filename for mirror in spec.mirrors]
        found[key] = _fetch.fetch_verified(urls, os.path.join(folder, filename),
                                           spec.sha256[filename], stream=stream)
    return found


def _load_files(paths):
    arrays = {key: read_idx(paths[key]) for key in FILE_NAMES}
    for split in ("train", "test"):
        x_key, y_key = f"x_{split}", f"y_{split}"
        x, y = arrays[x_key], arrays[y_key]
        x_path, y_path = paths[x_key], paths[y_key]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
            raise ValueError(
                f"image file {x_path!r} holds {x.dtype} data of shape {x.shape}; expected "
                f"uint8 images of shape (N, {IMAGE_SHAPE[0]}, {IMAGE_SHAPE[1]})")
        if y.dtype != np.uint8 or y.ndim != 1:
            raise ValueError(
                f"label file {y_path!r} holds {y.dtype} data of shape {y.shape}; expected "
                "uint8 labels of shape (N,)")
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"image file {x_path!r} holds {x.shape[0]} images but label file {y_path!r} "
                f"holds {y.shape[0]} labels")
        if y.size and int(y.max()) >= NUM_CLASSES:
            raise ValueError(
                f"label file {y_path!r} holds label {int(y.max())}; expected labels 0 to "
                f"{NUM_CLASSES - 1}")
    return ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))
