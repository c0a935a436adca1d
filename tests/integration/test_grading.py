"""Grading on the mini course: sandboxed runs judged outside, adversarial submissions, gradebook and CSV."""

from __future__ import annotations

import csv
import json
from datetime import UTC
from pathlib import Path

import pytest

from aiml_course.config import Course, Limits
from aiml_course.export import export_csv
from aiml_course.gradebook import CaseRow, Gradebook, Submission
from aiml_course.grading.engine import NotebookGrade
from aiml_course.grading.pipeline import SubmissionFile, grade_one, grade_part, load_bundles
from aiml_course.sandbox import BwrapSandbox, LocalSandbox, Sandbox
from tests.conftest import bwrap_available

PART, NB = "part-01-mini", "1.1-mini"
CORRECT = {
    "q1": "def double(x):\n    return x + x",
    "q2": "def squares(n):\n    return [i * i for i in range(n)]",
    "quiz": 'quiz_answers = {1: "B", 2: "b"}',
}


def notebook(course: Course, answers: dict[str, str], *, before: tuple[str, ...] = (),
             after: tuple[str, ...] = ()) -> str:
    """The released student notebook with answer cells filled in and extra code cells added."""
    nb = json.loads((course.release_dir / PART / f"{NB}.ipynb").read_text())
    for cell in nb["cells"]:
        meta = cell["metadata"].get("aiml", {})
        if meta.get("role") == "answer" and meta["question"] in answers:
            cell["source"] = answers[meta["question"]]
    extra = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
             for s in before]
    tail = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
            for s in after]
    nb["cells"] = nb["cells"][:2] + extra + nb["cells"][2:] + tail
    return json.dumps(nb)


def grade_text(course: Course, sandbox: Sandbox, text: str, tmp_path: Path, name: str = "s") -> NotebookGrade:
    path = tmp_path / name / f"{NB}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    from datetime import datetime

    sub = SubmissionFile(name, NB, path, datetime.now(UTC))
    grade, _ = grade_one(course, PART, load_bundles(course, PART)[NB], sub, sandbox, {})
    return grade


