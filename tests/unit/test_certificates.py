"""Certificates: eligibility from the gradebook, signed Open Badges 3.0 credentials, tamper detection,
revocation, expiry, the PDF and the CLI — on a temporary copy of the mini course and a real SQLite gradebook."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import re
import shutil
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from aiml_course.certificates import (
    CertificateError,
    CertifyReport,
    b58decode,
    b58encode,
    canonical_json,
    certificates_cli,
    eligibility,
    issue_certificates,
    revoke,
    sign,
    verify,
)
from aiml_course.certificates.crypto import IssuerKey
from aiml_course.certificates.store import certificates_dir, issued_dir
from aiml_course.config import CertificatePolicy, Course, Part
from aiml_course.gradebook import Gradebook, default_url
from aiml_course.grading.engine import CaseResult, NotebookGrade

PART = "part-01-mini"
NOTEBOOK = "1.1-mini"             # bundle points: q1 4, q2 2, quiz 2 → 8
NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
BASE = "https://aiml.example.edu"


def _record(gb: Gradebook, student: str, q1: float, q2: float, quiz: float, *, name: str = "",
            when: datetime = datetime(2026, 1, 9, tzinfo=UTC), extra: tuple[CaseResult, ...] = ()) -> None:
    gb.ensure_student(student, name=name)
    grade = NotebookGrade(NOTEBOOK, cases=[CaseResult("c1", "q1", False, q1, 4, ""),
                                           CaseResult("c2", "q2", True, q2, 2, ""),
                                           CaseResult("c3", "quiz", False, quiz, 2, ""), *extra])
    gb.record(student, PART, grade, content_sha256=f"{student}-{q1}-{q2}-{quiz}", submitted_at=when)


@pytest.fixture
def gradebook(mini_course: Course) -> Gradebook:
    """ann 87 % (after a weak first try), bob 61 %, dora exactly 70 %, eve 69.9 %, carl nothing, zed inactive."""
    gb = Gradebook(default_url(mini_course.root))
    _record(gb, "ann", 1, 0, 0, name="Ann Lovelace", when=datetime(2026, 1, 5, tzinfo=UTC))
    _record(gb, "ann", 4, 2, 1, name="Ann Lovelace")
    _record(gb, "bob", 3, 1, 0.9)
    _record(gb, "dora", 4, 1.6, 0, name="Dóra Ádám")
    _record(gb, "eve", 4, 1.59, 0)
    gb.ensure_student("carl")
    _record(gb, "zed", 4, 2, 2)
    with gb.session() as s:
        s.execute(text("UPDATE students SET active = 0 WHERE id = 'zed'"))
    return gb


@pytest.fixture
def issued(mini_course: Course, gradebook: Gradebook) -> CertifyReport:
    return issue_certificates(mini_course, gradebook, base_url=BASE, valid_days=30, now=NOW)


def _cred(report: CertifyReport, student: str) -> tuple[Path, dict[str, Any]]:
    item = next(i for i in report.issued if i.student == student)
    return item.json_path, json.loads(item.json_path.read_text(encoding="utf-8"))


# ── eligibility ───────────────────────────────────────────────────────────────────────────────────────────


def test_eligibility_gives_each_active_student_a_verdict_with_what_is_missing(mini_course: Course,
                                                                             gradebook: Gradebook) -> None:
    """Are fractions from the latest submission, the 70 % bar inclusive, and the shortfalls said in words?"""
    verdicts = {v.student: v for v in eligibility(mini_course, gradebook)}
    assert sorted(verdicts) == ["ann", "bob", "carl", "dora", "eve"]          # zed is inactive
    assert verdicts["ann"].qualifies and verdicts["ann"].missing == []
    assert verdicts["ann"].parts == {PART: pytest.approx(0.875)}              # the later, better submission
    assert verdicts["ann"].name == "Ann Lovelace" and verdicts["carl"].name == "carl"
    assert verdicts["dora"].qualifies                                        # exactly 70 % is enough
    assert not verdicts["bob"].qualifies
    assert verdicts["bob"].missing == [f"Part {PART}: 61 % of the points, needs 70 %"]
    assert verdicts["eve"].missing == [f"Part {PART}: 69 % of the points, needs 70 %"]  # 69.9 never reads 70
    assert verdicts["carl"].missing == [f"Part {PART}: 0 % of the points, needs 70 %"]


def test_points_per_question_are_capped_at_the_bundle_and_unknown_questions_ignored(
        mini_course: Course, gradebook: Gradebook) -> None:
    """Can forged extra points on one question or a question the bundle lacks lift a student over the bar?"""
    _record(gradebook, "mal", 40, 0, 0, extra=(CaseResult("c9", "q9", False, 99, 99, ""),))
    verdict = next(v for v in eligibility(mini_course, gradebook) if v.student == "mal")
    assert verdict.parts == {PART: pytest.approx(0.5)}
    assert not verdict.qualifies


def test_a_part_without_bundles_is_skipped(mini_course: Course, gradebook: Gradebook) -> None:
    """Is a declared part with nothing in autograder/ left out, and no bundles at all a stated reason?"""
    later = Part("part-02-later", title="Later", due=datetime(2026, 3, 1, tzinfo=UTC))
    course = dataclasses.replace(mini_course, parts=(*mini_course.parts, later))
    ann = next(v for v in eligibility(course, gradebook) if v.student == "ann")
    assert ann.qualifies and list(ann.parts) == [PART]
    shutil.rmtree(mini_course.autograder_dir / PART)
    ann = next(v for v in eligibility(course, gradebook) if v.student == "ann")
    assert not ann.qualifies and ann.parts == {}
    assert ann.missing == ["no part has grading bundles yet (run `course build`)"]


def test_peer_reviews_count_rows_of_a_peer_reviews_table(mini_course: Course, gradebook: Gradebook) -> None:
    """Without stored reviews every student has done 0; with some, each reviewer's rows of a pair still assigned
    count (after a re-assignment that drops a pair, its review no longer counts)."""
    from aiml_course.peer_review.store import StoredReview, replace_pairs, store_reviews

    pairs = {"ann": ["bob", "dora"], "dora": ["ann"], "bob": ["ann"]}
    replace_pairs(gradebook, PART, pairs, {a: f"author-{a}" for a in ("ann", "bob", "dora")}, seed=0)

    course = dataclasses.replace(mini_course, certificate=CertificatePolicy(min_part_fraction=0.7,
                                                                            min_reviews_done=2))
    ann = next(v for v in eligibility(course, gradebook) if v.student == "ann")
    assert ann.missing == ["Peer reviews: 0 done, needs 2"]
    store_reviews(gradebook, [StoredReview(PART, reviewer, author, f"author-{author}", {"clarity": 3}, 3,
                                           "Clear enough, and the plots help a lot.", NOW)
                              for reviewer, author in (("ann", "bob"), ("ann", "dora"), ("dora", "ann"),
                                                       ("bob", "ann"))])
    verdicts = {v.student: v for v in eligibility(course, gradebook)}
    assert verdicts["ann"].qualifies and verdicts["ann"].reviews_done == 2
    assert verdicts["dora"].missing == ["Peer reviews: 1 done, needs 2"]
    assert verdicts["bob"].missing == [f"Part {PART}: 61 % of the points, needs 70 %",
                                       "Peer reviews: 1 done, needs 2"]
    replace_pairs(gradebook, PART, {"ann": ["bob"], "dora": ["ann"], "bob": ["ann"]},
                  {a: f"author-{a}" for a in ("ann", "bob", "dora")}, seed=1)  # ann no longer reviews dora
    verdicts = {v.student: v for v in eligibility(course, gradebook)}
    assert verdicts["ann"].reviews_done == 1 and not verdicts["ann"].qualifies


# ── issuing and verifying ─────────────────────────────────────────────────────────────────────────────────


def test_issue_writes_signed_open_badges_credentials_that_verify(mini_course: Course,
                                                                 issued: CertifyReport) -> None:
    """Does each qualifying student get an OB 3.0 credential with a valid eddsa-jcs-2022 proof?"""
    assert [i.student for i in issued.issued] == ["ann", "dora"]
    path, cred = _cred(issued, "ann")
    assert cred["@context"] == ["https://www.w3.org/ns/credentials/v2",
                                "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert cred["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", cred["id"])
    assert cred["issuer"]["id"].startswith("did:key:z6Mk") and cred["issuer"]["type"] == ["Profile"]
    assert (cred["validFrom"], cred["validUntil"]) == ("2026-02-01T12:00:00Z", "2026-03-03T12:00:00Z")
    subject = cred["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert {i["identityType"]: i["identityHash"] for i in subject["identifier"]} == {
        "studentId": "ann", "name": "Ann Lovelace"}
    assert subject["achievement"]["name"] == mini_course.title
    assert "70 %" in subject["achievement"]["criteria"]["narrative"]
    assert [r["value"] for r in subject["result"]] == ["87"]
    proof = cred["proof"]
    assert (proof["type"], proof["cryptosuite"]) == ("DataIntegrityProof", "eddsa-jcs-2022")
    assert proof["proofValue"].startswith("z") and len(b58decode(proof["proofValue"][1:])) == 64
    result = verify(path, course=mini_course, now=NOW + timedelta(days=1))
    assert result.valid and result.reasons == [] and result.credential_id == cred["id"]


def test_the_issuer_key_is_private_and_its_public_half_is_a_jwk(mini_course: Course,
                                                              issued: CertifyReport) -> None:
    """Is the key file mode 0600, a PKCS#8 PEM that `cryptography` reads, matching the JWK and the did:key?"""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

    folder = certificates_dir(mini_course.root)
    assert stat.S_IMODE((folder / "issuer_key.pem").stat().st_mode) == 0o600
    jwk = json.loads((folder / "issuer_key.jwk.json").read_text())
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519") and "d" not in jwk
    key = load_pem_private_key((folder / "issuer_key.pem").read_bytes(), password=None)
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == jwk["x"]
    _path, cred = _cred(issued, "ann")
    assert b58decode(cred["issuer"]["id"].removeprefix("did:key:z")) == b"\xed\x01" + raw


