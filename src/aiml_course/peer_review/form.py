"""The review form: one notebook per reviewer, one cell per author to fill in, read back without running it.

Each review cell holds `review = {"author": "<alias>", "scores": {<rubric item>: None, ...}, "comment": "..."}`
(tagged in its metadata with the alias). Reading parses the cell with `ast` and takes its value with
`ast.literal_eval`: nothing a reviewer writes is ever executed. Each review is checked against the rubric
(rubric.py) and the reviewer's assigned aliases; a cell left as released counts as not reviewed.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiml_course.config import RubricItem
from aiml_course.peer_review.assign import PeerReviewError
from aiml_course.peer_review.rubric import MIN_COMMENT_CHARS, validate_review

FORM = "review.ipynb"
FORM_KEY = "aiml_peer_review"      # cell metadata of each form cell: {"alias": ..., "schema_version": 1}
FORM_SCHEMA_VERSION = 1
MAX_CELL_CHARS = 20_000


def check_rubric(rubric: Any) -> tuple[RubricItem, ...]:
    """The course's rubric, or a PeerReviewError saying what is wrong with it (empty, or not RubricItem entries)."""
    if not rubric:
        raise PeerReviewError("course_config.py declares no peer-review rubric: add "
                              "PeerReview(rubric=(RubricItem('correctness', 'Does it work?', 4), ...))")
    bad = [f"entry {i + 1} ({item!r})" for i, item in enumerate(rubric) if not isinstance(item, RubricItem)]
    if bad:
        raise PeerReviewError("PeerReview.rubric must hold RubricItem(id, description, max_points) entries; "
                              "not: " + ", ".join(bad))
    return tuple(rubric)


def review_form(part: str, files: dict[str, list[str]], rubric: tuple[RubricItem, ...]) -> dict[str, Any]:
    """The form notebook: instructions first, the rubric, then a heading and a review cell per alias in `files`."""
    cells = [_markdown(_instructions(part, len(files), rubric)), _markdown(_rubric_table(rubric))]
    for alias, names in files.items():
        listing = "\n".join(f"- `{name}`" for name in names)
        cells.append(_markdown(f"## Review of {alias}\n\nTheir notebook(s) in this folder:\n\n{listing}"))
        cells.append({"cell_type": "code", "execution_count": None, "outputs": [],
                      "metadata": {FORM_KEY: {"alias": alias, "schema_version": FORM_SCHEMA_VERSION}},
                      "source": form_cell_source(alias, rubric)})
    for i, cell in enumerate(cells):
        cell["id"] = f"peer-review-{i}"
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}}}


def form_cell_source(alias: str, rubric: tuple[RubricItem, ...]) -> str:
    """The cell a reviewer fills in for one author: None for each score, an empty comment."""
    lines = ["review = {", f"    \"author\": {json.dumps(alias)},  # keep this line as it is", "    \"scores\": {"]
    for item in rubric:
        about = " ".join(item.description.split())
        lines.append(f"        {json.dumps(item.id)}: None,  # 0 to {item.max_points}: {about}")
    return "\n".join([*lines, "    },", '    "comment": """', "", '""",', "}"])


def _instructions(part: str, n: int, rubric: tuple[RubricItem, ...]) -> str:
    example = rubric[0]
    return f"""# Peer review: {part}

You review **{n}** classmates' project{'s' if n != 1 else ''}. Names are hidden: each author appears as an alias
such as `author-7f3a`, and their notebooks are in this folder as `<alias>__<notebook>.ipynb`.

**How to review**

1. Open each author's notebook and read it from top to bottom. Outputs were cleared so that no name can slip
   through: to see results, copy the notebook into your own folder of this part and run it there.
2. Come back to this notebook and fill in the cell under that author's heading:
   - replace each `None` with a whole number of points, from 0 to the maximum in the rubric below
     (for example `"{example.id}": {example.max_points},`);
   - write your comment between the triple quotes, at least {MIN_COMMENT_CHARS} characters: what works, what does
     not, and one concrete suggestion;
   - keep the `"author"` line as it is.
3. Save, then submit this assignment from the Assignment List. You may submit again: the last submission counts.

Your cells are read as text, never run: only plain values count (numbers, text in quotes). A review with a missing
or out-of-range score, or without a comment, is not counted, and you are told why. Do not sign your comments:
authors see them as "Reviewer 1", "Reviewer 2", ..."""


