"""`course similarity PART DIR`: students' code compared after normalisation; suspicious pairs for a person to judge.

Ref: S. Schleimer, D. S. Wilkerson, A. Aiken, "Winnowing: local algorithms for document fingerprinting",
SIGMOD 2003 (the method behind MOSS).

Each student's code cells are parsed with `ast`, identifiers become positional placeholders per function or cell,
comments, docstrings and formatting vanish and literals keep only their type; the resulting token stream is cut
into k-grams, hashed and winnowed (the minimum hash of every window of w k-grams). Fingerprints that occur in the
released starter notebooks, or in the code of more than `common_limit` students (MOSS's `-m`), are ignored.
A pair's score is the larger MOSS-style share: the fraction of one student's fingerprints found in the other's
code, per notebook and overall. Nothing here reads or writes the gradebook: a listed pair is a lead, not a verdict.
"""

from __future__ import annotations

import ast
import builtins
import html
import io
import json
import keyword
import logging
import re
import tokenize
import warnings
import zlib
from collections import Counter, defaultdict, deque
from dataclasses import asdict, dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import Any

import click

from aiml_course.config import Course, load_course
from aiml_course.errors import CourseError, GradingError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
K, W = 10, 6  # k-gram length and winnowing window, in normalised tokens (a line of code is ~3-6 tokens)
MAX_CELL_PAIRS = 40  # matched cell pairs shown per student pair
MIN_COMMON = 10  # fewer shared fingerprints (~8 lines) never list a pair: identical one-liners are not copying

_BUILTINS = frozenset(dir(builtins))
_MAGIC_LINE = re.compile(r"^\s*(?:[%!]|\w+\s*=\s*[%!])")
_MODULUS, _BASE = (1 << 61) - 1, 1_000_003
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_SKIPPED = (ast.expr_context, ast.type_ignore)
_LITERAL_TOKENS = (tokenize.NUMBER, tokenize.STRING, getattr(tokenize, "FSTRING_START", -1))  # f-strings: 3.12+

Token = tuple[str, int]  # (normalised label, line in the cell, 1-based)


@dataclass(frozen=True, slots=True)
class CodeCell:
    """One code cell of a notebook; `cell` counts every cell from 1, as Jupyter users count them."""

    notebook: str
    cell: int
    source: str


@dataclass(slots=True)
class NotebookPrint:
    """The winnowed fingerprints of one notebook and where each came from."""

    notebook: str
    cells: dict[int, str]
    where: list[tuple[int, int]]  # token index -> (cell, line)
    prints: dict[int, list[int]] = field(default_factory=dict)  # hash -> start token of each k-gram


@dataclass(frozen=True, slots=True)
class MatchedCells:
    """Two cells that share fingerprints, and the lines of each that the shared fingerprints cover."""

    notebook: str
    cell_a: int
    cell_b: int
    source_a: str
    source_b: str
    lines_a: tuple[int, ...]
    lines_b: tuple[int, ...]
    common: int


@dataclass(frozen=True, slots=True)
class Overlap:
    """Shared fingerprints of two students, in one notebook or overall."""

    notebook: str  # "" for the whole part
    common: int
    total_a: int
    total_b: int

    @property
    def share_a(self) -> float:
        return self.common / self.total_a if self.total_a else 0.0

    @property
    def share_b(self) -> float:
        return self.common / self.total_b if self.total_b else 0.0

    @property
    def jaccard(self) -> float:
        union = self.total_a + self.total_b - self.common
        return self.common / union if union else 0.0

    @property
    def score(self) -> float:
        return max(self.share_a, self.share_b)

    def to_dict(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "common": self.common, "total_a": self.total_a,
                "total_b": self.total_b, "share_a": round(self.share_a, 4), "share_b": round(self.share_b, 4),
                "jaccard": round(self.jaccard, 4), "score": round(self.score, 4)}


