"""Certificates in the gradebook: the `certificates` table written by certify and revoke, the dashboard's status,
the CSV's certificate_id, migration 0003, and rows whose files are gone — on a copy of the mini course and a real
SQLite gradebook (migrations == models on PostgreSQL too: tests/integration/test_gradebook.py)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select, text

from aiml_course.certificates import (
    CertificateError,
    CertificateRecord,
    CertifyReport,
    certificate_status,
    certificates_cli,
    current_certificate_ids,
    issue_certificates,
    revoke,
    verify,
    verify_recorded,
)
from aiml_course.certificates.records import record_issued
from aiml_course.certificates.store import certificates_dir
from aiml_course.config import Course
from aiml_course.export import export_csv, grade_rows
from aiml_course.gradebook import Gradebook, default_url
from aiml_course.grading.engine import CaseResult, NotebookGrade

PART = "part-01-mini"
NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
BASE = "https://aiml.example.edu"


def _record(gb: Gradebook, student: str, q1: float, q2: float, quiz: float) -> None:
    grade = NotebookGrade("1.1-mini", cases=[CaseResult("c1", "q1", False, q1, 4, ""),
                                             CaseResult("c2", "q2", True, q2, 2, ""),
                                             CaseResult("c3", "quiz", False, quiz, 2, "")])
    gb.record(student, PART, grade, content_sha256=f"{student}-{q1}", submitted_at=datetime(2026, 1, 9, tzinfo=UTC))


@pytest.fixture
def gradebook(mini_course: Course) -> Gradebook:
    """ann 87.5 %, dora exactly 70 % (both qualify), bob 61 %."""
    gb = Gradebook(default_url(mini_course.root))
    _record(gb, "ann", 4, 2, 1)
    _record(gb, "dora", 4, 1.6, 0)
    _record(gb, "bob", 3, 1, 0.9)
    return gb


@pytest.fixture
def issued(mini_course: Course, gradebook: Gradebook) -> CertifyReport:
    return issue_certificates(mini_course, gradebook, base_url=BASE, valid_days=30, now=NOW)


def _rows(gb: Gradebook) -> dict[str, CertificateRecord]:
    with gb.session() as s:
        return {r.id: r for r in s.scalars(select(CertificateRecord))}


def _id(report: CertifyReport, student: str) -> str:
    return next(i.credential_id for i in report.issued if i.student == student)


def _invoke(course: Course, *args: str) -> tuple[int, str]:
    out = CliRunner().invoke(certificates_cli, list(args), obj={"config": str(course.root / "course_config.py")})
    return out.exit_code, out.output


# ── rows written by certify ─────────────────────────────────────────────────────────────────────────────────


def test_certify_writes_one_row_per_certificate_matching_its_files(mini_course: Course, gradebook: Gradebook,
                                                                   issued: CertifyReport) -> None:
    """Does each issued certificate get a row: its id, student, dates, percents and paths relative to the root?"""
    rows = _rows(gradebook)
    assert sorted((r.student_id, r.id) for r in rows.values()) == sorted(
        (i.student, i.credential_id) for i in issued.issued)
    ann = rows[_id(issued, "ann")]
    assert (ann.issued_at.replace(tzinfo=UTC), ann.expires_at.replace(tzinfo=UTC)) == (NOW, NOW + timedelta(days=30))
    assert ann.percent == 87.5 and json.loads(ann.parts) == {PART: 87.5}
    assert rows[_id(issued, "dora")].percent == 70.0
    item = next(i for i in issued.issued if i.student == "ann")
    assert ann.json_path == item.json_path.relative_to(mini_course.root).as_posix()
    assert ann.json_path.startswith("var/certificates/issued/ann_") and ann.pdf_path.endswith(".pdf")
    assert json.loads((mini_course.root / ann.json_path).read_text())["id"] == ann.id
    assert (mini_course.root / ann.pdf_path).is_file()
    assert (ann.revoked_at, ann.revoked_reason) == (None, "")
    assert issued.recorded.added == [] and issued.recorded.problems == []


def test_certifying_again_adds_no_row(mini_course: Course, gradebook: Gradebook, issued: CertifyReport) -> None:
    """Does a second certify with the same results issue nothing and leave the table exactly as it was?"""
    before = {cid: (r.student_id, r.issued_at, r.percent, r.json_path) for cid, r in _rows(gradebook).items()}
    again = issue_certificates(mini_course, gradebook, base_url=BASE, valid_days=30, now=NOW + timedelta(hours=1))
    assert again.issued == [] and set(again.already) == {"ann", "dora"}
    after = {cid: (r.student_id, r.issued_at, r.percent, r.json_path) for cid, r in _rows(gradebook).items()}
    assert after == before and len(after) == 2
    revoke(_id(issued, "ann"), course=mini_course, reason="checked twice", now=NOW, gradebook=gradebook)
    item = next(i for i in issued.issued if i.student == "ann")          # recording the same certificate again
    assert not record_issued(gradebook, course=mini_course, credential=json.loads(item.json_path.read_text()),
                             parts={PART: 0.875}, json_path=item.json_path, pdf_path=item.pdf_path)
    assert _rows(gradebook)[item.credential_id].revoked_reason == "checked twice" and len(_rows(gradebook)) == 2


def test_certificates_issued_before_the_table_are_recorded_from_their_files(mini_course: Course,
                                                                           gradebook: Gradebook,
                                                                           issued: CertifyReport) -> None:
    """Are files without a row (issued before this table, or a crash between file and row) recorded, once?"""
    revoke(_id(issued, "dora"), course=mini_course, reason="wrong person", now=NOW)   # on the list only
    with gradebook.session() as s:
        s.execute(text("DELETE FROM certificates"))
    report = issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW)
    assert [i.student for i in report.issued] == ["dora"]                 # revoked, so reissued (as before)
    assert sorted(report.recorded.added) == sorted([_id(issued, "ann"), _id(issued, "dora")])
    assert report.recorded.revoked == [_id(issued, "dora")]
    rows = _rows(gradebook)
    assert len(rows) == 3
    assert rows[_id(issued, "ann")].percent == 87.0                        # the credential's whole percent
    assert rows[_id(issued, "dora")].revoked_reason == "wrong person"
    assert issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW).recorded.added == []


# ── revocation ──────────────────────────────────────────────────────────────────────────────────────────────


def test_revoke_records_in_the_table_and_on_the_list_and_reissue_adds_a_row(mini_course: Course,
                                                                           gradebook: Gradebook,
                                                                           issued: CertifyReport) -> None:
    """Does revoke set revoked_at/reason (a second one replaces the reason) while verify still reads the file?"""
    ann = _id(issued, "ann")
    revoke(ann.removeprefix("urn:uuid:"), course=mini_course, reason="copied the project", now=NOW,
           gradebook=gradebook)
    row = _rows(gradebook)[ann]
    assert (row.revoked_at.replace(tzinfo=UTC), row.revoked_reason) == (NOW, "copied the project")
    assert _rows(gradebook)[_id(issued, "dora")].revoked_at is None
    path = next(i.json_path for i in issued.issued if i.student == "ann")
    assert verify(path, course=mini_course, now=NOW).reasons == ["revoked on 2026-02-01T12:00:00Z: copied the project"]
    later = NOW + timedelta(days=1)
    revoke(ann, course=mini_course, reason="copied the project and the report", now=later, gradebook=gradebook)
    row = _rows(gradebook)[ann]
    assert (row.revoked_at.replace(tzinfo=UTC), row.revoked_reason) == (later, "copied the project and the report")
    third = issue_certificates(mini_course, gradebook, base_url=BASE, now=later)
    assert [i.student for i in third.issued] == ["ann"]
    assert sorted(r.revoked_at is None for r in _rows(gradebook).values() if r.student_id == "ann") == [False, True]


def test_revoke_rejects_unknown_ids_and_reaches_certificates_whose_file_is_gone(mini_course: Course,
                                                                              gradebook: Gradebook,
                                                                              issued: CertifyReport) -> None:
    """Is an unknown id an error, and a recorded certificate whose JSON was deleted still revocable?"""
    with pytest.raises(CertificateError, match=r"no certificate \S+ in \S+ or the gradebook"):
        revoke("00000000-0000-0000-0000-000000000000", course=mini_course, reason="typo", gradebook=gradebook)
    item = next(i for i in issued.issued if i.student == "dora")
    item.json_path.unlink()
    with pytest.raises(CertificateError, match="no certificate"):       # without the gradebook: files only
        revoke(item.credential_id, course=mini_course, reason="lost")
    revoke(item.credential_id, course=mini_course, reason="the file was lost; a copy is out there",
           gradebook=gradebook)
    assert _rows(gradebook)[item.credential_id].revoked_reason == "the file was lost; a copy is out there"
    listed = json.loads((certificates_dir(mini_course.root) / "revoked.json").read_text())["revoked"]
    assert item.credential_id in listed


# ── status for the dashboard ────────────────────────────────────────────────────────────────────────────────


def test_status_gives_the_latest_live_certificate_else_the_revoked_one_flagged(mini_course: Course,
                                                                             gradebook: Gradebook,
                                                                             issued: CertifyReport) -> None:
    """None without a certificate; the live one with its files; the revoked one flagged; expiry flagged."""
    assert certificate_status(gradebook, "bob") is None and certificate_status(gradebook, "nobody") is None
    ann = certificate_status(gradebook, "ann", root=mini_course.root, now=NOW)
    assert ann is not None
    assert (ann["id"], ann["issued_at"], ann["percent"], ann["revoked"], ann["expired"]) == (
        _id(issued, "ann"), NOW, 87.5, False, False)
    assert ann["parts"] == {PART: 87.5} and ann["pdf_path"].endswith(".pdf") and ann["json_path"].endswith(".json")
    assert ann["missing_files"] == [] and ann["problems"] == []
    assert certificate_status(gradebook, "ann", now=NOW + timedelta(days=30))["expired"] is True  # type: ignore[index]
    revoke(_id(issued, "ann"), course=mini_course, reason="identity not confirmed", now=NOW, gradebook=gradebook)
    flagged = certificate_status(gradebook, "ann", now=NOW)
    assert flagged is not None and flagged["id"] == _id(issued, "ann")
    assert (flagged["revoked"], flagged["revoked_at"], flagged["revoked_reason"]) == (
        True, NOW, "identity not confirmed")
    fresh = issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW + timedelta(days=2))
    status = certificate_status(gradebook, "ann", now=NOW + timedelta(days=2))
    assert status is not None and status["id"] == _id(fresh, "ann") and not status["revoked"]
    assert status["expires_at"] is None
    revoke(_id(fresh, "ann"), course=mini_course, reason="again", gradebook=gradebook)
    assert certificate_status(gradebook, "ann")["id"] == _id(fresh, "ann")  # type: ignore[index]  # latest revoked
    backdated = issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW - timedelta(days=10))
    status = certificate_status(gradebook, "ann")           # older than the revoked one, but live: it wins
    assert status is not None and (status["id"], status["revoked"]) == (_id(backdated, "ann"), False)


# ── the CSV ─────────────────────────────────────────────────────────────────────────────────────────────────


def test_the_csv_has_a_certificate_id_column(mini_course: Course, gradebook: Gradebook, tmp_path: Path) -> None:
    """Is certificate_id the last column: the current certificate's id, empty when none, revoked or expired?"""
    header, _rows_before = grade_rows(mini_course, gradebook)
    assert header[-4:] == ["total", "total_possible", "percent", "certificate_id"]
    assert {r["certificate_id"] for r in _rows_before} == {""}
    now = datetime.now(UTC)
    report = issue_certificates(mini_course, gradebook, base_url=BASE, now=now)          # never expires
    rows = {r["student"]: r for r in csv.DictReader(export_csv(mini_course, gradebook, tmp_path / "g.csv").open())}
    assert rows["ann"]["certificate_id"] == _id(report, "ann")
    assert rows["dora"]["certificate_id"] == _id(report, "dora") and rows["bob"]["certificate_id"] == ""
    revoke(_id(report, "dora"), course=mini_course, reason="wrong person", gradebook=gradebook)
    old = issue_certificates(mini_course, gradebook, base_url=BASE, valid_days=30, now=now - timedelta(days=40))
    assert [i.student for i in old.issued] == ["dora"]                                   # issued, already expired
    assert current_certificate_ids(gradebook) == {"ann": _id(report, "ann")}
    assert {r["student"]: r["certificate_id"] for r in grade_rows(mini_course, gradebook)[1]} == {
        "ann": _id(report, "ann"), "bob": "", "dora": ""}


