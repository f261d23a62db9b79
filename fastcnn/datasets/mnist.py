"""MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grey levels."""
from ._loader import IDX_FILES, DatasetSpec, load_dataset, read_idx_dataset

__all__ = ["load_data", "SPEC"]

SPEC = DatasetSpec(
    name="mnist",
    title="MNIST",
    files=IDX_FILES,
    # sha256 of the gzip files as the mirrors serve them (the values published with
    # torchvision's and TensorFlow Datasets' MNIST loaders).
    checksums={
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    mirrors=(
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
)


def load_data():
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``.

    ``x_*`` are uint8 arrays of shape ``(N, 28, 28)`` and ``y_*`` uint8 arrays of shape ``(N,)``
    holding the digit 0-9. The four IDX files (``.gz`` or not) are looked for in
    ``$FASTCNN_DATA/mnist/``, ``$FASTCNN_DATA/`` and ``~/.fastcnn/datasets/mnist/``; when none
    holds all four, the missing ones are downloaded into ``~/.fastcnn/datasets/mnist/`` and
    checked against their sha256.

    Raises ``fastcnn.datasets.DatasetNotFoundError`` (a ``FileNotFoundError``) listing every
    place looked at when the files can be neither found nor downloaded, and ``ValueError``
    naming the file when a file found is not a valid MNIST file.
    """
    return load_dataset(SPEC, read_idx_dataset)
