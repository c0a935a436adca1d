"""`course`: a thin command line over the library. Each command parses options and calls one function."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from aiml_course.cli_support import course_from, db_url, fail_cleanly
from aiml_course.config import BACKENDS, Course

SANDBOX_OPTION = click.option("--sandbox", "backend", type=click.Choice(BACKENDS), default=None,
                              help="Isolation backend (default: course_config.py).")


def _sandbox(course: Course, backend: str | None, part_id: str) -> Any:
    """The sandbox for `part_id`: the chosen backend with that part's limits."""
    from aiml_course.sandbox import make_sandbox

    return make_sandbox(backend or course.sandbox.backend, course.limits_for(part_id))


def _parts(course: Course, part: str | None) -> list[str]:
    """The named part, or every part that has notebooks in source/ (the others are announced, not errors)."""
    if part:
        return [course.part(part).id]
    ready = [p.id for p in course.parts if any((course.source_dir / p.id).glob("*.ipynb"))]
    for p in course.parts:
        if p.id not in ready:
            click.secho(f"note: {p.id} has no notebooks in source/ yet; skipped", fg="yellow", err=True)
    return ready


@click.group()
@click.option("--config", default="course_config.py", show_default=True, type=click.Path(dir_okay=False),
              help="The course declaration.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, config: str, verbose: int) -> None:
    """Build, check, grade and report on the AI/ML course."""
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"config": config}


@main.command()
@click.argument("part", required=False)
@SANDBOX_OPTION
@click.option("--no-cache", is_flag=True, help="Re-run solutions even if nothing changed.")
@click.pass_context
@fail_cleanly
def build(ctx: click.Context, part: str | None, backend: str | None, no_cache: bool) -> None:
    """Write release/ (student notebooks) and autograder/ (grading bundles) from source/."""
    from aiml_course.authoring.build import build_part, write_build
    from aiml_course.authoring.verify import judged_inside

    course = course_from(ctx)
    for part_id in _parts(course, part):
        result = build_part(course, part_id, _sandbox(course, backend, part_id), use_cache=not no_cache,
                            progress=lambda name: click.echo(f"  building {name}", err=True))
        changes = write_build(course, result)
        click.echo(f"{part_id}: {len(result.notebooks)} notebook(s), "
                   f"{len(changes)} file(s) changed" + "".join(f"\n  {c}" for c in changes))
        for built in result.notebooks:
            for c in judged_inside(built.spec):
                click.secho(f"  judged inside: {built.spec.stem}:{c.qid}/{c.name} (its verdict is computed in the "
                            "sandbox; weaker than a case judged outside)", fg="yellow")


@main.command()
@click.argument("part", required=False)
@SANDBOX_OPTION
@click.option("--timings", is_flag=True, help="Also print each notebook's sandbox time per run and peak memory.")
@click.option("--only", metavar="GLOB", help="Validate only the notebooks whose file stem matches, e.g. '2.1*'.")
@click.pass_context
@fail_cleanly
def validate(ctx: click.Context, part: str | None, backend: str | None, timings: bool, only: str | None) -> None:
    """Run every source notebook: solution = full marks, stub = zero, release/ in sync."""
    from aiml_course.validate import validate_part

    course = course_from(ctx)
    if only is not None and part is None:
        raise click.UsageError("--only needs a PART, e.g. `course validate part-02-first-neuron --only '2.1*'`")
    all_ok = True
    for part_id in _parts(course, part):
        report = validate_part(course, part_id, _sandbox(course, backend, part_id),
                               progress=lambda name: click.echo(f"  running {name}", err=True), only=only)
        click.echo(f"\n{part_id}")
        click.echo(f"  {'notebook':32} {'qs':>3} {'pub':>4} {'hid':>4} {'solution':>12} {'stub':>10} "
                   f"{'mutants':>8} {'time':>7}  ok")
        for n in report.notebooks:
            caught = f"{n.mutants_caught}/{len(n.mutants)}"
            click.echo(f"  {n.notebook:32} {n.questions:>3} {n.public:>4} {n.hidden:>4} "
                       f"{n.solution[0]:>5g}/{n.solution[1]:<6g} {n.stub[0]:>4g}/{n.stub[1]:<5g} "
                       f"{caught:>8} {n.seconds:>6.1f}s  {'yes' if n.ok else 'NO'}")
            for p in n.problems:
                click.secho(f"    ✗ {p}", fg="red")
        for p in report.sync_problems:
            click.secho(f"  ✗ {p} — run `course build {part_id}` and commit", fg="red")
        if timings:
            _print_timings(report)
        all_ok &= report.ok
    click.secho("validate: all good" if all_ok else "validate: FAILED", fg="green" if all_ok else "red")
    sys.exit(0 if all_ok else 1)


