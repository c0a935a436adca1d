"""The gradebook on SQLite (default) and on a real PostgreSQL server started for the tests."""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aiml_course.errors import GradebookError
from aiml_course.gradebook import CaseRow, Gradebook, Submission
from aiml_course.grading.engine import CaseResult, NotebookGrade

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a Unix socket, owned by the postgres user; yields a SQLAlchemy URL."""
    if not PG_BIN or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    bin_dir = Path(PG_BIN[-1])
    data = Path(tempfile.mkdtemp(prefix="aiml-pg-"))
    shutil.chown(data, "postgres", "postgres")
    port = _free_port()

    def as_postgres(*argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)

    as_postgres(str(bin_dir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres")
    as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-w", "-l", str(data / "log"), "-o",
                f"-p {port} -k {data} -c listen_addresses=''", "start")
    try:
        as_postgres(str(bin_dir / "createdb"), "-h", str(data), "-p", str(port), "gradebook")
        yield f"postgresql+psycopg://postgres@/gradebook?host={data}&port={port}"
    finally:
        as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def gradebook(request: pytest.FixtureRequest, tmp_path: Path) -> Gradebook:
    if request.param == "sqlite":
        return Gradebook(f"sqlite:///{tmp_path / 'gradebook.sqlite'}")
    book = Gradebook(request.getfixturevalue("postgres_url"))
    with book.session() as s:  # the server outlives one test: start each test empty
        s.query(CaseRow).delete()
        s.query(Submission).delete()
    return book


def _grade(notebook: str, earned: list[float]) -> NotebookGrade:
    cases = [CaseResult(f"c{i}", "q1" if i < 2 else "q2", i % 2 == 1, e, 1.0, "msg") for i, e in enumerate(earned)]
    return NotebookGrade(notebook, cases)


WHEN = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def test_record_and_read_back_per_question(gradebook: Gradebook) -> None:
    """Are per-question points summed from the case rows and read back with the submission time?"""
    gradebook.record("ann", "part-02", _grade("2.1", [1, 0, 1]), content_sha256="a" * 64, submitted_at=WHEN)
    (row,) = gradebook.latest("part-02")
    assert row["questions"] == {"q1": (1.0, 2.0), "q2": (1.0, 1.0)}
    assert row["earned"] == 2 and row["submitted_at"] == WHEN


def test_regrading_the_same_submission_replaces_its_rows(gradebook: Gradebook) -> None:
    """Does grading the same content again replace (not duplicate) its case rows?"""
    for earned in ([0, 0, 0], [1, 1, 1], [1, 0, 1]):
        gradebook.record("ben", "part-02", _grade("2.1", earned), content_sha256="b" * 64, submitted_at=WHEN)
    with gradebook.session() as s:
        assert s.query(Submission).filter_by(student_id="ben").count() == 1
        assert s.query(CaseRow).count() == 3
    assert gradebook.latest("part-02")[0]["earned"] == 2


def test_the_latest_submission_counts(gradebook: Gradebook) -> None:
    """With two different submissions, is the later one the one reported?"""
    gradebook.record("cat", "part-02", _grade("2.1", [1, 1, 1]), content_sha256="c" * 64, submitted_at=WHEN)
    later = WHEN.replace(hour=13)
    gradebook.record("cat", "part-02", _grade("2.1", [0, 0, 1]), content_sha256="d" * 64, submitted_at=later)
    (row,) = gradebook.latest("part-02")
    assert row["earned"] == 1 and row["submitted_at"] == later


def test_parallel_writers_lose_and_duplicate_nothing(gradebook: Gradebook) -> None:
    """Do 8 threads recording 40 grades at once (some the same submission twice) leave exactly 20 rows?"""
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(5):
                k = (n * 5 + i) % 20  # every submission recorded twice, by different threads
                gradebook.record(f"s{k:02d}", "part-02", _grade("2.1", [1, 0, 1]),
                                 content_sha256=f"{k:064d}", submitted_at=WHEN)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []  # a lost insert race is retried inside record(), never surfaced
    with gradebook.session() as s:
        assert s.query(Submission).count() == 20
        assert s.query(CaseRow).count() == 60


def test_an_unreachable_database_is_a_clear_error() -> None:
    """Does a bad URL give a GradebookError naming the URL, not a raw driver traceback?"""
    with pytest.raises(GradebookError, match="cannot open the gradebook"):
        Gradebook("postgresql+psycopg://nobody@/nope?host=/nonexistent&port=1")


def test_extensions_move_the_deadline_in_the_export(tmp_path: Path) -> None:
    """Does `course extend` remove a late penalty, appear in the CSV, and refuse unknown students?"""
    import csv

    from click.testing import CliRunner

    from aiml_course.cli import main
    from aiml_course.config import load_course
    from aiml_course.export import export_cohorts, export_csv, export_lms
    from tests.conftest import MINI

    root = tmp_path / "mini"
    shutil.copytree(MINI, root)
    course = load_course(root / "course_config.py")
    db = f"sqlite:///{tmp_path / 'g.sqlite'}"
    book = Gradebook(db)
    late = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)  # two days after the 2026-01-10 12:00 deadline
    for student in ("ann", "bob"):
        book.record(student, "part-01-mini", _grade("1.1-mini", [1, 1, 1]), content_sha256=student * 32,
                    submitted_at=late)
    cfg = ["--config", str(root / "course_config.py")]
    ok = CliRunner().invoke(main, [*cfg, "extend", "ann", "part-01", "--until", "2026-01-13T00:00+00:00",
                                   "--reason", "ill", "--db", db])
    assert ok.exit_code == 0 and "now due 2026-01-13" in ok.output
    unknown = CliRunner().invoke(main, [*cfg, "extend", "zed", "part-01", "--until", "2026-01-13T00:00+00:00",
                                        "--db", db])
    assert unknown.exit_code == 2 and "unknown student 'zed'" in unknown.output
    naive = CliRunner().invoke(main, [*cfg, "extend", "ann", "part-01", "--until", "2026-01-13", "--db", db])
    assert naive.exit_code == 2 and "time zone" in naive.output
    rows = {r["student"]: r for r in csv.DictReader(export_csv(course, book, tmp_path / "g.csv").open())}
    assert rows["ann"]["part-01-mini:late_penalty"] == "0.0"
    assert rows["ann"]["part-01-mini:deadline"].startswith("2026-01-13")
    assert float(rows["bob"]["part-01-mini:late_penalty"]) > 0
    canvas = list(csv.DictReader(export_lms(course, book, tmp_path / "c.csv", lms="canvas").open()))
    assert canvas[0]["SIS User ID"] == "ann" and float(canvas[0]["Mini"]) > float(canvas[1]["Mini"])
    moodle = list(csv.DictReader(export_lms(course, book, tmp_path / "m.csv", lms="moodle").open()))
    assert list(moodle[0]) == ["ID number", "Mini"]
    adjusted = CliRunner().invoke(main, [*cfg, "adjust", "bob", "part-01", "1.1-mini:q2", "--points", "-0.5",
                                         "--reason", "copied the loop from a classmate", "--db", db])
    assert adjusted.exit_code == 0, adjusted.output
    no_reason = CliRunner().invoke(main, [*cfg, "adjust", "bob", "part-01", "1.1-mini:q2", "--points", "1",
                                          "--reason", " ", "--db", db])
    assert no_reason.exit_code == 2 and "needs a reason" in no_reason.output
    over = CliRunner().invoke(main, [*cfg, "adjust", "ann", "part-01", "1.1-mini:q1", "--points", "10",
                                     "--reason", "generous", "--db", db])
    assert over.exit_code == 0
    rows = {r["student"]: r for r in csv.DictReader(export_csv(course, book, tmp_path / "g2.csv").open())}
    assert rows["bob"]["part-01-mini/1.1-mini:q2"] == "0.5" and rows["ann"]["part-01-mini/1.1-mini:q1"] == "4.0"
    cohorts = list(csv.DictReader(export_cohorts(course, book, tmp_path / "k.csv").open()))
    assert cohorts[0]["cohort"] == "default" and cohorts[0]["students"] == "2"


def test_migrations_build_exactly_the_models_schema(gradebook: Gradebook) -> None:
    """Does `alembic upgrade head` (run on open) produce the tables the models describe, with no differences?"""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from aiml_course.schema import all_metadata

    with gradebook.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), all_metadata())
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert diffs == [] and version == _head()


def test_a_gradebook_from_before_migrations_is_stamped_and_kept(tmp_path: Path) -> None:
    """Is a database made by create_all (no alembic_version) adopted without losing its rows?"""
    from sqlalchemy import create_engine

    from aiml_course.schema import all_metadata

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    all_metadata().create_all(engine)
    with engine.begin() as c:
        c.exec_driver_sql("INSERT INTO students (id, name, email, cohort, active) VALUES ('old', '', '', 'a', 1)")
    book = Gradebook(url)
    assert [s.id for s in book.students()] == ["old"]
    with book.engine.connect() as c:
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == _head()


def _head() -> str:
    """The newest revision in src/aiml_course/migrations/versions (one head: the history never branches)."""
    from alembic.script import ScriptDirectory

    from aiml_course.gradebook import _alembic_config

    (head,) = ScriptDirectory.from_config(_alembic_config(None)).get_heads()
    return str(head)
