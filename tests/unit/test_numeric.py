"""Numeric checks authors use in test cases and judges."""

from __future__ import annotations

import numpy as np
import pytest

from aiml_notebooks.numeric import (
    accuracy,
    gradient_check,
    is_decreasing,
    numerical_gradient,
    rel_error,
    same_shape,
)


def test_numerical_gradient_matches_the_exact_one_in_float64() -> None:
    """Is the centred difference of sum(tanh(x)·w) within 1e-8 of the exact gradient?"""
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    exact = (1 - np.tanh(x) ** 2) * w
    assert rel_error(numerical_gradient(lambda v: float(np.sum(np.tanh(v) * w)), x), exact) < 1e-8


def test_gradient_check_catches_a_wrong_gradient_and_refuses_float32() -> None:
    """Does a gradient missing a factor 2 fail the check, and is float32 refused?"""
    x = np.array([1.0, -2.0, 3.0])
    assert gradient_check(lambda v: float(np.sum(v**2)), x, 2 * x) < 1e-9
    assert gradient_check(lambda v: float(np.sum(v**2)), x, x) > 0.1
    with pytest.raises(TypeError, match="float64"):
        gradient_check(lambda v: float(np.sum(v**2)), x.astype(np.float32), 2 * x)


def test_rel_error_shape_mismatch_and_zero_handling() -> None:
    """Are zeros handled (no division by zero) and different shapes refused?"""
    assert rel_error([0.0, 0.0], [0.0, 0.0]) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error([1.0], [1.0, 2.0])


def test_accuracy_from_labels_and_scores() -> None:
    """Does accuracy work on class ids and on score matrices, and refuse length mismatches?"""
    assert accuracy([1, 0, 1, 1], [1, 0, 0, 1]) == 0.75
    assert accuracy([[0.1, 0.9], [0.8, 0.2]], [1, 1]) == 0.5
    with pytest.raises(ValueError):
        accuracy([1, 0], [1, 0, 1])


def test_is_decreasing_with_noise_window() -> None:
    """Is a noisy but falling loss accepted with a window, and a flat or NaN loss rejected?"""
    noisy = [5, 4, 4.2, 3, 3.1, 2, 2.05, 1]
    assert not is_decreasing(noisy) and is_decreasing(noisy, window=2)
    assert not is_decreasing([1, 1, 1]) and not is_decreasing([3, float("nan"), 1])


def test_same_shape_and_dtype_kind() -> None:
    """Does same_shape check shape and, optionally, the dtype kind?"""
    assert same_shape(np.zeros((2, 3)), (2, 3), "f") and not same_shape(np.zeros((2, 3), int), (2, 3), "f")