def _set_name(cred: dict[str, Any], _other: dict[str, Any]) -> None:
    cred["credentialSubject"]["identifier"][1]["identityHash"] = "Mallory"


def _set_score(cred: dict[str, Any], _other: dict[str, Any]) -> None:
    cred["credentialSubject"]["result"][0]["value"] = "100"


def _extend(cred: dict[str, Any], _other: dict[str, Any]) -> None:
    cred["validUntil"] = "2099-01-01T00:00:00Z"


def _swap_proof(cred: dict[str, Any], other: dict[str, Any]) -> None:
    cred["proof"] = other["proof"]


def _drop_proof(cred: dict[str, Any], _other: dict[str, Any]) -> None:
    del cred["proof"]


def _backdate_proof(cred: dict[str, Any], _other: dict[str, Any]) -> None:
    cred["proof"]["created"] = "2020-01-01T00:00:00Z"


def _resign_with_another_key(cred: dict[str, Any], _other: dict[str, Any]) -> None:
    cred["credentialSubject"]["result"][0]["value"] = "100"
    cred.update(sign(cred, IssuerKey.from_seed(bytes(range(32))), created=NOW))


def _resign_with_another_key_claiming_ours(cred: dict[str, Any], other: dict[str, Any]) -> None:
    _resign_with_another_key(cred, other)
    cred["proof"]["verificationMethod"] = other["proof"]["verificationMethod"]


