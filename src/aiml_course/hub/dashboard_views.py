"""The course dashboard's view models, built from the gradebook (rendered by dashboard_pages.py).

Pure: data in, dataclasses out. Numbers come from `aiml_course.export.grade_rows`, so every point, penalty and
percent shown equals the CSV's.
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import func, select

from aiml_course.certificates.eligibility import Verdict, eligibility
from aiml_course.config import Course
from aiml_course.errors import CourseError
from aiml_course.export import grade_rows, question_columns
from aiml_course.gradebook import Adjustment, Gradebook, Student, Submission

FeedbackUrl = Callable[[str, str, str], str]   # (student, part, notebook) -> URL of the feedback report
HIST_BINS = 10
HARDEST = 10
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")  # Okabe–Ito, colour-blind safe
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")                          # a second cue besides colour
e = html.escape


class DashboardError(CourseError):
    """A dashboard request that cannot be answered (unknown student or cohort); `status` is the HTTP code."""

    def __init__(self, message: str, *, status: int = 404) -> None:
        self.status = status
        super().__init__(message)


# ── view models ─────────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class QuestionView:
    """One question's points: autograded, staff adjustments (with reasons) and what counts (as in the CSV)."""

    question: str
    autograded: float | None        # None: not in the graded submission
    adjustment: float
    reasons: tuple[str, ...]
    earned: float
    possible: float


@dataclass(frozen=True)
class NotebookView:
    """One notebook of a part: the latest graded submission (if any) and its questions."""

    notebook: str
    submitted_at: datetime | None
    problem: str
    feedback_url: str | None
    earned: float
    possible: float
    questions: tuple[QuestionView, ...]


@dataclass(frozen=True)
class PartView:
    """One part for one student: points, deadline (with extension), late penalty and score."""

    id: str
    title: str
    due: datetime
    deadline: datetime
    submitted_at: datetime | None   # the latest submission among the part's notebooks
    raw: float
    possible: float
    late_penalty: float
    score: float
    notebooks: tuple[NotebookView, ...]
    released: bool = True           # False: never released to students (not "missing", not counted)

    @property
    def extended(self) -> bool:
        """Has this student a later deadline than the part's?"""
        return self.deadline != self.due

    @property
    def percent(self) -> float | None:
        """Score as percent of the possible points (None while the part has no bundles)."""
        return 100 * self.score / self.possible if self.possible else None


@dataclass(frozen=True)
class PeerTask:
    """A review this student has to write: of `alias`'s submission for `part`."""

    part: str
    alias: str
    done: bool


@dataclass(frozen=True)
class PeerFeedback:
    """A review of this student's work: rubric scores and the comment (`reviewer` is an alias, never an id)."""

    part: str
    reviewer: str
    scores: tuple[tuple[str, float], ...]
    comment: str


@dataclass(frozen=True)
class StudentView:
    """Everything one student's page shows, and nothing about anyone else."""

    course_title: str
    student: str
    name: str
    cohort: str
    now: datetime
    parts: tuple[PartView, ...]
    percent: float                  # weighted by part weights, as the CSV's `percent`, over released parts
    certificate: Verdict | None     # None: not assessed (inactive account)
    certificate_bar: float          # CertificatePolicy.min_part_fraction
    peer_tasks: tuple[PeerTask, ...] | None = None
    peer_feedback: tuple[PeerFeedback, ...] | None = None
    rubric_max: dict[str, int] = field(default_factory=dict)
    issued: dict[str, Any] | None = None     # certificates.certificate_status(): the certificate held, if any
    certificate_url: str | None = None       # where its PDF downloads


@dataclass(frozen=True)
class Cell:
    """One student × part cell: percent of the part's points after late penalty, or why there is none."""

    percent: float | None
    late_penalty: float
    submitted: bool
    due_passed: bool
    released: bool = True


@dataclass(frozen=True)
class StudentRow:
    """One student's row of the instructor's table."""

    student: str
    name: str
    active: bool
    cells: tuple[Cell, ...]
    percent: float


@dataclass(frozen=True)
class Histogram:
    """Counts of students per 10-point band of a part's percent (last band includes 100); `missing`: no work."""

    part: str
    title: str
    counts: tuple[int, ...]
    missing: int


@dataclass(frozen=True)
class Completion:
    """Cumulative number of students with a graded submission of `part`, by UTC date of their first one."""

    part: str
    title: str
    points: tuple[tuple[date, int], ...]


