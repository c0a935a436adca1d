"""`course lint`: machine-checkable parts of the course standard for source notebooks.

The standard is `course-standard.md` (house style: seed 000); the notebook format is `docs/authoring.md`.
Each rule has an id (`RULES`). A notebook may skip a rule only through its metadata,
`aiml.lint.allow = {rule_id: "one-line justification"}`; an empty justification does not skip anything
and is itself a finding. Linting never raises on a bad notebook: unreadable files become one
`notebook-format` finding.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiml_course.lint_standard import STANDARD_CHECKS, lesson_code_lines, prose_words

logger = logging.getLogger(__name__)

MIN_CELLS, MAX_CELLS = 50, 80
CONFIG_WITHIN = 6  # CONFIG is defined within the first 6 code cells
SEED_WITHIN = 4  # set_seed(CONFIG['seed']) is called within the first 4 code cells
TAKEAWAYS_WITHIN = 8  # the "Key takeaways" heading is among the last 8 cells
MIN_DEMOS, MIN_EXERCISES, MIN_HINTS = 2, 3, 2
QUIZ_SIZE = range(5, 11)
HYPERPARAMETER_NAMES = frozenset({
    "lr", "learning_rate", "max_epochs", "epochs", "batch_size", "patience", "hidden_size", "hidden_dim",
    "num_layers", "dropout", "weight_decay", "momentum", "block_size", "n_embd", "n_head", "n_layer",
})  # fmt: skip
LIGHTNING_BASES = frozenset({
    "L.LightningModule", "lightning.LightningModule", "pl.LightningModule", "LightningModule",
    "lightning.pytorch.LightningModule", "pytorch_lightning.LightningModule",
})  # fmt: skip
TRAINER_NAMES = frozenset({t.replace("LightningModule", "Trainer") for t in LIGHTNING_BASES})
LIGHTNING_METHODS = ("training_step", "validation_step", "configure_optimizers")
SHARED_LIBRARY = "aiml_notebooks"

_CODE_DIRECTIVE = re.compile(r"#\s*(ANSWER|HIDDEN TESTS|TESTS|QUIZ|MUTANT|JUDGE|LESSON ONLY)(?:\s+(\S+))?(?:\s+\S+)?")
_MARKDOWN_DIRECTIVE = re.compile(r"<!--\s*(HINTS|WALKTHROUGH)\s+(\S+)\s*-->")
_EXERCISE_CODE = frozenset({"ANSWER", "TESTS", "HIDDEN TESTS"})
_NOT_IN_RELEASE = frozenset({"HIDDEN TESTS", "WALKTHROUGH", "JUDGE"})  # cells students never see
_MAGIC_LINE = re.compile(r"^([ \t]*)[%!]")
_MATPLOTLIB_MAGIC = re.compile(r"^\s*%+matplotlib\b|run_line_magic\(\s*['\"]matplotlib", re.MULTILINE)
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*)$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_HINT_SEPARATOR = re.compile(r"^[ \t]*---[ \t]*$", re.MULTILINE)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True, slots=True)
class Finding:
    """One way a notebook falls short of the course standard."""

    notebook: Path
    cell: int | None  # 1-based, as Jupyter users count cells; None for the notebook as a whole
    rule: str
    message: str  # what is wrong and how to fix it

    def __str__(self) -> str:
        where = (
            self.notebook.as_posix() if self.cell is None else f"{self.notebook.as_posix()}, cell {self.cell}"
        )
        return f"{where} [{self.rule}] {self.message}"


@dataclass(frozen=True, slots=True)
class _Cell:
    number: int  # 1-based
    kind: str  # "code", "markdown" or "raw"
    source: str
    directive: str | None  # ANSWER, TESTS, HIDDEN TESTS, QUIZ, HINTS or WALKTHROUGH
    qid: str | None
    tree: ast.Module | None  # code cells that parse once IPython magic lines are blanked out
    python: str  # the source the tree was parsed from (same line numbers as `source`)
    magics: tuple[str, ...]
    executed: bool  # has stored outputs or an execution count


@dataclass(frozen=True, slots=True)
class _Notebook:
    path: Path
    cells: tuple[_Cell, ...]  # every cell but the # MUTANT cells (numbers stay those of the source)
    aiml: dict[str, Any]  # metadata.aiml
    mutants: tuple[_Cell, ...] = ()  # `# MUTANT <qid> <name>` cells: wrong answers for validate, never released

    @property
    def code(self) -> tuple[_Cell, ...]:
        return tuple(c for c in self.cells if c.kind == "code")

    @property
    def markdown(self) -> tuple[_Cell, ...]:
        return tuple(c for c in self.cells if c.kind == "markdown")


_Issue = tuple[int | None, str]  # (cell number or None, message)
_Check = Callable[[_Notebook], Iterable[_Issue]]


# --- loading -------------------------------------------------------------------------------------------


def _load(path: Path) -> _Notebook | str:
    """The notebook at `path`, or why it cannot be linted."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return f"cannot read the notebook ({exc.strerror or exc}); check the path"
    except UnicodeDecodeError:
        return "the notebook is not UTF-8 text; save it again from Jupyter"
    except json.JSONDecodeError as exc:
        return f"the notebook is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix or re-save it"
    if not isinstance(data, dict) or data.get("nbformat") != 4:
        version = data.get("nbformat") if isinstance(data, dict) else None
        return f"not an nbformat 4 notebook (nbformat={version!r}); open and save it in a current Jupyter"
    raw_cells = data.get("cells")
    if not isinstance(raw_cells, list):
        return "the notebook has no list of cells; re-save it from Jupyter"
    cells: list[_Cell] = []
    for number, raw in enumerate(raw_cells, start=1):
        if not isinstance(raw, dict) or raw.get("cell_type") not in ("code", "markdown", "raw"):
            return f"cell {number} has no valid cell_type; re-save the notebook from Jupyter"
        cells.append(_make_cell(number, raw))
    metadata = data.get("metadata")
    aiml = metadata.get("aiml") if isinstance(metadata, dict) else None
    mutants = tuple(c for c in cells if c.directive == "MUTANT")
    return _Notebook(path, tuple(c for c in cells if c.directive != "MUTANT"), aiml if isinstance(aiml, dict) else {},
                     mutants)


