"""fastcnn.datasets.cifar10 on archives the tests write: record layout to NHWC, the search order,
the verified download, and the archives it refuses (wrong checksum, truncated, members that are
links or devices or whose paths leave the folder), without extracting or unpickling anything.

Most tests shrink the batch files to ``cifar10.RECORDS_PER_BATCH = 3`` records; one writes an
archive of the real size (60,000 records)."""
import dataclasses
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
import urllib.error

import numpy as np
import pytest

from fastcnn.datasets import DatasetNotFoundError, _fetch, cifar10

FOLDER = "cifar-10-batches-bin"
MEMBERS = cifar10.TRAIN_MEMBERS + cifar10.TEST_MEMBERS
RECORD = 3073
SMALL = 3                     # records per batch file in the small archives


def random_batches(records=SMALL, seed=0):
    """Member name -> (records, 3073) uint8 records: a label 0-9, then random pixel bytes."""
    rng = np.random.default_rng(seed)
    batches = {}
    for name in MEMBERS:
        data = rng.integers(0, 256, (records, RECORD), dtype=np.uint8)
        data[:, 0] %= 10
        batches[name] = data
    return batches


def regular(name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, io.BytesIO(data)


def special(name, kind, target=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def write_archive(path, batches, extra=(), first=(), mode="w:gz", **options):
    """A CIFAR-10-style tar.gz at ``path``: the folder entry, ``first`` members, the batch
    files (in the order of ``batches``), the README-like files the real one has, ``extra``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = tarfile.TarInfo(FOLDER)
    folder.type = tarfile.DIRTYPE
    members = [(folder, None), *first]
    members += [regular(name, data.tobytes()) for name, data in batches.items()]
    members += [regular(f"{FOLDER}/batches.meta.txt", b"airplane\nautomobile\n"),
                regular(f"{FOLDER}/readme.html", b"<html></html>"), *extra]
    with tarfile.open(path, mode, **options) as archive:
        for info, data in members:
            archive.addfile(info, data)
    return path


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def trust(monkeypatch, path):
    """Make ``path``'s md5 the one load_data expects (the official one is not ours)."""
    monkeypatch.setattr(cifar10, "SPEC", dataclasses.replace(
        cifar10.SPEC, checksums={cifar10.ARCHIVE: md5(path)}))


def expected_arrays(batches):
    """The NHWC arrays the records encode, decoded independently of the loader."""
    def split(names):
        records = np.concatenate([batches[name] for name in names])
        planes = records[:, 1:].reshape(-1, 3, 1024)            # R, G, B planes
        return planes.transpose(0, 2, 1).reshape(-1, 32, 32, 3), records[:, :1]
    return split(cifar10.TRAIN_MEMBERS), split(cifar10.TEST_MEMBERS)


@pytest.fixture
def world(tmp_path, monkeypatch):
    """$HOME in tmp_path, no $FASTCNN_DATA, small batches, a local mirror, and no network:
    an http(s) download fails at once as it does offline."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("FASTCNN_DATA", raising=False)
    monkeypatch.setattr(cifar10, "RECORDS_PER_BATCH", SMALL)
    real_copy = _fetch._copy_url

    def offline(url, *args):
        if not url.startswith("file:"):
            raise urllib.error.URLError("network unreachable (tests are offline)")
        return real_copy(url, *args)

    monkeypatch.setattr(_fetch, "_copy_url", offline)
    return dict(data=tmp_path / "data", cache=home / ".fastcnn" / "datasets" / "cifar10",
                mirror=tmp_path / "mirror", tmp=tmp_path)


# ---- reading a good archive -----------------------------------------------------------------


def test_records_land_in_nhwc_rgb_order(world, monkeypatch):
    batches = random_batches()
    # the batch files in reverse order in the archive: each still lands by its number
    path = write_archive(world["cache"] / cifar10.ARCHIVE, dict(reversed(batches.items())))
    trust(monkeypatch, path)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (5 * SMALL, 32, 32, 3) and y_train.shape == (5 * SMALL, 1)
    assert x_test.shape == (SMALL, 32, 32, 3) and y_test.shape == (SMALL, 1)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8 and array.flags.c_contiguous and array.flags.writeable
    # By hand from the record layout: label byte, then 1024 R, 1024 G, 1024 B, row-major.
    batch2 = batches[f"{FOLDER}/data_batch_2.bin"]
    record = batch2[1]                                   # image SMALL + 1 of the training set
    assert y_train[SMALL + 1, 0] == record[0]
    assert x_train[SMALL + 1, 0, 0, 0] == record[1]                      # R of pixel (0, 0)
    assert x_train[SMALL + 1, 0, 0, 1] == record[1 + 1024]               # G of pixel (0, 0)
    assert x_train[SMALL + 1, 0, 0, 2] == record[1 + 2048]               # B of pixel (0, 0)
    assert x_train[SMALL + 1, 0, 1, 0] == record[1 + 1]                  # R of pixel (0, 1)
    assert x_train[SMALL + 1, 1, 0, 0] == record[1 + 32]                 # R of pixel (1, 0)
    assert x_train[SMALL + 1, 5, 7, 1] == record[1 + 1024 + 5 * 32 + 7]  # G of pixel (5, 7)
    assert x_train[SMALL + 1, 31, 31, 2] == record[3072]                 # B of pixel (31, 31)
    test_record = batches[f"{FOLDER}/test_batch.bin"][2]
    assert y_test[2, 0] == test_record[0]
    assert x_test[2, 17, 3, 2] == test_record[1 + 2048 + 17 * 32 + 3]
    (want_x, want_y), (want_xt, want_yt) = expected_arrays(batches)
    np.testing.assert_array_equal(x_train, want_x)
    np.testing.assert_array_equal(y_train, want_y)
    np.testing.assert_array_equal(x_test, want_xt)
    np.testing.assert_array_equal(y_test, want_yt)


def test_full_size_archive_gives_keras_shapes(tmp_path, monkeypatch):
    # 60,000 records of the real size: one periodic pattern (fast to write and to gzip) whose
    # labels differ from batch to batch, so that a batch out of place would show.
    records = np.resize(np.arange(251, dtype=np.uint8), (10000, RECORD))
    path = tmp_path / cifar10.ARCHIVE
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for k, name in enumerate(MEMBERS):
            records[:, 0] = (np.arange(10000) + k) % 10
            archive.addfile(*regular(name, records.tobytes()))
    monkeypatch.setenv("FASTCNN_DATA", str(tmp_path))
    trust(monkeypatch, path)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (50000, 32, 32, 3) and y_train.shape == (50000, 1)
    assert x_test.shape == (10000, 32, 32, 3) and y_test.shape == (10000, 1)
    for index in (0, 9999, 10000, 37123, 49999):
        batch, row = divmod(index, 10000)
        assert y_train[index, 0] == (row + batch) % 10
        np.testing.assert_array_equal(x_train[index], records[row, 1:].reshape(3, 32, 32)
                                      .transpose(1, 2, 0))
    np.testing.assert_array_equal(y_test[:, 0], (np.arange(10000) + 5) % 10)
    np.testing.assert_array_equal(x_test[1234], x_train[1234])


def test_archive_is_read_without_extracting_or_unpickling(world, monkeypatch):
    """A pickle in the archive stays unread; nothing is written; no code runs (audit hook)."""
    marker = world["tmp"] / "unpickled"
    payload = pickle.dumps(_Marker(str(marker)))
    path = write_archive(world["data"] / cifar10.ARCHIVE, random_batches(),
                         extra=[regular(f"{FOLDER}/data_batch_1", payload)])
    script = f"""
import dataclasses, os, sys
from fastcnn.datasets import cifar10
cifar10.RECORDS_PER_BATCH = {SMALL}
cifar10.SPEC = dataclasses.replace(cifar10.SPEC, checksums={{cifar10.ARCHIVE: {md5(path)!r}}})
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
events = []
WATCHED = {{"pickle.find_class", "exec", "os.system", "subprocess.Popen", "os.exec",
           "os.posix_spawn", "os.fork", "ctypes.dlopen", "os.mkdir", "os.rename",
           "os.symlink", "os.link", "os.chmod", "shutil.unpack_archive"}}
def hook(event, args):
    if event in WATCHED or (event == "open" and (args[2] & WRITE
                                                 or (args[1] or "r").strip("rbt") != "")):
        events.append((event, str(args[0])))
sys.addaudithook(hook)
(x, y), _ = cifar10.load_data()
print(x.shape, events)
"""
    env = dict(os.environ, FASTCNN_DATA=str(world["data"]), PYTHONDONTWRITEBYTECODE="1")
    package = os.path.dirname(os.path.dirname(os.path.abspath(cifar10.__file__)))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=os.path.dirname(package), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"({5 * SMALL}, 32, 32, 3) []"
    assert not marker.exists()
    assert sorted(os.listdir(world["data"])) == [cifar10.ARCHIVE]


class _Marker:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# ---- where load_data looks ------------------------------------------------------------------


def test_search_order_fastcnn_data_subfolder_then_top_then_cache_then_download(world,
                                                                               monkeypatch):
    batches = random_batches()
    official = write_archive(world["mirror"] / cifar10.ARCHIVE, batches)
    trust(monkeypatch, official)
    monkeypatch.setattr(cifar10, "SPEC", dataclasses.replace(
        cifar10.SPEC, mirrors=(world["mirror"].as_uri() + "/",)))
    places = [world["data"] / "cifar10", world["data"], world["cache"]]
    for folder in places:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / cifar10.ARCHIVE).write_bytes(official.read_bytes())
    read = []
    real_read = cifar10._read_archive

    def spy(path):
        read.append(os.path.dirname(path))
        return real_read(path)

    monkeypatch.setattr(cifar10, "_read_archive", spy)
    monkeypatch.setenv("FASTCNN_DATA", str(world["data"]))
    expected = expected_arrays(batches)
    for folder in places:
        result = cifar10.load_data()
        np.testing.assert_array_equal(result[0][0], expected[0][0])
        os.remove(folder / cifar10.ARCHIVE)
    # nothing left anywhere: downloaded into the cache from the (local) mirror, then read there
    result = cifar10.load_data()
    np.testing.assert_array_equal(result[1][0], expected[1][0])
    assert read == [str(folder) for folder in places] + [str(world["cache"])]
    assert (world["cache"] / cifar10.ARCHIVE).read_bytes() == official.read_bytes()


def test_a_bad_file_found_first_is_refused_not_skipped(world, monkeypatch):
    good = write_archive(world["cache"] / cifar10.ARCHIVE, random_batches())
    trust(monkeypatch, good)
    (world["data"]).mkdir()
    bad = world["data"] / cifar10.ARCHIVE
    bad.write_bytes(good.read_bytes()[:-100])
    monkeypatch.setenv("FASTCNN_DATA", str(world["data"]))
    with pytest.raises(ValueError, match="not the official CIFAR-10 binary archive") as excinfo:
        cifar10.load_data()
    assert repr(str(bad)) in str(excinfo.value)


def test_download_checks_the_md5_and_keeps_nothing_on_mismatch(world, monkeypatch, capsys):
    path = write_archive(world["mirror"] / cifar10.ARCHIVE, random_batches())
    monkeypatch.setattr(cifar10, "SPEC", dataclasses.replace(
        cifar10.SPEC, mirrors=(world["mirror"].as_uri() + "/",)))
    with pytest.raises(DatasetNotFoundError,
                       match=f"md5 mismatch: expected {cifar10.MD5}, got {md5(path)}"):
        cifar10.load_data()
    assert not world["cache"].exists()
    trust(monkeypatch, path)
    (x_train, _), _ = cifar10.load_data()
    assert x_train.shape == (5 * SMALL, 32, 32, 3)
    assert os.listdir(world["cache"]) == [cifar10.ARCHIVE]
    assert "md5 verified" in capsys.readouterr().err


@pytest.mark.parametrize("fastcnn_data", [False, True], ids=["unset", "set"])
def test_offline_error_says_where_it_looked_and_how_to_get_the_file(world, monkeypatch,
                                                                    fastcnn_data):
    if fastcnn_data:
        world["data"].mkdir()
        monkeypatch.setenv("FASTCNN_DATA", str(world["data"]))
    with pytest.raises(DatasetNotFoundError, match="CIFAR-10 dataset not found") as excinfo:
        cifar10.load_data()
    assert isinstance(excinfo.value, FileNotFoundError)
    message = str(excinfo.value)
    if fastcnn_data:
        assert f"  - {world['data'] / 'cifar10'} ($FASTCNN_DATA/cifar10): no such folder" \
            in message
        assert f"  - {world['data']} ($FASTCNN_DATA): missing cifar-10-binary.tar.gz" in message
    else:
        assert "  - $FASTCNN_DATA: not set" in message
    assert f"  - {world['cache']} (user cache): no such folder" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz: URLError" in message
    assert "from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz\n" in message
    assert f"md5 {cifar10.MD5}" in message
    assert ("put it in the folder named by $FASTCNN_DATA (directly or in "
            f"$FASTCNN_DATA/cifar10/) or in {world['cache']}/") in message
    assert not world["cache"].exists()


# ---- archives that are refused --------------------------------------------------------------


def refused(path, match):
    """load_data's ValueError for the archive at ``path``, which must name it."""
    with pytest.raises(ValueError, match=match) as excinfo:
        cifar10.load_data()
    assert not isinstance(excinfo.value, DatasetNotFoundError)
    assert repr(str(path)) in str(excinfo.value)
    return str(excinfo.value)


def test_wrong_checksum_is_refused_naming_file_and_url(world):
    path = write_archive(world["cache"] / cifar10.ARCHIVE, random_batches())
    message = refused(path, f"its md5 is {md5(path)}, expected {cifar10.MD5}")
    assert f"download {cifar10.URL} again" in message


@pytest.mark.parametrize("keep", [0.3, 0.7, 0.95])
def test_truncated_archive_is_refused(world, monkeypatch, keep):
    path = write_archive(world["cache"] / cifar10.ARCHIVE, random_batches(records=40))
    monkeypatch.setattr(cifar10, "RECORDS_PER_BATCH", 40)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    trust(monkeypatch, path)              # even with a matching checksum
    refused(path, "truncated or corrupt tar.gz archive")


def test_plain_tar_is_refused(world, monkeypatch):
    path = write_archive(world["cache"] / cifar10.ARCHIVE, random_batches(), mode="w")
    trust(monkeypatch, path)
    refused(path, "truncated or corrupt tar.gz archive")


@pytest.mark.parametrize("name", ["../evil.bin", f"{FOLDER}/../../evil.bin", "/tmp/evil.bin",
                                  f"/{FOLDER}/data_batch_1.bin", "..", "C:evil.bin"])
def test_member_path_leaving_the_folder_is_refused(world, monkeypatch, name):
    path = write_archive(world["cache"] / cifar10.ARCHIVE, random_batches(),
                         extra=[regular(name, b"x" * 10)])
    trust(monkeypatch, path)
    message = refused(path, "has a path that leaves the archive's folder")
    assert repr(name) in message


@pytest.mark.parametrize("kind, target, word", [
    (tarfile.SYMTYPE, "/etc/passwd", "a symbolic link"),
    (tarfile.SYMTYPE, "data_batch_2.bin", "a symbolic link"),
    (tarfile.LNKTYPE, f"{FOLDER}/data_batch_2.bin", "a hard link"),
    (tarfile.CHRTYPE, "", "a device"),
    (tarfile.BLKTYPE, "", "a device"),
    (tarfile.FIFOTYPE, "", "a FIFO"),
])
@pytest.mark.parametrize("name", [f"{FOLDER}/data_batch_1.bin", f"{FOLDER}/other"])
def test_links_and_devices_are_refused(world, monkeypatch, kind, target, word, name):
    batches = random_batches()
    if name in batches:                    # the link takes the batch file's place
        del batches[name]
    path = write_archive(world["cache"] / cifar10.ARCHIVE, batches,
                         first=[special(name, kind, target)])
    trust(monkeypatch, path)
    message = refused(path, f"member '{name}' is {word}, not a regular file")
    assert "refusing the archive" in message


@pytest.mark.parametrize("damage, match", [
    ("short_member", r"member 'cifar-10-batches-bin/data_batch_3.bin' is 9218 bytes; "
                     r"expected 9219 \(3 records of 3073 bytes\)"),
    ("long_member", r"data_batch_3.bin' is 9220 bytes; expected 9219"),
    ("missing_member", r"has no 'cifar-10-batches-bin/test_batch.bin'"),
    ("repeated_member", r"member 'cifar-10-batches-bin/data_batch_3.bin' appears twice"),
    ("label_10", r"data_batch_3.bin' holds label 10 in record 2; expected labels 0 to 9"),
])
def test_batch_files_of_the_wrong_shape_or_content_are_refused(world, monkeypatch, damage,
                                                               match):
    batches = random_batches()
    name = f"{FOLDER}/data_batch_3.bin"
    extra = []
    if damage == "short_member":
        batches[name] = batches[name].reshape(-1)[:-1]
    elif damage == "long_member":
        batches[name] = np.append(batches[name].reshape(-1), np.uint8(0))
    elif damage == "missing_member":
        del batches[f"{FOLDER}/test_batch.bin"]
    elif damage == "repeated_member":
        extra = [regular(name, batches[name].tobytes())]
    else:
        batches[name][2, 0] = 10
    path = write_archive(world["cache"] / cifar10.ARCHIVE, batches, extra=extra)
    trust(monkeypatch, path)
    refused(path, match)


def test_files_next_to_the_archive_or_under_other_names_are_not_used(world, monkeypatch):
    """Only cifar-10-binary.tar.gz counts: an extracted folder or the pickled Python version
    next to it is never read."""
    world["cache"].mkdir(parents=True)
    (world["cache"] / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b not read")
    (world["cache"] / FOLDER).mkdir()
    with pytest.raises(DatasetNotFoundError, match="missing cifar-10-binary.tar.gz"):
        cifar10.load_data()
