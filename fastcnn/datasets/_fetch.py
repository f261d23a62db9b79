"""Checksum-verified, all-or-nothing downloads into the dataset cache."""
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request

__all__ = ["DownloadError", "fetch_verified", "file_digest"]

# The largest dataset file fastcnn downloads is CIFAR-10's 170 MB archive; a mirror sending far
# more than that is broken, and stopping early keeps it from filling the disk.
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
TIMEOUT_SECONDS = 60
_CHUNK_BYTES = 1 << 16


class DownloadError(OSError):
    """No mirror delivered a file with the expected digest; the message lists every attempt."""


def file_digest(path, algorithm="sha256"):
    """The hex digest of the file at ``path`` (``algorithm`` is a :mod:`hashlib` name)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_verified(urls, destination, checksum, stream=None, timeout=TIMEOUT_SECONDS,
                   max_bytes=MAX_DOWNLOAD_BYTES, algorithm="sha256"):
    """Download ``destination`` from the first of ``urls`` whose content has hex digest
    ``checksum`` (``algorithm`` names the :mod:`hashlib` digest: the one the dataset's authors
    publish).

    Each attempt writes to a hidden temporary file in the destination's directory and is moved
    into place with ``os.replace`` only after its digest matched, so an interrupted, failed or
    corrupt download never leaves a file under the destination name (nor a temporary file).
    Progress lines go to ``stream`` (``sys.stderr`` by default). Returns ``destination``.
    """
    stream = sys.stderr if stream is None else stream
    directory, filename = os.path.split(os.fspath(destination))
    failures = []
    for url in urls:
        print(f"fastcnn: downloading {url}", file=stream, flush=True)
        temp_path = None
        try:
            fd, temp_path = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part",
                                             dir=directory or ".")
            with os.fdopen(fd, "wb") as out:
                digest, size = _copy_url(url, out, timeout, max_bytes, algorithm)
                out.flush()
                os.fsync(out.fileno())
            if digest != checksum:
                failures.append(f"{url}: {algorithm} mismatch: expected {checksum}, got "
                                f"{digest} ({size} bytes); the file was discarded")
                continue
            os.replace(temp_path, destination)
            temp_path = None
            print(f"fastcnn: saved {destination} ({size} bytes, {algorithm} verified)",
                  file=stream, flush=True)
            return destination
        except (OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
        finally:
            if temp_path is not None:
                try:
                    os.remove(temp_path)
                except OSError:
                    pass
    if not failures:
        failures.append("no download address is configured")
    raise DownloadError(f"could not download {filename}:\n    " + "\n    ".join(failures))


def _copy_url(url, out, timeout, max_bytes, algorithm="sha256"):
    """Copy the body at ``url`` into ``out``; return its (hex digest, size)."""
    digest = hashlib.new(algorithm)
    size = 0
    with urllib.request.urlopen(url, timeout=timeout) as response:
        while True:
            chunk = response.read(_CHUNK_BYTES)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise ValueError(f"more than {max_bytes} bytes, larger than any dataset file")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), size
