"""Peer review: seeded, balanced assignment within cohorts, anonymous notebooks, rubric checks, calibrated grades.

    assign.py      assign_reviews (shuffled circulant), make_aliases
    anonymize.py   anonymize_notebook
    rubric.py      validate_review
    calibrate.py   median_grades, calibrated_grades (PG1, Piech et al. 2013)
    store.py       PeerAssignment table, assign_part
    reviews.py     read_reviews, aggregate_part
    cli.py         peer_review_cli: `assign PART`, `aggregate PART FOLDER`
"""

from __future__ import annotations

from aiml_course.peer_review.anonymize import anonymize_notebook
from aiml_course.peer_review.assign import PeerReviewError, assign_reviews, make_aliases
from aiml_course.peer_review.calibrate import Calibration, PG1Priors, calibrated_grades, median_grades
from aiml_course.peer_review.cli import peer_review_cli
from aiml_course.peer_review.reviews import Aggregate, aggregate_part, read_reviews
from aiml_course.peer_review.rubric import validate_review
from aiml_course.peer_review.store import PeerAssignment, assign_part

__all__ = [
    "Aggregate",
    "Calibration",
    "PG1Priors",
    "PeerAssignment",
    "PeerReviewError",
    "aggregate_part",
    "anonymize_notebook",
    "assign_part",
    "assign_reviews",
    "calibrated_grades",
    "make_aliases",
    "median_grades",
    "peer_review_cli",
    "read_reviews",
    "validate_review",
]
