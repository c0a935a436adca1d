"""Checks on what a build writes: nothing hidden reaches student-facing files (read the output, do not trust the
transform), and no case decides its own verdict inside the sandbox."""

from __future__ import annotations

import ast
import json
import re

from aiml_course.authoring.parse import BEGIN, END, Case, NotebookSpec
from aiml_course.errors import AuthoringError, LeakError

MARKERS = (BEGIN, END, "BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "# JUDGE", "WALKTHROUGH", "# MUTANT")
MUTANT_MARKER = re.compile(r"#\s*MUTANT\b")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _regions(source: str) -> list[str]:
    """The text of each solution region of an answer cell."""
    out, current, inside = [], [], False
    for line in source.splitlines():
        if line.strip() == BEGIN:
            inside, current = True, []
        elif line.strip() == END:
            inside = False
            out.append("\n".join(current))
        elif inside:
            current.append(line)
    return out


def _readable_text(rel: str, content: str) -> str:
    """What a person would read in the file: for notebooks, the cell sources one after another."""
    if rel.endswith(".ipynb"):
        nb = json.loads(content)
        return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                         for c in nb["cells"])
    return content


def scan_for_leaks(spec: NotebookSpec, files: dict[str, str]) -> None:
    """Raise LeakError if a release file holds a marker, a solution region, a hidden case or a walkthrough."""
    secrets: list[tuple[str, int, str, str]] = []  # (normalised text, cell, question, what)
    for cell in spec.cells:
        src = str(cell.node.source)
        if cell.role == "answer":
            for region in _regions(src):
                text = _norm(region)
                # a one-liner such as `return x * w + b` may also appear in the lesson; multi-line blocks may not
                if region.count("\n") >= 1 and len(text) >= 20:
                    secrets.append((text, cell.index, cell.qid, "solution code"))
        elif cell.role == "manual":  # a hand-graded question's model answer: students get a stub
            text = _norm(src.split("\n", 1)[1] if "\n" in src else "")
            if len(text) >= 20:
                secrets.append((text, cell.index, cell.qid, "a manual question's model answer"))
        elif cell.role in ("hidden", "judge", "walkthrough"):
            body = src.split("\n", 1)[1] if "\n" in src else ""
            for chunk in re.split(r"\n(?=@case|def )", body):
                text = _norm(chunk)
                # a bare `@case(points=…)` line is the same in public and hidden cells: not a secret by itself
                if len(text) >= 40 and not (text.startswith("@case(") and "\n" not in chunk.strip()):
                    secrets.append((text, cell.index, cell.qid, f"{cell.role} text"))
    hidden_names = [c.name for c in spec.cases() if c.hidden]
    for rel, content in files.items():
        flat = _norm(_readable_text(rel, content))
        for marker in MARKERS:
            if marker in content:
                raise LeakError(f"{rel} would contain the marker {marker!r}", notebook=spec.path)
        for name in hidden_names:
            if re.search(rf"\b{re.escape(name)}\b", content):
                cell = next(c.cell for c in spec.cases() if c.name == name)
                raise LeakError(f"{rel} would contain hidden case {name}", notebook=spec.path, cell=cell)
        for text, cell_index, qid, what in secrets:
            if text in flat:
                raise LeakError(f"{rel} would contain {what}", notebook=spec.path, cell=cell_index,
                                question=qid or None)


def scan_for_mutants(spec: NotebookSpec, files: dict[str, str]) -> None:
    """Raise LeakError if any generated file (release, bundle, walkthrough) holds a mutant or its directive.

    A mutant's description (its comment line) and its code count, unless that text also appears outside the
    mutant cells of the source (a mutant may legitimately repeat a line of the lesson).
    """
    mutants = spec.mutants()
    if not mutants:
        return
    elsewhere = _norm("\n".join(str(c.node.source) for c in spec.cells if c.role != "mutant"))
    secrets: list[tuple[str, int, str]] = []
    for m in mutants:
        code = "\n".join(m.source.split("\n")[1:])
        for text in (m.description, code):
            normalised = _norm(text)
            if len(normalised) >= 20 and normalised not in elsewhere:
                secrets.append((normalised, m.cell, m.qid))
    for rel, content in files.items():
        readable = _readable_text(rel, content) if rel.endswith(".ipynb") else content
        if MUTANT_MARKER.search(readable):
            raise LeakError(f"{rel} would contain a # MUTANT directive", notebook=spec.path)
        flat = _norm(readable if rel.endswith(".ipynb") else json_strings(content))
        for text, cell, qid in secrets:
            if text in flat:
                raise LeakError(f"{rel} would contain a mutant", notebook=spec.path, cell=cell, question=qid)