@dataclass(frozen=True, slots=True)
class PairReport:
    """Two students whose code overlaps: overall, per notebook, and the matching cells side by side."""

    student_a: str
    student_b: str
    overall: Overlap
    notebooks: tuple[Overlap, ...]
    cells: tuple[MatchedCells, ...] = ()

    @property
    def score(self) -> float:
        """The higher of the overall score and the best notebook's: copying one notebook is enough to list."""
        return max([self.overall.score, *(n.score for n in self.notebooks)])

    def to_dict(self) -> dict[str, Any]:
        return {"student_a": self.student_a, "student_b": self.student_b, "score": round(self.score, 4),
                "overall": self.overall.to_dict(), "notebooks": [n.to_dict() for n in self.notebooks],
                "cells": [asdict(c) for c in self.cells]}


@dataclass(frozen=True)
class SimilarityReport:
    """Every pair scored at or above the threshold, highest first, with what was compared."""

    part: str
    threshold: float
    students: tuple[str, ...]
    notebooks: tuple[str, ...]
    pairs: tuple[PairReport, ...]
    pairs_compared: int
    unreadable: tuple[str, ...] = ()
    settings: dict[str, int | None] = field(default_factory=dict)
    html_path: Path | None = None
    json_path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "part": self.part, "threshold": self.threshold,
                "settings": self.settings, "students": list(self.students), "notebooks": list(self.notebooks),
                "pairs_compared": self.pairs_compared, "unreadable": list(self.unreadable),
                "pairs": [p.to_dict() for p in self.pairs]}

    def table(self) -> list[tuple[str, str, float, float, float, int, str]]:
        """(student a, student b, score, share of a, share of b, shared fingerprints, best notebook) per pair."""
        rows = []
        for p in self.pairs:
            best = max(p.notebooks, key=lambda n: n.score, default=p.overall)
            rows.append((p.student_a, p.student_b, p.score, p.overall.share_a, p.overall.share_b,
                         p.overall.common, best.notebook or "(all)"))
        return rows


# ── reading ──────────────────────────────────────────────────────────────────────────────────────────────


def read_code_cells(path: Path) -> list[CodeCell]:
    """The code cells of a notebook file; raises ValueError (or OSError) when it is not a readable notebook."""
    data = json.loads(path.read_text(encoding="utf-8"))
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise ValueError("no 'cells' list")
    code = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        code.append(CodeCell(path.stem, number, "".join(source) if isinstance(source, list) else str(source)))
    return code


def student_notebooks(directory: Path, part: str, stems: list[str]) -> dict[str, dict[str, Path]]:
    """student -> notebook stem -> path, for `DIR/<student>/<nb>.ipynb` or `DIR/<student>/<part>/<nb>.ipynb`."""
    if not directory.is_dir():
        raise GradingError(f"{directory} is not a folder of student submissions")
    found: dict[str, dict[str, Path]] = {}
    for student_dir in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")):
        folder = student_dir / part if (student_dir / part).is_dir() else student_dir
        paths = {p.stem: p for p in sorted(folder.glob("*.ipynb")) if not stems or p.stem in stems}
        if paths:
            found[student_dir.name] = paths
    return found


# ── normalisation ────────────────────────────────────────────────────────────────────────────────────────


def strip_magics(source: str) -> str:
    """The cell with IPython magic and shell lines (`%…`, `!…`, `x = !…`) blanked, keeping line numbers."""
    return "\n".join("" if _MAGIC_LINE.match(line) else line for line in source.split("\n"))


