"""`course certificates …`: issue, verify and revoke certificates. Each command forwards to one library call."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from aiml_course.certificates.credential import DEFAULT_BASE_URL, issue_certificates, revoke, verify
from aiml_course.cli_support import course_from, db_url, fail_cleanly


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
    qualified = sum(v.qualifies for v in report.verdicts)
    click.echo(f"{qualified} of {len(report.verdicts)} students qualify; {len(report.issued)} certificates issued")


@certificates_cli.command(name="verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
@fail_cleanly
def verify_cmd(ctx: click.Context, file: Path) -> None:
    """Check a certificate's signature, revocation and dates: exit 0 if valid, 1 if not."""
    result = verify(file, course=course_from(ctx))
    if result.valid:
        click.secho(f"valid: {result.credential_id}", fg="green")
        return
    click.secho(f"INVALID: {result.credential_id or file}", fg="red")
    for reason in result.reasons:
        click.echo(f"  - {reason}")
    sys.exit(1)


@certificates_cli.command(name="revoke")
@click.argument("credential_id", metavar="ID")
@click.option("--reason", required=True, help="Why (the holder and anyone verifying will read it).")
@click.pass_context
@fail_cleanly
def revoke_cmd(ctx: click.Context, credential_id: str, reason: str) -> None:
    """Put a certificate on the revocation list (`var/certificates/revoked.json`)."""
    full = revoke(credential_id, course=course_from(ctx), reason=reason)
    click.echo(f"revoked {full}: {reason}")
