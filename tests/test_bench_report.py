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
