"""CIFAR-10: 60,000 32x32 colour images in 10 classes (50,000 training, 10,000 test).

fastcnn reads the dataset authors' *binary* archive, ``cifar-10-binary.tar.gz``, as it is: the
six batch files are decoded straight from the compressed tar stream into the result arrays,
nothing is extracted to disk, and nothing is unpickled (the "python version" of the archive
holds pickles, which can run code; fastcnn never reads it).

Each batch file is ``RECORDS_PER_BATCH`` records of 3073 bytes: the label (0-9), then the image
as 1024 red, 1024 green and 1024 blue bytes, each plane a 32x32 image in row-major order.
"""
import os
import posixpath
import tarfile
import zlib

import numpy as np

from . import _fetch
from ._loader import DatasetSpec, load_dataset

__all__ = ["load_data", "SPEC", "CLASS_NAMES", "ARCHIVE", "URL", "MD5"]

ARCHIVE = "cifar-10-binary.tar.gz"
URL = "https://www.cs.toronto.edu/~kriz/" + ARCHIVE
# The md5 the dataset's authors publish on https://www.cs.toronto.edu/~kriz/cifar.html.
MD5 = "c32a1d4ab5d03f1284b67883e8d87530"

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")

TRAIN_MEMBERS = tuple(f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6))
TEST_MEMBERS = ("cifar-10-batches-bin/test_batch.bin",)
# Records in each batch file. A module constant so that tests can make small archives.
RECORDS_PER_BATCH = 10000
IMAGE_SHAPE = (32, 32, 3)
RECORD_BYTES = 1 + 32 * 32 * 3
# Records decoded per read: the only buffer besides the result arrays (about 3 MB).
_CHUNK_RECORDS = 1024

SPEC = DatasetSpec(
    name="cifar10",
    title="CIFAR-10",
    files={"archive": (ARCHIVE,)},
    checksums={ARCHIVE: MD5},
    algorithm="md5",
    mirrors=(URL[:-len(ARCHIVE)],),
    file_hint=("the binary version, 162 MB, md5 " + MD5 + "; keep it as it is, fastcnn reads it "
               "without extracting it"),
)


def load_data():
    """Load CIFAR-10 as ``(x_train, y_train), (x_test, y_test)``, as Keras does.

    ``x_*`` are uint8 arrays of shape ``(N, 32, 32, 3)`` (NHWC, RGB) and ``y_*`` uint8 arrays
    of shape ``(N, 1)`` holding the class 0-9 (names in ``CLASS_NAMES``); N is 50,000 and
    10,000. ``cifar-10-binary.tar.gz`` is looked for in ``$FASTCNN_DATA/cifar10/``,
    ``$FASTCNN_DATA/`` and ``~/.fastcnn/datasets/cifar10/``; when none holds it, it is
    downloaded from ``URL`` into ``~/.fastcnn/datasets/cifar10/``. Whatever its origin, the
    archive must have the md5 the dataset's authors publish (``MD5``) before it is read.

    Raises ``fastcnn.datasets.DatasetNotFoundError`` (a ``FileNotFoundError``) listing every
    place looked at, the URL and where to put the file when it can be neither found nor
    downloaded, and ``ValueError`` naming the file when the archive found is not the official
    one: a wrong checksum, a truncated or corrupt archive, a member that is a link or a device
    or whose path leaves its folder, a batch file missing, repeated or of the wrong size.
    """
    return load_dataset(SPEC, lambda paths: _read_archive(paths["archive"]))


