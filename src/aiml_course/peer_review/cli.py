"""`course peer-review`: assign reviews, release and collect them through nbgrader's exchange, aggregate grades.

Commands only forward to the library (store.py, exchange.py, reviews.py) and print what came back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from aiml_course.cli_support import course_from, db_url, fail_cleanly
from aiml_course.gradebook import Gradebook
from aiml_course.peer_review.exchange import CollectReport, ReleaseReport, collect_reviews, release_reviews
from aiml_course.peer_review.reviews import Aggregate, aggregate_part
from aiml_course.peer_review.store import AssignOutcome, assign_part

DB_OPTION = click.option("--db", default=None, help="Gradebook URL (default: sqlite under var/).")
HUB_ROOT_OPTION = click.option("--hub-root", type=click.Path(file_okay=False, path_type=Path), default=None,
                               help="The hub's course root (default: $AIML_HUB_ROOT, else /srv/aiml-course/<id>).")


@click.group("peer-review")
def peer_review_cli() -> None:
    """Peer review of the major projects: anonymous, balanced assignment and calibrated grades."""


@peer_review_cli.command("assign")
@click.argument("part")
@click.option("--k", "k", type=click.IntRange(1), default=None,
              help="Reviews per submission (default: PeerReview.reviews_per_submission).")
@click.option("--seed", type=int, default=None, help="Shuffle seed (default: PeerReview.seed).")
@DB_OPTION
@click.pass_context
@fail_cleanly
def assign_cmd(ctx: click.Context, part: str, k: int | None, seed: int | None, db: str | None) -> None:
    """Assign reviewers within each cohort among the students graded for PART, and store it (re-runs replace it)."""
    course = course_from(ctx)
    part_id = course.part(part).id
    seed = course.peer_review.seed if seed is None else seed
    outcome = assign_part(Gradebook(db_url(course, db)), part_id,
                          k=k or course.peer_review.reviews_per_submission, seed=seed)
    _print_assignment(outcome)
    for warning in outcome.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    note = ("first assignment of this part" if not outcome.before else
            "replaces the earlier assignment" if outcome.changed else "same as the stored assignment")
    click.echo(f"{len(outcome.pairs)} reviews for {part_id} stored (seed {seed}; {note})")


@peer_review_cli.command("release")
@click.argument("part")
@click.option("--submissions", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of <author>/<part>/*.ipynb (default: the hub's course/submitted).")
@click.option("--notebook", "notebooks", multiple=True, metavar="NAME",
              help="Only these notebooks (file name without .ipynb); repeatable. Default: all of the part.")
@click.option("--keep-outputs", is_flag=True, help="Keep (scrubbed) text outputs and images in the copies.")
@HUB_ROOT_OPTION
@DB_OPTION
@click.pass_context
@fail_cleanly
def release_cmd(ctx: click.Context, part: str, submissions: Path | None, notebooks: tuple[str, ...],
                keep_outputs: bool, hub_root: Path | None, db: str | None) -> None:
    """Release each reviewer's private packet for PART (anonymous notebooks + review.ipynb) through nbgrader."""
    from aiml_course.hub.layout import HubLayout

    course = course_from(ctx)
    part_id = course.part(part).id
    book = Gradebook(db_url(course, db))
    with _bar(book, part_id, "releasing") as step:
        report = release_reviews(course, book, part_id, layout=HubLayout.for_course(course, hub_root),
                                 submissions=submissions, notebooks=notebooks, keep_outputs=keep_outputs,
                                 progress=step)
    _print_release(report)


@contextmanager
def _bar(book: Gradebook, part: str, verb: str) -> Iterator[Callable[[str], None]]:
    """A progress bar over the part's reviewers (one nbgrader command each: seconds apiece)."""
    from tqdm import tqdm

    from aiml_course.peer_review.store import load_pairs

    reviewers = {p.reviewer for p in load_pairs(book, part)}
    with tqdm(total=len(reviewers), desc=f"{verb} review packets", unit="reviewer", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:
        def step(reviewer: str) -> None:
            bar.set_postfix_str(reviewer)
            bar.update(1)

        yield step


@peer_review_cli.command("collect")
@click.argument("part")
@HUB_ROOT_OPTION
@DB_OPTION
@click.pass_context
@fail_cleanly
def collect_cmd(ctx: click.Context, part: str, hub_root: Path | None, db: str | None) -> None:
    """Collect the submitted review forms of PART, store the valid reviews, and list every invalid one."""
    from aiml_course.hub.layout import HubLayout

    course = course_from(ctx)
    part_id = course.part(part).id
    book = Gradebook(db_url(course, db))
    with _bar(book, part_id, "collecting") as step:
        report = collect_reviews(course, book, part_id, layout=HubLayout.for_course(course, hub_root),
                                 progress=step)
    _print_collect(report)


@peer_review_cli.command("aggregate")
@click.argument("part")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False)
@click.option("--iterations", type=click.IntRange(10), default=2000, show_default=True,
              help="Gibbs sweeps for the calibrated model.")
