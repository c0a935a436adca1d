"""Release, collect and feedback through nbgrader's file exchange; our grades mirrored into nbgrader's formgrader.

    release/<part>/ ──copy──▶ course/release/<part>/ ──nbgrader release_assignment──▶ exchange/<course>/outbound/
    exchange/<course>/inbound/ ──nbgrader collect --update──▶ course/submitted/<student>/<part>/  (timestamp.txt)
        ──grade_part (sandbox)──▶ our gradebook + reports/<student>/<notebook>.html
    reports ──copy──▶ course/feedback/<student>/<part>/ ──nbgrader release_feedback──▶ exchange/<course>/feedback/
    our gradebook ──sync_formgrader──▶ course/gradebook.db (nbgrader's), course/autograded/<student>/<part>/

nbgrader's apps run in a subprocess (`python -m nbgrader`, cwd = the course directory, whose nbgrader_config.py
this module writes): their traitlets configuration is global to a process. nbgrader's gradebook is plain
SQLAlchemy and is used in this process. Everything under the course directory is made group-readable and
-writable for the staff group (when it exists) and closed to everyone else.
"""

from __future__ import annotations

import grp
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiml_course.config import Course, Part
from aiml_course.errors import ConfigError, CourseError, HubError
from aiml_course.gradebook import Gradebook
from aiml_course.grading.pipeline import GradeSummary, grade_part
from aiml_course.hub.layout import HubLayout
from aiml_course.sandbox import Sandbox

logger = logging.getLogger(__name__)

