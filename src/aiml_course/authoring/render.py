"""Pure functions: NotebookSpec → student notebook, solution notebook, walkthrough, public checks, bundle."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

import nbformat

from aiml_course.authoring.parse import Cell, Mutant, NotebookSpec, Question
from aiml_course.quiz_policy import FORMATIVE, quiz_sentence
from aiml_notebooks.quiz import LETTERS, answer_hash, lock_explanation

SCHEMA_VERSION = 1
LOCKED = {"editable": False, "deletable": False}


def _cell_id(base: str, suffix: str = "") -> str:
    return hashlib.sha1(f"{base}{suffix}".encode()).hexdigest()[:12]


def _copy(cell: Cell, spec: NotebookSpec, source: str | None = None, **aiml: Any) -> Any:
    node = copy.deepcopy(cell.node)
    if source is not None:
        node.source = source
    node.id = node.get("id") or _cell_id(spec.stem, str(cell.index))
    if node.cell_type == "code":
        node.outputs, node.execution_count = [], None
    meta = {k: v for k, v in node.metadata.items() if k not in ("aiml", "nbgrader", "execution")}
    if aiml:
        meta["aiml"] = aiml
        if aiml.get("role") in ("tests", "quiz"):
            meta.update(LOCKED)
    node.metadata = meta
    return node


def _hints(cell: Cell, spec: NotebookSpec) -> Any:
    body = str(cell.node.source).split("\n", 1)[1] if "\n" in str(cell.node.source) else ""
    hints = [h.strip() for h in re.split(r"(?m)^---\s*$", body) if h.strip()]
    parts = [f"**Stuck on `{cell.qid}`?** Open the hints one at a time — each gives a little more away."]
    for n, hint in enumerate(hints, 1):
        label = f"Hint {n}" + (" (nearly the answer)" if n == len(hints) and n > 1 else "")
        parts.append(f"<details><summary>{label}</summary>\n\n{hint}\n\n</details>")
    return _copy(cell, spec, "\n\n".join(parts), role="hints", question=cell.qid)


def answers_variable(qid: str) -> str:
    return f"{qid}_answers"


def notebook_points(spec: NotebookSpec) -> float:
    return sum(q.points for q in spec.questions.values())


def _quiz_cells(cell: Cell, spec: NotebookSpec, question: Question, *, solved: bool, quiz_policy: str) -> list[Any]:
    what = "for instant feedback" if quiz_policy == FORMATIVE else "(graded: your first answer counts)"
    show = (f"# QUIZ {cell.qid}: pick an answer to each question {what}.\n"
            "from aiml_notebooks import show_quiz\n\n"
            f'show_quiz("{cell.qid}", "{spec.stem}")')
    display = _copy(cell, spec, show, role="quiz", question=cell.qid)
    intro = nbformat.v4.new_markdown_cell(
        f"{quiz_sentence(quiz_policy, question.points, notebook_points(spec))}\n\n"
        "**Your quiz answers.** Write the letter you chose for each question (for example `\"B\"`) and run the "
        "cell. This cell is what gets graded.")
    intro.id = _cell_id(display.id, "intro")
    values = ", ".join(f'{n}: {json.dumps(LETTERS[i.answer]) if solved else "None"}'
                       for n, i in enumerate(question.quiz, 1))
    answer = nbformat.v4.new_code_cell(f"# ANSWER {cell.qid}\n{answers_variable(cell.qid)} = {{{values}}}")
    answer.id = _cell_id(display.id, "answers")
    answer.metadata = {"aiml": {"role": "answer", "question": cell.qid}}
    return [display, intro, answer]


def _tests_cell(cell: Cell, spec: NotebookSpec, *, with_check: bool) -> Any:
    src = str(cell.node.source)
    first, _, body = src.partition("\n")
    header = f"{first}: run this cell to check your answer."
    code = f"{header}\nfrom aiml_notebooks import case, check\n\n{body.rstrip()}\n"
    if with_check:
        code += f'\ncheck("{cell.qid}", "{spec.stem}")'
    return _copy(cell, spec, code.rstrip(), role="tests", question=cell.qid)


def _notebook(spec: NotebookSpec, cells: list[Any], **extra: Any) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.nbformat, nb.nbformat_minor = 4, 5
    meta = {k: v for k, v in spec.nb.metadata.items() if k in ("kernelspec", "language_info")}
    aiml = {k: v for k, v in (spec.nb.metadata.get("aiml") or {}).items() if k in ("module", "title")}
    meta["aiml"] = {**aiml, "notebook": spec.stem, **extra}
    nb.metadata = meta
    nb.cells = cells
    return nb


def mutant_source(spec: NotebookSpec, mutant: Mutant) -> str:
    """The answer cell with its body replaced by the mutant's (the answer's directive line is kept)."""
    answer = next(c for c in spec.cells if c.index == mutant.answer_cell)
    return f"{answer.solution.split(chr(10), 1)[0]}\n{mutant.source}"


def render(spec: NotebookSpec, *, variant: str, mutant: Mutant | None = None, quiz_policy: str = FORMATIVE) -> Any:
    """variant: 'release' (stubs, no hidden material), 'solution' (what the grader runs for references),
    or 'walkthrough' (solutions and walkthrough notes for instructors). With `mutant` (solution variant only),
    the solution with that mutant's body in place of its answer cell's: what `course validate` grades.
    Mutant cells themselves never appear in any variant."""
    assert variant in ("release", "solution", "walkthrough")
    assert mutant is None or variant == "solution"
    out: list[Any] = []
    # the markdown cell introducing a hidden-test or judge cell goes wherever that cell goes
    intro = {a.index for a, b in zip(spec.cells, spec.cells[1:], strict=False) if a.role == "plain"
             and a.node.cell_type == "markdown" and b.role in ("hidden", "judge")}
    for cell in spec.cells:
        if cell.index in intro:
            continue
        if cell.role == "plain":
            out.append(_copy(cell, spec))
        elif cell.role == "lesson":  # demos and heavy lesson cells: shown to students, skipped when grading
            out.append(_copy(cell, spec, role="lesson"))
        elif cell.role == "answer":
            source = cell.stub if variant == "release" else cell.solution
            if mutant is not None and mutant.answer_cell == cell.index:
                source = mutant_source(spec, mutant)
            out.append(_copy(cell, spec, source, role="answer", question=cell.qid))
        elif cell.role == "manual":  # graded by hand: students get a stub, the others the model answer
            out.append(_copy(cell, spec, _manual_source(cell, variant), role="manual", question=cell.qid))
        elif cell.role == "tests":
            out.append(_tests_cell(cell, spec, with_check=variant != "walkthrough"))
        elif cell.role == "quiz":
            out.extend(_quiz_cells(cell, spec, spec.questions[cell.qid], solved=variant != "release",
                                   quiz_policy=quiz_policy))
        elif cell.role == "hints":
            out.append(_hints(cell, spec))
        elif cell.role == "walkthrough" and variant == "walkthrough":
            out.append(_copy(cell, spec, str(cell.node.source), role="walkthrough", question=cell.qid))
        # hidden tests and judges never appear in any notebook a kernel outside the grader runs; mutants nowhere
    return _notebook(spec, out, variant=variant)


def _manual_source(cell: Cell, variant: str) -> str:
    """A manual question's cell: its directive line is dropped; students see a stub, staff the model answer."""
    body = str(cell.node.source).split("\n", 1)[1] if "\n" in str(cell.node.source) else ""
    if variant != "release":
        return body
    return "# YOUR CODE HERE" if cell.node.cell_type == "code" else "YOUR ANSWER HERE"


