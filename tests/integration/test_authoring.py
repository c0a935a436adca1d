"""source → release + autograder on the mini course: determinism, leaks refused, errors that say where."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from aiml_course.authoring.build import build_part, out_of_sync, write_build
from aiml_course.authoring.parse import parse_notebook
from aiml_course.config import Course
from aiml_course.errors import AuthoringError, LeakError
from aiml_course.sandbox import Sandbox
from aiml_course.validate import validate_part

PART = "part-01-mini"


def _source(course: Course) -> Path:
    return course.source_dir / PART / "1.1-mini.ipynb"


def _edit_cell(path: Path, index: int, source: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells[index - 1].source = source
    nbformat.write(nb, path)


def test_build_is_byte_identical_and_in_sync(mini_course: Course, sandbox: Sandbox) -> None:
    """Does building twice (without the cache) give the same bytes as the committed release/ and autograder/?"""
    first = build_part(mini_course, PART, sandbox, use_cache=False)
    second = build_part(mini_course, PART, sandbox, use_cache=False)
    assert first.files == second.files
    assert out_of_sync(mini_course, first) == []


def test_release_hides_solutions_hidden_tests_judges_and_walkthroughs(mini_course: Course) -> None:
    """Is every kind of hidden material absent from the student files?"""
    text = "".join(p.read_text() for p in (mini_course.release_dir / PART).rglob("*") if p.is_file())
    for secret in ("result = x + x", "double_of_many_secret_values", "is_even_integer", "secret walkthrough",
                   "BEGIN SOLUTION", "HIDDEN TESTS", "Two and two make four"):
        assert secret not in text, secret
    nb = nbformat.read(mini_course.release_dir / PART / "1.1-mini.ipynb", as_version=4)
    sources = "\n".join(c.source for c in nb.cells)
    assert "raise NotImplementedError()" in sources and 'check("q1", "1.1-mini")' in sources


def test_walkthrough_and_bundle_hold_what_instructors_need(mini_course: Course) -> None:
    """Does the walkthrough show solutions and notes, and the bundle carry references and hidden cases?"""
    walk = (mini_course.autograder_dir / PART / "walkthrough" / "1.1-mini.ipynb").read_text()
    assert "x + x" in walk and "secret walkthrough" in walk and "BEGIN SOLUTION" not in walk
    bundle = json.loads((mini_course.autograder_dir / PART / "1.1-mini.bundle.json").read_text())
    assert bundle["references"]["double_of_three"] == 6
    assert {c["name"] for c in bundle["cases"] if c["hidden"]} >= {"double_of_many_secret_values", "quiz__1"}
    assert bundle["questions"]["quiz"]["points"] == 2


@pytest.mark.parametrize(("cell", "source", "message"), [
    (4, "# ANSWER q1\ndef double(x):\n    ### BEGIN SOLUTION\n    return x + x\n", "never closed"),
    (4, "# ANSWER q1\ndef double(x):\n    return x + x\n    ### END SOLUTION", "without a"),
    (4, "# ANSWER q1\ndef double(x):\n    return x + x", "needs a ### BEGIN SOLUTION"),
    (6, "# TESTS q9\n@case()\ndef t():\n    return 1", "no # ANSWER q9"),
    (6, "# TESTS q1\ndef t():\n    return 1", "defines no @case"),
    (6, "# TESTS q1\n@case(pionts=1)\ndef t():\n    return double(1)", "no argument 'pionts'"),
    (2, "### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "outside an # ANSWER cell"),
])
def test_authoring_errors_name_the_cell_and_question(mini_course: Course, cell: int, source: str,
                                                      message: str) -> None:
    """Does each authoring mistake stop the build with the notebook, cell and problem named?"""
    path = _source(mini_course)
    _edit_cell(path, cell, source)
    with pytest.raises(AuthoringError, match=message) as info:
        parse_notebook(path)
    assert info.value.cell == cell and "1.1-mini.ipynb" in str(info.value)


def test_question_without_tests_is_refused(mini_course: Course) -> None:
    """Is an exercise with no test cell an error naming the question?"""
    path = _source(mini_course)
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if not c.source.startswith("# TESTS q2")]
    nbformat.write(nb, path)
    with pytest.raises(AuthoringError, match="question has no tests") as info:
        parse_notebook(path)
    assert info.value.question == "q2"


def test_solution_copied_into_the_lesson_is_caught_as_a_leak(mini_course: Course, sandbox: Sandbox) -> None:
    """If an author pastes a multi-line solution into a lesson cell, does the build refuse to write it?"""
    path = _source(mini_course)
    _edit_cell(path, 3, "## Exercise q1\nLike this:\n\n    result = x + x\n    return result")
    with pytest.raises(LeakError, match="solution code") as info:
        build_part(mini_course, PART, sandbox, use_cache=False)
    assert info.value.cell == 4


def test_validate_passes_then_catches_a_vacuous_case(mini_course: Course, sandbox: Sandbox) -> None:
    """Does validate pass the mini course, and flag a case that passes without the student's code?"""
    assert validate_part(mini_course, PART, sandbox).ok
    path = _source(mini_course)
    _edit_cell(path, 6, "# TESTS q1\n@case(points=1)\ndef always_six():\n    \"\"\"six\"\"\"\n    return 6")
    write_build(mini_course, build_part(mini_course, PART, sandbox))
    report = validate_part(mini_course, PART, sandbox)
    assert not report.ok
    assert any("always_six passes on the unanswered stub" in p for p in report.notebooks[0].problems)


def test_validate_reports_release_out_of_sync(mini_course: Course, sandbox: Sandbox) -> None:
    """Is a hand-edited release/ file reported by validate?"""
    target = mini_course.release_dir / PART / "1.1-mini.ipynb"
    target.write_text(target.read_text().replace("Mini notebook", "Edited by hand"))
    report = validate_part(mini_course, PART, sandbox)
    assert any("1.1-mini.ipynb" in p for p in report.sync_problems)


def test_a_solution_that_raises_is_a_build_error_naming_the_source_cell(mini_course: Course,
                                                                        sandbox: Sandbox) -> None:
    """If the source notebook itself crashes, does the build say which source cell?"""
    _edit_cell(_source(mini_course), 14, "# ANSWER q2\ndef squares(n):\n    ### BEGIN SOLUTION\n"
               "    return [i * i for i in range(n)]\n    ### END SOLUTION\n1 / 0")
    with pytest.raises(AuthoringError, match="ZeroDivisionError") as info:
        build_part(mini_course, PART, sandbox, use_cache=False)
    assert info.value.cell == 14
