"""The gradebook: students, submissions and per-case results, in SQLite by default or PostgreSQL by URL.

Re-grading the same submission (same student, notebook and content hash) replaces its results in one transaction,
so parallel graders and repeated runs never duplicate or lose rows.

Times are stored in UTC on every database (`UTCDateTime`: SQLite keeps no offset, so each value is converted to
UTC before it is written); a notebook that was not handed in has no submission time (`submitted_at` is NULL).

This module is the storage layer: it knows nothing of the features built on it. Feature modules (peer review,
certificates) declare their tables on `Base` themselves; `aiml_course.schema.all_metadata()` gathers them all,
and the Alembic migrations under `migrations/` create them, so opening a gradebook needs none of those modules.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from aiml_course.errors import GradebookError

if TYPE_CHECKING:  # only the type: storage imports nothing of the grading built on it
    from aiml_course.grading.engine import NotebookGrade

SCHEMA_VERSION = 1


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored in UTC on every database and read back as an aware UTC datetime.

    SQLite has no time zone type: SQLAlchemy writes the wall time and drops the offset, so 12:00+05:00 would be
    read back as 12:00 UTC. Converting to UTC first makes both databases hold the same instant. A naive value is
    taken to be UTC already (the convention of every caller).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Student(Base):
    __tablename__ = "students"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    cohort: Mapped[str] = mapped_column(String(64), default="default")
    active: Mapped[int] = mapped_column(Integer, default=1)


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("student_id", "part", "notebook", "content_sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id"), index=True)
    part: Mapped[str] = mapped_column(String(100), index=True)
    notebook: Mapped[str] = mapped_column(String(200))
    content_sha256: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # None: not handed in
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    earned: Mapped[float] = mapped_column(Float, default=0.0)
    possible: Mapped[float] = mapped_column(Float, default=0.0)
    problem: Mapped[str] = mapped_column(Text, default="")
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    results: Mapped[list[CaseRow]] = relationship(back_populates="submission", cascade="all, delete-orphan")


class CaseRow(Base):
    __tablename__ = "case_results"
    __table_args__ = (UniqueConstraint("submission_id", "case"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(100))
    case: Mapped[str] = mapped_column(String(200))
    hidden: Mapped[int] = mapped_column(Integer)
    earned: Mapped[float] = mapped_column(Float)
    possible: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text, default="")
    submission: Mapped[Submission] = relationship(back_populates="results")


class Extension(Base):
    """A later deadline for one student on one part (who granted it, and why)."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("student_id", "part"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id"), index=True)
    part: Mapped[str] = mapped_column(String(100))
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    granted_by: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class Adjustment(Base):
    """A manual change to one question's points by a member of staff, with who and why."""

    __tablename__ = "adjustments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id"), index=True)
    part: Mapped[str] = mapped_column(String(100))
    notebook: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(String(100))
    points: Mapped[float] = mapped_column(Float)          # added to the autograded points (may be negative)
    by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Meta(Base):
    __tablename__ = "gradebook_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def default_url(root: Path) -> str:
    return f"sqlite:///{(root / 'var' / 'gradebook.sqlite').resolve()}"