def _print_timings(report: Any) -> None:
    """Per notebook, slowest first: sandbox seconds of each kind of run, the wall time and the peak memory."""
    click.echo(f"\n  timings ({report.part}; sandbox seconds per run, wall = the notebook's validation)")
    click.echo(f"  {'notebook':32} {'solution':>9} {'stub':>6} {'lesson':>7} {'mutants':>8} {'wall':>7} "
               f"{'peak MB':>8}")
    for n in sorted(report.notebooks, key=lambda n: n.seconds, reverse=True):
        peak = f"{n.peak_mb:.0f}" if n.peak_mb is not None else "-"
        click.echo(f"  {n.notebook:32} {n.run_seconds('solution'):>8.1f}s {n.run_seconds('stub'):>5.1f}s "
                   f"{n.run_seconds('lesson'):>6.1f}s {n.run_seconds('mutant'):>7.1f}s {n.seconds:>6.1f}s "
                   f"{peak:>8}")

def _print_lint_stats(target: Path) -> None:
    from aiml_course.lint import notebook_stats, waivers

    notebooks = sorted(target.rglob("*.ipynb")) if target.is_dir() else [target]
    click.echo(f"{'notebook':52} {'module':>13} {'words':>6} {'code':>5} {'ex':>3} {'mut':>4} {'demos':>5}")
    for path in (p for p in notebooks if ".ipynb_checkpoints" not in p.parts):
        s = notebook_stats(path)
        if isinstance(s, str):
            click.echo(f"{path!s:52} {s}")
            continue
        shown = path.relative_to(target) if target.is_dir() else path
        click.echo(f"{shown!s:52} {s.module:>13} {s.words:>6} "
                   f"{s.lesson_code_lines:>5} {s.exercises:>3} {s.mutants:>4} {s.demos:>5}")
    for path, rule, reason in waivers(target):
        shown = path.relative_to(target) if target.is_dir() else path
        click.echo(f"skips {rule}: {shown} ({reason})")


@main.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--list-rules", is_flag=True, help="Print the rules and exit.")
@click.option("--list-features", is_flag=True, help="Print the Python constructs the feature ledger knows and exit.")
@click.option("--stats", is_flag=True, help="Print words, lesson-code lines, exercises, mutants and demos per "
                                            "notebook, then lint.")
@click.pass_context
@fail_cleanly
def lint(ctx: click.Context, path: Path | None, list_rules: bool, list_features: bool, stats: bool) -> None:
    """Check notebooks against the house style (default: every notebook under source/)."""
    from aiml_course.lint import RULES, lint_path, waivers

    if list_rules:
        for rule, text in RULES.items():
            click.echo(f"{rule:28} {text}")
        return
    if list_features:
        from aiml_course.feature_ledger import PYTHON_CONSTRUCTS

        for feature, text in PYTHON_CONSTRUCTS.items():
            click.echo(f"{feature:24} {text}")
        click.echo("also: builtins by name (len, range, …), library names (np.dot, nn.Linear, np.*), methods (.backward)")
        return
    target = path or course_from(ctx).source_dir
    if stats:
        _print_lint_stats(target)
    findings = lint_path(target)
    for f in findings:
        click.echo(str(f))
    skipped = waivers(target)
    if skipped:
        by_rule = Counter(rule for _, rule, _ in skipped)
        click.secho(f"lint: {len(skipped)} rule(s) skipped with a reason ("
                    + ", ".join(f"{rule} ×{n}" for rule, n in sorted(by_rule.items()))
                    + "); `course lint --stats` lists them", fg="yellow")
    click.secho(f"lint: {len(findings)} finding(s) in {target}", fg="red" if findings else "green")
    sys.exit(1 if findings else 0)


