"""The import report: every question with its points, how each test was converted, and what was not imported."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TestLine:
    name: str
    points: float
    hidden: bool
    outside: bool
    how: str
    cell: int              # the cell number in the foreign notebook (1-based)


@dataclass
class QuestionLine:
    qid: str
    foreign_id: str        # nbgrader grade_id / otter question name
    kind: str              # "code" or "manual"
    points: float
    tests: list[TestLine] = field(default_factory=list)


@dataclass(frozen=True)
class Unconverted:
    cell: int
    what: str
    reason: str


@dataclass
class NotebookReport:
    source: str            # the foreign notebook's path
    stem: str              # our notebook's stem
    questions: list[QuestionLine] = field(default_factory=list)
    unconverted: list[Unconverted] = field(default_factory=list)

    def question(self, qid: str) -> QuestionLine:
        return next(q for q in self.questions if q.qid == qid)


@dataclass
class ImportReport:
    tool: str              # "nbgrader" or "otter"
    part: str
    notebooks: list[NotebookReport] = field(default_factory=list)

    def tests(self) -> list[TestLine]:
        return [t for nb in self.notebooks for q in nb.questions for t in q.tests]

    @property
    def outside(self) -> int:
        return sum(1 for t in self.tests() if t.outside)

    @property
    def inside(self) -> int:
        return sum(1 for t in self.tests() if not t.outside)

    @property
    def unconverted(self) -> list[Unconverted]:
        return [u for nb in self.notebooks for u in nb.unconverted]

    def to_markdown(self) -> str:
        out = [f"# Import report: {self.tool} → {self.part}", "",
               f"{len(self.tests())} test(s): {self.outside} judged outside the sandbox, {self.inside} judged "
               "inside (weaker: the verdict is computed in the student's process, after restoration of patched "
               "modules).", ""]
        for nb in self.notebooks:
            out += [f"## {nb.stem}.ipynb (from {nb.source})", "",
                    "| question | from | kind | points | test | points | hidden | judged | how |",
                    "|---|---|---|---|---|---|---|---|---|"]
            for q in nb.questions:
                if not q.tests:
                    out.append(f"| {q.qid} | {q.foreign_id} | {q.kind} | {q.points:g} | – | | | "
                               f"{'by hand' if q.kind == 'manual' else ''} | |")
                for t in q.tests:
                    out.append(f"| {q.qid} | {q.foreign_id} | {q.kind} | {q.points:g} | {t.name} (cell {t.cell}) | "
                               f"{t.points:g} | {'yes' if t.hidden else 'no'} | "
                               f"{'outside' if t.outside else 'inside'} | {t.how.replace('|', '/')} |")
            out.append("")
            if nb.unconverted:
                out += ["Not imported (or changed):", ""]
                out += [f"- cell {u.cell}: {u.what} — {u.reason}" for u in nb.unconverted]
                out.append("")
        return "\n".join(out) + "\n"
