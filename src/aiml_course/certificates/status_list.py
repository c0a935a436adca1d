"""Revocation anyone can check: a W3C Bitstring Status List (https://www.w3.org/TR/vc-bitstring-status-list/).

Every certificate carries a `credentialStatus` entry pointing at one bit of a published list:

    {"id": "<list URL>#<index>", "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
     "statusListIndex": "<index>", "statusListCredential": "<list URL>"}

The list is itself a credential (BitstringStatusListCredential) signed with the course's issuer key
(eddsa-jcs-2022), written to `var/certificates/status/revocation.json`: a static file that the dashboard or any
web server publishes at `<list URL>` (`<base-url>/status/revocation.json`, the base URL `certify` was given when
the list was made). Its `encodedList` is "u" + base64url (no padding) of the GZIP-compressed bitstring of
131,072 bits (16 KiB, the specification's minimum, so one list does not reveal how many certificates exist);
bit i is bit 7 - i % 8 of byte i // 8 (the first index is the left-most bit). Indexes are drawn at random (the
specification's advice, so an index tells nothing about the holder) and kept in `status/revocation-index.json`
(credential id → index), so a certificate whose file is lost can still be revoked.

`check_status` is what a verifier runs: it needs only the credential and the list (the issuer's key is read
from its did:key), so a third party can check a certificate with the downloaded list and nothing of ours.
"""

from __future__ import annotations

import base64
import gzip
import secrets
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiml_course.certificates import store
from aiml_course.certificates.crypto import CertificateError, IssuerKey, PublicKey
from aiml_course.certificates.proof import issuer_id, parse_time, proof_problems, sign, stamp

LIST_FILE = "revocation.json"
INDEX_FILE = "revocation-index.json"
LIST_BITS = 131_072                      # 16 KiB: the specification's minimum list length
MAX_LIST_BYTES = 16 * 2**20              # a downloaded list decompressing to more is refused (gzip bomb)
PURPOSE = "revocation"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"


@dataclass(frozen=True)
class StatusCheck:
    """The outcome of checking one credential against a status list: revoked or not, and any problem that
    stops the check from saying either (then `revoked` is None)."""

    revoked: bool | None
    problems: list[str] = field(default_factory=list)
    index: int | None = None


def list_path(root: Path) -> Path:
    """The signed status list to publish: `var/certificates/status/revocation.json`."""
    return store.status_dir(root) / LIST_FILE


def list_url(base_url: str) -> str:
    """Where the list is published for certificates issued with `base_url`."""
    return f"{base_url.rstrip('/')}/status/{LIST_FILE}"


def status_entry(list_id: str, index: int) -> dict[str, str]:
    """A credential's `credentialStatus`: bit `index` of the list at `list_id`."""
    return {"id": f"{list_id}#{index}", "type": "BitstringStatusListEntry", "statusPurpose": PURPOSE,
            "statusListIndex": str(index), "statusListCredential": list_id}


# ── the bitstring ───────────────────────────────────────────────────────────────────────────────────────────


