"""`course certificates …`: issue, verify and revoke certificates. Each command forwards to one library call.

Issued certificates and revocations are also recorded in the gradebook (`--db`, default: SQLite under var/), in its
`certificates` table; `verify FILE` needs no database, `verify ID` reads the gradebook.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from aiml_course.certificates.credential import (
    DEFAULT_BASE_URL,
    VerifyResult,
    issue_certificates,
    revoke,
    verify,
    verify_recorded,
)
from aiml_course.certificates.crypto import CertificateError
from aiml_course.certificates.status_list import list_path as status_list_path
from aiml_course.cli_support import course_from, db_url, fail_cleanly
from aiml_course.config import Course

if TYPE_CHECKING:
    from aiml_course.gradebook import Gradebook


@click.group(name="certificates")
def certificates_cli() -> None:
    """Signed course certificates (Open Badges 3.0): issue, verify, revoke."""


@certificates_cli.command()
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True,
              help="Public site where `<base-url>/verify/<id>` checks a certificate.")
@click.option("--valid-days", type=click.IntRange(min=1), default=None,
              help="Certificates expire this many days after issue (default: never).")
@click.option("--db", default=None, help="Gradebook URL (default: sqlite under var/).")
@click.pass_context
@fail_cleanly
def certify(ctx: click.Context, base_url: str, valid_days: int | None, db: str | None) -> None:
    """Issue a certificate (JSON + PDF) to every qualifying student; say what the others still need."""
    from aiml_course.gradebook import Gradebook

    course = course_from(ctx)
    report = issue_certificates(course, Gradebook(db_url(course, db)), base_url=base_url,
                                valid_days=valid_days)
    if base_url == DEFAULT_BASE_URL:
        click.secho(f"note: verification URLs use the placeholder {DEFAULT_BASE_URL}; pass --base-url",
                    fg="yellow", err=True)
    for item in report.issued:
        click.secho(f"✓ {item.student}: issued {item.credential_id}", fg="green")
        click.echo(f"    {item.json_path}\n    {item.pdf_path}")
    for student, cid in report.already.items():
        click.echo(f"= {student}: already holds {cid} (revoke it to issue a new one)")
    for verdict in report.verdicts:
        if not verdict.qualifies:
            click.echo(f"✗ {verdict.student}: " + "; ".join(verdict.missing))
    if report.recorded.added:
        click.echo(f"+ recorded in the gradebook {len(report.recorded.added)} certificates issued before it kept them")
    for problem in report.recorded.problems:
        click.secho(f"! {problem}", fg="yellow")
    for pdf in report.repaired:
        click.echo(f"+ drew again the missing or cut-short PDF {pdf}")
    for student, reason in report.failed.items():
        click.secho(f"✗ {student}: qualifies, but the certificate could not be written: {reason}", fg="red")
    qualified = sum(v.qualifies for v in report.verdicts)
    click.echo(f"{qualified} of {len(report.verdicts)} students qualify; {len(report.issued)} certificates issued")
    listed = status_list_path(course.root)
    if listed.is_file():
        click.echo(f"revocation status list: {listed} (publish it at its id; see docs/certificates.md)")
    if report.failed:
        sys.exit(1)


@certificates_cli.command(name="verify")
@click.argument("target", metavar="FILE|ID")
@click.option("--db", default=None, help="Gradebook URL, for an ID (default: sqlite under var/).")
@click.option("--status-list", "status_list_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The signed revocation status list as downloaded from the URL in the certificate "
              "(default: this course's var/certificates/status/revocation.json).")
@click.pass_context
@fail_cleanly
def verify_cmd(ctx: click.Context, target: str, db: str | None, status_list_file: Path | None) -> None:
    """Check a certificate (a file, or an id the gradebook records): signature, revocation (the list and the
    published status list bit), dates. Exit 0 if valid, 1 if not."""
    course = course_from(ctx)
    if Path(target).is_file():
        result = verify(Path(target), course=course, status_list_file=status_list_file)
    else:
        result = verify_recorded(target, course=course, gradebook=_existing_gradebook(course, db, target))
    for note in result.notes:
        click.secho(f"note: {note}", fg="yellow")
    if result.valid:
        click.secho(f"valid: {result.credential_id}", fg="green")
        return
    _invalid(result, target)


def _invalid(result: VerifyResult, target: str) -> None:
    click.secho(f"INVALID: {result.credential_id or target}", fg="red")
    for reason in result.reasons:
        click.echo(f"  - {reason}")
    sys.exit(1)


def _existing_gradebook(course: Course, db: str | None, target: str) -> Gradebook:
    """The gradebook to look an id up in; a path that is not a file, or no default SQLite file, is an error."""
    from aiml_course.gradebook import Gradebook

    if "/" in target or target.endswith((".json", ".pdf")):
        raise CertificateError(f"no file {target}")
    url = db_url(course, db)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise CertificateError(f"{target} is not a file, and there is no gradebook at {url} to look it up in")
    return Gradebook(url)


@certificates_cli.command(name="revoke")
@click.argument("credential_id", metavar="ID")
@click.option("--reason", required=True, help="Why (the holder and anyone verifying will read it).")
@click.option("--db", default=None, help="Gradebook URL (default: sqlite under var/).")
@click.pass_context
@fail_cleanly
def revoke_cmd(ctx: click.Context, credential_id: str, reason: str, db: str | None) -> None:
    """Put a certificate on the revocation list (`var/certificates/revoked.json`), set its bit in the signed status
    list (`var/certificates/status/revocation.json`: publish it again) and record it in the gradebook."""
    from aiml_course.gradebook import Gradebook

    course = course_from(ctx)
    full = revoke(credential_id, course=course, reason=reason, gradebook=Gradebook(db_url(course, db)))
    click.echo(f"revoked {full}: {reason}")
    click.echo(f"publish the updated status list: {status_list_path(course.root)}")