TAMPERING: dict[str, tuple[Callable[[dict[str, Any], dict[str, Any]], None], str]] = {
    "changed name": (_set_name, "signature does not match"),
    "changed score": (_set_score, "signature does not match"),
    "changed validUntil": (_extend, "signature does not match"),
    "proof swapped from another certificate": (_swap_proof, "signature does not match"),
    "removed proof": (_drop_proof, "no proof"),
    "changed proof date": (_backdate_proof, "signature does not match"),
    "signed by another key": (_resign_with_another_key, "not this course's issuer key"),
    "another key posing as ours": (_resign_with_another_key_claiming_ours, "signature does not match"),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampered_certificates_fail_verification(mini_course: Course, issued: CertifyReport, tmp_path: Path,
                                                 kind: str) -> None:
    """Does each kind of change to a signed certificate make it invalid, with a reason that says so?"""
    tamper, reason = TAMPERING[kind]
    _path, cred = _cred(issued, "ann")
    _other_path, other = _cred(issued, "dora")
    untouched = tmp_path / "untouched.json"
    untouched.write_text(json.dumps(cred))
    assert verify(untouched, course=mini_course, now=NOW).valid      # the copy itself is fine
    changed = copy.deepcopy(cred)
    tamper(changed, other)
    target = tmp_path / "tampered.json"
    target.write_text(json.dumps(changed))
    result = verify(target, course=mini_course, now=NOW)
    assert not result.valid
    assert any(reason in r for r in result.reasons), result.reasons


def test_not_json_or_no_key_is_invalid_not_an_exception(mini_course: Course, issued: CertifyReport,
                                                        tmp_path: Path) -> None:
    """Is a broken file, or a course that holds no issuer key, a plain 'invalid' with the reason?"""
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    result = verify(junk, course=mini_course, now=NOW)
    assert not result.valid and "cannot read" in result.reasons[0]
    path = _cred(issued, "ann")[0]
    for name in ("issuer_key.pem", "issuer_key.jwk.json"):
        (certificates_dir(mini_course.root) / name).unlink()
    result = verify(path, course=mini_course, now=NOW)
    assert not result.valid and "no issuer key" in result.reasons[0]


def test_a_revoked_certificate_fails_and_the_others_stay_valid(mini_course: Course,
                                                              issued: CertifyReport) -> None:
    """Does revocation (by full id or bare uuid) invalidate exactly that certificate, with the reason?"""
    ann_path, ann = _cred(issued, "ann")
    dora_path, _dora = _cred(issued, "dora")
    full = revoke(ann["id"].removeprefix("urn:uuid:"), course=mini_course, reason="copied the project",
                  now=NOW)
    assert full == ann["id"]
    result = verify(ann_path, course=mini_course, now=NOW)
    assert not result.valid
    assert result.reasons == ["revoked on 2026-02-01T12:00:00Z: copied the project"]
    assert verify(dora_path, course=mini_course, now=NOW).valid
    with pytest.raises(CertificateError, match="no certificate"):
        revoke("urn:uuid:00000000-0000-0000-0000-000000000000", course=mini_course, reason="typo")
    with pytest.raises(CertificateError, match="needs a reason"):
        revoke(ann["id"], course=mini_course, reason="  ")


def test_an_expired_or_not_yet_valid_certificate_fails(mini_course: Course, issued: CertifyReport) -> None:
    """Is a certificate invalid from its validUntil on, and before its validFrom?"""
    path = _cred(issued, "ann")[0]
    assert verify(path, course=mini_course, now=NOW + timedelta(days=30) - timedelta(seconds=1)).valid
    late = verify(path, course=mini_course, now=NOW + timedelta(days=30))
    assert late.reasons == ["expired on 2026-03-03T12:00:00Z"]
    early = verify(path, course=mini_course, now=NOW - timedelta(days=1))
    assert early.reasons[0] == "not valid before 2026-02-01T12:00:00Z"
    assert early.reasons[1:] == ["its revocation status cannot be checked: the status list is not valid yet "
                                 "(or has no validFrom)"]  # the list was signed at issue time, after `now`


def test_certify_again_skips_holders_and_reissues_after_revocation(mini_course: Course, gradebook: Gradebook,
                                                                  issued: CertifyReport) -> None:
    """Does a second run issue nothing new, and a revoked holder get a fresh certificate?"""
    again = issue_certificates(mini_course, gradebook, base_url=BASE, valid_days=30, now=NOW)
    assert again.issued == []
    assert again.already == {"ann": _cred(issued, "ann")[1]["id"], "dora": _cred(issued, "dora")[1]["id"]}
    revoke(_cred(issued, "ann")[1]["id"], course=mini_course, reason="scores corrected")
    third = issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW)
    assert [i.student for i in third.issued] == ["ann"]
    assert len(list(issued_dir(mini_course.root).glob("ann_*.json"))) == 2