def _read_archive(path):
    """The dataset in the archive at ``path``, checksum first, then one pass over the tar."""
    name = os.fsdecode(path)
    checksum = SPEC.checksums[ARCHIVE]
    digest = _fetch.file_digest(path, SPEC.algorithm)
    if digest != checksum:
        raise ValueError(
            f"{name!r} is not the official CIFAR-10 binary archive: its {SPEC.algorithm} is "
            f"{digest}, expected {checksum} (a truncated or corrupt download, or another "
            f"file); delete it and download {URL} again")
    records = RECORDS_PER_BATCH
    x_train = np.empty((len(TRAIN_MEMBERS) * records,) + IMAGE_SHAPE, np.uint8)
    y_train = np.empty((len(TRAIN_MEMBERS) * records, 1), np.uint8)
    x_test = np.empty((len(TEST_MEMBERS) * records,) + IMAGE_SHAPE, np.uint8)
    y_test = np.empty((len(TEST_MEMBERS) * records, 1), np.uint8)
    targets = {}
    for members, x, y in ((TRAIN_MEMBERS, x_train, y_train), (TEST_MEMBERS, x_test, y_test)):
        for i, member in enumerate(members):
            rows = slice(i * records, (i + 1) * records)
            targets[member] = (x[rows], y[rows])
    done = set()
    try:
        with open(path, "rb") as raw, tarfile.open(fileobj=raw, mode="r|gz") as archive:
            for member in archive:          # stream mode: one pass, no seeking back
                _check_member(member, name)
                if member.name not in targets:
                    continue
                if member.name in done:
                    raise ValueError(f"{name!r}: member {member.name!r} appears twice")
                expected = records * RECORD_BYTES
                if member.size != expected:
                    raise ValueError(
                        f"{name!r}: member {member.name!r} is {member.size} bytes; expected "
                        f"{expected} ({records} records of {RECORD_BYTES} bytes)")
                _decode_batch(archive.extractfile(member), *targets[member.name],
                              f"{name!r}: member {member.name!r}")
                done.add(member.name)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise ValueError(f"{name!r} is a truncated or corrupt tar.gz archive "
                         f"({type(exc).__name__}: {exc})") from None
    missing = [member for member in targets if member not in done]
    if missing:
        raise ValueError(f"{name!r} is not a CIFAR-10 binary archive: it has no "
                         + ", ".join(repr(m) for m in missing))
    return (x_train, y_train), (x_test, y_test)


def _check_member(member, archive_name):
    """Refuse a member that is not a plain file or folder, or whose path leaves its folder."""
    path = member.name
    if (posixpath.isabs(path) or path.startswith("\\") or (len(path) > 1 and path[1] == ":")
            or ".." in path.replace("\\", "/").split("/")):
        raise ValueError(f"{archive_name!r}: member {path!r} has a path that leaves the "
                         "archive's folder; refusing the archive")
    if not (member.isdir() or (member.isreg() and not member.issparse())):
        kind = ("a symbolic link" if member.issym() else "a hard link" if member.islnk()
                else "a device" if member.ischr() or member.isblk() else "a FIFO"
                if member.isfifo() else f"of tar type {member.type!r}")
        raise ValueError(f"{archive_name!r}: member {path!r} is {kind}, not a regular file; "
                         "refusing the archive")


def _decode_batch(stream, x, y, where):
    """Decode the records of ``stream`` into ``x`` (NHWC) and ``y`` (N, 1), a chunk at a time."""
    buffer = np.empty((min(_CHUNK_RECORDS, len(x)), RECORD_BYTES), np.uint8)
    flat = memoryview(buffer.reshape(-1))
    for start in range(0, len(x), len(buffer)):
        n = min(len(buffer), len(x) - start)
        wanted = n * RECORD_BYTES
        got = 0
        while got < wanted:
            count = stream.readinto(flat[got:wanted])
            if not count:
                raise ValueError(f"{where} is truncated: {start * RECORD_BYTES + got} of "
                                 f"{len(x) * RECORD_BYTES} bytes")
            got += count
        records = buffer[:n]
        labels = records[:, 0]
        if int(labels.max()) >= len(CLASS_NAMES):
            raise ValueError(f"{where} holds label {int(labels.max())} in record "
                             f"{start + int(np.argmax(labels >= len(CLASS_NAMES)))}; expected "
                             f"labels 0 to {len(CLASS_NAMES) - 1}")
        y[start:start + n, 0] = labels
        # Record layout: 1024 R, 1024 G, 1024 B bytes, each plane row-major 32x32 -> NHWC.
        # One plane at a time reads contiguous bytes: 3x faster than one 4-d transpose.
        planes = records[:, 1:].reshape(n, 3, 32 * 32)
        pixels = x[start:start + n].reshape(n, 32 * 32, 3)
        for channel in range(3):
            pixels[:, :, channel] = planes[:, channel]
