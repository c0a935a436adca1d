"""Who earns a certificate: every part with grading bundles at the policy's share of its points, and enough
completed peer reviews. Pure: reads the bundles and the gradebook, writes nothing."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, text

from aiml_course.config import Course
from aiml_course.gradebook import Gradebook

EPS = 1e-9
PEER_REVIEW_TABLE = "peer_reviews"
PEER_ASSIGNMENT_TABLE = "peer_assignments"


@dataclass(frozen=True)
class Verdict:
    """One student's standing: qualifies or not, and what is missing, in words."""

    student: str
    name: str
    qualifies: bool
    missing: list[str] = field(default_factory=list)
    parts: dict[str, float] = field(default_factory=dict)  # part id → fraction of its points (parts with bundles)
    reviews_done: int = 0


def part_points(course: Course) -> dict[str, dict[str, dict[str, float]]]:
    """Part id → notebook → question → possible points, from `autograder/<part>/*.bundle.json`.

    A part without bundles is left out: it cannot be graded yet, so it cannot be required.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for part in course.parts:
        notebooks: dict[str, dict[str, float]] = {}
        for path in sorted((course.autograder_dir / part.id).glob("*.bundle.json")):
            bundle = json.loads(path.read_text(encoding="utf-8"))
            notebooks[bundle["notebook"]] = {q: float(spec["points"]) for q, spec in bundle["questions"].items()}
        if sum(sum(qs.values()) for qs in notebooks.values()) > 0:
            out[part.id] = notebooks
    return out


def reviews_done(gradebook: Gradebook) -> dict[str, int]:
    """Reviewer → number of their reviews in `peer_reviews` whose pair is still assigned in `peer_assignments`
    (a re-assignment takes back the reviews of pairs it dropped); {} while the tables do not exist.

    Read by table name: certificates do not import the peer-review feature."""
    inspector = inspect(gradebook.engine)
    if not (inspector.has_table(PEER_REVIEW_TABLE) and inspector.has_table(PEER_ASSIGNMENT_TABLE)):
        return {}
    with gradebook.session() as s:
        rows = s.execute(text(
            f"SELECT r.reviewer, COUNT(*) FROM {PEER_REVIEW_TABLE} r JOIN {PEER_ASSIGNMENT_TABLE} a "
            "ON a.part = r.part AND a.reviewer = r.reviewer AND a.author = r.author GROUP BY r.reviewer"))
        return {str(reviewer): int(count) for reviewer, count in rows}


def eligibility(course: Course, gradebook: Gradebook) -> list[Verdict]:
    """A verdict for every active student in the gradebook, in student-id order."""
    points = part_points(course)
    earned = _earned(gradebook)
    reviews = reviews_done(gradebook)
    policy = course.certificate
    verdicts = []
    for student in gradebook.students():
        if not student.active:
            continue
        fractions = {part_id: _fraction(notebooks, earned.get((student.id, part_id), {}))
                     for part_id, notebooks in points.items()}
        missing = [_part_message(part_id, frac, policy.min_part_fraction)
                   for part_id, frac in fractions.items() if frac < policy.min_part_fraction - EPS]
        if not points:
            missing.append("no part has grading bundles yet (run `course build`)")
        done = reviews.get(student.id, 0)
        if done < policy.min_reviews_done:
            missing.append(f"Peer reviews: {done} done, needs {policy.min_reviews_done}")
        verdicts.append(Verdict(student.id, student.name or student.id, not missing, missing, fractions, done))
    return verdicts


def percent(fraction: float) -> int:
    """A fraction as whole percent, rounded down, so '69 %' never reads as meeting a '70 %' bar it misses."""
    return math.floor(round(fraction * 100, 6))


def _part_message(part_id: str, fraction: float, needed: float) -> str:
    return f"Part {part_id}: {percent(fraction)} % of the points, needs {percent(needed)} %"


def _earned(gradebook: Gradebook) -> dict[tuple[str, str], dict[tuple[str, str], float]]:
    """(student, part) → (notebook, question) → points on the latest graded submission, staff adjustments added."""
    out: dict[tuple[str, str], dict[tuple[str, str], float]] = {}
    for row in gradebook.latest():
        questions: dict[str, Any] = row["questions"]
        scores = out.setdefault((row["student"], row["part"]), {})
        for qid, (got, _possible) in questions.items():
            scores[(row["notebook"], qid)] = float(got)
    adjustments = getattr(gradebook, "adjustments", None)  # staff regrades, where this gradebook records them
    if callable(adjustments):
        for (student, part, notebook, qid), pts in adjustments().items():
            scores = out.setdefault((student, part), {})
            scores[(notebook, qid)] = scores.get((notebook, qid), 0.0) + float(pts)
    return out


def _fraction(notebooks: dict[str, dict[str, float]], scores: dict[tuple[str, str], float]) -> float:
    """Share of a part's possible points earned; each question counts between 0 and its own points."""
    possible = sum(sum(qs.values()) for qs in notebooks.values())
    got = sum(min(max(scores.get((nb, q), 0.0), 0.0), pts) for nb, qs in notebooks.items() for q, pts in qs.items())
    return got / possible