@dataclass(frozen=True)
class HardQuestion:
    """A question's mean share of points among the `n` students who submitted its notebook."""

    part: str
    notebook: str
    question: str
    mean_fraction: float
    n: int


@dataclass(frozen=True)
class CohortView:
    """One cohort's section of the instructor page."""

    cohort: str
    rows: tuple[StudentRow, ...]
    histograms: tuple[Histogram, ...]
    completion: tuple[Completion, ...]
    hardest: tuple[HardQuestion, ...]


@dataclass(frozen=True)
class InstructorView:
    """Everything the instructor page shows."""

    course_title: str
    now: datetime
    parts: tuple[tuple[str, str], ...]  # (id, title) in course order
    cohorts: tuple[CohortView, ...]


# ── reading the gradebook once ──────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class _StudentRecord:
    """A detached copy of a `Student` row (plain attributes: export's per-student loop reads them often)."""

    id: str
    name: str
    cohort: str
    active: int


class _Snapshot:
    """The gradebook as `export.grade_rows` and `certificates.eligibility` read it, loaded once.

    Both call `Gradebook.latest()`; through a snapshot they share one read, and a student's page reads only that
    student's rows.
    Attributes not defined here are the gradebook's own.
    """

    def __init__(self, gradebook: Gradebook, student: str | None = None) -> None:
        self._gradebook = gradebook
        with gradebook.session() as s:
            query = select(Student).order_by(Student.id)
            self._students = [_StudentRecord(r.id, r.name, r.cohort, r.active) for r in
                              s.scalars(query if student is None else query.where(Student.id == student))]
        self._latest = gradebook.latest(student=student)
        self._adjustments = {k: v for k, v in gradebook.adjustments().items() if student in (None, k[0])}
        self._extensions = {k: v for k, v in gradebook.extensions().items() if student in (None, k[0])}

    def latest(self, part: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self._latest if part is None or r["part"] == part]

    def students(self) -> list[_StudentRecord]:
        return list(self._students)

    def adjustments(self) -> dict[tuple[str, str, str, str], float]:
        return dict(self._adjustments)

    def extensions(self) -> dict[tuple[str, str], datetime]:
        return dict(self._extensions)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gradebook, name)


# ── building the student view ───────────────────────────────────────────────────────────────────────────────


def released_percent(course: Course, row: dict[str, Any], released: frozenset[str] | None) -> float:
    """The CSV's weighted `percent`, counting only released parts (all of them when `released` is None)."""
    if released is None:
        return float(row["percent"])
    weighted = weights = 0.0
    for part in course.parts:
        possible = row[f"{part.id}:possible"]
        if part.id in released and possible:
            weighted += part.weight * row[f"{part.id}:score"] / possible
            weights += part.weight
    return round(100 * weighted / weights, 2) if weights else 0.0


def student_view(course: Course, gradebook: Gradebook, student_id: str, *, now: datetime,
                 released: frozenset[str] | None = None,
                 peer_tasks: list[dict[str, Any]] | None = None,
                 peer_feedback: list[dict[str, Any]] | None = None,
                 feedback_url: FeedbackUrl | None = None, issued: dict[str, Any] | None = None,
                 certificate_url: str | None = None) -> StudentView:
    """The view of one student's page; DashboardError (404) for a student the gradebook does not know."""
    snapshot = _Snapshot(gradebook, student_id)
    if not snapshot.students():
        raise DashboardError(f"no student {student_id!r} in the gradebook")
    book = cast(Gradebook, snapshot)
    _, (row,) = grade_rows(course, book)
    latest = {(s["part"], s["notebook"]): s for s in snapshot.latest()}
    adjustments, reasons = snapshot.adjustments(), _adjustment_reasons(gradebook, student_id)
    columns = question_columns(course)
    parts = []
    for part in course.parts:
        notebooks = _notebook_views(student_id, part.id, columns[part.id], row, latest, adjustments, reasons,
                                    feedback_url)
        times = [nb.submitted_at for nb in notebooks if nb.submitted_at]
        parts.append(PartView(part.id, part.title, part.due, datetime.fromisoformat(row[f"{part.id}:deadline"]),
                              max(times, default=None), row[f"{part.id}:raw"], row[f"{part.id}:possible"],
                              row[f"{part.id}:late_penalty"], row[f"{part.id}:score"], notebooks,
                              released is None or part.id in released or bool(times)))
    verdict = next(iter(eligibility(course, book)), None)   # none for an inactive student
    return StudentView(course.title, student_id, row["name"], row["cohort"], now, tuple(parts),
                       released_percent(course, row, released),
                       verdict, course.certificate.min_part_fraction,
                       None if peer_tasks is None else tuple(_peer_task(t) for t in peer_tasks),
                       None if peer_feedback is None else tuple(_peer_feedback(f) for f in peer_feedback),
                       {r.id: r.max_points for r in course.peer_review.rubric}, issued,
                       _safe_url(certificate_url) if certificate_url else None)


