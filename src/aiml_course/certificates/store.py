"""Where certificates live: `<course root>/var/certificates/` with the issuer key, the revocation list and
`issued/` (one JSON credential and one PDF per certificate)."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from aiml_course.certificates.crypto import (
    CertificateError,
    IssuerKey,
    PublicKey,
    new_seed,
    pem_from_seed,
    seed_from_pem,
)

KEY_FILE = "issuer_key.pem"
JWK_FILE = "issuer_key.jwk.json"
REVOKED_FILE = "revoked.json"
ISSUED_DIR = "issued"
SCHEMA_VERSION = 1


def certificates_dir(root: Path) -> Path:
    """`<course root>/var/certificates`."""
    return root / "var" / "certificates"


def issued_dir(root: Path) -> Path:
    """Where `certify` writes each certificate's JSON and PDF."""
    return certificates_dir(root) / ISSUED_DIR


def issuer_key(root: Path) -> IssuerKey:
    """The course's signing key, created on first use (PEM, mode 0600) with its public half written as JWK."""
    folder = certificates_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made earlier, or by a parallel run a moment ago: read it
        key = IssuerKey.from_seed(seed_from_pem(path.read_text(encoding="ascii"), where=path))
    else:
        seed = new_seed()
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(pem_from_seed(seed))
        key = IssuerKey.from_seed(seed)
    jwk_path = folder / JWK_FILE
    if not jwk_path.exists() or read_json(jwk_path) != key.public.jwk():
        write_json(jwk_path, key.public.jwk())
    return key


def issuer_public_key(root: Path) -> PublicKey | None:
    """The issuer's public key from its JWK (or from the private key if the JWK is gone); None if never made."""
    folder = certificates_dir(root)
    if (folder / JWK_FILE).is_file():
        data = read_json(folder / JWK_FILE)
        if not isinstance(data, dict):
            raise CertificateError(f"{folder / JWK_FILE} is not a JSON Web Key")
        return PublicKey.from_jwk(data)
    if (folder / KEY_FILE).is_file():
        return issuer_key(root).public
    return None


def revoked(root: Path) -> dict[str, dict[str, str]]:
    """Revoked certificate id → {"reason", "revoked_at"}, from `var/certificates/revoked.json`."""
    path = certificates_dir(root) / REVOKED_FILE
    if not path.is_file():
        return {}
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("revoked"), dict):
        raise CertificateError(f"{path} is malformed: expected {{'revoked': {{id: {{reason, revoked_at}}}}}}")
    return data["revoked"]


def add_revocation(root: Path, credential_id: str, *, reason: str, when: datetime) -> None:
    """Put `credential_id` on the revocation list (a second revocation replaces the reason)."""
    entries = revoked(root)
    entries[credential_id] = {"reason": reason, "revoked_at": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    certificates_dir(root).mkdir(parents=True, exist_ok=True)
    write_json(certificates_dir(root) / REVOKED_FILE, {"schema_version": SCHEMA_VERSION, "revoked": entries})


def issued_credentials(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every readable credential JSON in `issued/`, oldest name first."""
    out = []
    for path in sorted(issued_dir(root).glob("*.json")):
        try:
            data = read_json(path)
        except CertificateError:
            continue
        if isinstance(data, dict):
            out.append((path, data))
    return out


def read_json(path: Path) -> Any:
    """The JSON in `path`; unreadable or malformed is a CertificateError naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CertificateError(f"cannot read {path}: {exc}") from exc


def write_json(path: Path, data: Any) -> None:
    """Write atomically: a reader sees the old file or the new one, never half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    os.chmod(tmp, 0o644)  # public data; only the private key is 0600
    os.replace(tmp, path)
