"""fastcnn.distributed: the scripts of tests/mpi_scripts run under ``mpiexec -n 2`` (the
mpiexec of the ``mpich`` wheel that the ``mpi`` extra installs beside this Python), compared
with the same training run in this process without fastcnn.distributed (the oracle).

Tolerances: SGD with momentum within 1e-5 and Adam within 2e-3 of one process (relative to the
largest value, as tests/conftest.py measures); two 2-rank runs, and the ranks of one run,
bitwise the same."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import relative_error

import fastcnn
import fastcnn.distributed as dist
from fastcnn import cli
from fastcnn.distributed._exchange import bounds
from fastcnn.models import load_model

SCRIPTS = Path(__file__).parent / "mpi_scripts"
sys.path.insert(0, str(SCRIPTS))
import common

TIMEOUT = 120           # a hung run fails the test instead of hanging the suite
BOUNDED = 60            # a rank that raises must end the run within this many seconds


def mpiexec():
    """The mpiexec the mpich wheel installed (fastcnn.distributed.mpiexec_path). With the extra
    installed, a missing mpiexec is a failure, not a skip."""
    pytest.importorskip("mpi4py", reason="the mpi extra (fastcnn[mpi]) is not installed")
    found = dist.mpiexec_path()
    if found is None:
        pytest.fail(f"mpi4py is installed but no mpiexec was found (mpich wheel, beside "
                    f"{sys.executable}, PATH): pip install mpich")
    return found


def run(script, *args, ranks=2, env=None):
    """Run a script of tests/mpi_scripts (with ``mpiexec -n ranks``, or alone with
    ``ranks=None``) on this checkout's fastcnn; returns (completed process, seconds)."""
    environ = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    environ["PYTHONPATH"] = os.pathsep.join(
        [str(Path(fastcnn.__file__).parent.parent)] + environ.get("PYTHONPATH", "").split(
            os.pathsep))
    environ.update(env or {})
    command = [sys.executable, str(SCRIPTS / script), *map(str, args)]
    if ranks is not None:
        command = [mpiexec(), "-n", str(ranks)] + command
    start = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=environ,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(command)} still ran after {TIMEOUT} s (a hang?): "
                    f"{exc.stderr!r}")
    return done, time.monotonic() - start


def ok(done):
    assert done.returncode == 0, f"exit status {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def load(folder, case, rank):
    with np.load(folder / f"{case}-rank{rank}.npz") as f:
        return dict(f)


@pytest.fixture(scope="module")
def reference():
    """Each run of common.RUNS in this process, which never calls fastcnn.distributed.init()."""
    out = {}
    for case in common.CASES:
        model, history, (x, y) = common.train(case)
        out[case] = common.results(model, history, x, y)
        if f"{case}-resumed" in common.RUNS:
            out[f"{case}-resumed"] = common.results(model, common.resume(model, x, y), x, y)
    return out


@pytest.fixture(scope="module")
def two_rank_runs(tmp_path_factory):
    """Two runs of train.py on 2 ranks: threads per rank by default, and OMP_NUM_THREADS=1."""
    runs = []
    for env in ({}, {"OMP_NUM_THREADS": "1"}):
        folder = tmp_path_factory.mktemp("two_ranks")
        done, _ = run("train.py", folder, env=env)
        runs.append((folder, ok(done)))
    return runs


# -- same model as one process ------------------------------------------------------------------
@pytest.mark.parametrize("case, tolerance", [("sgd", 1e-5), ("adam", 2e-3),
                                             ("adam-resumed", 2e-3)])
def test_two_ranks_train_the_model_of_one_process(reference, two_rank_runs, case, tolerance):
    got, expected = load(two_rank_runs[0][0], case, 0), reference[case]
    assert int(got["size"]) == 2
    for key in expected:
        if key.startswith(("weight", "history_loss", "history_val_loss", "evaluate",
                           "predict")):
            err = relative_error(got[key], expected[key])
            assert err <= tolerance, f"{case} {key}: relative error {err:.2e} > {tolerance}"


@pytest.mark.parametrize("case", common.RUNS)
def test_two_rank_runs_are_bitwise_the_same(two_rank_runs, case):
    (first, _), (second, _) = two_rank_runs
    a, b = load(first, case, 0), load(second, case, 0)
    assert a.keys() == b.keys()
    for key in a:
        if key != "threads":
            assert np.array_equal(a[key], b[key]), f"{case} {key}"


@pytest.mark.parametrize("case", common.RUNS)
def test_every_rank_ends_with_the_same_weights_history_and_results(two_rank_runs, case):
    folder = two_rank_runs[0][0]
    a, b = load(folder, case, 0), load(folder, case, 1)
    for key in a:
        assert np.array_equal(a[key], b[key]), f"{case} {key}"


def test_world_of_one_without_mpiexec_trains_as_one_process(reference, tmp_path):
    ok(run("train.py", tmp_path, ranks=None)[0])
    for case in common.RUNS:
        got = load(tmp_path, case, 0)
        assert int(got["size"]) == 1
        for key, value in reference[case].items():
            assert np.array_equal(got[key], value), f"{case} {key}"


