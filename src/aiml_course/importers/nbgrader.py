"""nbgrader source assignment (source/<assignment>/*.ipynb) → notebooks in our authoring format.

Cell metadata `nbgrader.{solution, grade, locked, points, grade_id, task}` decides each cell's role:

| nbgrader cell | ours |
|---|---|
| solution, not graded (code) | `# ANSWER <grade_id>`: `### BEGIN/END SOLUTION` regions kept; no regions → the whole cell |
| graded, not solution (code): autograder tests | cases of the nearest preceding answer, one case per test cell (nbgrader scores a test cell all or nothing); `### BEGIN/END HIDDEN TESTS` → a hidden case; `### AUTOTEST expr` lines → the values of `expr`, compared outside |
| graded solution (markdown or code): manually graded answer | `<!-- MANUAL … -->` / `# MANUAL …` with the model answer |
| task (markdown with points) | a manual question: the task text stays, a `<!-- MANUAL … -->` cell follows for the grade |
| anything else | copied unchanged |
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiml_course.errors import ImportFailure
from aiml_course.importers.convert import ConvertedTest, convert_test, identifier, tests_cell
from aiml_course.importers.notebook import (
    NotebookBuilder,
    cell_source,
    manual_stub,
    read_notebook,
    with_solution_region,
)
from aiml_course.importers.report import NotebookReport, QuestionLine, TestLine, Unconverted

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
AUTOTEST = re.compile(r"^\s*###\s*(HASHED\s+)?AUTOTEST\s+(.*)$")


def _meta(cell: Any) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader") or {})


def _strip_hidden_markers(src: str) -> tuple[str, bool]:
    hidden = HIDDEN_BEGIN in src
    lines = [ln for ln in src.splitlines() if ln.strip() not in (HIDDEN_BEGIN, HIDDEN_END)]
    return "\n".join(lines), hidden


def _autotests(src: str) -> tuple[str, int]:
    """`### AUTOTEST a; b` lines → `assert (a) == __AUTOTEST__` placeholders, one per expression: the converter then
    treats each expression as a value to return (compared equal with the solution's, as nbgrader's autotest does)."""
    out, n = [], 0
    for line in src.splitlines():
        m = AUTOTEST.match(line)
        if not m:
            out.append(line)
            continue
        for expr in (e.strip() for e in m.group(2).split(";")):
            if expr:
                out.append(f"assert ({expr}) == __AUTOTEST__")
                n += 1
    return "\n".join(out), n


def _convert(src: str, name: str, points: float, hidden: bool) -> ConvertedTest:
    src, autotests = _autotests(src)
    if not autotests:
        return convert_test(src, name=name, points=points, hidden=hidden)
    # every autotest expression is a value compared with the solution's: no literal needed
    test = convert_test(src.replace("== __AUTOTEST__", "== 0"), name=name, points=points, hidden=hidden)
    if test.outside:
        how = test.how.split("; compared")[0] + "; compared equal with the solution's values (### AUTOTEST)"
        return ConvertedTest(test.name, test.source, True, how, points, hidden)
    if "helper" in test.how:  # `### AUTOTEST helper(...)`: the helper's own verdict must be True, inside
        inside = convert_test(src.replace("== __AUTOTEST__", "is True"), name=name, points=points, hidden=hidden)
        return ConvertedTest(inside.name, inside.source, False, test.how, points, hidden)
    raise ValueError("autotest cell needs running inside")


def import_notebook(path: Path, stem: str) -> tuple[Any, NotebookReport]:
    nb = read_notebook(path)
    report = NotebookReport(str(path), stem)
    builder = NotebookBuilder("nbgrader", path, dict(nb.metadata.get("kernelspec") or {}))
    current: QuestionLine | None = None
    pending: list[tuple[ConvertedTest, int]] = []

    def flush() -> None:
        if current is None or not pending:
            return
        for hidden in (False, True):
            group = [t for t, _ in pending if t.hidden == hidden]
            if group:
                directive = f"# {'HIDDEN TESTS' if hidden else 'TESTS'} {current.qid}"
                builder.code(tests_cell(directive, group))
        pending.clear()

    seen: set[str] = set()
    for index, cell in enumerate(nb.cells, 1):
        meta, src = _meta(cell), cell_source(cell)
        grade_id = str(meta.get("grade_id", f"cell{index}"))
        solution, grade, task = bool(meta.get("solution")), bool(meta.get("grade")), bool(meta.get("task"))
        points = float(meta.get("points", 0) or 0)
        if grade and not solution and cell.cell_type == "code":
            if current is None or current.kind != "code":
                report.unconverted.append(Unconverted(index, f"test cell {grade_id}",
                                                      "no answer cell before it to attach its cases to"))
                continue
            if points <= 0:
                report.unconverted.append(Unconverted(index, f"test cell {grade_id}",
                                                      "worth 0 points: nothing to grade (kept out)"))
                continue
            body, hidden = _strip_hidden_markers(src)
            name = _unique(identifier(grade_id, prefix="t"), seen)
            try:
                test = _convert(body, name, points, hidden)
            except ValueError:
                report.unconverted.append(Unconverted(index, f"test cell {grade_id}",
                                                      "### AUTOTEST mixed with statements that cannot be split"))
                continue
            pending.append((test, index))
            current.tests.append(TestLine(name, points, hidden, test.outside, test.how, index))
            current.points += points
            if hidden:
                report.unconverted.append(Unconverted(
                    index, f"visible part of {grade_id}",
                    "the cell also holds hidden tests; nbgrader scores it as one unit, so the whole cell is one "
                    "hidden case (its visible asserts are not shown to students)"))
            continue
        flush()
        if solution and not grade and cell.cell_type == "code":
            qid = _unique(identifier(grade_id), seen)
            builder.answer(qid, with_solution_region(src))
            current = QuestionLine(qid, grade_id, "code", 0.0)
            report.questions.append(current)
            builder.origins[qid] = {"id": grade_id, "kind": "code", "cell": index}
            continue
        written_answer = solution and not grade and cell.cell_type != "code"
        if written_answer or (solution and grade and points <= 0):
            # an ungraded (or 0-point) written answer: students get nbgrader's stub, never the instructor's text
            kind = "code" if cell.cell_type == "code" else "markdown"
            (builder.code if kind == "code" else builder.markdown)(manual_stub(kind))
            report.unconverted.append(Unconverted(index, f"{kind} solution cell {grade_id}",
                                                  "not graded: students get the stub, the model answer is left out"))
            continue
        if task and not points:
            report.unconverted.append(Unconverted(index, f"task {grade_id}", "worth 0 points: kept as text"))
        elif (solution and grade) or task:
            qid = _unique(identifier(grade_id), seen)
            kind = "code" if cell.cell_type == "code" else "markdown"
            if task:
                builder.markdown(src)
                builder.manual(qid, points, "(the task above is graded by hand)", kind="markdown")
            else:
                builder.manual(qid, points, src, kind=kind)
            current = QuestionLine(qid, grade_id, "manual", points)
            report.questions.append(current)
            builder.origins[qid] = {"id": grade_id, "kind": "manual", "cell": index, "task": task}
            continue
        note = builder.plain(cell.cell_type, src)
        if note:
            report.unconverted.append(Unconverted(index, "%matplotlib magic", note))
    flush()
    for q in report.questions:
        if q.kind == "code" and not q.tests:
            report.unconverted.append(Unconverted(builder.origins[q.qid]["cell"], f"answer cell {q.foreign_id}",
                                                  "no test cell grades it: kept as an ungraded exercise"))
    _demote_untested(builder, report)
    title = path.stem.replace("_", " ")
    return builder.notebook(title), report


def _demote_untested(builder: NotebookBuilder, report: NotebookReport) -> None:
    """Our format needs a test per # ANSWER; an untested nbgrader solution cell stays a plain code cell."""
    untested = {q.qid for q in report.questions if q.kind == "code" and not q.tests}
    for cell in builder.cells:
        first = cell_source(cell).split("\n", 1)
        m = re.match(r"^# ANSWER (\w+)$", first[0])
        if m and m.group(1) in untested:
            body = first[1] if len(first) > 1 else ""
            cell.source = "\n".join(ln for ln in body.splitlines()
                                    if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    report.questions = [q for q in report.questions if q.qid not in untested]
    for qid in untested:
        builder.origins.pop(qid, None)


def _unique(name: str, seen: set[str]) -> str:
    base, n = name, 2
    while name in seen:
        name = f"{base}_{n}"[:40]
        n += 1
    seen.add(name)
    return name


def import_assignment(folder: Path) -> list[tuple[str, Any, NotebookReport]]:
    """Every notebook of an nbgrader source assignment folder: (stem, our notebook, its report)."""
    if folder.is_file():
        paths = [folder]
    elif folder.is_dir():
        paths = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    else:
        raise ImportFailure(f"{folder}: no such nbgrader assignment folder or notebook")
    if not paths:
        raise ImportFailure(f"{folder}: holds no notebooks")
    out = []
    for p in paths:
        nb, report = import_notebook(p, p.stem)
        out.append((p.stem, nb, report))
    return out
