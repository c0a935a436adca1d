"""`course validate`: run each source notebook for real and prove its tests mean something.

For every notebook of a part: the solution runs end to end (lesson-only cells included) and scores full marks
when graded (lesson-only cells skipped, as the grader does); the student stub scores zero on every autograded
case (a case that passes on the stub tests nothing); every mutant (a plausible wrong answer declared with
`# MUTANT <qid> <name>`) loses at least half of its question's points; the references reproduce; release/ and
autograder/ are exactly what `course build` writes. Notebooks are validated in parallel (`SandboxConfig.workers`
at once), and so are the stub, lesson and mutant runs of each, each in its own sandbox (the warm fork server by
default, so no run pays the libraries' imports). Every run's wall time and peak memory are kept for
`course validate --timings`.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiml_course.authoring.build import BuildResult, build_notebook, out_of_sync, source_notebooks
from aiml_course.authoring.parse import Mutant, NotebookSpec
from aiml_course.authoring.render import dumps_notebook, mutant_source, probe_cells, render
from aiml_course.config import Course
from aiml_course.errors import CourseError
from aiml_course.grading.engine import Execution, execute, judge
from aiml_course.sandbox import Sandbox

MUTANT_MIN_LOSS = 0.5          # a mutant must lose at least this fraction of its question's points
LESSON_RUN_SKIPS = ("tests", "quiz")  # the end-to-end run: everything a student runs, lesson-only cells included


@dataclass(frozen=True)
class MutantCheck:
    question: str
    name: str
    description: str
    earned: float              # points of `question` the mutant still scores
    possible: float

    @property
    def caught(self) -> bool:
        return self.possible - self.earned >= MUTANT_MIN_LOSS * self.possible - 1e-9


@dataclass(frozen=True)
class RunTiming:
    """One sandbox run of a notebook during validation: what it was, how long it took, its peak memory."""

    kind: str                  # "solution" (the build's reference run), "stub", "lesson", "mutant <qid>/<name>"
    seconds: float
    peak_mb: float | None


def _timing(kind: str, run: Execution | None) -> RunTiming:
    result = run.run if run is not None else None
    return RunTiming(kind, result.wall_seconds if result else 0.0, result.max_memory_mb if result else None)


@dataclass
class NotebookCheck:
    notebook: str
    questions: int = 0
    public: int = 0
    hidden: int = 0
    solution: tuple[float, float] = (0.0, 0.0)
    stub: tuple[float, float] = (0.0, 0.0)
    mutants: list[MutantCheck] = field(default_factory=list)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    runs: list[RunTiming] = field(default_factory=list)

    def run_seconds(self, kind: str) -> float:
        """Sandbox seconds spent on runs of `kind` ("mutant" sums every mutant)."""
        return round(sum(r.seconds for r in self.runs if r.kind.split(" ")[0] == kind), 2)

    @property
    def peak_mb(self) -> float | None:
        peaks = [r.peak_mb for r in self.runs if r.peak_mb is not None]
        return max(peaks) if peaks else None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def mutants_caught(self) -> int:
        return sum(1 for m in self.mutants if m.caught)


@dataclass
class ValidationReport:
    part: str
    notebooks: list[NotebookCheck] = field(default_factory=list)
    sync_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.notebooks) and not self.sync_problems


def mutant_notebook(spec: NotebookSpec, mutant: Mutant) -> str:
    """The solution notebook with `mutant` in place of its answer cell's body, as the grader would receive it."""
    return dumps_notebook(render(spec, variant="solution", mutant=mutant))


def _mutant_check(bundle: dict, mutant: Mutant, run: Execution) -> MutantCheck:
    earned, possible = judge(bundle, run).by_question().get(mutant.qid, (0.0, 0.0))
    return MutantCheck(mutant.qid, mutant.name, mutant.description, earned, possible)


def mutant_problem(notebook: str, m: MutantCheck) -> str:
    return (f"{notebook}: mutant {m.question}/{m.name} ({m.description}) still scores {m.earned:g} of "
            f"{m.possible:g} points of {m.question}; it must lose at least {MUTANT_MIN_LOSS:.0%}: add a case "
            "that this wrong answer fails")


