"""Encoding values across the sandbox boundary and comparing them with references."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from aiml_notebooks.evidence import EvidenceError, compare, decode, encode


@pytest.mark.parametrize("value", [None, True, 3, -2.5, "text", [1, 2.0, [3]], {"a": 1, "b": [2.0]}])
def test_plain_values_round_trip(value: object) -> None:
    """Do plain Python values come back unchanged through JSON?"""
    assert decode(json.loads(json.dumps(encode(value)))) == value


def test_arrays_and_tensors_round_trip_with_shape_and_dtype() -> None:
    """Do numpy arrays and torch tensors come back as arrays with the same shape, dtype and values?"""
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    back = decode(json.loads(json.dumps(encode(arr))))
    assert back.shape == (2, 3) and back.dtype == np.float32 and np.array_equal(back, arr)
    t = decode(json.loads(json.dumps(encode(torch.tensor([[1.5, -2.0]])))))
    assert t.shape == (1, 2) and t.tolist() == [[1.5, -2.0]]


def test_non_finite_floats_survive_strict_json() -> None:
    """Can NaN and infinities cross as strict JSON (allow_nan=False) and come back?"""
    data = json.dumps(encode([math.nan, math.inf, -math.inf, np.array([np.nan])]), allow_nan=False)
    got = decode(json.loads(data))
    assert math.isnan(got[0]) and got[1] == math.inf and got[2] == -math.inf and math.isnan(got[3][0])


def test_unknown_types_and_object_arrays_are_refused() -> None:
    """Is anything that is not plain data (objects, object arrays) refused rather than pickled?"""
    with pytest.raises(EvidenceError):
        encode(object())
    with pytest.raises(EvidenceError):
        encode(np.array([object()], dtype=object))


def test_close_respects_tolerances() -> None:
    """Does 'close' accept values inside rtol/atol and reject those outside?"""
    assert compare(1.0 + 1e-8, 1.0, {}).passed
    assert not compare(1.001, 1.0, {}).passed
    assert compare(1.001, 1.0, {"rtol": 1e-2}).passed
    assert not compare(np.ones(3), np.ones(4), {}).passed
    assert "shape" in compare(np.ones(3), np.ones(4), {}).detail


def test_thresholds_true_equal_and_shape_modes() -> None:
    """Do below/above, 'true', 'equal' and 'shape' decide as documented?"""
    assert compare(0.05, None, {"below": 0.1}).passed and not compare(0.2, None, {"below": 0.1}).passed
    assert compare(0.95, None, {"above": 0.9}).passed and not compare(math.nan, None, {"above": 0.9}).passed
    assert compare(True, None, {"compare": "true"}).passed and not compare(1, None, {"compare": "true"}).passed
    assert compare([1, 2], [1, 2], {"compare": "equal"}).passed
    assert not compare([1, 2.0000001], [1, 2], {"compare": "equal"}).passed
    assert compare(np.zeros((2, 3)), np.ones((2, 3)), {"compare": "shape"}).passed


def test_a_string_is_not_close_to_a_number() -> None:
    """Is a wrong type (string for number) a failure with a reason, not an exception?"""
    verdict = compare("3.5", 3.5, {})
    assert not verdict.passed
