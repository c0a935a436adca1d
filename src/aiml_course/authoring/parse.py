"""Parse a source notebook's directives into a NotebookSpec. Only this step raises AuthoringError."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from aiml_course.errors import AuthoringError
from aiml_notebooks.evidence import CASE_SPEC_KEYS, COMPARE_MODES

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_DIRECTIVE = re.compile(r"^#\s*(ANSWER|TESTS|HIDDEN TESTS|QUIZ|JUDGE)\b[ \t]*(\w*)[ \t]*$")
MUTANT_DIRECTIVE = re.compile(r"^#\s*MUTANT\b(.*)$")
MUTANT_LINE = re.compile(r"^#\s*MUTANT[ \t]+([A-Za-z_][A-Za-z0-9_]{0,40})[ \t]+([a-z0-9-]+)[ \t]*$")
LESSON_ONLY = re.compile(r"^#\s*LESSON ONLY\s*$")
MANUAL_CODE = re.compile(r"^#\s*MANUAL[ \t]+(\w+)[ \t]+(\d+(?:\.\d+)?)[ \t]*$")
MANUAL_MD = re.compile(r"^<!--\s*MANUAL\s+(\w+)\s+(\d+(?:\.\d+)?)\s*-->\s*$")
MD_DIRECTIVE = re.compile(r"^<!--\s*(HINTS|WALKTHROUGH)\s+(\w+)\s*-->\s*$")
QID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
QUIZ_KEYS = {"question", "choices", "answer", "explain", "points"}


@dataclass(frozen=True)
class Case:
    """One test case: a function that calls student code and returns a value."""

    name: str
    qid: str
    hidden: bool
    spec: dict[str, Any]
    description: str
    cell: int


@dataclass(frozen=True)
class ProbeCell:
    """The runnable part of one test cell: shared statements + case functions, decorators removed."""

    cell: int
    hidden: bool
    source: str
    cases: tuple[str, ...]


@dataclass(frozen=True)
class QuizItem:
    question: str
    choices: tuple[str, ...]
    answer: int
    explain: str
    points: float


@dataclass(frozen=True)
class Mutant:
    """A plausible wrong answer: `source` replaces the whole body of answer cell `answer_cell` of question `qid`."""

    qid: str
    name: str
    cell: int                      # the # MUTANT cell (1-based)
    answer_cell: int               # the nearest preceding # ANSWER <qid> cell it replaces
    description: str               # the comment on its second line: the mistake it models, in words
    source: str                    # the replacement body (everything after the directive line)


@dataclass
class Question:
    qid: str
    kind: str                      # "code", "quiz" or "manual" (graded by hand)
    cells: list[int] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    quiz: tuple[QuizItem, ...] = ()
    hints: int = 0
    mutants: list[Mutant] = field(default_factory=list)
    manual_points: float = 0.0     # manual questions: the points a grader can give by hand

    @property
    def points(self) -> float:
        if self.kind == "manual":
            return self.manual_points
        if self.kind == "quiz":
            return sum(i.points for i in self.quiz)
        return sum(float(c.spec.get("points", 1)) for c in self.cases)


@dataclass(frozen=True)
class Cell:
    """A source cell with its role: plain, answer, tests, hidden, quiz, judge, hints, walkthrough, mutant, lesson."""

    index: int                     # 1-based, as people count cells
    node: Any                      # the nbformat cell
    role: str = "plain"
    qid: str = ""
    solution: str = ""             # answer cells: the code with markers removed
    stub: str = ""                 # answer cells: the code students get


@dataclass
class NotebookSpec:
    path: Path
    nb: Any
    cells: list[Cell]
    questions: dict[str, Question]
    probe_cells: list[ProbeCell]
    judges: list[str]

    @property
    def stem(self) -> str:
        return self.path.stem

    def cases(self) -> list[Case]:
        return [c for q in self.questions.values() for c in q.cases]

    def mutants(self) -> list[Mutant]:
        return [m for q in self.questions.values() for m in q.mutants]


def _source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def split_solution(source: str, *, path: Path, cell: int, qid: str) -> tuple[str, str]:
    """Return (solution without markers, stub) for an answer cell; refuse unbalanced or empty regions."""
    solution, stub, inside, regions, indent = [], [], False, 0, ""
    for lineno, line in enumerate(source.splitlines(), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise AuthoringError(f"line {lineno}: {BEGIN} inside another solution region", notebook=path,
                                     cell=cell, question=qid)
            inside, regions = True, regions + 1
            indent = line[: len(line) - len(line.lstrip())]
            stub.extend(indent + s for s in STUB)
            continue
        if stripped == END:
            if not inside:
                raise AuthoringError(f"line {lineno}: {END} without a {BEGIN}", notebook=path, cell=cell,
                                     question=qid)
            inside = False
            continue
        if "BEGIN SOLUTION" in stripped or "END SOLUTION" in stripped:
            raise AuthoringError(f"line {lineno}: malformed solution marker {stripped!r}; write exactly "
                                 f"{BEGIN!r} / {END!r}", notebook=path, cell=cell, question=qid)
        solution.append(line)
        if not inside:
            stub.append(line)
    if inside:
        raise AuthoringError(f"{BEGIN} is never closed by {END}", notebook=path, cell=cell, question=qid)
    if regions == 0:
        raise AuthoringError(f"an # ANSWER cell needs a {BEGIN} … {END} region", notebook=path, cell=cell,
                             question=qid)
    return "\n".join(solution), "\n".join(stub)


def _literal_kwargs(call: ast.Call, *, path: Path, cell: int, qid: str) -> dict[str, Any]:
    if call.args:
        raise AuthoringError("@case takes keyword arguments only", notebook=path, cell=cell, question=qid)
    spec = {}
    for kw in call.keywords:
        if kw.arg not in CASE_SPEC_KEYS:
            raise AuthoringError(f"@case has no argument {kw.arg!r} (allowed: {sorted(CASE_SPEC_KEYS)})",
                                 notebook=path, cell=cell, question=qid)
        try:
            spec[kw.arg] = ast.literal_eval(kw.value)
        except ValueError as exc:
            raise AuthoringError(f"@case({kw.arg}=...) must be a literal value", notebook=path, cell=cell,
                                 question=qid) from exc
    if spec.get("compare", "close") not in COMPARE_MODES:
        raise AuthoringError(f"@case compare= must be one of {sorted(COMPARE_MODES)}", notebook=path, cell=cell,
                             question=qid)
    for key in ("above", "below", "at_least", "at_most"):
        if key in spec and (not isinstance(spec[key], (int, float)) or isinstance(spec[key], bool)):
            raise AuthoringError(f"@case {key}= must be a number", notebook=path, cell=cell, question=qid)
    points = spec.get("points", 1)
    if not isinstance(points, (int, float)) or points <= 0:
        raise AuthoringError("@case points= must be a positive number", notebook=path, cell=cell, question=qid)
    if "judged" in spec and (spec["judged"] != "inside" or spec.get("compare") != "true"):
        raise AuthoringError('@case judged= is only judged="inside" with compare="true" (imported tests that '
                             "cannot be split; see docs/import.md)", notebook=path, cell=cell, question=qid)
    return spec


def _is_case(dec: ast.expr) -> bool:
    return isinstance(dec, ast.Call) and isinstance(dec.func, ast.Name) and dec.func.id == "case"


def parse_tests(source: str, *, path: Path, cell: int, qid: str, hidden: bool) -> tuple[list[Case], ProbeCell]:
    """Find the @case functions of a test cell; build its probe source (statements + undecorated functions)."""
    body = source.split("\n", 1)[1] if "\n" in source else ""
    try:
        tree = ast.parse(body)
    except SyntaxError as exc:
        raise AuthoringError(f"test cell does not parse: {exc.msg} (line {(exc.lineno or 0) + 1})",
                             notebook=path, cell=cell, question=qid) from exc
    lines = body.splitlines()
    cases, chunks = [], []
    for node in tree.body:
        segment = "\n".join(lines[node.lineno - 1: node.end_lineno])
        if isinstance(node, ast.FunctionDef) and any(_is_case(d) for d in node.decorator_list):
            if node.args.args or node.args.vararg or node.args.kwarg or node.args.kwonlyargs:
                raise AuthoringError(f"case {node.name} must take no arguments", notebook=path, cell=cell,
                                     question=qid)
            dec = next(d for d in node.decorator_list if _is_case(d))
            assert isinstance(dec, ast.Call)
            spec = _literal_kwargs(dec, path=path, cell=cell, qid=qid)
            if "judge" in spec and not hidden:
                raise AuthoringError(f"case {node.name}: judge= is for hidden tests only", notebook=path,
                                     cell=cell, question=qid)
            doc = ast.get_docstring(node) or node.name.replace("_", " ")
            cases.append(Case(node.name, qid, hidden, spec, doc.strip().splitlines()[0], cell))
        chunks.append(segment)
    if not cases:
        raise AuthoringError("test cell defines no @case(...) function", notebook=path, cell=cell, question=qid)
    probe = ProbeCell(cell, hidden, "\n".join(chunks) + "\n", tuple(c.name for c in cases))
    return cases, probe


def parse_quiz(source: str, *, path: Path, cell: int, qid: str) -> tuple[QuizItem, ...]:
    body = source.split("\n", 1)[1] if "\n" in source else ""
    try:
        data = ast.literal_eval(body.strip())
    except (ValueError, SyntaxError) as exc:
        raise AuthoringError(f"quiz body must be a Python literal list of dicts ({exc})", notebook=path,
                             cell=cell, question=qid) from exc
    if not isinstance(data, list) or not data:
        raise AuthoringError("quiz body must be a non-empty list", notebook=path, cell=cell, question=qid)
    items = []
    for n, item in enumerate(data, 1):
        where = f"quiz question {n}"
        if not isinstance(item, dict) or not {"question", "choices", "answer"} <= set(item):
            raise AuthoringError(f"{where} needs question, choices and answer", notebook=path, cell=cell,
                                 question=qid)
        extra = set(item) - QUIZ_KEYS
        if extra:
            raise AuthoringError(f"{where}: unknown key(s) {sorted(extra)}", notebook=path, cell=cell,
                                 question=qid)
        choices = item["choices"]
        if not isinstance(choices, list) or len(choices) < 2 or len(choices) > 10:
            raise AuthoringError(f"{where}: give 2–10 choices", notebook=path, cell=cell, question=qid)
        answer = item["answer"]
        if not isinstance(answer, int) or not 0 <= answer < len(choices):
            raise AuthoringError(f"{where}: answer must be an index into choices (0–{len(choices) - 1})",
                                 notebook=path, cell=cell, question=qid)
        items.append(QuizItem(str(item["question"]), tuple(str(c) for c in choices), answer,
                              str(item.get("explain", "")), float(item.get("points", 1))))
    return tuple(items)


def parse_mutant(source: str, cells: list[Cell], *, path: Path, cell: int) -> Mutant:
    """`# MUTANT <qid> <name>`, a comment saying the mistake, then the code that replaces the answer's body."""
    lines = source.split("\n")
    m = MUTANT_LINE.match(lines[0].strip())
    if m is None:
        raise AuthoringError(f"malformed mutant directive {lines[0].strip()!r}; write `# MUTANT <qid> <name>` "
                             "with a name made of a-z, 0-9 and -", notebook=path, cell=cell)
    qid, name = m.group(1), m.group(2)
    answer = next((c for c in reversed(cells) if c.role == "answer" and c.qid == qid), None)
    if answer is None:
        raise AuthoringError(f"mutant {name}: no # ANSWER {qid} cell before it", notebook=path, cell=cell,
                             question=qid)
    second = lines[1].strip() if len(lines) > 1 else ""
    if not second.startswith("#") or not second.lstrip("#").strip():
        raise AuthoringError(f"mutant {name}: its second line must be a comment saying which mistake it models",
                             notebook=path, cell=cell, question=qid)
    body = "\n".join(lines[1:])
    if BEGIN in body or END in body:
        raise AuthoringError(f"mutant {name}: no solution markers in a mutant (it replaces the whole answer body)",
                             notebook=path, cell=cell, question=qid)
    try:
        ast.parse(body)
    except SyntaxError as exc:
        raise AuthoringError(f"mutant {name} does not parse: {exc.msg} (line {(exc.lineno or 0) + 1})",
                             notebook=path, cell=cell, question=qid) from exc
    if not any(line.strip() and not line.strip().startswith("#") for line in lines[2:]):
        raise AuthoringError(f"mutant {name} has no code after its comment", notebook=path, cell=cell,
                             question=qid)
    return Mutant(qid, name, cell, answer.index, second.lstrip("#").strip(), body)


