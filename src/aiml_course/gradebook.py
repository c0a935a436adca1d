"""The gradebook: students, submissions and per-case results, in SQLite by default or PostgreSQL by URL.

Re-grading the same submission (same student, notebook and content hash) replaces its results in one transaction,
so parallel graders and repeated runs never duplicate or lose rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from aiml_course.errors import GradebookError
from aiml_course.grading.engine import NotebookGrade

SCHEMA_VERSION = 1


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
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    graded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
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
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
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
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Meta(Base):
    __tablename__ = "gradebook_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def default_url(root: Path) -> str:
    return f"sqlite:///{(root / 'var' / 'gradebook.sqlite').resolve()}"


class Gradebook:
    """A facade over the database: open it, record grades, read them back."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = create_engine(url, future=True)
            if url.startswith("sqlite"):
                event.listen(self.engine, "connect", _sqlite_pragmas)
            migrate(self.engine)
        except SQLAlchemyError as exc:
            raise GradebookError(f"cannot open the gradebook at {url}: {exc}{_damage_advice(url, exc)}") from exc
        self._session = sessionmaker(self.engine, expire_on_commit=False)
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
            raise GradebookError(f"gradebook write failed and was rolled back: {exc}"
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
        with self.session() as s:
            sub = s.scalar(select(Submission).where(
                Submission.student_id == student_id, Submission.part == part, Submission.notebook == notebook,
                Submission.content_sha256 == content_sha256))
            return sub is not None and sub.graded_at is not None

    def record(self, student_id: str, part: str, grade: NotebookGrade, *, content_sha256: str,
               submitted_at: datetime) -> int:
        """Store one graded notebook; replaces the results of the same submission if it was graded before.

        Two graders inserting the same new submission at once: the loser's transaction is rolled back by the
        unique constraint and simply retried, finding the row the winner wrote.
        """
        for attempt in range(3):
            try:
                return self._record(student_id, part, grade, content_sha256=content_sha256,
                                    submitted_at=submitted_at)
            except GradebookError as exc:
                if not isinstance(exc.__cause__, IntegrityError) or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _record(self, student_id: str, part: str, grade: NotebookGrade, *, content_sha256: str,
                submitted_at: datetime) -> int:
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

        Two queries whatever the size: submissions, then per-question sums done by the database.
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
                               .order_by(Submission.submitted_at, Submission.id)):
                rows[(r.student_id, r.part, r.notebook)] = r
            sums: dict[int, dict[str, tuple[float, float]]] = {}
            for sid, question, earned, possible in s.execute(
                    select(CaseRow.submission_id, CaseRow.question, func.sum(CaseRow.earned),
                           func.sum(CaseRow.possible))
                    .join(Submission, Submission.id == CaseRow.submission_id).where(*scope)
                    .group_by(CaseRow.submission_id, CaseRow.question)):
                sums.setdefault(sid, {})[question] = (round(earned, 6), round(possible, 6))
        return [{"student": r.student_id, "part": r.part, "notebook": r.notebook,
                 "submitted_at": _aware(r.submitted_at), "earned": r.earned, "possible": r.possible,
                 "problem": r.problem, "questions": sums.get(r.id, {})} for r in rows.values()]

    def grant_extension(self, student_id: str, part: str, until: datetime, *, granted_by: str = "",
                        reason: str = "") -> None:
        """Give `student_id` until `until` for `part` (replaces an earlier extension of the same part)."""
        if until.tzinfo is None:
            raise GradebookError("an extension needs a time zone (e.g. 2026-03-10T23:59+00:00)")
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
        """Add `points` (negative to remove) to one question; every adjustment is kept with who and why."""
        if not reason.strip():
            raise GradebookError("an adjustment needs a reason (students and other staff will read it)")
        with self.session() as s:
            if s.get(Student, student_id) is None:
                raise GradebookError(f"unknown student {student_id!r}")
            s.add(Adjustment(student_id=student_id, part=part, notebook=notebook, question=question,
                             points=points, by=by, reason=reason, at=datetime.now(UTC)))

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


def all_metadata() -> Any:
    """The schema of every table, including the feature modules' own (peer review, certificates)."""
    import aiml_course.certificates.records
    import aiml_course.peer_review.store  # noqa: F401  (both register their tables on Base)

    return Base.metadata


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Any) -> None:
    """Bring the database to the newest schema with Alembic; a gradebook made before migrations is stamped."""
    from alembic import command
    from sqlalchemy import inspect

    with engine.begin() as connection:
        tables = set(inspect(connection).get_table_names())
        cfg = _alembic_config(connection)
        if "students" in tables and "alembic_version" not in tables:
            all_metadata().create_all(connection)  # made by create_all before migrations existed
            command.stamp(cfg, "head")
        else:
            command.upgrade(cfg, "head")


def _damage_advice(url: str, exc: SQLAlchemyError) -> str:
    """What to do when SQLite finds the file damaged (cut short by a crash or a full disk, or not a database).

    SQLite refuses such a file before writing anything, and a journal or WAL left by a crash is replayed on open
    (committed transactions kept, the unfinished one dropped), so reaching here means the file itself is damaged.
    """
    text = str(getattr(exc, "orig", exc))
    if not url.startswith("sqlite:///") or not any(k in text for k in ("malformed", "not a database")):
        return ""
    path = url.removeprefix("sqlite:///").split("?")[0]
    return (f"\n{path} is damaged (cut short by a crash or a full disk, or not a gradebook); it was left as it is. "
            "Move it aside and restore the latest backup (or salvage rows into a new file with the sqlite3 shell's "
            "`.recover` or `.dump` and pass that file with --db), then run `course grade` again: submissions the "
            "restored gradebook holds are skipped, the others are graded.")


def _aware(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")      # readers never block the grader
    cur.execute("PRAGMA busy_timeout=30000")    # parallel writers wait instead of failing
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
