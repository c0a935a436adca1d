"""Certificates as Open Badges 3.0 / W3C Verifiable Credentials, signed with an eddsa-jcs-2022 Data Integrity
proof: issue them for qualifying students, verify one, revoke one.

The proof follows the W3C eddsa-jcs-2022 cryptosuite (it reproduces the specification's test vector byte for
byte): the Ed25519 signature covers SHA-256(JCS(proof without proofValue, carrying the document's @context)) ‖
SHA-256(JCS(credential without proof)), so neither the credential nor the proof's own fields (key, date,
purpose) can change without breaking it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiml_course.certificates import records, status_list, store
from aiml_course.certificates.crypto import CertificateError, PublicKey
from aiml_course.certificates.eligibility import Verdict, eligibility, percent
from aiml_course.certificates.proof import CRYPTOSUITE, parse_time, proof_problems, sign, stamp
from aiml_course.config import Course
from aiml_course.errors import GradebookError
from aiml_course.gradebook import Gradebook

CONTEXT = ["https://www.w3.org/ns/credentials/v2",
           "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
DEFAULT_BASE_URL = "https://certificates.example.org"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
__all__ = ["CRYPTOSUITE", "sign", "stamp"]  # re-exported: the proof lives in proof.py


@dataclass(frozen=True)
class VerifyResult:
    """Whether a certificate is genuine, current and not revoked; every reason it is not."""

    valid: bool
    reasons: list[str] = field(default_factory=list)
    credential_id: str = ""
    notes: list[str] = field(default_factory=list)  # worth knowing, not a reason to reject (a missing PDF)


@dataclass(frozen=True)
class Issued:
    """One certificate written by `issue_certificates`."""

    student: str
    credential_id: str
    json_path: Path
    pdf_path: Path


@dataclass(frozen=True)
class CertifyReport:
    """What `issue_certificates` did: every verdict, the new certificates, and students who already hold one."""

    verdicts: list[Verdict]
    issued: list[Issued]
    already: dict[str, str]  # student → id of their current certificate
    recorded: records.SyncReport = field(default_factory=records.SyncReport)  # the gradebook table, synced
    failed: dict[str, str] = field(default_factory=dict)  # student → why no certificate could be written
    repaired: list[Path] = field(default_factory=list)  # PDFs of current certificates drawn again (gone or cut short)


def verify_url(base_url: str, credential_id: str) -> str:
    """Where a reader checks a certificate: `<base_url>/verify/<id>`."""
    return f"{base_url.rstrip('/')}/verify/{credential_id}"


def build_credential(course: Course, verdict: Verdict, *, issuer: PublicKey, base_url: str,
                     issued_at: datetime, valid_days: int | None = None,
                     credential_id: str | None = None, status: dict[str, str] | None = None) -> dict[str, Any]:
    """The unsigned Open Badges 3.0 credential for one qualifying student (`status`: its `credentialStatus`,
    a bit of the course's revocation status list)."""
    if valid_days is not None and valid_days < 1:
        raise CertificateError("valid_days must be at least 1")
    achievement_id = f"{base_url.rstrip('/')}/achievements/{course.id}"
    titles = {p.id: p.title for p in course.parts}
    credential: dict[str, Any] = {
        "@context": list(CONTEXT),
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "type": list(TYPES),
        "name": f"{course.title}: certificate of completion",
        "issuer": {"id": issuer.did, "type": ["Profile"], "name": course.title},
        "validFrom": stamp(issued_at),
        **({"validUntil": stamp(issued_at + timedelta(days=valid_days))} if valid_days is not None else {}),
        **({"credentialStatus": status} if status is not None else {}),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [_identity("studentId", verdict.student), _identity("name", verdict.name)],
            "achievement": {
                "id": achievement_id,
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": course.title,
                "description": f"Completed the course {course.title} ({course.id}).",
                "criteria": {"narrative": _criteria(course)},
                "resultDescription": [
                    {"id": f"{achievement_id}#{part_id}", "type": ["ResultDescription"],
                     "name": f"{titles.get(part_id, part_id)} ({part_id})", "resultType": "Percent"}
                    for part_id in verdict.parts],
            },
            "result": [
                {"type": ["Result"], "resultDescription": f"{achievement_id}#{part_id}", "value": str(percent(frac))}
                for part_id, frac in verdict.parts.items()],
        },
    }
    return credential