def _make_cell(number: int, raw: dict[str, Any]) -> _Cell:
    kind = raw["cell_type"]
    source = raw.get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    first_line = source.split("\n", 1)[0].strip()
    directive = _CODE_DIRECTIVE if kind == "code" else _MARKDOWN_DIRECTIVE
    match = directive.fullmatch(first_line) if kind != "raw" else None
    python, magics = _blank_magics(source) if kind == "code" else ("", ())
    executed = kind == "code" and (bool(raw.get("outputs")) or raw.get("execution_count") is not None)
    return _Cell(
        number=number, kind=kind, source=source,
        directive=match.group(1) if match else None, qid=match.group(2) if match else None,
        tree=_parse(python) if kind == "code" else None, python=python, magics=magics, executed=executed,
    )  # fmt: skip


def _blank_magics(source: str) -> tuple[str, tuple[str, ...]]:
    """`source` with IPython magic and shell lines replaced by `pass`, and those lines."""
    lines: list[str] = []
    magics: list[str] = []
    for line in source.split("\n"):
        match = _MAGIC_LINE.match(line)
        if match:
            magics.append(line)
            line = f"{match.group(1)}pass"
        lines.append(line)
    return "\n".join(lines), tuple(magics)


def _parse(python: str) -> ast.Module | None:
    try:
        return ast.parse(python)
    except (SyntaxError, ValueError):  # a cell magic with a non-Python body, or a plain syntax error
        return None


# --- small AST helpers ---------------------------------------------------------------------------------


