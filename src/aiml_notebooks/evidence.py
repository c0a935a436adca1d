"""Values that cross the sandbox boundary as plain JSON, and how a returned value is compared with a reference.

Probes (test cases) return Python values; `encode` turns them into JSON-safe data (no pickle, ever), `decode`
turns that back into plain Python / numpy, and `compare` decides whether a value meets a case's spec. The same
code gives students immediate feedback (`check()`) and gives the grader its verdicts, so both always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["CASE_SPEC_KEYS", "EvidenceError", "Verdict", "compare", "decode", "describe", "encode", "is_threshold",
           "threshold_text"]

CASE_SPEC_KEYS = frozenset({"points", "compare", "rtol", "atol", "below", "above", "at_least", "at_most", "hint",
                            "judge", "judged"})
THRESHOLDS = (("above", ">"), ("at_least", ">="), ("below", "<"), ("at_most", "<="))  # spec key, what it needs
COMPARE_MODES = frozenset({"close", "equal", "shape", "true"})
MAX_ELEMENTS = 1_000_000  # per array or list: a probe that returns more is rejected, not truncated
MAX_DEPTH = 20            # nesting of lists/dicts in a returned value
MAX_INT_BITS = 12_000     # about 3,600 decimal digits: far beyond any exercise, well inside json's int limit
MAX_DIMS = 32             # numpy's own limit is 64
ARRAY_DTYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                          "float16", "float32", "float64"})
NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class EvidenceError(ValueError):
    """A value cannot cross the boundary (too big, unknown type, a subclass, malformed)."""


def _float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {"__float__": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _int(x: int) -> int:
    if x.bit_length() > MAX_INT_BITS:
        raise EvidenceError(f"an integer with {x.bit_length()} bits is larger than the {MAX_INT_BITS} allowed")
    return x


def _plain_array(arr: Any) -> dict[str, Any]:
    """A base-class numpy array (already a private copy) as JSON-safe data."""
    if arr.size > MAX_ELEMENTS:
        raise EvidenceError(f"array with {arr.size} elements is larger than the {MAX_ELEMENTS} allowed")
    if arr.ndim > MAX_DIMS:
        raise EvidenceError(f"array with {arr.ndim} dimensions has more than the {MAX_DIMS} allowed")
    if arr.dtype.kind == "c":
        raise EvidenceError("complex arrays cannot be graded")
    if str(arr.dtype) not in ARRAY_DTYPES:
        raise EvidenceError(f"arrays of dtype {arr.dtype} cannot be graded; return numbers")
    flat = arr.ravel().tolist()  # Python bools, ints and floats: numpy's own conversion, no student code
    if arr.dtype.kind == "f":
        flat = [_float(v) for v in flat]
    return {"__array__": flat, "shape": [int(n) for n in arr.shape], "dtype": str(arr.dtype)}


def _numpy_value(value: Any, depth: int) -> Any:
    import numpy as np

    if type(value) is np.ndarray:
        return _plain_array(np.array(value, copy=True, subok=False))
    if isinstance(value, np.generic) and type(value) in _numpy_scalar_types():
        return encode(np.asarray(value).item(), depth + 1)
    raise EvidenceError(f"cannot grade a {type(value).__name__} (a subclass of a numpy type); "
                        "return a plain array or number")


def _numpy_scalar_types() -> frozenset[type]:
    import numpy as np

    return frozenset(np.dtype(code).type for code in ARRAY_DTYPES)


def _torch_value(value: Any) -> Any:
    """A tensor's storage copied out through torch's own functions; subclasses are refused, never called."""
    import torch

    if type(value) not in (torch.Tensor, torch.nn.Parameter):
        raise EvidenceError(f"cannot grade a {type(value).__name__} (a subclass of torch.Tensor); "
                            "return a plain tensor, array or number")
    try:
        with torch.no_grad():
            t = torch.Tensor.detach(value)
            if t.layout != torch.strided or t.is_quantized or t.is_complex():
                raise EvidenceError("only dense real tensors can be graded")
            t = torch.Tensor.cpu(t)
            if t.dtype in (torch.bfloat16, torch.float16):
                t = torch.Tensor.float(t)
            import numpy as np

            return _plain_array(np.array(torch.Tensor.numpy(t), copy=True))
    except EvidenceError:
        raise
    except Exception as exc:  # meta tensors, odd dtypes: not gradable, said plainly
        raise EvidenceError(f"this tensor cannot be graded ({type(exc).__name__})") from None


def encode(value: Any, _depth: int = 0) -> Any:
    """Turn a probe's return value into JSON-safe plain data.

    Only exact built-in types, exact numpy arrays/scalars and exact torch tensors are accepted: a subclass could
    run its own code (a `float()` or `__iter__`) while the value is read, so it is refused, not called.
    """
    if _depth > MAX_DEPTH:
        raise EvidenceError("value is nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return _int(value)
    if kind is float:
        return _float(value)
    if kind is list or kind is tuple:
        if len(value) > MAX_ELEMENTS:
            raise EvidenceError(f"list with {len(value)} items is larger than the {MAX_ELEMENTS} allowed")
        return [encode(v, _depth + 1) for v in value]
    if kind is dict:
        if len(value) > MAX_ELEMENTS:
            raise EvidenceError(f"dict with {len(value)} items is larger than the {MAX_ELEMENTS} allowed")
        pairs = []
        for k, v in value.items():
            if type(k) not in (str, int, float, bool) and k is not None:
                raise EvidenceError(f"dict keys must be strings or numbers, not {type(k).__name__}")
            pairs.append([str(k), encode(v, _depth + 1)])
        return {"__dict__": pairs}
    module = getattr(kind, "__module__", "") or ""
    if module.startswith("torch"):
        return _torch_value(value)
    if module.startswith("numpy"):
        return _numpy_value(value, _depth)
    raise EvidenceError(f"cannot grade a value of type {kind.__name__}; return numbers, lists or arrays")


def decode(data: Any, _depth: int = 0) -> Any:
    """Inverse of `encode`, for untrusted data: arrays come back as numpy arrays, dict keys as strings.

    Anything that `encode` cannot have written (deep nesting, unknown markers, a shape that does not match its
    values, a dtype outside the plain numeric ones) is an EvidenceError, never another exception.
    """
    if _depth > MAX_DEPTH + 2:
        raise EvidenceError("value is nested too deeply")
    kind = type(data)
    if data is None or kind in (bool, str, float):
        return data
    if kind is int:
        return _int(data)
    if kind is list:
        if len(data) > MAX_ELEMENTS:
            raise EvidenceError("list too long")
        return [decode(v, _depth + 1) for v in data]
    if kind is not dict:
        raise EvidenceError(f"unexpected {kind.__name__} in a record")
    if set(data) == {"__float__"}:
        if type(data["__float__"]) is not str or data["__float__"] not in NON_FINITE:
            raise EvidenceError("malformed non-finite number")
        return NON_FINITE[data["__float__"]]
    if set(data) == {"__array__", "shape", "dtype"}:
        return _decode_array(data)
    if set(data) == {"__dict__"} and type(data["__dict__"]) is list:
        out = {}
        for pair in data["__dict__"]:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                raise EvidenceError("malformed dict entry")
            out[pair[0]] = decode(pair[1], _depth + 1)
        return out
    raise EvidenceError("unknown encoded object")


def _decode_array(data: dict[str, Any]) -> Any:
    import numpy as np

    flat, shape, dtype = data["__array__"], data["shape"], data["dtype"]
    if type(dtype) is not str or dtype not in ARRAY_DTYPES:
        raise EvidenceError("array dtype not allowed")
    if type(shape) is not list or len(shape) > MAX_DIMS or any(type(n) is not int or n < 0 for n in shape):
        raise EvidenceError("malformed array shape")
    if type(flat) is not list or len(flat) > MAX_ELEMENTS:
        raise EvidenceError("malformed array values")
    size = 1
    for n in shape:
        size *= n
        if size > MAX_ELEMENTS:
            raise EvidenceError("array shape too large")
    if size != len(flat):
        raise EvidenceError("array shape does not match its values")
    values = []
    for v in flat:
        if type(v) in (int, float, bool):
            values.append(v)
        elif type(v) is dict and set(v) == {"__float__"} and type(v["__float__"]) is str \
                and v["__float__"] in NON_FINITE:
            values.append(NON_FINITE[v["__float__"]])
        else:
            raise EvidenceError("array values must be numbers")
    try:
        return np.asarray(values, dtype=dtype).reshape(tuple(shape))
    except (ValueError, TypeError, OverflowError) as exc:
        raise EvidenceError(f"array values do not fit dtype {dtype}") from exc


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


def is_threshold(spec: dict[str, Any]) -> bool:
    """Is this case decided by a threshold (above=, at_least=, below=, at_most=) rather than a reference?"""
    return any(key in spec for key, _ in THRESHOLDS)


def threshold_text(spec: dict[str, Any]) -> str:
    """What a threshold case needs, e.g. "> 0.9" or ">= 0 and < 1"."""
    return " and ".join(f"{sign} {spec[key]:g}" for key, sign in THRESHOLDS if key in spec)


def _meets(got: float, sign: str, limit: float) -> bool:
    return {">": got > limit, ">=": got >= limit, "<": got < limit, "<=": got <= limit}[sign]


def threshold_verdict(got: Any, spec: dict[str, Any]) -> Verdict:
    """The measured value against the threshold(s), never a reference: "your value 0.62, needs > 0.9"; with two
    conditions, which one failed."""
    if not _is_number(got):
        return Verdict(False, f"needs a single number ({threshold_text(spec)}), got {type(got).__name__}")
    if math.isnan(got):
        return Verdict(False, f"your value is NaN (not a number), needs {threshold_text(spec)}")
    conditions = [(key, sign) for key, sign in THRESHOLDS if key in spec]
    failed = [(key, sign) for key, sign in conditions if not _meets(got, sign, float(spec[key]))]
    if not failed:
        return Verdict(True)
    needs = " and ".join(f"{sign} {spec[key]:g}" for key, sign in failed)
    held = [f"{sign} {spec[key]:g}" for key, sign in conditions if (key, sign) not in failed]
    return Verdict(False, f"your value {got:.6g}, needs {needs}" + (f" (the {held[0]} part holds)" if held else ""))


def compare(got: Any, expected: Any, spec: dict[str, Any]) -> Verdict:
    """Does decoded value `got` meet `spec` (with `expected` the decoded reference, if the mode needs one)?"""
    if any(key in spec for key, _ in THRESHOLDS):
        return threshold_verdict(got, spec)
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
