"""Certificates in the gradebook: one `certificates` row per issued certificate, beside its files.

The files under `var/certificates/` stay what `verify FILE` trusts (a verifier may not have the database): the
signed JSON and the revocation list `revoked.json`. The table mirrors them for the dashboard, the CSV export and
`verify ID`: `issue_certificates` writes a row for each certificate it issues, `revoke` sets `revoked_at` and
`revoked_reason`, and `sync_records` (run by both) records certificates issued before the gradebook kept them
(only files signed with this course's key: a JSON dropped into issued/ is reported, never recorded) and copies
revocations from the list. A revocation is never undone in the table; one missing from the list is
reported, not written back.

Columns: `id` (the credential id, 'urn:uuid:…'), `student_id`, `issued_at`, `expires_at` (None: never),
`percent` (the parts' percents weighted by the parts' weights, late penalties not applied: what the certificate
certifies), `parts` (JSON: part id → percent of its points; whole percents for rows recorded from a file),
`revoked_at`, `revoked_reason`, `json_path` and `pdf_path` (POSIX paths relative to the course root).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from aiml_course.certificates import store
from aiml_course.certificates.crypto import CertificateError
from aiml_course.certificates.proof import proof_problems
from aiml_course.config import Course
from aiml_course.errors import GradebookError
from aiml_course.gradebook import Base, Gradebook, Student, UTCDateTime

TABLE = "certificates"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"   # the credentials' and the revocation list's timestamps


class CertificateRecord(Base):
    """One issued certificate, as the gradebook keeps it (the signed JSON file is the certificate itself)."""

    __tablename__ = TABLE
    id: Mapped[str] = mapped_column(String(100), primary_key=True)        # the credential id, 'urn:uuid:…'
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    percent: Mapped[float] = mapped_column(Float)
    parts: Mapped[str] = mapped_column(Text, default="{}")                 # JSON: part id → percent
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_reason: Mapped[str] = mapped_column(Text, default="")
    json_path: Mapped[str] = mapped_column(String(500))                    # relative to the course root
    pdf_path: Mapped[str] = mapped_column(String(500))


@dataclass(frozen=True)
class SyncReport:
    """What `sync_records` did, and what it found wrong, in words."""

    added: list[str] = field(default_factory=list)      # ids recorded from files the table did not hold
    revoked: list[str] = field(default_factory=list)    # ids whose revocation was copied from revoked.json
    problems: list[str] = field(default_factory=list)   # missing files, revocations not on the list, unknown students


# ── writing ─────────────────────────────────────────────────────────────────────────────────────────────────


def record_issued(gradebook: Gradebook, *, course: Course, credential: dict[str, Any], parts: dict[str, float],
                  json_path: Path, pdf_path: Path) -> bool:
    """Record a certificate just issued; `parts` maps part id → fraction of its points. False if already there."""
    percents = {part_id: round(100 * frac, 2) for part_id, frac in parts.items()}
    return _insert(gradebook, _row(course, credential, percents, json_path, pdf_path))


def sync_records(course: Course, gradebook: Gradebook) -> SyncReport:
    """Bring the table up to the files: record unrecorded certificates, copy revocations, report what is wrong."""
    report = SyncReport()
    with gradebook.session() as s:
        recorded = {r.id: r for r in s.scalars(select(CertificateRecord))}
        students = set(s.scalars(select(Student.id)))
    public = store.issuer_public_key(course.root)
    for path, credential in store.issued_credentials(course.root):
        cid, student = credential.get("id"), _student(credential)
        if not isinstance(cid, str) or cid in recorded:
            continue
        if public is None or proof_problems(credential, public):
            report.problems.append(f"{_rel(course, path)} is not signed by this course's issuer key; not recorded "
                                   "(remove it from issued/)")
            continue
        if student not in students:
            report.problems.append(f"{_rel(course, path)}: its student {student!r} is not in the gradebook; "
                                   "not recorded")
            continue
        try:
            row = _row(course, credential, _credential_percents(credential), path, path.with_suffix(".pdf"))
        except CertificateError as exc:
            report.problems.append(f"{exc}; not recorded")
            continue
        if _insert(gradebook, row):
            report.added.append(cid)
    report.revoked.extend(_copy_revocations(course, gradebook))
    report.problems.extend(_problems(course, gradebook))
    return report


def _insert(gradebook: Gradebook, row: CertificateRecord) -> bool:
    """Add `row` unless its id is there; a parallel run that added it first is not an error."""
    try:
        with gradebook.session() as s:
            if s.get(CertificateRecord, row.id) is not None:
                return False
            s.add(row)
    except GradebookError as exc:
        if isinstance(exc.__cause__, IntegrityError):
            with gradebook.session() as s:
                if s.get(CertificateRecord, row.id) is not None:
                    return False
        raise
    return True


def _copy_revocations(course: Course, gradebook: Gradebook) -> list[str]:
    """Set revoked_at/reason from revoked.json where the table differs (a second revocation replaces the reason)."""
    entries = store.revoked(course.root)
    changed = []
    with gradebook.session() as s:
        for row in s.scalars(select(CertificateRecord).where(CertificateRecord.id.in_(list(entries)))):
            when = _parse_time(entries[row.id].get("revoked_at")) or datetime.now(UTC)
            reason = str(entries[row.id].get("reason", ""))
            if row.revoked_at is None or as_utc(row.revoked_at) != when or row.revoked_reason != reason:
                row.revoked_at, row.revoked_reason = when, reason
                changed.append(row.id)
    return changed


def _problems(course: Course, gradebook: Gradebook) -> list[str]:
    """Current certificates whose files are gone; revocations the table holds and the list lacks."""
    on_list = store.revoked(course.root)
    problems = []
    with gradebook.session() as s:
        for row in s.scalars(select(CertificateRecord).order_by(CertificateRecord.student_id,
                                                                 CertificateRecord.issued_at)):
            if row.revoked_at is None:
                problems += [f"{row.student_id}: {sentence}" for sentence in file_problems(course.root, row)]
            elif row.id not in on_list:
                problems.append(f"{row.student_id}: {row.id} is revoked in the gradebook but not on "
                                f"{store.REVOKED_FILE}, so `verify FILE` accepts it; revoke it again to put it back")
    return problems


# ── reading ─────────────────────────────────────────────────────────────────────────────────────────────────


def file_problems(root: Path, row: CertificateRecord) -> list[str]:
    """Sentences naming a row's missing files ([] when both are there)."""
    problems = []
    if not (root / row.json_path).is_file():
        problems.append(f"the certificate file {row.json_path} of {row.id} is missing: it cannot be verified or "
                        "handed out (`course certificates certify` issues a new one)")
    if not (root / row.pdf_path).is_file():
        problems.append(f"the PDF {row.pdf_path} of {row.id} is missing (the signed JSON is the certificate; "
                        "the PDF only its printout)")
    return problems