def _dotted(node: ast.AST) -> str:
    """`a.b.c` for a name or attribute chain, else ''."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _tail(node: ast.AST) -> str:
    """The last name of `f` or `x.y.f`, else ''."""
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _calls(cells: Iterable[_Cell]) -> Iterator[tuple[_Cell, ast.Call]]:
    for cell in cells:
        if cell.tree is not None:
            for node in ast.walk(cell.tree):
                if isinstance(node, ast.Call):
                    yield cell, node


def _is_fit(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call.func.attr == "fit"


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _is_config_ref(node: ast.AST | None, key: str | None = None) -> bool:
    """Is `node` `CONFIG[...]` (or `CONFIG[key]`)?"""
    if not (
        isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "CONFIG"
    ):
        return False
    return key is None or (isinstance(node.slice, ast.Constant) and node.slice.value == key)


def _used_names(cell: _Cell) -> set[str]:
    magic_words = {word for line in cell.magics for word in _IDENTIFIER.findall(line)}
    if cell.tree is None:
        return set(_IDENTIFIER.findall(cell.source))
    return magic_words | {node.id for node in ast.walk(cell.tree) if isinstance(node, ast.Name)}


def _imports(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """(name bound, module imported from) for every import in `tree`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.asname or alias.name.split(".")[0], alias.name
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    yield alias.asname or alias.name, node.module or ""


def _comment_lines(python: str) -> set[int]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(python).readline))
    except (tokenize.TokenError, SyntaxError):
        return set()
    return {tok.start[0] for tok in tokens if tok.type == tokenize.COMMENT}


def _assignments(tree: ast.Module) -> Iterator[tuple[str, ast.expr]]:
    """(name, value) for every top-level `name = value` or `name: T = value`."""
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            yield from ((t.id, stmt.value) for t in stmt.targets if isinstance(t, ast.Name))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
            yield stmt.target.id, stmt.value


def _find_config(nb: _Notebook) -> tuple[int, _Cell, ast.Dict] | None:
    """(code-cell index, cell, dict literal) of the first `CONFIG = {...}`."""
    for index, cell in enumerate(nb.code):
        for name, value in _assignments(cell.tree) if cell.tree else []:
            if name == "CONFIG" and isinstance(value, ast.Dict):
                return index, cell, value
    return None


def _config_keys(config: ast.Dict) -> set[object]:
    return {key.value for key in config.keys if isinstance(key, ast.Constant)}


def _seed_call_index(nb: _Notebook) -> int | None:
    """Index among code cells of the first `set_seed(CONFIG['seed'])`."""
    for index, cell in enumerate(nb.code):
        for _, call in _calls([cell]):
            if (
                _tail(call.func) == "set_seed"
                and len(call.args) == 1
                and _is_config_ref(call.args[0], "seed")
            ):
                return index
    return None


# --- rules ---------------------------------------------------------------------------------------------


def _check_cell_count(nb: _Notebook) -> Iterator[_Issue]:
    n = len(nb.cells)
    if n < MIN_CELLS:
        yield (
            None,
            f"has {n} cells, fewer than {MIN_CELLS}; add steps (intuition, implementation, visualization, key insight)",
        )
    elif n > MAX_CELLS:
        yield None, f"has {n} cells, more than {MAX_CELLS}; split the module in two or merge small cells"


def _check_markdown_before_code(nb: _Notebook) -> Iterator[_Issue]:
    """Checked on the cells students see: hidden tests and walkthroughs are left out of the release."""
    previous: _Cell | None = None
    for cell in (c for c in nb.cells if c.directive not in _NOT_IN_RELEASE):
        if cell.kind == "code" and (previous is None or previous.kind != "markdown"):
            yield (
                cell.number,
                "code cell has no markdown cell directly before it (as students see the notebook); add one saying what the code does",
            )
        previous = cell


def _check_config(nb: _Notebook) -> Iterator[_Issue]:
    found = _find_config(nb)
    if found is None:
        yield (
            None,
            "no code cell assigns a dict literal to CONFIG; add `CONFIG = {...}` with every hyperparameter right after the setup imports",
        )
        return
    index, cell, config = found
    if index >= CONFIG_WITHIN:
        yield (
            cell.number,
            f"CONFIG is defined in code cell {index + 1}; move it into the first {CONFIG_WITHIN} code cells, after the setup imports",
        )
    if "seed" not in _config_keys(config):
        yield cell.number, "CONFIG has no 'seed'; add `'seed': 42,  # random seed for reproducibility`"
    commented = _comment_lines(cell.python)
    for key, value in zip(config.keys, config.values, strict=True):
        if key is not None and not commented & set(range(key.lineno, (value.end_lineno or value.lineno) + 1)):
            yield (
                cell.number,
                f"CONFIG key {ast.unparse(key)} has no inline comment; say what it controls: `{ast.unparse(key)}: ...,  # ...`",
            )


