"""`course lint` rules for the revised course standard (issue 10): what a machine can check of it.

Each check takes the parsed notebook of `aiml_course.lint` and yields (cell number or None, message). The rules:
feature ledger, prose and lesson-code size caps, "at least" in prose vs a strict `above=`, authoring artefacts in
student text, unmarked helper cells, `judged="inside"` outside imported notebooks, mutants per exercise and the
quiz's share of the points.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiml_course.errors import ConfigError
from aiml_course.feature_ledger import (
    PYTHON_CONSTRUCTS,
    Ledger,
    features_used,
    find_ledger,
    import_bindings,
    load_ledger,
    module_order,
)
from aiml_course.quiz_policy import FORMATIVE, MAX_FORMATIVE_SHARE, quiz_policy_for

if TYPE_CHECKING:
    from aiml_course.lint import _Cell, _Notebook

MAX_PROSE_WORDS = 2500
MAX_LESSON_CODE_LINES = 250
MIN_MUTANTS, MAX_MUTANTS = 2, 5
SKIP_MARK = re.compile(r"drawing code:\s*you may skip this", re.IGNORECASE)
HIDDEN_CODE = frozenset({"HIDDEN TESTS", "JUDGE", "MUTANT", "QUIZ"})   # code students never see (quiz: rendered)
NOT_LESSON_CODE = frozenset({"ANSWER", "TESTS", "HIDDEN TESTS", "JUDGE", "MUTANT", "QUIZ"})
_PART = re.compile(r"^part-(\d+)")
_WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")
_FENCED = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_NUMBER = r"(\d+(?:\.\d+)?)\s*(%|percent)?"
_AT_LEAST = re.compile(rf"\b(?:at least|no less than|not less than)\s+{_NUMBER}|≥\s*{_NUMBER}|>=\s*{_NUMBER}",
                       re.IGNORECASE)
_AT_MOST = re.compile(rf"\b(?:at most|no more than|not more than)\s+{_NUMBER}|≤\s*{_NUMBER}|<=\s*{_NUMBER}",
                      re.IGNORECASE)
ARTEFACTS = (
    (re.compile(r"\bcourse\s+outline\b|\bthe\s+outline(?:'s|’s)|\b(?:in|from|by)\s+the\s+outline\b", re.IGNORECASE),
     "mentions the course outline; say what the student learns instead (the outline is for authors)"),
    (re.compile(r"\bcourse lint\b|\blint (?:rule|exception|finding)s?\b", re.IGNORECASE),
     "talks about lint rules; put the reason in metadata aiml.lint.allow, not in student text"),
    (re.compile(r"\bcalibrat\w*\b[^.\n]{0,80}\b(?:threshold|grad\w*|test)s?\b|"
                r"\b(?:grading|grader'?s?|autograder'?s?)\s+thresholds?\b[^.\n]{0,80}\b(?:chosen|picked|margin)\b",
                re.IGNORECASE),
     "explains how a grading threshold was calibrated; move that to the walkthrough or the tests"),
)
LIGHTNING_WORD = re.compile(r"\blightning\b", re.IGNORECASE)
HELPER_NAME = re.compile(r"^(?:_?fmt\w*|format_\w+|draw\w*|plot_\w+|print_\w+|pretty\w*)$")
DRAWING_CALL = re.compile(r"^(?:plt|ax|axes|axs|fig|ax\d|ax_\w+)\.")


# --- the notebook as the student sees it ---------------------------------------------------------------------


def part_number(path: Path) -> int | None:
    for folder in (path.parent, *path.parents):
        m = _PART.match(folder.name)
        if m:
            return int(m.group(1))
    return None


def notebook_module(nb: _Notebook) -> tuple[int, int, str] | None:
    module = nb.aiml.get("module")
    return module_order(module, part_number(nb.path)) if isinstance(module, str) else None


def _first_lines(cell: _Cell, n: int = 3) -> str:
    return "\n".join(cell.source.split("\n")[:n])


def is_marked_helper(nb: _Notebook, cell: _Cell) -> bool:
    """The cell (its first lines) or the markdown right before it says "drawing code: you may skip this"."""
    if SKIP_MARK.search(_first_lines(cell)):
        return True
    before = next((c for c in nb.cells if c.number == cell.number - 1), None)
    return before is not None and before.kind == "markdown" and bool(SKIP_MARK.search(before.source))


def visible_code(nb: _Notebook) -> Iterator[_Cell]:
    """Code cells a student sees (answer cells with their solution: what an exercise requires)."""
    return (c for c in nb.code if c.directive not in HIDDEN_CODE)


def _hidden_intros(nb: _Notebook) -> set[int]:
    """Markdown cells that the build drops with the hidden/judge cell they introduce."""
    return {a.number for a, b in itertools.pairwise(nb.cells)
            if a.kind == "markdown" and b.directive in ("HIDDEN TESTS", "JUDGE")}


def student_prose(nb: _Notebook) -> Iterator[_Cell]:
    """Markdown students read in the lesson (not walkthroughs, not hints, not hidden-test introductions)."""
    dropped = _hidden_intros(nb)
    return (c for c in nb.markdown if c.directive not in ("WALKTHROUGH", "HINTS") and c.number not in dropped)


def prose_text(source: str) -> str:
    return _HTML_COMMENT.sub(" ", _FENCED.sub(" ", source))


def _comments(cell: _Cell) -> str:
    return "\n".join(line.split("#", 1)[1] for line in cell.source.split("\n") if "#" in line)


# --- feature ledger -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _cached_ledger(path: Path, mtime: float) -> Ledger:
    return load_ledger(path)


def ledger_for(path: Path) -> Ledger | None:
    found = find_ledger(path.resolve())
    return _cached_ledger(found, found.stat().st_mtime) if found else None


def check_feature_ledger(nb: _Notebook) -> Iterator[tuple[int | None, str]]:
    try:
        ledger = ledger_for(nb.path)
    except ConfigError as exc:
        yield None, str(exc)
        return
    here = notebook_module(nb)
    if ledger is None or here is None:
        return
    bindings = import_bindings([c.tree for c in nb.code if c.tree is not None])
    first: dict[str, tuple[int, str, list[int]]] = {}
    for cell in visible_code(nb):
        if cell.tree is None or is_marked_helper(nb, cell):
            continue
        for feature, _line in features_used(cell.tree, bindings):
            taught = ledger.taught_in(feature)
            order = module_order(taught) if taught else None
            if order is None or order <= here:
                continue
            if feature not in first:
                first[feature] = (cell.number, taught or "", [])
            elif cell.number != first[feature][0] and cell.number not in first[feature][2]:
                first[feature][2].append(cell.number)
    module = nb.aiml.get("module")
    for feature, (number, taught, more) in sorted(first.items(), key=lambda kv: kv[1][0]):
        what = f"`{feature}` ({PYTHON_CONSTRUCTS[feature]})" if feature in PYTHON_CONSTRUCTS else f"`{feature}`"
        also = f" (also in cell{'s' if len(more) > 1 else ''} {', '.join(map(str, more[:8]))}" \
               f"{', …' if len(more) > 8 else ''})" if more else ""
        yield number, (f"uses {what}, which module {taught} teaches, in module {module}{also}; teach it before this "
                       f"use (and move it in {ledger.path.name}), use something already taught, or mark a helper "
                       "cell \"drawing code: you may skip this\"")


# --- size caps ----------------------------------------------------------------------------------------------


def prose_words(nb: _Notebook) -> int:
    return sum(len(_WORD.findall(prose_text(c.source))) for c in student_prose(nb))


def lesson_code_lines(nb: _Notebook) -> int:
    """Non-blank, non-comment lines of the lesson's own code cells (exercises and tests not counted)."""
    total = 0
    for cell in nb.code:
        if cell.directive in NOT_LESSON_CODE:
            continue
        total += sum(1 for line in cell.source.split("\n") if line.strip() and not line.strip().startswith("#"))
    return total


