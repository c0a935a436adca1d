"""Issue 13: nbgrader's and otter's own material imported, built and graded by our engine, scores compared.

The foreign material is read where it lives: nbgrader's user guide inside the installed nbgrader package, otter's
tutorial in ../shared/peers/otter-tutorial/ (skipped with the reason when absent). Submissions are copied into a
temporary folder only because the grader refuses to follow symbolic links.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from aiml_course.authoring.build import build_part, write_build
from aiml_course.cli import main
from aiml_course.config import Course, load_course
from aiml_course.gradebook import Gradebook
from aiml_course.grading.foreign import manual_answers, question_id
from aiml_course.grading.pipeline import grade_part
from aiml_course.hub.formgrader import sync_formgrader
from aiml_course.hub.layout import HubLayout
from aiml_course.importers import import_assignment
from aiml_course.importers.otter_results import otter_results
from aiml_course.sandbox import BwrapSandbox
from aiml_course.validate import validate_part
from tests.conftest import ROOT, needs_bwrap

NBGRADER_GUIDE = Path(__import__("nbgrader").__file__).parent / "docs" / "source" / "user_guide"
OTTER = ROOT.parent / "shared" / "peers" / "otter-tutorial"
needs_otter = pytest.mark.skipif(not (OTTER / "demo.ipynb").is_file(),
                                 reason=f"otter's tutorial is not at {OTTER} (shared/peers is not laid out here)")
needs_guide = pytest.mark.skipif(not (NBGRADER_GUIDE / "source" / "ps1").is_dir(),
                                 reason="nbgrader's user guide is not shipped with the installed nbgrader")
OTTER_IDS = ("passesAll", "fails1", "fails2", "fails2Hidden", "fails3", "fails3Hidden")

CONFIG = textwrap.dedent('''
    from datetime import datetime, timezone
    from aiml_course.config import Course, Limits, Part, SandboxConfig
    COURSE = Course(id="imported", title="Imported", parts=(
        Part("part-01-ps1", title="nbgrader ps1", due=datetime(2030, 1, 1, tzinfo=timezone.utc)),
        Part("part-02-otter", title="otter demo", due=datetime(2030, 1, 1, tzinfo=timezone.utc))),
        sandbox=SandboxConfig(backend="bwrap", limits=Limits(wall_seconds=120, cell_seconds=60), workers=2))
''')


@pytest.fixture
def course(tmp_path: Path) -> Course:
    (tmp_path / "course_config.py").write_text(CONFIG)
    return load_course(tmp_path / "course_config.py")


def _build_and_grade(course: Course, part: str, submissions: Path) -> Gradebook:
    sandbox = BwrapSandbox(course.sandbox.limits)
    write_build(course, build_part(course, part, sandbox))
    book = Gradebook(f"sqlite:///{course.root / 'gb.sqlite'}")
    grade_part(course, part, submissions, gradebook=book, sandbox=sandbox, workers=2, show_progress=False)
    return book


def _cases(book: Gradebook, part: str) -> dict[tuple[str, str], tuple[float, float, str]]:
    """(student, case) → (earned, possible, message) from otter-shaped results (also exercises that export)."""
    out = {}
    for (student, _part, _nb), questions in otter_results(book, part).items():
        for q in questions.values():
            for r in q["test_case_results"]:
                out[(student, r["test_case"]["name"])] = (r["passed"], r["test_case"]["points"], r["message"])
    return out


# ---------------------------------------------------------------- the import itself (no sandbox needed)

@needs_otter
def test_otter_import_report_names_every_question_test_and_unconverted_piece(tmp_path: Path) -> None:
    report = import_assignment("otter", OTTER / "demo.ipynb", tmp_path / "source", "part-02-otter")
    nb = report.notebooks[0]
    assert [(q.qid, q.kind, round(q.points, 6)) for q in nb.questions] == [
        ("q1", "code", 1.0), ("q2", "code", 1.0), ("q3", "code", 1.0), ("q4", "manual", 1.0), ("q5", "manual", 1.0)]
    # 13 otter test cases: 11 of the forms f(x) == literal / np.isclose(f(x), literal) / assert … == literal
    # are judged outside; the `for … assert` loop and `type(x) == pd.Series` cannot be split and run inside
    assert (report.outside, report.inside) == (11, 2)
    inside = {t.name: t.cell for t in report.tests() if not t.outside}
    assert inside == {"q3_public_2": 32, "q3_public_3": 33}
    unconverted = {(u.cell, u.what) for u in report.unconverted}
    assert (1, "ASSIGNMENT CONFIG") in unconverted and (3, "%matplotlib magic") in unconverted
    assert any(u.cell == 28 and "PROMPT" in u.reason for u in report.unconverted)
    text = (tmp_path / "source" / "part-02-otter" / "import-report.md").read_text()
    for needle in ("q3_public_2 (cell 32)", "inside", "cell 1: ASSIGNMENT CONFIG", "| q5 | q5 | manual | 1 |"):
        assert needle in text


@needs_guide
def test_nbgrader_import_report(tmp_path: Path) -> None:
    report = import_assignment("nbgrader", NBGRADER_GUIDE / "source" / "ps1", tmp_path / "source", "part-01-ps1")
    by_nb = {nb.stem: nb for nb in report.notebooks}
    assert [(q.qid, q.kind, q.points) for q in by_nb["problem1"].questions] == [
        ("squares", "code", 2.0), ("sum_of_squares", "code", 1.0), ("sum_of_squares_equation", "manual", 1.0),
        ("sum_of_squares_application", "manual", 2.0), ("cell_938593c4a215c6cc", "manual", 4.0)]
    assert [(q.qid, q.kind, q.points) for q in by_nb["problem2"].questions] == [
        ("part_a", "manual", 1.0), ("part_b", "manual", 2.0)]
    how = {t.name: t.outside for t in report.tests()}
    # assert squares(1) == [1] … → outside; the try/except and `del squares` cells → inside
    assert how == {"correct_squares": True, "squares_invalid_input": False, "correct_sum_of_squares": True,
                   "sum_of_squares_uses_squares": False}


@needs_guide
def test_nbgrader_autotest_directives(tmp_path: Path) -> None:
    """nbgrader's ps1_autotest: `### AUTOTEST expr` values are compared outside; a helper's own verdict
    (`test_func_throws(...)`) runs inside; a cell the converter cannot take is named with its cell and reason."""
    report = import_assignment("nbgrader", NBGRADER_GUIDE / "source" / "ps1_autotest", tmp_path / "source",
                               "part-01-ps1")
    how = {t.name: (t.outside, t.how) for t in report.tests()}
    assert how["correct_squares"][0] and "squares(1), squares(2), squares(3)" in how["correct_squares"][1]
    assert how["correct_sum_of_squares"][0]
    assert not how["squares_invalid_input"][0] and "test_func_throws" in how["squares_invalid_input"][1]
    skipped = {(u.cell, u.what): u.reason for u in report.unconverted}
    assert "cannot be split" in skipped[(13, "test cell sum_of_squares_uses_squares")]
    assert "0 points" in skipped[(21, "test cell cell-6e9ff83aa5dfaf17")]


def test_cli_import_refuses_to_overwrite(tmp_path: Path) -> None:
    src = tmp_path / "master.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_raw_cell("# BEGIN QUESTION\nname: q1\npoints: 2"),
                nbformat.v4.new_raw_cell("# BEGIN SOLUTION"),
                nbformat.v4.new_code_cell("def f(x):\n    return 2 * x # SOLUTION"),
                nbformat.v4.new_raw_cell("# END SOLUTION"), nbformat.v4.new_raw_cell("# BEGIN TESTS"),
                nbformat.v4.new_code_cell("f(2) == 4"), nbformat.v4.new_code_cell("# HIDDEN\nassert f(3) == 6"),
                nbformat.v4.new_raw_cell("# END TESTS"), nbformat.v4.new_raw_cell("# END QUESTION")]
    nbformat.write(nb, src)
    (tmp_path / "course_config.py").write_text(CONFIG)
    args = ["--config", str(tmp_path / "course_config.py"), "import", "otter", str(src), "--part", "part-02-otter"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "2 judged outside, 0 judged inside" in first.output
    written = nbformat.read(tmp_path / "source" / "part-02-otter" / "master.ipynb", as_version=4)
    source = "\n".join(c.source for c in written.cells)
    assert "# ANSWER q1" in source and '@case(points=1.0, compare="equal")' in source
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0 and "--overwrite" in again.output


def test_manual_answers_are_found_by_id_not_position() -> None:
    """A submission of nbgrader's student version with its cells reordered: answers still go to their question."""
    cells = [{"cell_type": "markdown", "source": "B answer",
              "metadata": {"nbgrader": {"grade_id": "part-b", "solution": True, "grade": True}}},
             {"cell_type": "code", "source": "x = 1", "metadata": {}},
             {"cell_type": "markdown", "source": "A answer",
              "metadata": {"nbgrader": {"grade_id": "part-a", "solution": True, "grade": True}}}]
    assert manual_answers({"cells": cells}, ["part_a", "part_b"]) == {"part_a": "A answer", "part_b": "B answer"}
    assert question_id("part-a") == "part_a" and question_id("1.4") == "q1_4"