def _rubric_table(rubric: tuple[RubricItem, ...]) -> str:
    rows = "\n".join(f"| `{item.id}` | {' '.join(item.description.split())} | 0 to {item.max_points} |"
                     for item in rubric)
    return f"## Rubric\n\n| score | what to judge | points |\n|---|---|---|\n{rows}"


def _markdown(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


@dataclass
class FormReading:
    """What one reviewer's form says: valid reviews by alias, invalid ones with reasons, aliases not reviewed."""

    valid: dict[str, dict[str, Any]] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def read_form(nb_json: Any, *, reviewer: str, assigned: Sequence[str], known: Iterable[str],
              rubric: tuple[RubricItem, ...]) -> FormReading:
    """Read every review cell of a filled-in form without running it; `assigned` are the reviewer's aliases."""
    reading = FormReading()
    cells = nb_json.get("cells") if isinstance(nb_json, dict) else None
    if not isinstance(cells, list):
        reading.invalid.append(f"{FORM} is not a notebook (no list of cells)")
        reading.missing = list(assigned)
        return reading
    for n, cell in enumerate(cells, 1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            _read_cell(cell, n, reviewer, set(assigned), set(known), rubric, reading)
    reading.missing = [a for a in assigned if a not in reading.valid
                       and not any(line.startswith(f"{a}:") for line in reading.invalid)]
    return reading


def _read_cell(cell: dict[str, Any], n: int, reviewer: str, assigned: set[str], known: set[str],
               rubric: tuple[RubricItem, ...], reading: FormReading) -> None:
    """Read one code cell into `reading`; code cells that are not review cells are ignored."""
    meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    tag = meta.get(FORM_KEY)
    tagged_as = str(tag.get("alias", f"cell {n}")) if isinstance(tag, dict) else None
    value, problem = literal_review(_text(cell.get("source", "")))
    if not problem and (not isinstance(value, dict) or "author" not in value):
        problem = "has no \"author\" line: restore it as in the form"
    if problem:
        if tagged_as is not None:  # a scratch cell of the reviewer's own is none of our business
            reading.invalid.append(f"{tagged_as}: the review cell {problem}")
        return
    alias = value.get("author")
    where = alias if isinstance(alias, str) else f"cell {n}"
    if _is_blank(value):
        return  # not filled in: reported as not reviewed
    found = []  # a non-string alias is reported by validate_review
    if isinstance(alias, str) and alias not in assigned:
        found.append(f"you were not asked to review {alias!r}" if alias in known else f"unknown author alias {alias!r}")
    if isinstance(alias, str) and alias in reading.valid:
        found.append("a second review of the same author (only the first counts)")
    review = {"reviewer": reviewer, "author": alias, "scores": value.get("scores"),
              "comment": value.get("comment")}
    found += validate_review(review, rubric)
    extra = sorted(set(value) - {"author", "scores", "comment"}, key=str)
    found += [f"unknown key {key!r} (a review has only 'author', 'scores' and 'comment')" for key in extra]
    if found:
        reading.invalid += [f"{where}: {why}" for why in found]
        return
    reading.valid[alias] = {**review, "comment": review["comment"].strip()}


def literal_review(source: str) -> tuple[Any, str]:
    """The dict written in a review cell (`review = {...}` or a bare `{...}`), read without running anything."""
    if len(source) > MAX_CELL_CHARS:
        return None, f"is too long ({len(source)} characters; at most {MAX_CELL_CHARS})"
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        return None, f"is not valid Python{f' (line {line})' if line else ''}: {getattr(exc, 'msg', exc)}"
    if not tree.body:
        return None, "is empty: restore the form's `review = {...}`"
    node = tree.body[0]
    value = node.value if isinstance(node, ast.Assign | ast.Expr) and len(tree.body) == 1 else None
    if not isinstance(value, ast.Dict):
        return None, "must hold exactly one `review = {...}`, as in the form"
    try:
        return ast.literal_eval(value), ""
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None, "may hold only plain values (whole numbers, text in quotes), not names or calculations"


def _is_blank(value: dict[str, Any]) -> bool:
    """A form cell nobody filled in: every score still None and no comment."""
    scores = value.get("scores")
    comment = value.get("comment")
    return (isinstance(scores, dict) and all(v is None for v in scores.values())
            and (comment is None or (isinstance(comment, str) and not comment.strip())))


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else source if isinstance(source, str) else ""
