"""`course export --format otter-results`: our grades in the shape of otter-grader's results JSON.

One file per student and notebook, `<out>/<student>/<part>/<notebook>.results.json`, shaped like otter's
`GradingResults.to_dict()`: `{question: {name, score, possible, path, all_or_nothing, test_cases,
test_case_results}}`, each test case `{name, body, hidden, points, success_message, failure_message}` and each
result `{test_case, message, passed}`. Scores are the latest graded submission's plus staff adjustments (clamped
to 0..possible, as in the CSV). Hidden cases' messages are the students' feedback lines (no hidden values).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aiml_course.config import Course
from aiml_course.gradebook import CaseRow, Gradebook, Submission


def otter_results(gradebook: Gradebook, part: str | None = None) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(student, part, notebook) → otter-shaped results of the latest graded submission."""
    latest = {(r["student"], r["part"], r["notebook"]): r for r in gradebook.latest(part)}
    adjustments = gradebook.adjustments()
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    with gradebook.session() as s:
        for key in latest:
            sub = s.scalar(select(Submission).where(
                Submission.student_id == key[0], Submission.part == key[1], Submission.notebook == key[2],
                Submission.graded_at.is_not(None)).order_by(Submission.submitted_at.desc(), Submission.id.desc()))
            cases = list(s.scalars(select(CaseRow).where(CaseRow.submission_id == sub.id).order_by(CaseRow.id))) \
                if sub is not None else []
            questions: dict[str, Any] = {}
            for c in cases:
                q = questions.setdefault(c.question, {"name": c.question, "score": 0.0, "possible": 0.0,
                                                      "path": f"{key[2]}.ipynb", "all_or_nothing": False,
                                                      "test_cases": [], "test_case_results": []})
                test_case = {"name": c.case, "body": "", "hidden": bool(c.hidden), "points": c.possible,
                             "success_message": None, "failure_message": None}
                q["test_cases"].append(test_case)
                q["test_case_results"].append({"test_case": test_case, "message": c.message,
                                               "passed": c.earned >= c.possible - 1e-6})
                q["score"] += c.earned
                q["possible"] += c.possible
            for qid, q in questions.items():
                extra = adjustments.get((*key, qid), 0.0)
                q["score"] = round(min(q["possible"], max(0.0, q["score"] + extra)), 6)
                q["possible"] = round(q["possible"], 6)
            out[key] = questions
    return out


def export_otter_results(course: Course, gradebook: Gradebook, folder: Path) -> list[Path]:
    """Write one otter-shaped results JSON per (student, part, notebook) under `folder`; the paths written."""
    written = []
    for (student, part, notebook), data in sorted(otter_results(gradebook).items()):
        if part not in {p.id for p in course.parts}:
            continue
        path = folder / student / part / f"{notebook}.results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