def issue_certificates(course: Course, gradebook: Gradebook, *, base_url: str = DEFAULT_BASE_URL,
                       valid_days: int | None = None, now: datetime | None = None) -> CertifyReport:
    """Sign a credential and render its PDF for each qualifying student without a current certificate.

    Each certificate is recorded in the gradebook's `certificates` table as soon as its files are written; then
    the table is brought up to the files (`records.sync_records`).
    """
    now = now or datetime.now(UTC)
    verdicts = eligibility(course, gradebook)
    current = current_certificates(course, now=now)
    key = store.issuer_key(course.root)
    store.make_folder(store.issued_dir(course.root))
    issued, failed = [], {}
    for verdict in verdicts:
        if not verdict.qualifies or verdict.student in current:
            continue
        try:
            item = _issue_one(course, gradebook, verdict, key=key, base_url=base_url, now=now, valid_days=valid_days)
        except CertificateError as exc:
            failed[verdict.student] = str(exc)
            if _disk_full(exc):
                break  # every later certificate would fail the same way
            continue
        issued.append(item)
    if not status_list.list_path(course.root).is_file():
        status_list.publish(course.root, key, revoked_ids=set(store.revoked(course.root)), now=now)
    already = {v.student: current[v.student] for v in verdicts if v.qualifies and v.student in current}
    repaired = repair_pdfs(course, now=now, failed=failed)
    return CertifyReport(verdicts, issued, already, records.sync_records(course, gradebook), failed, repaired)


def repair_pdfs(course: Course, *, now: datetime, failed: dict[str, str] | None = None) -> list[Path]:
    """Draw again the PDF of every current certificate whose PDF is missing or cut short (an older release could
    leave a truncated one that the dashboard then served). The signed JSON is the certificate; the PDF is drawn
    from it, with the verification URL of the base URL it was issued under."""
    from aiml_course.certificates.pdf import is_complete_pdf, write_pdf

    current = set(current_certificates(course, now=now).values())
    repaired = []
    for path, credential in store.issued_credentials(course.root):
        pdf = path.with_suffix(".pdf")
        if credential.get("id") not in current or is_complete_pdf(pdf):
            continue
        achievement = str(credential.get("credentialSubject", {}).get("achievement", {}).get("id", ""))
        base_url = achievement.rsplit("/achievements/", 1)[0] or DEFAULT_BASE_URL
        try:
            write_pdf(credential, pdf, url=verify_url(base_url, credential["id"]))
        except CertificateError as exc:
            if failed is not None:
                failed[subject_identity(credential, "studentId")] = f"its PDF could not be drawn again: {exc}"
            continue
        repaired.append(pdf)
    return repaired


def _issue_one(course: Course, gradebook: Gradebook, verdict: Verdict, *, key: Any, base_url: str, now: datetime,
               valid_days: int | None) -> Issued:
    """Sign one certificate and write its PDF, then its JSON (each atomically), then record it.

    If either file cannot be written (a name the PDF cannot draw, a full disk), neither is kept and its status
    index is given back: no partial certificate is ever left for a later run or the dashboard to serve.
    """
    from aiml_course.certificates.pdf import write_pdf  # matplotlib only when something is issued

    credential_id = f"urn:uuid:{uuid.uuid4()}"
    status = status_list.allocate(course.root, credential_id, base_url=base_url)
    credential = sign(build_credential(course, verdict, issuer=key.public, base_url=base_url, issued_at=now,
                                       valid_days=valid_days, credential_id=credential_id, status=status),
                      key, created=now)
    out_dir = store.issued_dir(course.root)
    stem = f"{_safe(verdict.student)}_{credential_id.rsplit(':', 1)[-1]}"
    json_path, pdf_path = out_dir / f"{stem}.json", out_dir / f"{stem}.pdf"
    try:
        write_pdf(credential, pdf_path, url=verify_url(base_url, credential_id))
        store.write_json(json_path, credential)
    except BaseException:
        pdf_path.unlink(missing_ok=True)
        json_path.unlink(missing_ok=True)
        status_list.release(course.root, credential_id)
        raise
    records.record_issued(gradebook, course=course, credential=credential, parts=verdict.parts,
                          json_path=json_path, pdf_path=pdf_path)
    return Issued(verdict.student, credential_id, json_path, pdf_path)


