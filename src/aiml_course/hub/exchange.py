"""Release, collect and feedback through nbgrader's file exchange (the course directory and nbgrader's apps:
coursedir.py; our grades in nbgrader's formgrader: formgrader.py).

    release/<part>/ ──copy──▶ course/release/<part>/ ──nbgrader release_assignment──▶ exchange/<course>/outbound/
    exchange/<course>/inbound/ ──inbound.collect (ours, not nbgrader's)──▶ course/submitted/<student>/<part>/
        (regular files only; timestamp.txt = the system's time, never the student's)
        ──grade_part (sandbox)──▶ our gradebook + reports/<student>/<notebook>.html
    reports ──copy──▶ course/feedback/<student>/<part>/ ──nbgrader release_feedback──▶ exchange/<course>/feedback/
    our gradebook ──sync_formgrader──▶ course/gradebook.db (nbgrader's), course/autograded/<student>/<part>/
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiml_course.config import Course
from aiml_course.errors import HubError
from aiml_course.gradebook import Gradebook
from aiml_course.grading.pipeline import GradeSummary, grade_part
from aiml_course.hub.coursedir import (
    declared_part,
    make_readable,
    prepare_course_dir,
    read_no_follow,
    replace_tree,
    run_nbgrader,
    share_with_staff,
)
from aiml_course.hub.formgrader import register_assignment, sync_formgrader
from aiml_course.hub.inbound import collect, copy_regular_files
from aiml_course.hub.layout import HubLayout
from aiml_course.sandbox import Sandbox, keep_warm

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReleaseResult:
    part: str
    notebooks: list[str]
    outbound: Path                   # exchange/<course>/outbound/<part>/
    replaced: bool                   # an earlier release was replaced (nbgrader --force)
    due: datetime | None = None      # the part's deadline in course_config.py
    released_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def deadline_passed(self) -> bool:
        return self.due is not None and self.due <= self.released_at

    def suggested_deadline(self) -> datetime:
        """A week from now, at 23:59 UTC: what `course release` offers when the deadline has passed."""
        day = (self.released_at + timedelta(days=7)).date()
        return datetime(day.year, day.month, day.day, 23, 59, tzinfo=UTC)

    def summary(self) -> str:
        """One line for the instructor (two when the deadline has passed)."""
        how = "replaced the earlier release" if self.replaced else "first release"
        text = f"{self.part}: {len(self.notebooks)} notebook(s) released to {self.outbound} ({how})"
        if self.deadline_passed and self.due is not None:
            text += (f"\nwarning: its deadline {self.due:%Y-%m-%d %H:%M} UTC has passed: every submission will be "
                     f"late. Give students a new one, e.g. `course release {self.part} --extend-until "
                     f"{self.suggested_deadline():%Y-%m-%dT%H:%M}+00:00` (or move `due` in course_config.py)")
        return text


@dataclass(frozen=True)
class CollectResult:
    part: str
    students: list[str]              # every student with a collected submission of the part, sorted
    submitted_dir: Path              # course/submitted/
    updated: list[str] = field(default_factory=list)     # collected now (new or newer than before)
    unknown: list[str] = field(default_factory=list)     # not in the roster (still collected)
    suspicious: list[str] = field(default_factory=list)  # nbgrader's owner check: claimed name ≠ file owner

    @property
    def empty(self) -> bool:
        return not self.students

    def summary(self) -> str:
        """What was collected, in words."""
        if self.empty:
            return (f"{self.part}: no submissions yet — nothing was collected (students submit with the "
                    f"Assignment List's Submit button or `nbgrader submit {self.part}`)")
        text = f"{self.part}: {len(self.students)} submission(s), {len(self.updated)} new or updated"
        if self.unknown:
            text += f"; not in the roster: {', '.join(self.unknown)}"
        return text


@dataclass(frozen=True)
class ExchangeRound:
    """Everything `collect_and_grade` did."""

    collected: CollectResult
    grades: GradeSummary | None      # None when nothing was collected
    feedback: list[str]              # students whose feedback was released
    formgrader: int                  # submissions mirrored into nbgrader's gradebook


def worker_count(course: Course, part_id: str) -> int:
    """Notebooks graded at once: course_config.py's choice, else what the sandbox derives from the machine."""
    config = course.sandbox
    if hasattr(config, "worker_count"):
        return int(config.worker_count(course.limits_for(part_id)))
    return int(config.workers or 1)


def release_part(course: Course, part_id: str, layout: HubLayout) -> ReleaseResult:
    """Copy release/<part>/ into the course directory, register it with nbgrader and release it to the exchange."""
    part = declared_part(course, part_id)
    src = course.release_dir / part.id
    notebooks = sorted(p.stem for p in src.glob("*.ipynb"))
    if not notebooks:
        raise HubError(f"{src} has no notebooks to release: run `course build {part.id}` first")
    prepare_course_dir(course, layout)
    replace_tree(src, layout.nbgrader_dir / "course" / "release" / part.id)   # what root's nbgrader releases
    replace_tree(src, layout.course_dir / "release" / part.id)                # what the formgrader shows
    register_assignment(course, part, layout, notebooks)
    outbound = layout.exchange / course.id / "outbound" / part.id
    replaced = outbound.is_dir()
    run_nbgrader(layout, part.id, "release_assignment", part.id, "--force")
    share_with_staff(layout)
    return ReleaseResult(part.id, notebooks, outbound, replaced, part.due)


