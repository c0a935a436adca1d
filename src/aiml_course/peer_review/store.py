"""The peer-review assignment in the gradebook: one row per (part, reviewer, author), with the author's alias."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from aiml_course.gradebook import Base, Gradebook
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
    Base.metadata.create_all(gradebook.engine)
    with gradebook.session() as s:
        rows = s.scalars(select(PeerAssignment).where(PeerAssignment.part == part))
        pairs = [Pair(r.reviewer, r.author, r.alias, r.seed) for r in rows]
    return sorted(pairs, key=lambda p: (p.reviewer, p.alias))


def replace_pairs(
    gradebook: Gradebook, part: str, assignment: Mapping[str, list[str]], aliases: Mapping[str, str], *, seed: int
) -> list[Pair]:
    """Store `assignment` (reviewer -> authors) as the only assignment of `part`, in one transaction."""
    Base.metadata.create_all(gradebook.engine)
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
    """What `assign_part` stored: the pairs, each submitter's cohort, and the assignment it replaced."""

    pairs: list[Pair]
    cohorts: dict[str, str]
    before: list[Pair]

    @property
    def changed(self) -> bool:
        return self.pairs != self.before


def submitters_of(gradebook: Gradebook, part: str) -> dict[str, str]:
    """Student -> cohort for every active student with a graded submission for `part`."""
    students = {s.id: s for s in gradebook.students()}
    graded = {row["student"] for row in gradebook.latest(part)}
    return {sid: students[sid].cohort for sid in sorted(graded) if sid in students and students[sid].active}


def assign_part(gradebook: Gradebook, part: str, *, k: int, seed: int) -> AssignOutcome:
    """Assign reviews among the students graded for `part` and store them, replacing any earlier assignment."""
    cohorts = submitters_of(gradebook, part)
    if not cohorts:
        raise PeerReviewError(f"no graded submission for {part} in the gradebook: run `course grade {part} DIR` first")
    assignment = assign_reviews(cohorts, k=k, seed=seed)
    before = load_pairs(gradebook, part)
    aliases = make_aliases({a for authors in assignment.values() for a in authors},
                           keep={p.author: p.alias for p in before})
    pairs = replace_pairs(gradebook, part, assignment, aliases, seed=seed)
    return AssignOutcome(pairs, cohorts, before)
