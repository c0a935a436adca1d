"""The course dashboard's pages: view models built from the gradebook, rendered as self-contained HTML + SVG.

Pure: data in, HTML string out, no web framework, no JavaScript and no external resources (the pages work
offline). Numbers come from `aiml_course.export.grade_rows`, so every point, penalty and percent shown here equals
the CSV's. Every string from the gradebook, the course or the caller is escaped (names and problem texts are
untrusted). Layout is mobile-first: tables scroll inside their own box, plots scale with `viewBox`.
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote, urlsplit

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
    percent: float                  # weighted by part weights, as the CSV's `percent`
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


def student_view(course: Course, gradebook: Gradebook, student_id: str, *, now: datetime,
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
                              row[f"{part.id}:late_penalty"], row[f"{part.id}:score"], notebooks))
    verdict = next(iter(eligibility(course, book)), None)   # none for an inactive student
    return StudentView(course.title, student_id, row["name"], row["cohort"], now, tuple(parts), row["percent"],
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
                    now: datetime) -> InstructorView:
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
        views.append(CohortView(cohort, tuple(_student_row(course, r, active, worked, now) for r in members),
                                tuple(_histogram(p.id, p.title, counted, worked) for p in course.parts),
                                tuple(_completion(p.id, p.title, counted, firsts) for p in course.parts),
                                _hardest(course, counted, submitted)))
    return InstructorView(course.title, now, tuple((p.id, p.title) for p in course.parts), tuple(views))


def _student_row(course: Course, row: dict[str, Any], active: dict[str, bool], worked: set[tuple[str, str]],
                 now: datetime) -> StudentRow:
    cells = []
    for part in course.parts:
        possible, done = row[f"{part.id}:possible"], (row["student"], part.id) in worked
        cells.append(Cell(100 * row[f"{part.id}:score"] / possible if possible else None,
                          row[f"{part.id}:late_penalty"], done,
                          now > datetime.fromisoformat(row[f"{part.id}:deadline"])))
    return StudentRow(row["student"], row["name"], active.get(row["student"], True), tuple(cells), row["percent"])


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


# ── rendering ───────────────────────────────────────────────────────────────────────────────────────────────

CSS = """
*,*::before,*::after{box-sizing:border-box}
:root{--ink:#1d2430;--muted:#5b6472;--line:#d9dee5;--soft:#f4f6f9;--accent:#1f5fa8;--ok:#1e6b34;--okbg:#e6f4ea;
--late:#8a4b00;--latebg:#fff1db;--bad:#8a1c1c;--badbg:#fdecec}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:#fff;overflow-wrap:break-word}
a{color:var(--accent)}
.skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#fff;padding:.25rem .5rem}
.top{background:var(--ink);color:#fff;padding:.6rem 1rem}.top a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 .25rem}h2{font-size:1.25rem;margin:2rem 0 .5rem;
padding-bottom:.25rem;border-bottom:2px solid var(--line)}h3{font-size:1.05rem;margin:1.25rem 0 .5rem}
.muted,.sub{color:var(--muted)}.sub{font-size:.9rem;margin:0 0 1rem}
.meta{display:block;font-size:.85rem;font-weight:400;color:var(--muted);margin:.1rem 0}
ul.meta{display:block}.group{background:var(--soft)}
.card{border:1px solid var(--line);border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1rem;background:#fff}
.card h3{margin-top:0}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(min(100%,16rem),1fr))}
.kpis{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;margin:.5rem 0}.kpis b{font-size:1.25rem}
.scroll{overflow-x:auto;max-width:100%;border:1px solid var(--line);border-radius:.5rem;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{padding:.4rem .6rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--soft);font-weight:600;white-space:nowrap}
tbody tr:last-child>*{border-bottom:0}
.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.wide td{white-space:nowrap}
.wide tbody th{position:sticky;left:0;z-index:1;background:#fff;min-width:7rem;max-width:42vw;box-shadow:1px 0 0 var(--line)}
.tag{display:inline-block;font-size:.8rem;line-height:1.4;padding:0 .4rem;border-radius:.25rem;
border:1px solid currentColor;white-space:nowrap;margin-left:.25rem}
.ok{color:var(--ok);background:var(--okbg)}.late{color:var(--late);background:var(--latebg)}
.bad{color:var(--bad);background:var(--badbg)}.open{color:var(--muted);background:var(--soft)}
.problem{background:var(--latebg);border-left:4px solid var(--late);padding:.5rem .75rem;margin:.5rem 0}
svg.plot{display:block;width:100%;height:auto}svg.wide-plot{max-width:36rem}
.split{display:grid;gap:0 2rem;grid-template-columns:minmax(0,1fr)}
@media (min-width:64rem){.split{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}}
svg text{font-family:inherit}
.legend{list-style:none;padding:0;margin:.25rem 0;display:flex;flex-wrap:wrap;gap:.25rem 1rem;font-size:.9rem}
.legend svg{width:2rem;height:.75rem;vertical-align:middle;margin-right:.3rem}
details{margin:.25rem 0 1rem}summary{cursor:pointer;color:var(--accent)}
form.inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
select{max-width:100%}
select,button{font:inherit;padding:.35rem .6rem;border-radius:.35rem;border:1px solid var(--line)}
button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
ul.plain{padding-left:1.1rem;margin:.25rem 0}.comment{white-space:pre-line}
@media (max-width:47.99rem){.wide td .tag{display:block;width:max-content;margin:.15rem 0 0 auto}}
@media (min-width:48rem){main{padding:1.5rem 2rem}h1{font-size:1.8rem}}
"""


def _page(title: str, body: str, *, base_url: str, brand: str) -> str:
    """The shared page shell: viewport, one inline style block, no scripts (CSP forbids them)."""
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'"
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>"
            f'<a class="skip" href="#main">Skip to content</a>'
            f'<header class="top"><a href="{e(base_url)}">{e(brand)}</a></header>'
            f'<main id="main">{body}</main></body></html>\n')


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}\u00a0%"


def _pts(value: float) -> str:
    return f"{round(value, 2):g}"


def _when(dt: datetime) -> str:
    utc = dt.astimezone(UTC)
    return f'<time datetime="{e(utc.isoformat())}">{utc:%Y-%m-%d %H:%M} UTC</time>'


def _span(delta: timedelta) -> str:
    """A duration in words, e.g. '2 days 4 h' or '35 min'."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} day{'s' * (days != 1)}" + (f" {hours} h" if hours else "")
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def _tag(kind: str, text: str) -> str:
    return f'<span class="tag {kind}">{e(text)}</span>'


def _part_label(part_id: str) -> str:
    """'part-02-first-neuron' → 'Part 2'."""
    number = part_id.split("-")[1] if part_id.count("-") >= 2 else part_id
    return f"Part {int(number)}" if number.isdigit() else part_id


# ── the student page ────────────────────────────────────────────────────────────────────────────────────────


def render_student_page(view: StudentView, *, base_url: str) -> str:
    """One student's grades, deadlines, feedback links, peer reviews and certificate standing."""
    who = view.name or view.student
    head = (f"<h1>{e(who)}</h1><p class=\"sub\">{e(view.course_title)} · student <b>{e(view.student)}</b> · "
            f"cohort {e(view.cohort)} · as of {_when(view.now)}</p>")
    summary = (f'<section class="card" aria-labelledby="overview"><h2 id="overview" style="margin-top:0">'
               f'Overview</h2><div class="kpis"><span>Course grade so far <b>{_pct(view.percent)}</b></span>'
               f"<span>{_certificate_tag(view)}</span></div>{_parts_chart(view)}</section>")
    parts = "".join(_part_section(view, p) for p in view.parts)
    body = head + summary + parts + _peer_section(view) + _certificate_section(view)
    return _page(f"{who} — {view.course_title}", body, base_url=base_url, brand=view.course_title)


def _part_status(view: StudentView, part: PartView) -> str:
    if part.submitted_at is not None:
        late = part.submitted_at - part.deadline
        if part.late_penalty > 0:
            return _tag("late", f"late by {_span(late)}: −{part.late_penalty * 100:g} %")
        return _tag("ok", "✓ on time" if late <= timedelta(0) else "✓ within grace period")
    if view.now > part.deadline:
        return _tag("bad", "✗ missing: deadline passed")
    return _tag("open", f"open: due in {_span(part.deadline - view.now)}")


def _part_section(view: StudentView, part: PartView) -> str:
    extension = f" (extended from {_when(part.due)})" if part.extended else ""
    submitted = f" · last submitted {_when(part.submitted_at)}" if part.submitted_at else ""
    penalty = f" × (1 − {part.late_penalty:g}) late penalty" if part.late_penalty else ""
    head = (f'<section aria-labelledby="{e(part.id)}"><h2 id="{e(part.id)}">{e(_part_label(part.id))}: '
            f'{e(part.title)}</h2><p class="sub">Deadline {_when(part.deadline)}{extension}{submitted} '
            f"{_part_status(view, part)}</p>"
            f"<p><b>Score {_pts(part.score)} / {_pts(part.possible)}</b> ({_pct(part.percent)}) — "
            f"{_pts(part.raw)} points{penalty}</p>")
    if not part.notebooks:
        return head + '<p class="muted">This part has no graded notebooks yet.</p></section>'
    problems = "".join(f'<p class="problem"><b>{e(nb.notebook)}:</b> {e(nb.problem)}</p>'
                       for nb in part.notebooks if nb.problem)
    adjusted = [(nb.notebook, q) for nb in part.notebooks for q in nb.questions if q.reasons]
    staff = "".join(f"<li>{e(nb)} · <code>{e(q.question)}</code>: {'; '.join(e(r) for r in q.reasons)}</li>"
                    for nb, q in adjusted)
    staff = f'<p class="meta">Changed by staff:</p><ul class="plain meta">{staff}</ul>' if staff else ""
    rows = "".join(f'<tr><th scope="row">{e(nb.notebook)}<span class="meta">{_notebook_meta(nb)}</span></th>'
                   f'<td class="num">{_pts(nb.earned)} / {_pts(nb.possible)}</td></tr>' for nb in part.notebooks)
    table = (f'<div class="scroll"><table><thead><tr><th scope="col">Notebook</th>'
             f'<th scope="col" class="num">Points</th></tr></thead><tbody>{rows}</tbody></table></div>')
    details = (f"<details><summary>Points per question, {e(_part_label(part.id))}</summary>"
               f'<div class="scroll"><table><thead><tr><th scope="col">Question</th>'
               f'<th scope="col" class="num">Points</th></tr></thead>'
               f'{"".join(_question_rows(nb) for nb in part.notebooks)}</table></div></details>')
    return head + problems + staff + table + details + "</section>"


def _notebook_meta(nb: NotebookView) -> str:
    if nb.submitted_at is None:
        return "not submitted"
    link = f' · <a href="{e(nb.feedback_url)}">feedback report</a>' if nb.feedback_url else ""
    return f"submitted {_when(nb.submitted_at)}{link}"


def _question_rows(nb: NotebookView) -> str:
    rows = [f'<tbody><tr><th scope="rowgroup" colspan="2" class="group">{e(nb.notebook)}</th></tr>']
    for q in nb.questions:
        note = ""
        if q.adjustment:
            auto = "not graded" if q.autograded is None else f"autograded {_pts(q.autograded)}"
            note = f'<span class="meta">{auto}, staff {q.adjustment:+g}</span>'
        rows.append(f'<tr><th scope="row"><code>{e(q.question)}</code>{note}</th>'
                    f'<td class="num">{_pts(q.earned)} / {_pts(q.possible)}</td></tr>')
    return "".join(rows) + "</tbody>"


def _parts_chart(view: StudentView) -> str:
    """Horizontal bars: each part's percent after penalty, with the certificate bar as a dashed line."""
    row_h, left, width = 30, 64, 260
    height = row_h * len(view.parts) + 28
    label = "Percent of points per part: " + ", ".join(
        f"{_part_label(p.id)} {_pct(p.percent)}" for p in view.parts)
    bar_x = left + width * view.certificate_bar
    out = [f'<svg class="plot wide-plot" viewBox="0 0 360 {height}" role="img" aria-label="{e(label)}">'
           f"<title>{e(label)}</title>"]
    for i, p in enumerate(view.parts):
        y, pct = 8 + i * row_h, p.percent or 0.0
        out.append(f'<text x="0" y="{y + 15}" font-size="12" fill="#1d2430">{e(_part_label(p.id))}</text>'
                   f'<rect x="{left}" y="{y}" width="{width}" height="20" fill="#eef1f5"/>'
                   f'<rect x="{left}" y="{y}" width="{width * min(pct, 100) / 100:.1f}" height="20" '
                   f'fill="{PALETTE[0]}"/><text x="{left + width + 4}" y="{y + 15}" font-size="12" '
                   f'fill="#1d2430">{pct:.0f}%</text>')
    out.append(f'<line x1="{bar_x:.1f}" x2="{bar_x:.1f}" y1="2" y2="{height - 16}" stroke="#1d2430" '
               f'stroke-dasharray="4 3"/><text x="{bar_x:.1f}" y="{height - 4}" font-size="11" '
               f'text-anchor="middle" fill="#5b6472">certificate {view.certificate_bar * 100:g}%</text></svg>')
    return "".join(out)


def _certificate_tag(view: StudentView) -> str:
    if view.certificate is None:
        return _tag("open", "certificate: not assessed")
    return _tag("ok", "✓ certificate: qualifies") if view.certificate.qualifies else _tag(
        "open", "certificate: not yet")


def _certificate_section(view: StudentView) -> str:
    head = '<section aria-labelledby="certificate"><h2 id="certificate">Certificate</h2>'
    held = view.issued
    if held and not held.get("revoked") and not held.get("expired"):
        link = (f' · <a href="{e(view.certificate_url)}">download the PDF</a>'
                if view.certificate_url and not held.get("missing_files") else "")
        return head + (f"<p>{_tag('ok', '✓ issued')} Issued {e(str(held['issued_at'])[:10])}, "
                       f"id <code>{e(str(held['id']))}</code>{link}. Anyone can check it with "
                       f"<code>course certificates verify</code>.</p></section>")
    if held and held.get("revoked"):
        head += f"<p>{_tag('open', 'revoked')} {e(str(held.get('revoked_reason') or ''))}</p>"
    if view.certificate is None:
        return head + '<p class="muted">Not assessed: this account is not active.</p></section>'
    if view.certificate.qualifies:
        return head + f"<p>{_tag('ok', '✓ qualifies')} You meet every requirement for the certificate.</p></section>"
    items = "".join(f"<li>{e(m)}</li>" for m in view.certificate.missing)
    return head + f"<p>Not yet. Still needed:</p><ul class=\"plain\">{items}</ul></section>"


def _peer_section(view: StudentView) -> str:
    if view.peer_tasks is None and view.peer_feedback is None:
        return ""
    out = ['<section aria-labelledby="peer"><h2 id="peer">Peer review</h2>']
    if view.peer_tasks is not None:
        items = "".join(f"<li>{e(_part_label(t.part))}: review <b>{e(t.alias)}</b> "
                        f"{_tag('ok', '✓ done') if t.done else _tag('late', 'to do')}</li>" for t in view.peer_tasks)
        out.append(f"<h3>Reviews to write</h3><ul class=\"plain\">{items or '<li>None assigned.</li>'}</ul>")
    if view.peer_feedback is not None:
        out.append("<h3>Reviews of your work</h3>")
        out.append("".join(_feedback_card(view, f) for f in view.peer_feedback)
                   or '<p class="muted">No reviews yet.</p>')
    return "".join(out) + "</section>"


def _feedback_card(view: StudentView, fb: PeerFeedback) -> str:
    scores = "".join(f"<li>{e(k)}: <b>{_pts(v)}</b>"
                     f"{' / ' + str(view.rubric_max[k]) if k in view.rubric_max else ''}</li>" for k, v in fb.scores)
    comment = f'<p class="comment">{e(fb.comment)}</p>' if fb.comment else ""
    return (f'<div class="card"><h3>{e(_part_label(fb.part))} · reviewer {e(fb.reviewer)}</h3>'
            f'<ul class="plain">{scores}</ul>{comment}</div>')


# ── the instructor page ─────────────────────────────────────────────────────────────────────────────────────


def render_instructor_page(view: InstructorView, *, base_url: str, xsrf_token: str) -> str:
    """Every cohort's grade table and plots, a 'Grade now' form and the CSV exports."""
    options = "".join(f'<option value="{e(pid)}">{e(_part_label(pid))}: {e(title)}</option>'
                      for pid, title in view.parts)
    exports = "".join(f'<li><a href="{e(base_url)}export.csv?cohort={e(quote(c.cohort, safe=""))}">'
                      f"Cohort {e(c.cohort)} (CSV)</a></li>" for c in view.cohorts)
    actions = (f'<div class="grid"><section class="card" aria-labelledby="grade"><h3 id="grade">Grade</h3>'
               f'<form class="inline" method="post" action="{e(base_url)}grade">'
               f'<input type="hidden" name="_xsrf" value="{e(xsrf_token)}">'
               f'<label for="part">Part</label><select id="part" name="part">{options}</select>'
               f'<button type="submit">Grade now</button></form></section>'
               f'<section class="card" aria-labelledby="export"><h3 id="export">Export</h3><ul class="plain">'
               f'<li><a href="{e(base_url)}export.csv">Whole course (CSV)</a></li>{exports}</ul></section></div>')
    cohorts = "".join(_cohort_section(view, c) for c in view.cohorts) or '<p class="muted">No students yet.</p>'
    body = (f"<h1>Instructor dashboard</h1><p class=\"sub\">{e(view.course_title)} · as of {_when(view.now)}</p>"
            + actions + cohorts)
    return _page(f"Instructor dashboard — {view.course_title}", body, base_url=base_url, brand=view.course_title)


def _cohort_section(view: InstructorView, c: CohortView) -> str:
    anchor = f"cohort-{quote(c.cohort, safe='')}"
    counted = [r.percent for r in c.rows if r.active]
    kpis = (f'<div class="kpis"><span>Students <b>{len(c.rows)}</b></span>'
            + (f"<span>Mean <b>{_pct(statistics.fmean(counted))}</b></span>"
               f"<span>Median <b>{_pct(statistics.median(counted))}</b></span>" if counted else "") + "</div>")
    hists = "".join(f'<figure class="card" style="margin:0"><figcaption><b>{e(_part_label(h.part))}</b> '
                    f'<span class="muted">{e(h.title)} · {h.missing} without work</span></figcaption>'
                    f"{_histogram_svg(h)}</figure>" for h in c.histograms)
    return (f'<section aria-labelledby="{e(anchor)}"><h2 id="{e(anchor)}">Cohort {e(c.cohort)}</h2>{kpis}'
            f"<h3>Grades</h3>{_grade_table(view, c)}"
            f'<h3>Score distribution</h3><div class="grid">{hists}</div>'
            f'<div class="split"><div><h3>Completion over time</h3>{_completion_block(view, c)}</div>'
            f"<div><h3>Hardest questions</h3>{_hardest_table(c)}</div></div></section>")


def _grade_table(view: InstructorView, c: CohortView) -> str:
    if not c.rows:
        return '<p class="muted">No students in this cohort.</p>'
    head = "".join(f'<th scope="col" class="num" title="{e(title)}">{e(_part_label(pid))}</th>'
                   for pid, title in view.parts)
    body = []
    for r in c.rows:
        name = f'<span class="meta">{e(r.name)}</span>' if r.name else ""
        inactive = _tag("open", "inactive") if not r.active else ""
        cells = "".join(f'<td class="num">{_cell(cell)}</td>' for cell in r.cells)
        body.append(f'<tr><th scope="row">{e(r.student)}{name}{inactive}</th>{cells}'
                    f'<td class="num"><b>{_pct(r.percent)}</b></td></tr>')
    return (f'<div class="scroll" tabindex="0" role="region" aria-label="Grades of cohort {e(c.cohort)}">'
            f'<table class="wide"><thead><tr><th scope="col">Student</th>{head}'
            f'<th scope="col" class="num">Overall</th></tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _cell(cell: Cell) -> str:
    if not cell.submitted:
        return _tag("bad", "✗ missing") if cell.due_passed else _tag("open", "open")
    late = _tag("late", f"late −{cell.late_penalty * 100:g}%") if cell.late_penalty > 0 else ""
    return _pct(cell.percent) + late


def _histogram_svg(h: Histogram) -> str:
    """Ten bars (0–10 %, …, 90–100 %) with their counts written above them."""
    left, top, plot_w, plot_h = 22, 14, 210, 100
    peak = max(h.counts) or 1
    bar_w = plot_w / HIST_BINS
    label = (f"{_part_label(h.part)} score distribution: "
             + ", ".join(f"{i * 10}–{i * 10 + 10} %: {n}" for i, n in enumerate(h.counts))
             + f"; {h.missing} without work")
    out = [f'<svg class="plot" viewBox="0 0 240 150" role="img" aria-label="{e(label)}"><title>{e(label)}</title>',
           f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#5b6472"/>']
    for i, n in enumerate(h.counts):
        bh = plot_h * n / peak
        x = left + i * bar_w
        out.append(f'<rect x="{x + 2:.1f}" y="{top + plot_h - bh:.1f}" width="{bar_w - 4:.1f}" height="{bh:.1f}" '
                   f'fill="{PALETTE[0]}"/>')
        if n:
            out.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - bh - 3:.1f}" font-size="12" '
                       f'text-anchor="middle" fill="#1d2430">{n}</text>')
    for tick in range(0, 101, 20):
        x = left + plot_w * tick / 100
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 13}" font-size="10" text-anchor="middle" '
                   f'fill="#5b6472">{tick}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="146" font-size="10" text-anchor="middle" fill="#5b6472">'
               f"percent of points (after late penalty)</text>"
               f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end" fill="#5b6472">{max(h.counts)}</text>'
               f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end" fill="#5b6472">0</text></svg>')
    return "".join(out)