def _disk_full(exc: CertificateError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, OSError) and cause.errno in (28, 27, 122)  # ENOSPC, EFBIG, EDQUOT


def current_certificates(course: Course, *, now: datetime) -> dict[str, str]:
    """Student → id of a certificate in `issued/` signed by this course, neither revoked nor expired (the newest
    one). A file dropped there without this course's signature counts for nothing."""
    revoked = store.revoked(course.root)
    public = store.issuer_public_key(course.root)
    out: dict[str, str] = {}
    for _path, credential in store.issued_credentials(course.root):
        cid, student = credential.get("id"), subject_identity(credential, "studentId")
        if not isinstance(cid, str) or not student or cid in revoked or _expired(credential, now):
            continue
        if public is None or proof_problems(credential, public):
            continue
        out[student] = cid
    return out


def verify(path: Path, *, course: Course, now: datetime | None = None,
           status_list_file: Path | None = None) -> VerifyResult:
    """Check a certificate file: its signature against this course's issuer key, the revocation list, its dates,
    and its `credentialStatus` bit in the signed status list (`status_list_file`, a copy downloaded from its
    URL, or else this course's own published file)."""
    now = now or datetime.now(UTC)
    try:
        credential = store.read_json(Path(path))
    except CertificateError as exc:
        return VerifyResult(False, [str(exc)])
    if not isinstance(credential, dict):
        return VerifyResult(False, ["not a credential: the file holds no JSON object"])
    cid = credential.get("id") if isinstance(credential.get("id"), str) else ""
    public = store.issuer_public_key(course.root)
    if public is None:
        return VerifyResult(False, [f"no issuer key in {store.certificates_dir(course.root)}: "
                                    "this course has issued no certificates"], cid)
    reasons = _shape_problems(credential) + proof_problems(credential, public)
    entry = store.revoked(course.root).get(cid)
    if entry is not None:
        reasons.append(f"revoked on {entry.get('revoked_at', '?')}: {entry.get('reason', '')}")
    reasons += _date_problems(credential, now)
    notes: list[str] = []
    if "credentialStatus" in credential:
        found, note = _status_reasons(credential, course=course, now=now, status_list_file=status_list_file)
        reasons += [r for r in found if entry is None or not r.startswith("revoked")]
        notes += note
    return VerifyResult(not reasons, reasons, cid, notes)


def _status_reasons(credential: dict[str, Any], *, course: Course, now: datetime,
                    status_list_file: Path | None) -> tuple[list[str], list[str]]:
    """(reasons to reject, notes) from the credential's status list bit."""
    path = status_list_file or status_list.list_path(course.root)
    if not path.is_file():
        return [f"its revocation status cannot be checked: no status list at {path}"], []
    try:
        listed = store.read_json(path)
    except CertificateError as exc:
        return [f"its revocation status cannot be checked: {exc}"], []
    if not isinstance(listed, dict):
        return [f"its revocation status cannot be checked: {path} holds no status list"], []
    check = status_list.check_status(credential, listed, now=now)
    if check.revoked is None:
        return [f"its revocation status cannot be checked: {p}" for p in check.problems], []
    if check.revoked:
        return [f"revoked: bit {check.index} of the status list {listed.get('id')} is set"], []
    return [], []


def revoke(credential_id: str, *, course: Course, reason: str, now: datetime | None = None,
           gradebook: Gradebook | None = None) -> str:
    """Put a certificate issued here on the revocation list, and in the gradebook's table when given one.

    Returns the full id ('urn:uuid:…'). With a gradebook, a certificate it records can be revoked even when its
    file is gone (its holder may still have a copy).
    """
    if not reason.strip():
        raise CertificateError("a revocation needs a reason (the holder and anyone verifying will read it)")
    full = records.full_id(credential_id)
    known = {c.get("id") for _p, c in store.issued_credentials(course.root)}
    if full not in known and (gradebook is None or records.record(gradebook, full) is None):
        where = " or the gradebook" if gradebook is not None else ""
        raise CertificateError(f"no certificate {full} in {store.issued_dir(course.root)}{where}")
    when = now or datetime.now(UTC)
    store.add_revocation(course.root, full, reason=reason.strip(), when=when)
    status_list.publish(course.root, store.issuer_key(course.root), revoked_ids=set(store.revoked(course.root)),
                        now=when)  # the signed list to publish again: anyone can now see the revocation
    if gradebook is not None:
        try:
            records.sync_records(course, gradebook)
        except GradebookError as exc:
            raise GradebookError(f"{full} is on the revocation list (verify rejects it) but the gradebook could not "
                                 f"record it: {exc}; the next `course certificates certify` records it") from exc
    return full