def _salt(spec: NotebookSpec, qid: str, n: int) -> str:
    return hashlib.sha256(f"{spec.stem}:{qid}:{n}".encode()).hexdigest()[:16]


def quiz_probe_cells(spec: NotebookSpec) -> list[dict[str, Any]]:
    """Probe sources for quiz answers: one case per quiz question, returning the letter the student wrote."""
    cells = []
    for q in spec.questions.values():
        if q.kind != "quiz":
            continue
        var = answers_variable(q.qid)
        names, lines = [], []
        for n in range(1, len(q.quiz) + 1):
            name = f"{q.qid}__{n}"
            names.append(name)
            lines.append(f"def {name}():\n    value = {var}.get({n})\n"
                         f"    return None if value is None else str(value).strip().upper()[:1]\n")
        cells.append({"cell": q.cells[0], "hidden": True, "source": "\n".join(lines), "cases": names})
    return cells


def case_table(spec: NotebookSpec) -> list[dict[str, Any]]:
    """Every gradable case, quiz questions included, as plain data."""
    rows = []
    for q in spec.questions.values():
        if q.kind == "quiz":
            for n, item in enumerate(q.quiz, 1):
                rows.append({"name": f"{q.qid}__{n}", "question": q.qid, "hidden": True,
                             "spec": {"points": item.points, "compare": "equal"},
                             "description": f"quiz question {n}"})
        elif q.kind == "manual":  # no probe: scored by staff (course adjust / formgrader), 0 until then
            rows.append({"name": f"{q.qid}__manual", "question": q.qid, "hidden": False,
                         "spec": {"points": q.points, "manual": True}, "description": f"{q.qid} (graded by hand)"})
        else:
            rows.extend({"name": c.name, "question": q.qid, "hidden": c.hidden, "spec": c.spec,
                         "description": c.description} for c in q.cases)
    return rows