# ── the PDF ───────────────────────────────────────────────────────────────────────────────────────────────


def test_each_certificate_has_a_one_page_pdf_carrying_its_id(issued: CertifyReport) -> None:
    """Is there a PDF per certificate, a real one-page PDF, with the id and the verification URL in it?"""
    for item in issued.issued:
        data = item.pdf_path.read_bytes()
        assert data.startswith(b"%PDF")
        assert item.credential_id.encode() in data
        assert f"{BASE}/verify/{item.credential_id}".encode() in data
        assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1


# ── the primitives ────────────────────────────────────────────────────────────────────────────────────────


def test_base58btc_matches_known_values_and_round_trips() -> None:
    """Does base58 encode like Bitcoin's alphabet, keep leading zero bytes, and reject foreign characters?"""
    assert b58encode(b"hello world") == "StV1DL6CwTryKyV"
    assert b58encode(b"\0\0\x01") == "112"
    for data in (b"", b"\0", bytes(range(64)), b"\xff" * 40):
        assert b58decode(b58encode(data)) == data
    with pytest.raises(ValueError, match="base58"):
        b58decode("0OIl")


def test_canonical_json_follows_rfc_8785() -> None:
    """Keys in UTF-16 order (not code-point order), no spaces, ECMAScript number forms, escapes as JSON."""
    keys = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
    assert canonical_json(keys).decode() == '{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\U0001f600":5,"\ufb33":3}'
    numbers = [0.0, -0.0, 4.5, 0.002, 1e-7, 1e21, 333333333.33333329, 100.0, 2.9514790517935283e20, 5e-324]
    assert canonical_json(numbers) == b"[0,0,4.5,0.002,1e-7,1e+21,333333333.3333333,100,295147905179352830000,5e-324]"
    assert canonical_json({"b": [True, None], "a": "\u000f\"/"}) == b'{"a":"\\u000f\\"/","b":[true,null]}'
    with pytest.raises(CertificateError):
        canonical_json(float("nan"))


