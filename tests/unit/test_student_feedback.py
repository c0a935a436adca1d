"""What students see in the notebook: check() feedback, quizzes, demos, and the library's public names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import aiml_notebooks
from aiml_notebooks import demo, slider
from aiml_notebooks.checks import case, check
from aiml_notebooks.quiz import answer_hash, lock_explanation, show_quiz, unlock_explanation
from tests.conftest import MINI

CHECKS = MINI / "release" / "part-01-mini" / ".checks"


@pytest.fixture(autouse=True)
def _checks_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIML_CHECKS_DIR", str(CHECKS))
    monkeypatch.setenv("AIML_HEADLESS", "1")


def _cases_for_q1(double: object) -> dict[str, object]:
    @case(points=1)
    def double_of_three() -> object:
        return double(3)  # type: ignore[operator]

    return {"double_of_three": double_of_three}


def test_check_passes_a_right_answer_and_mentions_hidden_points(capsys: pytest.CaptureFixture[str]) -> None:
    """Does check() say a right answer passed and mention the hidden points? (Speed: benchmarks/check_latency.py)"""
    ns = _cases_for_q1(lambda x: x + x)
    assert check("q1", "1.1-mini", namespace=ns)
    out = capsys.readouterr().out
    assert "all passed" in out and "✓ double(3)" in out and "Hidden tests worth 3 more point(s)" in out


def test_check_explains_a_wrong_answer_with_the_expected_value_and_hint(capsys: pytest.CaptureFixture[str]) -> None:
    """Does a wrong public answer show expected vs got and the hint, and return False?"""
    assert not check("q1", "1.1-mini", namespace=_cases_for_q1(lambda x: x * 3))
    out = capsys.readouterr().out
    assert "expected 6, got 9" in out and "Hint: Add x to itself." in out


def test_check_says_an_untouched_stub_is_not_written_yet(capsys: pytest.CaptureFixture[str]) -> None:
    """Does an unanswered stub say "not written yet", not NotImplementedError or a traceback?"""
    def stub(x: object) -> object:
        raise NotImplementedError()

    assert not check("q1", "1.1-mini", namespace=_cases_for_q1(stub))
    out = capsys.readouterr().out
    assert "✗ double(3): not written yet" in out and "NotImplementedError()` with your code" in out
    assert "Traceback" not in out


def test_check_reports_an_exception_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    """Does any other exception show its type and message, not a traceback?"""
    def broken(x: object) -> object:
        return x + "a"  # type: ignore[operator]

    assert not check("q1", "1.1-mini", namespace=_cases_for_q1(broken))
    out = capsys.readouterr().out
    assert "your code raised TypeError" in out and "Traceback" not in out


def test_a_threshold_case_shows_the_measured_value_against_the_threshold(capsys: pytest.CaptureFixture[str]) -> None:
    """A below=100 case failing says "your value 121, needs < 100" and never shows the reference (81)."""
    @case(compare="equal")
    def squares_of_four() -> object:
        return [0, 1, 4, 9]

    @case(below=100)
    def last_square_small() -> object:
        return 121

    assert not check("q2", "1.1-mini", namespace={"squares_of_four": squares_of_four,
                                                 "last_square_small": last_square_small})
    out = capsys.readouterr().out
    assert "✗ squares(10)[-1] is below 100: your value 121, needs < 100" in out and "81" not in out


def test_check_shows_no_stray_true_as_a_cells_last_value() -> None:
    """In a notebook, `check(...)` as the last line of a cell displays nothing after the feedback."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.user_ns.update(_cases_for_q1(lambda x: x + x), check=check)
    with capture_output() as captured:
        result = shell.run_cell('check("q1", "1.1-mini", namespace={"double_of_three": double_of_three})')
    assert result.success and result.result  # still true: all public cases passed
    assert "all passed" in captured.stdout
    assert "True" not in captured.stdout and not captured.outputs


def test_check_names_a_missing_checks_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Is a notebook moved away from its .checks folder told what is wrong?"""
    monkeypatch.setenv("AIML_CHECKS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="keep the notebook in the folder it came in"):
        check("q1", "1.1-mini", namespace={})


def test_quiz_files_hide_answers_and_explanations() -> None:
    """Is the right answer only a hash, and the explanation unreadable without the right choice?"""
    text = (CHECKS / "1.1-mini.json").read_text()
    assert "Two and two make four" not in text and '"answer"' not in text
    item = json.loads(text)["quizzes"]["quiz"]["items"][0]
    assert item["answer_hash"] == answer_hash(item["salt"], 1)
    assert unlock_explanation(item["explain"], item["salt"], 1) == "Two and two make four."
    assert unlock_explanation(item["explain"], item["salt"], 0) != "Two and two make four."
    assert unlock_explanation(lock_explanation("é ok", "s", 2), "s", 2) == "é ok"


def test_show_quiz_prints_lettered_choices_headless(capsys: pytest.CaptureFixture[str]) -> None:
    """Does the quiz print each question with A/B/C choices and name the answers variable when headless?"""
    show_quiz("quiz", "1.1-mini")
    out = capsys.readouterr().out
    assert "1. What is 2 + 2?" in out and "B) 4" in out and "quiz_answers" in out


def test_demo_calls_the_function_once_with_defaults_headless() -> None:
    """Does demo() call fn once with the slider start values when no widget frontend exists?"""
    calls = []
    assert demo(lambda a, b: calls.append((a, b)), a=slider(0, 10, 1, 3), b="fixed") is None
    assert calls == [(3, "fixed")]
    with pytest.raises(ValueError, match="outside"):
        slider(0, 1, 0.1, 5)


def test_every_public_name_resolves() -> None:
    """Does each name in aiml_notebooks.__all__ import (and nothing from aiml_course is needed)?"""
    for name in aiml_notebooks.__all__:
        assert getattr(aiml_notebooks, name) is not None, name
    import ast

    for path in Path(aiml_notebooks.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module] + \
            [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not any(m.startswith("aiml_course") for m in imported), path


def test_feedback_reports_state_the_deadline_extension_and_late_penalty() -> None:
    """Does each report say which deadline applied (with an extension) and what the late policy did?"""
    from datetime import timedelta

    from aiml_course.config import load_course
    from aiml_course.grading.report import deadline_line
    from tests.conftest import ROOT

    course = load_course(ROOT / "course_config.py")
    part = "part-02-first-neuron"
    due = course.part(part).due
    assert deadline_line(course, part, due - timedelta(hours=1), None).endswith("· on time")
    assert "within the grace period" in deadline_line(course, part, due + timedelta(minutes=10), None)
    late = deadline_line(course, part, due + timedelta(hours=10, minutes=30), None)
    assert "10.5 h late" in late and "takes 10% of this part's score" in late
    extended = deadline_line(course, part, due + timedelta(days=2), due + timedelta(days=3))
    assert "extended from 2026-03-06 23:59" in extended and extended.endswith("· on time")
    assert "takes 100%" in deadline_line(course, part, due + timedelta(days=8), None)   # past the cut-off
