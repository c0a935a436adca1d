"""`course grade PART DIR`: grade every student's notebooks of a part in parallel sandboxes, into the gradebook.

DIR holds one folder per student: `DIR/<student>/<notebook>.ipynb`, or nbgrader's
`DIR/<student>/<part>/<notebook>.ipynb` (with its `timestamp.txt`). Re-running skips submissions already graded
with the same content unless `force`; an interrupted run keeps every result recorded before the interruption.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiml_course.config import Course, Limits
from aiml_course.errors import GradingError
from aiml_course.gradebook import Gradebook, sha256_bytes
from aiml_course.grading.engine import Execution, NotebookGrade, execute, judge
from aiml_course.grading.report import report_written, write_report
from aiml_course.sandbox import Sandbox, make_sandbox

logger = logging.getLogger(__name__)

CLOCK_SKEW_TOLERANCE = timedelta(minutes=1)  # a timestamp later than its own collection by more is not believed


@dataclass(frozen=True)
class SubmissionFile:
    student: str
    notebook: str                  # stem, e.g. "2.1-simplest-neuron"
    path: Path | None              # None: not submitted
    submitted_at: datetime | None  # None: not submitted (a missing notebook has no time and makes nothing late)
    note: str = ""                 # e.g. a timestamp from the future that was clamped; kept in the grade's problem


@dataclass
class GradeSummary:
    part: str
    graded: list[tuple[str, NotebookGrade]] = field(default_factory=list)
    skipped: int = 0
    reports: Path | None = None
    unknown: list[str] = field(default_factory=list)  # student folders not on the (non-empty) roster

    def table(self) -> list[tuple[str, str, float, float, str]]:
        return sorted((s, g.notebook, g.earned, g.possible, g.problem) for s, g in self.graded)


def load_bundles(course: Course, part: str) -> dict[str, dict[str, Any]]:
    folder = course.autograder_dir / part
    bundles = {}
    for path in sorted(folder.glob("*.bundle.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        bundles[data["notebook"]] = data
    if not bundles:
        raise GradingError(f"no grading bundles in {folder}: run `course build {part}` first")
    return bundles


def submission_time(folder: Path, fallback: Path) -> tuple[datetime, str]:
    """When the submission in `folder` was handed in, and a note when its timestamp.txt could not be believed.

    A timestamp later than the moment timestamp.txt itself was written (its change time, which no user can set
    back: collection time for nbgrader's submitted/), or later than now, comes from a skewed clock or an edited
    file; it is clamped to that moment, so it can only make the submission later, never earn lateness credit.
    """
    stamp = folder / "timestamp.txt"
    if not stamp.is_file():
        return datetime.fromtimestamp(fallback.stat().st_mtime, tz=UTC), ""
    dt = _parse_timestamp(stamp.read_text(errors="replace").strip())
    if dt is None:
        logger.warning("%s: unreadable timestamp; using the file time", stamp)
        return datetime.fromtimestamp(fallback.stat().st_mtime, tz=UTC), ""
    bound = min(datetime.now(UTC), datetime.fromtimestamp(stamp.stat().st_ctime, tz=UTC))
    if dt <= bound + CLOCK_SKEW_TOLERANCE:
        return dt, ""
    note = (f"timestamp.txt says {dt:%Y-%m-%d %H:%M:%S} UTC, after the submission was collected (clock skew?); "
            f"counted as handed in at {bound:%Y-%m-%d %H:%M:%S} UTC")
    logger.warning("%s: %s", stamp, note)
    return bound, note


def _parse_timestamp(text: str) -> datetime | None:
    for fmt in ("%Y-%m-%d %H:%M:%S.%f %Z", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            dt = datetime.strptime(text, fmt)
            return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def find_submissions(directory: Path, part: str, notebooks: list[str]) -> list[SubmissionFile]:
    """One entry per (student, notebook) for every student folder in `directory`."""
    if not directory.is_dir():
        raise GradingError(f"{directory} is not a folder of student submissions")
    found = []
    for student_dir in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")):
        folder = student_dir / part if (student_dir / part).is_dir() else student_dir
        for stem in notebooks:
            path = folder / f"{stem}.ipynb"
            if path.is_file():
                found.append(SubmissionFile(student_dir.name, stem, path, *submission_time(folder, path)))
            else:
                found.append(SubmissionFile(student_dir.name, stem, None, None))
    return found


def release_files(course: Course, part: str) -> dict[str, bytes]:
    """Data files shipped with the release (not notebooks, not public checks): the notebook may read them."""
    folder = course.release_dir / part
    files = {}
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if p.is_file() and p.suffix != ".ipynb" and rel.parts[0] != ".checks":
            files[str(rel)] = p.read_bytes()
    return files


def grade_notebook_bytes(bundle: dict[str, Any], data: bytes | None, *, limits: Limits, files: dict[str, bytes],
                         sandbox: Sandbox | None = None, backend: str = "bwrap") -> tuple[NotebookGrade, str]:
    """Grade one submitted notebook given as bytes; always returns a grade (zero with the reason on failure).

    Self-contained so it can run on a Dask worker: without `sandbox` it builds its own there from `backend`.
    """
    if data is None:
        return judge(bundle, Execution(None, {}, [], "not submitted")), "missing"
    digest = sha256_bytes(data)
    try:
        nb = json.loads(data.decode("utf-8"))
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
    except (UnicodeDecodeError, ValueError) as exc:
        reason = f"the notebook file is not a valid notebook ({type(exc).__name__}: {str(exc)[:120]})"
        return judge(bundle, Execution(None, {}, [], reason)), digest
    box = sandbox if sandbox is not None else make_sandbox(backend, limits)
    execution = execute(json.dumps(nb), bundle["probe_cells"], box, cell_seconds=limits.cell_seconds, files=files)
    return judge(bundle, execution), digest


def grade_one(course: Course, part: str, bundle: dict[str, Any], sub: SubmissionFile, sandbox: Sandbox,
              files: dict[str, bytes]) -> tuple[NotebookGrade, str]:
    """Grade one submission in this process's sandbox."""
    data = sub.path.read_bytes() if sub.path is not None else None
    return grade_notebook_bytes(bundle, data, limits=sandbox.limits, files=files, sandbox=sandbox)


class _LocalPool:
    """Threads on this machine, each driving one sandboxed subprocess."""

    def __init__(self, course: Course, part: str, sandbox: Sandbox, workers: int) -> None:
        self.course, self.part, self.sandbox = course, part, sandbox
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers))

    def submit(self, bundle: dict[str, Any], sub: SubmissionFile, files: dict[str, bytes]) -> Any:
        return self.pool.submit(grade_one, self.course, self.part, bundle, sub, self.sandbox, files)

    def as_completed(self, futures: list[Any]) -> Iterator[Any]:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from done

    def close(self, cancel: bool) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class _DaskPool:
    """A Dask distributed cluster: each task grades one submission inside the worker's own sandbox."""

    def __init__(self, scheduler: str, backend: str, limits: Limits) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise GradingError("--scheduler needs dask distributed: pip install 'dask[distributed]'") from exc
        try:
            self.client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise GradingError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        self.backend, self.limits = backend, limits

    def submit(self, bundle: dict[str, Any], sub: SubmissionFile, files: dict[str, bytes]) -> Any:
        data = sub.path.read_bytes() if sub.path is not None else None
        return self.client.submit(grade_notebook_bytes, bundle, data, backend=self.backend, limits=self.limits,
                                  files=files, pure=False, key=f"grade-{sub.student}-{sub.notebook}-{uuid4().hex[:8]}")

    def as_completed(self, futures: list[Any]) -> Iterator[Any]:
        from distributed import as_completed

        yield from as_completed(futures)

    def close(self, cancel: bool) -> None:
        self.client.close()