def check_size(nb: _Notebook) -> Iterator[tuple[int | None, str]]:
    words = prose_words(nb)
    if words > MAX_PROSE_WORDS:
        yield None, (f"has {words} words of lesson prose, more than {MAX_PROSE_WORDS} (a 20-minute read); split "
                     "the notebook in two rather than cut teaching")
    lines = lesson_code_lines(nb)
    if lines > MAX_LESSON_CODE_LINES:
        yield None, (f"has {lines} lines of lesson code, more than {MAX_LESSON_CODE_LINES}; move drawing and printing "
                     "helpers into aiml_notebooks, or split the notebook")


# --- "at least" in prose vs above= in a case -----------------------------------------------------------------


def _case_thresholds(nb: _Notebook) -> Iterator[tuple[_Cell, str, str, float]]:
    """(cell, case name, 'above'/'below'/'at_least'/'at_most', value) for each threshold case."""
    for cell in nb.code:
        if cell.directive not in ("TESTS", "HIDDEN TESTS") or cell.tree is None:
            continue
        for node in cell.tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and isinstance(dec.func, ast.Name) and dec.func.id == "case":
                    for kw in dec.keywords:
                        if kw.arg in ("above", "below", "at_least", "at_most"):
                            try:
                                value = ast.literal_eval(kw.value)
                            except ValueError:
                                continue
                            if isinstance(value, int | float):
                                yield cell, node.name, kw.arg, float(value)