def _check_set_seed(nb: _Notebook) -> Iterator[_Issue]:
    index = _seed_call_index(nb)
    if index is None:
        yield (
            None,
            f"never calls set_seed(CONFIG['seed']); call it in the setup, within the first {SEED_WITHIN} code cells",
        )
    elif index >= SEED_WITHIN:
        yield (
            nb.code[index].number,
            f"set_seed(CONFIG['seed']) is first called in code cell {index + 1}; call it within the first {SEED_WITHIN}",
        )


def _setup_end(nb: _Notebook) -> int:
    """Index of the last setup code cell (CONFIG and seeding), where shared-library imports belong."""
    config = _find_config(nb)
    ends = [config[0] if config else None, _seed_call_index(nb)]
    return min(max((i for i in ends if i is not None), default=0), CONFIG_WITHIN - 1)


def _check_imports_at_first_use(nb: _Notebook) -> Iterator[_Issue]:
    code, setup_end = nb.code, _setup_end(nb)
    used = [_used_names(cell) for cell in code]
    for index, cell in enumerate(code):
        for name, module in _imports(cell.tree) if cell.tree else []:
            in_setup = index <= setup_end and module.split(".")[0] == SHARED_LIBRARY
            if module == "__future__" or in_setup or name in used[index]:
                continue
            if index + 1 < len(code) and name in used[index + 1]:
                continue  # a separate import cell right before a long cell is allowed
            later = next((code[i] for i in range(index + 1, len(code)) if name in used[i]), None)
            if later is None:
                yield (
                    cell.number,
                    f"imports {name} in cell {cell.number} but never uses it; remove the import",
                )
            else:
                yield (
                    cell.number,
                    f"imports {name} in cell {cell.number} but first uses it in cell {later.number}; move the import there",
                )


def _check_no_magic_matplotlib(nb: _Notebook) -> Iterator[_Issue]:
    for cell in nb.code:
        if _MATPLOTLIB_MAGIC.search(cell.source):
            yield (
                cell.number,
                "uses a %matplotlib magic; delete it (plots show inline by default, and backend magics break headless runs)",
            )


