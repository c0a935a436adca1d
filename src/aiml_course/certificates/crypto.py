"""The signing primitives of a certificate: JCS canonical JSON, base58btc, Ed25519 keys and did:key names.

Ed25519 comes from the `cryptography` package, or PyNaCl where `cryptography` is missing. The key file is a
PKCS#8 PEM written here (the Ed25519 PKCS#8 encoding is a fixed prefix plus the 32-byte seed), so either
library reads and writes the same file.
"""

from __future__ import annotations

import base64
import json
import math
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiml_course.errors import CertificateError

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
PKCS8_ED25519_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
MULTICODEC_ED25519_PUB = b"\xed\x01"
PEM_LABEL = "PRIVATE KEY"


# ── base58btc ─────────────────────────────────────────────────────────────────────────────────────────────


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58 of `data`; each leading zero byte becomes a '1'."""
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(B58_ALPHABET[rest])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def b58decode(text: str) -> bytes:
    """The bytes behind a base58btc string; a character outside the alphabet is a ValueError."""
    number = 0
    for char in text:
        index = B58_ALPHABET.find(char)
        if index < 0:
            raise ValueError(f"{char!r} is not a base58 character")
        number = number * 58 + index
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


# ── JCS (RFC 8785) ────────────────────────────────────────────────────────────────────────────────────────


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON: keys sorted by UTF-16 code units, no whitespace, ECMAScript numbers, UTF-8.

    Text that is not valid Unicode (a lone surrogate such as "\\ud800") has no UTF-8 form: a CertificateError."""
    try:
        return _jcs(value).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CertificateError("the document holds text that is not valid Unicode (a lone surrogate); "
                               "it cannot be canonicalised or signed") from exc


def _jcs(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return _jcs_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise CertificateError("canonical JSON needs string keys")
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(f"{_jcs(k)}:{_jcs(value[k])}" for k in keys) + "}"
    raise CertificateError(f"canonical JSON cannot hold a {type(value).__name__}")


def _jcs_number(x: int | float) -> str:
    """A number as ECMAScript's Number.prototype.toString writes it (shortest round-trip digits)."""
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        raise CertificateError("canonical JSON has no NaN or infinity")
    if x == 0:
        return "0"
    if 1e-6 <= abs(x) < 1e21:  # plain notation; the shortest digits, zero-padded past them (as ECMAScript)
        digits = Decimal(repr(x))
        return format(digits.to_integral_value() if x.is_integer() else digits, "f")
    mantissa, exponent = repr(x).split("e")
    mantissa = mantissa.removesuffix(".0")
    return f"{mantissa}e{int(exponent):+d}"


# ── Ed25519 ───────────────────────────────────────────────────────────────────────────────────────────────


def crypto_backend() -> str:
    """'cryptography' or 'pynacl': the installed library that signs; a CertificateError when neither is."""
    try:
        import cryptography.hazmat.primitives.asymmetric.ed25519  # noqa: F401
    except ImportError:
        try:
            import nacl.signing  # noqa: F401
        except ImportError:
            raise CertificateError("signing certificates needs the `cryptography` (or PyNaCl) package: "
                                   "pip install cryptography") from None
        return "pynacl"
    return "cryptography"


def ed25519_public(seed: bytes) -> bytes:
    """The 32-byte public key of the 32-byte private seed."""
    if crypto_backend() == "pynacl":
        import nacl.signing

        return bytes(nacl.signing.SigningKey(seed).verify_key)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of `message`."""
    if crypto_backend() == "pynacl":
        import nacl.signing

        return bytes(nacl.signing.SigningKey(seed).sign(message).signature)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `public`'s signature of `message`."""
    if crypto_backend() == "pynacl":
        import nacl.exceptions
        import nacl.signing

        try:
            nacl.signing.VerifyKey(public).verify(message, signature)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
            return False
        return True
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def new_seed() -> bytes:
    """32 random bytes from the operating system: a fresh Ed25519 private key."""
    return os.urandom(32)


# ── keys on disk ──────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class PublicKey:
    """An issuer's Ed25519 public key and its names: did:key, verification method, JWK."""

    raw: bytes

    @property
    def multikey(self) -> str:
        return "z" + b58encode(MULTICODEC_ED25519_PUB + self.raw)

    @property
    def did(self) -> str:
        return f"did:key:{self.multikey}"

    @property
    def verification_method(self) -> str:
        return f"{self.did}#{self.multikey}"

    def jwk(self) -> dict[str, str]:
        """The key as an RFC 8037 JSON Web Key."""
        x = base64.urlsafe_b64encode(self.raw).rstrip(b"=").decode("ascii")
        return {"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA", "use": "sig",
                "kid": self.verification_method}

    @classmethod
    def from_did(cls, did: str) -> PublicKey:
        """The key named by a `did:key:z6Mk…` (Ed25519), as any verifier can read it without our files."""
        body = did.split("#", 1)[0].removeprefix("did:key:")
        if not did.startswith("did:key:z") or not body.startswith("z"):
            raise CertificateError(f"{did!r} is not an Ed25519 did:key")
        try:
            raw = b58decode(body[1:])
        except ValueError as exc:
            raise CertificateError(f"{did!r} is not an Ed25519 did:key") from exc
        if not raw.startswith(MULTICODEC_ED25519_PUB) or len(raw) != 34:
            raise CertificateError(f"{did!r} is not an Ed25519 did:key")
        return cls(raw[2:])

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> PublicKey:
        """Read an Ed25519 JWK; anything else is a CertificateError."""
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
            raise CertificateError("the issuer JWK is not an Ed25519 (OKP) key")
        raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        if len(raw) != 32:
            raise CertificateError("the issuer JWK's key is not 32 bytes")
        return cls(raw)


@dataclass(frozen=True)
class IssuerKey:
    """The course's private signing key (the 32-byte seed) and its public half."""

    seed: bytes
    public: PublicKey

    def sign(self, message: bytes) -> bytes:
        return ed25519_sign(self.seed, message)

    @classmethod
    def from_seed(cls, seed: bytes) -> IssuerKey:
        return cls(seed, PublicKey(ed25519_public(seed)))


def pem_from_seed(seed: bytes) -> str:
    """The PKCS#8 PEM of an Ed25519 seed (the same bytes `cryptography` and OpenSSL write)."""
    body = base64.encodebytes(PKCS8_ED25519_PREFIX + seed).decode("ascii").replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {PEM_LABEL}-----\n" + "\n".join(lines) + f"\n-----END {PEM_LABEL}-----\n"


def seed_from_pem(text: str, *, where: Path) -> bytes:
    """The seed inside an unencrypted Ed25519 PKCS#8 PEM; anything else is a CertificateError naming `where`."""
    lines = [ln.strip() for ln in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != f"-----BEGIN {PEM_LABEL}-----" or lines[-1] != f"-----END {PEM_LABEL}-----":
        raise CertificateError(f"{where}: not an unencrypted PKCS#8 private key (PEM)")
    try:
        der = base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError as exc:
        raise CertificateError(f"{where}: the PEM body is not base64") from exc
    if len(der) != len(PKCS8_ED25519_PREFIX) + 32 or not der.startswith(PKCS8_ED25519_PREFIX):
        raise CertificateError(f"{where}: not an Ed25519 private key")
    return der[len(PKCS8_ED25519_PREFIX):]
