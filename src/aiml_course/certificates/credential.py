"""Certificates as Open Badges 3.0 / W3C Verifiable Credentials, signed with an eddsa-jcs-2022 Data Integrity
proof: issue them for qualifying students, verify one, revoke one.

The proof follows the W3C eddsa-jcs-2022 cryptosuite (it reproduces the specification's test vector byte for
byte): the Ed25519 signature covers SHA-256(JCS(proof without proofValue, carrying the document's @context)) ‖
SHA-256(JCS(credential without proof)), so neither the credential nor the proof's own fields (key, date,
purpose) can change without breaking it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiml_course.certificates import records, store
from aiml_course.certificates.crypto import (
    CertificateError,
    IssuerKey,
    PublicKey,
    b58decode,
    b58encode,
    canonical_json,
    ed25519_verify,
)
from aiml_course.certificates.eligibility import Verdict, eligibility, percent
from aiml_course.config import Course
from aiml_course.errors import GradebookError
from aiml_course.gradebook import Gradebook

CONTEXT = ["https://www.w3.org/ns/credentials/v2",
           "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
CRYPTOSUITE = "eddsa-jcs-2022"
DEFAULT_BASE_URL = "https://certificates.example.org"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


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


def stamp(when: datetime) -> str:
    """An aware datetime as the credential's UTC timestamp."""
    return when.astimezone(UTC).strftime(TIME_FORMAT)


def verify_url(base_url: str, credential_id: str) -> str:
    """Where a reader checks a certificate: `<base_url>/verify/<id>`."""
    return f"{base_url.rstrip('/')}/verify/{credential_id}"


def build_credential(course: Course, verdict: Verdict, *, issuer: PublicKey, base_url: str,
                     issued_at: datetime, valid_days: int | None = None,
                     credential_id: str | None = None) -> dict[str, Any]:
    """The unsigned Open Badges 3.0 credential for one qualifying student."""
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


def sign(credential: dict[str, Any], key: IssuerKey, *, created: datetime) -> dict[str, Any]:
    """The credential with an eddsa-jcs-2022 DataIntegrityProof added."""
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    options = {"type": "DataIntegrityProof", "cryptosuite": CRYPTOSUITE, "created": stamp(created),
               "verificationMethod": key.public.verification_method, "proofPurpose": "assertionMethod",
               "@context": unsigned["@context"]}
    signature = key.sign(_hash_data(unsigned, options))
    return {**unsigned, "proof": {**options, "proofValue": "z" + b58encode(signature)}}


def issue_certificates(course: Course, gradebook: Gradebook, *, base_url: str = DEFAULT_BASE_URL,
                       valid_days: int | None = None, now: datetime | None = None) -> CertifyReport:
    """Sign a credential and render its PDF for each qualifying student without a current certificate.

    Each certificate is recorded in the gradebook's `certificates` table as soon as its files are written; then
    the table is brought up to the files (`records.sync_records`).
    """
    from aiml_course.certificates.pdf import write_pdf  # matplotlib only when something is issued

    now = now or datetime.now(UTC)
    verdicts = eligibility(course, gradebook)
    current = current_certificates(course, now=now)
    key = store.issuer_key(course.root)
    out_dir = store.issued_dir(course.root)
    out_dir.mkdir(parents=True, exist_ok=True)
    issued = []
    for verdict in verdicts:
        if not verdict.qualifies or verdict.student in current:
            continue
        credential = sign(build_credential(course, verdict, issuer=key.public, base_url=base_url, issued_at=now,
                                           valid_days=valid_days), key, created=now)
        stem = f"{_safe(verdict.student)}_{credential['id'].rsplit(':', 1)[-1]}"
        json_path, pdf_path = out_dir / f"{stem}.json", out_dir / f"{stem}.pdf"
        store.write_json(json_path, credential)
        write_pdf(credential, pdf_path, url=verify_url(base_url, credential["id"]))
        records.record_issued(gradebook, course=course, credential=credential, parts=verdict.parts,
                              json_path=json_path, pdf_path=pdf_path)
        issued.append(Issued(verdict.student, credential["id"], json_path, pdf_path))
    already = {v.student: current[v.student] for v in verdicts if v.qualifies and v.student in current}
    return CertifyReport(verdicts, issued, already, records.sync_records(course, gradebook))


