"""Our grades mirrored into nbgrader's own gradebook (course/gradebook.db), so nbgrader's formgrader shows them.

nbgrader's gradebook is plain SQLAlchemy and is used in this process; the rows are made directly (nbgrader's
add_submission logs SQLAlchemy 2 warnings). Each question is an autograded code GradeCell; staff adjustments are
manual scores; the late penalty is nbgrader's late_submission_penalty. Questions graded by hand (`# MANUAL`) show
as "needs manual grade" until scored; a score a TA enters for one in the formgrader is taken into our gradebook as
an adjustment (by "formgrader") at the next sync, and from then on `course adjust` is where it changes.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiml_course.config import Course, Part
from aiml_course.errors import CourseError, HubError
from aiml_course.gradebook import Gradebook
from aiml_course.hub.coursedir import (
    NOT_SUBMITTED,
    declared_part,
    nbgrader_db_url,
    prepare_course_dir,
    read_no_follow,
    share_with_staff,
)
from aiml_course.hub.inbound import copy_regular_files, file_into
from aiml_course.hub.layout import HubLayout

logger = logging.getLogger(__name__)


def sync_formgrader(course: Course, gradebook: Gradebook, layout: HubLayout, part_id: str) -> int:
    """Mirror our latest grades of the part into nbgrader's gradebook; the number of student submissions written."""
    part = declared_part(course, part_id)
    by_student: dict[str, list[dict[str, Any]]] = {}
    for row in gradebook.latest(part.id):
        by_student.setdefault(row["student"], []).append(row)
    submitted = {s: rows for s, rows in sorted(by_student.items())
                 if any(r["problem"] != NOT_SUBMITTED for r in rows)}
    if not submitted:
        return 0
    prepare_course_dir(course, layout)
    context = _SyncContext(course, part, gradebook)
    with _nbgrader_gradebook(course, layout) as gb:
        _define_cells(gb, part, [r for rows in submitted.values() for r in rows])
        for student, rows in submitted.items():
            _sync_student(gb, context, layout, student, rows)
    share_with_staff(layout)
    return len(submitted)


@contextmanager
def _nbgrader_gradebook(course: Course, layout: HubLayout) -> Iterator[Any]:
    """nbgrader's own Gradebook on course/gradebook.db (created on first use)."""
    from nbgrader.api import Gradebook as NbGradebook

    if not layout.nbgrader_db.is_file():
        _stamp_nbgrader_db(layout.nbgrader_db)
    try:
        gb = NbGradebook(nbgrader_db_url(layout), course_id=course.id)
    except Exception as exc:  # nbgrader raises SQLAlchemy and its own errors alike
        raise HubError(f"cannot open nbgrader's gradebook {layout.nbgrader_db}: {exc}") from exc
    try:
        yield gb
    finally:
        gb.close()


def _stamp_nbgrader_db(path: Path) -> None:
    """A new nbgrader database marked with the newest revision of nbgrader's schema.

    nbgrader stamps a new database by running the `alembic` command found on PATH, which a process started as
    `.venv/bin/course` does not have; a database holding the stamp already is only given its tables.
    """
    import sqlite3

    import nbgrader
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))


def register_assignment(course: Course, part: Part, layout: HubLayout, notebooks: list[str]) -> None:
    """The assignment, its notebooks and one grade cell per question (points from the grading bundles)."""
    from aiml_course.grading.pipeline import load_bundles

    try:
        bundles = load_bundles(course, part.id)
    except CourseError:
        bundles = {}  # released without bundles: notebooks only; grade cells come with the first sync
    with _nbgrader_gradebook(course, layout) as gb:
        gb.update_or_create_assignment(part.id, duedate=part.due)
        for stem in notebooks:
            gb.update_or_create_notebook(stem, part.id)
            for qid, question in bundles.get(stem, {}).get("questions", {}).items():
                gb.update_or_create_grade_cell(qid, stem, part.id, max_score=float(question["points"]),
                                               cell_type="code")


def _define_cells(gb: Any, part: Part, rows: list[dict[str, Any]]) -> None:
    """Each graded notebook and question exists in nbgrader's gradebook, with the question's possible points."""
    gb.update_or_create_assignment(part.id, duedate=part.due)
    for row in rows:
        gb.update_or_create_notebook(row["notebook"], part.id)
        for qid, (_earned, possible) in row["questions"].items():
            gb.update_or_create_grade_cell(qid, row["notebook"], part.id, max_score=float(possible),
                                           cell_type="code")


