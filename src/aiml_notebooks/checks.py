"""Immediate feedback in the student notebook: `@case` marks a test case, `check("q1")` runs a question's public cases.

The public cases and their reference values come from `.checks/<notebook>.json`, written by `course build` next to
the student notebook. Verdicts use the same comparison code as the grader (`aiml_notebooks.evidence`), so a public
case that passes here also passes when graded. Hidden cases run only at grading time.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from aiml_notebooks.evidence import (
    CASE_SPEC_KEYS,
    COMPARE_MODES,
    compare,
    decode,
    describe,
    encode,
    is_threshold,
)

__all__ = ["CheckResult", "case", "check", "load_checks"]

F = TypeVar("F", bound=Callable[..., Any])


def case(**spec: Any) -> Callable[[F], F]:
    """Mark a function as a test case: it calls student code and returns what came back (see docs/authoring.md)."""
    unknown = set(spec) - CASE_SPEC_KEYS
    if unknown:
        raise TypeError(f"@case got unknown argument(s) {sorted(unknown)}; allowed: {sorted(CASE_SPEC_KEYS)}")
    if spec.get("compare", "close") not in COMPARE_MODES:
        raise ValueError(f"@case compare= must be one of {sorted(COMPARE_MODES)}")

    def mark(fn: F) -> F:
        fn.__aiml_case__ = dict(spec)  # type: ignore[attr-defined]
        return fn

    return mark


def _checks_dir() -> Path:
    return Path(os.environ.get("AIML_CHECKS_DIR", ".checks"))


def load_checks(notebook: str) -> dict[str, Any]:
    """Read the public checks written by `course build` for `notebook` (its file name without .ipynb)."""
    path = _checks_dir() / f"{notebook}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"cannot find {path}: keep the notebook in the folder it came in (the .checks folder sits beside it)")
    return json.loads(path.read_text(encoding="utf-8"))


class CheckResult:
    """What `check()` returns: true when every public case passed. It shows nothing as a cell's last value, so
    the student's notebook does not echo a stray `True` under the feedback."""

    def __init__(self, passed: int, total: int, earned: float, possible: float) -> None:
        self.passed, self.total, self.earned, self.possible = passed, total, earned, possible

    def __bool__(self) -> bool:
        return self.passed == self.total

    def __repr__(self) -> str:
        return f"CheckResult({self.passed} of {self.total} passed, {self.earned:g}/{self.possible:g} points)"

    def _ipython_display_(self) -> None:  # the printed feedback above is the display
        return None


def check(qid: str, notebook: str, *, namespace: dict[str, Any] | None = None) -> CheckResult:
    """Run the public cases of question `qid` and print what passed, what did not and a hint.

    Returns a CheckResult that is true if all passed (and displays nothing in a notebook)."""
    data = load_checks(notebook)
    question = data["questions"].get(qid)
    if question is None:
        raise KeyError(f"no question {qid!r} in {notebook}; questions: {sorted(data['questions'])}")
    ns = namespace if namespace is not None else sys._getframe(1).f_globals
    start = time.perf_counter()
    lines, earned, possible = [], 0.0, 0.0
    for c in question["public"]:
        possible += c["spec"].get("points", 1)
        fn = ns.get(c["name"])
        if fn is None:
            lines.append(f"  ✗ {c['description']}: run the test cell that defines {c['name']} first")
            continue
        try:
            got = decode(encode(fn()))
        except NotImplementedError:  # the untouched stub
            lines.append(f"  ✗ {c['description']}: not written yet — replace `raise NotImplementedError()` "
                         "with your code")
            continue
        except Exception as exc:  # the student's code raised: say what, never a wall of traceback
            lines.append(f"  ✗ {c['description']}: your code raised {type(exc).__name__}: {exc}")
            if c["spec"].get("hint"):
                lines.append(f"      Hint: {c['spec']['hint']}")
            continue
        verdict = compare(got, decode(c["expected"]), c["spec"])
        if verdict.passed:
            earned += c["spec"].get("points", 1)
            lines.append(f"  ✓ {c['description']}")
        else:
            if is_threshold(c["spec"]):  # the measured value against the goal, never the reference
                lines.append(f"  ✗ {c['description']}: {verdict.detail}")
            else:
                shown = "" if c["spec"].get("compare") == "true" \
                    else f" — expected {describe(decode(c['expected']))}, got {describe(got)}"
                lines.append(f"  ✗ {c['description']}{shown}" + (f" ({verdict.detail})" if verdict.detail else ""))
            if c["spec"].get("hint"):
                lines.append(f"      Hint: {c['spec']['hint']}")
    elapsed_ms = (time.perf_counter() - start) * 1000
    n_pass = sum(1 for line in lines if line.startswith("  ✓"))
    n_all = len(question["public"])
    status = "all passed" if n_pass == n_all else f"{n_pass} of {n_all} passed"
    print(f"{qid} — public tests: {status} ({earned:g}/{possible:g} points, {elapsed_ms:.0f} ms)")
    print("\n".join(lines))
    hidden = question.get("hidden_points", 0)
    if hidden:
        print(f"  Hidden tests worth {hidden:g} more point(s) run when your work is graded: "
              "passing the public tests is a good sign, not a guarantee.")
    return CheckResult(n_pass, n_all, earned, possible)