def test_signing_reproduces_the_w3c_eddsa_jcs_2022_test_vector() -> None:
    """Does `sign` give the W3C vc-di-eddsa specification's eddsa-jcs-2022 proof byte for byte?"""
    secret = b58decode("3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq")     # multicodec 0x8026 + seed
    key = IssuerKey.from_seed(secret[2:])
    assert key.public.multikey == "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    context = ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"]
    document = {"@context": context, "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
                "type": ["VerifiableCredential", "AlumniCredential"], "name": "Alumni Credential",
                "description": "A minimum viable example of an Alumni Credential.",
                "issuer": "https://vc.example/issuers/5678", "validFrom": "2023-01-01T00:00:00Z",
                "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"}}
    signed = sign(document, key, created=datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC))
    assert signed["proof"] == {
        "type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022", "created": "2023-02-24T23:36:38Z",
        "verificationMethod": "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
                              "#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
        "proofPurpose": "assertionMethod", "@context": context,
        "proofValue": "z2HnFSSPPBzR36zdDgK8PbEHeXbR56YF24jwMpt3R1eHXQzJDMWS93FCzpvJpwTWd3GAVFuUfjoJdcnTMuVor51aX"}


# ── the CLI ───────────────────────────────────────────────────────────────────────────────────────────────


def test_cli_certify_verify_revoke(mini_course: Course, gradebook: Gradebook, tmp_path: Path) -> None:
    """Does the click group issue, report shortfalls, verify (exit 0/1) and revoke (unknown id: exit 2)?"""
    runner = CliRunner()
    obj = {"config": str(mini_course.root / "course_config.py")}
    out = runner.invoke(certificates_cli, ["certify", "--base-url", BASE, "--valid-days", "365"], obj=obj)
    assert out.exit_code == 0, out.output
    assert "✓ ann: issued urn:uuid:" in out.output and "✓ dora: issued" in out.output
    assert f"✗ bob: Part {PART}: 61 % of the points, needs 70 %" in out.output
    assert "2 of 5 students qualify; 2 certificates issued" in out.output
    ann = next(issued_dir(mini_course.root).glob("ann_*.json"))
    assert ann.with_suffix(".pdf").is_file()
    ok = runner.invoke(certificates_cli, ["verify", str(ann)], obj=obj)
    assert ok.exit_code == 0 and "valid: urn:uuid:" in ok.output
    cid = json.loads(ann.read_text())["id"]
    revoked = runner.invoke(certificates_cli, ["revoke", cid, "--reason", "identity not confirmed"], obj=obj)
    assert revoked.exit_code == 0, revoked.output
    bad = runner.invoke(certificates_cli, ["verify", str(ann)], obj=obj)
    assert bad.exit_code == 1 and "identity not confirmed" in bad.output
    unknown = runner.invoke(certificates_cli, ["revoke", "urn:uuid:nope", "--reason", "x"], obj=obj)
    assert unknown.exit_code == 2 and "no certificate" in unknown.output
    again = runner.invoke(certificates_cli, ["certify", "--base-url", BASE], obj=obj)
    assert "= dora: already holds" in again.output and "✓ ann: issued" in again.output