# ── bad input: files gone, the list and the table disagree, no table ────────────────────────────────────────


def test_a_row_whose_files_are_gone_is_said_plainly_by_status_verify_and_certify(mini_course: Course,
                                                                              gradebook: Gradebook,
                                                                              issued: CertifyReport) -> None:
    """Missing PDF: still valid, with a note. Missing JSON: invalid by id, named in status and in certify."""
    ann = next(i for i in issued.issued if i.student == "ann")
    ann.pdf_path.unlink()
    status = certificate_status(gradebook, "ann", root=mini_course.root, now=NOW)
    assert status is not None and status["missing_files"] == [status["pdf_path"]]
    assert status["problems"] == [f"the PDF {status['pdf_path']} of {ann.credential_id} is missing (the signed "
                                  "JSON is the certificate; the PDF only its printout)"]
    result = verify_recorded(ann.credential_id, course=mini_course, gradebook=gradebook, now=NOW)
    assert result.valid and result.notes and "PDF" in result.notes[0]
    ann.json_path.unlink()
    status = certificate_status(gradebook, "ann", root=mini_course.root, now=NOW)
    assert status is not None and status["missing_files"] == [status["json_path"], status["pdf_path"]]
    assert f"the certificate file {status['json_path']} of {ann.credential_id} is missing" in status["problems"][0]
    result = verify_recorded(ann.credential_id, course=mini_course, gradebook=gradebook, now=NOW)
    assert not result.valid
    assert result.reasons == [f"recorded in the gradebook for ann (issued 2026-02-01T12:00:00Z), but its file "
                              f"{status['json_path']} is missing, so it cannot be checked"]
    code, out = _invoke(mini_course, "verify", ann.credential_id)
    assert code == 1 and "is missing, so it cannot be checked" in out and "note: its PDF" in out
    code, out = _invoke(mini_course, "certify", "--base-url", BASE)
    assert code == 0 and "✓ ann: issued" in out                     # no file, no current certificate (as before)
    assert f"! ann: the certificate file {status['json_path']}" in out


