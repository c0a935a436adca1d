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