class Gradebook:
    """A facade over the database: open it, record grades, read them back.

    `read_only` (or an SQLite file this process may not write) opens it without writing a byte: no migration, no
    journal change; reading works, writing is a GradebookError. An SQLite file that is not a gradebook, or one
    made by a newer release, is refused before anything touches it.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        sqlite_path = _sqlite_path(url)
        if sqlite_path is not None:
            _check_sqlite_file(sqlite_path)
            read_only = read_only or _not_writable(sqlite_path)
            if not read_only:
                sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        self.read_only = read_only
        try:
            if sqlite_path is not None and read_only:
                self.engine = _read_only_sqlite_engine(sqlite_path)
            else:
                self.engine = create_engine(url, future=True)
                if url.startswith("sqlite"):
                    event.listen(self.engine, "connect", _sqlite_pragmas)
            if read_only:
                _check_current(self.engine, url)
            else:
                migrate(self.engine)
        except SQLAlchemyError as exc:
            raise GradebookError(f"cannot open the gradebook at {url}: {exc}{_damage_advice(url, exc)}") from exc
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        if not read_only:
            with self.session() as s:
                if s.get(Meta, "schema_version") is None:
                    s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._session()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            hint = " (the gradebook was opened read-only)" if self.read_only else ""
            raise GradebookError(f"gradebook write failed and was rolled back{hint}: {exc}"
                                 f"{_damage_advice(str(self.engine.url), exc)}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ensure_student(self, student_id: str, *, cohort: str = "default", name: str = "") -> None:
        try:
            with self.session() as s:
                if s.get(Student, student_id) is None:
                    s.add(Student(id=student_id, cohort=cohort, name=name))
        except GradebookError as exc:  # another grader added the same student first: that is fine
            if not isinstance(exc.__cause__, IntegrityError):
                raise

    def is_graded(self, student_id: str, part: str, notebook: str, content_sha256: str) -> bool:
        """Is this content the notebook's current graded submission? Going back to an earlier version (A, B,
        then A again) is not: A is graded again and becomes the latest."""
        with self.session() as s:
            current = s.scalar(select(Submission).where(
                Submission.student_id == student_id, Submission.part == part, Submission.notebook == notebook,
                Submission.graded_at.is_not(None)).order_by(*_NEWEST_FIRST).limit(1))
            return current is not None and current.content_sha256 == content_sha256

    def record(self, student_id: str, part: str, grade: NotebookGrade, *, content_sha256: str,
               submitted_at: datetime | None) -> int:
        """Store one graded notebook; replaces the results of the same submission if it was graded before.

        `submitted_at` is None for a notebook that was not handed in (it has no time, so it makes nothing late).
        Two graders inserting the same new submission at once: the loser's transaction is rolled back by the
        unique constraint and simply retried, finding the row the winner wrote.
        """
        submitted_at = None if submitted_at is None else _utc(submitted_at, "a submission time")
        for attempt in range(3):
            try:
                return self._record(student_id, part, grade, content_sha256=content_sha256,
                                    submitted_at=submitted_at)
            except GradebookError as exc:
                if not isinstance(exc.__cause__, IntegrityError) or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _record(self, student_id: str, part: str, grade: NotebookGrade, *, content_sha256: str,
                submitted_at: datetime | None) -> int:
        self.ensure_student(student_id)
        with self.session() as s:
            sub = s.scalar(select(Submission).where(
                Submission.student_id == student_id, Submission.part == part,
                Submission.notebook == grade.notebook, Submission.content_sha256 == content_sha256))
            if sub is None:
                sub = Submission(student_id=student_id, part=part, notebook=grade.notebook,
                                 content_sha256=content_sha256, submitted_at=submitted_at)
                s.add(sub)
            sub.results.clear()
            s.flush()
            sub.submitted_at = submitted_at
            sub.graded_at = datetime.now(UTC)
            sub.earned, sub.possible = grade.earned, grade.possible
            sub.problem, sub.seconds = grade.problem, grade.seconds
            for c in grade.cases:
                sub.results.append(CaseRow(question=c.question, case=c.name, hidden=int(c.hidden),
                                           earned=c.earned, possible=c.possible, message=c.message))
            s.flush()
            return sub.id

    def latest(self, part: str | None = None, *, student: str | None = None) -> list[dict[str, Any]]:
        """The most recent graded submission per (student, part, notebook), with per-question scores.

        `submitted_at` is None for a notebook that was not handed in. Two queries whatever the size: submissions,
        then per-question sums done by the database.
        """
        scope = [Submission.graded_at.is_not(None)]
        if part:
            scope.append(Submission.part == part)
        if student is not None:
            scope.append(Submission.student_id == student)
        with self.session() as s:
            rows: dict[tuple[str, str, str], Any] = {}
            for r in s.execute(select(Submission.id, Submission.student_id, Submission.part, Submission.notebook,
                                      Submission.submitted_at, Submission.earned, Submission.possible,
                                      Submission.problem).where(*scope)
                               .order_by(*_OLDEST_FIRST)):
                rows[(r.student_id, r.part, r.notebook)] = r
            sums: dict[int, dict[str, tuple[float, float]]] = {}
            for sid, question, earned, possible in s.execute(
                    select(CaseRow.submission_id, CaseRow.question, func.sum(CaseRow.earned),
                           func.sum(CaseRow.possible))
                    .join(Submission, Submission.id == CaseRow.submission_id).where(*scope)
                    .group_by(CaseRow.submission_id, CaseRow.question)):
                sums.setdefault(sid, {})[question] = (round(earned, 6), round(possible, 6))
        return [{"student": r.student_id, "part": r.part, "notebook": r.notebook,
                 "submitted_at": None if r.submitted_at is None else _aware(r.submitted_at), "earned": r.earned,
                 "possible": r.possible, "problem": r.problem, "questions": sums.get(r.id, {})}
                for r in rows.values()]

    def grant_extension(self, student_id: str, part: str, until: datetime, *, granted_by: str = "",
                        reason: str = "") -> None:
        """Give `student_id` until `until` for `part` (replaces an earlier extension of the same part)."""
        if until.tzinfo is None:
            raise GradebookError("an extension needs a time zone (e.g. 2026-03-10T23:59+00:00)")
        until = _utc(until, "an extension")
        with self.session() as s:
            if s.get(Student, student_id) is None:
                raise GradebookError(f"unknown student {student_id!r}: grade or enrol them first")
            ext = s.scalar(select(Extension).where(Extension.student_id == student_id, Extension.part == part))
            if ext is None:
                ext = Extension(student_id=student_id, part=part, until=until)
                s.add(ext)
            ext.until, ext.granted_by, ext.reason = until, granted_by, reason

    def adjust(self, student_id: str, part: str, notebook: str, question: str, points: float, *, by: str,
               reason: str) -> None:
        """Add `points` (negative to remove) to one question; every adjustment is kept with who and why.

        The question is not checked here (the gradebook does not know the course's questions): callers check it
        against the grading bundles (`aiml_course.adjust.adjust_question`).
        """
        if not reason.strip():
            raise GradebookError("an adjustment needs a reason (students and other staff will read it)")
        if isinstance(points, bool) or not isinstance(points, int | float) or not math.isfinite(points):
            raise GradebookError(f"an adjustment needs a finite number of points, got {points!r}")
        with self.session() as s:
            if s.get(Student, student_id) is None:
                raise GradebookError(f"unknown student {student_id!r}")
            s.add(Adjustment(student_id=student_id, part=part, notebook=notebook, question=question,
                             points=float(points), by=by, reason=reason, at=datetime.now(UTC)))

    def adjustments(self) -> dict[tuple[str, str, str, str], float]:
        """(student, part, notebook, question) → total points added by staff."""
        totals: dict[tuple[str, str, str, str], float] = {}
        with self.session() as s:
            for a in s.scalars(select(Adjustment)):
                key = (a.student_id, a.part, a.notebook, a.question)
                totals[key] = totals.get(key, 0.0) + a.points
        return totals

    def extensions(self) -> dict[tuple[str, str], datetime]:
        """(student, part) → extended deadline."""
        with self.session() as s:
            return {(e.student_id, e.part): _aware(e.until) for e in s.scalars(select(Extension))}

    def students(self) -> list[Student]:
        with self.session() as s:
            return list(s.scalars(select(Student).order_by(Student.id)))


# The order that makes a submission "the latest": handed in later, then graded later (A, B, then A again: the
# second A is graded last), then inserted later. A notebook not handed in (no time) comes before any handed in.
_OLDEST_FIRST = (Submission.submitted_at.asc().nulls_first(), Submission.graded_at.asc(), Submission.id.asc())
_NEWEST_FIRST = (Submission.submitted_at.desc().nulls_last(), Submission.graded_at.desc(), Submission.id.desc())


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.attributes["connection"] = connection
    return cfg


def known_revisions() -> tuple[set[str], str]:
    """Every migration this release has, and its newest one (the history never branches)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config(None))
    (head,) = scripts.get_heads()
    return {rev.revision for rev in scripts.walk_revisions()}, str(head)