def _question(questions: dict[str, Question], qid: str, kind: str, *, path: Path, cell: int) -> Question:
    q = questions.setdefault(qid, Question(qid, kind))
    if q.kind != kind:
        raise AuthoringError(f"{qid} is used both as an exercise and as a quiz", notebook=path, cell=cell,
                             question=qid)
    return q


def parse_notebook(path: Path) -> NotebookSpec:
    """Read `path` and return its spec, or raise AuthoringError naming the cell and question at fault."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        raise AuthoringError(f"not a readable notebook ({type(exc).__name__}: {exc})", notebook=path) from exc
    cells: list[Cell] = []
    questions: dict[str, Question] = {}
    probes: list[ProbeCell] = []
    judges: list[str] = []
    pending_tests: list[tuple[str, int]] = []
    hints: list[tuple[str, int, int]] = []
    for index, node in enumerate(nb.cells, 1):
        src = _source(node)
        first = src.split("\n", 1)[0].strip()
        _refuse_buried_directive(src, node.cell_type, path, index)
        if node.cell_type == "code":
            if MUTANT_DIRECTIVE.match(first):
                mutant = parse_mutant(src, cells, path=path, cell=index)
                _question(questions, mutant.qid, "code", path=path, cell=index).mutants.append(mutant)
                cells.append(Cell(index, node, "mutant", mutant.qid))
                continue
            manual = MANUAL_CODE.match(first)
            if manual:
                _manual(questions, cells, node, index, manual.group(1), float(manual.group(2)), path)
                continue
            if LESSON_ONLY.match(first):
                if BEGIN in src or END in src:
                    raise AuthoringError("solution markers in a # LESSON ONLY cell", notebook=path, cell=index)
                cells.append(Cell(index, node, "lesson"))
                continue
            m = CODE_DIRECTIVE.match(first)
            if m is None:
                if BEGIN in src or END in src:
                    raise AuthoringError("solution markers outside an # ANSWER cell", notebook=path, cell=index)
                cells.append(Cell(index, node))
                continue
            kind, qid = m.group(1), m.group(2)
            if kind != "JUDGE" and not QID.match(qid):
                raise AuthoringError(f"# {kind} needs a question id like q1, got {qid!r}", notebook=path,
                                     cell=index)
            if kind == "ANSWER":
                solution, stub = split_solution(src, path=path, cell=index, qid=qid)
                _question(questions, qid, "code", path=path, cell=index).cells.append(index)
                cells.append(Cell(index, node, "answer", qid, solution, stub))
            elif kind in ("TESTS", "HIDDEN TESTS"):
                hidden = kind == "HIDDEN TESTS"
                found, probe = parse_tests(src, path=path, cell=index, qid=qid, hidden=hidden)
                pending_tests.append((qid, index))
                for c in found:
                    questions.setdefault(qid, Question(qid, "code")).cases.append(c)
                probes.append(probe)
                cells.append(Cell(index, node, "hidden" if hidden else "tests", qid))
            elif kind == "QUIZ":
                q = _question(questions, qid, "quiz", path=path, cell=index)
                if q.quiz:
                    raise AuthoringError(f"quiz {qid} is defined twice", notebook=path, cell=index, question=qid)
                q.quiz = parse_quiz(src, path=path, cell=index, qid=qid)
                q.cells.append(index)
                cells.append(Cell(index, node, "quiz", qid))
            else:
                judges.append(src)
                cells.append(Cell(index, node, "judge", qid))
        elif node.cell_type == "markdown":
            manual = MANUAL_MD.match(first)
            if manual:
                _manual(questions, cells, node, index, manual.group(1), float(manual.group(2)), path)
                continue
            m = MD_DIRECTIVE.match(first)
            if m is None:
                cells.append(Cell(index, node))
                continue
            kind, qid = m.group(1), m.group(2)
            if kind == "HINTS":
                body = src.split("\n", 1)[1] if "\n" in src else ""
                n = len([h for h in re.split(r"(?m)^---\s*$", body) if h.strip()])
                hints.append((qid, index, n))
            cells.append(Cell(index, node, kind.lower(), qid))
        else:
            cells.append(Cell(index, node))
    _check_consistency(path, questions, pending_tests, hints, cells)
    return NotebookSpec(path, nb, cells, questions, probes, judges)


def _refuse_buried_directive(src: str, cell_type: str, path: Path, index: int) -> None:
    """A directive counts only on a cell's first line. One written further down would be plain text, so a model
    answer, hidden tests or a judge would reach release/: refuse it by name instead."""
    for number, line in enumerate(src.split("\n")[1:], 2):
        text = line.strip()
        if cell_type == "code":
            buried = CODE_DIRECTIVE.match(text) or MANUAL_CODE.match(text) or MUTANT_LINE.match(text) \
                or LESSON_ONLY.match(text)
        elif cell_type == "markdown":
            buried = MANUAL_MD.match(text) or MD_DIRECTIVE.match(text)
        else:
            buried = None
        if buried:
            raise AuthoringError(f"the directive {text!r} is on line {number}: a directive counts only as the "
                                 "first line of its own cell (here its content would reach students); move it "
                                 "to the top of a new cell", notebook=path, cell=index)


def _manual(questions: dict[str, Question], cells: list[Cell], node: Any, index: int, qid: str, points: float,
            path: Path) -> None:
    """`# MANUAL <qid> <points>` / `<!-- MANUAL <qid> <points> -->`: a question graded by hand; body = model answer."""
    if not QID.match(qid) or points <= 0:
        raise AuthoringError("write `# MANUAL <qid> <points>` with positive points", notebook=path, cell=index)
    if qid in questions:
        raise AuthoringError(f"{qid} is already a question: a manual question has one answer cell", notebook=path,
                             cell=index, question=qid)
    questions[qid] = Question(qid, "manual", [index], manual_points=points)
    cells.append(Cell(index, node, "manual", qid))


def _check_consistency(path: Path, questions: dict[str, Question], tests: list[tuple[str, int]],
                       hints: list[tuple[str, int, int]], cells: list[Cell]) -> None:
    for qid, index in tests:
        q = questions[qid]
        if q.kind == "quiz" or not q.cells:
            raise AuthoringError(f"tests for {qid}, but no # ANSWER {qid} cell", notebook=path, cell=index,
                                 question=qid)
    for qid, index, n in hints:
        if qid not in questions:
            raise AuthoringError(f"hints for unknown question {qid}", notebook=path, cell=index, question=qid)
        questions[qid].hints += n
    for c in cells:
        if c.role == "walkthrough" and c.qid not in questions:
            raise AuthoringError(f"walkthrough for unknown question {c.qid}", notebook=path, cell=c.index,
                                 question=c.qid)
    for q in questions.values():
        names: dict[str, int] = {}
        for mutant in q.mutants:
            if mutant.name in names:
                raise AuthoringError(f"mutant name {mutant.name} is used twice for {q.qid} (also cell "
                                     f"{names[mutant.name]})", notebook=path, cell=mutant.cell, question=q.qid)
            names[mutant.name] = mutant.cell
    for q in questions.values():
        if q.kind == "code" and not q.cases:
            raise AuthoringError("question has no tests: add a # TESTS or # HIDDEN TESTS cell", notebook=path,
                                 cell=q.cells[0], question=q.qid)
    seen: dict[str, Case] = {}
    for q in questions.values():
        for c in q.cases:
            if c.name in seen:
                raise AuthoringError(f"case name {c.name} is used twice (also cell {seen[c.name].cell})",
                                     notebook=path, cell=c.cell, question=q.qid)
            seen[c.name] = c
