"""Seeds, determinism, thread count and device choice for reproducible notebooks."""

from __future__ import annotations

import importlib.util
import os
import random
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["get_device", "set_seed"]

NUM_THREADS_ENV = "AIML_NUM_THREADS"
_MAX_SEED = 2**32 - 1  # numpy's legacy global RNG accepts seeds in [0, 2**32 - 1]


def set_seed(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and (if installed) PyTorch, and switch deterministic algorithms on or off."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be between 0 and 2**32 - 1, got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    # Only subprocesses see this: the running interpreter fixed its hash seed at start-up.
    os.environ["PYTHONHASHSEED"] = str(seed)
    # Imports torch (a second or two) even if the notebook hasn't yet: it usually does so later.
    if importlib.util.find_spec("torch") is not None:
        _seed_torch(seed, deterministic=deterministic)


def _seed_torch(seed: int, *, deterministic: bool) -> None:
    """Seed every torch generator and apply the determinism and thread settings."""
    import torch

    if deterministic:
        # cuBLAS reads this when its first handle is created; harmless on CPU-only machines.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)  # also seeds CUDA and MPS generators
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    # warn_only: an op without a deterministic kernel warns instead of stopping the notebook.
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        torch.backends.cudnn.benchmark = False  # autotuning may pick a different kernel each run
    _apply_thread_setting()


def _apply_thread_setting() -> None:
    """Set torch's intra-op thread count from AIML_NUM_THREADS (CI sets 1 when notebooks share cores)."""
    import torch

    value = os.environ.get(NUM_THREADS_ENV, "").strip()
    if not value:
        return
    try:
        threads = int(value)
    except ValueError:
        raise ValueError(f"{NUM_THREADS_ENV} must be a positive integer, got {value!r}") from None
    if threads < 1:
        raise ValueError(f"{NUM_THREADS_ENV} must be a positive integer, got {value!r}")
    torch.set_num_threads(threads)


def get_device(prefer_cpu: bool = False) -> torch.device:
    """Pick CUDA, then Apple's MPS, then the CPU; prefer_cpu=True always gives the CPU."""
    import torch

    if not prefer_cpu and torch.cuda.is_available():
        return torch.device("cuda")
    if not prefer_cpu and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
