"""Reader for the IDX format that MNIST-style datasets ship in.

An IDX file is a 4-byte magic number ``00 00 TT NN`` (``TT`` the element type, ``NN`` the number
of dimensions), then ``NN`` big-endian uint32 dimension sizes, then the elements in C order and
big-endian byte order. The files are often gzip-compressed; gzip is recognised by its own magic
bytes, not by the file name.
"""
import gzip
import os
import struct
import zlib

import numpy as np

__all__ = ["read_idx"]

# IDX type code -> big-endian NumPy dtype of the stored elements.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
# Decompressed data is read in pieces so that a header promising terabytes costs only as much
# memory as the file really holds.
_CHUNK_BYTES = 1 << 20


def read_idx(path):
    """Read an IDX file, raw or gzip-compressed, into a NumPy array.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        The file to read. Gzip compression is detected from the file's first bytes.

    Returns
    -------
    numpy.ndarray
        A new, writable, native-endian array whose dtype follows the IDX type code (uint8, int8,
        int16, int32, float32, float64) and whose shape is the header's dimensions.

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    ValueError
        If the file is not a well-formed IDX file: bad magic number, unknown type code, no
        dimensions, fewer or more data bytes than the header declares, or corrupt gzip data.
        The message names the file.
    OSError
        If the file cannot be opened (for example ``FileNotFoundError``).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(
            f"read_idx: path must be a str, bytes or os.PathLike, got {type(path).__name__}")
    name = os.fsdecode(os.fspath(path))
    with open(path, "rb") as raw:
        if raw.read(2) == _GZIP_MAGIC:
            raw.seek(0)
            try:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    return _read_idx_stream(stream, name, compressed=True)
            except (OSError, EOFError, zlib.error) as exc:
                raise ValueError(
                    f"IDX file {name!r} is a corrupt or truncated gzip file: {exc}") from exc
        raw.seek(0)
        return _read_idx_stream(raw, name, compressed=False)


def _read_idx_stream(stream, name, compressed):
    magic = stream.read(4)
    if len(magic) < 4:
        raise ValueError(
            f"IDX file {name!r} is truncated: {len(magic)} bytes, too short for the 4-byte "
            "magic number")
    zero, type_code, ndim = struct.unpack(">HBB", magic)
    if zero != 0:
        raise ValueError(
            f"IDX file {name!r} has a wrong magic number {magic.hex()}: an IDX file starts "
            "with two zero bytes")
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise ValueError(
            f"IDX file {name!r} has an unknown type code 0x{type_code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"IDX file {name!r} declares zero dimensions")
    header = stream.read(4 * ndim)
    if len(header) < 4 * ndim:
        raise ValueError(
            f"IDX file {name!r} is truncated: its header declares {ndim} dimensions but holds "
            f"only {len(header)} of the {4 * ndim} bytes of dimension sizes")
    shape = struct.unpack(f">{ndim}I", header)
    dtype = IDX_DTYPES[type_code]
    expected = dtype.itemsize
    for size in shape:
        expected *= size
    data = _read_at_most(stream, expected + 1)
    if len(data) != expected:
        where = "decompressed file" if compressed else "file"
        if len(data) < expected:
            problem, holds = "truncated", f"holds only {len(data)}"
        else:
            problem, holds = "followed by trailing bytes", "holds more"
        raise ValueError(
            f"IDX file {name!r} is {problem}: its header declares shape {shape} of "
            f"{dtype.name} ({expected} data bytes) but the {where} {holds}")
    array = np.frombuffer(data, dtype=dtype)
    if not dtype.isnative:
        array = array.astype(dtype.newbyteorder("="))
    return array.reshape(shape)


def _read_at_most(stream, limit):
    """Read up to ``limit`` bytes, growing the buffer only as real data arrives."""
    data = bytearray()
    while len(data) < limit:
        piece = stream.read(min(_CHUNK_BYTES, limit - len(data)))
        if not piece:
            break
        data += piece
    return data
