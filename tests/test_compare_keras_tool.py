"""tools/compare_keras.py without Keras: fastcnn in both roles must agree bitwise, and the
comparison must catch a changed weight, a missing layer and misplaced NaNs."""
import json
import os
import sys

import numpy as np
import pytest

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
sys.path.insert(0, TOOLS)

import compare_keras  # noqa: E402
import compare_keras_cases as cases  # noqa: E402
import compare_keras_fit as fitting  # noqa: E402
import compare_keras_recipes as recipes  # noqa: E402
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


# -- the training recipes' description (tools/compare_keras_recipes.py) --------------------------
def _recipe(name):
    return next(c for c in cases.all_cases() if c["name"] == name)


@pytest.mark.parametrize("name", ["recipe_weights", "recipe_callbacks", "recipe_schedules",
                                  "recipe_sparse_cce", "aug_flip_fixed_hv", "aug_crop_aspect"])
def test_recipes_against_fastcnn_itself_are_exact(tmp_path, name):
    rows = _both_roles(tmp_path, _recipe(name))
    assert all(r.status == "PASS" for r in rows), rows
    assert all(r.max_abs == 0 for r in rows if r.check != "structure"), rows
    checks = {r.check for r in rows}
    expected = {
        "recipe_weights": ["fit sample_weight: evaluate before fit",
                           "fit sample_weight: evaluate after fit",
                           "fit initial_epoch: history epochs", "fit class_weight: weights after"],
        "recipe_callbacks": ["fit reduce_lr_on_plateau: history learning_rate",
                             "fit lr_scheduler: batch learning rates"],
        "recipe_schedules": ["fit adam_cosine_warmup: batch learning rates"],
        "recipe_sparse_cce": ["fit sgd_class_weight: epoch losses"],
        "aug_flip_fixed_hv": ["train", "fit sgd: weights after"],
        "aug_crop_aspect": ["infer", "predict"],
    }[name]
    assert set(expected) <= checks, sorted(checks)
    if name == "aug_crop_aspect":
        assert "train" not in checks            # forward="inference": no training-mode call


def test_fit_records_what_the_callbacks_and_schedules_do(tmp_path):
    case = _recipe("recipe_callbacks")
    run.run_role(compare_keras.FastcnnLibrary(), case, "init", str(tmp_path), 0)
    results, outcome = run.read_role(str(tmp_path), case["name"], "init")
    assert outcome["errors"] == {}
    rates = results[("fit reduce_lr_on_plateau", "rates", "history learning_rate", "")]
    assert rates[0] == 0.5 and rates[-1] < rates[0]           # the plateau callback acted
    halved = results[("fit lr_scheduler", "rates", "history learning_rate", "")]
    np.testing.assert_allclose(halved, [0.05, 0.025, 0.0125])
    epochs = results[("fit lr_scheduler_epoch_only", "exact", "history epochs", "")]
    assert epochs.tolist() == [1, 2, 3]                        # initial_epoch=1, epochs=4
    per_batch = results[("fit lr_scheduler_epoch_only", "rates", "batch learning rates", "")]
    np.testing.assert_allclose(per_batch, np.repeat([0.02 / 2, 0.02 / 3, 0.02 / 4], 4))


def test_description_values_resolve_to_fastcnn_objects():
    from fastcnn import callbacks, losses
    from fastcnn.optimizers import schedules
    lib = compare_keras.FastcnnLibrary()
    data = {"sw": np.arange(3, dtype=np.float32)}
    value = run.resolve(lib, {
        "loss": {"@": "losses.CategoricalCrossentropy", "label_smoothing": 0.1},
        "rate": {"@": "optimizers.schedules.CosineDecay", "initial_learning_rate": 0.1,
                 "decay_steps": 4, "warmup_target": 0.2, "warmup_steps": 2},
        "callbacks": [{"@": "callbacks.LearningRateScheduler",
                       "schedule": {"fn": "compare_keras_recipes.rate_of_epoch"}}],
        "weights": {"data": "sw"}, "plain": {"a": [1, [2, 3]]}}, data)
    assert isinstance(value["loss"], losses.CategoricalCrossentropy)
    assert value["loss"].label_smoothing == 0.1
    assert isinstance(value["rate"], schedules.CosineDecay) and value["rate"](2) == 0.2
    assert isinstance(value["callbacks"][0], callbacks.LearningRateScheduler)
    assert value["callbacks"][0].schedule is recipes.rate_of_epoch
    assert value["weights"] is data["sw"] and value["plain"] == {"a": [1, [2, 3]]}


def test_cases_survive_json_and_class_weight_keys_come_back_as_ints():
    loaded = json.loads(json.dumps(cases.all_cases()))      # what the Keras side reads
    runs = [r for c in loaded for r in c["fit"] if "class_weight" in r.get("kwargs", {})]
    assert runs and all(isinstance(k, str) for r in runs for k in r["kwargs"]["class_weight"])
    kwargs = fitting.fit_kwargs(compare_keras.FastcnnLibrary(), runs[0], {})
    assert all(type(k) is int for k in kwargs["class_weight"])


def test_the_keras_stand_in_is_built_only_for_keras():
    entry = next(e for e in _recipe("aug_crop_down")["layers"] if e["class"] == "RandomCrop")
    assert entry["keras"]["class"] == "Resizing" and "21868" in entry["keras"]["why"]

    class Recorder:
        def __init__(self, name):
            self.name, self.built = name, None

        def layer(self, cls, name, args):
            self.built = (cls, name, args)
    for name, cls in (("fastcnn", "RandomCrop"), ("keras", "Resizing")):
        lib = Recorder(name)
        run.make_layer(lib, entry)
        assert lib.built[0] == cls and lib.built[1] == "crop"


def test_fixed_flips_flip_exactly_the_pattern_in_training():
    from fastcnn.layers import Input, RandomFlip
    from fastcnn.models import Model
    lib = compare_keras.FastcnnLibrary()
    inp = Input((3, 4, 1))
    flip = RandomFlip("horizontal")
    model = Model(inp, flip(inp))
    lib.fix_flips(flip, [True, False, True])
    x = np.arange(3 * 12, dtype=np.float32).reshape(3, 3, 4, 1)
    out = np.asarray(model(x, training=True))
    np.testing.assert_array_equal(out, np.stack([x[0, :, ::-1], x[1], x[2, :, ::-1]]))
    np.testing.assert_array_equal(np.asarray(model(x[:2], training=True)), out[:2])
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), x)
    with pytest.raises(ValueError, match="fixed_flips"):
        model(np.concatenate([x, x]), training=True)


def test_a_group_only_on_the_tested_side_fails():
    case = {"name": "c", "tol": {}}
    ref = {("fit a", "losses", "epoch losses", ""): np.ones(2)}
    got = dict(ref)
    got[("fit a", "rates", "history learning_rate", "")] = np.ones(2)
    rows = report.compare_results(case, got, ref)
    assert [(r.check, r.status) for r in rows] == [("fit a: epoch losses", "PASS"),
                                                   ("fit a: history learning_rate", "FAIL")]


def test_recipes_tag_selects_the_recipes_and_the_regularizers():
    names = [c["name"] for c in compare_keras.select_cases({"recipes"}, set())]
    assert names[0] == "regularizers" and "recipe_optimizers" in names
    assert {"aug_identity", "aug_flip_fixed_h", "recipe_callbacks"} <= set(names)
