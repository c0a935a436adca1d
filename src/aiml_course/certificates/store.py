"""Where certificates live: `<course root>/var/certificates/` with the issuer key, the revocation list,
`status/` (the signed Bitstring Status List to publish) and `issued/` (one JSON credential and one PDF each).

Every file is written atomically (a temporary file in the same folder, then a rename; the temporary file is
removed whatever happens), so a full disk or a crash leaves the old file or the new one, never a part. Folders
are made 0755 and public files 0644 whatever the umask; the private key is 0600, and a key file other users can
read is refused.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

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
STATUS_DIR = "status"
SCHEMA_VERSION = 1
FOLDER_MODE, PUBLIC_MODE, PRIVATE_MODE = 0o755, 0o644, 0o600


def certificates_dir(root: Path) -> Path:
    """`<course root>/var/certificates`."""
    return root / "var" / "certificates"


def issued_dir(root: Path) -> Path:
    """Where `certify` writes each certificate's JSON and PDF."""
    return certificates_dir(root) / ISSUED_DIR


def status_dir(root: Path) -> Path:
    """Where the signed revocation status list (to publish) and its index live."""
    return certificates_dir(root) / STATUS_DIR


def make_folder(path: Path) -> Path:
    """Create `path` and any missing parent as 0755 whatever the umask (umask 000 would give 0777)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # a parallel run made it a moment ago
        os.chmod(folder, FOLDER_MODE)
    return path


def issuer_key(root: Path) -> IssuerKey:
    """The course's signing key, created on first use (PEM, mode 0600) with its public half written as JWK.

    A 0-byte key file (what an older release left when the disk was full while it wrote the key) cannot have
    signed anything: it is replaced. A key file readable by other users is refused with what to do.
    """
    folder = make_folder(certificates_dir(root))
    path = folder / KEY_FILE
    if path.is_file() and path.stat().st_size == 0:
        path.unlink()
    if not path.exists():
        _create_key(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CertificateError(
            f"{path} is readable by other users (mode {mode:04o}): anyone who copied it can sign certificates in "
            f"this course's name. If nobody did, run `chmod 600 {path}`; otherwise move it aside (a new key is "
            "made; certificates signed with the old one then no longer verify, so issue them again)")
    try:
        key = IssuerKey.from_seed(seed_from_pem(path.read_text(encoding="ascii"), where=path))
    except (OSError, UnicodeDecodeError) as exc:
        raise CertificateError(f"cannot read the issuer key {path}: {exc}") from exc
    jwk_path = folder / JWK_FILE
    if not jwk_path.exists() or read_json(jwk_path) != key.public.jwk():
        write_json(jwk_path, key.public.jwk())
    return key


def _create_key(path: Path) -> None:
    """Write a new key to a 0600 temporary file, then link it into place only if no key is there yet (a
    parallel run may have made one first: its key wins). The key file is never seen half-written."""
    text = pem_from_seed(new_seed())

    def write(fh: BinaryIO) -> None:
        fh.write(text.encode("ascii"))

    tmp = _write_temporary(path, write, PRIVATE_MODE)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links: rename (a parallel first run could then be overwritten)
        if not path.exists():
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def issuer_public_key(root: Path) -> PublicKey | None:
    """The issuer's public key from its JWK (or from the private key if the JWK is gone); None if never made."""
    folder = certificates_dir(root)
    if (folder / JWK_FILE).is_file():
        data = read_json(folder / JWK_FILE)
        if not isinstance(data, dict):
            raise CertificateError(f"{folder / JWK_FILE} is not a JSON Web Key")
        return PublicKey.from_jwk(data)
    if (folder / KEY_FILE).is_file() and (folder / KEY_FILE).stat().st_size > 0:
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
    make_folder(certificates_dir(root))
    write_json(certificates_dir(root) / REVOKED_FILE, {"schema_version": SCHEMA_VERSION, "revoked": entries})


def issued_credentials(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every readable credential JSON in `issued/`, oldest name first (signed or not: callers check)."""
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
    """The JSON in `path`; unreadable or malformed is a CertificateError naming the file.

    Refused too: an object with the same key twice (parsers disagree on which one wins, so what was signed and
    what a reader sees could differ) and text that is not valid Unicode (a lone surrogate such as "\\ud800").
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (OSError, ValueError) as exc:
        raise CertificateError(f"cannot read {path}: {exc}") from exc
    bad = _invalid_text(data)
    if bad is not None:
        raise CertificateError(f"cannot read {path}: it holds text that is not valid Unicode ({bad!r}: a lone "
                               "surrogate)")
    return data


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _invalid_text(value: Any) -> str | None:
    """The first string (key or value) in a JSON value with no UTF-8 form, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
    return None


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (0644): a reader sees the old file or the new one, never half of it."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))


def write_atomically(path: Path, write: Callable[[BinaryIO], Any], mode: int = PUBLIC_MODE) -> None:
    """Run `write` on a temporary file beside `path`, then rename it over `path`; on any failure (a full disk)
    nothing is left behind and the error is a CertificateError naming the file."""
    make_folder(path.parent)
    tmp = _write_temporary(path, write, mode)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_temporary(path: Path, write: Callable[[BinaryIO], Any], mode: int) -> Path:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise CertificateError(f"could not write {path}: {exc.strerror or exc}; nothing was left half-written"
                                   ) from exc
        raise
    return tmp