@click.option("--seed", type=int, default=None, help="Sampler seed (default: PeerReview.seed).")
@DB_OPTION
@click.pass_context
@fail_cleanly
def aggregate_cmd(ctx: click.Context, part: str, folder: Path | None, iterations: int, seed: int | None,
                  db: str | None) -> None:
    """Print each author's median and calibrated peer grade for PART, from the reviews collected into the
    gradebook, or from the review files in FOLDER (checked first)."""
    course = course_from(ctx)
    part_id = course.part(part).id
    result = aggregate_part(Gradebook(db_url(course, db)), part_id, folder,
                            rubric=course.peer_review.rubric, iterations=iterations,
                            seed=course.peer_review.seed if seed is None else seed)
    _print_aggregate(result, max_points=sum(item.max_points for item in course.peer_review.rubric))


def _print_assignment(outcome: AssignOutcome) -> None:
    by_reviewer: dict[str, list[str]] = {reviewer: [] for reviewer in outcome.cohorts}
    for pair in outcome.pairs:
        by_reviewer[pair.reviewer].append(f"{pair.author} ({pair.alias})")
    click.echo(f"{'reviewer':<16} {'cohort':<10} reviews")
    for reviewer, cohort in sorted(outcome.cohorts.items(), key=lambda item: (item[1], item[0])):
        click.echo(f"{reviewer:<16} {cohort:<10} {', '.join(by_reviewer[reviewer]) or '-'}")


def _print_release(report: ReleaseReport) -> None:
    for packet in report.released:
        click.echo(f"{packet.reviewer:<16} {packet.assignment}: {len(packet.aliases)} author(s), "
                   f"{len(packet.files)} file(s)")
    for reviewer, problems in sorted(report.problems.items()):
        for problem in problems:
            click.secho(f"{reviewer:<16} {problem}", fg="yellow")
    for line in report.ignored:
        click.secho(line, fg="yellow")
    click.echo(f"{len(report.released)} review packets of {report.part} released")


def _print_collect(report: CollectReport) -> None:
    for r in report.reviewers:
        state = "submitted" if r.submitted else "nothing submitted"
        click.echo(f"{r.reviewer:<16} {state}: {len(r.stored)} valid, {len(r.invalid)} problem(s), "
                   f"{len(r.missing)} not reviewed")
        for line in r.invalid:
            click.secho(f"    invalid   {line}", fg="yellow")
        for line in r.notes:
            click.secho(f"    note      {line}", fg="yellow")
        if r.submitted and r.missing:
            click.echo(f"    missing   {', '.join(r.missing)}")
    s = report.stored
    click.echo(f"peer_reviews for {report.part}: {len(s.added)} added, {len(s.updated)} updated, "
               f"{len(s.unchanged)} unchanged")


def _print_aggregate(result: Aggregate, *, max_points: int) -> None:
    """Every author of the assignment (those without a review too), then the reviewers, then what is missing."""
    cal, counts = result.calibration, dict.fromkeys(result.aliases, 0)
    for _, author, _ in result.reviews:
        counts[author] = counts.get(author, 0) + 1
    label = "calibrated" if cal.method == "pg1" else "median*"
    click.echo(f"{'author':<16} {'alias':<12} {'reviews':>7} {'median':>7} {label:>10} {'± sd':>6}"
               f"   (out of {max_points})")
    for author in sorted(result.aliases):
        if author not in result.median:
            click.echo(f"{author:<16} {result.aliases[author]:<12} {0:>7} {'-':>7} {'-':>10} {'-':>6}   no reviews")
            continue
        click.echo(f"{author:<16} {result.aliases[author]:<12} {counts[author]:>7} {result.median[author]:>7.2f} "
                   f"{cal.scores[author]:>10.2f} {cal.score_sd[author]:>6.2f}")
    if cal.bias:
        click.echo(f"\n{'reviewer':<16} {'bias':>6} {'reliability':>11}")
        for reviewer in cal.bias:
            click.echo(f"{reviewer:<16} {cal.bias[reviewer]:>+6.2f} {cal.reliability[reviewer]:>11.2f}")
    if result.missing:
        click.echo(f"\n{len(result.missing)} assigned reviews not handed in: "
                   + ", ".join(f"{p.reviewer} → {p.alias}" for p in result.missing))
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
