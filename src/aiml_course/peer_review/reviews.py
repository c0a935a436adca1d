"""Reviews for aggregation: a folder of review files (checked against the rubric and the stored assignment) or the
reviews collected into the gradebook's `peer_reviews` table (`course peer-review collect`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiml_course.config import RubricItem
from aiml_course.gradebook import Gradebook
from aiml_course.peer_review.assign import PeerReviewError
from aiml_course.peer_review.calibrate import Calibration, Review, calibrated_grades, median_grades
from aiml_course.peer_review.rubric import review_total, validate_review
from aiml_course.peer_review.store import Pair, load_pairs, load_reviews


@dataclass(frozen=True)
class Aggregate:
    """A part's peer grades: the reviews used, the median and PG1 grades, and assigned reviews never handed in.

    `aliases` holds every author of the current assignment, reviewed or not; `median` and the calibration only
    those with at least one review (`unreviewed` lists the others). `warnings` say when the calibrated grades
    are only medians (too few reviews) or were clipped to the rubric's range, and which stored reviews were left
    out because their pair is no longer assigned.
    """

    reviews: list[Review]
    aliases: dict[str, str]      # author -> alias
    median: dict[str, float]
    calibration: Calibration
    missing: list[Pair]
    warnings: list[str] = field(default_factory=list)

    @property
    def unreviewed(self) -> list[str]:
        return sorted(a for a in self.aliases if a not in self.median)


def read_reviews(folder: Path, pairs: list[Pair], rubric: tuple[RubricItem, ...]) -> list[Review]:
    """(reviewer, author, total points) for every *.json under `folder`; every problem of every file is raised."""
    files = sorted(p for p in folder.rglob("*.json") if not any(part.startswith(".") for part in p.parts))
    if not files:
        raise PeerReviewError(f"no review files (*.json) under {folder}")
    by_alias = {p.alias: p.author for p in pairs}
    assigned = {(p.reviewer, p.author) for p in pairs}
    reviewers = {p.reviewer for p in pairs}
    seen: dict[tuple[str, str], Path] = {}
    reviews: list[Review] = []
    problems: list[str] = []
    for path in files:
        review, found = _read_one(path, rubric)
        if found:
            problems += [f"{path}: {problem}" for problem in found]
            continue
        reviewer, alias = review["reviewer"], review["author"]
        author = by_alias.get(alias)
        found = _assignment_problems(reviewer, alias, author, assigned, seen.get((reviewer, author or "")),
                                     reviewers=reviewers)
        if found or author is None:
            problems += [f"{path}: {problem}" for problem in found]
            continue
        seen[(reviewer, author)] = path
        reviews.append((reviewer, author, float(review_total(review, rubric))))
    if problems:
        raise PeerReviewError("invalid review files:\n  " + "\n  ".join(problems))
    return reviews


def _read_one(path: Path, rubric: tuple[RubricItem, ...]) -> tuple[Any, list[str]]:
    try:
        review = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, [f"not a readable JSON file ({exc})"]
    return review, validate_review(review, rubric)


def _assignment_problems(
    reviewer: str, alias: str, author: str | None, assigned: set[tuple[str, str]], duplicate_of: Path | None,
    *, reviewers: set[str],
) -> list[str]:
    if reviewer not in reviewers:
        return [f"reviewer {reviewer!r} is not in the stored assignment (unknown student, or no submission)"]
    if author is None:
        return [f"author alias {alias!r} is not in the stored assignment"]
    if (reviewer, author) not in assigned:
        return [f"{reviewer!r} was not asked to review {alias!r}"]
    if duplicate_of is not None:
        return [f"a second review by {reviewer!r} of {alias!r} (the first is {duplicate_of})"]
    return []


def stored_reviews(gradebook: Gradebook, part: str, pairs: list[Pair] | None = None) -> list[Review]:
    """(reviewer, author, total points) for every review of `part` collected into the `peer_reviews` table; with
    `pairs`, only those of a pair still assigned (a re-assignment drops the others: they no longer count)."""
    assigned = None if pairs is None else {(p.reviewer, p.author) for p in pairs}
    reviews = [(r.reviewer, r.author, float(r.total)) for r in load_reviews(gradebook, part)
               if assigned is None or (r.reviewer, r.author) in assigned]
    if not reviews:
        raise PeerReviewError(f"no reviews of {part} in the gradebook for its current assignment: run "
                              f"`course peer-review collect {part}` or pass a FOLDER of review files")
    return reviews


def aggregate_part(
    gradebook: Gradebook, part: str, folder: Path | None, *, rubric: tuple[RubricItem, ...], iterations: int = 2000,
    seed: int = 0,
) -> Aggregate:
    """Median and calibrated (PG1) peer grades of `part` from the review files under `folder`, or (None) from the
    reviews collected into the gradebook."""
    if not rubric:
        raise PeerReviewError("course_config.py declares no peer-review rubric (PeerReview.rubric)")
    pairs = load_pairs(gradebook, part)
    if not pairs:
        raise PeerReviewError(f"no peer-review assignment stored for {part}: run `course peer-review assign {part}`")
    reviews = read_reviews(folder, pairs, rubric) if folder is not None else stored_reviews(gradebook, part, pairs)
    warnings = []
    if folder is None:
        dropped = len(load_reviews(gradebook, part)) - len(reviews)
        if dropped:
            warnings.append(f"{dropped} stored review(s) of pairs no longer assigned (re-assignment) do not count")
    done = {(v, u) for v, u, _ in reviews}
    calibration = calibrated_grades(reviews, iterations=iterations, seed=seed,
                                    score_range=(0.0, float(sum(item.max_points for item in rubric))))
    return Aggregate(
        reviews=reviews,
        aliases={p.author: p.alias for p in pairs},
        median=median_grades(reviews),
        calibration=calibration,
        missing=[p for p in pairs if (p.reviewer, p.author) not in done],
        warnings=warnings + calibration.warnings,
    )