def validate_notebook(course: Course, part: str, path: Path, sandbox: Sandbox, pool: ThreadPoolExecutor,
                      built_all: BuildResult) -> NotebookCheck:
    """Build one notebook, then grade its stub, its end-to-end run and its mutants in `pool`."""
    check = NotebookCheck(path.stem)
    start = time.monotonic()
    try:
        built = build_notebook(course, part, path, sandbox, use_cache=False)
    except CourseError as exc:
        check.problems.append(str(exc))
        check.seconds = round(time.monotonic() - start, 1)
        return check
    built_all.notebooks.append(built)
    spec = built.spec
    seconds = sandbox.limits.cell_seconds
    probes = probe_cells(spec)
    stub_future = pool.submit(execute, built.release_text, probes, sandbox, cell_seconds=seconds)
    lesson_future = pool.submit(execute, built.solution_text, [], sandbox, cell_seconds=seconds,
                                skip_roles=LESSON_RUN_SKIPS)
    mutant_futures: list[tuple[Mutant, Future[Execution]]] = [
        (m, pool.submit(execute, mutant_notebook(spec, m), probes, sandbox, cell_seconds=seconds))
        for m in spec.mutants()]
    check.questions = len(spec.questions)
    check.public = sum(1 for c in spec.cases() if not c.hidden)
    check.hidden = sum(1 for c in spec.cases() if c.hidden)
    assert built.solution_run is not None  # use_cache=False always runs
    check.runs.append(_timing("solution", built.solution_run))
    sol = judge(built.bundle, built.solution_run, for_staff=True)  # lesson-only cells skipped, as graded
    check.solution = (sol.earned, sol.possible)
    by_hand = {c["name"] for c in built.bundle["cases"] if c["spec"].get("manual")}  # scored by staff later
    for c in sol.cases:
        if c.earned < c.possible and c.name not in by_hand:
            check.problems.append(f"solution loses points on {c.question}/{c.name}: {c.message}")
    lesson_run = lesson_future.result()
    check.runs.append(_timing("lesson", lesson_run))
    if lesson_run.problem:
        check.problems.append(f"the solution notebook could not be run end to end: {lesson_run.problem}")
    for error in lesson_run.cell_errors[:3]:
        check.problems.append(f"the solution notebook raises {error['error'].get('name')} in cell "
                              f"{error.get('cell')} of the solution render: {error['error'].get('message', '')}")
    stub_run = stub_future.result()
    check.runs.append(_timing("stub", stub_run))
    stub = judge(built.bundle, stub_run, for_staff=True)
    check.stub = (stub.earned, stub.possible)
    if stub_run.problem:
        check.problems.append(f"the student version could not be graded: {stub_run.problem}")
    for c in stub.cases:
        if c.earned > 0:
            check.problems.append(f"case {c.question}/{c.name} passes on the unanswered stub: it tests nothing")
    for mutant, future in mutant_futures:
        mutant_run = future.result()
        check.runs.append(_timing(f"mutant {mutant.qid}/{mutant.name}", mutant_run))
        result = _mutant_check(built.bundle, mutant, mutant_run)
        check.mutants.append(result)
        if not result.caught:
            check.problems.append(mutant_problem(spec.stem, result))
    check.seconds = round(time.monotonic() - start, 1)
    return check


def validate_part(course: Course, part: str, sandbox: Sandbox,
                  progress: Callable[[str], None] | None = None, only: str | None = None) -> ValidationReport:
    """Validate every notebook of `part`: `workers` notebooks at once (each building its solution run), their
    stub, lesson and mutant runs on a second pool of the same size, so at most 2 × workers sandboxes run.
    `only` (a glob on the notebook's file stem) validates just those notebooks; release/ sync is then checked
    for them alone."""
    report = ValidationReport(part)
    built_all = BuildResult(part)
    workers = max(1, course.sandbox.workers or 1)

    def one(path: Path) -> NotebookCheck:
        if progress:
            progress(path.name)
        return validate_notebook(course, part, path, sandbox, runs, built_all)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="validate-run") as runs, \
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="validate-notebook") as notebooks:
        paths = [p for p in source_notebooks(course, part) if only is None or fnmatch.fnmatchcase(p.stem, only)]
        if not paths:
            raise CourseError(f"{part}: no source notebook matches {only!r}")
        futures = [notebooks.submit(one, path) for path in paths]
        report.notebooks = [f.result() for f in futures]  # in source order, whatever finished first
    by_name = {n.notebook: i for i, n in enumerate(report.notebooks)}
    built_all.notebooks.sort(key=lambda b: by_name.get(b.spec.stem, len(by_name)))
    if all(n.ok for n in report.notebooks):
        report.sync_problems = out_of_sync(course, built_all)
        if only is not None:  # the other notebooks' files were not built here: they are not stale
            report.sync_problems = [p for p in report.sync_problems if not p.startswith("stale file ")]
    return report


__all__ = ["MUTANT_MIN_LOSS", "MutantCheck", "NotebookCheck", "RunTiming", "ValidationReport", "mutant_notebook",
           "mutant_problem", "mutant_source", "validate_notebook", "validate_part"]