def test_a_revocation_missing_from_the_list_is_reported_not_undone(mini_course: Course, gradebook: Gradebook,
                                                                   issued: CertifyReport) -> None:
    """If revoked.json loses an entry, does the table keep the revocation and verify-by-id and certify say so?"""
    dora = _id(issued, "dora")
    revoke(dora, course=mini_course, reason="wrong person", now=NOW, gradebook=gradebook)
    (certificates_dir(mini_course.root) / "revoked.json").unlink()
    report = issue_certificates(mini_course, gradebook, base_url=BASE, now=NOW)
    assert _rows(gradebook)[dora].revoked_reason == "wrong person"
    assert any(f"{dora} is revoked in the gradebook but not on revoked.json" in p for p in report.recorded.problems)
    result = verify_recorded(dora, course=mini_course, gradebook=gradebook, now=NOW)
    assert not result.valid
    assert any("revoked in the gradebook on 2026-02-01T12:00:00Z: wrong person" in r for r in result.reasons)
    assert any(r.startswith("revoked: bit ") for r in result.reasons)  # the signed status list still says so


def test_verify_by_id_from_the_cli(mini_course: Course, gradebook: Gradebook, issued: CertifyReport,
                                   tmp_path: Path) -> None:
    """Does `verify ID` read the gradebook (exit 0/1), and an unknown id, a bad path or no gradebook exit 2?"""
    ann = _id(issued, "ann")
    code, out = _invoke(mini_course, "verify", ann.removeprefix("urn:uuid:"))
    assert (code, out.strip()) == (1, f"INVALID: {ann}\n  - expired on 2026-03-03T12:00:00Z")  # 30 days from NOW
    fresh = issue_certificates(mini_course, gradebook, base_url=BASE, now=datetime.now(UTC))
    assert [i.student for i in fresh.issued] == ["ann", "dora"]       # the old ones expired: reissued (as before)
    code, out = _invoke(mini_course, "verify", _id(fresh, "ann"))
    assert (code, out.strip()) == (0, f"valid: {_id(fresh, 'ann')}")
    code, out = _invoke(mini_course, "revoke", _id(fresh, "ann"), "--reason", "plagiarism")
    assert code == 0 and _rows(gradebook)[_id(fresh, "ann")].revoked_reason == "plagiarism"
    assert _invoke(mini_course, "verify", _id(fresh, "ann"))[0] == 1
    code, out = _invoke(mini_course, "verify", "urn:uuid:00000000-0000-0000-0000-000000000000")
    assert code == 2 and "no certificate urn:uuid:00000000-0000-0000-0000-000000000000 in the gradebook" in out
    code, out = _invoke(mini_course, "verify", str(tmp_path / "nope.json"))
    assert code == 2 and "no file" in out
    missing_db = f"sqlite:///{tmp_path / 'none.sqlite'}"
    code, out = _invoke(mini_course, "verify", ann, "--db", missing_db)
    assert code == 2 and "there is no gradebook at" in out and not (tmp_path / "none.sqlite").exists()


