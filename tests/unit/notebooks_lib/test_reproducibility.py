from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from aiml_notebooks.reproducibility import get_device, set_seed


@pytest.fixture(autouse=True)
def restore_torch_globals(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """set_seed changes process-wide torch settings and env vars: put them back after each test."""
    for name in ("PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG", "AIML_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    threads = torch.get_num_threads()
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
    torch.set_num_threads(threads)


def draw() -> tuple[float, np.ndarray, torch.Tensor]:
    return random.random(), np.random.rand(3), torch.randn(3)


def test_same_seed_gives_same_numbers() -> None:
    """Does reseeding replay Python, NumPy and torch random numbers exactly?"""
    set_seed(123)
    first = draw()
    set_seed(123)
    second = draw()
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])
    assert torch.equal(first[2], second[2])


def test_different_seeds_give_different_numbers() -> None:
    """Is the seed actually used, rather than some fixed state?"""
    set_seed(1)
    a = draw()
    set_seed(2)
    b = draw()
    assert a[0] != b[0]
    assert not np.array_equal(a[1], b[1])
    assert not torch.equal(a[2], b[2])


def test_deterministic_switches_torch_flags_on_and_off() -> None:
    """Does deterministic=True enable warn-only deterministic algorithms and cuDNN flags, and False undo it?"""
    set_seed(0)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.deterministic
    assert not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    set_seed(0, deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()
    assert not torch.backends.cudnn.deterministic


def test_python_hash_seed_reaches_subprocesses() -> None:
    """Do two child interpreters hash a string identically after set_seed (they differ otherwise)?"""
    set_seed(7)
    assert os.environ["PYTHONHASHSEED"] == "7"
    command = [sys.executable, "-c", "print(hash('reproducible'))"]
    runs = {subprocess.run(command, capture_output=True, text=True, check=True).stdout for _ in range(2)}
    assert len(runs) == 1


def test_num_threads_env_sets_torch_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Does AIML_NUM_THREADS=1 make set_seed limit torch to one intra-op thread?"""
    torch.set_num_threads(2)
    monkeypatch.setenv("AIML_NUM_THREADS", "1")
    set_seed(0)
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("value", ["zero", "0", "-3"])
def test_bad_num_threads_env_is_rejected(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """Is a malformed AIML_NUM_THREADS reported with its name instead of silently ignored?"""
    monkeypatch.setenv("AIML_NUM_THREADS", value)
    with pytest.raises(ValueError, match="AIML_NUM_THREADS"):
        set_seed(0)


@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), (2**32, ValueError), (1.5, TypeError)])
def test_invalid_seeds_are_rejected(seed: object, error: type[Exception]) -> None:
    """Are seeds NumPy cannot use refused up front with a clear error?"""
    with pytest.raises(error, match="seed"):
        set_seed(seed)  # type: ignore[arg-type]


def test_prefer_cpu_always_gives_cpu() -> None:
    """Does prefer_cpu=True pick the CPU even when an accelerator exists?"""
    assert get_device(prefer_cpu=True) == torch.device("cpu")


def test_default_device_follows_availability() -> None:
    """Does get_device pick CUDA, then MPS, then CPU, and can tensors live there?"""
    if torch.cuda.is_available():
        expected = "cuda"
    elif torch.backends.mps.is_available():
        expected = "mps"
    else:
        expected = "cpu"
    device = get_device()
    assert device.type == expected
    assert torch.ones(2, device=device).sum().item() == 2.0
