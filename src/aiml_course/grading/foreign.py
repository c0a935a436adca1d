"""Submissions made from nbgrader's or otter's own student version of an imported assignment.

Their cells are matched by what they are, never by position: nbgrader cells by `metadata.nbgrader.grade_id`, otter
cells by their `grader.check("q…")` calls and `<!-- BEGIN QUESTION -->` blocks, ours by `metadata.aiml`. Before
the notebook goes into the sandbox their own test cells are marked to be skipped (what they assert decides nothing
here: our probes run after all cells, on the names the notebook defined) and otter's `import otter` /
`grader = otter.Notebook()` lines are turned into comments (otter is not installed in the sandbox). Manual answers
are found for the grader by question id.

Everything in a submission is untrusted: marking a cell as a test only stops it from running, which can only cost
its author points.
"""

from __future__ import annotations

import re
from typing import Any

OTTER_CALL = re.compile(r"^\s*(grader\.(check|check_all|export|to_pdf)\(.*\)|#.*|)\s*;?\s*$")
OTTER_SETUP = re.compile(r"^\s*(import otter|grader\s*=\s*otter\.Notebook\(.*\)|%matplotlib\b.*)\s*$")
OTTER_QUESTION_BEGIN = "<!-- BEGIN QUESTION -->"
OTTER_QUESTION_END = "<!-- END QUESTION -->"
MAX_ANSWER_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def question_id(foreign: str, *, prefix: str = "q") -> str:
    """Our question/case id for a foreign name ('part-a' → 'part_a', '1.4' → 'q1_4'): importers use the same."""
    ident = re.sub(r"\W+", "_", foreign.strip()).strip("_") or prefix
    if not re.match(r"[A-Za-z_]", ident):
        ident = f"{prefix}{ident}"
    return ident[:40]


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(str(s) for s in src) if isinstance(src, list) else str(src)


def _nbgrader(cell: dict[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata")
    data = meta.get("nbgrader") if isinstance(meta, dict) else None
    return data if isinstance(data, dict) else {}


def layout(nb: dict[str, Any]) -> str:
    """'nbgrader', 'otter' or 'ours' (anything else is graded as it is)."""
    cells = [c for c in nb.get("cells", []) if isinstance(c, dict)]
    if any(_nbgrader(c) for c in cells):
        return "nbgrader"
    if any(c.get("cell_type") == "code" and "otter.Notebook(" in _source(c) for c in cells):
        return "otter"
    return "ours"


def _skip(cell: dict[str, Any]) -> None:
    meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    meta["aiml"] = {"role": "tests"}
    cell["metadata"] = meta


def prepare_submission(nb: dict[str, Any]) -> dict[str, Any]:
    """The notebook as it goes into the sandbox: the foreign tool's own test cells skipped, otter lines removed."""
    kind = layout(nb)
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = _source(cell)
        if kind == "nbgrader":
            meta = _nbgrader(cell)
            if meta.get("grade") and not meta.get("solution"):
                _skip(cell)
        elif kind == "otter":
            lines = src.splitlines()
            if lines and all(OTTER_CALL.match(line) for line in lines) and "grader." in src:
                _skip(cell)
            elif any(OTTER_SETUP.match(line) for line in lines):
                cell["source"] = "\n".join(f"# {line.strip()}  (not used here)" if OTTER_SETUP.match(line)
                                           else line for line in lines)
    return nb


def _clean(text: str) -> str:
    text = _CONTROL.sub("", text).strip()
    return text if len(text) <= MAX_ANSWER_CHARS else text[: MAX_ANSWER_CHARS - 1] + "…"


def manual_answers(nb: dict[str, Any], manual_qids: list[str]) -> dict[str, str]:
    """qid → what the student wrote for each manual question (matched by id; otter blocks by their order)."""
    cells = [c for c in nb.get("cells", []) if isinstance(c, dict)]
    wanted = set(manual_qids)
    found: dict[str, str] = {}
    for n, cell in enumerate(cells):
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        aiml = meta.get("aiml") if isinstance(meta.get("aiml"), dict) else {}
        if aiml.get("role") == "manual" and aiml.get("question") in wanted:
            found[str(aiml["question"])] = _source(cell)
            continue
        nbg = _nbgrader(cell)
        qid = question_id(str(nbg.get("grade_id", ""))) if nbg.get("grade_id") else ""
        if qid in wanted and nbg.get("task"):  # a task: the student answers in the cells that follow it
            follow = []
            for nxt in cells[n + 1:]:
                if _nbgrader(nxt):
                    break
                follow.append(_source(nxt))
            found[qid] = "\n\n".join(follow)
        elif qid in wanted and nbg.get("solution"):
            found[qid] = _source(cell)
    if layout(nb) == "otter":
        blocks, current = [], None
        for cell in cells:
            src = _source(cell)
            if cell.get("cell_type") == "markdown" and OTTER_QUESTION_BEGIN in src:
                current = []
            elif cell.get("cell_type") == "markdown" and OTTER_QUESTION_END in src and current is not None:
                blocks.append(current)  # the marker sits in the prompt cell: what follows is the answer
                current = None
            elif current is not None:
                current.append(src)
        pending = [q for q in manual_qids if q not in found]
        for qid, block in zip(pending, blocks, strict=False):
            found[qid] = "\n\n".join(block)
    return {q: _clean(text) for q, text in found.items()}