def _notebook_views(student: str, part: str, columns: list[tuple[str, float]], row: dict[str, Any],
                    latest: dict[tuple[str, str], dict[str, Any]], adjustments: dict[tuple[str, ...], float],
                    reasons: dict[tuple[str, ...], list[str]], feedback_url: FeedbackUrl | None,
                    ) -> tuple[NotebookView, ...]:
    """Per notebook (bundle order), the questions with the CSV's points and where they came from."""
    by_notebook: dict[str, list[QuestionView]] = {}
    for col, possible in columns:
        nb, qid = col.split("/", 1)[1].split(":", 1)
        sub = latest.get((part, nb))
        auto = sub["questions"][qid][0] if sub and qid in sub["questions"] else None
        key = (student, part, nb, qid)
        by_notebook.setdefault(nb, []).append(QuestionView(qid, auto, adjustments.get(key, 0.0),
                                                           tuple(reasons.get(key, ())), row[col], possible))
    views = []
    for nb, questions in by_notebook.items():
        sub = latest.get((part, nb))
        url = _safe_url(feedback_url(student, part, nb)) if sub and feedback_url else None
        views.append(NotebookView(nb, sub["submitted_at"] if sub else None, sub["problem"] if sub else "", url,
                                  round(sum(q.earned for q in questions), 4), sum(q.possible for q in questions),
                                  tuple(questions)))
    return tuple(views)


def _adjustment_reasons(gradebook: Gradebook, student: str) -> dict[tuple[str, ...], list[str]]:
    """(student, part, notebook, question) → 'points: reason' of each staff adjustment, oldest first."""
    out: dict[tuple[str, ...], list[str]] = {}
    with gradebook.session() as s:
        rows = s.scalars(select(Adjustment).where(Adjustment.student_id == student).order_by(Adjustment.id))
        for a in rows:
            out.setdefault((student, a.part, a.notebook, a.question), []).append(f"{a.points:+g}: {a.reason}")
    return out


def _peer_task(d: dict[str, Any]) -> PeerTask:
    try:
        return PeerTask(str(d["part"]), str(d["alias"]), bool(d["done"]))
    except KeyError as exc:
        raise DashboardError(f"a peer-review task needs {exc.args[0]!r}: {sorted(d)}", status=500) from exc


def _peer_feedback(d: dict[str, Any]) -> PeerFeedback:
    try:
        scores = tuple((str(k), float(v)) for k, v in dict(d["scores"]).items())
        return PeerFeedback(str(d["part"]), str(d["reviewer"]), scores, str(d.get("comment") or ""))
    except KeyError as exc:
        raise DashboardError(f"peer feedback needs {exc.args[0]!r}: {sorted(d)}", status=500) from exc


def _safe_url(url: str) -> str | None:
    """`url` if it is relative or http(s); never a `javascript:` or `data:` link."""
    return url if urlsplit(url).scheme.lower() in ("", "http", "https") else None


# ── building the instructor view ────────────────────────────────────────────────────────────────────────────


