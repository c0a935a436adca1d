"""The feature ledger: which module teaches each Python construct and numpy/torch API.

The ledger is a TOML file (`feature_ledger.toml` at the course root, next to `course_config.py`):

    [features]
    "for" = "1.0"                 # a Python construct (the names are listed in PYTHON_CONSTRUCTS)
    "np.array" = "1.2"            # a library name, with the usual aliases (np, nn, F, optim, L, plt)
    "np.random.*" = "1.3"         # every name under a prefix, unless listed on its own
    ".backward" = "5.1"           # a method or attribute on any object: x.backward(), t.shape

A notebook may use a feature in student-visible code (or require it in an exercise's solution) only if its
module is the teaching module or later. `features_used` finds the features in one cell's code; `taught_in`
looks a feature up (exact name, then `prefix.*` from the longest prefix). Module ids compare as (part, number):
"1.0" < "1.3" < "2.1"; a part's `project` comes after its modules and `major-project` after that (in the ledger,
write them "4.project", "4.major-project").
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aiml_course.errors import ConfigError

LEDGER_FILE = "feature_ledger.toml"
PROJECT_ORDER = {"project": 90, "major-project": 95}
_MODULE = re.compile(r"^(\d+)\.(\d+)([a-z]?)$")
_PART_PROJECT = re.compile(r"^(\d+)\.(project|major-project)$")

# Python constructs: ledger name -> what in the code counts as a use
PYTHON_CONSTRUCTS: dict[str, str] = {
    "variables": "an assignment `x = ...`",
    "list": "a list literal `[...]`",
    "list-index": "indexing a list or array `xs[0]`",
    "slice": "slicing `xs[1:3]`",
    "tuple": "a tuple literal `(a, b)` (also a, b = ... unpacking)",
    "dict": "a dict literal `{...: ...}` or dict(...)",
    "set": "a set literal `{a, b}` or set(...)",
    "for": "a for loop",
    "while": "a while loop",
    "if": "an if statement",
    "if-expression": "a conditional expression `a if c else b`",
    "def": "a function definition",
    "return": "a return statement",
    "default-arguments": "a parameter with a default value `def f(x, n=3)`",
    "keyword-arguments": "a call with keyword arguments `f(x, n=3)`",
    "star-arguments": "*args / **kwargs in a definition or a call",
    "lambda": "a lambda expression",
    "f-string": "an f-string `f\"...{x}...\"`",
    "list-comprehension": "`[... for ... in ...]`",
    "dict-comprehension": "`{k: v for ...}`",
    "set-comprehension": "`{x for ...}`",
    "generator-expression": "`(... for ... in ...)`",
    "class": "a class definition",
    "decorator": "a decorator `@...` (not the course's own @case)",
    "try": "try/except",
    "raise": "raise",
    "assert": "assert",
    "with": "a with block",
    "import": "an import statement",
    "global": "global / nonlocal",
    "yield": "a generator function (yield)",
    "matmul": "the matrix-multiplication operator `@`",
    "walrus": "an assignment expression `:=`",
}
ALIASES = (  # longest module prefix first: full dotted name -> the name the ledger uses
    ("torch.nn.functional.", "F."),
    ("torch.nn.", "nn."),
    ("torch.optim.", "optim."),
    ("lightning.pytorch.", "L."),
    ("pytorch_lightning.", "L."),
    ("lightning.", "L."),
    ("matplotlib.pyplot.", "plt."),
    ("numpy.", "np."),
)
BUILTINS_TRACKED = frozenset({
    "print", "len", "range", "enumerate", "zip", "sum", "min", "max", "abs", "round", "sorted", "isinstance",
    "int", "float", "str", "bool", "list", "dict", "set", "tuple", "input", "type", "map", "filter", "any", "all",
    "reversed", "open", "getattr", "setattr", "hasattr", "iter", "next", "super", "divmod", "pow",
})  # fmt: skip


@dataclass(frozen=True)
class Ledger:
    path: Path
    features: dict[str, str]           # feature -> module id that teaches it

    def taught_in(self, feature: str) -> str | None:
        """The module that teaches `feature`: its own entry, else the longest `prefix.*` entry, else None."""
        if feature in self.features:
            return self.features[feature]
        parts = feature.split(".")
        for n in range(len(parts) - 1, 0, -1):
            module = self.features.get(".".join(parts[:n]) + ".*")
            if module is not None:
                return module
        return None


def module_order(module: str, part: int | None = None) -> tuple[int, int, str] | None:
    """(part, number, suffix) for "2.1", "8.1a"; a project sorts after its part's modules; None if unknown."""
    m = _MODULE.match(module.strip())
    if m:
        return int(m.group(1)), int(m.group(2)), m.group(3)
    m = _PART_PROJECT.match(module.strip())
    if m:
        return int(m.group(1)), PROJECT_ORDER[m.group(2)], ""
    if module in PROJECT_ORDER and part is not None:
        return part, PROJECT_ORDER[module], ""
    return None