def current_certificates(course: Course, *, now: datetime) -> dict[str, str]:
    """Student → id of a certificate in `issued/` that is neither revoked nor expired (the newest one)."""
    revoked = store.revoked(course.root)
    out: dict[str, str] = {}
    for _path, credential in store.issued_credentials(course.root):
        cid, student = credential.get("id"), subject_identity(credential, "studentId")
        if not isinstance(cid, str) or not student or cid in revoked or _expired(credential, now):
            continue
        out[student] = cid
    return out


def verify(path: Path, *, course: Course, now: datetime | None = None) -> VerifyResult:
    """Check a certificate file: its signature against this course's issuer key, the revocation list, its dates."""
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
    reasons = _shape_problems(credential) + _proof_problems(credential, public)
    entry = store.revoked(course.root).get(cid)
    if entry is not None:
        reasons.append(f"revoked on {entry.get('revoked_at', '?')}: {entry.get('reason', '')}")
    reasons += _date_problems(credential, now)
    return VerifyResult(not reasons, reasons, cid)


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
    store.add_revocation(course.root, full, reason=reason.strip(), when=now or datetime.now(UTC))
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


def _hash_data(unsigned: dict[str, Any], options: dict[str, Any]) -> bytes:
    """eddsa-jcs-2022's signed bytes: hash of the canonical proof options, then of the canonical document."""
    return hashlib.sha256(canonical_json(options)).digest() + hashlib.sha256(canonical_json(unsigned)).digest()


def _shape_problems(credential: dict[str, Any]) -> list[str]:
    problems = []
    if credential.get("@context") != CONTEXT:
        problems.append("the @context is not the Verifiable Credentials 2.0 + Open Badges 3.0 one")
    if not isinstance(credential.get("type"), list) or not set(TYPES) <= set(credential["type"]):
        problems.append("not an OpenBadgeCredential")
    if not str(credential.get("id", "")).startswith("urn:uuid:"):
        problems.append("the credential has no urn:uuid id")
    return problems


def _proof_problems(credential: dict[str, Any], public: PublicKey) -> list[str]:
    """Everything wrong with the proof; [] when this course's issuer key signed exactly this content."""
    proof = credential.get("proof")
    if not isinstance(proof, dict):
        return ["no proof: the certificate is not signed"]
    issuer = credential.get("issuer")
    problems = []
    if not isinstance(issuer, dict) or issuer.get("id") != public.did:
        problems.append("the issuer is not this course's issuer")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        return [*problems, f"the proof is not a DataIntegrityProof with cryptosuite {CRYPTOSUITE}"]
    if proof.get("proofPurpose") != "assertionMethod":
        problems.append("the proof's purpose is not assertionMethod")
    if "@context" in proof and proof["@context"] != credential.get("@context"):
        problems.append("the proof's @context differs from the credential's")
    if proof.get("verificationMethod") != public.verification_method:
        problems.append("signed with a key that is not this course's issuer key")
    value = proof.get("proofValue")
    try:
        signature = b58decode(value[1:]) if isinstance(value, str) and value.startswith("z") else b""
    except ValueError:
        signature = b""
    if len(signature) != 64:
        return [*problems, "the proofValue is not a base58btc Ed25519 signature"]
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if not ed25519_verify(public.raw, _hash_data(unsigned, options), signature):
        problems.append("the signature does not match: the certificate was changed after signing, "
                        "or signed by another key")
    return problems


def _date_problems(credential: dict[str, Any], now: datetime) -> list[str]:
    problems = []
    valid_from = _parse_time(credential.get("validFrom"))
    if valid_from is None:
        problems.append("validFrom is missing or not a UTC timestamp")
    elif now < valid_from:
        problems.append(f"not valid before {stamp(valid_from)}")
    if "validUntil" in credential:
        until = _parse_time(credential["validUntil"])
        if until is None:
            problems.append("validUntil is not a UTC timestamp")
        elif now >= until:
            problems.append(f"expired on {stamp(until)}")
    return problems


def _expired(credential: dict[str, Any], now: datetime) -> bool:
    until = _parse_time(credential.get("validUntil")) if "validUntil" in credential else None
    return until is not None and now >= until


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _safe(name: str) -> str:
    """A student id as a file-name part."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64] or "student"