def _stated(pattern: re.Pattern[str], text: str) -> set[float]:
    values = set()
    for m in pattern.finditer(text):
        groups = [g for g in m.groups()]
        for i in range(0, len(groups), 2):
            if groups[i] is not None:
                value = float(groups[i])
                values |= {value, value / 100} if groups[i + 1] else {value}
    return values


def _question_text(nb: _Notebook, qid: str) -> str:
    """The prose of the exercise `qid`: from the markdown before its answer cell up to its test cells."""
    numbers = [c.number for c in nb.cells if c.qid == qid]
    if not numbers:
        return ""
    start = max((c.number for c in nb.code if c.directive in ("ANSWER", "TESTS", "HIDDEN TESTS")
                 and c.qid != qid and c.number < min(numbers)), default=0)
    return "\n".join(c.source for c in nb.cells if c.kind == "markdown" and start < c.number <= max(numbers))


def check_threshold_wording(nb: _Notebook) -> Iterator[tuple[int | None, str]]:
    for cell, name, kind, value in _case_thresholds(nb):
        text = _question_text(nb, cell.qid or "")
        if kind == "above" and any(abs(v - value) < 1e-12 for v in _stated(_AT_LEAST, text)):
            yield cell.number, (f"the exercise says \"at least {value:g}\" but case {name} uses above={value:g} "
                                f"(strictly more): use at_least={value:g}, or say \"more than {value:g}\"")
        elif kind == "below" and any(abs(v - value) < 1e-12 for v in _stated(_AT_MOST, text)):
            yield cell.number, (f"the exercise says \"at most {value:g}\" but case {name} uses below={value:g} "
                                f"(strictly less): use at_most={value:g}, or say \"less than {value:g}\"")


# --- authoring artefacts --------------------------------------------------------------------------------------


def check_authoring_artefacts(nb: _Notebook) -> Iterator[tuple[int | None, str]]:
    part = part_number(nb.path)
    texts = [(c.number, prose_text(c.source)) for c in student_prose(nb)]
    texts += [(c.number, _comments(c)) for c in visible_code(nb)]
    for number, text in texts:
        for pattern, message in ARTEFACTS:
            if pattern.search(text):
                yield number, message
        if part is not None and part <= 4 and LIGHTNING_WORD.search(text):
            yield number, ("mentions Lightning in a part that writes the loop by hand; leave Lightning to Part 5 "
                           "(a lint exception belongs in metadata aiml.lint.allow)")


# --- unmarked helper cells ------------------------------------------------------------------------------------


def _is_drawing(fn: ast.FunctionDef) -> bool:
    calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call)]
    drawing = sum(1 for n in calls if DRAWING_CALL.match(ast.unparse(n.func) + ".") and "." in ast.unparse(n.func))
    return drawing >= 3


def _calls_demo(cell: _Cell) -> bool:
    return cell.tree is not None and any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                                         and n.func.id == "demo" for n in ast.walk(cell.tree))


def check_helper_cells(nb: _Notebook) -> Iterator[tuple[int | None, str]]:
    for cell in nb.code:
        if cell.directive in NOT_LESSON_CODE or cell.tree is None or _calls_demo(cell):
            continue
        helpers = [f.name for f in cell.tree.body if isinstance(f, ast.FunctionDef)
                   and (HELPER_NAME.match(f.name) or _is_drawing(f))]
        if helpers and not is_marked_helper(nb, cell):
            yield cell.number, (f"defines drawing/printing helper(s) {', '.join(helpers)}; use the helpers in "
                                "aiml_notebooks (fmt, draw_neuron, …) or start the cell with the comment "
                                "\"# drawing code: you may skip this\"")


# --- judged inside, mutants, quiz share -------------------------------------------------------------------------


def _case_specs(nb: _Notebook) -> Iterator[tuple[_Cell, str, dict[str, Any]]]:
    for cell in nb.code:
        if cell.directive not in ("TESTS", "HIDDEN TESTS") or cell.tree is None:
            continue
        for node in cell.tree.body:
            if isinstance(node, ast.FunctionDef):
                for dec in node.decorator_list:
                    if isinstance(dec, ast.Call) and isinstance(dec.func, ast.Name) and dec.func.id == "case":
                        spec = {}
                        for kw in dec.keywords:
                            try:
                                spec[kw.arg] = ast.literal_eval(kw.value)
                            except ValueError:
                                spec[kw.arg] = None
                        yield cell, node.name, spec


