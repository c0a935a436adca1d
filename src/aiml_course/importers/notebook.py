"""Building one notebook in our authoring format (plain cells plus first-line directives)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SETUP_SOURCE = ("# Imported assignment: test cells define cases with @case (see docs/import.md).\n"
                "from aiml_notebooks import case")


def cell_source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def read_notebook(path: Path) -> Any:
    from aiml_course.errors import ImportFailure

    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:
        raise ImportFailure(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from exc


MAGIC_MATPLOTLIB = re.compile(r"^(\s*)%matplotlib\b.*$", re.M)


def without_gui_magic(code: str) -> tuple[str, bool]:
    """`%matplotlib inline` needs a GUI-capable kernel; here plots are drawn headless, so the line is commented."""
    new = MAGIC_MATPLOTLIB.sub(lambda m: f"{m.group(1)}# {m.group(0).strip()}  (not needed: plots render headless)",
                               code)
    return new, new != code


def manual_stub(kind: str) -> str:
    return "# YOUR CODE HERE" if kind == "code" else "YOUR ANSWER HERE"


@dataclass
class NotebookBuilder:
    """Collects cells of our format; `imported` goes into metadata.aiml.imported (where each piece came from)."""

    tool: str
    source: Path
    kernelspec: dict[str, Any] = field(default_factory=dict)
    cells: list[Any] = field(default_factory=list)
    origins: dict[str, dict[str, Any]] = field(default_factory=dict)   # qid → foreign id, kind, cell

    def __post_init__(self) -> None:
        self.code(SETUP_SOURCE)

    def markdown(self, text: str) -> None:
        self.cells.append(nbformat.v4.new_markdown_cell(text))

    def plain(self, cell_type: str, text: str) -> str | None:
        """Copy a cell that is no question's: markdown and raw as they are (an empty raw cell is dropped), code
        with GUI magics commented out. Returns what the import report should say about it, if anything."""
        if cell_type == "markdown":
            self.markdown(text)
        elif cell_type == "code":
            code, changed = without_gui_magic(text)
            self.code(code)
            if changed:
                return "commented out: plots render headless in the sandbox, and the magic fails there"
        elif text.strip():
            self.raw(text)
        return None

    def raw(self, text: str) -> None:
        self.cells.append(nbformat.v4.new_raw_cell(text))

    def code(self, text: str) -> None:
        self.cells.append(nbformat.v4.new_code_cell(text))

    def answer(self, qid: str, body: str) -> None:
        """`body` must hold one or more ### BEGIN/END SOLUTION regions (see with_solution_region)."""
        self.code(f"# ANSWER {qid}\n{body}")

    def manual(self, qid: str, points: float, answer: str, *, kind: str) -> None:
        if kind == "code":
            self.code(f"# MANUAL {qid} {points:g}\n{answer}")
        else:
            self.markdown(f"<!-- MANUAL {qid} {points:g} -->\n{answer}")

    def notebook(self, title: str) -> Any:
        nb = nbformat.v4.new_notebook()
        nb.nbformat, nb.nbformat_minor = 4, 5
        if self.kernelspec:
            nb.metadata["kernelspec"] = self.kernelspec
        nb.metadata["aiml"] = {"title": title, "imported": {"from": self.tool, "source": self.source.name,
                                                            "questions": self.origins}}
        nb.cells = self.cells
        for n, cell in enumerate(nb.cells, 1):
            cell.id = f"imported-{n:03d}"
        return nb


def with_solution_region(code: str) -> str:
    """Whole-cell solutions (no markers) become one region, as nbgrader stubs them entirely."""
    if BEGIN in code:
        return code
    return f"{BEGIN}\n{code.rstrip()}\n{END}"


def write_notebook(nb: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(nb)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def stem_for(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "notebook"
