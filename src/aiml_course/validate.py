"""`course validate`: run each source notebook for real and prove its tests mean something.

For every notebook of a part: the solution runs end to end and scores full marks; the student stub scores zero on
every autograded case (a case that passes on the stub tests nothing); the references reproduce; release/ and
autograder/ are exactly what `course build` writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiml_course.authoring.build import build_notebook, out_of_sync, source_notebooks
from aiml_course.authoring.render import probe_cells
from aiml_course.config import Course
from aiml_course.errors import CourseError
from aiml_course.grading.engine import execute, judge
from aiml_course.sandbox import Sandbox


@dataclass
class NotebookCheck:
    notebook: str
    questions: int = 0
    public: int = 0
    hidden: int = 0
    solution: tuple[float, float] = (0.0, 0.0)
    stub: tuple[float, float] = (0.0, 0.0)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ValidationReport:
    part: str
    notebooks: list[NotebookCheck] = field(default_factory=list)
    sync_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.notebooks) and not self.sync_problems


def validate_part(course: Course, part: str, sandbox: Sandbox,
                  progress: Callable[[str], None] | None = None) -> ValidationReport:
    from aiml_course.authoring.build import BuildResult

    report = ValidationReport(part)
    built_all = BuildResult(part)
    for path in source_notebooks(course, part):
        if progress:
            progress(path.name)
        check = NotebookCheck(path.stem)
        report.notebooks.append(check)
        start = time.monotonic()
        try:
            built = build_notebook(course, part, path, sandbox, use_cache=False)
        except CourseError as exc:
            check.problems.append(str(exc))
            check.seconds = round(time.monotonic() - start, 1)
            continue
        built_all.notebooks.append(built)
        spec = built.spec
        check.questions = len(spec.questions)
        check.public = sum(1 for c in spec.cases() if not c.hidden)
        check.hidden = sum(1 for c in spec.cases() if c.hidden)
        assert built.solution_run is not None  # use_cache=False always runs
        sol = judge(built.bundle, built.solution_run)
        check.solution = (sol.earned, sol.possible)
        for c in sol.cases:
            if c.earned < c.possible:
                check.problems.append(f"solution loses points on {c.question}/{c.name}: {c.message}")
        stub_run = execute(built.release_text, probe_cells(spec), sandbox,
                           cell_seconds=sandbox.limits.cell_seconds)
        stub = judge(built.bundle, stub_run)
        check.stub = (stub.earned, stub.possible)
        if stub_run.problem:
            check.problems.append(f"the student version could not be graded: {stub_run.problem}")
        for c in stub.cases:
            if c.earned > 0:
                check.problems.append(f"case {c.question}/{c.name} passes on the unanswered stub: it tests nothing")
        check.seconds = round(time.monotonic() - start, 1)
    if all(n.ok for n in report.notebooks):
        report.sync_problems = out_of_sync(course, built_all)
    return report
