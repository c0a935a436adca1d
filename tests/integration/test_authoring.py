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


def test_an_exact_comparison_of_a_float_that_rounding_would_change_is_a_build_error(mini_course: Course,
                                                                                    sandbox: Sandbox) -> None:
    """References are stored to 12 significant digits, so compare="equal" on 0.1 + 0.2 could never pass even for
    the solution: does the build refuse it by case and cell, and accept a float that 12 digits hold exactly?"""
    path = _source(mini_course)
    _edit_cell(path, 16, "# TESTS q2\n@case(compare='equal')\ndef drift():\n    \"\"\"0.1 + 0.2\"\"\"\n"
               "    return squares(1)[0] + 0.1 + 0.2")
    with pytest.raises(AuthoringError, match=r"case drift compares exactly .* repr\(x\)") as info:
        build_part(mini_course, PART, sandbox, use_cache=False)
    assert info.value.cell == 16
    _edit_cell(path, 16, "# TESTS q2\n@case(compare='equal')\ndef quarter():\n    \"\"\"0.25\"\"\"\n"
               "    return squares(1)[0] + 0.25")
    build_part(mini_course, PART, sandbox, use_cache=False)


def _cell_number(path: Path, first_line: str) -> int:
    nb = nbformat.read(path, as_version=4)
    return next(n for n, c in enumerate(nb.cells, 1) if c.source.split("\n", 1)[0] == first_line)


@pytest.mark.parametrize(("source", "message"), [
    ("# MUTANT q1 Triple!\n# caps\ndef double(x):\n    return 3 * x", "malformed mutant directive"),
    ("# MUTANT q1\n# no name\ndef double(x):\n    return 3 * x", "malformed mutant directive"),
    ("# MUTANT q7 triple\n# no such question\ndef double(x):\n    return 3 * x", "no # ANSWER q7 cell before it"),
    ("# MUTANT q1 triple\ndef double(x):\n    return 3 * x", "second line must be a comment"),
    ("# MUTANT q1 triple\n# only a comment\n", "no code after its comment"),
    ("# MUTANT q1 triple\n# does not parse\ndef double(x)\n    return 3 * x", "does not parse"),
    ("# MUTANT q1 worked-example\n# a second mutant of that name\ndef double(x):\n    return 4", "used twice"),
])
def test_mutant_mistakes_name_the_cell_and_question(mini_course: Course, source: str, message: str) -> None:
    """Does each malformed mutant stop the build naming its cell (and question where it has one)?"""
    path = _source(mini_course)
    cell = _cell_number(path, "# MUTANT q1 triple")
    _edit_cell(path, cell, source)
    with pytest.raises(AuthoringError, match=message) as info:
        parse_notebook(path)
    assert info.value.cell == cell or f"(also cell {cell})" in str(info.value)


def test_mutant_before_its_answer_cell_is_refused(mini_course: Course) -> None:
    """A mutant must follow the # ANSWER cell it replaces: one placed before it is an error."""
    path = _source(mini_course)
    _edit_cell(path, 2, "# MUTANT q1 early\n# placed before the answer\ndef double(x):\n    return 3 * x")
    with pytest.raises(AuthoringError, match="no # ANSWER q1 cell before it"):
        parse_notebook(path)


def test_mutants_parse_and_replace_the_whole_answer_body(mini_course: Course) -> None:
    """Are the mini course's mutants parsed, and does the mutant render keep only the answer's directive line?"""
    from aiml_course.validate import mutant_notebook

    spec = parse_notebook(_source(mini_course))
    assert [(m.qid, m.name) for m in spec.mutants()] == [
        ("q1", "triple"), ("q1", "worked-example"), ("q2", "no-zero"), ("q2", "one-to-n")]
    triple = spec.mutants()[0]
    assert triple.description == "multiplies by three instead of two"
    nb = nbformat.reads(mutant_notebook(spec, triple), as_version=4)
    answers = [c.source for c in nb.cells if c.source.startswith("# ANSWER q1")]
    assert answers == ["# ANSWER q1\n# multiplies by three instead of two\ndef double(x):\n"
                       "    \"\"\"Return twice x.\"\"\"\n    return 3 * x"]
    assert not any("MUTANT" in c.source for c in nb.cells)


def test_mutants_reach_no_generated_file(mini_course: Course, sandbox: Sandbox) -> None:
    """Release, checks, bundle and walkthrough hold no mutant directive, description or code."""
    result = build_part(mini_course, PART, sandbox, use_cache=False)
    assert set(result.files) >= {f"autograder/{PART}/1.1-mini.bundle.json",
                                 f"autograder/{PART}/walkthrough/1.1-mini.ipynb"}
    for rel, text in result.files.items():
        for secret in ("MUTANT", "multiplies by three instead of two", "return 3 * x", "range(1, n + 1)",
                       "worked example's answer"):
            assert secret not in text, (rel, secret)


