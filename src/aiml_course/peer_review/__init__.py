"""Peer review: seeded, balanced assignment within cohorts, anonymous notebooks, rubric checks, calibrated grades.

    assign.py      assign_reviews (shuffled circulant), make_aliases
    anonymize.py   anonymize_notebook
    rubric.py      validate_review
    calibrate.py   median_grades, calibrated_grades (PG1, Piech et al. 2013)
    store.py       PeerAssignment and PeerReviewRecord (`peer_reviews`) tables, assign_part, store_reviews
    reviews.py     read_reviews, aggregate_part (from a folder of review files or from `peer_reviews`)
    form.py        review_form, read_form (the review notebook; cells read with ast.literal_eval, never run)
    exchange.py    release_reviews, collect_reviews (nbgrader's exchange, one private packet per reviewer),
                   peer_feedback (an author's reviews, anonymous)
    cli.py         peer_review_cli: `assign PART`, `release PART`, `collect PART`, `aggregate PART [FOLDER]`
"""

from __future__ import annotations

from aiml_course.peer_review.anonymize import anonymize_notebook
from aiml_course.peer_review.assign import PeerReviewError, assign_reviews, make_aliases
from aiml_course.peer_review.calibrate import Calibration, PG1Priors, calibrated_grades, median_grades
from aiml_course.peer_review.cli import peer_review_cli
from aiml_course.peer_review.exchange import collect_reviews, peer_feedback, release_reviews
from aiml_course.peer_review.reviews import Aggregate, aggregate_part, read_reviews
from aiml_course.peer_review.rubric import validate_review
from aiml_course.peer_review.store import PeerAssignment, PeerReviewRecord, assign_part, store_reviews

__all__ = [
    "Aggregate",
    "Calibration",
    "PG1Priors",
    "PeerAssignment",
    "PeerReviewError",
    "PeerReviewRecord",
    "aggregate_part",
    "anonymize_notebook",
    "assign_part",
    "assign_reviews",
    "calibrated_grades",
    "collect_reviews",
    "make_aliases",
    "median_grades",
    "peer_feedback",
    "peer_review_cli",
    "read_reviews",
    "release_reviews",
    "store_reviews",
    "validate_review",
]
