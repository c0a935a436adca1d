"""`course grade PART DIR`: grade every student's notebooks of a part in parallel sandboxes, into the gradebook.

DIR holds one folder per student: `DIR/<student>/<notebook>.ipynb`, or nbgrader's
`DIR/<student>/<part>/<notebook>.ipynb` (with its `timestamp.txt`). Re-running skips submissions already graded
with the same content unless `force`; an interrupted run keeps every result recorded before the interruption.

Everything under DIR is the students' (or the collector's) doing and is read as untrusted: student folder names
must be valid ids (a bad one is named and skipped, the rest are graded), files are read through
`grading.intake` (regular files only, never through a link, capped), and whatever goes wrong with one notebook —
any exception — becomes that notebook's zero row with the reason while the run goes on.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiml_course.config import Course, Limits
from aiml_course.errors import GradebookError, GradingError, SubmissionRejected
from aiml_course.gradebook import Gradebook, sha256_bytes
from aiml_course.grading.engine import Execution, NotebookGrade, execute, judge
from aiml_course.grading.foreign import manual_answers, prepare_submission
from aiml_course.grading.intake import (
    MAX_NOTEBOOK_BYTES,
    MAX_TIMESTAMP_BYTES,
    lstat_or_none,
    parse_notebook,
    read_regular,
)
from aiml_course.grading.report import report_written, write_report
from aiml_course.sandbox import Sandbox, make_sandbox
from aiml_course.untrusted import printable, student_id_problem

logger = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 20_000  # of a hand-graded answer copied into its case message
CLOCK_SKEW_TOLERANCE = timedelta(minutes=1)  # a timestamp later than its own collection by more is not believed


@dataclass(frozen=True)
class SubmissionFile:
    student: str
    notebook: str                  # stem, e.g. "2.1-simplest-neuron"
    path: Path | None              # None: not submitted
    submitted_at: datetime | None  # None: not submitted (a missing notebook has no time and makes nothing late)
    note: str = ""                 # e.g. a timestamp from the future that was clamped; kept in the grade's problem
    base: Path | None = None       # the submissions folder `relative` is read from (nothing below it is followed)
    relative: tuple[str, ...] = ()
    problem: str = ""              # why it cannot be read at all (e.g. the student's folder is a link): zero row


def read_submission(sub: SubmissionFile) -> bytes:
    """The submitted notebook's bytes: a regular file reached without following links, at most the cap."""
    if sub.problem:
        raise SubmissionRejected(sub.problem)
    if sub.path is None:
        raise SubmissionRejected("not submitted")
    base, relative = (sub.base, sub.relative) if sub.base is not None else (sub.path.parent, (sub.path.name,))
    data, _ = read_regular(base, relative, MAX_NOTEBOOK_BYTES)
    return data


