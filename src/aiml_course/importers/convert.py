"""Turn one foreign test (an nbgrader test cell, an otter test case) into the source of one `@case` function.

A test whose every check has the form `LEFT == LITERAL` or `np.isclose(LEFT, LITERAL)` (as an `assert` or, in
otter, as a bare expression), with at most simple setup statements around them (names assigned, imports,
helper functions), becomes an **outside-judged** probe: it returns the list of LEFT values, in order, and the
grader compares them outside the sandbox with the solution's values (which equal the literals whenever the
original test passes on the solution). A patched `np.isclose` or an object whose `__eq__` always says True
gains nothing: no comparison runs in the student's process, and only plain JSON values come back.

Anything else (loops or try blocks over student state, `del`, comparisons with non-literals) cannot be split;
it runs **inside** the sandbox, in the notebook's own namespace as the original tool ran it, after the usual
restoration of patched modules, and is marked `judged="inside"`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from aiml_course.grading.foreign import question_id

ISCLOSE_NAMES = ("isclose", "allclose")
ISCLOSE_DEFAULTS = {"rtol": 1e-05, "atol": 1e-08}       # numpy's defaults for np.isclose / np.allclose
SETUP_NODES = (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom, ast.FunctionDef)
INSIDE_HELPER = "_run_in_notebook"
INSIDE_HELPER_SOURCE = f'''import sys as _sys


def {INSIDE_HELPER}(source):
    """Run an imported test in the notebook's own namespace, as the original tool did; True when it passes."""
    exec(compile(source, "<imported test>", "exec"), vars(_sys.modules["__main__"]))
    return True