def certificate_status(gradebook: Gradebook, student: str, *, root: Path | None = None,
                       now: datetime | None = None) -> dict[str, Any] | None:
    """The student's latest non-revoked certificate, else their latest revoked one (flagged); None if none.

    Keys: id, issued_at, expires_at, expired, percent, parts, json_path, pdf_path, revoked, revoked_at,
    revoked_reason, missing_files and problems (files are checked only when `root`, the course root, is given).
    """
    rows = records_of(gradebook, student)
    if not rows:
        return None
    live = [r for r in rows if r.revoked_at is None]
    row = (live or rows)[-1]
    now = now or datetime.now(UTC)
    problems = file_problems(root, row) if root is not None else []
    return {"id": row.id, "issued_at": as_utc(row.issued_at), "expires_at": _maybe_utc(row.expires_at),
            "expired": row.expires_at is not None and now >= as_utc(row.expires_at), "percent": row.percent,
            "parts": json.loads(row.parts or "{}"), "json_path": row.json_path, "pdf_path": row.pdf_path,
            "revoked": row.revoked_at is not None, "revoked_at": _maybe_utc(row.revoked_at),
            "revoked_reason": row.revoked_reason,
            "missing_files": [p for p in (row.json_path, row.pdf_path) if root is not None
                              and not (root / p).is_file()],
            "problems": problems}


