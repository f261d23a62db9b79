"""bench/report.py's arithmetic on saved runs (standard library only, no benchmarks run)."""
import importlib.util
import os

import pytest

REPORT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench",
                      "report.py")


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("fastcnn_bench_report", REPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(**medians):
    """A pytest-benchmark JSON of shape S4 forward with these contenders' medians."""
    return {"benchmarks": [
        {"extra_info": {"shape": "S4", "pass_name": "forward", "contender": name,
                        "gflop": 4.8},
         "stats": {"median": seconds}} for name, seconds in medians.items()]}


def test_one_run_keeps_its_medians_and_ratios(report):
    rows = report.combine([_run(fastcnn=2.0, reference=6.0, **{"torch-cl": 3.0})])
    row = rows[("S4", "forward")]
    assert row["times"] == {"fastcnn": 2.0, "reference": 6.0, "torch-cl": 3.0}
    assert row["ratios"] == {"reference": 3.0, "torch": 1.5}


def test_ratios_pair_contenders_within_each_run(report):
    # a slow second run hits fastcnn's and PyTorch's times alike: each run's ratio is 1.5,
    # while the ratio of the medians over runs would not be
    runs = [_run(fastcnn=1.0, **{"torch-cl": 1.5}), _run(fastcnn=4.0, **{"torch-cl": 6.0}),
            _run(fastcnn=1.2, **{"torch-cl": 1.8, "torch-nchw": 1.6})]
    row = report.combine(runs)[("S4", "forward")]
    assert row["times"]["fastcnn"] == 1.2
    assert row["runs"] == {"fastcnn": 3, "torch-cl": 3, "torch-nchw": 1}
    # the third run's best layout is NCHW (1.6 / 1.2)
    assert row["ratios"]["torch"] == pytest.approx(1.5)
    assert "reference" not in row["ratios"]
    line = report.table({("S4", "forward"): row})[-1].split()
    assert line[-1] == "1.50" and line[-2] == "-"


def test_missing_fastcnn_gives_no_ratio(report):
    row = report.combine([_run(reference=6.0)])[("S4", "forward")]
    assert row["ratios"] == {}
    assert report.table({("S4", "forward"): row})[-1].split()[-2:] == ["-", "-"]


def test_share_of_peak_pairs_each_run_with_its_own_peak(report):
    # 4.8 GFLOP in 0.04 s is 120 GFLOP/s: 80% of a 150 GFLOP/s peak, 60% of 200
    runs = [_run(fastcnn=0.04), _run(fastcnn=0.04), _run(fastcnn=0.032)]
    for run, peak in zip(runs, (150.0, 200.0, 200.0)):
        run["benchmarks"][0]["extra_info"]["peak_gflops"] = peak
    row = report.combine(runs[:1])[("S4", "forward")]
    assert row["ratios"]["peak"] == pytest.approx(0.8)
    assert report.table({("S4", "forward"): row})[-1].split()[5:7] == ["120.0", "80%"]
    # runs 1-3: 0.8, 0.6, 0.75 -> median 0.75
    assert report.combine(runs)[("S4", "forward")]["ratios"]["peak"] == pytest.approx(0.75)
    # no peak recorded (an older JSON): no share
    assert "peak" not in report.combine([_run(fastcnn=0.04)])[("S4", "forward")]["ratios"]


def test_describe_states_fastcnn_version_and_kernel_set(report):
    line = report.describe({"machine_info": {"fastcnn_threads": 2, "fastcnn_version": "0.1.0",
                                             "fastcnn_simd": "avx2"}})
    assert "threads=2" in line and "fastcnn 0.1.0 (avx2)" in line



def _model_run(medians):
    """A pytest-benchmark JSON of whole-model benchmarks, {(model, pass): {contender: median
    seconds}}, with the extra_info test_bench_model.py records."""
    benchmarks = []
    for (model, pass_name), times in medians.items():
        info = {"images": 5000} if pass_name == "predict" else {"steps": 20, "images": 2560}
        if pass_name == "train-epoch":
            info["epoch_steps"] = 468.75
        for contender, seconds in times.items():
            benchmarks.append({"extra_info": dict(info, shape=model, pass_name=pass_name,
                                                  contender=contender, kind="model"),
                               "stats": {"median": seconds}})
    return {"benchmarks": benchmarks}


def test_model_table_gives_images_per_second_of_fit_and_the_seed_epoch(report):
    rows = report.combine([_model_run({
        ("resnet20", "predict"): {"fastcnn": 1.0, "torch-nchw": 2.5},
        ("resnet20", "fit"): {"fastcnn": 2.0, "torch-cl": 4.0, "torch-nchw": 5.0},
        ("tf-cnn", "fit"): {"fastcnn": 0.5},
        ("seed", "train-epoch"): {"fastcnn": 0.4, "torch-cl": 0.8}})], model=True)
    assert report.combine([_model_run({("seed", "predict"): {"fastcnn": 1.0}})]) == {}
    lines = report.model_table(rows)[2:]
    # seed first, then the CIFAR-size models in BENCHMARKS.md's order; fit before predict
    assert [line.split()[:2] for line in lines] == [
        ["seed", "train-epoch"], ["tf-cnn", "fit"], ["resnet20", "fit"],
        ["resnet20", "predict"]]
    # 0.4 s for 20 steps: 9.375 s per 468.75-step epoch; PyTorch twice that
    assert "9.4 s/epoch" in lines[0] and "18.8 s/epoch (cl)" in lines[0]
    # 2560 images in 2 s, PyTorch's best layout (channels_last) in 4 s
    assert "20 steps x 128 img" in lines[2] and "1,280 img/s" in lines[2]
    assert "640 img/s (cl)" in lines[2] and lines[2].split()[-1] == "2.00"
    assert "5,000 img/s" in lines[3] and "2,000 img/s (nchw)" in lines[3]
    assert lines[3].split()[-1] == "2.50"
    assert "5,120 img/s" in lines[1] and lines[1].split()[-2:] == ["-", "-"]
