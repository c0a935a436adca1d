"""eddsa-jcs-2022 Data Integrity proofs: sign a JSON document, and say everything wrong with a signed one.

The Ed25519 signature covers SHA-256(JCS(proof without proofValue, carrying the document's @context)) ‖
SHA-256(JCS(document without proof)), so neither the document nor the proof's own fields (key, date, purpose)
can change without breaking it. Used for the certificates and for the signed revocation status list.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from aiml_course.certificates.crypto import (
    IssuerKey,
    PublicKey,
    b58decode,
    b58encode,
    canonical_json,
    ed25519_verify,
)

CRYPTOSUITE = "eddsa-jcs-2022"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def stamp(when: datetime) -> str:
    """An aware datetime as a credential's UTC timestamp."""
    return when.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(value: Any) -> datetime | None:
    """A credential's UTC timestamp as an aware datetime; None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def sign(document: dict[str, Any], key: IssuerKey, *, created: datetime) -> dict[str, Any]:
    """The document with an eddsa-jcs-2022 DataIntegrityProof added (any earlier proof replaced)."""
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    options = {"type": "DataIntegrityProof", "cryptosuite": CRYPTOSUITE, "created": stamp(created),
               "verificationMethod": key.public.verification_method, "proofPurpose": "assertionMethod",
               "@context": unsigned["@context"]}
    signature = key.sign(hash_data(unsigned, options))
    return {**unsigned, "proof": {**options, "proofValue": "z" + b58encode(signature)}}


def hash_data(unsigned: dict[str, Any], options: dict[str, Any]) -> bytes:
    """eddsa-jcs-2022's signed bytes: hash of the canonical proof options, then of the canonical document."""
    return hashlib.sha256(canonical_json(options)).digest() + hashlib.sha256(canonical_json(unsigned)).digest()


def issuer_id(document: dict[str, Any]) -> str:
    """The issuer's id, whether `issuer` is an object or a bare URL."""
    issuer = document.get("issuer")
    return str(issuer.get("id", "")) if isinstance(issuer, dict) else issuer if isinstance(issuer, str) else ""


def proof_problems(document: dict[str, Any], public: PublicKey) -> list[str]:
    """Everything wrong with the proof; [] when `public` signed exactly this content."""
    proof = document.get("proof")
    if not isinstance(proof, dict):
        return ["no proof: it is not signed"]
    problems = []
    if issuer_id(document) != public.did:
        problems.append("the issuer is not this course's issuer")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        return [*problems, f"the proof is not a DataIntegrityProof with cryptosuite {CRYPTOSUITE}"]
    if proof.get("proofPurpose") != "assertionMethod":
        problems.append("the proof's purpose is not assertionMethod")
    if "@context" in proof and proof["@context"] != document.get("@context"):
        problems.append("the proof's @context differs from the document's")
    if proof.get("verificationMethod") != public.verification_method:
        problems.append("signed with a key that is not this course's issuer key")
    value = proof.get("proofValue")
    try:
        signature = b58decode(value[1:]) if isinstance(value, str) and value.startswith("z") else b""
    except ValueError:
        signature = b""
    if len(signature) != 64:
        return [*problems, "the proofValue is not a base58btc Ed25519 signature"]
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if not ed25519_verify(public.raw, hash_data(unsigned, options), signature):
        problems.append("the signature does not match: it was changed after signing, or signed by another key")
    return problems