def _completion_block(view: InstructorView, c: CohortView) -> str:
    series = [s for s in c.completion if s.points]
    if not series:
        return '<p class="muted">No graded submissions yet.</p>'
    legend = "".join(f'<li><svg viewBox="0 0 32 12" aria-hidden="true"><line x1="0" x2="32" y1="6" y2="6" '
                     f'stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="3" '
                     f'stroke-dasharray="{DASHES[i % len(DASHES)]}"/></svg>{e(_part_label(s.part))}: '
                     f"{s.points[-1][1]} of {len(c.rows)}</li>" for i, s in enumerate(c.completion) if s.points)
    rows = "".join(f'<tr><th scope="row">{e(_part_label(s.part))}</th><td>'
                   + ", ".join(f"{d.isoformat()}: {n}" for d, n in s.points) + "</td></tr>" for s in series)
    data = (f'<details><summary>Completion data</summary><div class="scroll"><table><thead><tr>'
            f'<th scope="col">Part</th><th scope="col">Date: students with graded work</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div></details>")
    return _completion_svg(view, c) + f'<ul class="legend">{legend}</ul>' + data


def _completion_svg(view: InstructorView, c: CohortView) -> str:
    """Cumulative step lines, one per part, distinguished by colour and dash pattern."""
    left, top, plot_w, plot_h = 30, 10, 356, 140
    days = [d for s in c.completion for d, _ in s.points]
    start, end = min(days), max(max(days), view.now.astimezone(UTC).date())
    span = max((end - start).days, 1)
    peak = max(len(c.rows), 1)

    def xy(day: date, n: int) -> str:
        return f"{left + plot_w * (day - start).days / span:.1f},{top + plot_h * (1 - n / peak):.1f}"

    label = "Students with graded work over time: " + "; ".join(
        f"{_part_label(s.part)} {s.points[-1][1]} of {len(c.rows)} by {s.points[-1][0].isoformat()}"
        for s in c.completion if s.points)
    grey = 'fill="#5b6472" font-size="12"'
    out = [f'<svg class="plot wide-plot" viewBox="0 0 400 196" role="img" aria-label="{e(label)}">'
           f"<title>{e(label)}</title>",
           f'<line x1="{left}" x2="{left + plot_w}" y1="{top}" y2="{top}" stroke="#d9dee5"/>'
           f'<polyline points="{left},{top} {left},{top + plot_h} {left + plot_w},{top + plot_h}" fill="none" '
           f'stroke="#5b6472"/><text x="{left - 4}" y="{top + 4}" text-anchor="end" {grey}>{peak}</text>'
           f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" {grey}>0</text>']
    for i, s in enumerate(c.completion):
        if not s.points:
            continue
        pts, prev = [xy(s.points[0][0], 0)], 0
        for day, n in s.points:
            pts += [xy(day, prev), xy(day, n)]
            prev = n
        pts.append(xy(end, prev))
        out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{PALETTE[i % len(PALETTE)]}" '
                   f'stroke-width="2.5" stroke-dasharray="{DASHES[i % len(DASHES)]}"/>')
    for frac, anchor in ((0, "start"), (0.5, "middle"), (1, "end")):
        day = start + timedelta(days=round(span * frac))
        out.append(f'<text x="{left + plot_w * (day - start).days / span:.1f}" y="{top + plot_h + 16}" '
                   f'text-anchor="{anchor}" {grey}>{day:%b %d}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="192" text-anchor="middle" fill="#5b6472" font-size="11">'
               f"date of first graded submission (UTC)</text></svg>")
    return "".join(out)


def _hardest_table(c: CohortView) -> str:
    if not c.hardest:
        return '<p class="muted">No graded questions yet.</p>'
    rows = "".join(f'<tr><td class="num">{i}</td><th scope="row"><code>{e(q.question)}</code><span class="meta">'
                   f"{e(_part_label(q.part))} · {e(q.notebook)}</span></th>"
                   f'<td class="num">{_pct(100 * q.mean_fraction)}</td><td class="num">{q.n}</td></tr>'
                   for i, q in enumerate(c.hardest, 1))
    return (f'<div class="scroll"><table><thead><tr><th scope="col" class="num">#</th><th scope="col">Question</th>'
            f'<th scope="col" class="num">Mean</th><th scope="col" class="num" title="students who submitted '
            f'the notebook">n</th></tr></thead><tbody>{rows}</tbody></table></div>')


# ── errors ──────────────────────────────────────────────────────────────────────────────────────────────────


def render_error_page(status: int, message: str, *, base_url: str) -> str:
    """A plain page for an HTTP error: the status, its reason, the message and a way back."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    body = (f"<h1>{status} · {e(reason)}</h1><p>{e(message)}</p>"
            f'<p><a href="{e(base_url)}">Back to the dashboard</a></p>')
    return _page(f"{status} {reason}", body, base_url=base_url, brand="Course dashboard")


__all__ = [
    "Cell", "CohortView", "Completion", "DashboardError", "HardQuestion", "Histogram", "InstructorView",
    "NotebookView", "PartView", "PeerFeedback", "PeerTask", "QuestionView", "StudentRow", "StudentView",
    "instructor_view", "render_error_page", "render_instructor_page", "render_student_page", "student_view",
]