def test_the_build_scan_refuses_a_mutant_in_any_generated_file(mini_course: Course) -> None:
    """The scan reads the output, not the transform: a walkthrough or bundle holding a mutant's directive, its
    description or its code is refused, naming the mutant's cell; a lesson line it repeats is not a leak."""
    from aiml_course.authoring.verify import scan_for_mutants

    path = _source(mini_course)
    spec = parse_notebook(path)
    triple = _cell_number(path, "# MUTANT q1 triple")
    walk = f"autograder/{PART}/walkthrough/1.1-mini.ipynb"
    clean = (mini_course.root / walk).read_text()
    scan_for_mutants(spec, {walk: clean})
    as_cell = json.loads(clean)
    as_cell["cells"].append({"cell_type": "code", "id": "x", "metadata": {}, "outputs": [], "execution_count": None,
                             "source": "# the one that multiplies by three instead of two\ndef double(x):\n"
                                       "    return 3 * x"})
    with pytest.raises(LeakError, match="would contain a mutant") as info:
        scan_for_mutants(spec, {walk: json.dumps(as_cell)})
    assert info.value.cell == triple
    with pytest.raises(LeakError, match="MUTANT directive"):
        scan_for_mutants(spec, {walk: clean.replace("Mini notebook", "# MUTANT q1 triple")})
    bundle = f"autograder/{PART}/1.1-mini.bundle.json"
    data = json.loads((mini_course.root / bundle).read_text())
    data["judges"].append("def judge2(got, expected):\n    # squares 1..n instead of 0..n-1\n    return True")
    with pytest.raises(LeakError, match="would contain a mutant"):
        scan_for_mutants(spec, {bundle: json.dumps(data)})


def test_validate_grades_every_mutant_and_names_a_weak_one(mini_course: Course, sandbox: Sandbox) -> None:
    """Do the mini course's mutants all lose >= half their question's points, and is one that keeps more than
    half reported with notebook, question and mutant name (and validate fails)?"""
    report = validate_part(mini_course, PART, sandbox)
    check = report.notebooks[0]
    assert report.ok and check.mutants_caught == len(check.mutants) == 4
    worked = next(m for m in check.mutants if m.name == "worked-example")
    assert (worked.earned, worked.possible) == (2, 4)  # exactly half lost: caught
    path = _source(mini_course)
    _edit_cell(path, _cell_number(path, "# MUTANT q1 triple"),
               "# MUTANT q1 float-result\n# returns a float even for integers\ndef double(x):\n"
               "    return float(x + x)")
    report = validate_part(mini_course, PART, sandbox)
    assert not report.ok
    problem = next(p for p in report.notebooks[0].problems if "float-result" in p)
    assert problem.startswith("1.1-mini: mutant q1/float-result") and "3 of 4 points of q1" in problem


def test_lesson_only_cells_are_released_but_skipped_when_grading(mini_course: Course, sandbox: Sandbox) -> None:
    """A # LESSON ONLY cell is in the student notebook, is not run by the grader (a lesson cell that raises
    costs nothing), and validate's end-to-end run still runs it (and reports that it raises)."""
    from aiml_course.grading.engine import execute, judge

    path = _source(mini_course)
    lesson = _cell_number(path, "# LESSON ONLY")
    release = nbformat.read(mini_course.release_dir / PART / "1.1-mini.ipynb", as_version=4)
    released = [c for c in release.cells if c.source.startswith("# LESSON ONLY")]
    assert len(released) == 1 and released[0].metadata["aiml"]["role"] == "lesson"
    _edit_cell(path, lesson, "# LESSON ONLY\nraise RuntimeError('the lesson cell ran')")
    built = build_part(mini_course, PART, sandbox, use_cache=False).notebooks[0]
    graded = execute(built.solution_text, built.bundle["probe_cells"], sandbox, cell_seconds=20)
    assert graded.cell_errors == [] and judge(built.bundle, graded).earned == 8
    report = validate_part(mini_course, PART, sandbox)
    assert any("the solution notebook raises RuntimeError" in p for p in report.notebooks[0].problems)


def _graded_quiz_course(mini_course: Course) -> Course:
    from aiml_course.config import load_course

    config = mini_course.root / "course_config.py"
    config.write_text(config.read_text().replace('title="Mini course for tests",',
                                                 'title="Mini course for tests", quiz="graded-first-answer",'))
    return load_course(config)


def test_a_graded_quizs_key_never_leaves_autograder(mini_course: Course, sandbox: Sandbox) -> None:
    """With quiz='graded-first-answer' the release holds no answer hash, salt or explanation (a formative quiz
    keeps its local key), the notebook says which kind of quiz it is, and the solution's letters still score."""
    from aiml_course.grading.engine import execute, judge

    formative = json.loads((mini_course.release_dir / PART / ".checks" / "1.1-mini.json").read_text())
    assert "answer_hash" in formative["quizzes"]["quiz"]["items"][0]
    release = (mini_course.release_dir / PART / "1.1-mini.ipynb").read_text()
    assert "This quiz is for practice" in release and "worth 2 of this notebook's 8 points" in release
    course = _graded_quiz_course(mini_course)
    built = build_part(course, PART, sandbox, use_cache=False).notebooks[0]
    checks = built.files[f"release/{PART}/.checks/1.1-mini.json"]
    items = json.loads(checks)["quizzes"]["quiz"]["items"]
    assert json.loads(checks)["quizzes"]["quiz"]["graded"] is True
    assert all(set(item) == {"question", "choices", "points"} for item in items)
    assert "This quiz is graded" in built.release_text and "first answer" in built.release_text
    assert built.bundle["references"]["quiz__1"] == "B"  # the key stays in the grader's bundle
    run = execute(built.solution_text, built.bundle["probe_cells"], sandbox, cell_seconds=20)
    assert judge(built.bundle, run).by_question()["quiz"] == (2, 2)


def test_the_build_refuses_a_graded_quiz_key_in_the_release(mini_course: Course) -> None:
    from aiml_course.authoring.verify import scan_for_quiz_keys

    spec = parse_notebook(_source(mini_course))
    text = (mini_course.release_dir / PART / ".checks" / "1.1-mini.json").read_text()  # formative: has keys
    with pytest.raises(LeakError, match=r"graded quiz quiz, question 1: .* answer_hash"):
        scan_for_quiz_keys(spec, text)