def encode_list(revoked_indexes: set[int], bits: int = LIST_BITS) -> str:
    """The `encodedList` of a bitstring with the given bits set."""
    data = bytearray(bits // 8)
    for index in revoked_indexes:
        data[index // 8] |= 0x80 >> (index % 8)
    compressed = gzip.compress(bytes(data), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_list(encoded: Any) -> bytes:
    """The bitstring behind an `encodedList`; anything malformed or shorter than 16 KiB is a CertificateError."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise CertificateError("the status list's encodedList is not multibase base64url ('u…')")
    try:
        compressed = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(compressed, MAX_LIST_BYTES + 1)
    except (ValueError, zlib.error) as exc:
        raise CertificateError(f"the status list's encodedList cannot be decoded: {exc}") from exc
    if len(data) > MAX_LIST_BYTES:
        raise CertificateError("the status list decompresses to more than 16 MiB: refused")
    if len(data) * 8 < LIST_BITS:
        raise CertificateError(f"the status list holds {len(data) * 8} bits, fewer than the {LIST_BITS} required")
    return data


def bit(data: bytes, index: int) -> bool:
    return bool(data[index // 8] & (0x80 >> (index % 8)))


# ── issuing: indexes and the signed list ───────────────────────────────────────────────────────────────────


def read_index(root: Path) -> dict[str, Any]:
    """{"list": list URL, "indexes": {credential id: index}}; empty until the first certificate."""
    path = store.status_dir(root) / INDEX_FILE
    if not path.is_file():
        return {"list": "", "indexes": {}}
    data = store.read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("indexes"), dict):
        raise CertificateError(f"{path} is malformed: expected {{'list': URL, 'indexes': {{id: index}}}}")
    return data


def allocate(root: Path, credential_id: str, *, base_url: str) -> dict[str, str]:
    """Give `credential_id` a random unused bit of the course's list (made with `base_url` on first use) and
    return its `credentialStatus`. The index is saved before the certificate is written."""
    data = read_index(root)
    list_id = data["list"] or list_url(base_url)
    used = set(data["indexes"].values())
    if len(used) >= LIST_BITS:
        raise CertificateError(f"the status list is full ({LIST_BITS} certificates)")
    index = data["indexes"].get(credential_id)
    while index is None:
        candidate = secrets.randbelow(LIST_BITS)
        index = None if candidate in used else candidate
    store.write_json(store.status_dir(root) / INDEX_FILE,
                     {"list": list_id, "indexes": {**data["indexes"], credential_id: index}})
    return status_entry(list_id, index)


def release(root: Path, credential_id: str) -> None:
    """Forget an index allocated to a certificate that was then not issued (its files could not be written)."""
    data = read_index(root)
    if credential_id in data["indexes"]:
        indexes = {k: v for k, v in data["indexes"].items() if k != credential_id}
        store.write_json(store.status_dir(root) / INDEX_FILE, {"list": data["list"], "indexes": indexes})


def publish(root: Path, key: IssuerKey, *, revoked_ids: set[str], now: datetime) -> Path | None:
    """(Re)write the signed status list with the bit of every revoked certificate set; None before the first
    certificate with a status entry. Publish the file at its `id` (see docs/certificates.md)."""
    data = read_index(root)
    if not data["list"]:
        return None
    list_id = data["list"]
    indexes = {int(data["indexes"][cid]) for cid in revoked_ids if cid in data["indexes"]}
    document = {
        "@context": [VC_CONTEXT],
        "id": list_id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": {"id": key.public.did},
        "validFrom": stamp(now),
        "credentialSubject": {"id": f"{list_id}#list", "type": "BitstringStatusList", "statusPurpose": PURPOSE,
                              "encodedList": encode_list(indexes)},
    }
    path = list_path(root)
    store.write_json(path, sign(document, key, created=now))
    return path


# ── verifying ───────────────────────────────────────────────────────────────────────────────────────────────


def check_status(credential: dict[str, Any], status_list: dict[str, Any], *, now: datetime) -> StatusCheck:
    """Is `credential` revoked according to `status_list` (a BitstringStatusListCredential)?

    Follows the specification's validation: the entry is well formed, the list is the one it names, the list
    is signed by the credential's own issuer (its did:key) and currently valid, the purposes match; then the bit
    is read. Needs nothing but the two documents.
    """
    entry = credential.get("credentialStatus")
    entries = entry if isinstance(entry, list) else [entry]
    mine = [e for e in entries if isinstance(e, dict) and e.get("type") == "BitstringStatusListEntry"
            and e.get("statusPurpose") == PURPOSE]
    if not mine:
        return StatusCheck(None, ["the credential has no BitstringStatusListEntry for revocation"])
    entry = mine[0]
    raw_index = entry.get("statusListIndex")
    if not isinstance(raw_index, str) or not raw_index.isdigit():
        return StatusCheck(None, ["its statusListIndex is not a whole number in a string"])
    index = int(raw_index)
    problems = []
    if status_list.get("id") != entry.get("statusListCredential"):
        problems.append(f"the status list given is {status_list.get('id')!r}, not the one the certificate names "
                        f"({entry.get('statusListCredential')!r})")
    types = status_list.get("type")
    if "BitstringStatusListCredential" not in (types if isinstance(types, list) else [types]):
        problems.append("the status list is not a BitstringStatusListCredential")
    subject = status_list.get("credentialSubject")
    subject = subject if isinstance(subject, dict) else {}
    if subject.get("statusPurpose") != PURPOSE:
        problems.append("the status list is not a revocation list")
    problems += _list_signature_problems(credential, status_list)
    valid_from, valid_until = parse_time(status_list.get("validFrom")), status_list.get("validUntil")
    if valid_from is None or now < valid_from:
        problems.append("the status list is not valid yet (or has no validFrom)")
    if valid_until is not None and (parse_time(valid_until) is None or now >= parse_time(valid_until)):
        problems.append("the status list has expired: fetch a fresh copy")
    if problems:
        return StatusCheck(None, problems, index)
    try:
        data = decode_list(subject.get("encodedList"))
    except CertificateError as exc:
        return StatusCheck(None, [str(exc)], index)
    if index >= len(data) * 8:
        return StatusCheck(None, [f"statusListIndex {index} is outside the list ({len(data) * 8} bits)"], index)
    return StatusCheck(bit(data, index), [], index)


def _list_signature_problems(credential: dict[str, Any], status_list: dict[str, Any]) -> list[str]:
    """The list must be signed by the key of the certificate's own issuer, read from its did:key."""
    issuer = issuer_id(credential)
    if issuer_id(status_list) != issuer:
        return ["the status list was issued by someone else than the certificate"]
    try:
        public = PublicKey.from_did(issuer)
    except CertificateError as exc:
        return [f"the issuer's key cannot be read from its id: {exc}"]
    return [f"status list: {p}" for p in proof_problems(status_list, public)]