def records_of(gradebook: Gradebook, student: str) -> list[CertificateRecord]:
    """A student's rows, oldest first; [] while the table does not exist."""
    if not _has_table(gradebook):
        return []
    with gradebook.session() as s:
        return list(s.scalars(select(CertificateRecord).where(CertificateRecord.student_id == student)
                              .order_by(CertificateRecord.issued_at, CertificateRecord.id)))


def record(gradebook: Gradebook, credential_id: str) -> CertificateRecord | None:
    """The row of one certificate (full id or bare uuid), or None."""
    if not _has_table(gradebook):
        return None
    with gradebook.session() as s:
        return s.get(CertificateRecord, full_id(credential_id))


def current_certificate_ids(gradebook: Gradebook, *, now: datetime | None = None) -> dict[str, str]:
    """Student → id of their latest certificate that is neither revoked nor expired (one query)."""
    if not _has_table(gradebook):
        return {}
    now = now or datetime.now(UTC)
    out: dict[str, str] = {}
    with gradebook.session() as s:
        for row in s.execute(select(CertificateRecord.id, CertificateRecord.student_id, CertificateRecord.expires_at)
                             .where(CertificateRecord.revoked_at.is_(None))
                             .order_by(CertificateRecord.issued_at, CertificateRecord.id)):
            if row.expires_at is None or now < as_utc(row.expires_at):
                out[row.student_id] = row.id
    return out


def full_id(credential_id: str) -> str:
    """'urn:uuid:…' whether given with the prefix or as a bare uuid."""
    return credential_id if credential_id.startswith("urn:") else f"urn:uuid:{credential_id}"


# ── helpers ─────────────────────────────────────────────────────────────────────────────────────────────────


def _row(course: Course, credential: dict[str, Any], percents: dict[str, float], json_path: Path,
         pdf_path: Path) -> CertificateRecord:
    """A row for a signed credential; dates from the credential itself, so file and row always agree."""
    issued = _parse_time(credential.get("validFrom"))
    if issued is None or not isinstance(credential.get("id"), str):
        raise CertificateError(f"{json_path}: not a certificate issued here (no id or validFrom)")
    return CertificateRecord(id=credential["id"], student_id=_student(credential), issued_at=issued,
                             expires_at=_parse_time(credential.get("validUntil")),
                             percent=weighted_percent(course, percents), parts=json.dumps(percents, sort_keys=True),
                             revoked_at=None, revoked_reason="", json_path=_rel(course, json_path),
                             pdf_path=_rel(course, pdf_path))


def weighted_percent(course: Course, percents: dict[str, float]) -> float:
    """The parts' percents averaged with the parts' weights (plain mean if they weigh nothing)."""
    weights = {p.id: p.weight for p in course.parts if p.id in percents}
    total = sum(weights.values())
    if not percents:
        return 0.0
    if total <= 0:
        return round(sum(percents.values()) / len(percents), 2)
    return round(sum(percents[p] * w for p, w in weights.items()) / total, 2)


def _credential_percents(credential: dict[str, Any]) -> dict[str, float]:
    """Part id → whole percent, from the credential's results ('…/achievements/<course>#<part>')."""
    results = credential.get("credentialSubject", {}).get("result", [])
    out = {}
    for item in results if isinstance(results, list) else []:
        try:
            out[str(item["resultDescription"]).rsplit("#", 1)[-1]] = float(item["value"])
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _student(credential: dict[str, Any]) -> str:
    subject = credential.get("credentialSubject")
    for ident in subject.get("identifier", []) if isinstance(subject, dict) else []:
        if isinstance(ident, dict) and ident.get("identityType") == "studentId":
            return str(ident.get("identityHash", ""))
    return ""


def _rel(course: Course, path: Path) -> str:
    """`path` relative to the course root, as POSIX (absolute if it lies elsewhere)."""
    try:
        return Path(path).relative_to(course.root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _has_table(gradebook: Gradebook) -> bool:
    return bool(inspect(gradebook.engine).has_table(TABLE))


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC) if isinstance(value, str) else None
    except ValueError:
        return None


def as_utc(dt: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones; they were stored in UTC)."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _maybe_utc(dt: datetime | None) -> datetime | None:
    return None if dt is None else as_utc(dt)
