"""Fashion-MNIST: 70,000 28x28 grey images of clothing in 10 classes, a drop-in for MNIST.

Debian and Ubuntu ship it in the package ``dataset-fashion-mnist``, which installs the four
gzip IDX files in ``/usr/share/datasets/fashion-mnist/``. Debian recompressed them, so their
gzip bytes (and sha256) differ from the upstream mirrors' while the IDX content is the same.
"""
import os
import shutil
import subprocess
import sys

from ._loader import (IDX_FILES, DatasetSpec, find_dataset_dir, how_to_get, load_dataset,
                      read_idx_dataset)

__all__ = ["load_data", "ensure_system_fashion_mnist", "SPEC", "CLASS_NAMES"]

DEBIAN_PACKAGE = "dataset-fashion-mnist"
SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")

SPEC = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    files=IDX_FILES,
    # sha256 of the gzip files as upstream serves them (they match upstream's published MD5s;
    # the same values appear in torchvision's and TensorFlow Datasets' loaders).
    checksums={
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        # The S3 website endpoint serves plain HTTP only; the sha256 check guards the content.
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    system_dirs=(SYSTEM_DIR,),
    install_hint=(f"on Debian or Ubuntu: sudo apt-get install {DEBIAN_PACKAGE} "
                  f"(installs them in {SYSTEM_DIR}/)"),
)


def load_data():
    """Load Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``.

    ``x_*`` are uint8 arrays of shape ``(N, 28, 28)`` and ``y_*`` uint8 arrays of shape ``(N,)``
    holding the class 0-9 (names in ``CLASS_NAMES``). The four IDX files (``.gz`` or not) are
    looked for in ``$FASTCNN_DATA/fashion-mnist/``, ``$FASTCNN_DATA/``,
    ``~/.fastcnn/datasets/fashion-mnist/`` and ``/usr/share/datasets/fashion-mnist/`` (Debian's
    ``dataset-fashion-mnist``); when none holds all four, the missing ones are downloaded into
    ``~/.fastcnn/datasets/fashion-mnist/`` and checked against their sha256.

    Raises ``fastcnn.datasets.DatasetNotFoundError`` (a ``FileNotFoundError``) listing every
    place looked at when the files can be neither found nor downloaded, and ``ValueError``
    naming the file when a file found is not a valid Fashion-MNIST file.
    """
    return load_dataset(SPEC, read_idx_dataset)


def ensure_system_fashion_mnist(install=True, stream=None):
    """Make Fashion-MNIST loadable without a download; return whether it now is.

    Returns True at once when one of ``load_data``'s search folders already holds the four
    files. Otherwise, when ``install`` is true and this is a root process on a system with
    ``apt-get``, runs ``apt-get install -y dataset-fashion-mnist`` (after ``apt-get update``
    when apt does not know the package yet) and reports the outcome. When it cannot install,
    it prints what the user should run and returns False. Everything it does is printed to
    ``stream`` (``sys.stderr`` by default). It never raises because an install failed.
    """
    stream = sys.stderr if stream is None else stream
    folder = find_dataset_dir(SPEC)
    if folder is not None:
        print(f"Fashion-MNIST found in {folder}", file=stream, flush=True)
        return True
    if not install:
        print("Fashion-MNIST is not installed.\n" + how_to_get(SPEC), file=stream, flush=True)
        return False
    reason = _cannot_install_reason()
    if reason is not None:
        print(f"Fashion-MNIST is not installed and fastcnn cannot install it here: {reason}.\n"
              + how_to_get(SPEC), file=stream, flush=True)
        return False

    install_command = ["apt-get", "install", "-y", DEBIAN_PACKAGE]
    returncode, output = _run_command(install_command, stream)
    if returncode != 0 and _package_unknown(output):
        returncode, _ = _run_command(["apt-get", "update"], stream)
        if returncode == 0:
            returncode, output = _run_command(install_command, stream)
    if returncode != 0:
        print(f"Installing {DEBIAN_PACKAGE} failed (exit status {returncode}).\n"
              + how_to_get(SPEC), file=stream, flush=True)
        return False
    folder = find_dataset_dir(SPEC)
    if folder is None:
        print(f"{DEBIAN_PACKAGE} is installed but the four Fashion-MNIST files are not in "
              f"{SYSTEM_DIR}/.\n" + how_to_get(SPEC), file=stream, flush=True)
        return False
    print(f"Fashion-MNIST installed in {folder}", file=stream, flush=True)
    return True


def _cannot_install_reason():
    """Why ``apt-get install`` cannot be run from here, or None when it can."""
    if shutil.which("apt-get") is None:
        return "apt-get was not found (not a Debian-like system)"
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return f"not running as root (run: sudo apt-get install {DEBIAN_PACKAGE})"
    return None


def _package_unknown(apt_output):
    """True when apt failed because its package lists do not know the package."""
    return ("Unable to locate package" in apt_output
            or "has no installation candidate" in apt_output)


def _run_command(command, stream):
    """Run ``command``, echoing it and its output to ``stream``; return (exit status, output)."""
    print("$ " + " ".join(command), file=stream, flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lines = []
    try:
        with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=env, text=True,
                              errors="replace") as process:
            for line in process.stdout:
                lines.append(line)
                stream.write(line)
            returncode = process.wait()
    except OSError as exc:
        message = f"could not run {command[0]}: {exc}\n"
        stream.write(message)
        return 127, message
    stream.flush()
    return returncode, "".join(lines)
