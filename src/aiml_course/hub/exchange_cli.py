"""`course release PART` and `course collect PART`: nbgrader's exchange on the hub. Commands only forward."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from aiml_course.cli_support import course_from, db_url, fail_cleanly
from aiml_course.config import BACKENDS, Course
from aiml_course.hub.layout import HubLayout

if TYPE_CHECKING:
    from aiml_course.gradebook import Gradebook

HUB_ROOT_OPTION = click.option("--hub-root", type=click.Path(file_okay=False, path_type=Path), default=None,
                               help="The hub's course root (default: $AIML_HUB_ROOT, else /srv/aiml-course/<id>).")


@click.command("release")
@click.argument("part")
@HUB_ROOT_OPTION
@click.option("--extend-until", "until", type=click.DateTime(["%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M%z"]), default=None,
              help="Give every student in the roster this deadline for PART (e.g. 2026-12-14T23:59+00:00).")
@click.option("--db", default=None, help="Gradebook URL for --extend-until (default: sqlite under var/).")
@click.pass_context
@fail_cleanly
def release_cmd(ctx: click.Context, part: str, hub_root: Path | None, until: datetime | None,
                db: str | None) -> None:
    """Release PART's student notebooks through nbgrader's exchange (again: replaces the earlier release).

    When PART's deadline has passed, says so and offers a new one (asked at a terminal, else printed)."""
    from aiml_course.hub.exchange import release_part

    course = course_from(ctx)
    layout = HubLayout.for_course(course, hub_root)
    result = release_part(course, part, layout)
    click.echo(result.summary().split("\n")[0])
    if until is None and result.deadline_passed:
        offer = result.suggested_deadline()
        click.secho(f"warning: the deadline of {result.part} ({result.due:%Y-%m-%d %H:%M} UTC) has passed: every "
                    "submission will be late.", fg="yellow", err=True)
        if sys.stdin.isatty() and click.confirm(f"Give every student until {offer:%Y-%m-%d %H:%M} UTC?",
                                                default=True, err=True):
            until = offer
        else:
            click.echo(f"  new deadline for everyone: course release {result.part} --extend-until "
                       f"{offer:%Y-%m-%dT%H:%M}+00:00   (or move `due` in course_config.py)", err=True)
    if until is not None:
        granted = _extend_everyone(course, layout, result.part, until, db)
        click.echo(f"{result.part}: {len(granted)} student(s) have until {until:%Y-%m-%d %H:%M %Z}")


def _extend_everyone(course: Course, layout: HubLayout, part: str, until: datetime, db: str | None) -> list[str]:
    from aiml_course.gradebook import Gradebook
    from aiml_course.hub.roster import load_members

    if until.tzinfo is None:
        raise click.BadParameter("--extend-until needs a time zone, e.g. 2026-12-14T23:59+00:00")
    book = Gradebook(db_url(course, db))
    students = sorted(u for u, m in load_members(layout).items() if m.role == "student" and m.active)
    for student in students:
        book.grant_extension(student, part, until, granted_by="course release",
                             reason="released after the deadline in course_config.py")
    return students


@click.command("collect")
@click.argument("part")
@HUB_ROOT_OPTION
@click.option("--no-grade", is_flag=True, help="Only collect into the course directory.")
@click.option("--sandbox", "backend", type=click.Choice(BACKENDS), default=None,
              help="Isolation backend (default: course_config.py).")
@click.option("--workers", type=click.IntRange(1), default=None, help="Notebooks graded at once.")
@click.option("--force", is_flag=True, help="Re-grade submissions already graded.")
@click.option("--db", default=None, help="Gradebook URL (default: sqlite under var/).")
@click.option("--reports", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for feedback reports (default: <hub root>/reports/<part>, where the dashboard shows "
                   "them).")
@click.pass_context
@fail_cleanly
def collect_cmd(ctx: click.Context, part: str, hub_root: Path | None, no_grade: bool, backend: str | None,
                workers: int | None, force: bool, db: str | None, reports: Path | None) -> None:
    """Collect PART's submissions, grade them, hand feedback back and update the formgrader."""
    from aiml_course.gradebook import Gradebook
    from aiml_course.hub.exchange import collect_and_grade, collect_part, worker_count
    from aiml_course.hub.roster import load_members
    from aiml_course.sandbox import make_sandbox

    course = course_from(ctx)
    layout = HubLayout.for_course(course, hub_root)
    students = {u for u, m in load_members(layout).items() if m.role == "student"} or None  # None: no roster yet
    if no_grade:
        collected = collect_part(course, part, layout, known_students=students)
        click.echo(collected.summary())
        for line in collected.suspicious:
            click.secho(f"  ! {line}", fg="yellow")
        return
    part_id = course.part(part).id
    book = Gradebook(db_url(course, db))
    done = collect_and_grade(course, part_id, layout, gradebook=book,
                             sandbox=make_sandbox(backend or course.sandbox.backend, course.limits_for(part_id)),
                             workers=workers or worker_count(course, part_id),
                             reports=reports or layout.reports_dir / part_id, force=force,
                             show_progress=True, known_students=students)
    click.echo(done.collected.summary())
    for line in done.collected.suspicious:
        click.secho(f"  ! {line}", fg="yellow")
    if done.collected.empty:
        return
    _print_students(book, part_id, done.collected.students, set(done.collected.updated), set(done.feedback))
    click.echo(f"feedback released to {len(done.feedback)} student(s); "
               f"{done.formgrader} submission(s) in the formgrader ({layout.nbgrader_db})")


def _print_students(book: Gradebook, part_id: str, students: list[str], updated: set[str], served: set[str]) -> None:
    """One line per collected student: score over the part's notebooks, whether new, whether feedback went out."""
    totals: dict[str, list[float]] = {}
    for row in book.latest(part_id):
        t = totals.setdefault(row["student"], [0.0, 0.0])
        t[0] += row["earned"]
        t[1] += row["possible"]
    click.echo(f"\n{'student':20} {'score':>13}  {'collected':10} feedback")
    for student in students:
        earned, possible = totals.get(student, [0.0, 0.0])
        click.echo(f"{student:20} {earned:>6g}/{possible:<6g}  {'new' if student in updated else 'unchanged':10} "
                   f"{'released' if student in served else '-'}")
