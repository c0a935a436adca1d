"""Values that cross the sandbox boundary as plain JSON, and how a returned value is compared with a reference.

Probes (test cases) return Python values; `encode` turns them into JSON-safe data (no pickle, ever), `decode`
turns that back into plain Python / numpy, and `compare` decides whether a value meets a case's spec. The same
code gives students immediate feedback (`check()`) and gives the grader its verdicts, so both always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["CASE_SPEC_KEYS", "Verdict", "compare", "decode", "describe", "encode"]

CASE_SPEC_KEYS = frozenset({"points", "compare", "rtol", "atol", "below", "above", "hint", "judge"})
COMPARE_MODES = frozenset({"close", "equal", "shape", "true"})
MAX_ELEMENTS = 1_000_000  # per array: a probe that returns more is rejected, not truncated


class EvidenceError(ValueError):
    """A probe returned something that cannot cross the boundary (too big, unknown type, malformed)."""


def _float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {"__float__": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _array(a: Any) -> dict[str, Any]:
    import numpy as np

    arr = np.asarray(a)
    if arr.size > MAX_ELEMENTS:
        raise EvidenceError(f"array with {arr.size} elements is larger than the {MAX_ELEMENTS} allowed")
    if arr.dtype == object or arr.dtype.kind not in "biufc":
        raise EvidenceError(f"arrays of dtype {arr.dtype} cannot be graded; return numbers")
    if arr.dtype.kind == "c":
        raise EvidenceError("complex arrays cannot be graded")
    flat = [_float(float(v)) if arr.dtype.kind == "f" else v for v in arr.ravel().tolist()]
    return {"__array__": flat, "shape": list(arr.shape), "dtype": str(arr.dtype)}


def encode(value: Any, _depth: int = 0) -> Any:
    """Turn a probe's return value into JSON-safe data."""
    if _depth > 20:
        raise EvidenceError("value is nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ELEMENTS:
            raise EvidenceError(f"list with {len(value)} items is larger than the {MAX_ELEMENTS} allowed")
        return [encode(v, _depth + 1) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[str(k), encode(v, _depth + 1)] for k, v in value.items()]}
    type_name = type(value).__module__ + "." + type(value).__qualname__
    if type_name.startswith("torch.") and hasattr(value, "detach"):
        return _array(value.detach().cpu().numpy())
    if type_name.startswith("numpy."):
        if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
            return encode(value.item(), _depth + 1)
        return _array(value)
    raise EvidenceError(f"cannot grade a value of type {type(value).__name__}; return numbers, lists or arrays")


def decode(data: Any) -> Any:
    """Inverse of `encode`: arrays come back as numpy arrays, dict keys as strings."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        if "__float__" in data:
            return float(data["__float__"])
        if "__array__" in data:
            import numpy as np

            flat = [decode(v) for v in data["__array__"]]
            shape = tuple(int(s) for s in data["shape"])
            return np.asarray(flat, dtype=str(data["dtype"])).reshape(shape)
        if "__dict__" in data:
            return {str(k): decode(v) for k, v in data["__dict__"]}
        raise EvidenceError(f"unknown encoded object with keys {sorted(data)}")
    return data


def describe(value: Any, limit: int = 120) -> str:
    """A short human-readable rendering of a decoded value."""
    text = repr(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        import numpy as np

        with np.printoptions(precision=6, threshold=12, edgeitems=3):
            text = f"array of shape {tuple(value.shape)}: {np.array2string(value)}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Verdict:
    """Did a value pass, and why not (for learners)."""

    passed: bool
    detail: str = ""


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _as_array(x: Any) -> Any:
    import numpy as np

    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr


def _close(got: Any, exp: Any, rtol: float, atol: float) -> Verdict:
    if isinstance(exp, dict):
        if not isinstance(got, dict):
            return Verdict(False, f"expected a dict, got {type(got).__name__}")
        if set(got) != set(exp):
            return Verdict(False, f"keys differ: expected {sorted(exp)}, got {sorted(got)}")
        for k in exp:
            v = _close(got[k], exp[k], rtol, atol)
            if not v.passed:
                return Verdict(False, f"[{k}] {v.detail}")
        return Verdict(True)
    if exp is None or isinstance(exp, (str, bool)):
        return Verdict(got == exp and type(got) is type(exp), "")
    if _is_number(exp) and not _is_number(got) and not hasattr(got, "shape"):
        return Verdict(False, f"expected a number, got {type(got).__name__}")
    e, g = _as_array(exp), _as_array(got)
    if e is None or g is None:
        return Verdict(got == exp, "")
    if e.shape != g.shape:
        return Verdict(False, f"shape {g.shape} is not the expected shape {e.shape}")
    import numpy as np

    ok = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if bool(ok.all()):
        return Verdict(True)
    if e.ndim == 0:
        return Verdict(False, "value is not within tolerance")
    bad = int((~ok).sum())
    first = tuple(int(i) for i in np.argwhere(~ok)[0])
    return Verdict(False, f"{bad} of {e.size} numbers are not within tolerance (first at index {first})")


def _equal(got: Any, exp: Any) -> bool:
    if hasattr(exp, "shape") or hasattr(got, "shape"):
        import numpy as np

        return bool(np.shape(got) == np.shape(exp) and np.array_equal(np.asarray(got), np.asarray(exp)))
    if isinstance(exp, list) and isinstance(got, list):
        return len(got) == len(exp) and all(_equal(g, e) for g, e in zip(got, exp, strict=True))
    if isinstance(exp, dict) and isinstance(got, dict):
        return set(got) == set(exp) and all(_equal(got[k], exp[k]) for k in exp)
    return bool(got == exp and type(got) is type(exp)) or (_is_number(got) and _is_number(exp) and got == exp)


def compare(got: Any, expected: Any, spec: dict[str, Any]) -> Verdict:
    """Does decoded value `got` meet `spec` (with `expected` the decoded reference, if the mode needs one)?"""
    if "below" in spec or "above" in spec:
        if not _is_number(got):
            return Verdict(False, f"expected a single number, got {type(got).__name__}")
        if math.isnan(got):
            return Verdict(False, "got NaN (not a number)")
        if "below" in spec and not got < spec["below"]:
            return Verdict(False, f"{got:.6g} is not below the threshold")
        if "above" in spec and not got > spec["above"]:
            return Verdict(False, f"{got:.6g} is not above the threshold")
        return Verdict(True)
    mode = spec.get("compare", "close")
    if mode == "true":
        return Verdict(got is True, "" if got is True else f"the check returned {describe(got)}, not True")
    if mode == "shape":
        import numpy as np

        return Verdict(np.shape(got) == np.shape(expected),
                       f"shape {np.shape(got)} is not the expected shape")
    if mode == "equal":
        return Verdict(_equal(got, expected), "not exactly the expected value")
    return _close(got, expected, float(spec.get("rtol", 1e-6)), float(spec.get("atol", 1e-9)))