def migrate(engine: Any) -> None:
    """Bring the database to the newest schema with Alembic.

    Every migration creates only the tables that are missing, so a gradebook made before migrations (by
    create_all) is adopted as it is. A revision this release does not know (a newer release wrote it) is refused
    before anything is changed. On SQLite, foreign keys are off while tables are rebuilt (a rebuilt parent table
    is dropped, and ON DELETE CASCADE would otherwise empty its children).
    """
    from alembic import command

    is_sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        _refuse_unknown_revision(connection, str(engine.url))
        connection.rollback()
        if is_sqlite:  # outside any transaction, where SQLite applies it
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                command.upgrade(_alembic_config(connection), "head")
        finally:
            if is_sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def _refuse_unknown_revision(connection: Any, url: str) -> None:
    from sqlalchemy import inspect

    if "alembic_version" not in inspect(connection).get_table_names():
        return
    revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    known, head = known_revisions()
    if revision is not None and revision not in known:
        raise GradebookError(_newer_release(url, revision, head))


def _check_current(engine: Any, url: str) -> None:
    """A read-only gradebook must already be at this release's schema (it cannot be migrated)."""
    from sqlalchemy import inspect

    with engine.connect() as connection:
        if "alembic_version" not in inspect(connection).get_table_names():
            raise GradebookError(f"the gradebook at {url} is read-only and has no schema version: open it once "
                                 "with write access so it can be brought up to date")
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    known, head = known_revisions()
    if revision not in known:
        raise GradebookError(_newer_release(url, str(revision), head))
    if revision != head:
        raise GradebookError(f"the gradebook at {url} is read-only and at schema {revision}, older than this "
                             f"release's {head}: open it once with write access so it can be migrated")


