"""Finding, downloading and checking a dataset's files.

Search order (the first folder holding all of a dataset's files wins):
``$FASTCNN_DATA/<name>/``, ``$FASTCNN_DATA/``, ``~/.fastcnn/datasets/<name>/``, the dataset's system
folders (Debian's package for Fashion-MNIST), and only then a download into the cache folder.
The named subfolder of ``$FASTCNN_DATA`` comes before its top level because it cannot hold the
other dataset by mistake. What the files hold is the dataset module's business: it passes
:func:`load_dataset` a reader (:func:`read_idx_dataset` for the MNIST-style datasets).
"""
import dataclasses
import os

import numpy as np

from . import _fetch
from .idx import read_idx

__all__ = ["DatasetNotFoundError", "DatasetSpec", "load_dataset", "find_dataset_dir",
           "cache_dir", "how_to_get", "IDX_FILES", "read_idx_dataset"]

# The four IDX files of an MNIST-style dataset, raw or gzip: output key -> accepted file names,
# in the order load_data returns them.
IDX_FILES = {
    key: (base, base + ".gz") for key, base in (
        ("x_train", "train-images-idx3-ubyte"),
        ("y_train", "train-labels-idx1-ubyte"),
        ("x_test", "t10k-images-idx3-ubyte"),
        ("y_test", "t10k-labels-idx1-ubyte"))
}
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


class DatasetNotFoundError(FileNotFoundError):
    """Raised when a dataset is in none of the search folders and cannot be downloaded."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where one dataset lives.

    ``name`` is the folder name (``"fashion-mnist"``), ``title`` the human name, ``files``
    maps each file the dataset needs (a key the reader knows) to the names it may have in a
    folder, ``checksums`` maps the name of each file the mirrors serve to its hex digest
    under ``algorithm``, ``mirrors`` are base URLs tried in order, ``system_dirs`` are
    read-only folders that an OS package fills, and ``install_hint`` / ``file_hint`` are extra
    words for the instructions in the error message (how to install it; what to note about
    the file).
    """

    name: str
    title: str
    files: dict
    checksums: dict
    mirrors: tuple
    algorithm: str = "sha256"
    system_dirs: tuple = ()
    install_hint: str = ""
    file_hint: str = ""


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


def _files_in(spec, folder):
    """Map each of the spec's keys to the first of its names found in ``folder``."""
    found = {}
    for key, names in spec.files.items():
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                found[key] = path
                break
    return found


def _either(names):
    """``a[.gz]`` for the pair (a, a.gz), else the names joined by "or"."""
    if len(names) == 2 and names[1] == names[0] + ".gz":
        return names[0] + "[.gz]"
    return " or ".join(names)


def _describe_missing(spec, found):
    return "missing " + ", ".join(_either(names) for key, names in spec.files.items()
                                  if key not in found)


def _download_name(spec, key):
    """The name under which the mirrors serve the file of ``key``."""
    return next(name for name in spec.files[key] if name in spec.checksums)


def find_dataset_dir(spec):
    """Return the first search folder (not the download) that holds all the dataset's files,
    or None."""
    for _, folder in _search_dirs(spec):
        if folder is not None and len(_files_in(spec, folder)) == len(spec.files):
            return folder
    return None


def how_to_get(spec):
    """Human instructions for getting the dataset files by hand."""
    files = ", ".join(spec.checksums)
    single = len(spec.checksums) == 1
    lines = [f"How to get the {'file' if single else 'files'}:"]
    if spec.install_hint:
        lines.append(f"  - {spec.install_hint}")
    lines.append(f"  - {'or ' if spec.install_hint else ''}download {files}"
                 + (f" ({spec.file_hint})" if spec.file_hint else ""))
    for mirror in spec.mirrors:
        lines.append(f"      from {mirror}" + (files if single else ""))
    lines.append(f"    and put {'it' if single else 'them'} in the folder named by $FASTCNN_DATA "
                 f"(directly or in $FASTCNN_DATA/{spec.name}/) or in {cache_dir(spec)}/")
    return "\n".join(lines)


def load_dataset(spec, read, download=True, stream=None):
    """Find (or download) the dataset's files and return ``read(paths)``, ``paths`` mapping
    each key of ``spec.files`` to the file found."""
    looked = []
    for description, folder in _search_dirs(spec):
        if folder is None:
            looked.append(f"  - {description}: not set")
            continue
        if not os.path.isdir(folder):
            looked.append(f"  - {folder} ({description}): no such folder")
            continue
        found = _files_in(spec, folder)
        if len(found) == len(spec.files):
            return read(found)
        looked.append(f"  - {folder} ({description}): {_describe_missing(spec, found)}")
    if download:
        try:
            found = _download(spec, stream)
        except OSError as exc:
            looked.append(f"  - download into {cache_dir(spec)} failed: {exc}")
        else:
            return read(found)
    else:
        looked.append("  - download: not attempted (download=False)")
    raise DatasetNotFoundError(
        f"{spec.title} dataset not found. Looked in:\n" + "\n".join(looked) + "\n"
        + how_to_get(spec))


def _download(spec, stream):
    """Download the files the cache folder lacks; return the complete set of cached files."""
    folder = cache_dir(spec)
    created = _make_folders(folder)
    found = _files_in(spec, folder)
    try:
        for key in spec.files:
            if key in found:
                continue
            filename = _download_name(spec, key)
            urls = [mirror + filename for mirror in spec.mirrors]
            found[key] = _fetch.fetch_verified(urls, os.path.join(folder, filename),
                                               spec.checksums[filename], stream=stream,
                                               algorithm=spec.algorithm)
    except BaseException:
        for made in reversed(created):    # a failed download leaves no empty cache folders
            try:
                os.rmdir(made)
            except OSError:
                break
        raise
    return found


def _make_folders(folder):
    """``os.makedirs(folder)``; return the folders it created, outermost first."""
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    missing.reverse()
    if missing:
        os.makedirs(missing[-1], exist_ok=True)
    return missing


def read_idx_dataset(paths):
    """The MNIST-style dataset in the IDX files ``paths`` (keys of :data:`IDX_FILES`), checked:
    ``(x_train, y_train), (x_test, y_test)``."""
    arrays = {key: read_idx(paths[key]) for key in IDX_FILES}
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