NOT_SUBMITTED = "not submitted"      # the problem aiml_course.grading.pipeline records for a missing notebook
NBGRADER_TIMEOUT = 600               # seconds for one nbgrader command (collect of a large class included)
SCRUBBED_ENV = ("NBGRADER_HUB_AUTH", "NBGRADER_STUDENT_ID", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER")


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
    part = _part(course, part_id)
    src = course.release_dir / part.id
    notebooks = sorted(p.stem for p in src.glob("*.ipynb"))
    if not notebooks:
        raise HubError(f"{src} has no notebooks to release: run `course build {part.id}` first")
    _prepare(course, layout)
    _replace_tree(src, layout.course_dir / "release" / part.id)
    _register(course, part, layout, notebooks)
    outbound = layout.exchange / course.id / "outbound" / part.id
    replaced = outbound.is_dir()
    _nbgrader(layout, part.id, "release_assignment", part.id, "--force")
    _share_with_staff(layout)
    return ReleaseResult(part.id, notebooks, outbound, replaced)


def collect_part(course: Course, part_id: str, layout: HubLayout, *,
                 known_students: set[str] | None = None) -> CollectResult:
    """Collect each student's latest submission of the part into course/submitted/<student>/<part>/."""
    part = _part(course, part_id)
    inbound = layout.exchange / course.id / "inbound"
    if not inbound.is_dir():
        raise HubError(f"{part.id} was never released to {layout.exchange}: run `course release {part.id}` first")
    _prepare(course, layout)
    submitted = layout.course_dir / "submitted"
    before = _stamps(submitted, part.id)
    log = _nbgrader(layout, part.id, "collect", part.id, "--update")
    _share_with_staff(layout)
    after = _stamps(submitted, part.id)
    students = sorted(after)
    return CollectResult(
        part.id, students, submitted,
        updated=[s for s in students if before.get(s) != after[s]],
        unknown=[] if known_students is None else [s for s in students if s not in known_students],
        suspicious=[line.strip() for line in log.splitlines() if "cheating attempt" in line])


def release_feedback(course: Course, part_id: str, layout: HubLayout, *, reports: Path) -> list[str]:
    """Hand each student the HTML report of every notebook they submitted, through nbgrader's feedback exchange."""
    part = _part(course, part_id)
    if not reports.is_dir():
        raise HubError(f"no feedback reports for {part.id} in {reports}: grade the part first "
                       f"(`course collect {part.id}` grades and writes them)")
    _prepare(course, layout)
    served = [student for student, folder in _submissions(layout, part.id)
              if _stage_feedback(layout, part.id, student, folder, reports)]
    if not served:
        logger.warning("%s: no feedback to release (no report matches a collected notebook in %s)", part.id, reports)
        return []
    _share_with_staff(layout)
    _nbgrader(layout, part.id, "release_feedback", part.id)
    outbound = layout.exchange / course.id / "feedback"
    for page in outbound.glob("*.html"):  # nbgrader copies our 0660 files; students must read them
        page.chmod(0o644)
    return served


def sync_formgrader(course: Course, gradebook: Gradebook, layout: HubLayout, part_id: str) -> int:
    """Mirror our latest grades of the part into nbgrader's gradebook; the number of student submissions written."""
    part = _part(course, part_id)
    by_student: dict[str, list[dict[str, Any]]] = {}
    for row in gradebook.latest(part.id):
        by_student.setdefault(row["student"], []).append(row)
    submitted = {s: rows for s, rows in sorted(by_student.items())
                 if any(r["problem"] != NOT_SUBMITTED for r in rows)}
    if not submitted:
        return 0
    _prepare(course, layout)
    context = _SyncContext(course, part, gradebook)
    with _nbgrader_gradebook(course, layout) as gb:
        _define_cells(gb, part, [r for rows in submitted.values() for r in rows])
        for student, rows in submitted.items():
            _sync_student(gb, context, layout, student, rows)
    _share_with_staff(layout)
    return len(submitted)


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


# --- the course directory and nbgrader ------------------------------------------------------------------------

def _part(course: Course, part_id: str) -> Part:
    """The declared part, or a HubError listing the parts there are."""
    try:
        return course.part(part_id)
    except ConfigError as exc:
        raise HubError(str(exc)) from exc


def _prepare(course: Course, layout: HubLayout) -> None:
    """The hub folders with their modes, and the nbgrader_config.py that nbgrader's apps read in course/."""
    layout.create()
    config = (
        "# Written by aiml_course.hub.exchange on every release/collect; edits are overwritten.\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {course.id!r}\n"
        f"c.CourseDirectory.root = {str(layout.course_dir)!r}\n"
        f"c.CourseDirectory.db_url = {_db_url(layout)!r}\n"
        f"c.Exchange.root = {str(layout.exchange)!r}\n")
    target = layout.course_dir / "nbgrader_config.py"
    if not target.is_file() or target.read_text(encoding="utf-8") != config:
        target.write_text(config, encoding="utf-8")


def _db_url(layout: HubLayout) -> str:
    return f"sqlite:///{layout.nbgrader_db}"


def _nbgrader(layout: HubLayout, part: str, *args: str) -> str:
    """Run one nbgrader app in the course directory; its log, or a HubError with the lines that matter."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env["NBGRADER_EXCHANGE"] = str(layout.exchange)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])  # alembic
    try:
        proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=layout.course_dir, env=env,
                              capture_output=True, text=True, timeout=NBGRADER_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise HubError(f"nbgrader {args[0]} {part} took over {NBGRADER_TIMEOUT} s and was stopped") from exc
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        problems = [ln for ln in log.splitlines() if "ERROR" in ln or "CRITICAL" in ln] or log.splitlines()[-8:]
        raise HubError(f"nbgrader {args[0]} {part} failed (exit {proc.returncode}) in {layout.course_dir}:\n  "
                       + "\n  ".join(problems))
    logger.info("nbgrader %s %s:\n%s", args[0], part, log)
    return log


def _staff_gid(layout: HubLayout) -> int | None:
    try:
        return grp.getgrnam(layout.staff_group).gr_gid
    except KeyError:
        return None


def _share_with_staff(layout: HubLayout) -> None:
    """Folders 2770 and files 0660, group = the staff group when it exists: staff read and write, others nothing."""
    gid = _staff_gid(layout)
    for dirpath, _dirs, files in os.walk(layout.course_dir):
        for path in [Path(dirpath), *(Path(dirpath) / f for f in files)]:
            if path.is_symlink():
                continue
            if gid is not None and path.stat().st_gid != gid:
                os.chown(path, -1, gid)
            path.chmod(0o2770 if path.is_dir() else 0o660)


def _replace_tree(src: Path, dest: Path) -> None:
    """Make `dest` an exact copy of `src` (hidden folders such as .checks/ included)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    fresh.rmdir()
    shutil.copytree(src, fresh, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    if dest.exists():
        shutil.rmtree(dest)
    fresh.rename(dest)


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


# --- nbgrader's gradebook -----------------------------------------------------------------------------------------

@contextmanager
def _nbgrader_gradebook(course: Course, layout: HubLayout) -> Iterator[Any]:
    """nbgrader's own Gradebook on course/gradebook.db (created on first use)."""
    from nbgrader.api import Gradebook as NbGradebook

    if not layout.nbgrader_db.is_file():
        _stamp_nbgrader_db(layout.nbgrader_db)
    try:
        gb = NbGradebook(_db_url(layout), course_id=course.id)
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


def _register(course: Course, part: Part, layout: HubLayout, notebooks: list[str]) -> None:
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


@dataclass
class _SyncContext:
    course: Course
    part: Part
    gradebook: Gradebook

    def __post_init__(self) -> None:
        self.adjustments = self.gradebook.adjustments()
        self.extensions = self.gradebook.extensions()
        self.people = {s.id: s for s in self.gradebook.students()}

    def penalty(self, student: str, rows: list[dict[str, Any]]) -> float:
        """The late policy's fraction for the student's latest notebook, as `course export` computes it."""
        deadline = max(self.part.due, self.extensions.get((student, self.part.id), self.part.due))
        return self.course.late_policy.penalty(max(r["submitted_at"] for r in rows) - deadline)


def _sync_student(gb: Any, ctx: _SyncContext, layout: HubLayout, student: str, rows: list[dict[str, Any]]) -> None:
    """One student's submission: scores per question, staff adjustments as manual scores, the late penalty."""
    person = ctx.people.get(student)
    first, _, last = (person.name.strip().rpartition(" ") if person and person.name else ("", "", ""))
    gb.update_or_create_student(student, first_name=first or None, last_name=last or None,  # "Roe, Bob" in lists
                                email=(person.email if person and person.email else None))
    folder = layout.course_dir / "submitted" / student / ctx.part.id
    stamp = folder / "timestamp.txt"
    when: str | datetime = (stamp.read_text().strip() if stamp.is_file()
                            else max(r["submitted_at"] for r in rows).astimezone(UTC))
    submission = _submission(gb, ctx.part.id, student, when)
    fraction = ctx.penalty(student, rows)
    for row in rows:
        notebook = _submitted_notebook(gb, submission, row["notebook"], ctx.part.id)
        score = 0.0
        for qid, (earned, possible) in row["questions"].items():
            grade = _grade(gb, notebook, qid, row["notebook"], ctx.part.id)
            grade.auto_score, grade.needs_manual_grade = float(earned), False
            extra = ctx.adjustments.get((student, ctx.part.id, row["notebook"], qid))
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


# Rows are made here rather than with nbgrader's add_submission, whose objects join the session through
# SQLAlchemy 1.x backref cascades: under SQLAlchemy 2 that logs "not in session ... will not proceed" warnings.

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
    with the submitted timestamp, and shows its notebooks."""
    dest = layout.course_dir / "autograded" / student / part
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for item in folder.iterdir():
        if item.is_file() and (item.suffix == ".ipynb" or item.name == "timestamp.txt"):
            shutil.copyfile(item, dest / item.name)
