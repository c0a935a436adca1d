"""Peer review in the gradebook: the assignment (`peer_assignments`: one row per part, reviewer and author, with the
author's alias) and the collected reviews (`peer_reviews`: one valid review per part, reviewer and author).

Certificates count the rows of `peer_reviews` per reviewer (`certificates.eligibility.reviews_done`), so only
complete, rubric-valid reviews of an assigned author are ever stored; collecting again updates a row in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from aiml_course.errors import GradebookError
from aiml_course.gradebook import Base, Gradebook, UTCDateTime
from aiml_course.peer_review.assign import PeerReviewError, assign_reviews, make_aliases


class PeerAssignment(Base):
    __tablename__ = "peer_assignments"
    __table_args__ = (UniqueConstraint("part", "reviewer", "author"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    part: Mapped[str] = mapped_column(String(100), index=True)
    reviewer: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(64))
    alias: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class Pair:
    """One stored review to write: `reviewer` reviews `author`, who appears to them as `alias`."""

    reviewer: str
    author: str
    alias: str
    seed: int


def load_pairs(gradebook: Gradebook, part: str) -> list[Pair]:
    """The stored assignment for `part`, sorted by reviewer then alias."""
    with gradebook.session() as s:
        rows = s.scalars(select(PeerAssignment).where(PeerAssignment.part == part))
        pairs = [Pair(r.reviewer, r.author, r.alias, r.seed) for r in rows]
    return sorted(pairs, key=lambda p: (p.reviewer, p.alias))


def replace_pairs(
    gradebook: Gradebook, part: str, assignment: Mapping[str, list[str]], aliases: Mapping[str, str], *, seed: int
) -> list[Pair]:
    """Store `assignment` (reviewer -> authors) as the only assignment of `part`, in one transaction."""
    pairs = [Pair(reviewer, author, aliases[author], seed)
             for reviewer, authors in assignment.items() for author in authors]
    with gradebook.session() as s:
        s.execute(delete(PeerAssignment).where(PeerAssignment.part == part))
        s.add_all(PeerAssignment(part=part, reviewer=p.reviewer, author=p.author, alias=p.alias, seed=p.seed)
                  for p in pairs)
    return sorted(pairs, key=lambda p: (p.reviewer, p.alias))


def stored_aliases(gradebook: Gradebook, part: str) -> dict[str, str]:
    """Author -> alias as already stored for `part` (kept on re-assignment so handed-out aliases stay valid)."""
    return {p.author: p.alias for p in load_pairs(gradebook, part)}


@dataclass(frozen=True)
class AssignOutcome:
    """What `assign_part` stored: the pairs, each submitter's cohort, the assignment it replaced, and warnings
    (cohorts too small for k reviews each)."""

    pairs: list[Pair]
    cohorts: dict[str, str]
    before: list[Pair]
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.pairs != self.before


def submitters_of(gradebook: Gradebook, part: str) -> dict[str, str]:
    """Student -> cohort for every active student who handed in at least one notebook of `part` (a student whose
    folder was empty is graded 0 on every notebook, has nothing to review, and reviews nobody)."""
    students = {s.id: s for s in gradebook.students()}
    handed_in = {row["student"] for row in gradebook.latest(part) if row["submitted_at"] is not None}
    return {sid: students[sid].cohort for sid in sorted(handed_in) if sid in students and students[sid].active}


def small_cohort_warnings(cohorts: Mapping[str, str], k: int) -> list[str]:
    """A sentence for each cohort with too few submitters for everyone to get k reviews."""
    sizes: dict[str, int] = {}
    for cohort in cohorts.values():
        sizes[cohort] = sizes.get(cohort, 0) + 1
    out = []
    for cohort, n in sorted(sizes.items()):
        if n - 1 < k:
            got = "no reviews at all" if n == 1 else f"only {n - 1} review(s) each"
            out.append(f"cohort {cohort!r} has {n} student(s) with a submission: k={k} is more than possible, "
                       f"they get {got}")
    return out


def assign_part(gradebook: Gradebook, part: str, *, k: int, seed: int) -> AssignOutcome:
    """Assign reviews among the students who handed in work for `part` and store them, replacing any earlier
    assignment (reviews collected for pairs no longer assigned stay stored but no longer count)."""
    cohorts = submitters_of(gradebook, part)
    if not cohorts:
        raise PeerReviewError(f"no graded submission for {part} in the gradebook: run `course grade {part} DIR` first")
    assignment = assign_reviews(cohorts, k=k, seed=seed)
    before = load_pairs(gradebook, part)
    aliases = make_aliases({a for authors in assignment.values() for a in authors},
                           keep={p.author: p.alias for p in before})
    pairs = replace_pairs(gradebook, part, assignment, aliases, seed=seed)
    return AssignOutcome(pairs, cohorts, before, small_cohort_warnings(cohorts, k))


class PeerReviewRecord(Base):
    """One collected, valid review: `reviewer`'s rubric scores and comment for `author` (seen as `alias`)."""

    __tablename__ = "peer_reviews"  # certificates.eligibility.PEER_REVIEW_TABLE counts its rows per reviewer
    __table_args__ = (UniqueConstraint("part", "reviewer", "author"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    part: Mapped[str] = mapped_column(String(100), index=True)
    reviewer: Mapped[str] = mapped_column(String(64), index=True)
    author: Mapped[str] = mapped_column(String(64))
    alias: Mapped[str] = mapped_column(String(64))
    scores: Mapped[str] = mapped_column(Text)              # JSON object: rubric item id -> whole points
    total: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class StoredReview:
    """A review as stored in `peer_reviews` (or about to be)."""

    part: str
    reviewer: str
    author: str
    alias: str
    scores: dict[str, int]
    total: int
    comment: str
    submitted_at: datetime


@dataclass(frozen=True)
class StoreOutcome:
    """What `store_reviews` did: (reviewer, alias) pairs added, updated, or found unchanged."""

    added: list[tuple[str, str]]
    updated: list[tuple[str, str]]
    unchanged: list[tuple[str, str]]


def store_reviews(gradebook: Gradebook, reviews: Iterable[StoredReview], *,
                  collected_at: datetime | None = None) -> StoreOutcome:
    """Insert or update each review (keyed by part, reviewer, author) in one transaction; never duplicates."""
    todo = list(reviews)
    when = collected_at or datetime.now(UTC)
    for attempt in range(3):  # a parallel collector inserting the same review first: retry and update it
        try:
            return _store(gradebook, todo, when)
        except GradebookError as exc:
            if not isinstance(exc.__cause__, IntegrityError) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store(gradebook: Gradebook, reviews: list[StoredReview], when: datetime) -> StoreOutcome:
    outcome = StoreOutcome([], [], [])
    with gradebook.session() as s:
        for r in reviews:
            row = s.scalar(select(PeerReviewRecord).where(
                PeerReviewRecord.part == r.part, PeerReviewRecord.reviewer == r.reviewer,
                PeerReviewRecord.author == r.author))
            scores = json.dumps(r.scores, sort_keys=True)
            if row is None:
                s.add(PeerReviewRecord(part=r.part, reviewer=r.reviewer, author=r.author, alias=r.alias,
                                       scores=scores, total=r.total, comment=r.comment,
                                       submitted_at=r.submitted_at, collected_at=when))
                outcome.added.append((r.reviewer, r.alias))
                continue
            if (row.alias, row.scores, row.total, row.comment) == (r.alias, scores, r.total, r.comment):
                outcome.unchanged.append((r.reviewer, r.alias))
                continue
            row.alias, row.scores, row.total, row.comment = r.alias, scores, r.total, r.comment
            row.submitted_at, row.collected_at = r.submitted_at, when
            outcome.updated.append((r.reviewer, r.alias))
    return outcome


def load_reviews(gradebook: Gradebook, part: str, *, author: str | None = None) -> list[StoredReview]:
    """The stored reviews of `part` (only those of `author` if given), by reviewer then alias."""
    query = select(PeerReviewRecord).where(PeerReviewRecord.part == part)
    if author is not None:
        query = query.where(PeerReviewRecord.author == author)
    with gradebook.session() as s:
        rows = list(s.scalars(query.order_by(PeerReviewRecord.reviewer, PeerReviewRecord.alias)))
    return [StoredReview(r.part, r.reviewer, r.author, r.alias, json.loads(r.scores), r.total, r.comment,
                         _aware(r.submitted_at)) for r in rows]


def _aware(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
