"""Tests for fastcnn.datasets: the IDX reader, the dataset search order, the verified download,
and the Debian system copy of Fashion-MNIST."""
import dataclasses
import gzip
import hashlib
import io
import os
import struct
import sys

import numpy as np
import pytest

from fastcnn import datasets
from fastcnn.datasets import (DatasetNotFoundError, _fetch, ensure_system_fashion_mnist,
                              fashion_mnist, mnist, read_idx)

IDX_TYPE_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}
FILE_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array):
    """Encode ``array`` as an IDX file: magic, big-endian uint32 dims, big-endian data."""
    array = np.asarray(array)
    header = struct.pack(">HBB", 0, IDX_TYPE_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_file(path, data, compress):
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_dataset(folder, n_train, n_test, seed, compress=True):
    """Write a small synthetic MNIST-style dataset into ``folder``; return its four arrays."""
    rng = np.random.default_rng(seed)
    arrays = (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, n_train, dtype=np.uint8),
              rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, n_test, dtype=np.uint8))
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(FILE_NAMES, arrays):
        write_file(folder / (name + (".gz" if compress else "")), idx_bytes(array), compress)
    return arrays


def assert_dataset_equal(loaded, expected):
    (x_train, y_train), (x_test, y_test) = loaded
    for got, want in zip((x_train, y_train, x_test, y_test), expected):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)


def random_array(dtype, shape, rng):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 1e3).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


# ------------------------------------------------------------------------------------------
# read_idx


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("dtype, shape", [
    (np.uint8, (7,)),
    (np.int8, (3, 5)),
    (np.int16, (2, 3, 4)),
    (np.int32, (2, 3, 4, 5)),
    (np.float32, (4, 6)),
    (np.float64, (2, 2, 3, 1)),
    (np.uint8, (0, 28, 28)),
])
def test_read_idx_round_trips_dtype_and_shape(tmp_path, dtype, shape, compress):
    array = random_array(dtype, shape, np.random.default_rng(len(shape)))
    path = write_file(tmp_path / "data.idx", idx_bytes(array), compress)
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype)
    assert result.dtype.isnative
    assert result.shape == shape
    np.testing.assert_array_equal(result, array)
    assert result.flags.writeable


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_read_idx_decodes_big_endian_int32_and_float32_bytes(tmp_path, compress):
    # Hand-written bytes, independent of the idx_bytes helper.
    int32_file = bytes.fromhex("00000C01" "00000003" "00000100" "FFFFFFFE" "7FFFFFFF")
    float32_file = bytes.fromhex("00000D02" "00000001" "00000002" "3FC00000" "C0200000")
    ints = read_idx(write_file(tmp_path / "i.idx", int32_file, compress))
    floats = read_idx(write_file(tmp_path / "f.idx", float32_file, compress))
    assert ints.dtype == np.int32 and ints.tolist() == [256, -2, 2**31 - 1]
    assert floats.dtype == np.float32 and floats.tolist() == [[1.5, -2.5]]


def test_read_idx_accepts_str_bytes_and_pathlib(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = write_file(tmp_path / "a.idx", idx_bytes(array), compress=False)
    for argument in (path, str(path), os.fsencode(path)):
        np.testing.assert_array_equal(read_idx(argument), array)


def test_read_idx_detects_gzip_by_magic_bytes_not_name(tmp_path):
    array = np.arange(6, dtype=np.int16)
    gz_named_raw = write_file(tmp_path / "raw.gz", idx_bytes(array), compress=False)
    raw_named_gz = write_file(tmp_path / "plain-ubyte", idx_bytes(array), compress=True)
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)


VALID = idx_bytes(np.arange(24, dtype=np.int32).reshape(2, 3, 4))