# ── issue 11: safe files, keys, foreign files, revocation anyone can check ────────────────────────────────────


def _leftovers(root: Path) -> list[Path]:
    return [p for p in certificates_dir(root).rglob("*") if p.name.endswith(".tmp")]


def test_a_name_with_dollar_signs_gets_a_complete_pdf(mini_course: Course, gradebook: Gradebook) -> None:
    """'$…$' (and a broken mathtext command) in a name: certify works and writes a whole PDF, drawn as text."""
    with gradebook.session() as s:
        s.execute(text("UPDATE students SET name = :n WHERE id = 'ann'"), {"n": r"Ann $\frac{1 $x^2$ \notacommand$"})
    report = issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW)
    assert report.failed == {} and sorted(i.student for i in report.issued) == ["ann", "dora"]
    pdf = next(i for i in report.issued if i.student == "ann").pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert _leftovers(mini_course.root) == []


FULL_DISK_CERTIFY = """
import resource, sys
from datetime import UTC, datetime
from aiml_course.certificates import issue_certificates
from aiml_course.config import load_course
from aiml_course.gradebook import Gradebook
course = load_course(sys.argv[1])
book = Gradebook(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), resource.RLIM_INFINITY))  # files past this: EFBIG
report = issue_certificates(course, book, base_url="https://aiml.example.edu", now=datetime(2026, 2, 1, 12, tzinfo=UTC))
print(len(report.issued), sorted(report.failed), "|".join(report.failed.values()))
"""


def test_a_full_disk_leaves_no_partial_certificate_and_no_temporary_file(mini_course: Course,
                                                                         gradebook: Gradebook) -> None:
    """Writing fails part-way (files limited to 12 kB: the key and JSON fit, the PDF does not): a clear
    reason, no PDF, no JSON, no .tmp, nothing recorded; with room again, certify issues everything."""
    import os
    import signal
    import subprocess
    import sys

    gradebook.engine.dispose()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", FULL_DISK_CERTIFY, str(mini_course.root / "course_config.py"),
                             default_url(mini_course.root), "12000"], capture_output=True, text=True, env=env,
                            timeout=300, preexec_fn=lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN))
    assert result.returncode == 0, result.stderr
    count, _, reason = result.stdout.strip().partition(" ")
    assert count == "0" and "ann" in reason and "could not write" in reason, result.stdout
    assert list(issued_dir(mini_course.root).iterdir()) == []
    assert _leftovers(mini_course.root) == []
    assert (certificates_dir(mini_course.root) / "issuer_key.pem").stat().st_size > 0
    report = issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW)
    assert sorted(i.student for i in report.issued) == ["ann", "dora"]
    assert all(verify(i.json_path, course=mini_course, now=NOW).valid for i in report.issued)


def test_a_zero_byte_key_does_not_block_certify(mini_course: Course, gradebook: Gradebook) -> None:
    """A 0-byte issuer_key.pem (an older release's write cut short by a full disk) is replaced, not fatal."""
    folder = certificates_dir(mini_course.root)
    folder.mkdir(parents=True)
    (folder / "issuer_key.pem").write_bytes(b"")
    report = issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW)
    assert len(report.issued) == 2
    assert stat.S_IMODE((folder / "issuer_key.pem").stat().st_mode) == 0o600
    assert all(verify(i.json_path, course=mini_course, now=NOW).valid for i in report.issued)


def test_a_key_file_others_can_read_is_refused(mini_course: Course, gradebook: Gradebook,
                                               issued: CertifyReport) -> None:
    """A key file that arrived 0644: certify stops with a clear error saying what to do."""
    key = certificates_dir(mini_course.root) / "issuer_key.pem"
    key.chmod(0o644)
    with pytest.raises(CertificateError, match=r"readable by other users \(mode 0644\)[\s\S]*chmod 600"):
        issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW)
    code, out = _invoke_cli(mini_course, "certify", "--base-url", BASE)
    assert code == 2 and "readable by other users" in out and "Traceback" not in out