def check_judged_inside(nb: _Notebook) -> Iterator[tuple[int | None, str]]:
    if nb.aiml.get("imported"):
        return
    for cell, name, spec in _case_specs(nb):
        if "judged" in spec:
            yield cell.number, (f"case {name} is judged inside the sandbox (judged=...): that is for imported "
                                "nbgrader/otter tests only; return the raw value and judge it outside with "
                                "compare=/below=/above= or a # JUDGE function")


def check_mutants(nb: _Notebook) -> Iterator[tuple[int | None, str]]:
    answers: dict[str, int] = {}
    for cell in nb.code:
        if cell.directive == "ANSWER" and cell.qid and cell.qid not in answers:
            answers[cell.qid] = cell.number
    counts = {qid: 0 for qid in answers}
    for cell in nb.mutants:
        if cell.qid in counts:
            counts[cell.qid] += 1
    for qid, n in counts.items():
        if n < MIN_MUTANTS:
            yield answers[qid], (f"exercise {qid} has {n} mutant(s); declare {MIN_MUTANTS}–{MAX_MUTANTS} plausible "
                                 f"wrong answers as `# MUTANT {qid} <name>` cells (see docs/authoring.md)")
        elif n > MAX_MUTANTS:
            yield answers[qid], f"exercise {qid} has {n} mutants; keep the {MAX_MUTANTS} most plausible"


def notebook_points(nb: _Notebook) -> tuple[float, float]:
    """(points of all test cases, points of the quiz) as declared in the source."""
    cases = 0.0
    for _, _, spec in _case_specs(nb):
        points = spec.get("points", 1)
        cases += float(points) if isinstance(points, int | float) else 1.0
    quiz = 0.0
    for cell in nb.code:
        if cell.directive == "QUIZ":
            body = cell.source.split("\n", 1)[1] if "\n" in cell.source else ""
            try:
                items = ast.literal_eval(body)
            except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
                continue
            for item in items if isinstance(items, list) else []:
                points = item.get("points", 1) if isinstance(item, dict) else 0
                quiz += float(points) if isinstance(points, int | float) else 0.0
    return cases, quiz


def check_quiz_share(nb: _Notebook) -> Iterator[tuple[int | None, str]]:
    """A formative quiz (the default) is worth at most 10 % of the notebook's points."""
    try:
        policy = quiz_policy_for(nb.path)
    except ConfigError as exc:
        yield None, f"cannot tell whether quizzes are formative or graded: {exc}"
        return
    if policy != FORMATIVE:
        return
    cases, quiz = notebook_points(nb)
    total = cases + quiz
    if quiz and total and quiz / total > MAX_FORMATIVE_SHARE + 1e-9:
        cell = next(c.number for c in nb.code if c.directive == "QUIZ")
        yield cell, (f"the quiz is worth {quiz:g} of {total:g} points ({quiz / total:.0%}); a formative quiz is worth "
                     f"at most {MAX_FORMATIVE_SHARE:.0%}: give its questions points=... (e.g. 0.1 each), or set "
                     "quiz='graded-first-answer' in course_config.py")


STANDARD_CHECKS = (
    ("feature-ledger", "no Python construct or numpy/torch API before the module that teaches it "
                       "(feature_ledger.toml)", check_feature_ledger),
    ("size", f"at most {MAX_PROSE_WORDS} words of lesson prose and {MAX_LESSON_CODE_LINES} lines of lesson code",
     check_size),
    ("threshold-wording", "\"at least X\" in the exercise is at_least=X in the test, not the strict above=X",
     check_threshold_wording),
    ("authoring-artefacts", "no course outline, lint talk, Lightning remarks (Parts 1-4) or grading-threshold "
                            "calibration in student text", check_authoring_artefacts),
    ("helper-cells", "drawing/printing helper cells are marked \"drawing code: you may skip this\"",
     check_helper_cells),
    ("judged-inside", "judged=\"inside\" cases only in imported notebooks", check_judged_inside),
    ("mutants", f"every exercise declares {MIN_MUTANTS}-{MAX_MUTANTS} mutants", check_mutants),
    ("quiz-share", f"a formative quiz is at most {MAX_FORMATIVE_SHARE:.0%} of the notebook's points",
     check_quiz_share),
)