def _hardcoded(tree: ast.Module) -> Iterator[tuple[str, ast.expr]]:
    """(name, literal) for numeric hyperparameters passed as keywords or assigned at top level."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg in HYPERPARAMETER_NAMES and _is_number(kw.value):
                    yield kw.arg, kw.value
    for name, value in _assignments(tree):
        if name in HYPERPARAMETER_NAMES and _is_number(value):
            yield name, value


def _check_hyperparameters_in_config(nb: _Notebook) -> Iterator[_Issue]:
    config = _find_config(nb)
    for cell in nb.code:
        if cell.tree is None or cell.directive in _EXERCISE_CODE or (config and cell is config[1]):
            continue
        for name, value in _hardcoded(cell.tree):
            yield (
                cell.number,
                f"hardcodes {name}={ast.unparse(value)}; put it in CONFIG (with an inline comment) and use CONFIG[...] here",
            )


def _trains(nb: _Notebook) -> bool:
    if nb.aiml.get("trains") is True:
        return True
    for cell in nb.code:
        for node in ast.walk(cell.tree) if cell.tree else []:
            if _tail(node) in ("Trainer", "LightningModule"):
                return True
            if isinstance(node, ast.Call) and _is_fit(node):
                return True
    return False


def _lightning_module_issues(nb: _Notebook) -> Iterator[_Issue]:
    classes: dict[str, tuple[_Cell, list[str], set[str]]] = {}
    for cell in nb.code:
        for node in ast.walk(cell.tree) if cell.tree else []:
            if isinstance(node, ast.ClassDef):
                methods = {f.name for f in node.body if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)}
                classes[node.name] = (cell, [_dotted(b) for b in node.bases], methods)

    def lineage(name: str, seen: frozenset[str] = frozenset()) -> tuple[bool, set[str]]:
        """(inherits a LightningModule?, methods defined along the way) for class `name`."""
        _, bases, methods = classes[name]
        is_module, inherited = any(b in LIGHTNING_BASES for b in bases), set(methods)
        for base in (b for b in bases if b in classes and b not in seen):
            base_is_module, base_methods = lineage(base, seen | {name})
            is_module, inherited = is_module or base_is_module, inherited | base_methods
        return is_module, inherited

    missing = {n: [m for m in LIGHTNING_METHODS if m not in lineage(n)[1]] for n in classes if lineage(n)[0]}
    if not missing:
        yield (
            None,
            "trains but defines no class inheriting L.LightningModule; write the model as one (or, when the notebook teaches the loop by hand, allow 'lightning' with a reason)",
        )
    elif all(missing.values()):
        name = min(missing, key=lambda n: len(missing[n]))
        yield (
            classes[name][0].number,
            f"LightningModule {name} does not define {', '.join(missing[name])}; add them",
        )


def _trainer_issues(nb: _Notebook) -> Iterator[_Issue]:
    trainers = [(cell, call) for cell, call in _calls(nb.code) if _dotted(call.func) in TRAINER_NAMES]
    if not trainers:
        yield (
            None,
            "trains without L.Trainer; train with L.Trainer(logger=CSVLogger(...), callbacks=[EarlyStopping(...)])",
        )
    for cell, call in trainers:
        given = {kw.arg for kw in call.keywords}
        lacking = [f"{arg}=" for arg in ("logger", "callbacks") if arg not in given]
        if lacking and None not in given:  # with **kwargs we cannot tell
            yield (
                cell.number,
                f"L.Trainer(...) is created without {' and '.join(lacking)}; pass logger=CSVLogger(...) and callbacks=[EarlyStopping(...)]",
            )
    if not any(_tail(call.func) == "CSVLogger" for _, call in _calls(nb.code)):
        yield (
            None,
            "trains without a CSVLogger; pass logger=CSVLogger('logs', name=...) to the Trainer so curves can be plotted",
        )


def _early_stopping_issues(nb: _Notebook) -> Iterator[_Issue]:
    stops = [(cell, call) for cell, call in _calls(nb.code) if _tail(call.func) == "EarlyStopping"]
    if not stops:
        yield (
            None,
            "trains without EarlyStopping; add EarlyStopping(monitor='val_loss', patience=CONFIG['early_stop_patience']) to the Trainer's callbacks",
        )
    for cell, call in stops:
        kwargs = {kw.arg: kw.value for kw in call.keywords}
        monitor = kwargs.get("monitor")
        if not (
            isinstance(monitor, ast.Constant)
            and monitor.value == "val_loss"
            and _is_config_ref(kwargs.get("patience"))
        ):
            yield (
                cell.number,
                "EarlyStopping must be EarlyStopping(monitor='val_loss', patience=CONFIG['early_stop_patience'])",
            )
    config = _find_config(nb)
    if config and "early_stop_patience" not in _config_keys(config[2]):
        yield (
            config[1].number,
            "CONFIG has no 'early_stop_patience'; add `'early_stop_patience': 10,  # epochs without improvement before stopping`",
        )


def _plots_curves(cell: _Cell) -> bool:
    for node in ast.walk(cell.tree) if cell.tree else []:
        if isinstance(node, ast.Call) and _tail(node.func) == "plot_training_curves":
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "metrics.csv" in node.value:
            return True
    return False


def _check_lightning(nb: _Notebook) -> Iterator[_Issue]:
    if not _trains(nb):
        return
    yield from _lightning_module_issues(nb)
    yield from _trainer_issues(nb)
    yield from _early_stopping_issues(nb)
    fits = [cell.number for cell, call in _calls(nb.code) if _is_fit(call)]
    first_fit = min(fits, default=0)
    if not any(cell.number > first_fit and _plots_curves(cell) for cell in nb.code):
        where = f"after the fit in cell {first_fit}" if fits else "after training"
        yield (
            (first_fit or None),
            f"no training curves {where}; call plot_training_curves(...) or plot the CSVLogger's metrics.csv",
        )


def _check_demos(nb: _Notebook) -> Iterator[_Issue]:
    count = sum(1 for _, call in _calls(nb.code) if _tail(call.func) == "demo")
    if count < MIN_DEMOS:
        yield (
            None,
            f"has {count} demo(...) call(s); add at least {MIN_DEMOS} interactive demos: demo(fn, x=slider(...))",
        )


def _count_hints(cell: _Cell) -> int:
    body = cell.source.split("\n", 1)[1] if "\n" in cell.source else ""
    return sum(1 for hint in _HINT_SEPARATOR.split(body) if hint.strip())


def _check_exercises(nb: _Notebook) -> Iterator[_Issue]:
    cells: dict[tuple[str, str], list[_Cell]] = {}
    for cell in nb.cells:
        if cell.directive and cell.qid:
            cells.setdefault((cell.directive, cell.qid), []).append(cell)
    answers = {qid: found[0] for (directive, qid), found in cells.items() if directive == "ANSWER"}
    if len(answers) < MIN_EXERCISES:
        yield (
            None,
            f"has {len(answers)} exercise(s) with a `# ANSWER <qid>` cell; add at least {MIN_EXERCISES}",
        )
    for qid, answer in answers.items():
        for directive in ("TESTS", "HIDDEN TESTS"):
            if (directive, qid) not in cells:
                yield (
                    answer.number,
                    f"exercise {qid} has no `# {directive} {qid}` cell; add one with at least one @case",
                )
        hints = cells.get(("HINTS", qid), [])
        if not hints:
            yield (
                answer.number,
                f"exercise {qid} has no `<!-- HINTS {qid} -->` cell; add {MIN_HINTS}+ hints separated by lines holding only ---",
            )
        elif all(_count_hints(h) < MIN_HINTS for h in hints):
            yield (
                hints[0].number,
                f"hints for {qid}: {_count_hints(hints[0])} hint(s); give at least {MIN_HINTS}, separated by lines holding only ---",
            )
        if ("WALKTHROUGH", qid) not in cells:
            yield (
                answer.number,
                f"exercise {qid} has no `<!-- WALKTHROUGH {qid} -->` cell; add one explaining the solution",
            )


def _quiz_question_problems(question: object) -> Iterator[str]:
    if not isinstance(question, dict):
        yield "is not a dict"
        return
    if not (isinstance(question.get("question"), str) and question["question"].strip()):
        yield "needs non-empty 'question' text"
    choices = question.get("choices")
    n = len(choices) if isinstance(choices, list | tuple) else 0
    if n < 2:
        yield "needs 'choices': a list of at least 2"
    answer = question.get("answer")
    if type(answer) is not int or not 0 <= answer < n:
        yield f"'answer' {answer!r} is not an index into its {n} choices"
    if not (isinstance(question.get("explain"), str) and question["explain"].strip()):
        yield "needs a non-empty 'explain'"


def _quiz_problems(cell: _Cell) -> Iterator[str]:
    if cell.qid is None:
        yield "the QUIZ directive has no question id; write `# QUIZ quiz`"
    body = cell.source.split("\n", 1)[1] if "\n" in cell.source else ""
    try:
        quiz = ast.literal_eval(body)
    except SyntaxError as exc:
        yield f"quiz literal does not parse ({exc.msg}, line {(exc.lineno or 0) + 1} of the cell); fix the list of dicts"
        return
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        yield f"quiz must be a plain literal list of dicts (no names or calls): {str(exc).split(':')[0]}"
        return
    if not isinstance(quiz, list):
        yield f"quiz must be a list of question dicts, not {type(quiz).__name__}"
        return
    if len(quiz) not in QUIZ_SIZE:
        yield f"quiz has {len(quiz)} questions; give {QUIZ_SIZE.start}–{QUIZ_SIZE.stop - 1}"
    for number, question in enumerate(quiz, start=1):
        for problem in _quiz_question_problems(question):
            yield f"quiz question {number} {problem}"


def _check_quiz(nb: _Notebook) -> Iterator[_Issue]:
    quizzes = [cell for cell in nb.code if cell.directive == "QUIZ"]
    if not quizzes:
        yield (
            None,
            f"has no `# QUIZ <qid>` cell; add one quiz of {QUIZ_SIZE.start}–{QUIZ_SIZE.stop - 1} questions",
        )
    for extra in quizzes[1:]:
        yield (
            extra.number,
            f"second # QUIZ cell (the first is cell {quizzes[0].number}); merge them into one quiz",
        )
    for cell in quizzes:
        yield from ((cell.number, problem) for problem in _quiz_problems(cell))


def _headings(source: str) -> Iterator[str]:
    fenced = False
    for line in source.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line)):
            yield match.group(1)


def _check_sections(nb: _Notebook) -> Iterator[_Issue]:
    last_exercise = max((c.number for c in nb.code if c.directive in _EXERCISE_CODE), default=0)
    for label, content in (
        ("Key takeaways", "bullets of the core intuitions"),
        ("Experiments", "what to try by changing CONFIG"),
    ):
        found = [c for c in nb.markdown if any(label.lower() in h.lower() for h in _headings(c.source))]
        if not found:
            yield None, f"has no '{label}' heading; end the notebook with `## {label}` ({content})"
        elif found[-1].number <= last_exercise:
            yield (
                found[-1].number,
                f"the '{label}' heading comes before the last exercise (cell {last_exercise}); move it to the end",
            )
        elif label == "Key takeaways" and found[-1].number <= nb.cells[-1].number - TAKEAWAYS_WITHIN:
            yield (
                found[-1].number,
                f"the 'Key takeaways' heading is not among the last {TAKEAWAYS_WITHIN} cells; move it to the end",
            )


def _check_outputs(nb: _Notebook) -> Iterator[_Issue]:
    for cell in nb.code:
        if cell.executed:
            yield (
                cell.number,
                "has stored outputs or an execution count; clear them (`jupyter nbconvert --clear-output --inplace`)",
            )


def _check_title(nb: _Notebook) -> Iterator[_Issue]:
    first = nb.cells[0] if nb.cells else None
    if first is None or first.kind != "markdown" or not first.source.lstrip().startswith("# "):
        yield (first.number if first else None), "the first cell must be a markdown title: `# <module title>`"
    for key in ("module", "title"):
        if not (isinstance(nb.aiml.get(key), str) and nb.aiml[key].strip()):
            yield (
                None,
                f'notebook metadata has no aiml.{key}; set it, e.g. {{"aiml": {{"module": "2.1", "title": "..."}}}}',
            )


_CHECKS: tuple[tuple[str, str, _Check], ...] = (
    ("title", "the first cell is a `# Title`; metadata has aiml.module and aiml.title", _check_title),
    ("cell-count", f"{MIN_CELLS}-{MAX_CELLS} cells", _check_cell_count),
    ("markdown-before-code", "every code cell students see is directly preceded by a markdown cell", _check_markdown_before_code),
    ("config", f"CONFIG dict literal within the first {CONFIG_WITHIN} code cells, with 'seed' and a comment on every key", _check_config),
    ("set-seed", f"set_seed(CONFIG['seed']) within the first {SEED_WITHIN} code cells", _check_set_seed),
    ("imports-at-first-use", "names are imported in the cell that first uses them (or the cell right before)", _check_imports_at_first_use),
    ("no-magic-matplotlib", "no %matplotlib magics", _check_no_magic_matplotlib),
    ("hyperparameters-in-config", "no numeric hyperparameters (lr=, batch_size=, ...) outside CONFIG and exercise cells", _check_hyperparameters_in_config),
    ("lightning", "training uses a LightningModule, L.Trainer with CSVLogger and EarlyStopping, and plots curves", _check_lightning),
    ("demos", f"at least {MIN_DEMOS} demo(...) calls", _check_demos),
    ("exercises", f"{MIN_EXERCISES}+ exercises, each with TESTS, HIDDEN TESTS, {MIN_HINTS}+ HINTS and a WALKTHROUGH", _check_exercises),
    ("quiz", f"exactly one # QUIZ cell: a literal list of {QUIZ_SIZE.start}-{QUIZ_SIZE.stop - 1} well-formed questions", _check_quiz),
    ("sections", f"'Experiments' and 'Key takeaways' headings after the last exercise, takeaways in the last {TAKEAWAYS_WITHIN} cells", _check_sections),
    ("outputs", "source notebooks are stored without outputs or execution counts", _check_outputs),
    *STANDARD_CHECKS,
)  # fmt: skip
_CANNOT_ALLOW = {
    "notebook-format": "the file is a readable nbformat 4 notebook",
    "allow-without-reason": "every aiml.lint.allow entry gives a non-empty reason",
    "allow-unknown-rule": "aiml.lint.allow names only rules that exist and may be skipped",
}
RULES: dict[str, str] = {rule: description for rule, description, _ in _CHECKS} | _CANNOT_ALLOW


def _allowed(nb: _Notebook) -> tuple[set[str], list[Finding]]:
    """Rules the notebook skips with a reason, and findings about its allow list."""
    lint = nb.aiml.get("lint")
    allow = lint.get("allow", {}) if isinstance(lint, dict) else {}
    if not isinstance(allow, dict):
        why = 'aiml.lint.allow must map rule ids to one-line reasons, e.g. {"lightning": "trains nothing"}'
        return set(), [Finding(nb.path, None, "allow-without-reason", why)]
    skipped: set[str] = set()
    findings: list[Finding] = []
    for rule, reason in allow.items():
        if rule not in RULES or rule in _CANNOT_ALLOW:
            why = f"aiml.lint.allow names {rule!r}, which is not a rule that can be skipped; see `course lint --list-rules`"
            findings.append(Finding(nb.path, None, "allow-unknown-rule", why))
        elif not (isinstance(reason, str) and reason.strip()):
            why = f"aiml.lint.allow skips {rule!r} without a reason; give a one-line justification (the rule still applies)"
            findings.append(Finding(nb.path, None, "allow-without-reason", why))
        else:
            skipped.add(rule)
    return skipped, findings


def lint_notebook(path: Path) -> list[Finding]:
    """Findings for one source notebook, notebook-level first, then by cell."""
    logger.debug("linting %s", path)
    nb = _load(path)
    if isinstance(nb, str):
        return [Finding(path, None, "notebook-format", nb)]
    skipped, findings = _allowed(nb)
    for rule, _, check in _CHECKS:
        if rule not in skipped:
            findings.extend(Finding(path, cell, rule, message) for cell, message in check(nb))
    return sorted(findings, key=lambda f: f.cell or 0)


def waivers(path: Path) -> list[tuple[Path, str, str]]:
    """(notebook, rule, reason) for every rule a notebook under `path` skips with a reason: debt shown, not hidden."""
    found = []
    for notebook in _notebooks_under(path):
        nb = _load(notebook)
        if isinstance(nb, str):
            continue
        lint = nb.aiml.get("lint", {})
        allow = lint.get("allow", {}) if isinstance(lint, dict) else {}
        if isinstance(allow, dict):
            found += [(notebook, rule, reason) for rule, reason in sorted(allow.items())
                      if isinstance(reason, str) and reason.strip()]
    return found


def _notebooks_under(path: Path) -> list[Path]:
    """`path` itself, or every notebook under the folder `path` (sorted, skipping checkpoints)."""
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.rglob("*.ipynb")
                  if p.is_file() and ".ipynb_checkpoints" not in p.relative_to(path).parts)


def lint_path(path: Path) -> list[Finding]:
    """Findings for a notebook, or for every notebook under a folder (sorted, skipping checkpoints)."""
    if not path.is_dir():
        return lint_notebook(path)
    return [finding for notebook in _notebooks_under(path) for finding in lint_notebook(notebook)]


@dataclass(frozen=True, slots=True)
class NotebookStats:
    """The numbers the course standard caps or asks for, for one source notebook."""

    notebook: Path
    module: str
    words: int  # lesson prose (no walkthroughs, hints or hidden-test introductions)
    lesson_code_lines: int  # non-blank, non-comment lines of the lesson's own code cells
    exercises: int  # `# ANSWER <qid>` questions
    mutants: int  # `# MUTANT <qid> <name>` cells
    demos: int  # demo(...) calls


def notebook_stats(path: Path) -> NotebookStats | str:
    """Words, lesson-code lines, exercises, mutants and demos of a notebook, or why it cannot be read."""
    nb = _load(path)
    if isinstance(nb, str):
        return nb
    exercises = {c.qid for c in nb.code if c.directive == "ANSWER" and c.qid}
    demos = sum(1 for _, call in _calls(nb.code) if _tail(call.func) == "demo")
    return NotebookStats(path, str(nb.aiml.get("module", "")), prose_words(nb), lesson_code_lines(nb),
                         len(exercises), len(nb.mutants), demos)
