"""`course adjust`: a member of staff changes one student's points on one question, with who and why.

The question must be one the part's grading bundles define (`NOTEBOOK:QUESTION`), and the points a finite
number: an unknown question would be kept but never counted, and `inf` would pin full marks for ever.
"""

from __future__ import annotations

import math

from aiml_course.config import Course
from aiml_course.errors import GradebookError
from aiml_course.export import question_columns
from aiml_course.gradebook import Gradebook


def parse_question(text: str) -> tuple[str, str]:
    """'NOTEBOOK:QUESTION' → (notebook, question)."""
    notebook, sep, qid = text.partition(":")
    if not sep or not notebook or not qid:
        raise GradebookError(f"{text!r}: write the question as NOTEBOOK:QUESTION, e.g. 2.1-simplest-neuron:neuron")
    return notebook, qid


def adjust_question(course: Course, gradebook: Gradebook, student: str, part: str, question: str, points: float,
                    *, by: str, reason: str) -> tuple[str, str]:
    """Record an adjustment of `points` on `question` ('NOTEBOOK:QUESTION') of `part` after checking both.

    Returns (notebook, question id). Unknown questions (the message lists the part's questions), infinite or
    NaN points and a blank reason are GradebookErrors; nothing is written then.
    """
    part_id = course.part(part).id
    notebook, qid = parse_question(question)
    if isinstance(points, bool) or not isinstance(points, int | float) or not math.isfinite(points):
        raise GradebookError(f"--points must be a finite number (e.g. -1 or 0.5), got {points!r}")
    known = [column.split("/", 1)[1] for column, _ in question_columns(course).get(part_id, [])]
    if f"{notebook}:{qid}" not in known:
        listed = ", ".join(known[:20]) + (" …" if len(known) > 20 else "") if known else (
            f"none: run `course build {part_id}` first")
        raise GradebookError(f"{part_id} has no question {notebook}:{qid}; its questions: {listed}")
    gradebook.adjust(student, part_id, notebook, qid, float(points), by=by, reason=reason)
    return notebook, qid