def test_readers_cope_without_the_table_and_opening_an_adopted_gradebook_creates_it(mini_course: Course,
                                                                                     gradebook: Gradebook) -> None:
    """Readers see no certificates while the table is missing; a gradebook from before migrations (no
    alembic_version, no certificates table) gets the table when it is opened, and certify records into it."""
    with gradebook.engine.begin() as c:
        c.exec_driver_sql("DROP TABLE certificates")
    assert certificate_status(gradebook, "ann") is None and current_certificate_ids(gradebook) == {}
    assert {r["certificate_id"] for r in grade_rows(mini_course, gradebook)[1]} == {""}
    with gradebook.engine.begin() as c:
        c.exec_driver_sql("DROP TABLE alembic_version")  # as a gradebook made by create_all before migrations
    gradebook.engine.dispose()
    adopted = Gradebook(default_url(mini_course.root))
    assert inspect(adopted.engine).has_table("certificates")
    report = issue_certificates(mini_course, adopted, base_url=BASE, now=NOW)
    assert sorted(_rows(adopted)) == sorted(i.credential_id for i in report.issued)


# ── migration 0003 ──────────────────────────────────────────────────────────────────────────────────────────


def test_migration_0003_adds_the_table_to_a_0002_gradebook_and_downgrades(tmp_path: Path) -> None:
    """Does opening a gradebook at 0002 add `certificates` (rows kept), and does downgrading remove it again?"""
    from alembic import command

    from aiml_course.gradebook import _alembic_config

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as c:
        command.upgrade(_alembic_config(c), "0002")
        c.exec_driver_sql("INSERT INTO students (id, name, email, cohort, active) VALUES ('ann', '', '', 'a', 1)")
    assert not inspect(engine).has_table("certificates")
    book = Gradebook(url)
    columns = {c["name"]: c["nullable"] for c in inspect(book.engine).get_columns("certificates")}
    assert columns == {"id": False, "student_id": False, "issued_at": False, "expires_at": True, "percent": False,
                       "parts": False, "revoked_at": True, "revoked_reason": False, "json_path": False,
                       "pdf_path": False}
    assert inspect(book.engine).get_foreign_keys("certificates")[0]["referred_table"] == "students"
    assert [s.id for s in book.students()] == ["ann"]
    with book.engine.begin() as c:
        command.downgrade(_alembic_config(c), "0002")
    assert not inspect(book.engine).has_table("certificates")
