"""Optional extras: fastcnn imports without them, and a missing one is named in the error."""
import subprocess
import sys

import pytest

from fastcnn._extras import require

OPTIONAL = ["onnx", "onnxruntime", "h5py", "matplotlib", "mpi4py"]


def test_import_fastcnn_loads_no_optional_package():
    code = ("import sys, fastcnn, fastcnn.models, fastcnn.layers\n"
            f"print(sorted(m for m in {OPTIONAL!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module, extra", [("onnx", "onnx"), ("h5py", "keras"),
                                           ("matplotlib.pyplot", "plot"), ("mpi4py", "mpi")])
def test_missing_extra_names_the_extra(monkeypatch, module, extra):
    monkeypatch.setitem(sys.modules, module.split(".")[0], None)   # import now fails
    with pytest.raises(ImportError, match=rf"fastcnn\[{extra}\].*") as info:
        require(module, "the feature")
    assert "the feature" in str(info.value)


def test_present_module_is_returned():
    assert require("json", "x").dumps([1]) == "[1]"