def test_correct_submission_scores_full_marks(mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """Does a right answer to everything score 8/8, with no problem reported?"""
    grade = grade_text(mini_course, sandbox, notebook(mini_course, CORRECT), tmp_path)
    assert (grade.earned, grade.possible) == (8, 8), [c.message for c in grade.cases]
    assert grade.problem == ""


def test_unanswered_release_scores_zero(mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """Does the untouched student notebook score 0 and say the code raised NotImplementedError?"""
    grade = grade_text(mini_course, sandbox, notebook(mini_course, {}), tmp_path)
    assert grade.earned == 0 and grade.possible == 8
    assert any("NotImplementedError" in c.message for c in grade.cases)


def test_partial_credit_per_case(mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """Is each case scored on its own: q1 right (4), q2 half right (1), one quiz answer right (1)?"""
    answers = {**CORRECT, "q2": "def squares(n):\n    return list(range(n))", "quiz": 'quiz_answers = {1: "B", 2: "A"}'}
    grade = grade_text(mini_course, sandbox, notebook(mini_course, answers), tmp_path)
    assert grade.by_question() == {"q1": (4, 4), "q2": (1, 2), "quiz": (1, 2)}


def test_hidden_failures_never_show_the_expected_value(mini_course: Course, sandbox: Sandbox,
                                                       tmp_path: Path) -> None:
    """Does a failed hidden case say failed and the hint, but never the reference nor what came back?"""
    answers = {**CORRECT, "q1": "def double(x):\n    return x * 3 if x != 3 else 6"}
    grade = grade_text(mini_course, sandbox, notebook(mini_course, answers), tmp_path)
    hidden = next(c for c in grade.cases if c.name == "double_of_many_secret_values")
    assert hidden.earned == 0 and hidden.message.startswith("✗") and "got" not in hidden.message
    bundle = load_bundles(mini_course, PART)[NB]
    for value in bundle["references"]["double_of_many_secret_values"]:
        assert f"{value:.4f}"[:7] not in hidden.message


@pytest.mark.parametrize("leak", [
    "def double(x):\n    raise ValueError(repr(x))",      # the inputs in an exception message
    "def double(x):\n    return repr(x)",                 # the inputs as the returned value
])
def test_hidden_inputs_never_come_back_in_the_feedback(mini_course: Course, sandbox: Sandbox, tmp_path: Path,
                                                      leak: str) -> None:
    """Can a submission read a hidden case's inputs out of its own feedback? (It could then hard-code them.)"""
    import numpy as np

    grade = grade_text(mini_course, sandbox, notebook(mini_course, {**CORRECT, "q1": leak}), tmp_path)
    hidden = next(c for c in grade.cases if c.name == "double_of_many_secret_values")
    assert hidden.earned == 0 and hidden.message.startswith("✗")
    assert "ValueError" not in hidden.message and "a list of" not in hidden.message
    for value in np.random.default_rng(1).normal(size=10):   # the hidden inputs, as the source notebook makes them
        assert f"{value:.3f}"[:6] not in hidden.message, hidden.message


def test_monkeypatching_comparisons_gains_nothing(mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """Do patched np.allclose / np.isclose / math.isclose / builtins give a wrong answer zero points?"""
    cheat = ("import builtins, math, numpy as np\n"
             "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
             "math.isclose = lambda *a, **k: True\nbuiltins.isinstance = lambda *a: True\n"
             "builtins.sum = lambda *a, **k: 0\n")
    wrong = {"q1": "def double(x):\n    return 0", "q2": "def squares(n):\n    return 5"}
    grade = grade_text(mini_course, sandbox, notebook(mini_course, wrong, before=(cheat,)), tmp_path)
    assert grade.by_question()["q1"] == (0, 4)
    assert grade.by_question()["q2"] == (0, 2)


def test_an_error_in_one_cell_does_not_stop_the_rest(mini_course: Course, sandbox: Sandbox,
                                                    tmp_path: Path) -> None:
    """Does a cell that raises cost only what depends on it, with the error listed for the student?"""
    grade = grade_text(mini_course, sandbox,
                       notebook(mini_course, CORRECT, before=("import no_such_module",)), tmp_path)
    assert grade.earned == 8
    assert grade.cell_errors and grade.cell_errors[0]["name"] == "ModuleNotFoundError"


def test_noise_on_stdout_and_stderr_costs_nothing(mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """Do warnings, stderr output and a flood of prints leave the score alone?"""
    noise = ("import sys, warnings\nwarnings.warn('deprecated!')\nprint('x' * 10_000_000)\n"
             "for i in range(1000):\n    print('progress', i, file=sys.stderr)")
    grade = grade_text(mini_course, sandbox, notebook(mini_course, CORRECT, before=(noise,)), tmp_path)
    assert grade.earned == 8


@pytest.mark.parametrize(("cell", "reason"), [
    ("import os\nos._exit(3)", "stopped before the tests could run"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "killed by signal SIGKILL"),
])
def test_killing_the_grader_yields_zero_with_the_reason(mini_course: Course, sandbox: Sandbox, tmp_path: Path,
                                                        cell: str, reason: str) -> None:
    """Does a notebook that kills its own process get a zero row with the reason, not a lost submission?"""
    grade = grade_text(mini_course, sandbox, notebook(mini_course, CORRECT, after=(cell,)), tmp_path)
    assert grade.earned == 0 and grade.possible == 8
    assert reason in grade.problem


def test_an_endless_cell_is_interrupted_and_the_rest_graded(mini_course: Course, tmp_path: Path,
                                                            sandbox: Sandbox) -> None:
    """Is a `while True` cell stopped at the per-cell limit while the other answers still count?"""
    import copy

    quick = copy.copy(sandbox)  # the same backend (and warm fork server) with this part's tighter limits
    quick.limits = Limits(cell_seconds=2, wall_seconds=30)
    grade = grade_text(mini_course, quick, notebook(mini_course, CORRECT, before=("while True:\n    pass",)),
                       tmp_path)
    assert grade.earned == 8
    assert grade.cell_errors[0]["name"] == "CellTimeout"


def test_sleeping_past_the_wall_limit_is_killed(mini_course: Course, tmp_path: Path) -> None:
    """Is a notebook that outlives the wall-clock limit (and ignores alarms) killed with zero points?"""
    limits = Limits(cell_seconds=2, wall_seconds=4)
    box = BwrapSandbox(limits) if bwrap_available() else LocalSandbox(limits)
    ignore = "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ntime.sleep(60)"
    grade = grade_text(mini_course, box, notebook(mini_course, CORRECT, before=(ignore,)), tmp_path)
    assert grade.earned == 0 and "time limit" in grade.problem


def test_corrupt_notebook_json_is_a_zero_with_a_reason(mini_course: Course, sandbox: Sandbox,
                                                       tmp_path: Path) -> None:
    """Is a notebook file that is not JSON graded zero with a clear reason (no crash)?"""
    grade = grade_text(mini_course, sandbox, '{"cells": [', tmp_path)
    assert grade.earned == 0 and "not a valid notebook" in grade.problem


def test_forged_records_file_is_ignored(mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """Does writing a fake results file from the notebook change nothing?"""
    forge = ("import json, os\nfor d in ('/job/out', '../out'):\n    try:\n"
             "        open(os.path.join(d, 'records.json'), 'w').write(json.dumps({'schema_version': 1, "
             "'records': {'double_of_three': {'ok': True, 'value': 6}}}))\n    except OSError:\n        pass")
    grade = grade_text(mini_course, sandbox, notebook(mini_course, {}, before=(forge,)), tmp_path)
    assert grade.earned == 0


def _write(dir_: Path, student: str, text: str, stamp: str | None = None) -> None:
    folder = dir_ / student / PART
    folder.mkdir(parents=True)
    (folder / f"{NB}.ipynb").write_text(text)
    if stamp:
        (folder / "timestamp.txt").write_text(stamp)


def test_grade_part_gradebook_export_and_idempotent_regrade(mini_course: Course, sandbox: Sandbox,
                                                             tmp_path: Path) -> None:
    """Does grading a folder fill the gradebook, export one CSV row per student, and re-grade idempotently?"""
    subs = tmp_path / "submitted"
    _write(subs, "alice", notebook(mini_course, CORRECT), "2026-01-10 11:00:00.000000 UTC")
    _write(subs, "bob", notebook(mini_course, {"q1": CORRECT["q1"]}), "2026-01-11 15:00:00.000000 UTC")
    (subs / "carol").mkdir()  # enrolled, submitted nothing
    db = Gradebook(f"sqlite:///{tmp_path / 'gb.sqlite'}")
    summary = grade_part(mini_course, PART, subs, gradebook=db, sandbox=sandbox, workers=2,
                         reports=tmp_path / "feedback", show_progress=False)
    assert sorted((s, g.earned) for s, g in summary.graded) == [("alice", 8), ("bob", 4), ("carol", 0)]
    out = export_csv(mini_course, db, tmp_path / "grades.csv")
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert list(rows) == ["alice", "bob", "carol"]
    assert rows["alice"]["part-01-mini/1.1-mini:q1"] == "4.0" and rows["alice"]["percent"] == "100.0"
    assert float(rows["bob"]["part-01-mini:late_penalty"]) == pytest.approx(0.2)  # 1 day 3 h late: 2 days
    assert float(rows["bob"]["part-01-mini:score"]) == pytest.approx(3.2)
    assert rows["carol"]["part-01-mini:raw"] == "0.0"
    html = (tmp_path / "feedback" / "bob" / f"{NB}.html").read_text()
    assert "Score: 4 / 8" in html and "double_of_many_secret_values" not in html
    import nbformat

    feedback = nbformat.read(tmp_path / "feedback" / "bob" / f"{NB}.feedback.ipynb", as_version=4)
    nbformat.validate(feedback)
    text = "\n".join(c.source for c in feedback.cells)
    assert "**Score: 4 / 8**" in text and "Feedback on `q2`: 0 / 2 points" in text
    bundle = load_bundles(mini_course, PART)[NB]
    assert "double_of_many_secret_values" not in text and "rng.normal" not in text
    assert not any(str(v)[:8] in text for v in bundle["references"]["double_of_many_secret_values"])

    again = grade_part(mini_course, PART, subs, gradebook=db, sandbox=sandbox, show_progress=False)
    assert again.skipped == 2 and len(again.graded) == 1  # carol (nothing submitted) is re-checked
    with db.session() as s:
        counts = (s.query(Submission).count(), s.query(CaseRow).count())
    grade_part(mini_course, PART, subs, gradebook=db, sandbox=sandbox, force=True, show_progress=False)
    with db.session() as s:
        assert (s.query(Submission).count(), s.query(CaseRow).count()) == counts


def test_deleted_or_edited_test_cells_change_nothing(mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """Do deleted public tests and a test cell rewritten to 'pass' leave grading to the bundle's cases?"""
    nb = json.loads(notebook(mini_course, {"q1": "def double(x):\n    return -1", "q2": CORRECT["q2"]}))
    nb["cells"] = [c for c in nb["cells"] if not "".join(c["source"]).startswith("# TESTS q1")]
    for cell in nb["cells"]:
        if "".join(cell["source"]).startswith("# TESTS q2"):
            cell["source"] = "# TESTS q2\ndouble_of_three = lambda: 6\ncase = None"
    grade = grade_text(mini_course, sandbox, json.dumps(nb), tmp_path)
    assert grade.by_question()["q1"] == (0, 4) and grade.by_question()["q2"] == (2, 2)


def test_unknown_kernel_name_is_graded_as_python(mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """Is a notebook whose metadata names a kernel that does not exist still graded normally?"""
    nb = json.loads(notebook(mini_course, CORRECT))
    nb["metadata"]["kernelspec"] = {"name": "julia-1.9", "display_name": "Julia", "language": "julia"}
    assert grade_text(mini_course, sandbox, json.dumps(nb), tmp_path).earned == 8


def test_a_flood_written_straight_to_file_descriptors_is_capped(mini_course: Course, tmp_path: Path,
                                                                 sandbox: Sandbox) -> None:
    """Does writing ~1 GiB to fd 1 and fd 2 (bypassing sys.stdout) stop at the output limit and still grade?"""
    flood = ("import os\nchunk = b'x' * 2**20\nfor fd in (1, 2):\n    try:\n        for _ in range(512):\n"
             "            os.write(fd, chunk)\n    except OSError:\n        pass")
    grade = grade_text(mini_course, sandbox, notebook(mini_course, CORRECT, before=(flood,)), tmp_path)
    assert grade.earned == 8
    if sandbox.name != "docker":  # docker keeps logs itself; the file-size limit caps our log files
        assert grade.run["output_truncated"] is True


def test_reading_other_submissions_and_the_gradebook_fails(mini_course: Course, sandbox: Sandbox,
                                                           tmp_path: Path) -> None:
    """Can a notebook see the course folder, other students' work or the gradebook? (Its answer says.)"""
    others = tmp_path / "other-student" / f"{NB}.ipynb"
    others.parent.mkdir()
    others.write_text("secret")
    gradebook = mini_course.root / "var" / "gradebook.sqlite"
    gradebook.parent.mkdir(parents=True, exist_ok=True)
    gradebook.write_text("grades")
    paths = [str(others), str(gradebook), str(mini_course.autograder_dir), str(mini_course.source_dir)]
    probe = f"import os\nSEEN = [p for p in {paths!r} if os.path.exists(p)]"
    answer = {**CORRECT, "q2": "def squares(n):\n    return SEEN if SEEN else [i * i for i in range(n)]"}
    grade = grade_text(mini_course, sandbox, notebook(mini_course, answer, before=(probe,)), tmp_path)
    if sandbox.isolated:
        assert grade.by_question()["q2"] == (2, 2)  # nothing was visible, so the honest answer came back


def test_ctrl_c_keeps_what_was_graded_and_a_rerun_finishes(mini_course: Course, tmp_path: Path) -> None:
    """After Ctrl-C in the middle of `course grade`, are finished results kept and does a re-run do only the rest?"""
    import signal
    import subprocess
    import time

    from tests.conftest import ROOT

    subs = tmp_path / "subs"
    slow = "import time\ntime.sleep(3)"
    for n in range(6):
        (subs / f"s{n}").mkdir(parents=True)
        (subs / f"s{n}" / f"{NB}.ipynb").write_text(notebook(mini_course, CORRECT, before=(slow,) if n else ()))
    db = f"sqlite:///{tmp_path / 'g.sqlite'}"
    backend = [] if bwrap_available() else ["--sandbox", "none"]
    argv = [str(ROOT / ".venv" / "bin" / "course"), "--config", str(mini_course.root / "course_config.py"),
            "grade", PART, str(subs), "--db", db, "--workers", "1", *backend]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    book = Gradebook(db)
    deadline = time.monotonic() + 120
    while not book.latest(PART) and time.monotonic() < deadline:  # wait for the first recorded result
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted: everything finished before now is saved" in err
    kept = {r["student"] for r in book.latest(PART)}
    assert 1 <= len(kept) < 6, kept
    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{len(kept)} skipped" in rerun.stdout
    assert {r["student"] for r in book.latest(PART)} == {f"s{n}" for n in range(6)}
    assert all(r["earned"] == 8 for r in book.latest(PART))


def test_a_notebook_that_looks_for_the_grader_finds_nothing_useful(mini_course: Course, sandbox: Sandbox,
                                                                   tmp_path: Path) -> None:
    """Searching the environment, /proc and every visible file finds no expected value, tolerance or judge.

    (Hidden *inputs* may be visible by design: the probes that call the student's code run in the sandbox.)
    """
    bundle = load_bundles(mini_course, PART)[NB]
    refs = bundle["references"]["double_of_many_secret_values"]
    secrets = ["is_even_integer", "Add x to itself", f"{refs[0]:.10f}"[:9], f"{refs[1]:.10f}"[:9]]
    search = f"""import os
secrets = {secrets!r}
found = []
blob = repr(dict(os.environ)) + open('/proc/1/cmdline', 'rb').read().decode(errors='replace')
found += [s for s in secrets if s in blob]
for top in ('/job', '/tmp', '/proc/self/cwd'):
    for dirpath, dirs, files in os.walk(top):
        if 'pyvenv.cfg' in files or 'aiml_course' in dirs:  # the Python environment and our code: public
            dirs[:] = []
            continue
        for f in files[:200]:
            if f == 'notebook.ipynb':  # this very search, with the secrets it looks for
                continue
            try:
                text = open(os.path.join(dirpath, f), errors='replace').read(2_000_000)
            except OSError:
                continue
            found += [s + ' in ' + os.path.join(dirpath, f) for s in secrets if s in text]
FOUND = sorted(set(found))"""
    answer = {**CORRECT, "q2": "def squares(n):\n    return FOUND if FOUND else [i * i for i in range(n)]"}
    grade = grade_text(mini_course, sandbox, notebook(mini_course, answer, before=(search,)), tmp_path)
    if sandbox.isolated:
        assert grade.by_question()["q2"] == (2, 2), [c.message for c in grade.cases if c.question == "q2"]