def parse_cell(source: str) -> ast.Module | None:
    """The cell's syntax tree (top-level `await` allowed, as in Jupyter), or None when it is not Python."""
    with warnings.catch_warnings():  # invalid escapes in student strings are not our concern here
        warnings.simplefilter("ignore")
        try:
            tree = compile(source, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
    return tree if isinstance(tree, ast.Module) else None


def imported_names(sources: list[str]) -> frozenset[str]:
    """Names bound by import statements anywhere in these cells: library names stay as they are."""
    names: set[str] = set()
    for source in sources:
        tree = parse_cell(strip_magics(source))
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


class _Renamer:
    """Positional placeholders: a stack of per-function maps for names, one per-cell map for attributes."""

    def __init__(self, keep: frozenset[str]) -> None:
        self.keep = keep
        self.scopes: list[dict[str, str]] = [{}]
        self.attributes: dict[str, str] = {}

    def name(self, ident: str) -> str:
        if ident in self.keep:
            return ident
        scope = self.scopes[-1]
        return scope.setdefault(ident, f"v{len(scope)}")

    def attribute(self, node: ast.Attribute) -> str:
        if isinstance(node.value, ast.Name) and node.value.id in self.keep:
            return node.attr  # a library's API (np.zeros), not a name the student chose
        return self.attributes.setdefault(node.attr, f"a{len(self.attributes)}")


def _is_docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _label(node: ast.AST, names: _Renamer) -> str:
    """The token for one node: its type, plus a placeholder for names and the type of a literal's value."""
    kind = type(node).__name__
    if isinstance(node, ast.Name):
        return f"{kind}:{names.name(node.id)}"
    if isinstance(node, ast.arg):
        return f"{kind}:{names.name(node.arg)}"
    if isinstance(node, ast.Attribute):
        return f"{kind}:{names.attribute(node)}"
    if isinstance(node, ast.Constant):
        return f"{kind}:{type(node.value).__name__}"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return f"{kind}:{names.name(node.name)}"
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return f"{kind}:{getattr(node, 'module', None) or ''}:{','.join(sorted(a.name for a in node.names))}"
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return f"{kind}:{','.join(names.name(n) for n in node.names)}"
    if isinstance(node, ast.ExceptHandler) and node.name:
        return f"{kind}:{names.name(node.name)}"
    return kind


def ast_tokens(tree: ast.Module, keep: frozenset[str]) -> list[Token]:
    """Pre-order node labels of a renamed tree, with END after every block; docstrings and bare strings dropped."""
    names = _Renamer(keep)
    tokens: list[Token] = []
    stack: list[tuple[ast.AST | str, int]] = [(child, 1) for child in reversed(tree.body)]
    while stack:  # explicit stack: deeply nested expressions must not hit the recursion limit
        item, line = stack.pop()
        if isinstance(item, str):
            if item == "POP":
                names.scopes.pop()
            else:
                tokens.append((item, line))
            continue
        if isinstance(item, _SKIPPED) or _is_docstring(item):
            continue
        line = getattr(item, "lineno", line)
        tokens.append((_label(item, names), line))
        if isinstance(item, ast.stmt) and any(isinstance(getattr(item, f, None), list) for f in ("body", "orelse")):
            stack.append(("END", getattr(item, "end_lineno", None) or line))
        if isinstance(item, _SCOPES):
            names.scopes.append({})
            stack.append(("POP", line))
        stack.extend((child, line) for child in reversed(list(ast.iter_child_nodes(item))))
    return tokens


def _lexical_label(tok: tokenize.TokenInfo, names: _Renamer, previous: str) -> str | None:
    """The token for one lexical token (None: dropped), renamed like `ast_tokens` does."""
    if tok.type == tokenize.NAME:
        if previous == ".":
            return f"Name:{names.attributes.setdefault(tok.string, f'a{len(names.attributes)}')}"
        return f"Name:{names.name(tok.string)}"
    if tok.type == tokenize.STRING and previous in ("", "NEWLINE", "INDENT", "DEDENT"):
        return None  # a docstring or a bare string used as a comment
    if tok.type in _LITERAL_TOKENS:
        return tokenize.tok_name[tok.type]
    if tok.type == tokenize.OP:
        return tok.string
    if tok.type in (tokenize.INDENT, tokenize.DEDENT):
        return tokenize.tok_name[tok.type]
    return None


def lexical_tokens(source: str, keep: frozenset[str]) -> list[Token]:
    """Fallback for cells that do not parse: tokenize's stream, names as placeholders, literals as their kind."""
    names = _Renamer(keep | frozenset(keyword.kwlist))
    tokens: list[Token] = []
    previous = ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NAME and tok.string in ("def", "class") and tok.start[1] == 0:
                names.scopes[-1] = {}  # a new top-level function: placeholders per function, as with `ast`
            label = _lexical_label(tok, names, previous)
            if label is not None:
                tokens.append((label, tok.start[0]))
            if label is not None or tok.type == tokenize.NEWLINE:
                previous = tok.string if tok.type in (tokenize.OP, tokenize.NAME) else tokenize.tok_name[tok.type]
    except (tokenize.TokenError, SyntaxError):
        pass  # keep what was read before the error
    return tokens


def normalise(source: str, *, keep: frozenset[str] = _BUILTINS) -> list[Token]:
    """The normalised token stream of one code cell (magics dropped; `ast` if it parses, else tokenize)."""
    python = strip_magics(source)
    tree = parse_cell(python)
    return ast_tokens(tree, keep) if tree is not None else lexical_tokens(python, keep)


# ── fingerprints ─────────────────────────────────────────────────────────────────────────────────────────


def kgram_hashes(labels: list[str], *, k: int = K) -> list[int]:
    """A rolling hash of every k consecutive labels (deterministic across runs, unlike `hash`)."""
    codes = [zlib.crc32(label.encode()) for label in labels]
    if len(codes) < k:
        return []
    top = pow(_BASE, k - 1, _MODULUS)
    h = 0
    for c in codes[:k]:
        h = (h * _BASE + c) % _MODULUS
    hashes = [h]
    for i in range(k, len(codes)):
        h = ((h - codes[i - k] * top) * _BASE + codes[i]) % _MODULUS
        hashes.append(h)
    return hashes


def winnow(hashes: list[int], *, w: int = W) -> list[tuple[int, int]]:
    """(hash, position) of the minimum of every window of w hashes, the rightmost on ties, each position once."""
    if not hashes:
        return []
    if len(hashes) <= w:
        low = min(range(len(hashes)), key=lambda i: (hashes[i], -i))
        return [(hashes[low], low)]
    chosen: list[tuple[int, int]] = []
    window: deque[int] = deque()  # positions with increasing hashes; the front is the window's minimum
    for i, h in enumerate(hashes):
        while window and hashes[window[-1]] >= h:
            window.pop()
        window.append(i)
        if window[0] <= i - w:
            window.popleft()
        if i >= w - 1 and (not chosen or chosen[-1][1] != window[0]):
            chosen.append((hashes[window[0]], window[0]))
    return chosen


def fingerprint_notebook(cells: list[CodeCell], *, keep: frozenset[str], k: int = K, w: int = W) -> NotebookPrint:
    """Normalise every code cell, run the k-grams across the cells in order, and winnow."""
    labels: list[str] = []
    where: list[tuple[int, int]] = []
    for cell in cells:
        for label, line in normalise(cell.source, keep=keep):
            labels.append(label)
            where.append((cell.cell, line))
    nb = NotebookPrint(cells[0].notebook if cells else "", {c.cell: c.source for c in cells}, where)
    for h, pos in winnow(kgram_hashes(labels, k=k), w=w):
        nb.prints.setdefault(h, []).append(pos)
    return nb


def starter_hashes(notebooks: list[list[CodeCell]], *, k: int = K) -> set[int]:
    """Every k-gram hash (not only the winnowed ones) of the released starter notebooks."""
    hashes: set[int] = set()
    for cells in notebooks:
        keep = _BUILTINS | imported_names([c.source for c in cells])
        labels = [label for cell in cells for label, _ in normalise(cell.source, keep=keep)]
        hashes.update(kgram_hashes(labels, k=k))
    return hashes


# ── comparison ───────────────────────────────────────────────────────────────────────────────────────────


def _overlap(notebook: str, a: set[int], b: set[int]) -> Overlap:
    return Overlap(notebook, len(a & b), len(a), len(b))


def _dominant_cell(nb: NotebookPrint, start: int, k: int) -> tuple[int, list[int]]:
    """The cell holding most of the k-gram starting at `start`, and the lines of that cell it covers."""
    span = nb.where[start:start + k]
    cell = Counter(c for c, _ in span).most_common(1)[0][0]
    return cell, sorted({line for c, line in span if c == cell})


def matched_cells(a: NotebookPrint, b: NotebookPrint, common: set[int], *, k: int = K) -> list[MatchedCells]:
    """Pairs of cells sharing fingerprints, most shared first, with the covered lines of each."""
    lines: dict[tuple[int, int], tuple[set[int], set[int]]] = {}
    counts: Counter[tuple[int, int]] = Counter()
    for h in common:
        for pa in a.prints[h]:
            cell_a, lines_a = _dominant_cell(a, pa, k)
            for pb in b.prints[h]:
                cell_b, lines_b = _dominant_cell(b, pb, k)
                seen = lines.setdefault((cell_a, cell_b), (set(), set()))
                seen[0].update(lines_a)
                seen[1].update(lines_b)
                counts[(cell_a, cell_b)] += 1
    return [MatchedCells(a.notebook, ca, cb, a.cells[ca], b.cells[cb], tuple(sorted(lines[ca, cb][0])),
                         tuple(sorted(lines[ca, cb][1])), n)
            for (ca, cb), n in counts.most_common(MAX_CELL_PAIRS)]


def compare(prints: dict[str, dict[str, NotebookPrint]], *, threshold: float = 0.5, min_common: int = MIN_COMMON,
            common_limit: int | None = 10, k: int = K) -> tuple[list[PairReport], int]:
    """Score every pair of students; return the pairs at or above `threshold` (highest first) and how many were scored.

    A notebook (or the whole part) counts only with at least `min_common` shared fingerprints, so a few shared
    idioms in a nearly empty notebook do not make a 100 % match. Fingerprints in the code of more than
    `common_limit` students are ignored as common knowledge.
    """
    owners: dict[tuple[str, int], set[str]] = defaultdict(set)
    for student, notebooks in prints.items():
        for stem, nb in notebooks.items():
            for h in nb.prints:
                owners[stem, h].add(student)
    common_knowledge = {key for key, who in owners.items() if common_limit is not None and len(who) > common_limit}
    sets = {s: {stem: {h for h in nb.prints if (stem, h) not in common_knowledge} for stem, nb in nbs.items()}
            for s, nbs in prints.items()}
    pairs: list[PairReport] = []
    compared = 0
    for sa, sb in combinations(sorted(prints), 2):
        compared += 1
        stems = sorted(set(sets[sa]) | set(sets[sb]))
        per_nb = [_overlap(stem, sets[sa].get(stem, set()), sets[sb].get(stem, set())) for stem in stems]
        overall = Overlap("", sum(o.common for o in per_nb), sum(o.total_a for o in per_nb),
                          sum(o.total_b for o in per_nb))
        counted = [o for o in [overall, *per_nb] if o.common >= min_common]
        if not counted or max(o.score for o in counted) < threshold:
            continue
        cells = [m for stem in stems if stem in prints[sa] and stem in prints[sb]
                 for m in matched_cells(prints[sa][stem], prints[sb][stem],
                                        sets[sa][stem] & sets[sb][stem], k=k)]
        pairs.append(PairReport(sa, sb, overall, tuple(o for o in per_nb if o.common >= min_common),
                                tuple(sorted(cells, key=lambda m: -m.common)[:MAX_CELL_PAIRS])))
    pairs.sort(key=lambda p: (-p.score, p.student_a, p.student_b))
    return pairs, compared


def fingerprint_students(paths: dict[str, dict[str, Path]], starter: set[int], *, k: int = K, w: int = W
                         ) -> tuple[dict[str, dict[str, NotebookPrint]], list[str]]:
    """Fingerprints per student and notebook, starter k-grams removed; unreadable notebooks are listed, not fatal."""
    prints: dict[str, dict[str, NotebookPrint]] = {}
    unreadable: list[str] = []
    for student, notebooks in paths.items():
        cells_by_nb: dict[str, list[CodeCell]] = {}
        for stem, path in notebooks.items():
            try:
                cells_by_nb[stem] = read_code_cells(path)
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                logger.warning("%s: not a readable notebook (%s); skipped", path, exc)
                unreadable.append(f"{student}/{path.name}")
        prints[student] = {}
        for stem, cells in cells_by_nb.items():
            keep = _BUILTINS | imported_names([c.source for c in cells])  # as starter_hashes does
            nb = fingerprint_notebook(cells, keep=keep, k=k, w=w)
            nb.prints = {h: pos for h, pos in nb.prints.items() if h not in starter}
            nb.notebook = stem
            prints[student][stem] = nb
    return prints, unreadable


def _release_cells(path: Path) -> list[CodeCell]:
    try:
        return read_code_cells(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise GradingError(f"{path}: the released notebook is unreadable ({exc}); run `course build`") from exc


def find_similar(course: Course, *, part: str, directory: Path, threshold: float = 0.5, min_common: int = MIN_COMMON,
                 common_limit: int | None = 10, k: int = K, w: int = W) -> SimilarityReport:
    """Fingerprint every student's notebooks of `part` in `directory` and list the pairs scoring >= `threshold`."""
    if not 0 <= threshold <= 1:
        raise GradingError(f"threshold must be between 0 and 1, got {threshold}")
    if k < 1 or w < 1:
        raise GradingError("k and w must be at least 1")
    part_id = course.part(part).id
    release = sorted((course.release_dir / part_id).glob("*.ipynb"))
    if not release:
        logger.warning("%s has no released notebooks: starter code cannot be ignored", course.release_dir / part_id)
    stems = [p.stem for p in release]
    paths = student_notebooks(directory, part_id, stems)
    starter = starter_hashes([_release_cells(p) for p in release], k=k)
    prints, unreadable = fingerprint_students(paths, starter, k=k, w=w)
    pairs, compared = compare(prints, threshold=threshold, min_common=min_common, common_limit=common_limit, k=k)
    notebooks = stems or sorted({stem for nbs in paths.values() for stem in nbs})
    return SimilarityReport(part_id, threshold, tuple(sorted(prints)), tuple(notebooks), tuple(pairs), compared,
                            tuple(unreadable), {"k": k, "w": w, "min_common": min_common,
                                                "common_limit": common_limit})


# ── report ───────────────────────────────────────────────────────────────────────────────────────────────


def _code_html(source: str, marked: tuple[int, ...]) -> str:
    marks = set(marked)
    rows = []
    for number, line in enumerate(source.split("\n"), start=1):
        text = html.escape(line) or " "
        rows.append(f'<span class=ln>{number:>3}</span> <mark>{text}</mark>' if number in marks
                    else f"<span class=ln>{number:>3}</span> {text}")
    return "<pre>" + "\n".join(rows) + "</pre>"


def _pair_html(index: int, pair: PairReport) -> str:
    e = html.escape
    nb_rows = "".join(f"<tr><td>{e(o.notebook)}</td><td class=num>{o.share_a:.0%}</td><td class=num>{o.share_b:.0%}"
                      f"</td><td class=num>{o.jaccard:.0%}</td><td class=num>{o.common}</td></tr>"
                      for o in pair.notebooks)
    cells = "".join(
        f"<tr><th>{e(m.notebook)}, cell {m.cell_a} ({m.common} shared)</th>"
        f"<th>{e(m.notebook)}, cell {m.cell_b}</th></tr>"
        f"<tr><td>{_code_html(m.source_a, m.lines_a)}</td><td>{_code_html(m.source_b, m.lines_b)}</td></tr>"
        for m in pair.cells)
    return (f"<section id=pair-{index}><h2>{e(pair.student_a)} ↔ {e(pair.student_b)}: {pair.score:.0%}</h2>"
            f"<table><tr><th>notebook</th><th>of {e(pair.student_a)}</th><th>of {e(pair.student_b)}</th>"
            f"<th>Jaccard</th><th>shared</th></tr>{nb_rows}</table>"
            f"<table class=side><tr><th>{e(pair.student_a)}</th><th>{e(pair.student_b)}</th></tr>{cells}</table>"
            f"</section>")


def render_html(report: SimilarityReport) -> str:
    """The report as one HTML page: the pairs, their percentages, and matched cells side by side."""
    e = html.escape
    summary = "".join(
        f"<tr><td><a href='#pair-{i}'>{e(p.student_a)} ↔ {e(p.student_b)}</a></td><td class=num>{p.score:.0%}</td>"
        f"<td class=num>{p.overall.share_a:.0%}</td><td class=num>{p.overall.share_b:.0%}</td>"
        f"<td class=num>{p.overall.common}</td></tr>" for i, p in enumerate(report.pairs, start=1))
    body = "".join(_pair_html(i, p) for i, p in enumerate(report.pairs, start=1))
    limit = report.settings.get("common_limit")
    common = f"code shared by more than {limit} students is" if limit is not None else "nothing else is"
    unreadable = (f"<p>Unreadable notebooks (not compared): {e(', '.join(report.unreadable))}</p>"
                  if report.unreadable else "")
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width, initial-scale=1">
<title>Code similarity — {e(report.part)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem auto;padding:0 1rem;max-width:90rem}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0}}td,th{{border-bottom:1px solid #ddd;padding:.3rem;
text-align:left;vertical-align:top}}.num{{text-align:right}}.side td{{width:50%}}pre{{margin:0;white-space:pre-wrap;
font-size:.85rem}}mark{{background:#ffe08a}}.ln{{color:#999}}.note{{background:#eef;padding:.5rem}}</style></head>
<body><h1>Code similarity — {e(report.part)}</h1>
<p class=note>A listed pair is a lead for a person to judge, not a finding: it changes no grade. Starter code from
release/ is ignored, and {common} ignored.
Score = the larger share of one student's fingerprints found in the other's code (overall or in one notebook).</p>
<p>{len(report.students)} students, {report.pairs_compared} pairs compared, {len(report.pairs)} at or above
{report.threshold:.0%}.</p>{unreadable}
<table><tr><th>pair</th><th>score</th><th>of a</th><th>of b</th><th>shared</th></tr>{summary}</table>
{body}</body></html>
"""


def write_report(report: SimilarityReport, *, html_path: Path) -> SimilarityReport:
    """Write the HTML page and, beside it, the JSON (same name, .json); return the report with both paths."""
    html_path.parent.mkdir(parents=True, exist_ok=True)
    json_path = html_path.with_suffix(".json")
    html_path.write_text(render_html(report), encoding="utf-8")
    json_path.write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
    return replace(report, html_path=html_path, json_path=json_path)


def similarity_report(course: Course, *, part: str, directory: Path, threshold: float = 0.5,
                      out: Path | None = None) -> SimilarityReport:
    """Compare the students' code of `part` and write the reports (default `var/similarity/<part>.html`)."""
    report = find_similar(course, part=part, directory=directory, threshold=threshold)
    return write_report(report, html_path=out or course.root / "var" / "similarity" / f"{report.part}.html")


@click.command("similarity")
@click.argument("part")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="List pairs whose score (share of shared fingerprints) is at least this.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML report path (default: var/similarity/<part>.html); the JSON goes beside it.")
@click.pass_context
def similarity_cli(ctx: click.Context, part: str, directory: Path, threshold: float, out: Path | None) -> None:
    """List pairs of students whose code for PART in DIRECTORY is suspiciously alike (no grade changes)."""
    try:
        report = similarity_report(load_course(ctx.obj["config"]), part=part, directory=directory,
                                   threshold=threshold, out=out)
    except CourseError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{'student a':16} {'student b':16} {'score':>6} {'of a':>6} {'of b':>6} {'shared':>7}  notebook")
    for a, b, score, share_a, share_b, common, notebook in report.table():
        click.echo(f"{a:16} {b:16} {score:>6.0%} {share_a:>6.0%} {share_b:>6.0%} {common:>7}  {notebook}")
    click.echo(f"{len(report.students)} students, {report.pairs_compared} pairs compared, "
               f"{len(report.pairs)} at or above {threshold:.0%}")
    if report.unreadable:
        click.secho(f"unreadable (skipped): {', '.join(report.unreadable)}", fg="yellow", err=True)
    click.echo(f"report: {report.html_path}\njson:   {report.json_path}")
