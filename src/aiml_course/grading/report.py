"""Per-submission feedback: an HTML page and a JSON file with each check's message and points.

Messages come from the judge, which never puts a hidden expected value or hidden test code into them.
"""

from __future__ import annotations

import html
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiml_course.config import Course
from aiml_course.grading.engine import NotebookGrade


def deadline_line(course: Course, part: str, submitted_at: datetime | None, extension: datetime | None) -> str:
    """The deadline that applies (with an extension, if any), and what the late policy makes of this submission
    (`submitted_at` None: the notebook was not handed in, so it has no time and is not late)."""
    due = course.part(part).due
    deadline = max(due, extension) if extension else due
    text = f"deadline {deadline:%Y-%m-%d %H:%M %Z}".rstrip()
    if extension and extension > due:
        text += f" (extended from {due:%Y-%m-%d %H:%M %Z})".replace(" )", ")")
    if submitted_at is None:
        return text + " · not handed in"
    lateness = submitted_at - deadline
    if lateness <= timedelta(0):
        return text + " · on time"
    penalty = course.late_policy.penalty(lateness)
    hours = lateness.total_seconds() / 3600
    late = f"{hours:.1f} h late" if hours < 48 else f"{hours / 24:.1f} days late"
    if penalty == 0:
        return text + f" · {late}, within the grace period: no penalty"
    return text + f" · {late}: the late policy takes {penalty:.0%} of this part's score"


def render_html(course: Course, part: str, student: str, grade: NotebookGrade, submitted_at: datetime | None,
                extension: datetime | None = None) -> str:
    e = html.escape
    rows = []
    for qid, (earned, possible) in grade.by_question().items():
        rows.append(f"<tr><th colspan=2>{e(qid)}</th><th class=num>{earned:g} / {possible:g}</th></tr>")
        for c in (c for c in grade.cases if c.question == qid):
            kind = "hidden" if c.hidden else "public"
            rows.append(f"<tr class={'ok' if c.earned >= c.possible else 'bad'}><td>{kind}</td>"
                        f"<td>{e(c.message)}</td><td class=num>{c.earned:g} / {c.possible:g}</td></tr>")
    problem = f"<p class=problem>{e(grade.problem)}</p>" if grade.problem else ""
    errors = "".join(f"<li>cell {e(str(c.get('cell')))}: {e(str(c.get('name')))}: {e(str(c.get('message')))}</li>"
                     for c in grade.cell_errors)
    errors_html = f"<h2>Cells that raised an error</h2><ul>{errors}</ul>" if errors else ""
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width, initial-scale=1">
<title>{e(grade.notebook)} — feedback for {e(student)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:56rem;margin:1rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;
vertical-align:top}}.num{{text-align:right;white-space:nowrap}}.ok td{{color:#155724}}.bad td{{color:#8a1c1c}}
.problem{{background:#fff3cd;padding:.5rem}}</style></head><body>
<h1>{e(course.title)}</h1>
<p><b>{e(part)}</b> · <b>{e(grade.notebook)}</b> · student <b>{e(student)}</b> · submitted {e(submitted_at.isoformat() if submitted_at else 'never')}</p>
<p class=deadline>{e(deadline_line(course, part, submitted_at, extension))}</p>
<p><b>Score: {grade.earned:g} / {grade.possible:g}</b></p>{problem}
<table>{''.join(rows)}</table>{errors_html}
</body></html>
"""


def feedback_notebook(submission: dict[str, Any], grade: NotebookGrade) -> dict[str, Any]:
    """The student's own notebook with a summary on top and each question's results right after its answer cell.

    Outputs are dropped (they were the student's); hidden checks appear only as their message and points.
    """
    by_q = grade.by_question()
    summary = [f"# Feedback: {grade.notebook}", "", f"**Score: {grade.earned:g} / {grade.possible:g}**", ""]
    if grade.problem:
        summary += [f"> ⚠ {grade.problem}", ""]
    summary += ["| question | points |", "|---|---|"] + [f"| {q} | {e:g} / {p:g} |" for q, (e, p) in by_q.items()]
    cells: list[dict[str, Any]] = [_md("\n".join(summary), "feedback-summary")]
    placed: set[str] = set()
    for cell in submission.get("cells", []):
        if not isinstance(cell, dict):
            continue
        copy = {k: v for k, v in cell.items() if k not in ("outputs", "execution_count")}
        if copy.get("cell_type") == "code":
            copy.update(outputs=[], execution_count=None)
        cells.append(copy)
        aiml = _aiml(cell)
        qid = aiml.get("question")
        if aiml.get("role") == "answer" and isinstance(qid, str) and qid in by_q and qid not in placed:
            placed.add(qid)
            cells.append(_md(_question_feedback(grade, qid), f"feedback-{qid}"))
    for qid in by_q:  # answer cells the student deleted: their feedback goes at the end
        if qid not in placed:
            cells.append(_md(_question_feedback(grade, qid), f"feedback-{qid}"))
    meta = submission.get("metadata") if isinstance(submission.get("metadata"), dict) else {}
    return {"cells": cells, "metadata": {k: v for k, v in meta.items() if k in ("kernelspec", "language_info")},
            "nbformat": 4, "nbformat_minor": 5}


def _question_feedback(grade: NotebookGrade, qid: str) -> str:
    earned, possible = grade.by_question()[qid]
    lines = [f"**Feedback on `{qid}`: {earned:g} / {possible:g} points**", ""]
    for c in (c for c in grade.cases if c.question == qid):
        lines.append(f"- {'hidden' if c.hidden else 'public'} ({c.earned:g}/{c.possible:g}): {c.message}")
    return "\n".join(lines)


def _aiml(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's `metadata.aiml`, or {} when the student's file has something else there."""
    meta = cell.get("metadata")
    aiml = meta.get("aiml") if isinstance(meta, dict) else None
    return aiml if isinstance(aiml, dict) else {}


def _md(text: str, cell_id: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {"aiml": {"role": "feedback"}}, "source": text}


def write_report(folder: Path, course: Course, part: str, student: str, grade: NotebookGrade,
                 submitted_at: datetime | None, submission: dict[str, Any] | None = None,
                 extension: datetime | None = None) -> Path:
    """Write the HTML page, the feedback notebook and, last, the JSON (`report_written` looks for it), each file
    atomically: a run that dies half-way leaves no half file and no JSON, so the next run writes the report."""
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{grade.notebook}.html"
    _write_atomically(page, render_html(course, part, student, grade, submitted_at, extension))
    if submission is not None:
        nb = feedback_notebook(submission, grade)
        _write_atomically(folder / f"{grade.notebook}.feedback.ipynb", json.dumps(nb, indent=1))
    data = {"student": student, "part": part, "submitted_at": submitted_at.isoformat() if submitted_at else None,
            **grade.to_dict()}
    _write_atomically(folder / f"{grade.notebook}.json", json.dumps(data, indent=1))
    return page


def report_written(folder: Path, notebook: str) -> bool:
    """Was the report of `notebook` in `folder` written to the end (its JSON, written last, is there)?"""
    return (folder / f"{notebook}.json").is_file()


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