def grade_part(course: Course, part: str, directory: Path, *, gradebook: Gradebook, sandbox: Sandbox,
               workers: int = 1, force: bool = False, reports: Path | None = None,
               show_progress: bool = True, scheduler: str | None = None) -> GradeSummary:
    """Grade every submission of `part` under `directory` and record the results as they arrive."""
    bundles = load_bundles(course, part)
    subs = find_submissions(directory, part, list(bundles))
    files = release_files(course, part)
    summary = GradeSummary(part, reports=reports)
    roster = {s.id for s in gradebook.students()}
    extensions = gradebook.extensions()  # shown in the feedback reports next to the deadline
    todo = []
    for sub in subs:
        if roster and sub.student not in roster and sub.student not in summary.unknown:
            logger.warning("%s/%s: %r is not on the roster; graded and added to the gradebook (check the name)",
                           directory, sub.student, sub.student)
            summary.unknown.append(sub.student)
        gradebook.ensure_student(sub.student)
        if sub.path is not None and not force and gradebook.is_graded(
                sub.student, part, sub.notebook, sha256_bytes(sub.path.read_bytes())) and (
                reports is None or report_written(reports / sub.student, sub.notebook)):  # a report never written: redo
            summary.skipped += 1
            continue
        todo.append(sub)
    pool: _LocalPool | _DaskPool = (
        _DaskPool(scheduler, sandbox.name, sandbox.limits) if scheduler
        else _LocalPool(course, part, sandbox, workers))
    bar = _progress(len(todo), show_progress)
    futures = {pool.submit(bundles[s.notebook], s, files): s for s in todo}
    cancelled = False
    try:
        for fut in pool.as_completed(list(futures)):
            sub = futures[fut]
            grade, digest = fut.result()
            if sub.note:
                grade.problem = "; ".join(p for p in (grade.problem, sub.note) if p)
            gradebook.record(sub.student, part, grade, content_sha256=digest, submitted_at=sub.submitted_at)
            if reports is not None:
                write_report(reports / sub.student, course, part, sub.student, grade, sub.submitted_at,
                             submission=_readable_notebook(sub.path),
                             extension=extensions.get((sub.student, part)))
            summary.graded.append((sub.student, grade))
            bar.update(1)
            bar.set_postfix_str(f"{sub.student}/{sub.notebook} {grade.earned:g}/{grade.possible:g}")
    except KeyboardInterrupt:
        cancelled = True
        logger.warning("interrupted: %d result(s) recorded, %d not graded", len(summary.graded),
                       len(todo) - len(summary.graded))
        raise
    finally:
        bar.close()
        pool.close(cancel=cancelled)
    return summary


def _readable_notebook(path: Path | None) -> dict[str, Any] | None:
    """The submitted notebook as JSON for the feedback notebook, or None when it is missing or unreadable."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("cells"), list) else None


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="notebook", desc="grading", disable=not enabled or total == 0)
