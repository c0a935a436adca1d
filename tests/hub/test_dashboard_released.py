"""Parts never released are neither "missing" nor counted in the course grade on the dashboards (no hub needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aiml_course.config import load_course
from aiml_course.gradebook import Gradebook
from aiml_course.hub.dashboard_pages import render_instructor_page, render_student_page
from aiml_course.hub.dashboard_views import instructor_view, student_view
from tests.conftest import ROOT

COURSE = load_course(ROOT / "course_config.py")
NOW = datetime(2026, 12, 7, tzinfo=UTC)          # every shipped deadline has passed


def test_unreleased_parts_are_not_missing_nor_counted(tmp_path: Path) -> None:
    book = Gradebook(f"sqlite:///{tmp_path / 'grades.sqlite'}")
    book.ensure_student("ann", cohort=COURSE.cohorts[0], name="Ann")
    first = COURSE.parts[0].id
    released = frozenset({first})

    view = student_view(COURSE, book, "ann", now=NOW, released=released)
    flags = {p.id: p.released for p in view.parts}
    assert flags[first] and not any(v for k, v in flags.items() if k != first), flags
    page = render_student_page(view, base_url="/services/dashboard/")
    assert page.count("missing: deadline passed") == 1                       # the released part only
    assert page.count("not released yet") == len(COURSE.parts) - 1

    everything = student_view(COURSE, book, "ann", now=NOW)                   # released=None: all parts count
    assert render_student_page(everything, base_url="/").count("missing: deadline passed") == len(COURSE.parts)

    staff = instructor_view(COURSE, book, cohorts=None, now=NOW, released=released)
    cells = staff.cohorts[0].rows[0].cells
    assert [c.released for c in cells] == [p.id in released for p in COURSE.parts]
    assert len(staff.cohorts[0].histograms) == 1                             # plots of released parts only
    html = render_instructor_page(staff, base_url="/d/", xsrf_token="t")
    assert html.count("not released") == len(COURSE.parts) - 1 and 'formaction="/d/release"' in html


def test_the_course_grade_counts_released_parts_only(tmp_path: Path) -> None:
    from datetime import timedelta

    from aiml_course.export import question_columns
    from aiml_course.grading.engine import CaseResult, NotebookGrade

    book = Gradebook(f"sqlite:///{tmp_path / 'grades.sqlite'}")
    book.ensure_student("ann", cohort=COURSE.cohorts[0], name="Ann")
    part = next(p for p in COURSE.parts if question_columns(COURSE)[p.id])
    by_notebook: dict[str, list[CaseResult]] = {}
    for column, possible in question_columns(COURSE)[part.id]:
        notebook, qid = column.split("/", 1)[1].split(":", 1)
        by_notebook.setdefault(notebook, []).append(CaseResult(f"{qid}-c", qid, False, possible, possible, "ok"))
    for notebook, cases in by_notebook.items():   # full marks, on time
        book.record("ann", part.id, NotebookGrade(notebook, cases), content_sha256=notebook,
                    submitted_at=part.due - timedelta(days=1))
    only = student_view(COURSE, book, "ann", now=NOW, released=frozenset({part.id}))
    every = student_view(COURSE, book, "ann", now=NOW)
    assert only.percent == 100.0 and every.percent < 100.0, (only.percent, every.percent)
    row = instructor_view(COURSE, book, cohorts=None, now=NOW, released=frozenset({part.id})).cohorts[0].rows[0]
    assert row.percent == 100.0