def manual_questions(course: Course, part_id: str) -> set[tuple[str, str]]:
    """(notebook, question) of the part's questions graded by hand (`# MANUAL`, e.g. imported from nbgrader/otter)."""
    found = set()
    for path in sorted((course.autograder_dir / part_id).glob("*.bundle.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        found |= {(bundle["notebook"], q) for q, info in bundle.get("questions", {}).items()
                  if info.get("kind") == "manual"}
    return found


@dataclass
class _SyncContext:
    course: Course
    part: Part
    gradebook: Gradebook

    def __post_init__(self) -> None:
        self.adjustments = self.gradebook.adjustments()
        self.extensions = self.gradebook.extensions()
        self.people = {s.id: s for s in self.gradebook.students()}
        self.manual = manual_questions(self.course, self.part.id)

    def penalty(self, student: str, rows: list[dict[str, Any]]) -> float:
        """The late policy's fraction for the student's latest notebook, as `course export` computes it."""
        deadline = max(self.part.due, self.extensions.get((student, self.part.id), self.part.due))
        handed_in = [r["submitted_at"] for r in rows if r["submitted_at"] is not None]  # missing: no time
        return self.course.late_policy.penalty(max(handed_in) - deadline) if handed_in else 0.0


def _sync_student(gb: Any, ctx: _SyncContext, layout: HubLayout, student: str, rows: list[dict[str, Any]]) -> None:
    """One student's submission: scores per question, staff adjustments as manual scores, the late penalty."""
    person = ctx.people.get(student)
    first, _, last = (person.name.strip().rpartition(" ") if person and person.name else ("", "", ""))
    gb.update_or_create_student(student, first_name=first or None, last_name=last or None,  # "Roe, Bob" in lists
                                email=(person.email if person and person.email else None))
    folder = layout.course_dir / "submitted" / student / ctx.part.id
    stamp = folder / "timestamp.txt"
    recorded = read_no_follow(stamp, 100)   # written by our collect; never read through a link a TA placed
    when: str | datetime = (recorded.strip() if recorded
                            else max((r["submitted_at"] for r in rows if r["submitted_at"] is not None),
                                     default=datetime.now(UTC)).astimezone(UTC))
    submission = _submission(gb, ctx.part.id, student, when)
    fraction = ctx.penalty(student, rows)
    for row in rows:
        notebook = _submitted_notebook(gb, submission, row["notebook"], ctx.part.id)
        score = 0.0
        for qid, (earned, possible) in row["questions"].items():
            grade = _grade(gb, notebook, qid, row["notebook"], ctx.part.id)
            extra = ctx.adjustments.get((student, ctx.part.id, row["notebook"], qid))
            manual = (row["notebook"], qid) in ctx.manual
            if manual and extra is None and grade.manual_score is not None:  # a TA scored it in the formgrader
                extra = float(grade.manual_score) - float(earned)
                ctx.gradebook.adjust(student, ctx.part.id, row["notebook"], qid, extra, by="formgrader",
                                     reason="graded by hand in nbgrader's formgrader")
            grade.auto_score = float(earned)
            grade.needs_manual_grade = manual and extra is None  # manual questions wait for a grader
            grade.manual_score = None if extra is None else min(float(possible), max(0.0, earned + extra))
            score += grade.auto_score if grade.manual_score is None else grade.manual_score
        notebook.late_submission_penalty = round(score * fraction, 6)
    for notebook in submission.notebooks:  # notebooks we hold no grade for: zero, not "needs manual grading"
        for grade in notebook.grades:
            if grade.auto_score is None and grade.manual_score is None:
                grade.auto_score, grade.needs_manual_grade = 0.0, False
    gb.db.commit()
    if folder.is_dir():
        _mirror_autograded(layout, student, ctx.part.id, folder)


def _submission(gb: Any, part: str, student: str, when: str | datetime) -> Any:
    """The student's SubmittedAssignment, with the submission's timestamp (the formgrader compares it)."""
    from nbgrader.api import MissingEntry, SubmittedAssignment
    from nbgrader.utils import parse_utc

    try:
        submission = gb.find_submission(part, student)
    except MissingEntry:
        with gb.db.no_autoflush:
            submission = SubmittedAssignment(assignment=gb.find_assignment(part), student=gb.find_student(student))
            gb.db.add(submission)
    submission.timestamp = parse_utc(when)
    gb.db.flush()
    return submission


def _submitted_notebook(gb: Any, submission: Any, stem: str, part: str) -> Any:
    """The student's SubmittedNotebook row of notebook `stem`."""
    from nbgrader.api import MissingEntry, SubmittedNotebook

    try:
        return gb.find_submission_notebook(stem, part, submission.student.id)
    except MissingEntry:
        with gb.db.no_autoflush:
            notebook = SubmittedNotebook(notebook=gb.find_notebook(stem, part), assignment=submission)
            gb.db.add(notebook)
        gb.db.flush()
        return notebook


def _grade(gb: Any, notebook: Any, qid: str, stem: str, part: str) -> Any:
    """The Grade row of question `qid` in the submitted notebook."""
    from nbgrader.api import Grade, MissingEntry

    try:
        return gb.find_grade(qid, stem, part, notebook.student.id)
    except MissingEntry:
        with gb.db.no_autoflush:
            grade = Grade(cell_id=gb.find_grade_cell(qid, stem, part).id, notebook=notebook)
            gb.db.add(grade)
        gb.db.flush()
        return grade


def _mirror_autograded(layout: HubLayout, student: str, part: str, folder: Path) -> None:
    """course/autograded/<student>/<part>/: the formgrader counts a submission as graded only when it exists
    with the submitted timestamp, and shows its notebooks. Copied as root from the staff-writable submitted/, so
    only regular files, never through a link, built in root's staging folder and moved in without following one."""
    layout.staging_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=layout.staging_dir) as tmp:
        staged = Path(tmp) / "copy"
        copy_regular_files(folder.parent, folder.name, staged)
        file_into(layout.course_dir, staged, student, part, under="autograded")