@dataclass
class GradeSummary:
    part: str
    graded: list[tuple[str, NotebookGrade]] = field(default_factory=list)
    skipped: int = 0
    reports: Path | None = None
    unknown: list[str] = field(default_factory=list)  # student folders not on the (non-empty) roster
    not_graded: list[str] = field(default_factory=list)  # student folders that cannot be graded, with the reason

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
    timestamp.txt is read only if it is a regular file (not a link), and only its first 256 bytes.
    """
    fallback_info = lstat_or_none(fallback)
    file_time = datetime.fromtimestamp(fallback_info.st_mtime if fallback_info else 0, tz=UTC)
    try:
        raw, info = read_regular(folder, ("timestamp.txt",), MAX_TIMESTAMP_BYTES)
    except SubmissionRejected as exc:
        if "does not exist" not in str(exc):
            logger.warning("%s: %s; using the file time", folder, exc)
        return file_time, ""
    dt = _parse_timestamp(raw.decode("utf-8", errors="replace").strip())
    try:
        dt = dt.astimezone(UTC) if dt is not None else None  # year 1 at +14:00 is not a time anything can store
    except (OverflowError, ValueError):
        dt = None
    if dt is None:
        logger.warning("%s: unreadable timestamp; using the file time", folder / "timestamp.txt")
        return file_time, ""
    bound = min(datetime.now(UTC), datetime.fromtimestamp(info.st_ctime, tz=UTC))
    if dt <= bound + CLOCK_SKEW_TOLERANCE:
        return dt, ""
    note = (f"timestamp.txt says {dt:%Y-%m-%d %H:%M:%S} UTC, after the submission was collected (clock skew?); "
            f"counted as handed in at {bound:%Y-%m-%d %H:%M:%S} UTC")
    logger.warning("%s: %s", folder / "timestamp.txt", note)
    return bound, note


def _parse_timestamp(text: str) -> datetime | None:
    for fmt in ("%Y-%m-%d %H:%M:%S.%f %Z", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            dt = datetime.strptime(text, fmt)
            return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
        except (ValueError, OverflowError):
            continue
    try:
        dt = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    try:
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def find_submissions(directory: Path, part: str, notebooks: list[str],
                     not_graded: list[str] | None = None) -> list[SubmissionFile]:
    """One entry per (student, notebook) for every student folder in `directory`.

    A folder whose name is not a valid student id is left out and named in `not_graded`. Links are not followed:
    a student folder or part folder that is a link gives zero rows saying so; a notebook that is a link (or not
    a regular file) is refused when it is read.
    """
    if not directory.is_dir():
        raise GradingError(f"{directory} is not a folder of student submissions")
    found = []
    with os.scandir(directory) as entries:
        students = sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)
    for entry in students:
        is_link = entry.is_symlink()
        if not is_link and not entry.is_dir(follow_symlinks=False):
            continue  # a stray file next to the student folders
        bad_id = student_id_problem(entry.name)
        if bad_id:
            logger.warning("%s: %s; not graded", directory, bad_id)
            if not_graded is not None:
                not_graded.append(bad_id)
            continue
        student_dir = directory / entry.name
        problem = f"the submission folder {entry.name} is a symbolic link; only regular files are graded" \
            if is_link else ""
        relative: tuple[str, ...] = (entry.name,)
        part_info = None if is_link else lstat_or_none(student_dir / part)
        if part_info is not None and stat.S_ISLNK(part_info.st_mode):
            problem = f"the folder {entry.name}/{part} is a symbolic link; only regular files are graded"
        elif part_info is not None and stat.S_ISDIR(part_info.st_mode):
            relative = (entry.name, part)
        folder = directory.joinpath(*relative)
        for stem in notebooks:
            name = f"{stem}.ipynb"
            info = None if problem else lstat_or_none(folder / name)
            refused = problem or (_not_regular(f"{'/'.join(relative)}/{name}", info) if info else "")
            if refused:  # a refused notebook has no time: it makes nothing late
                found.append(SubmissionFile(entry.name, stem, folder / name, None, problem=refused))
            elif info is not None:
                found.append(SubmissionFile(entry.name, stem, folder / name, *submission_time(folder, folder / name),
                                            base=directory, relative=(*relative, name)))
            else:
                found.append(SubmissionFile(entry.name, stem, None, None))
    return found


def _not_regular(shown: str, info: os.stat_result) -> str:
    """Why a submitted path is refused before it is read ('' for a regular file; reading checks again)."""
    if stat.S_ISLNK(info.st_mode):
        return f"{shown} is a symbolic link; only regular files are graded"
    return "" if stat.S_ISREG(info.st_mode) else f"{shown} is not a regular file"


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
                         sandbox: Sandbox | None = None, backend: str = "bwrap",
                         problem: str = "") -> tuple[NotebookGrade, str]:
    """Grade one submitted notebook given as bytes; always returns a grade (zero with the reason on failure).

    Self-contained so it can run on a Dask worker: without `sandbox` it builds its own there from `backend`.
    `problem`: the submission could not be read (a link, too large); it is graded zero with that reason.
    """
    if problem:
        return judge(bundle, Execution(None, {}, [], problem)), "rejected"
    if data is None:
        return judge(bundle, Execution(None, {}, [], "not submitted")), "missing"
    digest = sha256_bytes(data)
    try:
        nb = parse_notebook(data)
    except SubmissionRejected as exc:
        return judge(bundle, Execution(None, {}, [], str(exc))), digest
    try:
        box = sandbox if sandbox is not None else make_sandbox(backend, limits)
        nb = prepare_submission(nb)  # nbgrader/otter student versions: their own test cells are skipped
        execution = execute(json.dumps(nb), bundle["probe_cells"], box, cell_seconds=limits.cell_seconds,
                            files=files)
        return with_manual_answers(judge(bundle, execution), bundle, nb), digest
    except Exception as exc:  # one notebook never stops the run: its zero row says what happened
        logger.exception("grading %s failed", bundle.get("notebook"))
        return judge(bundle, Execution(None, {}, [], f"the grader failed on this notebook ({type(exc).__name__})")), \
            digest


MANUAL_PENDING = "graded by hand; awaiting a grader (course adjust STUDENT PART NOTEBOOK:QUESTION --points N)"


def with_manual_answers(grade: NotebookGrade, bundle: dict[str, Any], nb: dict[str, Any]) -> NotebookGrade:
    """Manual questions (no probe, 0 until staff score them) say so, with what the student wrote (found by id)."""
    manual = {c["name"]: c for c in bundle["cases"] if c["spec"].get("manual")}
    if not manual:
        return grade
    answers = manual_answers(nb, [c["question"] for c in manual.values()])
    grade.cases = [replace(c, earned=0.0, message=f"… {manual[c.name]['description']}: {MANUAL_PENDING}"
                           + (f"\nAnswer: {_kept_text(answers[c.question])}" if c.question in answers else ""))
                   if c.name in manual else c for c in grade.cases]
    return grade


def _kept_text(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """A student's multi-line text for staff: lines and tabs kept, other control characters (NUL, which
    PostgreSQL refuses, escape codes) removed, capped."""
    cleaned = "".join(ch if ch in "\n\t" or ch.isprintable() else " " for ch in text[: limit + 1])
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def grade_one(course: Course, part: str, bundle: dict[str, Any], sub: SubmissionFile, sandbox: Sandbox,
              files: dict[str, bytes]) -> tuple[NotebookGrade, str]:
    """Grade one submission in this process's sandbox."""
    data, problem = _submitted_bytes(sub)
    return grade_notebook_bytes(bundle, data, limits=sandbox.limits, files=files, sandbox=sandbox, problem=problem)


