"""The dashboard's views and pages: numbers equal the CSV's, untrusted text is escaped, statistics are right,
a student sees only their own data, and the pages fit a 390 px phone in a real (headless) Chromium."""

from __future__ import annotations

import csv
import json
import random
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from aiml_course.certificates.eligibility import eligibility
from aiml_course.config import Course, LatePolicy, Part, load_course
from aiml_course.export import export_csv, grade_rows
from aiml_course.gradebook import Gradebook
from aiml_course.grading.engine import CaseResult, NotebookGrade
from aiml_course.hub.dashboard_pages import render_error_page, render_instructor_page, render_student_page
from aiml_course.hub.dashboard_views import (
    DashboardError,
    StudentView,
    _Snapshot,
    instructor_view,
    student_view,
)

ROOT = Path(__file__).resolve().parents[2]
P1, P2 = "part-01-alpha", "part-02-beta"
ANN, BOB, CY, DEE = "s-ann-01", "s-bob-02", "s-cy-03", "s-dee-04"
EVIL = "<script>alert(1)</script>"
EVIL_PROBLEM = "<img src=x onerror=alert(2)> timed out"
LONG_NAME = "Dee " + "W" * 90              # one unbreakable word: must not widen the page
NOW = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
BASE = "/services/dashboard/"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def _t(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _bundle(root: Path, part: str, notebook: str, points: dict[str, float]) -> None:
    folder = root / "autograder" / part
    folder.mkdir(parents=True, exist_ok=True)
    questions = {q: {"kind": "code", "points": p} for q, p in points.items()}
    (folder / f"{notebook}.bundle.json").write_text(json.dumps({"notebook": notebook, "questions": questions}))


def _record(gb: Gradebook, student: str, part: str, notebook: str, scores: dict[str, tuple[float, float]],
            when: datetime, problem: str = "") -> None:
    """One graded notebook; each question is split into two cases (public + hidden) as the grader does."""
    cases = []
    for q, (earned, possible) in scores.items():
        cases += [CaseResult(f"{q}-public", q, False, earned / 2, possible / 2, "ok"),
                  CaseResult(f"{q}-hidden", q, True, earned / 2, possible / 2, "ok")]
    gb.record(student, part, NotebookGrade(notebook, cases, problem=problem),
              content_sha256=f"{student}{part}{notebook}{when.isoformat()}", submitted_at=when)


@pytest.fixture(scope="module")
def course_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="dashboard-"))
    _bundle(root, P1, "1.1-a", {"q1": 4, "q2": 2})
    _bundle(root, P1, "1.2-b", {"q1": 3})
    _bundle(root, P2, "2.1-c", {"q1": 5, "q2": 5})
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def course(course_root: Path) -> Course:
    return Course(id="dash", title="Dashboard test course", cohorts=("2026a", "2026b"), root=course_root,
                  parts=(Part(P1, "Alpha basics", due=_t(3, 1, 23, 59)),
                         Part(P2, "Beta neurons", due=_t(3, 8, 23, 59))),
                  late_policy=LatePolicy(grace=timedelta(minutes=15), penalty_per_day=0.1, max_penalty=0.5,
                                         cutoff=timedelta(days=7)))


@pytest.fixture(scope="module")
def gb(course_root: Path) -> Gradebook:
    """ann: on time in P1 (8/9), 1.5 days late in P2 with +1 by staff; bob (EVIL name): a weak first try, then
    4/9 after the due date but inside his extension; cy (2026b): 1/9 and a clamped −1, 10/10; dee: nothing."""
    book = Gradebook(f"sqlite:///{course_root / 'gradebook.sqlite'}")
    book.ensure_student(ANN, cohort="2026a", name="Ann Lovelace")
    book.ensure_student(BOB, cohort="2026a", name=EVIL)
    book.ensure_student(CY, cohort="2026b", name="Cy Young")
    book.ensure_student(DEE, cohort="2026b", name=LONG_NAME)
    _record(book, ANN, P1, "1.1-a", {"q1": (4, 4), "q2": (1, 2)}, _t(2, 25))
    _record(book, ANN, P1, "1.2-b", {"q1": (3, 3)}, _t(2, 26))
    _record(book, ANN, P2, "2.1-c", {"q1": (5, 5), "q2": (2, 5)}, _t(3, 10, 11, 59))
    book.adjust(ANN, P2, "2.1-c", "q2", 1, by="ta", reason="regraded by hand: the plot was right")
    _record(book, BOB, P1, "1.1-a", {"q1": (0, 4), "q2": (0, 2)}, _t(2, 20))
    _record(book, BOB, P1, "1.1-a", {"q1": (2, 4), "q2": (2, 2)}, _t(3, 2, 12), problem=EVIL_PROBLEM)
    book.grant_extension(BOB, P1, _t(3, 3, 0, 0), granted_by="prof", reason="ill")
    _record(book, CY, P1, "1.1-a", {"q1": (1, 4), "q2": (0, 2)}, _t(2, 27, 9))
    _record(book, CY, P1, "1.2-b", {"q1": (0, 3)}, _t(2, 27, 9))
    book.adjust(CY, P1, "1.2-b", "q1", -1, by="ta", reason="copied answer")
    _record(book, CY, P2, "2.1-c", {"q1": (5, 5), "q2": (5, 5)}, _t(3, 5))
    return book