def _newer_release(url: str, revision: str, head: str) -> str:
    return (f"the gradebook at {url} was written by a newer release of aiml_course (schema {revision}; this "
            f"release knows up to {head}): upgrade aiml_course to open it. The gradebook was left untouched.")


# ── SQLite files: checked before opening, read-only when this process may not write ──────────────────────────

OUR_TABLES = {"students", "submissions", "case_results", "gradebook_meta", "alembic_version"}


def _sqlite_path(url: str) -> Path | None:
    """The file behind an `sqlite:///PATH` URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite:///") or url in ("sqlite:///", "sqlite:///:memory:"):
        return None
    return Path(url.removeprefix("sqlite:///").split("?")[0])


def _check_sqlite_file(path: Path) -> None:
    """Refuse, without changing a byte, a file that is not a gradebook or was written by a newer release.

    Read through a read-only connection: opening it the usual way would already switch its journal to WAL.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        connection = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    except sqlite3.Error:
        return  # cannot even be read: the normal open reports it
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = (connection.execute("SELECT version_num FROM alembic_version").fetchone()
                    if "alembic_version" in tables else None)
    except sqlite3.DatabaseError:
        return  # damaged: the normal open reports it with advice
    finally:
        connection.close()
    if tables and not tables & OUR_TABLES:
        raise GradebookError(f"{path} is an SQLite database but not a gradebook (its tables: "
                             f"{', '.join(sorted(tables)[:8])}); it was left untouched. Pass the gradebook's "
                             "own file with --db, or a new path to start one.")
    if revision is not None:
        known, head = known_revisions()
        if revision[0] not in known:
            raise GradebookError(_newer_release(f"sqlite:///{path}", str(revision[0]), head))


def _not_writable(path: Path) -> bool:
    """An existing file this process cannot write (or whose folder it cannot write its journal into)."""
    return path.is_file() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def _read_only_sqlite_engine(path: Path) -> Any:
    """An engine that can only read `path`: `mode=ro`, or `immutable=1` where no WAL is left to replay and the
    folder cannot hold the shared-memory file a read-only WAL reader needs."""
    wal_left = Path(f"{path}-wal").is_file()
    mode = "mode=ro" if wal_left or os.access(path.parent, os.W_OK) else "immutable=1"
    engine = create_engine(f"sqlite:///file:{quote(str(path))}?{mode}&uri=true", future=True)
    event.listen(engine, "connect", _sqlite_read_pragmas)
    return engine


def _damage_advice(url: str, exc: SQLAlchemyError) -> str:
    """What to do when SQLite finds the file damaged (cut short by a crash or a full disk, or not a database).

    SQLite refuses such a file before writing anything, and a journal or WAL left by a crash is replayed on open
    (committed transactions kept, the unfinished one dropped), so reaching here means the file itself is damaged.
    """
    text = str(getattr(exc, "orig", exc))
    if not url.startswith("sqlite:///") or not any(k in text for k in ("malformed", "not a database")):
        return ""
    path = url.removeprefix("sqlite:///").removeprefix("file:").split("?")[0]
    return (f"\n{path} is damaged (cut short by a crash or a full disk, or not a gradebook); it was left as it is. "
            "Move it aside and restore the latest backup (or salvage rows into a new file with the sqlite3 shell's "
            "`.recover` or `.dump` and pass that file with --db), then run `course grade` again: submissions the "
            "restored gradebook holds are skipped, the others are graded.")


def _utc(when: datetime, what: str) -> datetime:
    """`when` in UTC; no time zone, or no UTC equivalent (year 1 at +14:00), is a GradebookError naming `what`."""
    if when.tzinfo is None:
        raise GradebookError(f"{what} needs a time zone")
    try:
        return when.astimezone(UTC)
    except OverflowError as exc:
        raise GradebookError(f"{what} at {when.isoformat()} has no UTC equivalent") from exc


def _aware(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")      # readers never block the grader
    cur.execute("PRAGMA busy_timeout=30000")    # parallel writers wait instead of failing
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_read_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA query_only=ON")
    cur.close()