def _submitted_bytes(sub: SubmissionFile) -> tuple[bytes | None, str]:
    """(bytes, '') for a readable submission, (None, '') for a missing one, (None, reason) for a refused one."""
    if sub.path is None and not sub.problem:
        return None, ""
    try:
        return read_submission(sub), ""
    except SubmissionRejected as exc:
        return None, str(exc)


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
        data, problem = _submitted_bytes(sub)
        return self.client.submit(grade_notebook_bytes, bundle, data, backend=self.backend, limits=self.limits,
                                  files=files, problem=problem, pure=False,
                                  key=f"grade-{sub.student}-{sub.notebook}-{uuid4().hex[:8]}")

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
    summary = GradeSummary(part, reports=reports)
    subs = find_submissions(directory, part, list(bundles), summary.not_graded)
    files = release_files(course, part)
    roster = {s.id for s in gradebook.students()}
    extensions = gradebook.extensions()  # shown in the feedback reports next to the deadline
    todo = []
    for sub in subs:
        if roster and sub.student not in roster and sub.student not in summary.unknown:
            logger.warning("%s/%s: %r is not on the roster; graded and added to the gradebook (check the name)",
                           directory, sub.student, sub.student)
            summary.unknown.append(sub.student)
        gradebook.ensure_student(sub.student)
        if not force and _already_graded(gradebook, part, sub) and (
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
            bar.update(1)
            try:
                grade, digest = fut.result()
            except Exception as exc:  # the grading task itself failed: still this notebook's zero row
                logger.exception("%s/%s: grading failed", sub.student, sub.notebook)
                grade, digest = judge(bundles[sub.notebook], Execution(
                    None, {}, [], f"the grader failed on this notebook ({type(exc).__name__})")), "failed"
            if sub.note:
                grade.problem = "; ".join(p for p in (grade.problem, sub.note) if p)
            try:
                gradebook.record(sub.student, part, grade, content_sha256=digest, submitted_at=sub.submitted_at)
            except GradebookError as exc:  # this row could not be stored; the others still can
                logger.error("%s/%s: %s", sub.student, sub.notebook, exc)
                summary.not_graded.append(f"{sub.student}/{sub.notebook}: graded, but the gradebook refused the "
                                          f"row ({printable(exc, 200)})")
                continue
            if reports is not None:
                try:
                    write_report(reports / sub.student, course, part, sub.student, grade, sub.submitted_at,
                                 submission=_readable_notebook(sub), extension=extensions.get((sub.student, part)))
                except Exception as exc:  # the grade is recorded; the report is retried on the next run
                    logger.exception("%s/%s: the feedback report could not be written", sub.student, sub.notebook)
                    summary.not_graded.append(f"{sub.student}/{sub.notebook}: graded, but the feedback report "
                                              f"could not be written ({type(exc).__name__})")
            summary.graded.append((sub.student, grade))
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


def _already_graded(gradebook: Gradebook, part: str, sub: SubmissionFile) -> bool:
    """Is this exact content the latest graded one? (Unreadable submissions are always graded again.)"""
    data, problem = _submitted_bytes(sub)
    return data is not None and not problem and gradebook.is_graded(sub.student, part, sub.notebook,
                                                                     sha256_bytes(data))


def _readable_notebook(sub: SubmissionFile) -> dict[str, Any] | None:
    """The submitted notebook, cleaned, for the feedback notebook; None when it is missing or unreadable."""
    data, problem = _submitted_bytes(sub)
    if data is None or problem:
        return None
    try:
        return parse_notebook(data)
    except SubmissionRejected:
        return None


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="notebook", desc="grading", disable=not enabled or total == 0)
