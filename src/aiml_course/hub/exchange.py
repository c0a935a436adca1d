"""Release, collect and feedback through nbgrader's file exchange (the course directory and nbgrader's apps:
coursedir.py; our grades in nbgrader's formgrader: formgrader.py).

    release/<part>/ ──copy──▶ course/release/<part>/ ──nbgrader release_assignment──▶ exchange/<course>/outbound/
    exchange/<course>/inbound/ ──nbgrader collect --update──▶ course/submitted/<student>/<part>/  (timestamp.txt)
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
from pathlib import Path

from aiml_course.config import Course
from aiml_course.errors import HubError
from aiml_course.gradebook import Gradebook
from aiml_course.grading.pipeline import GradeSummary, grade_part
from aiml_course.hub.coursedir import (
    declared_part,
    prepare_course_dir,
    replace_tree,
    run_nbgrader,
    share_with_staff,
)
from aiml_course.hub.formgrader import register_assignment, sync_formgrader
from aiml_course.hub.layout import HubLayout
from aiml_course.sandbox import Sandbox

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReleaseResult:
    part: str
    notebooks: list[str]
    outbound: Path                   # exchange/<course>/outbound/<part>/
    replaced: bool                   # an earlier release was replaced (nbgrader --force)

    def summary(self) -> str:
        """One line for the instructor."""
        how = "replaced the earlier release" if self.replaced else "first release"
        return f"{self.part}: {len(self.notebooks)} notebook(s) released to {self.outbound} ({how})"


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


def release_part(course: Course, part_id: str, layout: HubLayout) -> ReleaseResult:
    """Copy release/<part>/ into the course directory, register it with nbgrader and release it to the exchange."""
    part = declared_part(course, part_id)
    src = course.release_dir / part.id
    notebooks = sorted(p.stem for p in src.glob("*.ipynb"))
    if not notebooks:
        raise HubError(f"{src} has no notebooks to release: run `course build {part.id}` first")
    prepare_course_dir(course, layout)
    replace_tree(src, layout.course_dir / "release" / part.id)
    register_assignment(course, part, layout, notebooks)
    outbound = layout.exchange / course.id / "outbound" / part.id
    replaced = outbound.is_dir()
    run_nbgrader(layout, part.id, "release_assignment", part.id, "--force")
    share_with_staff(layout)
    return ReleaseResult(part.id, notebooks, outbound, replaced)


def collect_part(course: Course, part_id: str, layout: HubLayout, *,
                 known_students: set[str] | None = None) -> CollectResult:
    """Collect each student's latest submission of the part into course/submitted/<student>/<part>/."""
    part = declared_part(course, part_id)
    inbound = layout.exchange / course.id / "inbound"
    if not inbound.is_dir():
        raise HubError(f"{part.id} was never released to {layout.exchange}: run `course release {part.id}` first")
    prepare_course_dir(course, layout)
    submitted = layout.course_dir / "submitted"
    before = _stamps(submitted, part.id)
    log = run_nbgrader(layout, part.id, "collect", part.id, "--update")
    share_with_staff(layout)
    after = _stamps(submitted, part.id)
    students = sorted(after)
    return CollectResult(
        part.id, students, submitted,
        updated=[s for s in students if before.get(s) != after[s]],
        unknown=[] if known_students is None else [s for s in students if s not in known_students],
        suspicious=[line.strip() for line in log.splitlines() if "cheating attempt" in line])


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
        page.chmod(0o644)
    return served


def collect_and_grade(course: Course, part_id: str, layout: HubLayout, *, gradebook: Gradebook,
                      sandbox: Sandbox, workers: int = 1, reports: Path,
                      known_students: set[str] | None = None, force: bool = False,
                      show_progress: bool = False) -> ExchangeRound:
    """Collect, grade in the sandbox, release feedback and update the formgrader: what `course collect` runs."""
    collected = collect_part(course, part_id, layout, known_students=known_students)
    if collected.empty:
        return ExchangeRound(collected, None, [], 0)
    with _only_part(collected) as directory:
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
        out[folder.parent.name] = stamp.read_text().strip() if stamp.is_file() else ""
    return out


def _submissions(layout: HubLayout, part: str) -> list[tuple[str, Path]]:
    """(student, course/submitted/<student>/<part>/) for every collected submission of `part`."""
    return sorted((f.parent.name, f) for f in (layout.course_dir / "submitted").glob(f"*/{part}") if f.is_dir())


@contextmanager
def _only_part(collected: CollectResult) -> Iterator[Path]:
    """A folder of links to the students who submitted this part (others are not graded as missing)."""
    with tempfile.TemporaryDirectory(prefix="aiml-collect-") as tmp:
        for student in collected.students:
            (Path(tmp) / student).symlink_to(collected.submitted_dir / student, target_is_directory=True)
        yield Path(tmp)


# --- feedback -----------------------------------------------------------------------------------------------------

def _stage_feedback(layout: HubLayout, part: str, student: str, folder: Path, reports: Path) -> bool:
    """Put the student's report pages where nbgrader release_feedback looks; False when there is nothing to hand."""
    secret = folder / "submission_secret.txt"
    if not secret.is_file():
        logger.warning("%s/%s: no submission_secret.txt in %s (not submitted through the exchange); "
                       "no feedback released", student, part, folder)
        return False
    pages = [reports / student / f"{nb.stem}.html" for nb in sorted(folder.glob("*.ipynb"))]
    pages = [p for p in pages if p.is_file()]
    if not pages:
        logger.warning("%s/%s: no report in %s for the notebooks collected", student, part, reports / student)
        return False
    dest = layout.course_dir / "feedback" / student / part
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for page in pages:
        shutil.copyfile(page, dest / page.name)
    for name in ("timestamp.txt", "submission_secret.txt"):
        if (folder / name).is_file():
            shutil.copyfile(folder / name, dest / name)
    return True


# Rows are made here rather than with nbgrader's add_submission, whose objects join the session through
# SQLAlchemy 1.x backref cascades: under SQLAlchemy 2 that logs "not in session ... will not proceed" warnings.