def probe_cells(spec: NotebookSpec) -> list[dict[str, Any]]:
    return [{"cell": p.cell, "hidden": p.hidden, "source": p.source, "cases": list(p.cases)}
            for p in spec.probe_cells] + quiz_probe_cells(spec)


def public_checks(spec: NotebookSpec, references: dict[str, Any], quiz_policy: str = FORMATIVE) -> dict[str, Any]:
    """The student-side sidecar: public cases with their reference values, and quizzes without answers.

    A formative quiz keeps a local key for instant feedback (each answer as a salted hash, each explanation locked
    with the right choice); a graded quiz's key never leaves autograder/: its items carry no hash and no
    explanation, only the question, the choices and the points."""
    questions: dict[str, Any] = {}
    quizzes: dict[str, Any] = {}
    for q in spec.questions.values():
        if q.kind == "quiz" and quiz_policy != FORMATIVE:
            quizzes[q.qid] = {"graded": True, "items": [
                {"question": i.question, "choices": list(i.choices), "points": i.points} for i in q.quiz]}
            continue
        if q.kind == "quiz":
            quizzes[q.qid] = {"items": [
                {"question": i.question, "choices": list(i.choices), "salt": _salt(spec, q.qid, n),
                 "answer_hash": answer_hash(_salt(spec, q.qid, n), i.answer),
                 "explain": lock_explanation(i.explain, _salt(spec, q.qid, n), i.answer), "points": i.points}
                for n, i in enumerate(q.quiz, 1)]}
            continue
        public = [c for c in q.cases if not c.hidden]
        questions[q.qid] = {
            "public": [{"name": c.name, "description": c.description,
                        "spec": {k: v for k, v in c.spec.items() if k != "judge"},
                        "expected": references[c.name]} for c in public],
            "hidden_points": sum(float(c.spec.get("points", 1)) for c in q.cases if c.hidden),
        }
    return {"schema_version": SCHEMA_VERSION, "notebook": spec.stem, "questions": questions, "quizzes": quizzes}


def bundle(spec: NotebookSpec, part: str, references: dict[str, Any]) -> dict[str, Any]:
    """Everything the grader needs for this notebook; never leaves the grader."""
    return {
        "schema_version": SCHEMA_VERSION, "part": part, "notebook": spec.stem,
        "questions": {q.qid: {"kind": q.kind, "points": q.points} for q in spec.questions.values()},
        "cases": case_table(spec), "probe_cells": probe_cells(spec), "judges": spec.judges,
        "references": references,
    }


def dumps_notebook(nb: Any) -> str:
    return nbformat.writes(nb) + ("" if nbformat.writes(nb).endswith("\n") else "\n")


def dumps_json(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
