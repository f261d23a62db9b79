"""Optional extras: import a package that only some features need, or say which extra adds it.

fastcnn itself needs NumPy only; ONNX export, Keras files, pictures and MPI each import their
package when first used, so ``import fastcnn`` works without any of them.
"""
import importlib

EXTRAS = {
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "h5py": "keras",
    "matplotlib": "plot",
    "mpi4py": "mpi",
}


def require(module, feature):
    """Import ``module`` (e.g. ``"onnx"``, ``"matplotlib.pyplot"``) for ``feature`` (what the
    user asked for, e.g. ``"model.export(format='onnx')"``), or raise an ImportError that names
    the extra to install."""
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = EXTRAS.get(top, top)
        raise ImportError(
            f"{feature} needs the optional package {top!r}, which is not installed: "
            f"python -m pip install 'fastcnn[{extra}]'") from exc