@pytest.fixture(scope="module")
def csv_rows(course: Course, gb: Gradebook, course_root: Path) -> dict[str, dict[str, str]]:
    path = export_csv(course, gb, course_root / "grades.csv")
    with path.open(encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def _feedback(student: str, part: str, notebook: str) -> str:
    return f"{BASE}feedback/{part}/{student}/{notebook}.html"


def _ann(course: Course, gb: Gradebook, **kw: object) -> StudentView:
    return student_view(course, gb, ANN, now=NOW, feedback_url=_feedback, **kw)  # type: ignore[arg-type]


# ── numbers ─────────────────────────────────────────────────────────────────────────────────────────────────


def test_snapshot_reads_what_the_gradebook_reads(course: Course, gb: Gradebook) -> None:
    """Do the one-read snapshot's latest rows, CSV rows and certificate verdicts equal the gradebook's own?"""
    assert gb.latest(student=BOB) == [r for r in gb.latest() if r["student"] == BOB] != []
    assert grade_rows(course, _Snapshot(gb)) == grade_rows(course, gb)  # type: ignore[arg-type]
    _, (ann_row,) = grade_rows(course, _Snapshot(gb, ANN))  # type: ignore[arg-type]
    assert ann_row == next(r for r in grade_rows(course, gb)[1] if r["student"] == ANN)
    assert eligibility(course, _Snapshot(gb)) == eligibility(course, gb)  # type: ignore[arg-type]


def test_student_numbers_equal_the_csv(course: Course, gb: Gradebook,
                                       csv_rows: dict[str, dict[str, str]]) -> None:
    """Are every part's raw points, penalty, score, deadline and question points exactly the CSV's?"""
    for sid in (ANN, BOB, CY, DEE):
        view = student_view(course, gb, sid, now=NOW)
        row = csv_rows[sid]
        assert view.percent == float(row["percent"])
        for part in view.parts:
            assert (part.raw, part.possible, part.late_penalty, part.score) == tuple(
                float(row[f"{part.id}:{k}"]) for k in ("raw", "possible", "late_penalty", "score"))
            assert part.deadline == datetime.fromisoformat(row[f"{part.id}:deadline"])
            for nb in part.notebooks:
                for q in nb.questions:
                    assert q.earned == float(row[f"{part.id}/{nb.notebook}:{q.question}"])


def test_late_penalty_extension_and_adjustments(course: Course, gb: Gradebook) -> None:
    """1.5 days late costs 20 %, an extension removes the penalty, and staff points are added and clamped?"""
    ann = {p.id: p for p in _ann(course, gb).parts}
    assert (ann[P1].raw, ann[P1].late_penalty) == (8, 0)
    assert (ann[P2].raw, ann[P2].late_penalty, ann[P2].score) == (8, 0.2, 6.4)
    q2 = ann[P2].notebooks[0].questions[1]
    assert (q2.autograded, q2.adjustment, q2.earned) == (2, 1, 3)
    assert q2.reasons == ("+1: regraded by hand: the plot was right",)
    bob = {p.id: p for p in student_view(course, gb, BOB, now=NOW).parts}
    assert bob[P1].extended and bob[P1].deadline == _t(3, 3, 0, 0)
    assert (bob[P1].raw, bob[P1].late_penalty, bob[P1].submitted_at) == (4, 0, _t(3, 2, 12))
    assert bob[P1].notebooks[0].problem == EVIL_PROBLEM
    cy = {p.id: p for p in student_view(course, gb, CY, now=NOW).parts}
    clamped = cy[P1].notebooks[1].questions[0]
    assert (clamped.autograded, clamped.adjustment, clamped.earned) == (0, -1, 0)


def test_instructor_table_equals_the_csv(course: Course, gb: Gradebook,
                                         csv_rows: dict[str, dict[str, str]]) -> None:
    """Is each cell the CSV's score over possible, with late flags and missing work marked?"""
    view = instructor_view(course, gb, cohorts=None, now=NOW)
    assert [c.cohort for c in view.cohorts] == ["2026a", "2026b"]
    rows = {r.student: r for c in view.cohorts for r in c.rows}
    assert set(rows) == {ANN, BOB, CY, DEE}
    for sid, r in rows.items():
        assert r.percent == float(csv_rows[sid]["percent"])
        for pid, cell in zip((P1, P2), r.cells, strict=True):
            expected = 100 * float(csv_rows[sid][f"{pid}:score"]) / float(csv_rows[sid][f"{pid}:possible"])
            assert cell.percent == pytest.approx(expected, abs=1e-3)
    assert rows[ANN].cells[1].late_penalty == 0.2 and rows[ANN].cells[0].late_penalty == 0
    assert [c.submitted for c in rows[BOB].cells] == [True, False]
    assert [(c.submitted, c.due_passed) for c in rows[DEE].cells] == [(False, True), (False, True)]
    early = instructor_view(course, gb, cohorts=["2026b"], now=_t(3, 5))
    assert [c.due_passed for c in early.cohorts[0].rows[1].cells] == [True, False]


def test_histogram_counts(course: Course, gb: Gradebook) -> None:
    """Does each student land in the 10-point band of their percent, with no-work students counted apart?"""
    view = instructor_view(course, gb, cohorts=None, now=NOW)
    a, b = ({h.part: h for h in c.histograms} for c in view.cohorts)
    assert a[P1].counts == (0, 0, 0, 0, 1, 0, 0, 0, 1, 0) and a[P1].missing == 0    # bob 44 %, ann 89 %
    assert a[P2].counts == (0, 0, 0, 0, 0, 0, 1, 0, 0, 0) and a[P2].missing == 1    # ann 64 %
    assert b[P1].counts == (0, 1, 0, 0, 0, 0, 0, 0, 0, 0) and b[P1].missing == 1    # cy 11 %
    assert b[P2].counts == (0, 0, 0, 0, 0, 0, 0, 0, 0, 1) and b[P2].missing == 1    # cy 100 % in the last band


def test_completion_series(course: Course, gb: Gradebook) -> None:
    """Does completion count each student once, from the date of their first graded submission?"""
    view = instructor_view(course, gb, cohorts=None, now=NOW)
    a, b = ({s.part: s.points for s in c.completion} for c in view.cohorts)
    assert a[P1] == ((date(2026, 2, 20), 1), (date(2026, 2, 25), 2))   # bob's first try counts, not his last
    assert a[P2] == ((date(2026, 3, 10), 1),)
    assert b == {P1: ((date(2026, 2, 27), 1),), P2: ((date(2026, 3, 5), 1),)}


def test_hardest_questions_ranking(course: Course, gb: Gradebook) -> None:
    """Are questions ranked by mean share of points among the students who submitted their notebook?"""
    view = instructor_view(course, gb, cohorts=None, now=NOW)
    a, b = ([(q.notebook, q.question, round(q.mean_fraction, 4), q.n) for q in c.hardest] for c in view.cohorts)
    assert a == [("2.1-c", "q2", 0.6, 1), ("1.1-a", "q1", 0.75, 2), ("1.1-a", "q2", 0.75, 2),
                 ("1.2-b", "q1", 1.0, 1), ("2.1-c", "q1", 1.0, 1)]
    assert [(nb, q) for nb, q, _, _ in b][:3] == [("1.1-a", "q2"), ("1.2-b", "q1"), ("1.1-a", "q1")]


def test_unknown_student_or_cohort_is_a_404(course: Course, gb: Gradebook) -> None:
    """Does asking for someone or some cohort the gradebook lacks raise DashboardError with status 404?"""
    with pytest.raises(DashboardError, match="nobody") as exc:
        student_view(course, gb, "nobody", now=NOW)
    assert exc.value.status == 404
    with pytest.raises(DashboardError, match="2099x"):
        instructor_view(course, gb, cohorts=["2099x"], now=NOW)


# ── pages ───────────────────────────────────────────────────────────────────────────────────────────────────


def test_untrusted_text_is_escaped(course: Course, gb: Gradebook) -> None:
    """Do a student named <script>… and an HTML problem text appear only escaped, on both pages?"""
    bob = render_student_page(student_view(course, gb, BOB, now=NOW), base_url=BASE)
    teacher = render_instructor_page(instructor_view(course, gb, cohorts=None, now=NOW), base_url=BASE,
                                     xsrf_token='"><b>x')
    for page in (bob, teacher):
        assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert page.count("<script") == 0
    assert "<img" not in bob and "&lt;img src=x onerror=alert(2)&gt; timed out" in bob
    assert 'value="&quot;&gt;&lt;b&gt;x"' in teacher


def test_student_page_shows_nobody_else(course: Course, gb: Gradebook) -> None:
    """Does ann's page name none of the other students (ids or names), but her own id, reviews and links?"""
    tasks = [{"part": P2, "alias": "Amber Falcon", "done": True}, {"part": P2, "alias": "Quiet Otter", "done": False}]
    feedback = [{"part": P2, "reviewer": "Brisk Heron", "scores": {"correctness": 3, "clarity": 4},
                 "comment": "Nice <b>plots</b>"}]
    page = render_student_page(_ann(course, gb, peer_tasks=tasks, peer_feedback=feedback), base_url=BASE)
    for other in (BOB, CY, DEE, EVIL, "&lt;script", "Cy Young", LONG_NAME):
        assert other not in page
    assert ANN in page and "Ann Lovelace" in page
    assert f'href="{BASE}feedback/{P1}/{ANN}/1.1-a.html"' in page
    assert "Amber Falcon" in page and "Quiet Otter" in page and "Nice &lt;b&gt;plots&lt;/b&gt;" in page
    assert "regraded by hand" in page and "late by 1 day 12 h" in page
    assert "6.4 / 10" in page                                 # P2 score after the 20 % penalty


def test_feedback_links_refuse_script_urls(course: Course, gb: Gradebook) -> None:
    """Is a `javascript:` feedback URL dropped rather than rendered as a link?"""
    view = student_view(course, gb, ANN, now=NOW, feedback_url=lambda s, p, n: "javascript:alert(1)")
    assert all(nb.feedback_url is None for p in view.parts for nb in p.notebooks)
    assert "javascript:" not in render_student_page(view, base_url=BASE)


def test_certificate_status(course: Course, gb: Gradebook) -> None:
    """Does ann qualify (≥ 70 % of every part's points) while bob sees what he still lacks?"""
    ann = _ann(course, gb)
    assert ann.certificate is not None and ann.certificate.qualifies
    bob = student_view(course, gb, BOB, now=NOW)
    assert bob.certificate is not None and not bob.certificate.qualifies
    page = render_student_page(bob, base_url=BASE)
    assert "Still needed" in page and f"Part {P1}: 44 % of the points, needs 70 %" in page


def test_an_issued_certificate_is_shown_with_its_download(course: Course, gb: Gradebook) -> None:
    """A held certificate: its id, date and PDF link; a revoked one: the reason, and no link."""
    held = {"id": "urn:uuid:1234", "issued_at": "2026-04-01T10:00:00+00:00", "revoked": False, "expired": False,
            "missing_files": []}
    page = render_student_page(_ann(course, gb, issued=held, certificate_url=f"{BASE}certificate/ann.pdf"),
                               base_url=BASE)
    assert "urn:uuid:1234" in page and "2026-04-01" in page and f'href="{BASE}certificate/ann.pdf"' in page
    revoked = {**held, "revoked": True, "revoked_reason": "<b>plagiarism</b>"}
    page = render_student_page(_ann(course, gb, issued=revoked, certificate_url=f"{BASE}certificate/ann.pdf"),
                               base_url=BASE)
    assert "certificate/ann.pdf" not in page and "&lt;b&gt;plagiarism&lt;/b&gt;" in page


def test_instructor_page_form_and_exports(course: Course, gb: Gradebook) -> None:
    """Does the page post 'Grade now' with the XSRF token and a part menu, and link the course and cohort CSVs?"""
    page = render_instructor_page(instructor_view(course, gb, cohorts=None, now=NOW), base_url=BASE,
                                  xsrf_token="tok123")
    assert f'<form class="inline" method="post" action="{BASE}grade">' in page
    assert '<input type="hidden" name="_xsrf" value="tok123">' in page
    assert f'<option value="{P1}">' in page and f'<option value="{P2}">' in page and "Grade now</button>" in page
    assert f'href="{BASE}export.csv"' in page
    assert f'href="{BASE}export.csv?cohort=2026a"' in page and f'href="{BASE}export.csv?cohort=2026b"' in page
    assert page.count("<svg") >= 5 and page.count("<title>") >= 5 and 'scope="col"' in page


def test_error_page(course: Course) -> None:
    """Does the error page give the status, its reason and the escaped message?"""
    page = render_error_page(404, f"no student {EVIL!r}", base_url=BASE)
    assert "404 · Not Found" in page and EVIL not in page and "&lt;script&gt;" in page
    assert f'href="{BASE}"' in page


# ── a real browser ──────────────────────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Course, Gradebook]:
    """The real course (4 parts, its bundles) with 24 seeded students in two cohorts, for realistic pages."""
    course = load_course(ROOT / "course_config.py")
    gb = Gradebook(f"sqlite:///{tmp_path_factory.mktemp('big') / 'gradebook.sqlite'}")
    rng = random.Random(7)
    bundles = {p.id: [json.loads(f.read_text()) for f in sorted((course.autograder_dir / p.id).glob("*.bundle.json"))]
               for p in course.parts}
    for i in range(24):
        sid = f"stu{i:03d}"
        gb.ensure_student(sid, cohort=course.cohorts[i % 2], name=rng.choice(["Ada", "Grace", "Alan", "Edsger"])
                          + " " + rng.choice(["Hopper", "Turing", "Dijkstra", "Lovelace-Byron"]))
        skill = rng.uniform(0.2, 1.0)
        for part in course.parts[: 2 + i % 3]:
            for b in bundles[part.id]:
                scores = {q: (round(spec["points"] * min(1.0, rng.uniform(skill - 0.3, skill + 0.2)) * 2) / 2,
                              spec["points"]) for q, spec in b["questions"].items()}
                when = part.due - timedelta(days=rng.uniform(-1.5, 6))
                _record(gb, sid, part.id, b["notebook"], {q: (max(0, e), p) for q, (e, p) in scores.items()}, when)
    return course, gb


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_pages_fit_a_phone_in_chromium(course: Course, gb: Gradebook, big: tuple[Course, Gradebook],
                                       browser: object, tmp_path_factory: pytest.TempPathFactory) -> None:
    """At 390×844 and 1280×800, does no page scroll sideways, no script run, and every plot have a size?"""
    out = tmp_path_factory.mktemp("screens")
    real, real_gb = big
    pages = {
        "student": render_student_page(student_view(real, real_gb, "stu004", now=_t(4, 1), feedback_url=_feedback,
                                                    peer_tasks=[{"part": real.parts[3].id, "alias": "Amber Falcon",
                                                                 "done": False}]), base_url=BASE),
        "instructor": render_instructor_page(instructor_view(real, real_gb, cohorts=None, now=_t(4, 1)),
                                             base_url=BASE, xsrf_token="t"),
        "student-evil": render_student_page(student_view(course, gb, BOB, now=NOW), base_url=BASE),
        "instructor-evil": render_instructor_page(instructor_view(course, gb, cohorts=None, now=NOW),
                                                  base_url=BASE, xsrf_token="t"),
        "error": render_error_page(403, "You are not staff of this course.", base_url=BASE),
    }
    for name, html in pages.items():
        (out / f"{name}.html").write_text(html, encoding="utf-8")
    dialogs: list[str] = []
    for width, height in ((390, 844), (1280, 800)):
        page = browser.new_page(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for name in pages:
            page.goto((out / f"{name}.html").as_uri())
            scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert scroll <= inner, f"{name} at {width}px scrolls sideways: {scroll} > {inner}"
            sizes = page.evaluate("[...document.querySelectorAll('svg.plot')].map(s => s.getBoundingClientRect().width)")
            assert all(0 < w <= inner for w in sizes), (name, width, sizes)
            shot = out / f"{name}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
        page.close()
    assert dialogs == []                     # the <script> name and the onerror problem text never ran