def json_strings(content: str) -> str:
    """Every string inside a JSON file, joined (escaped newlines in probe sources become real ones)."""
    try:
        data = json.loads(content)
    except ValueError:
        return content
    out: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for k, v in value.items():
                out.append(str(k))
                walk(v)

    walk(data)
    return "\n".join(out)


INSIDE_MODES = frozenset({"true"})  # compare modes whose verdict the probe itself computes in the sandbox


def judged_inside(spec: NotebookSpec) -> list[Case]:
    """The cases whose verdict is computed inside the sandbox, each declared with judged="inside" (imports)."""
    return [c for c in spec.cases() if c.spec.get("judged") == "inside"]


def check_judged_outside(spec: NotebookSpec) -> None:
    """Refuse any case whose pass/fail the probe decides inside the sandbox, unless it says judged="inside".

    A probe that returns True/False (compare="true") hands the verdict to the student's process, where it can be
    forged without knowing the answer. Probes return raw values (outputs, predictions, weights) and the grader
    decides with compare/below/above or a # JUDGE function; imported tests that cannot be split are marked
    @case(..., judged="inside") and reported as such by `course build`.
    """
    for c in spec.cases():
        if c.spec.get("compare", "close") in INSIDE_MODES and c.spec.get("judged") != "inside":
            raise AuthoringError(
                f'case {c.name} decides its own verdict inside the sandbox (compare="{c.spec["compare"]}"): '
                "return the raw value (outputs, predictions, the list itself) and judge it outside with "
                "compare=/below=/above= or a # JUDGE function (docs/authoring.md, 'Verdicts are decided outside')",
                notebook=spec.path, cell=c.cell, question=c.qid)
    check_seeded_cases(spec)


SEED_NAME = "GRADING_SEED"  # defined for hidden probes only, fresh per grading run (grading/runner.py)


def _judges_taking_seed(spec: NotebookSpec) -> set[str]:
    names = set()
    for src in spec.judges:
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.FunctionDef):
                params = [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
                if "seed" in params:
                    names.add(node.name)
    return names


def check_seeded_cases(spec: NotebookSpec) -> None:
    """A case whose inputs come from GRADING_SEED (fresh per grading run) is hidden and judged by a # JUDGE that
    takes `seed`: a reference stored at build time would belong to another seed."""
    seeded_judges = _judges_taking_seed(spec)
    cases = {c.name: c for c in spec.cases()}
    for probe in spec.probe_cells:
        tree = ast.parse(probe.source)
        uses = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in cases and any(
            isinstance(x, ast.Name) and x.id == SEED_NAME for x in ast.walk(n))}
        elsewhere = any(isinstance(x, ast.Name) and x.id == SEED_NAME for n in tree.body
                        if not (isinstance(n, ast.FunctionDef) and n.name in cases) for x in ast.walk(n))
        for name in probe.cases if elsewhere else sorted(uses):
            c = cases[name]
            problem = ("uses GRADING_SEED in a public test cell (it exists only for hidden tests)" if not c.hidden
                       else "draws its inputs from GRADING_SEED but is not judged by a # JUDGE function that takes "
                       "`seed`" if c.spec.get("judge") not in seeded_judges else "")
            if problem:
                raise AuthoringError(f"case {name} {problem} (docs/authoring.md, 'Fresh hidden inputs per "
                                     "grading run')", notebook=spec.path, cell=c.cell, question=c.qid)


def scan_for_quiz_keys(spec: NotebookSpec, checks_text: str) -> None:
    """A graded quiz's key never leaves autograder/: its release checks hold no answer hash, salt or explanation."""
    for qid, quiz in json.loads(checks_text).get("quizzes", {}).items():
        for n, item in enumerate(quiz.get("items", []), 1):
            found = sorted({"answer_hash", "salt", "explain", "answer"} & set(item))
            if found:
                raise LeakError(f"graded quiz {qid}, question {n}: the student's checks file would hold "
                                f"{', '.join(found)}", notebook=spec.path, question=qid)
