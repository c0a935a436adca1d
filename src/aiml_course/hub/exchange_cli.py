"""`course release PART` and `course collect PART`: nbgrader's exchange on the hub. Commands only forward."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from aiml_course.cli_support import course_from, db_url, fail_cleanly
from aiml_course.config import BACKENDS
from aiml_course.hub.layout import HubLayout

if TYPE_CHECKING:
    from aiml_course.gradebook import Gradebook

HUB_ROOT_OPTION = click.option("--hub-root", type=click.Path(file_okay=False, path_type=Path), default=None,
                               help="The hub's course root (default: $AIML_HUB_ROOT, else /srv/aiml-course/<id>).")


@click.command("release")
@click.argument("part")
@HUB_ROOT_OPTION
@click.pass_context
@fail_cleanly
def release_cmd(ctx: click.Context, part: str, hub_root: Path | None) -> None:
    """Release PART's student notebooks through nbgrader's exchange (again: replaces the earlier release)."""
    from aiml_course.hub.exchange import release_part

    course = course_from(ctx)
    click.echo(release_part(course, part, HubLayout.for_course(course, hub_root)).summary())


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
              help="Folder for feedback reports (default: <hub root>/course/reports/<part>, where the dashboard "
                   "shows them).")
@click.pass_context
@fail_cleanly
def collect_cmd(ctx: click.Context, part: str, hub_root: Path | None, no_grade: bool, backend: str | None,
                workers: int | None, force: bool, db: str | None, reports: Path | None) -> None:
    """Collect PART's submissions, grade them, hand feedback back and update the formgrader."""
    from aiml_course.gradebook import Gradebook
    from aiml_course.hub.exchange import collect_and_grade, collect_part
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
                             workers=workers or course.sandbox.workers,
                             reports=reports or layout.course_dir / "reports" / part_id, force=force,
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
