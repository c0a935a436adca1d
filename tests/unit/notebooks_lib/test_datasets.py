from __future__ import annotations

import gzip
import importlib.util
import shutil
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from aiml_notebooks import datasets
from aiml_notebooks.datasets import (
    DatasetUnavailable,
    data_dir,
    load_cifar10,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_mnist_5k,
    load_text,
    read_idx,
)

IDX_TYPE = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D, "float64": 0x0E}


def write_idx(path: Path, array: np.ndarray, *, compress: bool = False) -> Path:
    """Write array as a real IDX file: 0, 0, type byte, ndim, big-endian uint32 sizes, big-endian data."""
    header = bytes([0, 0, IDX_TYPE[array.dtype.name], array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def write_mnist(folder: Path, prefix: str, n: int, *, compress: bool, dotted: bool = False) -> np.ndarray:
    """Write n 28x28 images whose pixels all equal their index, labels i % 10; return the images."""
    folder.mkdir(parents=True, exist_ok=True)
    images = np.repeat(np.arange(n, dtype=np.uint8), 28 * 28).reshape(n, 28, 28)
    sep = "." if dotted else "-"
    gz = ".gz" if compress else ""
    write_idx(folder / f"{prefix}-images{sep}idx3-ubyte{gz}", images, compress=compress)
    write_idx(
        folder / f"{prefix}-labels{sep}idx1-ubyte{gz}", np.arange(n, dtype=np.uint8) % 10, compress=compress
    )
    return images


def write_cifar(path: Path, labels: list[int], *, compress: bool = False) -> None:
    """CIFAR-10 binary records: a label byte, then red, green, blue 32x32 planes.

    Image i has red[h, w] = (h * 32 + w) % 256, green = 100 + i and blue = 200.
    """
    red = (np.arange(32 * 32) % 256).astype(np.uint8)
    records = [
        bytes([label]) + red.tobytes() + bytes([100 + i]) * 1024 + bytes([200]) * 1024
        for i, label in enumerate(labels)
    ]
    raw = b"".join(records)
    path.write_bytes(gzip.compress(raw) if compress else raw)


# ------------------------------------------------------------------------------------- data_dir


def test_data_dir_follows_env_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Is AIML_DATA_DIR used when set, and ~/.cache/aiml-course/data otherwise?"""
    monkeypatch.setenv("AIML_DATA_DIR", str(tmp_path / "mine"))
    assert data_dir() == tmp_path / "mine"
    monkeypatch.delenv("AIML_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_dir() == tmp_path / ".cache" / "aiml-course" / "data"


# -------------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_read_idx_roundtrips_every_idx_type(tmp_path: Path, dtype: str, compress: bool) -> None:
    """Does read_idx return the same values, shape and (native-endian, writable) dtype that were written?"""
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == "uint8":
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    loaded = read_idx(write_idx(tmp_path / "x.idx", array, compress=compress))
    assert loaded.dtype == np.dtype(dtype)
    assert loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)
    loaded[0, 0, 0] = 1  # students may edit what they load


def test_read_idx_handles_one_dimension(tmp_path: Path) -> None:
    """Is a 1-D label file read with its length from the header?"""
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "y", labels, compress=True)), labels)


def test_read_idx_rejects_broken_files(tmp_path: Path) -> None:
    """Are a wrong magic number, an unknown type byte and a truncated body all refused?"""
    good = tmp_path / "good"
    write_idx(good, np.zeros((2, 2), dtype=np.uint8))
    raw = good.read_bytes()
    cases = {"magic": b"\x01" + raw[1:], "type": raw[:2] + b"\x42" + raw[3:], "short": raw[:-1]}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "magic")
    with pytest.raises(ValueError, match="0x42"):
        read_idx(tmp_path / "type")
    with pytest.raises(ValueError, match="header says shape"):
        read_idx(tmp_path / "short")


@pytest.mark.parametrize(("compress", "dotted"), [(True, False), (False, False), (False, True)])
def test_load_mnist_reads_standard_file_names(tmp_path: Path, compress: bool, dotted: bool) -> None:
    """Does load_mnist find train/t10k images and labels (gz, raw, dotted names) and pair them up?"""
    train = write_mnist(tmp_path, "train", 12, compress=compress, dotted=dotted)
    write_mnist(tmp_path, "t10k", 5, compress=compress, dotted=dotted)
    x, y = load_mnist(tmp_path, "train")
    assert x.shape == (12, 28, 28)
    assert x.dtype == np.uint8
    assert y.dtype == np.int64
    np.testing.assert_array_equal(x, train)
    np.testing.assert_array_equal(y, np.arange(12) % 10)
    x_test, y_test = load_mnist(tmp_path, split="test")
    assert x_test.shape == (5, 28, 28)
    assert y_test.tolist() == [0, 1, 2, 3, 4]


def test_load_mnist_errors(tmp_path: Path) -> None:
    """Are missing files, a bad split and images/labels of different lengths reported?"""
    with pytest.raises(DatasetUnavailable, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "validation")
    write_mnist(tmp_path, "train", 4, compress=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        load_mnist(tmp_path, "train")


def test_fashion_mnist_from_a_given_directory(tmp_path: Path) -> None:
    """Does load_fashion_mnist(directory=...) read IDX files from that folder?"""
    write_mnist(tmp_path, "t10k", 7, compress=True)
    x, y = load_fashion_mnist(tmp_path, split="test")
    assert x.shape == (7, 28, 28)
    assert len(y) == 7


def test_fashion_mnist_falls_back_to_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the Debian package, are files copied into <data_dir>/fashion-mnist used?"""
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path / "not-installed")  # as on a machine without it
    monkeypatch.setenv("AIML_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetUnavailable, match="apt-get install dataset-fashion-mnist") as info:
        load_fashion_mnist()
    assert isinstance(info.value, FileNotFoundError)
    write_mnist(tmp_path / "fashion-mnist", "train", 3, compress=True)
    assert load_fashion_mnist()[0].shape == (3, 28, 28)


@pytest.mark.skipif(
    not datasets.FASHION_MNIST_DIR.is_dir(),
    reason="Fashion-MNIST not installed: apt-get install dataset-fashion-mnist",
)
def test_real_fashion_mnist() -> None:
    """Does the Debian copy load as 60,000 + 10,000 images with 10 balanced classes?"""
    x, y = load_fashion_mnist()
    assert x.shape == (60000, 28, 28)
    assert x.dtype == np.uint8
    assert np.bincount(y).tolist() == [6000] * 10
    x_test, y_test = load_fashion_mnist(split="test")
    assert x_test.shape == (10000, 28, 28)
    assert np.bincount(y_test).tolist() == [1000] * 10


# ------------------------------------------------------------------------------------- CIFAR-10


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_cifar10_records_become_hwc_images(tmp_path: Path, compress: bool) -> None:
    """Are CIFAR records split into label and an (N, 32, 32, 3) image with channels last?"""
    suffix = ".bin.gz" if compress else ".bin"
    for i in range(1, 6):
        write_cifar(tmp_path / f"data_batch_{i}{suffix}", [i, 9 - i], compress=compress)
    write_cifar(tmp_path / f"test_batch{suffix}", [7], compress=compress)
    x, y = load_cifar10(tmp_path, "train")
    assert x.shape == (10, 32, 32, 3)
    assert x.dtype == np.uint8
    assert x.flags.c_contiguous
    assert y.dtype == np.int64
    assert y.tolist() == [1, 8, 2, 7, 3, 6, 4, 5, 5, 4]
    expected_red = (np.arange(32 * 32) % 256).reshape(32, 32)
    np.testing.assert_array_equal(x[3, :, :, 0], expected_red)  # row-major planes: [h, w] = h * 32 + w
    assert (x[3, :, :, 1] == 101).all()
    assert (x[3, :, :, 2] == 200).all()
    x_test, y_test = load_cifar10(tmp_path, split="test")
    assert x_test.shape == (1, 32, 32, 3)
    assert y_test.tolist() == [7]


def test_cifar10_accepts_the_unpacked_archive_parent(tmp_path: Path) -> None:
    """Can the folder containing cifar-10-batches-bin be given instead of the folder itself?"""
    inner = tmp_path / "cifar-10-batches-bin"
    inner.mkdir()
    write_cifar(inner / "test_batch.bin", [3, 2])
    assert load_cifar10(tmp_path, "test")[1].tolist() == [3, 2]


def test_cifar10_errors(tmp_path: Path) -> None:
    """Are missing batches and a truncated record reported with what to do?"""
    with pytest.raises(DatasetUnavailable, match=r"cifar-10-binary\.tar\.gz"):
        load_cifar10(tmp_path, "test")
    write_cifar(tmp_path / "test_batch.bin", [1])
    with pytest.raises(DatasetUnavailable, match=r"data_batch_1\.bin"):
        load_cifar10(tmp_path, "train")
    (tmp_path / "test_batch.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(ValueError, match="3073-byte records"):
        load_cifar10(tmp_path, "test")


# ----------------------------------------------------------------------------- bundled images


def test_digits_are_scaled_8x8_images() -> None:
    """Are sklearn's digits returned as (1797, 8, 8) float32 in [0, 1] with int64 labels 0-9?"""
    from sklearn.datasets import load_digits as sklearn_digits

    x, y = load_digits()
    assert x.shape == (1797, 8, 8)
    assert x.dtype == np.float32
    assert x.min() == 0.0
    assert x.max() == 1.0
    assert y.dtype == np.int64
    assert set(y.tolist()) == set(range(10))
    np.testing.assert_allclose(x * 16, sklearn_digits().images)


def test_mnist_5k_is_shuffled_deterministically() -> None:
    """Is MNIST-5k (5000, 28, 28) uint8 with 500 per digit, shuffled, the same on every call, and seedable?"""
    x, y = load_mnist_5k()
    assert x.shape == (5000, 28, 28)
    assert x.dtype == np.uint8
    assert y.dtype == np.int64
    assert np.bincount(y).tolist() == [500] * 10
    assert len(set(y[:50].tolist())) > 5  # the file is sorted by label; the loader must shuffle
    assert 0 < x.mean() < 255
    assert x.max() == 255
    x_again, y_again = load_mnist_5k()
    np.testing.assert_array_equal(y, y_again)
    np.testing.assert_array_equal(x, x_again)
    _, y_other = load_mnist_5k(seed=1)
    assert not np.array_equal(y, y_other)
    assert np.bincount(y_other).tolist() == [500] * 10


# ------------------------------------------------------------------------------------------ text


def test_python_stdlib_corpus_without_tests() -> None:
    """Is the stdlib corpus real source, in a fixed order, without test suites, and cut by max_chars?"""
    text = load_text("python-stdlib")
    root = Path(sysconfig.get_paths()["stdlib"])
    assert (root / "json" / "decoder.py").read_text(encoding="utf-8") in text
    test_file = next((root / "test").glob("test_*.py"), None) if (root / "test").is_dir() else None
    if test_file is not None:
        assert test_file.read_text(encoding="utf-8", errors="replace") not in text
    assert len(text) > 1_000_000
    head = load_text("python-stdlib", max_chars=5000)
    assert len(head) == 5000
    assert text.startswith(head)


def test_unknown_corpus_and_bad_max_chars() -> None:
    """Are an unknown corpus name (listing the valid ones) and a negative max_chars refused?"""
    with pytest.raises(ValueError, match="austen, kjv, python-stdlib"):
        load_text("shakespeare")
    with pytest.raises(ValueError, match="max_chars"):
        load_text("python-stdlib", max_chars=-1)


def test_austen_says_which_package_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without janeaustenr, is the apt package named; with its files but no rdata, the pip package?"""
    if datasets.AUSTEN_RDATA.with_suffix(".rdb").is_file():
        pytest.skip("r-cran-janeaustenr is installed")
    monkeypatch.setenv("AIML_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetUnavailable, match="apt-get install r-cran-janeaustenr"):
        load_text("austen")
    if importlib.util.find_spec("rdata") is not None:
        return  # the rdata message cannot occur here
    copy = tmp_path / "janeaustenr" / "data"
    copy.mkdir(parents=True)
    (copy / "Rdata.rdb").write_bytes(b"")
    (copy / "Rdata.rdx").write_bytes(b"")
    with pytest.raises(DatasetUnavailable, match="pip install rdata"):
        load_text("austen")


@pytest.mark.skipif(
    not datasets.AUSTEN_RDATA.with_suffix(".rdb").is_file() or importlib.util.find_spec("rdata") is None,
    reason="needs Debian r-cran-janeaustenr and pip rdata",
)
def test_real_austen() -> None:
    """Do the six novels load in publication order, with the sizes and the 81-character vocabulary Part 9 uses?"""
    text = load_text("austen")
    books = datasets._load_rdb(datasets.AUSTEN_RDATA)
    sizes = {
        name: len("\n".join("" if line is None else str(line) for line in books[name])) for name in books
    }
    assert sizes == {
        "sensesensibility": 673_687, "prideprejudice": 684_767, "mansfieldpark": 883_278,
        "emma": 883_027, "northangerabbey": 433_410, "persuasion": 466_853,
    }  # fmt: skip
    assert sum(sizes.values()) == 4_025_022
    assert len(text) == 4_025_022 + 5  # the six books joined by newlines
    assert len(set(text)) == 81
    assert text.startswith("SENSE AND SENSIBILITY")
    assert "It is a truth universally acknowledged" in text
    assert load_text("austen", max_chars=1000) == text[:1000]


def test_kjv_names_the_packages_when_missing() -> None:
    """Without the bible program, does load_text('kjv') name the Debian packages to install?"""
    if shutil.which("bible") and datasets.KJV_DATA.exists():
        pytest.skip("bible-kjv is installed")
    with pytest.raises(DatasetUnavailable, match="apt-get install bible-kjv bible-kjv-text"):
        load_text("kjv")


@pytest.mark.skipif(
    not (shutil.which("bible") and datasets.KJV_DATA.exists()), reason="needs Debian bible-kjv"
)
def test_real_kjv() -> None:
    """Does the Bible start at Genesis 1:1 with the verse reference stripped?"""
    text = load_text("kjv", max_chars=200)
    assert text.startswith("In the beginning God created the heaven and the earth.")