def collect_part(course: Course, part_id: str, layout: HubLayout, *,
                 known_students: set[str] | None = None) -> CollectResult:
    """Collect each student's latest submission of the part into course/submitted/<student>/<part>/."""
    part = declared_part(course, part_id)
    inbound = layout.exchange / course.id / "inbound"
    if not inbound.is_dir():
        raise HubError(f"{part.id} was never released to {layout.exchange}: run `course release {part.id}` first")
    prepare_course_dir(course, layout)
    submitted = layout.course_dir / "submitted"
    done = collect(inbound, layout.course_dir, layout.staging_dir, part.id,
                   collected_stamp=_stamps(submitted, part.id))
    share_with_staff(layout)
    students = sorted(_stamps(submitted, part.id))
    for problem in done.problems:
        logger.warning("collect %s: %s", part.id, problem)
    return CollectResult(
        part.id, students, submitted, updated=done.updated,
        unknown=[] if known_students is None else [s for s in students if s not in known_students],
        suspicious=[p for p in done.problems if "names" in p])


def release_feedback(course: Course, part_id: str, layout: HubLayout, *, reports: Path) -> list[str]:
    """Hand each student the HTML report of every notebook they submitted, through nbgrader's feedback exchange."""
    part = declared_part(course, part_id)
    if not reports.is_dir():
        raise HubError(f"no feedback reports for {part.id} in {reports}: grade the part first "
                       f"(`course collect {part.id}` grades and writes them)")
    prepare_course_dir(course, layout)
    served = [student for student, folder in _submissions(layout, part.id)
              if _stage_feedback(layout, part.id, student, folder, reports)]
    if not served:
        logger.warning("%s: no feedback to release (no report matches a collected notebook in %s)", part.id, reports)
        return []
    share_with_staff(layout)
    run_nbgrader(layout, part.id, "release_feedback", part.id)
    outbound = layout.exchange / course.id / "feedback"
    for page in outbound.glob("*.html"):  # nbgrader copies our 0660 files; students must read them
        make_readable(page)
    return served


def collect_and_grade(course: Course, part_id: str, layout: HubLayout, *, gradebook: Gradebook,
                      sandbox: Sandbox, workers: int = 1, reports: Path,
                      known_students: set[str] | None = None, force: bool = False,
                      show_progress: bool = False) -> ExchangeRound:
    """Collect, grade in the sandbox, release feedback and update the formgrader: what `course collect` runs."""
    keep_warm(sandbox)  # the warm grading server starts during the collect and stays up while this process (the hub) lives
    collected = collect_part(course, part_id, layout, known_students=known_students)
    if collected.empty:
        return ExchangeRound(collected, None, [], 0)
    with _only_part(collected, layout.staging_dir) as directory:
        grades = grade_part(course, collected.part, directory, gradebook=gradebook, sandbox=sandbox,
                            workers=workers, force=force, reports=reports, show_progress=show_progress)
    served = release_feedback(course, collected.part, layout, reports=reports)
    written = sync_formgrader(course, gradebook, layout, collected.part)
    return ExchangeRound(collected, grades, served, written)


def _stamps(submitted: Path, part: str) -> dict[str, str]:
    """student → the timestamp.txt of their collected submission of `part`."""
    out = {}
    for folder in submitted.glob(f"*/{part}"):
        stamp = folder / "timestamp.txt"
        if folder.is_symlink() or folder.parent.is_symlink() or stamp.is_symlink():
            continue   # not written by collect
        out[folder.parent.name] = stamp.read_text()[:100].strip() if stamp.is_file() else ""
    return out


def _submissions(layout: HubLayout, part: str) -> list[tuple[str, Path]]:
    """(student, course/submitted/<student>/<part>/) for every collected submission of `part`."""
    return sorted((f.parent.name, f) for f in (layout.course_dir / "submitted").glob(f"*/{part}") if f.is_dir())


@contextmanager
def _only_part(collected: CollectResult, staging: Path) -> Iterator[Path]:
    """A root-only copy of the students who submitted this part (others are not graded as missing): regular files
    only, never through a link, so nothing a TA places in the staff-writable submitted/ is followed."""
    staging.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"grade-{collected.part}-", dir=staging) as tmp:
        for student in collected.students:
            (Path(tmp) / student).mkdir(mode=0o700)
            copy_regular_files(collected.submitted_dir / student, collected.part, Path(tmp) / student / collected.part)
        yield Path(tmp)


# --- feedback -----------------------------------------------------------------------------------------------------

def _stage_feedback(layout: HubLayout, part: str, student: str, folder: Path, reports: Path) -> bool:
    """Put the student's report pages where nbgrader release_feedback looks; False when there is nothing to hand."""
    secret = read_no_follow(folder / "submission_secret.txt")
    if secret is None:
        logger.warning("%s/%s: no submission_secret.txt in %s (not submitted through the exchange); "
                       "no feedback released", student, part, folder)
        return False
    pages = [reports / student / f"{nb.stem}.html" for nb in sorted(folder.glob("*.ipynb"))]
    pages = [p for p in pages if p.is_file()]
    if not pages:
        logger.warning("%s/%s: no report in %s for the notebooks collected", student, part, reports / student)
        return False
    dest = layout.nbgrader_dir / "course" / "feedback" / student / part   # root only: nbgrader's release_feedback
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for page in pages:
        shutil.copyfile(page, dest / page.name)
    (dest / "submission_secret.txt").write_text(secret)
    (dest / "timestamp.txt").write_text(read_no_follow(folder / "timestamp.txt", 100) or "")
    return True


# Rows are made here rather than with nbgrader's add_submission, whose objects join the session through
# SQLAlchemy 1.x backref cascades: under SQLAlchemy 2 that logs "not in session ... will not proceed" warnings.


