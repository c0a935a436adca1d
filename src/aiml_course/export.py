"""`course export`: the gradebook as CSV, one row per student, stable documented columns, numbers as numbers.

Columns, in order:
  student, name, cohort,
  for each part (in course_config.py order):
    one column per question, `<part>/<notebook>:<question>` — points earned on the latest graded submission
    plus any staff adjustments (`course adjust`), kept between 0 and the question's points,
    `<part>:raw` (sum of the questions), `<part>:possible`, `<part>:deadline` (the due date, or the student's
    extension), `<part>:late_penalty` (fraction 0–1 from the late policy), `<part>:score` (raw × (1 − penalty)),
  total, total_possible, percent (weighted by each part's weight, 0–100),
  certificate_id (the student's current certificate, 'urn:uuid:…', from the gradebook's `certificates` table:
    the latest one neither revoked nor expired; empty if none).

Lateness comes from the notebooks handed in: a notebook not handed in has no time and scores 0, but makes
nothing late. Every file is written through `aiml_course.csv_safe` (formula injection neutralised, atomic).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiml_course.certificates.records import current_certificate_ids
from aiml_course.config import Course
from aiml_course.csv_safe import write_csv
from aiml_course.gradebook import Gradebook


def question_columns(course: Course) -> dict[str, list[tuple[str, float]]]:
    """Per part, (column name, possible points) for every question, from the built bundles."""
    out: dict[str, list[tuple[str, float]]] = {}
    for part in course.parts:
        cols = []
        for path in sorted((course.autograder_dir / part.id).glob("*.bundle.json")):
            bundle = json.loads(path.read_text(encoding="utf-8"))
            for qid, q in bundle["questions"].items():
                cols.append((f"{part.id}/{bundle['notebook']}:{qid}", float(q["points"])))
        out[part.id] = cols
    return out


def grade_rows(course: Course, gradebook: Gradebook) -> tuple[list[str], list[dict[str, Any]]]:
    columns = question_columns(course)
    latest = gradebook.latest()
    extensions = gradebook.extensions()
    adjustments = gradebook.adjustments()
    header = ["student", "name", "cohort"]
    for part in course.parts:
        header += [c for c, _ in columns[part.id]]
        header += [f"{part.id}:raw", f"{part.id}:possible", f"{part.id}:deadline", f"{part.id}:late_penalty",
                   f"{part.id}:score"]
    header += ["total", "total_possible", "percent", "certificate_id"]
    certificates = current_certificate_ids(gradebook)
    by_student_part: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for sub in latest:  # grouped once: the table is linear in the number of submissions, not quadratic
        by_student_part.setdefault((sub["student"], sub["part"]), []).append(sub)
    rows = []
    for student in gradebook.students():
        row: dict[str, Any] = {"student": student.id, "name": student.name, "cohort": student.cohort}
        weighted, weights, total, total_possible = 0.0, 0.0, 0.0, 0.0
        for part in course.parts:
            subs = by_student_part.get((student.id, part.id), [])
            raw = 0.0
            for col, possible_q in columns[part.id]:
                nb, qid = col.split("/", 1)[1].split(":", 1)
                sub = next((s for s in subs if s["notebook"] == nb), None)
                earned = sub["questions"].get(qid, (0.0, 0.0))[0] if sub else 0.0
                earned = min(possible_q, max(0.0, earned + adjustments.get((student.id, part.id, nb, qid), 0.0)))
                row[col] = round(earned, 4)
                raw += earned
            possible = sum(p for _, p in columns[part.id])
            deadline = max(part.due, extensions.get((student.id, part.id), part.due))
            handed_in = [s["submitted_at"] for s in subs if s["submitted_at"] is not None]
            lateness = max((when - deadline for when in handed_in), default=timedelta(0))
            penalty = course.late_policy.penalty(lateness) if handed_in else 0.0
            score = raw * (1 - penalty)
            row.update({f"{part.id}:raw": round(raw, 4), f"{part.id}:possible": round(possible, 4),
                        f"{part.id}:deadline": deadline.isoformat(),
                        f"{part.id}:late_penalty": round(penalty, 4), f"{part.id}:score": round(score, 4)})
            total += score
            total_possible += possible
            if possible:
                weighted += part.weight * score / possible
                weights += part.weight
        row.update({"total": round(total, 4), "total_possible": round(total_possible, 4),
                    "percent": round(100 * weighted / weights, 2) if weights else 0.0,
                    "certificate_id": certificates.get(student.id, "")})
        rows.append(row)
    return header, rows


def export_csv(course: Course, gradebook: Gradebook, path: Path) -> Path:
    header, rows = grade_rows(course, gradebook)
    return _write(path, header, rows)


def export_lms(course: Course, gradebook: Gradebook, path: Path, *, lms: str) -> Path:
    """Gradebook import files: `canvas` (Student, ID, SIS User ID, SIS Login ID, Section, one column per part,
    points after late penalties) or `moodle` (ID number, one column per part; match students on "ID number")."""
    _, rows = grade_rows(course, gradebook)
    if lms == "canvas":
        columns = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + [p.title for p in course.parts]
        out = [{"Student": r["name"] or r["student"], "ID": "", "SIS User ID": r["student"],
                "SIS Login ID": r["student"], "Section": r["cohort"],
                **{p.title: r[f"{p.id}:score"] for p in course.parts}} for r in rows]
    elif lms == "moodle":
        columns = ["ID number"] + [p.title for p in course.parts]
        out = [{"ID number": r["student"], **{p.title: r[f"{p.id}:score"] for p in course.parts}} for r in rows]
    else:
        raise ValueError(f"unknown LMS {lms!r}: canvas or moodle")
    return _write(path, columns, out)


def export_cohorts(course: Course, gradebook: Gradebook, path: Path) -> Path:
    """One row per cohort: students, mean and median percent, and the mean score of each part."""
    import statistics

    _, rows = grade_rows(course, gradebook)
    cohorts: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        cohorts.setdefault(r["cohort"], []).append(r)
    columns = ["cohort", "students", "mean_percent", "median_percent"] + [f"{p.id}:mean_score" for p in course.parts]
    out = []
    for cohort, members in sorted(cohorts.items()):
        pct = [m["percent"] for m in members]
        out.append({"cohort": cohort, "students": len(members), "mean_percent": round(statistics.mean(pct), 2),
                    "median_percent": round(statistics.median(pct), 2),
                    **{f"{p.id}:mean_score": round(statistics.mean(m[f"{p.id}:score"] for m in members), 4)
                       for p in course.parts}})
    return _write(path, columns, out)


def _write(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> Path:
    return write_csv(path, columns, rows)
