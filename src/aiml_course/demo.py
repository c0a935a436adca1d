"""`course demo`: the whole chain on the sample submissions shipped under tests/submissions/."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiml_course.authoring.build import build_part, out_of_sync, write_build
from aiml_course.config import Course
from aiml_course.export import export_csv
from aiml_course.gradebook import Gradebook
from aiml_course.grading.pipeline import GradeSummary, grade_part
from aiml_course.sandbox import Sandbox

DEMO_PART = "part-02-first-neuron"


@dataclass
class DemoResult:
    summary: GradeSummary
    db_url: str
    csv: Path
    reports: Path


def run_demo(course: Course, out: Path, sandbox: Sandbox, echo: Callable[[str], None] = print) -> DemoResult:
    part = course.part(DEMO_PART).id
    echo(f"1/4 build {part} (release/ and autograder/)")
    result = build_part(course, part, sandbox, progress=lambda n: echo(f"    {n}"))
    stale = out_of_sync(course, result)
    if stale:
        echo(f"    release/ or autograder/ was out of date ({len(stale)} file(s)); rewriting")
        write_build(course, result)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    db_url = f"sqlite:///{(out / 'gradebook.sqlite').resolve()}"
    submissions = course.root / "tests" / "submissions" / part
    echo(f"2/4 grade the sample submissions in {submissions}")
    summary = grade_part(course, part, submissions, gradebook=Gradebook(db_url), sandbox=sandbox,
                         workers=course.sandbox.workers, reports=out / "feedback")
    echo("3/4 gradebook written")
    csv = export_csv(course, Gradebook(db_url), out / "grades.csv")
    echo("4/4 CSV exported")
    return DemoResult(summary, db_url, csv, out / "feedback")
