"""Certificates of completion: who qualifies (eligibility), signed Open Badges 3.0 credentials with a PDF each,
verification and revocation, and the `certificates` CLI group.

Files, under `<course root>/var/certificates/`: `issuer_key.pem` (Ed25519, mode 0600), `issuer_key.jwk.json`
(its public half), `revoked.json`, `status/revocation.json` (the signed W3C Bitstring Status List every
certificate's `credentialStatus` points at: publish it, see docs/certificates.md) with its private index
`status/revocation-index.json`, and `issued/<student>_<uuid>.json|.pdf`. The gradebook records each one in
its `certificates` table (records.py) for the dashboard (`certificate_status`), the CSV export and `verify ID`.
"""

from __future__ import annotations

from aiml_course.certificates.cli import certificates_cli
from aiml_course.certificates.credential import (
    CertifyReport,
    Issued,
    VerifyResult,
    build_credential,
    issue_certificates,
    revoke,
    sign,
    verify,
    verify_recorded,
    verify_url,
)
from aiml_course.certificates.crypto import CertificateError, b58decode, b58encode, canonical_json
from aiml_course.certificates.eligibility import Verdict, eligibility
from aiml_course.certificates.records import (
    CertificateRecord,
    SyncReport,
    certificate_status,
    current_certificate_ids,
    sync_records,
)
from aiml_course.certificates.status_list import StatusCheck, check_status
from aiml_course.certificates.store import issuer_key

__all__ = [
    "CertificateError",
    "CertificateRecord",
    "CertifyReport",
    "Issued",
    "StatusCheck",
    "SyncReport",
    "Verdict",
    "VerifyResult",
    "b58decode",
    "b58encode",
    "build_credential",
    "canonical_json",
    "certificate_status",
    "certificates_cli",
    "check_status",
    "current_certificate_ids",
    "eligibility",
    "issue_certificates",
    "issuer_key",
    "revoke",
    "sign",
    "sync_records",
    "verify",
    "verify_recorded",
    "verify_url",
]