# ---------------------------------------------------------------- nbgrader's ps1, graded, vs nbgrader's results

def _nbgrader_recorded(student: str) -> dict[str, float]:
    """What nbgrader itself recorded in its autograded/ notebooks: a test cell scores its points unless it errored."""
    scores = {}
    for path in sorted((NBGRADER_GUIDE / "autograded" / student / "ps1").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell["cell_type"] == "code" and meta.get("grade") and not meta.get("solution"):
                failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
                scores[question_id(meta["grade_id"], prefix="t")] = 0.0 if failed else float(meta["points"])
    return scores


@needs_bwrap
@needs_guide
def test_nbgrader_ps1_graded_by_us_matches_nbgrader(course: Course, tmp_path: Path) -> None:
    import_assignment("nbgrader", NBGRADER_GUIDE / "source" / "ps1", course.source_dir, "part-01-ps1")
    subs = tmp_path / "submitted"
    for student in ("bitdiddle", "hacker"):  # nbgrader's layout, with its folder named after our part
        shutil.copytree(NBGRADER_GUIDE / "submitted" / student / "ps1", subs / student / "part-01-ps1")
    book = _build_and_grade(course, "part-01-ps1", subs)
    ours = _cases(book, "part-01-ps1")
    for student, raw_score in (("bitdiddle", 1.5), ("hacker", 3.0)):
        recorded = _nbgrader_recorded(student)
        assert set(recorded) == {"correct_squares", "squares_invalid_input", "correct_sum_of_squares",
                                 "sum_of_squares_uses_squares"}
        for case, points in recorded.items():
            passed, _possible, message = ours[(student, case)]
            assert passed == (points > 0), (student, case, message)
        # nbgrader's grades.csv raw_score (autograded part; manual cells not yet scored there either)
        autograded = sum(possible for (s, c), (passed, possible, _m) in ours.items() if s == student and passed)
        assert autograded == raw_score
    # Differences, explained:
    # 1. bitdiddle commented out correct_squares and emptied squares_invalid_input in his copy: nbgrader put its
    #    own cells back (checksums); we never run a submission's test cells at all — same verdicts (above).
    # 2. nbgrader's grades.csv says max_score 23; the notebooks it ships sum to 13 points in their metadata
    #    (problem1: 1+1+0.5+0.5+1+2+4, problem2: 1+2). We follow the notebooks.
    rows = {r["student"]: r for r in book.latest("part-01-ps1") if r["notebook"] == "problem1"}
    assert rows["hacker"]["possible"] == 10.0
    # 3. manual questions are carried with the student's answer (found by grade_id) and 0 until staff score them
    manual = ours[("bitdiddle", "part_b__manual")]
    assert manual[0] is False and "graded by hand" in manual[2] and "Answer: Not sure." in manual[2]
    _manual_questions_in_the_formgrader(course, book, tmp_path)


def _manual_questions_in_the_formgrader(course: Course, book: Gradebook, tmp_path: Path) -> None:
    """nbgrader's formgrader shows the manual questions as needing a grade; a TA's score there comes back to us."""
    from nbgrader.api import Gradebook as NbGradebook

    layout = HubLayout(tmp_path / "hub", course.id)
    assert sync_formgrader(course, book, layout, "part-01-ps1") == 2
    url = f"sqlite:///{layout.nbgrader_db}"
    with NbGradebook(url, course_id=course.id) as gb:
        grade = gb.find_grade("part_b", "problem2", "part-01-ps1", "hacker")
        assert grade.needs_manual_grade and grade.max_score == 2.0
        assert not gb.find_grade("squares", "problem1", "part-01-ps1", "hacker").needs_manual_grade
        grade.manual_score = 1.5  # what a TA does in the formgrader
        gb.db.commit()
    sync_formgrader(course, book, layout, "part-01-ps1")
    assert book.adjustments()[("hacker", "part-01-ps1", "problem2", "part_b")] == 1.5
    with NbGradebook(url, course_id=course.id) as gb:
        grade = gb.find_grade("part_b", "problem2", "part-01-ps1", "hacker")
        assert not grade.needs_manual_grade and grade.score == 1.5
    exported = otter_results(book, "part-01-ps1")[("hacker", "part-01-ps1", "problem2")]
    assert exported["part_b"]["score"] == 1.5


# ---------------------------------------------------------------- otter's tutorial, six submissions

_ORACLE = textwrap.dedent('''
    import ast, json, sys
    job = json.load(sys.stdin)
    env = {}
    for cell in json.load(open(job["notebook"]))["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        src = "\\n".join(line for line in src.splitlines()
                         if "otter" not in line and "grader." not in line and not line.startswith("%"))
        try:
            exec(compile(src, "<student>", "exec"), env)
        except Exception:  # a failing cell does not stop otter either
            pass
    scores = {}
    for qid, tests in job["tests"].items():
        earned = 0.0
        for body, _hidden, points in tests:
            g = dict(env)  # otter: each test case gets a copy of the globals
            try:
                tree = ast.parse(body)
                last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
                if last is not None:
                    tree.body = tree.body[:-1]
                exec(compile(tree, "<otter test>", "exec"), g)
                ok = True if last is None else bool(eval(compile(ast.Expression(last.value), "<t>", "eval"), g))
            except Exception:
                ok = False
            earned += float(points) if ok else 0.0
        scores[qid] = round(earned, 4)
    print(json.dumps(scores))
''')


def _otter_oracle(submission: Path, tests: dict[str, list[tuple[str, bool, float]]]) -> dict[str, float]:
    """Otter's own verdicts, computed the way otter does, in a separate process (the notebook may patch numpy):
    run the notebook's code, then each test case in a copy of its globals; a case passes if it raises nothing and
    its last expression, if any, is true (otter's doctest expects the solution's `True`)."""
    done = subprocess.run([sys.executable, "-c", _ORACLE], input=json.dumps({"notebook": str(submission),
                                                                             "tests": tests}),
                          capture_output=True, text=True, timeout=180, cwd=submission.parent,
                          env={**os.environ, "MPLBACKEND": "Agg"}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _otter_tests() -> dict[str, list[tuple[str, bool, float]]]:
    nb = json.loads((OTTER / "demo.ipynb").read_text())
    tests: dict[str, list[tuple[str, bool, float]]] = {}
    qid, inside = "", False
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "raw" and src.startswith("# BEGIN QUESTION"):
            qid = src.split("name:")[1].split()[0]
        elif cell["cell_type"] == "raw" and src.strip() in ("# BEGIN TESTS", "# END TESTS"):
            inside = src.strip() == "# BEGIN TESTS"
        elif inside and cell["cell_type"] == "code":
            hidden = src.startswith("# HIDDEN")
            tests.setdefault(qid, []).append((src.split("\n", 1)[1] if hidden else src, hidden, 0.0))
    return {q: [(b, h, 1 / len(t)) for b, h, _ in t] for q, t in tests.items()}  # otter: 1 point, shared


@needs_bwrap
@needs_otter
def test_otter_tutorial_six_submissions_get_otters_outcomes(course: Course, tmp_path: Path) -> None:
    import_assignment("otter", OTTER / "demo.ipynb", course.source_dir, "part-02-otter")
    subs = tmp_path / "subs"
    meta = {m["identifier"]: m["filename"] for m in json.loads((OTTER / "meta.json").read_text())}
    assert set(meta) == set(OTTER_IDS)
    for ident, filename in meta.items():
        (subs / ident).mkdir(parents=True)
        shutil.copy(OTTER / "submissions" / filename, subs / ident / "demo.ipynb")
    book = _build_and_grade(course, "part-02-otter", subs)
    ours = {r["student"]: {q: e for q, (e, _p) in r["questions"].items()} for r in book.latest("part-02-otter")}
    tests = _otter_tests()
    for ident in OTTER_IDS:
        oracle = _otter_oracle(subs / ident / "demo.ipynb", tests)
        for qid in ("q1", "q2", "q3"):
            assert ours[ident][qid] == pytest.approx(oracle[qid], abs=1e-4), (ident, qid)
        assert ours[ident]["q4"] == ours[ident]["q5"] == 0.0  # graded by hand
    # the names say the outcome: passesAll full marks; failsN loses on question N only; failsNHidden passes N's
    # public cases and loses on its hidden ones
    cases = _cases(book, "part-02-otter")
    for ident in OTTER_IDS:
        for qid in ("q1", "q2", "q3"):
            n = qid[1]
            full = ours[ident][qid] == pytest.approx(1.0, abs=1e-4)
            assert full == (ident == "passesAll" or f"fails{n}" not in ident), (ident, qid)
            if ident == f"fails{n}Hidden":
                public = [v[0] for (s, c), v in cases.items() if s == ident and c.startswith(f"{qid}_public")]
                hidden = [v[0] for (s, c), v in cases.items() if s == ident and c.startswith(f"{qid}_hidden")]
                assert all(public) and not all(hidden), (ident, qid)
    # fails1 cubes: 1³ = 1 and 0³ = 0 pass the public cases, 2.5³ fails the hidden one
    assert ours["fails1"]["q1"] == pytest.approx(2 / 3, abs=1e-4)
    # Difference from otter's run of 2020: fails3 groups by "scoops"; with pandas ≥ 2 `.mean()` over the string
    # column raises, so `price_by_flavor` is never defined and 2/8 of q3 pass here (otter under pandas 1.x: 3/8,
    # the type check passing too). The oracle above runs otter's tests in this same environment and agrees.
    assert ours["fails3"]["q3"] == pytest.approx(0.25, abs=1e-4)
    # the imported part validates like any part: solution full marks on every autograded case, stub zero
    report = validate_part(course, "part-02-otter", BwrapSandbox(course.sandbox.limits))
    assert report.ok, [p for n in report.notebooks for p in n.problems] + report.sync_problems
    # and the results go back out in otter's shape
    out = CliRunner().invoke(main, ["--config", str(course.root / "course_config.py"), "export", "--format",
                                    "otter-results", "--db", f"sqlite:///{course.root / 'gb.sqlite'}",
                                    "-o", str(tmp_path / "otter-results")])
    assert out.exit_code == 0 and "wrote 6 otter results file(s)" in out.output, out.output
    fails1 = json.loads((tmp_path / "otter-results" / "fails1" / "part-02-otter" / "demo.results.json").read_text())
    assert fails1["q1"]["score"] == pytest.approx(2 / 3, abs=1e-4) and fails1["q1"]["possible"] == 1.0
    assert [r["passed"] for r in fails1["q1"]["test_case_results"]] == [True, True, False]


# ---------------------------------------------------------------- adversarial submissions on converted tests

ADVERSARIAL = '''
import numpy as np
import pandas as pd
np.isclose = lambda *a, **k: True
np.allclose = lambda *a, **k: True

class Liar:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__

class LyingInt(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

def square(x):
    return Liar() if x > 1 else LyingInt(7)

def fiberator():
    while True:
        yield Liar()

data = pd.DataFrame({"flavor": ["a", "b"], "price": [1, 2]})
price_by_flavor = {"chocolate": Liar(), "mint": Liar(), "strawberry": Liar()}
'''


@needs_bwrap
@needs_otter
def test_patched_isclose_and_lying_eq_gain_nothing_on_converted_tests(course: Course, tmp_path: Path) -> None:
    import_assignment("otter", OTTER / "demo.ipynb", course.source_dir, "part-02-otter")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(ADVERSARIAL)]
    (tmp_path / "subs" / "cheater").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "subs" / "cheater" / "demo.ipynb")
    book = _build_and_grade(course, "part-02-otter", tmp_path / "subs")
    cases = {c: v for (s, c), v in _cases(book, "part-02-otter").items() if s == "cheater"}
    converted = [c for c in cases if c not in ("q3_public_2", "q3_public_3", "q4__manual", "q5__manual")]
    assert len(converted) == 11
    # every outside-judged case: the lying objects cannot cross as JSON, the patched np.isclose never runs
    assert {c: cases[c][0] for c in converted} == {c: False for c in converted}
    (row,) = book.latest("part-02-otter")
    assert row["earned"] == 0.0
    # under otter the same notebook passes every np.isclose / == test: its doctests compare inside the process
    oracle = _otter_oracle(tmp_path / "subs" / "cheater" / "demo.ipynb", _otter_tests())
    assert oracle["q1"] == pytest.approx(1.0) and oracle["q3"] > 0


