"""The README's main job and the CLI's forwarding, run for real on the real Part 2."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from aiml_course.cli import main
from tests.conftest import MINI, ROOT, bwrap_available

PART = "part-02-first-neuron"


def test_samples_match_the_source_notebooks(tmp_path: Path) -> None:
    """Are the shipped sample submissions what make_samples.py generates from today's source notebooks?"""
    sys.path.insert(0, str(ROOT / "tests" / "submissions"))
    import make_samples

    make_samples.generate(tmp_path)
    shipped = ROOT / "tests" / "submissions" / PART
    made = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    have = {p.relative_to(shipped): p.read_bytes() for p in shipped.rglob("*") if p.is_file()}
    assert made == have, "run: .venv/bin/python tests/submissions/make_samples.py"


def test_course_demo_grades_the_samples_end_to_end(tmp_path: Path) -> None:
    """Does `course demo` build, grade every sample, write the gradebook, CSV and reports, and rank them right?"""
    out = tmp_path / "demo"
    args = [str(ROOT / ".venv" / "bin" / "course"), "demo", "--out", str(out)]
    if not bwrap_available():
        args[2:2] = []
        args += ["--sandbox", "none"]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "grades CSV:" in proc.stdout and str(out / "grades.csv") in proc.stdout
    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "eve", "frank"]
    pct = {s: 100 * float(r[f"{PART}:score"]) / float(r[f"{PART}:possible"]) for s, r in rows.items()}
    assert pct["alice"] == 100.0
    assert 20 < pct["bob"] < 90 and float(rows["bob"][f"{PART}:late_penalty"]) == 0.1
    assert pct["dave"] == 0.0 and pct["frank"] == 0.0
    assert pct["eve"] < 10 and pct["carol"] < 10
    question_cols = [c for c in rows["alice"] if c.startswith(f"{PART}/")]
    assert len(question_cols) >= 15 and all(float(rows["dave"][c]) == 0 for c in question_cols)
    report = json.loads((out / "feedback" / "frank" / "2.1-simplest-neuron.json").read_text())
    assert "not a valid notebook" in report["problem"]
    html = (out / "feedback" / "bob" / "2.1-simplest-neuron.html").read_text()
    assert "Score:" in html and "BEGIN SOLUTION" not in html


def test_cheating_gains_nothing_over_the_same_answers_without_the_cheat(tmp_path: Path) -> None:
    """Does eve's monkeypatching cell change her score at all (compared with the same notebook without it)?"""
    from aiml_course.config import load_course
    from aiml_course.gradebook import Gradebook
    from aiml_course.grading.pipeline import grade_part
    from aiml_course.sandbox import make_sandbox

    course = load_course(ROOT / "course_config.py")
    subs = tmp_path / "subs"
    for name in ("eve", "eve_without_cheat"):
        (subs / name).mkdir(parents=True)
    for nb in (ROOT / "tests" / "submissions" / PART / "eve").glob("*.ipynb"):
        data = json.loads(nb.read_text())
        shutil.copy(nb, subs / "eve" / nb.name)
        data["cells"] = [c for c in data["cells"] if "np.allclose = lambda" not in "".join(c["source"])]
        (subs / "eve_without_cheat" / nb.name).write_text(json.dumps(data))
    backend = "bwrap" if bwrap_available() else "none"
    summary = grade_part(course, PART, subs, gradebook=Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}"),
                         sandbox=make_sandbox(backend, course.sandbox.limits), workers=2, show_progress=False)
    scores: dict[str, dict[str, float]] = {}
    for student, grade in summary.graded:
        scores.setdefault(student, {})[grade.notebook] = grade.earned
    assert scores["eve"] == scores["eve_without_cheat"]


def test_cli_reports_course_errors_cleanly_with_exit_code_2(tmp_path: Path) -> None:
    """Does a bad part name give a one-line error naming the known parts, and exit 2 (no traceback)?"""
    result = CliRunner().invoke(main, ["--config", str(ROOT / "course_config.py"), "build", "part-99"])
    assert result.exit_code == 2
    assert "unknown part 'part-99'" in result.output and "part-02-first-neuron" in result.output


def test_cli_lint_validate_build_grade_export_on_the_mini_course(tmp_path: Path) -> None:
    """Do the commands forward to the library: lint finds findings, build/validate pass, grade and export write?"""
    root = tmp_path / "mini"
    shutil.copytree(MINI, root)
    cfg = ["--config", str(root / "course_config.py")]
    backend = [] if bwrap_available() else ["--sandbox", "none"]
    runner = CliRunner()
    lint = runner.invoke(main, [*cfg, "lint", str(root / "source")])
    assert lint.exit_code == 1 and "[cell-count]" in lint.output  # the mini notebook is deliberately short
    assert runner.invoke(main, [*cfg, "build", *backend]).exit_code == 0
    validate = runner.invoke(main, [*cfg, "validate", *backend])
    assert validate.exit_code == 0 and "validate: all good" in validate.output
    subs = root / "subs" / "alice"
    subs.mkdir(parents=True)
    shutil.copy(root / "release" / "part-01-mini" / "1.1-mini.ipynb", subs)
    db = f"sqlite:///{root / 'gb.sqlite'}"
    graded = runner.invoke(main, [*cfg, "grade", "part-01", str(root / "subs"), "--db", db, *backend])
    assert graded.exit_code == 0 and "alice" in graded.output and "0/8" in graded.output
    exported = runner.invoke(main, [*cfg, "export", "--db", db, "-o", str(root / "g.csv")])
    assert exported.exit_code == 0 and (root / "g.csv").read_text().startswith("student,name,cohort,")