def load_ledger(path: Path) -> Ledger:
    """Read and check a ledger file; a module id that does not parse is a ConfigError naming the feature."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the feature ledger ({exc})") from exc
    features = data.get("features")
    if not isinstance(features, dict):
        raise ConfigError(f"{path}: the feature ledger needs a [features] table mapping feature -> module")
    for feature, module in features.items():
        if not isinstance(module, str) or module_order(module) is None:
            raise ConfigError(f"{path}: feature {feature!r} maps to {module!r}; write a module id such as \"1.3\"")
        if not (feature in PYTHON_CONSTRUCTS or feature in BUILTINS_TRACKED or "." in feature):
            raise ConfigError(f"{path}: unknown feature {feature!r}: use a Python construct "
                              f"({', '.join(sorted(PYTHON_CONSTRUCTS))}), a builtin, a dotted library name "
                              "(np.array, torch.tensor, np.random.*) or a method (.backward)")
    return Ledger(path, dict(features))


def find_ledger(start: Path) -> Path | None:
    """The ledger of the course that holds `start`: the nearest folder above it with both course_config.py
    and feature_ledger.toml."""
    for folder in [start, *start.parents] if start.is_dir() else start.parents:
        if (folder / LEDGER_FILE).is_file():
            return folder / LEDGER_FILE
        if (folder / "course_config.py").is_file():
            return None
    return None


def import_bindings(trees: list[ast.Module]) -> dict[str, str]:
    """Name bound by an import -> the full dotted name it stands for, over a whole notebook."""
    bound: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        bound[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def ledger_name(full: str) -> str:
    """numpy.linalg.norm -> np.linalg.norm; torch.nn.Linear -> nn.Linear; torch.tensor stays."""
    for prefix, short in ALIASES:
        if full.startswith(prefix):
            return short + full[len(prefix):]
        if full == prefix[:-1]:
            return short[:-1]
    return full


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _is_case_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Name) and target.id == "case"


def features_used(tree: ast.Module, bindings: dict[str, str]) -> Iterator[tuple[str, int]]:
    """(feature, line) for every feature the code uses; library names resolved through `bindings`."""
    library_nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in library_nodes:
            dotted = _dotted(node)
            if dotted and dotted[0] in bindings:
                # mark the inner attributes so np.random.normal counts once, as the longest name
                inner = node.value
                while isinstance(inner, ast.Attribute):
                    library_nodes.add(id(inner))
                    inner = inner.value
                library_nodes.add(id(inner))  # the base name itself (np, nn) is not a use of its own
                yield ledger_name(".".join([bindings[dotted[0]], *dotted[1:]])), node.lineno
            elif dotted is None or dotted[0] not in bindings:
                yield f".{node.attr}", node.lineno
        elif isinstance(node, ast.Name) and node.id in bindings and isinstance(node.ctx, ast.Load) \
                and id(node) not in library_nodes:
            full = bindings[node.id]
            if "." in full:  # from torch.utils.data import DataLoader: DataLoader(...) uses the library name
                yield ledger_name(full), node.lineno
        yield from _construct(node)


def _construct(node: ast.AST) -> Iterator[tuple[str, int]]:
    line = getattr(node, "lineno", 0)
    simple = {
        ast.For: "for", ast.AsyncFor: "for", ast.While: "while", ast.If: "if", ast.IfExp: "if-expression",
        ast.Return: "return", ast.Lambda: "lambda", ast.JoinedStr: "f-string", ast.ListComp: "list-comprehension",
        ast.DictComp: "dict-comprehension", ast.SetComp: "set-comprehension",
        ast.GeneratorExp: "generator-expression", ast.ClassDef: "class", ast.Try: "try", ast.Raise: "raise",
        ast.Assert: "assert", ast.With: "with", ast.Import: "import", ast.ImportFrom: "import",
        ast.Global: "global", ast.Nonlocal: "global", ast.Yield: "yield", ast.YieldFrom: "yield",
        ast.NamedExpr: "walrus", ast.List: "list", ast.Dict: "dict", ast.Set: "set", ast.Slice: "slice",
    }
    for kind, feature in simple.items():
        if isinstance(node, kind):
            yield feature, line
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        yield "def", line
        args = node.args
        if args.defaults or any(d is not None for d in args.kw_defaults):
            yield "default-arguments", line
        if args.vararg or args.kwarg:
            yield "star-arguments", line
        if any(not _is_case_decorator(d) for d in node.decorator_list):
            yield "decorator", line
    elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        yield "variables", line
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(isinstance(t, ast.Tuple) for t in targets):
            yield "tuple", line
    elif isinstance(node, ast.Tuple) and isinstance(node.ctx, ast.Load):
        yield "tuple", line
    elif isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
        yield "list-index", line
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        yield "matmul", line
    elif isinstance(node, ast.Call):
        if any(k.arg is not None for k in node.keywords):
            yield "keyword-arguments", line
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            yield "star-arguments", line
        if isinstance(node.func, ast.Name) and node.func.id in BUILTINS_TRACKED:
            yield node.func.id, line
