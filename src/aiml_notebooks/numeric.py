"""Numeric checks for exercises: gradient checks, thresholds, accuracy, shapes, monotone losses.

Pure functions on numbers and arrays, used by authors in test cases (inside the sandbox) and in `# JUDGE`
functions (in the grader). Conventions follow CS231n and PyTorch's gradcheck: float64, centred differences,
relative error max|a − n| / max(1e-8, |a| + |n|).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["accuracy", "gradient_check", "is_decreasing", "numerical_gradient", "rel_error", "same_shape"]


def rel_error(a: Any, b: Any) -> float:
    """Largest relative error between two arrays (CS231n): max|a − b| / max(1e-8, |a| + |b|)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(f: Callable[[np.ndarray], float], x: Any, h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of scalar f at x, in float64: (f(x + h) − f(x − h)) / 2h per coordinate."""
    x = np.array(x, dtype=np.float64)  # a copy: f never sees the caller's array change
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = float(f(x))
        x[i] = old - h
        minus = float(f(x))
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def gradient_check(f: Callable[[np.ndarray], float], x: Any, analytic: Any, h: float = 1e-5) -> float:
    """Relative error between an analytic gradient and the numerical one (< 1e-7 good, > 1e-4 suspicious)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.dtype != np.float64 or np.asarray(x).dtype == np.float32:
        raise TypeError("gradient checks need float64: float32 fails at h = 1e-5")
    return rel_error(analytic, numerical_gradient(f, x, h))


def accuracy(predictions: Any, labels: Any) -> float:
    """Fraction of predictions equal to labels (class ids, or argmax of scores when 2-D)."""
    p, y = np.asarray(predictions), np.asarray(labels)
    if p.ndim == 2:
        p = p.argmax(axis=1)
    if p.shape != y.shape:
        raise ValueError(f"{p.shape[0] if p.ndim else 1} predictions for {y.shape[0] if y.ndim else 1} labels")
    return float(np.mean(p == y)) if y.size else 0.0


def is_decreasing(losses: Sequence[float], *, window: int = 1, tolerance: float = 0.0) -> bool:
    """Does the loss go down: each mean over `window` steps at most `tolerance` above the previous one?"""
    values = np.asarray(losses, dtype=np.float64)
    if values.size < 2 or not np.all(np.isfinite(values)):
        return False
    if window > 1:
        values = np.convolve(values, np.ones(window) / window, mode="valid")
    return bool(np.all(np.diff(values) <= tolerance) and values[-1] < values[0])


def same_shape(a: Any, shape: Sequence[int], dtype: str | None = None) -> bool:
    """Has `a` this shape (and dtype kind, e.g. 'f' for floats, if given)?"""
    arr = np.asarray(a)
    return tuple(arr.shape) == tuple(shape) and (dtype is None or arr.dtype.kind == dtype)