def verify_recorded(credential_id: str, *, course: Course, gradebook: Gradebook,
                    now: datetime | None = None) -> VerifyResult:
    """Check a certificate by id: its file as `verify` does, plus what the gradebook's row knows."""
    row = records.record(gradebook, credential_id)
    if row is None:
        raise CertificateError(f"no certificate {records.full_id(credential_id)} in the gradebook")
    notes = [] if (course.root / row.pdf_path).is_file() else [
        f"its PDF {row.pdf_path} is missing (the signed JSON is the certificate; the PDF only its printout)"]
    path = course.root / row.json_path
    if not path.is_file():
        return VerifyResult(False, [f"recorded in the gradebook for {row.student_id} (issued "
                                    f"{stamp(records.as_utc(row.issued_at))}), but its file {row.json_path} is "
                                    "missing, so it cannot be checked"], row.id, notes)
    result = verify(path, course=course, now=now)
    notes += result.notes
    reasons = list(result.reasons)
    if result.credential_id != row.id:
        reasons.append(f"{row.json_path} holds {result.credential_id or 'no certificate id'}, not {row.id}")
    if row.revoked_at is not None and row.id not in store.revoked(course.root):
        reasons.append(f"revoked in the gradebook on {stamp(records.as_utc(row.revoked_at))}: {row.revoked_reason} "
                       f"(not on {store.REVOKED_FILE}: revoke it again so verifiers without the database see it)")
    return VerifyResult(not reasons, reasons, row.id, notes)


def subject_identity(credential: dict[str, Any], identity_type: str) -> str:
    """The subject's identifier of one type ('studentId', 'name'), or '' if there is none."""
    subject = credential.get("credentialSubject")
    identifiers = subject.get("identifier") if isinstance(subject, dict) else None
    for ident in identifiers if isinstance(identifiers, list) else []:
        if isinstance(ident, dict) and ident.get("identityType") == identity_type:
            return str(ident.get("identityHash", ""))
    return ""


def _identity(kind: str, value: str) -> dict[str, Any]:
    return {"type": "IdentityObject", "identityType": kind, "hashed": False, "identityHash": value}


def _criteria(course: Course) -> str:
    text = (f"At least {percent(course.certificate.min_part_fraction)} % of the autograded points "
            "in every part of the course")
    if course.certificate.min_reviews_done:
        text += f", and at least {course.certificate.min_reviews_done} completed peer reviews"
    return text + "."


def _shape_problems(credential: dict[str, Any]) -> list[str]:
    problems = []
    if credential.get("@context") != CONTEXT:
        problems.append("the @context is not the Verifiable Credentials 2.0 + Open Badges 3.0 one")
    if not isinstance(credential.get("type"), list) or not set(TYPES) <= set(credential["type"]):
        problems.append("not an OpenBadgeCredential")
    if not str(credential.get("id", "")).startswith("urn:uuid:"):
        problems.append("the credential has no urn:uuid id")
    return problems


def _date_problems(credential: dict[str, Any], now: datetime) -> list[str]:
    problems = []
    valid_from = parse_time(credential.get("validFrom"))
    if valid_from is None:
        problems.append("validFrom is missing or not a UTC timestamp")
    elif now < valid_from:
        problems.append(f"not valid before {stamp(valid_from)}")
    if "validUntil" in credential:
        until = parse_time(credential["validUntil"])
        if until is None:
            problems.append("validUntil is not a UTC timestamp")
        elif now >= until:
            problems.append(f"expired on {stamp(until)}")
    return problems


def _expired(credential: dict[str, Any], now: datetime) -> bool:
    until = parse_time(credential.get("validUntil")) if "validUntil" in credential else None
    return until is not None and now >= until


def _safe(name: str) -> str:
    """A student id as a file-name part."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64] or "student"