# -- rank 0 prints and writes -------------------------------------------------------------------
def test_only_rank_zero_prints_progress(two_rank_runs):
    out = two_rank_runs[0][1].stdout
    cases = len(common.CASES)
    assert len(re.findall(r"Epoch 1/2 - 6/6 ", out)) == cases, out
    assert len(re.findall(r"Epoch 2/2 - 6/6 ", out)) == cases, out


def test_only_rank_zero_saves_and_runs_file_writing_callbacks(two_rank_runs):
    folder = two_rank_runs[0][0]
    written = {p.name for p in folder.iterdir() if not p.name.endswith(".npz")}
    assert written == {f"{case}-{what}rank0.{ext}" for case in common.CASES
                       for what, ext in (("", "fcnn"), ("ckpt-", "fcnn"), ("log-", "csv"))}
    for case in common.CASES:
        saved = load_model(folder / f"{case}-rank0.fcnn").get_weights()
        final = load(folder, case, 0)
        for i, w in enumerate(saved):
            assert np.array_equal(w, final[f"weight{i}"])
        rows = (folder / f"{case}-log-rank0.csv").read_text().splitlines()
        assert len(rows) == 1 + common.EPOCHS


def test_threads_per_rank_default_to_cores_over_local_ranks(two_rank_runs):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    default, pinned = (load(folder, "sgd", 0)["threads"] for folder, _ in two_rank_runs)
    assert int(default) == max(1, cores // 2)
    assert int(pinned) == 1


# -- failures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def disagreements(tmp_path_factory):
    folder = tmp_path_factory.mktemp("disagree")
    ok(run("disagree.py", folder)[0])
    return [dict(line.split(": ", 1) for line in (folder / f"rank{r}.txt").read_text()
                 .splitlines()) for r in range(2)]


@pytest.mark.parametrize("case, rank0, rank1", [
    ("model", r"ValueError: .*fit\(\): the model differs between ranks",
     r"ValueError: .*fit\(\): the model differs between ranks"),
    ("samples", r"ValueError: .*number of samples differs .*rank 0: 40, rank 1: 39",
     r"ValueError: .*number of samples differs .*rank 0: 40, rank 1: 39"),
    ("batch_size", r"ValueError: batch_size=1 is smaller than the number of ranks \(2\)",
     r"ValueError: batch_size=1 is smaller than the number of ranks \(2\)"),
    ("argument", r"RuntimeError: .*rank 1 raised an error in fit\(\) before it started",
     r"TypeError: epochs must be an int"),
    ("evaluate", r"ValueError: .*evaluate\(\): the number of samples differs",
     r"ValueError: .*evaluate\(\): the number of samples differs"),
])
def test_ranks_that_disagree_raise_on_every_rank(disagreements, case, rank0, rank1):
    for rank, pattern in enumerate((rank0, rank1)):
        assert re.match(pattern, disagreements[rank][case]), (rank, disagreements[rank][case])


def test_ranks_train_together_after_caught_disagreements(disagreements):
    assert disagreements[0]["after"] == disagreements[1]["after"]
    assert np.isfinite(float(disagreements[0]["after"]))


@pytest.mark.parametrize("where, message", [
    ("callback", "RuntimeError in fit()"),
    ("toplevel", "an uncaught RuntimeError"),
])
def test_exception_on_one_rank_ends_every_rank(where, message):
    done, seconds = run("fail.py", where)
    assert done.returncode != 0
    assert seconds < BOUNDED
    assert f"rank 1 of 2: {message}; ending every rank" in done.stderr, done.stderr
    assert "fit returned" not in done.stdout


# -- command line, and one process --------------------------------------------------------------
def test_command_line_trains_on_two_ranks_and_rank_zero_prints(tmp_path):
    path = tmp_path / "model.fcnn"
    done = ok(run("cli_fake.py", "train", "--epochs", "2", "--batch-size", "16", "--seed", "0",
                  "--verbose", "2", "--save", path)[0])
    assert len(re.findall(r"Training the seed model .* batch size 16, 2 ranks x \d+ threads",
                          done.stdout)) == 1, done.stdout
    assert len(re.findall(r"Epoch 2/2 - 4/4 ", done.stdout)) == 1, done.stdout
    assert len(re.findall(r"Test accuracy: ", done.stdout)) == 1, done.stdout
    assert load_model(path).count_params() == cli.build_seed_model().count_params()


def test_before_init_this_process_is_a_world_of_one():
    assert (dist.rank(), dist.size(), dist.is_initialized()) == (0, 1, False)
    assert dist.reduction_stats()["steps"] == 0


@pytest.mark.parametrize("count, parts", [(16, 2), (3, 2), (1, 2), (0, 3), (10, 3), (7, 4),
                                          (5, 8), (1387594, 16)])
def test_shares_are_as_equal_as_possible_in_rank_order(count, parts):
    cuts = [bounds(count, parts, r) for r in range(parts)]
    assert cuts[0][0] == 0 and cuts[-1][1] == count
    assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))
    sizes = [b - a for a, b in cuts]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] - sizes[-1] <= 1