BAD_IDX_FILES = {
    "wrong_magic": (b"\x01\x00" + VALID[2:], "wrong magic number"),
    "unknown_type_code": (VALID[:2] + b"\x0A" + VALID[3:], "unknown type code 0x0A"),
    "zero_dimensions": (b"\x00\x00\x08\x00", "zero dimensions"),
    "too_short_for_magic": (b"\x00\x00", "too short for the 4-byte magic"),
    "truncated_header": (VALID[:10], r"declares 3 dimensions but holds only 6 of the 12"),
    "truncated_data": (VALID[:-1], r"truncated: its header declares shape \(2, 3, 4\)"),
    "trailing_bytes": (VALID + b"\x00", "followed by trailing bytes"),
    "dims_larger_than_data": (VALID[:4] + struct.pack(">3I", 2, 3, 5) + VALID[16:],
                              r"shape \(2, 3, 5\) of int32 \(120 data bytes\)"),
    "huge_dims": (struct.pack(">HBB2I", 0, 0x08, 2, 2**31, 2**31) + b"\x00" * 16,
                  r"truncated: its header declares shape \(2147483648, 2147483648\)"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", sorted(BAD_IDX_FILES))
def test_read_idx_rejects_malformed_file_naming_it(tmp_path, case, compress):
    data, message = BAD_IDX_FILES[case]
    path = write_file(tmp_path / f"{case}.idx", data, compress)
    with pytest.raises(ValueError, match=message) as excinfo:
        read_idx(path)
    assert str(path) in str(excinfo.value)


def test_read_idx_rejects_huge_gzip_dims_without_allocating(tmp_path):
    # 2**31 x 2**31 x 2**31 uint8 would be 8 EiB: the reader must fail on the real data size.
    header = struct.pack(">HBB3I", 0, 0x08, 3, 2**31, 2**31, 2**31)
    path = write_file(tmp_path / "huge.idx.gz", header + bytes(4096), compress=True)
    with pytest.raises(ValueError, match=r"holds only 4096"):
        read_idx(path)


@pytest.mark.parametrize("corruption", ["flipped_bytes", "cut_stream", "garbage_after_stream"])
def test_read_idx_rejects_corrupt_gzip(tmp_path, corruption):
    packed = bytearray(gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32))))
    if corruption == "flipped_bytes":
        packed[20:40] = bytes(b ^ 0xFF for b in packed[20:40])
    elif corruption == "cut_stream":
        packed = packed[: len(packed) // 2]
    else:
        packed += b"not gzip"
    path = tmp_path / "corrupt.idx.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(ValueError, match="corrupt or truncated gzip file") as excinfo:
        read_idx(path)
    assert str(path) in str(excinfo.value)


@pytest.mark.parametrize("argument", [None, 3.5, ["a.idx"], io.BytesIO(VALID)],
                         ids=["None", "float", "list", "file_object"])
def test_read_idx_rejects_non_path_argument(argument):
    with pytest.raises(TypeError, match="read_idx: path must be a str, bytes or os.PathLike"):
        read_idx(argument)


def test_read_idx_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.idx"):
        read_idx(tmp_path / "absent.idx")


# ------------------------------------------------------------------------------------------
# load_data: search order, download, errors


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An isolated world: no $FASTCNN_DATA, $HOME in tmp_path, a fake system folder and local
    mirrors, so no test reads the real system copy or reaches the network."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("FASTCNN_DATA", raising=False)
    system = tmp_path / "system" / "fashion-mnist"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setattr(fashion_mnist, "SPEC", dataclasses.replace(
        fashion_mnist.SPEC, system_dirs=(str(system),), mirrors=(mirror.as_uri() + "/",)))
    monkeypatch.setattr(mnist, "SPEC", dataclasses.replace(
        mnist.SPEC, mirrors=(mirror.as_uri() + "/",)))
    return dict(
        data=tmp_path / "data",
        fashion_cache=home / ".fastcnn" / "datasets" / "fashion-mnist",
        mnist_cache=home / ".fastcnn" / "datasets" / "mnist",
        system=system,
        mirror=mirror,
    )


def test_load_data_search_order_fastcnn_data_then_cache_then_system(places, monkeypatch):
    from_env = write_dataset(places["data"] / "fashion-mnist", 5, 2, seed=1)
    from_cache = write_dataset(places["fashion_cache"], 6, 3, seed=2)
    from_system = write_dataset(places["system"], 7, 4, seed=3)
    monkeypatch.setenv("FASTCNN_DATA", str(places["data"]))
    assert_dataset_equal(fashion_mnist.load_data(), from_env)
    monkeypatch.delenv("FASTCNN_DATA")
    assert_dataset_equal(fashion_mnist.load_data(), from_cache)
    for name in os.listdir(places["fashion_cache"]):
        os.remove(places["fashion_cache"] / name)
    assert_dataset_equal(fashion_mnist.load_data(), from_system)


def test_load_data_reads_raw_files_directly_in_fastcnn_data(places, monkeypatch):
    expected = write_dataset(places["data"], 4, 3, seed=4, compress=False)
    write_dataset(places["fashion_cache"], 6, 3, seed=5)
    monkeypatch.setenv("FASTCNN_DATA", str(places["data"]))
    assert_dataset_equal(fashion_mnist.load_data(), expected)
    assert_dataset_equal(mnist.load_data(), expected)


def test_load_data_named_subfolder_beats_top_level_of_fastcnn_data(places, monkeypatch):
    write_dataset(places["data"], 4, 3, seed=6)
    expected = write_dataset(places["data"] / "mnist", 3, 2, seed=7)
    monkeypatch.setenv("FASTCNN_DATA", str(places["data"]))
    assert_dataset_equal(mnist.load_data(), expected)


def test_load_data_skips_folder_missing_a_file(places, monkeypatch):
    write_dataset(places["data"], 4, 3, seed=8)
    os.remove(places["data"] / "t10k-labels-idx1-ubyte.gz")
    expected = write_dataset(places["system"], 5, 2, seed=9)
    monkeypatch.setenv("FASTCNN_DATA", str(places["data"]))
    assert_dataset_equal(fashion_mnist.load_data(), expected)


def test_load_data_returns_arrays_that_do_not_alias_between_calls(places):
    write_dataset(places["mnist_cache"], 3, 2, seed=10)
    (x_first, _), _ = mnist.load_data()
    x_first[:] = 0
    (x_second, _), _ = mnist.load_data()
    assert x_second.any()


def publish_on_mirror(places, n_train=5, n_test=3, seed=11):
    """Put a synthetic dataset's gzip files on the local mirror; return its arrays and the
    sha256 of each gzip file."""
    arrays = write_dataset(places["mirror"], n_train, n_test, seed=seed)
    sums = {name + ".gz": hashlib.sha256((places["mirror"] / (name + ".gz")).read_bytes())
            .hexdigest() for name in FILE_NAMES}
    return arrays, sums


def test_download_verifies_and_caches_files(places, monkeypatch, capsys):
    expected, sums = publish_on_mirror(places)
    monkeypatch.setattr(fashion_mnist, "SPEC", dataclasses.replace(
        fashion_mnist.SPEC, checksums=sums,
        mirrors=((places["mirror"] / "absent").as_uri() + "/", places["mirror"].as_uri() + "/")))
    assert_dataset_equal(fashion_mnist.load_data(), expected)
    cache = places["fashion_cache"]
    assert sorted(os.listdir(cache)) == sorted(name + ".gz" for name in FILE_NAMES)
    for name in FILE_NAMES:
        assert (cache / (name + ".gz")).read_bytes() == \
            (places["mirror"] / (name + ".gz")).read_bytes()
    assert "sha256 verified" in capsys.readouterr().err
    # A second load uses the cache: the mirror may be gone.
    for name in FILE_NAMES:
        os.remove(places["mirror"] / (name + ".gz"))
    assert_dataset_equal(fashion_mnist.load_data(), expected)


def test_download_only_fetches_files_missing_from_cache(places, monkeypatch):
    expected, sums = publish_on_mirror(places)
    places["mnist_cache"].mkdir(parents=True)
    kept = places["mnist_cache"] / "train-images-idx3-ubyte.gz"
    kept.write_bytes((places["mirror"] / "train-images-idx3-ubyte.gz").read_bytes())
    os.remove(places["mirror"] / "train-images-idx3-ubyte.gz")
    monkeypatch.setattr(mnist, "SPEC", dataclasses.replace(mnist.SPEC, checksums=sums))
    assert_dataset_equal(mnist.load_data(), expected)
    assert len(os.listdir(places["mnist_cache"])) == 4


def test_download_sha256_mismatch_raises_and_leaves_no_file(places, monkeypatch):
    _, sums = publish_on_mirror(places)
    sums["train-images-idx3-ubyte.gz"] = "0" * 64
    monkeypatch.setattr(fashion_mnist, "SPEC", dataclasses.replace(fashion_mnist.SPEC,
                                                                   checksums=sums))
    with pytest.raises(DatasetNotFoundError, match=r"sha256 mismatch: expected 0{64}, got"):
        fashion_mnist.load_data()
    assert not places["fashion_cache"].exists()          # nor an empty cache folder


def test_interrupted_download_leaves_no_partial_file(places, monkeypatch):
    _, sums = publish_on_mirror(places)
    monkeypatch.setattr(mnist, "SPEC", dataclasses.replace(mnist.SPEC, checksums=sums))

    def copy_then_fail(url, out, *args):
        out.write(b"\x1f\x8b half a file")
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(_fetch, "_copy_url", copy_then_fail)
    with pytest.raises(DatasetNotFoundError, match="ConnectionResetError: connection reset"):
        mnist.load_data()
    assert not places["mnist_cache"].exists()


def test_fetch_verified_rejects_oversized_download(tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(1000))
    target = tmp_path / "out" / "big.bin"
    target.parent.mkdir()
    with pytest.raises(_fetch.DownloadError, match="more than 100 bytes"):
        _fetch.fetch_verified([source.as_uri()], target,
                              hashlib.sha256(bytes(1000)).hexdigest(),
                              stream=io.StringIO(), max_bytes=100)
    assert os.listdir(target.parent) == []


def test_not_found_error_lists_every_location_and_how_to_get_files(places, monkeypatch):
    places["data"].mkdir()
    monkeypatch.setenv("FASTCNN_DATA", str(places["data"]))
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST dataset not found") as excinfo:
        fashion_mnist.load_data()
    assert isinstance(excinfo.value, DatasetNotFoundError)
    message = str(excinfo.value)
    for place in (places["data"] / "fashion-mnist", places["data"], places["fashion_cache"],
                  places["system"]):
        assert f"  - {place} (" in message
    assert "missing train-images-idx3-ubyte[.gz]" in message
    assert "download into" in message and "URLError" in message
    assert "sudo apt-get install dataset-fashion-mnist" in message
    assert "put them in the folder named by $FASTCNN_DATA" in message


def test_not_found_error_says_when_fastcnn_data_is_unset(places):
    with pytest.raises(DatasetNotFoundError, match=r"\$FASTCNN_DATA: not set") as excinfo:
        mnist.load_data()
    assert str(places["mnist_cache"]) in str(excinfo.value)
    assert f"from {places['mirror'].as_uri()}/" in str(excinfo.value)


@pytest.mark.parametrize("damage, message", [
    ("images_27_wide", r"expected uint8 images of shape \(N, 28, 28\)"),
    ("images_int16", r"holds int16 data of shape \(4, 28, 28\)"),
    ("labels_2d", r"expected uint8 labels of shape \(N,\)"),
    ("labels_count", r"holds 4 images but label file .* holds 3 labels"),
    ("label_out_of_range", r"holds label 10; expected labels 0 to 9"),
])
def test_load_data_rejects_invalid_dataset_files(places, damage, message):
    folder = places["mnist_cache"]
    write_dataset(folder, 4, 2, seed=12)
    images, labels = folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"
    replacement = {
        "images_27_wide": (images, np.zeros((4, 28, 27), np.uint8)),
        "images_int16": (images, np.zeros((4, 28, 28), np.int16)),
        "labels_2d": (labels, np.zeros((4, 1), np.uint8)),
        "labels_count": (labels, np.zeros(3, np.uint8)),
        "label_out_of_range": (labels, np.array([0, 1, 10, 2], np.uint8)),
    }[damage]
    write_file(replacement[0], idx_bytes(replacement[1]), compress=True)
    with pytest.raises(ValueError, match=message) as excinfo:
        mnist.load_data()
    assert str(replacement[0]) in str(excinfo.value)


# ------------------------------------------------------------------------------------------
# ensure_system_fashion_mnist


@pytest.fixture
def apt_calls(monkeypatch):
    """Replace the command runner; the test sets ``results`` to the exit codes/outputs."""
    calls = []
    state = {"results": [], "on_success": None}

    def fake_run(command, stream):
        calls.append(command)
        returncode, output = state["results"].pop(0)
        stream.write(output)
        if returncode == 0 and command[:2] == ["apt-get", "install"] and state["on_success"]:
            state["on_success"]()
        return returncode, output

    monkeypatch.setattr(fashion_mnist, "_run_command", fake_run)
    state["calls"] = calls
    return state


def as_root_with_apt(monkeypatch, root=True, apt=True):
    monkeypatch.setattr(fashion_mnist.os, "geteuid", lambda: 0 if root else 1000)
    monkeypatch.setattr(fashion_mnist.shutil, "which",
                        lambda name: "/usr/bin/apt-get" if apt and name == "apt-get" else None)


def test_ensure_system_returns_true_when_already_present(places, apt_calls):
    write_dataset(places["system"], 2, 2, seed=13)
    out = io.StringIO()
    assert ensure_system_fashion_mnist(stream=out) is True
    assert apt_calls["calls"] == []
    assert f"found in {places['system']}" in out.getvalue()


def test_ensure_system_finds_fastcnn_data_copy(places, apt_calls, monkeypatch):
    write_dataset(places["data"], 2, 2, seed=14)
    monkeypatch.setenv("FASTCNN_DATA", str(places["data"]))
    assert ensure_system_fashion_mnist(install=False, stream=io.StringIO()) is True
    assert apt_calls["calls"] == []


def test_ensure_system_without_install_prints_instructions(places, apt_calls, monkeypatch):
    as_root_with_apt(monkeypatch)
    out = io.StringIO()
    assert ensure_system_fashion_mnist(install=False, stream=out) is False
    assert apt_calls["calls"] == []
    assert "sudo apt-get install dataset-fashion-mnist" in out.getvalue()


@pytest.mark.parametrize("root, apt, reason", [
    (False, True, "not running as root"),
    (True, False, "apt-get was not found"),
])
def test_ensure_system_cannot_install_prints_what_to_do(places, apt_calls, monkeypatch, root,
                                                        apt, reason):
    as_root_with_apt(monkeypatch, root=root, apt=apt)
    out = io.StringIO()
    assert ensure_system_fashion_mnist(stream=out) is False
    assert apt_calls["calls"] == []
    assert reason in out.getvalue()
    assert "put them in the folder named by $FASTCNN_DATA" in out.getvalue()


def test_ensure_system_updates_apt_when_package_unknown_then_installs(places, apt_calls,
                                                                      monkeypatch):
    as_root_with_apt(monkeypatch)
    apt_calls["results"] = [(100, "E: Unable to locate package dataset-fashion-mnist\n"),
                            (0, "Reading package lists...\n"), (0, "Setting up ...\n")]
    apt_calls["on_success"] = lambda: write_dataset(places["system"], 2, 2, seed=15)
    out = io.StringIO()
    assert ensure_system_fashion_mnist(stream=out) is True
    install = ["apt-get", "install", "-y", "dataset-fashion-mnist"]
    assert apt_calls["calls"] == [install, ["apt-get", "update"], install]
    assert "Fashion-MNIST installed in" in out.getvalue()


def test_ensure_system_install_failure_returns_false_without_raising(places, apt_calls,
                                                                     monkeypatch):
    as_root_with_apt(monkeypatch)
    apt_calls["results"] = [(100, "E: Could not get lock /var/lib/dpkg/lock-frontend\n")]
    out = io.StringIO()
    assert ensure_system_fashion_mnist(stream=out) is False
    assert len(apt_calls["calls"]) == 1
    assert "Installing dataset-fashion-mnist failed (exit status 100)" in out.getvalue()


def test_ensure_system_install_succeeds_but_files_absent(places, apt_calls, monkeypatch):
    as_root_with_apt(monkeypatch)
    apt_calls["results"] = [(0, "Setting up ...\n")]
    out = io.StringIO()
    assert ensure_system_fashion_mnist(stream=out) is False
    assert "is installed but the four Fashion-MNIST files are not in" in out.getvalue()


def test_run_command_streams_output_and_survives_missing_program():
    out = io.StringIO()
    returncode, output = fashion_mnist._run_command(
        [sys.executable, "-c", "print('hello from apt'); raise SystemExit(3)"], out)
    assert returncode == 3 and output == "hello from apt\n"
    assert "hello from apt" in out.getvalue()
    returncode, output = fashion_mnist._run_command(["/nonexistent/apt-get", "install"], out)
    assert returncode == 127 and "could not run /nonexistent/apt-get" in output


# ------------------------------------------------------------------------------------------
# The real Fashion-MNIST from Debian's dataset-fashion-mnist package

# sha256 of the decompressed IDX files as published upstream; Debian recompressed the gzip
# files, so only the decompressed content can be compared with upstream.
FASHION_IDX_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


def idx_sha256(array, type_code=0x08):
    header = struct.pack(">HBB", 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return hashlib.sha256(header + array.tobytes()).hexdigest()


@pytest.mark.skipif(os.environ.get("FASTCNN_SKIP_REAL_DATA") == "1",
                    reason="FASTCNN_SKIP_REAL_DATA=1")
def test_real_fashion_mnist_loads_from_debian_system_copy(tmp_path, monkeypatch):
    system_dir = fashion_mnist.SYSTEM_DIR
    assert os.path.isdir(system_dir), (
        f"{system_dir} is missing: run 'apt-get install dataset-fashion-mnist' "
        "(or set FASTCNN_SKIP_REAL_DATA=1)")
    monkeypatch.delenv("FASTCNN_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    # No mirrors: the data must come from the system folder, never from the network.
    monkeypatch.setattr(fashion_mnist, "SPEC", dataclasses.replace(fashion_mnist.SPEC,
                                                                   mirrors=()))
    assert datasets.fashion_mnist.SPEC.system_dirs == (system_dir,)

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()

    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    assert np.bincount(y_train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
    for name, array in zip(FASHION_IDX_SHA256, (x_train, y_train, x_test, y_test)):
        assert idx_sha256(array) == FASHION_IDX_SHA256[name], name
