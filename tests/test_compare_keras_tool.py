"""tools/compare_keras.py without Keras: fastcnn in both roles must agree bitwise, and the
comparison must catch a changed weight, a missing layer and misplaced NaNs."""
import os
import sys

import numpy as np
import pytest

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
sys.path.insert(0, TOOLS)

import compare_keras  # noqa: E402
import compare_keras_cases as cases  # noqa: E402
import compare_keras_report as report  # noqa: E402
import compare_keras_run as run  # noqa: E402


def _case(name):
    case = next(c for c in cases.all_cases() if c["name"] == name)
    case["fit"] = case["fit"][:1]
    return case


def _both_roles(job, case, before_load=None):
    lib = compare_keras.FastcnnLibrary()
    run.run_role(lib, case, "init", str(job), seed=0)
    if before_load:
        before_load(os.path.join(job, case["name"] + ".inputs.npz"))
    run.run_role(lib, case, "load", str(job), seed=0)
    return report.compare_case(case, run.read_role(str(job), case["name"], "init"),
                               run.read_role(str(job), case["name"], "load"))


@pytest.mark.parametrize("name", ["seq_cnn", "seq_strided", "seq_mlp"])
def test_fastcnn_against_itself_is_exact(tmp_path, name):
    # the load role starts from another seed, so this also shows every weight is copied
    rows = _both_roles(tmp_path, _case(name))
    assert [r.check for r in rows][:4] == ["structure", "infer", "predict", "train"]
    assert any(r.check.endswith("weights after") for r in rows)
    assert all(r.status == "PASS" for r in rows), rows
    assert all(r.max_abs == 0 for r in rows if r.check != "structure"), rows


def test_a_changed_weight_fails(tmp_path):
    def nudge(path):
        arrays = dict(np.load(path))
        arrays["w|hidden|0"] = arrays["w|hidden|0"] * np.float32(1.01)
        np.savez(path, **arrays)
    rows = {r.check: r for r in _both_roles(tmp_path, _case("seq_mlp"), nudge)}
    assert rows["structure"].status == "PASS"
    assert rows["infer"].status == "FAIL" and rows["infer"].max_rel > 1e-4
    assert rows["fit sgd: weights after"].status == "FAIL"


def test_a_missing_layer_is_an_error_row_and_the_case_goes_no_further(tmp_path):
    case = _case("seq_mlp")
    case["name"] = "missing_layer"
    case["layers"][1]["class"] = "NoSuchLayer"
    outcome = run.run_role(compare_keras.FastcnnLibrary(), case, "init", str(tmp_path), 0)
    assert "NoSuchLayer" in outcome["errors"]["build"]
    rows = report.compare_case(case, run.read_role(str(tmp_path), case["name"], "init"), None)
    assert [(r.check, r.status) for r in rows] == [("build", "ERROR")]


def test_nonfinite_values_must_sit_at_the_same_places():
    nan = np.float32(np.nan)
    assert report.array_difference([1.0, nan], [1.0, nan]) == (0.0, 1.0)
    assert report.array_difference([1.0, nan], [nan, 1.0])[0] == np.inf
    assert report.array_difference([np.inf], [-np.inf])[0] == np.inf


def test_cases_are_chosen_by_name_or_tag():
    names = [c["name"] for c in compare_keras.select_cases({"existing"}, set())]
    assert names == ["seq_cnn", "seq_strided", "seq_mlp"]
    kept = compare_keras.select_cases(set(), {"relu-options", "resnet20"})
    assert not any("relu-options" in c["tags"] or c["name"] == "resnet20" for c in kept)
