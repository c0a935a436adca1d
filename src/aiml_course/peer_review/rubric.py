"""Checking a submitted peer review against the course rubric.

A review is a JSON object: {"reviewer": "s017", "author": "author-7f3a", "scores": {"correctness": 3, ...},
"comment": "What worked, what did not, and one concrete suggestion."}.
"""

from __future__ import annotations

from typing import Any

from aiml_course.config import RubricItem

MIN_COMMENT_CHARS = 20


def validate_review(review: dict[str, Any], rubric: tuple[RubricItem, ...]) -> list[str]:
    """Every problem with `review` as a sentence a student can act on; empty when the review is valid."""
    if not isinstance(review, dict):
        return [f"a review is a JSON object, got {type(review).__name__}"]
    problems = [f"{field!r} must be a non-empty string" for field in ("reviewer", "author")
                if not isinstance(review.get(field), str) or not review[field].strip()]
    problems += _score_problems(review.get("scores"), rubric)
    problems += _comment_problems(review.get("comment"))
    return problems


def review_total(review: dict[str, Any], rubric: tuple[RubricItem, ...]) -> int:
    """The sum of a valid review's rubric scores."""
    return sum(int(review["scores"][item.id]) for item in rubric)


def _score_problems(scores: Any, rubric: tuple[RubricItem, ...]) -> list[str]:
    if not isinstance(scores, dict):
        return ["'scores' must be an object mapping each rubric item to a whole number of points"]
    known = {item.id for item in rubric}
    problems = []
    for item in rubric:
        if item.id not in scores:
            problems.append(f"no score for rubric item {item.id!r} ({item.description})")
            continue
        value = scores[item.id]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= item.max_points:
            problems.append(f"score for {item.id!r} must be a whole number from 0 to {item.max_points}, "
                            f"got {value!r}")
    problems += [f"unknown rubric item {key!r} (the rubric has: {', '.join(sorted(known))})"
                 for key in scores if key not in known]
    return problems


def _comment_problems(comment: Any) -> list[str]:
    if not isinstance(comment, str) or not comment.strip():
        return [f"'comment' is missing: write at least {MIN_COMMENT_CHARS} characters of feedback"]
    length = len(comment.strip())
    if length < MIN_COMMENT_CHARS:
        return [f"'comment' is too short ({length} characters): write at least {MIN_COMMENT_CHARS}"]
    return []