def test_umask_000_gives_no_world_writable_folders(mini_course: Course, gradebook: Gradebook) -> None:
    """With umask 000, every folder certify makes is 0755 and every public file 0644 (the key 0600)."""
    import os

    old = os.umask(0)
    try:
        issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW)
    finally:
        os.umask(old)
    root = certificates_dir(mini_course.root)
    for path in [root.parent, root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        expected = 0o755 if path.is_dir() else 0o600 if path.name == "issuer_key.pem" else 0o644
        assert mode == expected, (path, oct(mode))


def test_an_unsigned_json_dropped_in_issued_is_neither_recorded_nor_exported(mini_course: Course,
                                                                            gradebook: Gradebook,
                                                                            issued: CertifyReport) -> None:
    """A credential-looking JSON for bob (who does not qualify), unsigned, put into issued/: not recorded, not
    in the CSV, not 'already held', and certify names it."""
    from aiml_course.export import grade_rows

    forged = copy.deepcopy(_cred(issued, "ann")[1])
    forged["id"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    forged["credentialSubject"]["identifier"][0]["identityHash"] = "bob"
    del forged["proof"]
    (issued_dir(mini_course.root) / "bob_forged.json").write_text(json.dumps(forged))
    report = issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW + timedelta(days=1))
    assert any("bob_forged.json is not signed by this course's issuer key" in p for p in report.recorded.problems)
    assert {r["student"]: r["certificate_id"] for r in grade_rows(mini_course, gradebook)[1]}["bob"] == ""
    with gradebook.engine.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM certificates WHERE student_id = 'bob'")).scalar() == 0


def test_duplicate_keys_and_lone_surrogates_are_clear_errors(mini_course: Course, issued: CertifyReport,
                                                             tmp_path: Path) -> None:
    """A credential with a key twice (last-wins parsers would see another name than was signed) or a lone
    surrogate: verify says what is wrong, exit 1, no traceback."""
    path, _ = _cred(issued, "ann")
    raw = path.read_text(encoding="utf-8")
    twice = tmp_path / "twice.json"
    twice.write_text(raw.replace('"type": [\n    "VerifiableCredential"',
                                 '"type": "Forged", "type": [\n    "VerifiableCredential"', 1))
    assert '"type": "Forged"' in twice.read_text()
    result = verify(twice, course=mini_course, now=NOW)
    assert not result.valid and "the key 'type' appears twice" in result.reasons[0]
    lone = tmp_path / "lone.json"
    lone.write_text(raw.replace('"Ann Lovelace"', '"Ann \\ud800"', 1))
    result = verify(lone, course=mini_course, now=NOW)
    assert not result.valid and "lone surrogate" in result.reasons[0]
    code, out = _invoke_cli(mini_course, "verify", str(lone))
    assert code == 1 and "lone surrogate" in out and "Traceback" not in out
    with pytest.raises(CertificateError, match="lone surrogate"):
        canonical_json({"name": "\ud800"})


def test_revocation_is_published_in_a_signed_status_list_a_third_party_can_check(
        mini_course: Course, gradebook: Gradebook, issued: CertifyReport, tmp_path: Path) -> None:
    """Each certificate names a bit of a W3C Bitstring Status List; revoking sets it in the signed static file.
    A third party with only the certificate and the downloaded list (no course files: the key comes from the
    did:key) sees 'not revoked', then 'revoked'; a tampered list is refused; `verify --status-list` uses it."""
    import gzip

    from aiml_course.certificates import check_status
    from aiml_course.certificates.status_list import LIST_BITS, list_path

    _, ann = _cred(issued, "ann")
    entry = ann["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry" and entry["statusPurpose"] == "revocation"
    assert entry["statusListCredential"] == f"{BASE}/status/revocation.json"
    assert entry["id"] == f"{entry['statusListCredential']}#{entry['statusListIndex']}"
    _, dora = _cred(issued, "dora")
    assert dora["credentialStatus"]["statusListIndex"] != entry["statusListIndex"]
    published = json.loads(list_path(mini_course.root).read_text())
    assert published["id"] == entry["statusListCredential"]
    assert "BitstringStatusListCredential" in published["type"] and published["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    encoded = published["credentialSubject"]["encodedList"]
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert encoded.startswith("u") and len(bits) * 8 == LIST_BITS and not any(bits)
    third_party = tmp_path / "downloaded.json"
    third_party.write_text(json.dumps(published))
    assert check_status(ann, json.loads(third_party.read_text()), now=NOW).revoked is False

    revoke(ann["id"], course=mini_course, reason="plagiarism", now=NOW)
    republished = json.loads(list_path(mini_course.root).read_text())
    index = int(entry["statusListIndex"])
    outcome = check_status(ann, republished, now=NOW)
    assert outcome.revoked is True and outcome.index == index
    assert check_status(dora, republished, now=NOW).revoked is False
    encoded = republished["credentialSubject"]["encodedList"]
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert bits[index // 8] == 0x80 >> (index % 8)  # the left-most bit is index 0

    tampered = copy.deepcopy(republished)
    tampered["credentialSubject"]["encodedList"] = published["credentialSubject"]["encodedList"]  # un-revoke
    refused = check_status(ann, tampered, now=NOW)
    assert refused.revoked is None and any("signature does not match" in p for p in refused.problems)

    (certificates_dir(mini_course.root) / "revoked.json").unlink()  # the list alone is enough to see it
    result = verify(_cred(issued, "ann")[0], course=mini_course, now=NOW)
    assert not result.valid and any(r.startswith(f"revoked: bit {index} ") for r in result.reasons)
    (tmp_path / "old.json").write_text(json.dumps(tampered))
    code, out = _invoke_cli(mini_course, "verify", str(_cred(issued, "dora")[0]), "--status-list",
                            str(tmp_path / "old.json"))
    assert code == 1 and "signature does not match" in out


def _invoke_cli(course: Course, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(certificates_cli, list(args), obj={"config": str(course.root / "course_config.py")})
    return result.exit_code, result.output


def test_a_hostile_status_list_is_a_stated_problem_never_a_crash(mini_course: Course, issued: CertifyReport) -> None:
    """Garbage in every field of a downloaded status list, a gzip bomb, an index past the end: check_status says
    the status cannot be checked (revoked is None) and never raises."""
    import gzip

    from aiml_course.certificates import check_status
    from aiml_course.certificates.status_list import decode_list, list_path

    _, ann = _cred(issued, "ann")
    good = json.loads(list_path(mini_course.root).read_text())
    bomb = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(64 * 2**20))).rstrip(b"=").decode()
    variants: list[Any] = [{}, {"type": 5}, {**good, "type": 5}, {**good, "issuer": 7}, {**good, "proof": "x"},
                           {**good, "credentialSubject": []}, {**good, "validFrom": 12},
                           {**good, "credentialSubject": {**good["credentialSubject"], "encodedList": bomb}},
                           {**good, "credentialSubject": {**good["credentialSubject"], "encodedList": "u!!"}}]
    for variant in variants:
        assert check_status(ann, variant, now=NOW).revoked is None
    far = copy.deepcopy(ann)
    far["credentialStatus"]["statusListIndex"] = str(10**9)
    assert check_status(far, good, now=NOW).revoked is None
    for entry in (None, "x", [], {"type": "BitstringStatusListEntry", "statusPurpose": "revocation"}):
        assert check_status({**ann, "credentialStatus": entry}, good, now=NOW).revoked is None
    with pytest.raises(CertificateError, match="more than 16 MiB"):
        decode_list(bomb)  # the signature is checked first, but a bomb is refused on its own too
    with pytest.raises(CertificateError, match="fewer than the 131072 required"):
        decode_list("u" + base64.urlsafe_b64encode(gzip.compress(bytes(100))).rstrip(b"=").decode())


def test_a_cut_short_or_missing_pdf_of_a_current_certificate_is_drawn_again(mini_course: Course,
                                                                           gradebook: Gradebook,
                                                                           issued: CertifyReport) -> None:
    """A PDF an older release left truncated (or that went missing): the next certify draws it again from the
    signed JSON, with the same verification URL; a complete one is left alone."""
    from aiml_course.certificates.pdf import is_complete_pdf

    ann = next(i for i in issued.issued if i.student == "ann").pdf_path
    dora = next(i for i in issued.issued if i.student == "dora").pdf_path
    ann.write_bytes(ann.read_bytes()[:500])
    dora.unlink()
    assert not is_complete_pdf(ann)
    report = issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW + timedelta(days=1))
    assert report.issued == [] and sorted(report.repaired) == sorted([ann, dora])
    assert is_complete_pdf(ann) and is_complete_pdf(dora)
    again = issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW + timedelta(days=1))
    assert again.repaired == []