def instructor_view(course: Course, gradebook: Gradebook, *, cohorts: list[str] | None,
                    now: datetime, released: frozenset[str] | None = None) -> InstructorView:
    """Per cohort (all with students when `cohorts` is None): the grade table, histograms, completion, hardest."""
    snapshot = _Snapshot(gradebook)
    _, rows = grade_rows(course, cast(Gradebook, snapshot))
    active = {s.id: bool(s.active) for s in snapshot.students()}
    submitted = {(s["student"], s["part"], s["notebook"]) for s in snapshot.latest()}
    worked = {(s, p) for s, p, _ in submitted}
    firsts = _first_submissions(gradebook)
    with_students = {r["cohort"] for r in rows}
    present = [c for c in course.cohorts if c in with_students] + sorted(with_students - set(course.cohorts))
    chosen = present if cohorts is None else list(dict.fromkeys(cohorts))
    unknown = [c for c in chosen if c not in present and c not in course.cohorts]
    if unknown:
        raise DashboardError(f"unknown cohort {unknown[0]!r}; known: {', '.join(present) or 'none'}")
    views = []
    for cohort in chosen:
        members = [r for r in rows if r["cohort"] == cohort]
        counted = [r for r in members if active.get(r["student"], True)]
        shown = [p for p in course.parts if released is None or p.id in released]
        views.append(CohortView(cohort, tuple(_student_row(course, r, active, worked, now, released)
                                              for r in members),
                                tuple(_histogram(p.id, p.title, counted, worked) for p in shown),
                                tuple(_completion(p.id, p.title, counted, firsts) for p in shown),
                                _hardest(course, counted, submitted)))
    return InstructorView(course.title, now, tuple((p.id, p.title) for p in course.parts), tuple(views))


def _student_row(course: Course, row: dict[str, Any], active: dict[str, bool], worked: set[tuple[str, str]],
                 now: datetime, released: frozenset[str] | None = None) -> StudentRow:
    cells = []
    for part in course.parts:
        possible, done = row[f"{part.id}:possible"], (row["student"], part.id) in worked
        cells.append(Cell(100 * row[f"{part.id}:score"] / possible if possible else None,
                          row[f"{part.id}:late_penalty"], done,
                          now > datetime.fromisoformat(row[f"{part.id}:deadline"]),
                          released is None or part.id in released or done))
    return StudentRow(row["student"], row["name"], active.get(row["student"], True), tuple(cells),
                      released_percent(course, row, released))


def _histogram(part: str, title: str, rows: list[dict[str, Any]], worked: set[tuple[str, str]]) -> Histogram:
    counts, missing = [0] * HIST_BINS, 0
    for r in rows:
        possible = r[f"{part}:possible"]
        if not possible or (r["student"], part) not in worked:
            missing += 1
            continue
        pct = round(100 * r[f"{part}:score"] / possible, 6)
        counts[min(HIST_BINS - 1, max(0, math.floor(pct / (100 / HIST_BINS))))] += 1
    return Histogram(part, title, tuple(counts), missing)


def _first_submissions(gradebook: Gradebook) -> dict[tuple[str, str], datetime]:
    """(student, part) → time of the first graded submission."""
    with gradebook.session() as s:
        query = (select(Submission.student_id, Submission.part, func.min(Submission.submitted_at))
                 .where(Submission.graded_at.is_not(None)).group_by(Submission.student_id, Submission.part))
        return {(st, p): t if t.tzinfo else t.replace(tzinfo=UTC) for st, p, t in s.execute(query)}


def _completion(part: str, title: str, rows: list[dict[str, Any]],
                firsts: dict[tuple[str, str], datetime]) -> Completion:
    per_day: dict[date, int] = {}
    for r in rows:
        when = firsts.get((r["student"], part))
        if when is not None:
            day = when.astimezone(UTC).date()
            per_day[day] = per_day.get(day, 0) + 1
    points, total = [], 0
    for day in sorted(per_day):
        total += per_day[day]
        points.append((day, total))
    return Completion(part, title, tuple(points))


def _hardest(course: Course, rows: list[dict[str, Any]], submitted: set[tuple[str, str, str]],
             ) -> tuple[HardQuestion, ...]:
    """The questions with the lowest mean share of points among students who submitted their notebook."""
    found = []
    for part_id, columns in question_columns(course).items():
        for col, possible in columns:
            nb, qid = col.split("/", 1)[1].split(":", 1)
            fractions = [r[col] / possible for r in rows if (r["student"], part_id, nb) in submitted]
            if possible > 0 and fractions:
                found.append(HardQuestion(part_id, nb, qid, statistics.fmean(fractions), len(fractions)))
    found.sort(key=lambda q: (q.mean_fraction, -q.n, q.part, q.notebook, q.question))
    return tuple(found[:HARDEST])


__all__ = [
    "Cell", "CohortView", "Completion", "DashboardError", "HardQuestion", "Histogram", "InstructorView",
    "NotebookView", "PartView", "PeerFeedback", "PeerTask", "QuestionView", "StudentRow", "StudentView",
    "instructor_view", "student_view",
]