LYING_PS1 = '''
class Agreeable(list):
    def __eq__(self, other):
        return True

class AgreeableInt(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

def squares(n):
    if n < 1:
        raise ValueError("n must be at least 1")
    return Agreeable()

def sum_of_squares(n):
    return AgreeableInt(len(squares(n)))
'''

_NBGRADER_ORACLE = textwrap.dedent('''
    import json, sys
    job = json.load(sys.stdin)
    env = {}
    exec(job["student"], env)
    scores = {}
    for name, (body, points) in job["tests"].items():
        try:
            exec(body, env)  # nbgrader: the test cell runs in the notebook's own namespace
            scores[name] = points
        except Exception:
            scores[name] = 0.0
    print(json.dumps(scores))
''')


@needs_bwrap
@needs_guide
def test_lying_eq_fools_nbgraders_asserts_but_not_our_converted_tests(course: Course, tmp_path: Path) -> None:
    """`assert squares(1) == [1]` passes in nbgrader for a list whose __eq__ always says True; here the value
    crosses as plain JSON and is compared outside: the converted cases give nothing. The cases that stay inside
    (raises ValueError; uses squares) are honestly passed by this notebook in both tools."""
    import_assignment("nbgrader", NBGRADER_GUIDE / "source" / "ps1", course.source_dir, "part-01-ps1")
    source = json.loads((NBGRADER_GUIDE / "source" / "ps1" / "problem1.ipynb").read_text())
    tests = {}
    for cell in source["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("grade") and not meta.get("solution"):
            tests[meta["grade_id"]] = ("".join(cell["source"]), float(meta["points"]))
    done = subprocess.run([sys.executable, "-c", _NBGRADER_ORACLE], capture_output=True, text=True, timeout=120,
                          input=json.dumps({"student": LYING_PS1, "tests": tests}), check=True)
    nbgrader = json.loads(done.stdout)
    assert nbgrader == {"correct_squares": 1.0, "squares_invalid_input": 1.0, "correct_sum_of_squares": 0.5,
                        "sum_of_squares_uses_squares": 0.5}  # fooled on the two == cells
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(LYING_PS1)]
    (tmp_path / "subs" / "liar" / "part-01-ps1").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "subs" / "liar" / "part-01-ps1" / "problem1.ipynb")
    book = _build_and_grade(course, "part-01-ps1", tmp_path / "subs")
    ours = {c: v[0] for (s, c), v in _cases(book, "part-01-ps1").items() if s == "liar"}
    assert ours["correct_squares"] is False and ours["correct_sum_of_squares"] is False  # judged outside
    assert ours["squares_invalid_input"] is True and ours["sum_of_squares_uses_squares"] is True  # honest, inside
