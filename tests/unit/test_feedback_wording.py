"""Grader feedback wording (issue 10): thresholds and judges report the measured value against the goal (never a
reference), a combined condition says which part failed, an untouched stub says "not written yet"."""

from __future__ import annotations

from typing import Any

import pytest

from aiml_course.grading.engine import Execution, judge
from aiml_notebooks.evidence import compare


def _bundle(spec: dict[str, Any], *, hidden: bool = False, reference: Any = 0.97,
            judges: list[str] | None = None) -> dict[str, Any]:
    return {"notebook": "nb", "judges": judges or [], "references": {"acc": reference},
            "cases": [{"name": "acc", "question": "q1", "hidden": hidden, "description": "held-out accuracy",
                       "spec": {"points": 2, **spec}}]}


def _message(bundle: dict[str, Any], record: dict[str, Any]) -> str:
    grade = judge(bundle, Execution(None, {"acc": record}, []))
    (case,) = grade.cases
    return case.message


@pytest.mark.parametrize(("spec", "value", "wording"), [
    ({"above": 0.9}, 0.62, "your value 0.62, needs > 0.9"),
    ({"at_least": 0.9}, 0.62, "your value 0.62, needs >= 0.9"),
    ({"below": 0.1}, 0.25, "your value 0.25, needs < 0.1"),
    ({"at_most": 0.1}, 0.25, "your value 0.25, needs <= 0.1"),
    ({"above": 0, "below": 1}, 1.5, "your value 1.5, needs < 1 (the > 0 part holds)"),
    ({"above": 0, "below": 1}, -2, "your value -2, needs > 0 (the < 1 part holds)"),
])
def test_a_threshold_case_reports_the_measured_value_never_the_reference(spec: dict[str, Any], value: float,
                                                                         wording: str) -> None:
    message = _message(_bundle(spec), {"ok": True, "value": value})
    assert message == f"✗ held-out accuracy: {wording}"
    assert "0.97" not in message and "expected" not in message


def test_at_least_accepts_the_boundary_and_above_does_not() -> None:
    assert compare(0.9, None, {"at_least": 0.9}).passed and not compare(0.9, None, {"above": 0.9}).passed
    assert compare(0.1, None, {"at_most": 0.1}).passed and not compare(0.1, None, {"below": 0.1}).passed


def test_a_judge_may_word_what_it_measured_even_for_a_hidden_case() -> None:
    judges = ["def acc_ok(got, expected):\n    acc = sum(got) / len(got)\n"
              "    return acc >= 0.9, f'your accuracy {acc:.2f}, needs >= 0.9'\n"]
    bundle = _bundle({"judge": "acc_ok"}, hidden=True, judges=judges)
    message = _message(bundle, {"ok": True, "value": [1, 1, 0, 0, 1]})
    assert message == "✗ held-out accuracy: your accuracy 0.60, needs >= 0.9"
    assert _message(bundle, {"ok": True, "value": [1] * 10}) == "✓ held-out accuracy"


def test_a_plain_judge_says_not_good_enough_without_a_reference() -> None:
    bundle = _bundle({"judge": "never"}, judges=["def never(got, expected):\n    return False\n"])
    assert _message(bundle, {"ok": True, "value": 3}) == "✗ held-out accuracy: not good enough yet"
    hidden = _bundle({"judge": "never"}, hidden=True, judges=["def never(got, expected):\n    return False\n"])
    assert _message(hidden, {"ok": True, "value": 3}) == "✗ held-out accuracy"


@pytest.mark.parametrize("hidden", [False, True])
def test_an_untouched_stub_is_not_written_yet(hidden: bool) -> None:
    message = _message(_bundle({"above": 0.9}, hidden=hidden), {"ok": False, "error": "NotImplementedError: "})
    assert message == "✗ held-out accuracy: not written yet — replace `raise NotImplementedError()` with your code"