'''


@dataclass(frozen=True)
class ConvertedTest:
    """One foreign test as a case: its function source and how it was converted (for the import report)."""

    name: str
    source: str            # "@case(...)\ndef name():\n    ..."
    outside: bool          # True: the verdict is computed outside the sandbox
    how: str               # one line for the import report
    points: float
    hidden: bool


def identifier(text: str, *, prefix: str = "q") -> str:
    """A valid question/case id from a foreign name; the grader matches submissions with the same rule."""
    return question_id(text, prefix=prefix)


def _literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _isclose_call(node: ast.expr) -> ast.Call | None:
    if isinstance(node, ast.Call) and len(node.args) == 2 and not any(k.arg is None for k in node.keywords):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ISCLOSE_NAMES and all(k.arg in ("rtol", "atol") and _literal(k.value) for k in node.keywords):
            return node
    return None


@dataclass(frozen=True)
class _Check:
    left: str              # source of the value the probe returns
    literal: str           # source of the literal it is compared with
    mode: str              # "equal" or "close"
    rtol: float
    atol: float


def _check(expr: ast.expr, text: str) -> _Check | None:
    """`LEFT == LIT` / `LIT == LEFT` / `np.isclose(LEFT, LIT)` → the parts; anything else → None."""
    if isinstance(expr, ast.Compare) and len(expr.ops) == 1 and isinstance(expr.ops[0], ast.Eq):
        left, right = expr.left, expr.comparators[0]
        if _literal(right) and not _literal(left):
            return _Check(_segment(text, left), _segment(text, right), "equal", 0.0, 0.0)
        if _literal(left) and not _literal(right):
            return _Check(_segment(text, right), _segment(text, left), "equal", 0.0, 0.0)
        return None
    call = _isclose_call(expr)
    if call is not None:
        a, b = call.args
        left, right = (a, b) if _literal(b) and not _literal(a) else (b, a) if _literal(a) and not _literal(b) \
            else (None, None)
        if left is None or right is None:
            return None
        tol = dict(ISCLOSE_DEFAULTS)
        tol.update({k.arg: float(ast.literal_eval(k.value)) for k in call.keywords if k.arg})
        return _Check(_segment(text, left), _segment(text, right), "close", tol["rtol"], tol["atol"])
    return None


def _short(text: str, node: ast.AST) -> str:
    return " ".join(_segment(text, node).split())[:60]


def _segment(text: str, node: ast.AST) -> str:
    seg = ast.get_source_segment(text, node)
    return seg if seg is not None else ast.unparse(node)


def _docstring(tree: ast.Module) -> tuple[str, list[ast.stmt]]:
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].value.value.strip().splitlines()[0] if body[0].value.value.strip() else "", body[1:]
    return "", body


def _decorator(points: float, hidden: bool, *, mode: str = "", rtol: float = 0.0, atol: float = 0.0,
               inside: bool = False) -> str:
    args = [f"points={points!r}"]
    if inside:
        args += ['compare="true"', 'judged="inside"']
    elif mode == "equal":
        args.append('compare="equal"')
    else:
        args += [f"rtol={rtol!r}", f"atol={atol!r}"]
    return f"@case({', '.join(args)})"


def convert_test(source: str, *, name: str, points: float, hidden: bool, description: str = "",
                 expression_tests: bool = False) -> ConvertedTest:
    """Convert one test's code. `expression_tests`: bare expressions are checks (otter's doctest-style tests)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return _inside(source, name=name, points=points, hidden=hidden, description=description,
                       why=f"does not parse as Python ({exc.msg}); run as written")
    doc, body = _docstring(tree)
    description = description or doc or name.replace("_", " ")
    helpers = {n.name for n in body if isinstance(n, ast.FunctionDef)}
    checks: list[_Check] = []
    lines: list[str] = []
    why = ""
    for stmt in body:
        expr = stmt.test if isinstance(stmt, ast.Assert) else \
            stmt.value if isinstance(stmt, ast.Expr) and expression_tests else None
        if expr is not None:
            found = _check(expr, source)
            if found is None:
                why = f"`{_short(source, stmt)}` is not LEFT == literal or np.isclose(LEFT, literal)"
                break
            verdict = _calls(found.left, helpers)
            if verdict:  # e.g. test_func_throws(...) -> True: the helper decides pass/fail in the sandbox
                why = f"its value is a verdict computed by the test's own helper `{verdict}` in the sandbox"
                break
            checks.append(found)
            lines.append(f"_got.append({found.left})")
        elif isinstance(stmt, SETUP_NODES) and not _writes_global(stmt):
            lines.append(_segment(source, stmt))
        else:
            why = f"`{type(stmt).__name__}` statement over the notebook's state (`{_short(source, stmt)}`)"
            break
    if not why and not checks:
        why = "no checks of the form LEFT == literal"
    modes = {(c.mode, c.rtol, c.atol) for c in checks}
    if not why and len(modes) > 1:
        why = "mixes exact and approximate comparisons"
    if why:
        return _inside(source, name=name, points=points, hidden=hidden, description=description, why=why)
    mode, rtol, atol = modes.pop()
    body_src = "\n".join(["_got = []", *lines, "return _got"])
    func = (f"{_decorator(points, hidden, mode=mode, rtol=rtol, atol=atol)}\n"
            f"def {name}():\n    {description!r}\n" + _indent(body_src))
    literals = ", ".join(c.literal for c in checks)
    kind = "equal" if mode == "equal" else f"np.isclose (rtol={rtol:g}, atol={atol:g})"
    how = (f"outside: returns {len(checks)} value(s) ({', '.join(c.left for c in checks)[:120]}); compared "
           f"{kind} with the solution's values (literals: {literals[:80]})")
    return ConvertedTest(name, func, True, how, points, hidden)


def _calls(expr_source: str, names: set[str]) -> str:
    """The first of `names` that `expr_source` calls, or ""."""
    try:
        tree = ast.parse(expr_source, mode="eval")
    except SyntaxError:
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
            return node.func.id
    return ""


def _writes_global(stmt: ast.stmt) -> bool:
    return any(isinstance(n, (ast.Global, ast.Nonlocal)) for n in ast.walk(stmt))


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" if line.strip() else "\n" for line in text.splitlines())


def _inside(source: str, *, name: str, points: float, hidden: bool, description: str, why: str) -> ConvertedTest:
    func = (f"{_decorator(points, hidden, inside=True)}\n"
            f"def {name}():\n    {(description or name)!r}\n"
            f"    return {INSIDE_HELPER}({source.strip()!r})\n")
    return ConvertedTest(name, func, False, f"judged inside: {why}", points, hidden)


def tests_cell(directive: str, tests: list[ConvertedTest]) -> str:
    """The source of one `# TESTS q` / `# HIDDEN TESTS q` cell holding `tests`."""
    parts = [directive]
    if any(not t.outside for t in tests):
        parts.append(INSIDE_HELPER_SOURCE)
    parts.extend(t.source for t in tests)
    return "\n\n".join(p.rstrip() for p in parts) + "\n"
