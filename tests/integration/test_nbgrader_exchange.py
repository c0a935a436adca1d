"""release/ works with nbgrader's real file exchange: release → fetch → submit → collect → course grade."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from aiml_course.config import load_course
from aiml_course.gradebook import Gradebook
from aiml_course.grading.pipeline import grade_part
from aiml_course.sandbox import make_sandbox
from tests.conftest import ROOT, bwrap_available

PART = "part-02-first-neuron"
BIN = ROOT / ".venv" / "bin"


def nbgrader(cwd: Path, *args: str) -> str:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout + proc.stderr


def test_release_fetch_submit_collect_then_grade(tmp_path: Path) -> None:
    """Does a part released with nbgrader reach the student with its .checks, and come back gradable?"""
    course_dir, student_dir, exchange = tmp_path / "course", tmp_path / "student", tmp_path / "exchange"
    for d in (course_dir, student_dir, exchange):
        d.mkdir()
    exchange.chmod(0o777)
    shutil.copytree(ROOT / "release" / PART, course_dir / "release" / PART)
    config = (f"c = get_config()\nc.CourseDirectory.course_id = 'aiml101'\n"
              f"c.CourseDirectory.root = {str(course_dir)!r}\nc.Exchange.root = {str(exchange)!r}\n")
    for d in (course_dir, student_dir):
        (d / "nbgrader_config.py").write_text(config)

    nbgrader(course_dir, "db", "assignment", "add", PART)
    assert "Released as: aiml101 " + PART in nbgrader(course_dir, "release_assignment", PART)
    assert PART in nbgrader(student_dir, "list")
    nbgrader(student_dir, "fetch_assignment", PART)
    fetched = student_dir / PART
    assert (fetched / ".checks" / "2.1-simplest-neuron.json").is_file()
    for nb in (ROOT / "tests" / "submissions" / PART / "alice").glob("*.ipynb"):
        shutil.copy(nb, fetched / nb.name)  # the student does the work
    nbgrader(student_dir, "submit", PART)
    nbgrader(course_dir, "collect", PART)
    submitted = course_dir / "submitted"
    student = next(p.name for p in submitted.iterdir())
    assert (submitted / student / PART / "timestamp.txt").is_file()

    course = load_course(ROOT / "course_config.py")
    summary = grade_part(course, PART, submitted, gradebook=Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}"),
                         sandbox=make_sandbox("bwrap" if bwrap_available() else "none", course.sandbox.limits),
                         workers=2, show_progress=False)
    assert len(summary.graded) == len(list((ROOT / "release" / PART).glob("*.ipynb")))  # every notebook of the part
    assert all(g.earned == g.possible > 0 for _, g in summary.graded), summary.table()