@main.command()
@click.argument("part")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@SANDBOX_OPTION
@click.option("--workers", type=click.IntRange(1), default=None, help="Notebooks graded at once.")
@click.option("--force", is_flag=True, help="Re-grade submissions already graded.")
@click.option("--db", default=None, help="Gradebook URL (default: sqlite under var/).")
@click.option("--reports", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for feedback reports (default: var/feedback/<part>).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Grade on a Dask cluster (e.g. tcp://10.0.0.5:8786); each worker uses its own sandbox.")
@click.pass_context
@fail_cleanly
def grade(ctx: click.Context, part: str, directory: Path, backend: str | None, workers: int | None, force: bool,
          db: str | None, reports: Path | None, scheduler: str | None) -> None:
    """Grade DIRECTORY/<student>/<notebook>.ipynb for PART into the gradebook."""
    from aiml_course.gradebook import Gradebook
    from aiml_course.grading.pipeline import grade_part

    course = course_from(ctx)
    part_id = course.part(part).id
    summary = grade_part(course, part_id, directory, gradebook=Gradebook(db_url(course, db)),
                         sandbox=_sandbox(course, backend, part_id), workers=workers or course.sandbox.workers,
                         force=force, reports=reports or course.root / "var" / "feedback" / part_id,
                         scheduler=scheduler)
    _print_summary(summary)


def _print_summary(summary: Any) -> None:
    from aiml_course.untrusted import printable

    # names and problem texts come from submissions: each printed on one line without control characters
    click.echo(f"\n{'student':16} {'notebook':30} {'score':>12}  problem")
    for student, notebook, earned, possible, problem in summary.table():
        click.echo(f"{printable(student, 64):16} {printable(notebook, 60):30} {earned:>6g}/{possible:<5g}  "
                   f"{printable(problem, 200)}")
    click.echo(f"{len(summary.graded)} graded, {summary.skipped} skipped (already graded; --force to redo)")
    for reason in summary.not_graded:
        click.secho(f"not graded: {printable(reason, 300)}", fg="red", err=True)
    if summary.reports:
        click.echo(f"feedback reports: {summary.reports}")


@main.command()
@click.option("--db", default=None, help="Gradebook URL (default: sqlite under var/).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV path (default: var/grades.csv, or var/grades-<format>.csv).")
@click.option("--format", "fmt", type=click.Choice(["full", "canvas", "moodle", "cohorts", "otter-results"]),
              default="full", show_default=True,
              help="full: per question; canvas/moodle: gradebook import; cohorts: summaries; otter-results: one "
                   "otter-shaped results JSON per student and notebook (-o is a folder, default var/otter-results).")
@click.pass_context
@fail_cleanly
def export(ctx: click.Context, db: str | None, output: Path | None, fmt: str) -> None:
    """Write the gradebook as CSV (documented columns in aiml_course/export.py)."""
    from aiml_course.export import export_cohorts, export_csv, export_lms
    from aiml_course.gradebook import Gradebook

    course = course_from(ctx)
    book = Gradebook(db_url(course, db))
    if fmt == "otter-results":
        from aiml_course.importers.otter_results import export_otter_results

        written = export_otter_results(course, book, output or course.root / "var" / "otter-results")
        click.echo(f"wrote {len(written)} otter results file(s)" + "".join(f"\n  {p}" for p in written))
        return
    target = output or course.root / "var" / ("grades.csv" if fmt == "full" else f"grades-{fmt}.csv")
    if fmt == "full":
        path = export_csv(course, book, target)
    elif fmt == "cohorts":
        path = export_cohorts(course, book, target)
    else:
        path = export_lms(course, book, target, lms=fmt)
    click.echo(f"wrote {path}")


@main.command("import")
@click.argument("tool", type=click.Choice(["nbgrader", "otter"]))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--part", "part_id", required=True, help="Our part id to write, e.g. part-05-imported-ps1.")
@click.option("--overwrite", is_flag=True, help="Replace notebooks already in source/<part>/.")
@click.pass_context
@fail_cleanly
def import_cmd(ctx: click.Context, tool: str, path: Path, part_id: str, overwrite: bool) -> None:
    """Import an nbgrader source assignment or an otter master notebook into source/<part>/ (see docs/import.md)."""
    from aiml_course.importers import REPORT_NAME, import_assignment

    course = course_from(ctx)
    report = import_assignment(tool, path, course.source_dir, part_id, overwrite=overwrite)
    click.echo(f"{part_id}: {len(report.notebooks)} notebook(s), "
               f"{sum(len(n.questions) for n in report.notebooks)} question(s); {len(report.tests())} test(s): "
               f"{report.outside} judged outside, {report.inside} judged inside; "
               f"{len(report.unconverted)} piece(s) not imported or changed")
    click.echo(f"report: {course.source_dir / part_id / REPORT_NAME}")
    click.echo(f"next: declare {part_id} in course_config.py, then `course build {part_id}`")


@main.command()
@click.argument("student")
@click.argument("part")
@click.argument("question", metavar="NOTEBOOK:QUESTION")
@click.option("--points", type=float, required=True, help="Points to add (negative to remove).")
@click.option("--reason", required=True, help="Why; shown with the grade.")
@click.option("--db", default=None, help="Gradebook URL (default: sqlite under var/).")
@click.pass_context
@fail_cleanly
def adjust(ctx: click.Context, student: str, part: str, question: str, points: float, reason: str,
           db: str | None) -> None:
    """Change STUDENT's points on one question by hand (kept with who and why; exports include it)."""
    import getpass

    from aiml_course.adjust import adjust_question
    from aiml_course.gradebook import Gradebook

    course = course_from(ctx)
    part_id = course.part(part).id
    notebook, qid = adjust_question(course, Gradebook(db_url(course, db)), student, part_id, question, points,
                                    by=getpass.getuser(), reason=reason)
    click.echo(f"{student}: {part_id}/{notebook}:{qid} {points:+g} points ({reason})")


@main.command()
@click.argument("student")
@click.argument("part")
@click.option("--until", "until", required=True, help="New deadline, ISO 8601 with a time zone, e.g. "
              "2026-03-10T23:59+00:00.")
@click.option("--reason", default="", help="Why (kept in the gradebook).")
@click.option("--db", default=None, help="Gradebook URL (default: sqlite under var/).")
@click.pass_context
@fail_cleanly
def extend(ctx: click.Context, student: str, part: str, until: str, reason: str, db: str | None) -> None:
    """Give STUDENT a later deadline for PART; late penalties then count from it."""
    import getpass
    from datetime import datetime

    from aiml_course.errors import GradebookError
    from aiml_course.gradebook import Gradebook

    course = course_from(ctx)
    part_id = course.part(part).id
    try:
        when = datetime.fromisoformat(until)
    except ValueError as exc:
        raise GradebookError(f"--until {until!r} is not an ISO 8601 date-time") from exc
    Gradebook(db_url(course, db)).grant_extension(student, part_id, when, granted_by=getpass.getuser(),
                                                   reason=reason)
    click.echo(f"{student}: {part_id} now due {when.isoformat()}")


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the demo gradebook, CSV and reports go (default: var/demo).")
@SANDBOX_OPTION
@click.pass_context
@fail_cleanly
def demo(ctx: click.Context, out: Path | None, backend: str | None) -> None:
    """The whole chain on the shipped sample submissions: build check → grade → gradebook → CSV."""
    from aiml_course.demo import run_demo

    course = course_from(ctx)
    from aiml_course.demo import DEMO_PART

    result = run_demo(course, out or course.root / "var" / "demo", _sandbox(course, backend, DEMO_PART),
                      echo=lambda s: click.echo(s, err=True))
    _print_summary(result.summary)
    click.echo(f"gradebook:        {result.db_url}")
    click.echo(f"grades CSV:       {result.csv}")
    click.echo(f"feedback reports: {result.reports}")


def _register_plugins() -> None:
    """Commands that live in their own modules (imported lazily only when the CLI starts)."""
    from aiml_course.certificates import certificates_cli
    from aiml_course.hub.cli import hub_cmd, roster_cli
    from aiml_course.hub.exchange_cli import collect_cmd, release_cmd
    from aiml_course.peer_review import peer_review_cli
    from aiml_course.similarity import similarity_cli

    for command in (certificates_cli, peer_review_cli, similarity_cli, roster_cli, hub_cmd,
                    release_cmd, collect_cmd):
        main.add_command(command)


_register_plugins()

if __name__ == "__main__":
    main()
