"""otter-assign master notebook → one notebook in our authoring format.

Raw cells delimit everything: `# ASSIGNMENT CONFIG` (YAML), `# BEGIN QUESTION` (YAML: name, points, manual) …
`# END QUESTION`, `# BEGIN SOLUTION` … `# END SOLUTION`, `# BEGIN TESTS` … `# END TESTS` (one code cell per test
case; `# HIDDEN` on its first line hides it), `# BEGIN PROMPT` … `# END PROMPT`. Inside solution code:
`# BEGIN SOLUTION` / `# BEGIN SOLUTION NO PROMPT` … `# END SOLUTION` blocks, `... # SOLUTION` line markers and
triple-quoted `# BEGIN PROMPT` … `# END PROMPT` blocks.

Points follow otter: a question's `points` (default 1) is shared equally by its test cases unless a list gives
each case its own; otter scores each case separately (partial credit), so each becomes one case of ours.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from aiml_course.errors import ImportFailure
from aiml_course.importers.convert import ConvertedTest, convert_test, identifier, tests_cell
from aiml_course.importers.notebook import (
    BEGIN,
    END,
    NotebookBuilder,
    cell_source,
    read_notebook,
)
from aiml_course.importers.report import NotebookReport, QuestionLine, TestLine, Unconverted

RAW = re.compile(r"^\s*#\s*(ASSIGNMENT CONFIG|BEGIN QUESTION|END QUESTION|BEGIN SOLUTION|END SOLUTION|BEGIN TESTS|"
                 r"END TESTS|BEGIN PROMPT|END PROMPT)\s*$", re.IGNORECASE)
LINE_SOLUTION = re.compile(r"^(\s*)(.*?)\s*#\s*SOLUTION\s*$")
BLOCK_BEGIN = re.compile(r"^(\s*)#\s*BEGIN SOLUTION(\s+NO PROMPT)?\s*$")
BLOCK_END = re.compile(r"^\s*#\s*END SOLUTION\s*$")
PROMPT_BEGIN = re.compile(r'^\s*("""|\'\'\')\s*#\s*BEGIN PROMPT\s*$')
PROMPT_END = re.compile(r'^\s*("""|\'\'\')\s*#\s*END PROMPT\s*$')
TEST_CONFIG = re.compile(r'^\s*"""\s*#\s*BEGIN TEST CONFIG\s*\n(.*?)\n\s*"""\s*#\s*END TEST CONFIG\s*\n?', re.S)


def _directive(cell: Any) -> tuple[str, str]:
    if cell.cell_type != "raw":
        return "", ""
    src = cell_source(cell)
    first, _, rest = src.partition("\n")
    m = RAW.match(first)
    return (m.group(1).upper(), rest) if m else ("", "")


def solution_code(src: str) -> tuple[str, list[str]]:
    """otter solution code → code with our ### BEGIN/END SOLUTION regions, and notes on what changed."""
    out: list[str] = []
    notes: list[str] = []
    in_prompt = False
    for line in src.splitlines():
        if PROMPT_BEGIN.match(line):
            in_prompt = True
            notes.append("a `# BEGIN PROMPT` block (the student's starting code) is replaced by our stub")
            continue
        if in_prompt:
            in_prompt = not PROMPT_END.match(line)
            continue
        m = BLOCK_BEGIN.match(line)
        if m:
            out.append(f"{m.group(1)}{BEGIN}")
            if m.group(2):
                notes.append("`# BEGIN SOLUTION NO PROMPT`: our stub is shown where otter would show nothing")
            continue
        if BLOCK_END.match(line):
            out.append(line[: len(line) - len(line.lstrip())] + END)
            continue
        m = LINE_SOLUTION.match(line)
        if m and m.group(2):
            out += [f"{m.group(1)}{BEGIN}", f"{m.group(1)}{m.group(2)}", f"{m.group(1)}{END}"]
            continue
        out.append(line)
    code = "\n".join(out)
    if BEGIN not in code:
        code = f"{BEGIN}\n{code.rstrip()}\n{END}"
    return code, notes


def _case_points(total: Any, n: int) -> list[float]:
    """otter's split of a question's points over its n cases, to 6 decimals (the grader's precision), the last
    case taking the remainder so that the question's total is exact (1 point over 3 cases: 0.333333 ×2 + 0.333334)."""
    if isinstance(total, list):
        return [float(p) for p in total]
    total = 1.0 if total is None else float(total)
    if not n:
        return []
    share = round(total / n, 6)
    return [share] * (n - 1) + [round(total - share * (n - 1), 6)]


def import_notebook(path: Path, stem: str) -> tuple[Any, NotebookReport]:
    nb = read_notebook(path)
    report = NotebookReport(str(path), stem)
    builder = NotebookBuilder("otter", path, dict(nb.metadata.get("kernelspec") or {}))
    seen: set[str] = set()
    question: dict[str, Any] | None = None
    qline: QuestionLine | None = None
    block = ""                        # "", "solution", "tests", "prompt"
    tests: list[tuple[str, int, bool]] = []
    for index, cell in enumerate(nb.cells, 1):
        kind, rest = _directive(cell)
        src = cell_source(cell)
        if kind == "ASSIGNMENT CONFIG":
            keys = sorted((yaml.safe_load(rest) or {}).keys()) if rest.strip() else []
            report.unconverted.append(Unconverted(index, "ASSIGNMENT CONFIG",
                                                  f"otter-assign settings ({', '.join(keys)}) do not apply here: "
                                                  "course_config.py holds ours"))
            continue
        if kind == "BEGIN QUESTION":
            question = yaml.safe_load(rest) or {}
            name = str(question.get("name") or f"q{len(report.questions) + 1}")
            qid = identifier(name)
            if qid in seen:
                raise ImportFailure(f"{path}, cell {index}: question {name} appears twice")
            seen.add(qid)
            manual = bool(question.get("manual"))
            if manual and not isinstance(question.get("points"), (int, float)):
                report.unconverted.append(Unconverted(index, f"points of manual question {name}",
                                                      "not given: 1 point assumed"))
            qline = QuestionLine(qid, name, "manual" if manual else "code",
                                 float(question.get("points") or 1) if manual else 0.0)
            report.questions.append(qline)
            builder.origins[qid] = {"id": name, "kind": qline.kind, "cell": index}
            continue
        if kind == "END QUESTION":
            if qline is not None and qline.kind == "code" and tests:
                _emit_tests(builder, report, qline, question or {}, tests)
            question, qline, tests = None, None, []
            continue
        if kind in ("BEGIN SOLUTION", "BEGIN TESTS", "BEGIN PROMPT"):
            block = kind.split()[1].lower()
            if kind == "BEGIN PROMPT":
                report.unconverted.append(Unconverted(index, "PROMPT cells",
                                                      "student-only starting cells: our stub replaces them"))
            continue
        if kind in ("END SOLUTION", "END TESTS", "END PROMPT"):
            block = ""
            continue
        if block == "prompt":
            continue
        if block == "tests":
            if cell.cell_type == "code" and qline is not None:
                hidden = src.lstrip().startswith("# HIDDEN")
                body = src.split("\n", 1)[1] if hidden and "\n" in src else ("" if hidden else src)
                tests.append((body, index, hidden))
            continue
        if block == "solution" and qline is not None:
            if qline.kind == "manual":
                answer = src if cell.cell_type == "markdown" else solution_code(src)[0]
                builder.manual(qline.qid, qline.points, answer.replace(BEGIN + "\n", "").replace("\n" + END, "")
                               if cell.cell_type == "code" else answer,
                               kind="code" if cell.cell_type == "code" else "markdown")
                continue
            if cell.cell_type == "code":
                code, notes = solution_code(src)
                builder.answer(qline.qid, code)
                report.unconverted.extend(Unconverted(index, f"solution of {qline.foreign_id}", n) for n in notes)
            else:  # otter shows students its prompt instead; the solution text must not reach them
                report.unconverted.append(Unconverted(index, f"{cell.cell_type} solution cell of {qline.foreign_id}",
                                                      "solution text of an autograded question: left out"))
            continue
        note = builder.plain(cell.cell_type, src)
        if note:
            report.unconverted.append(Unconverted(index, "%matplotlib magic", note))
    for q in report.questions:
        if q.kind == "code" and not q.tests:
            report.unconverted.append(Unconverted(builder.origins[q.qid]["cell"], f"question {q.foreign_id}",
                                                  "no tests: it cannot be autograded"))
    return builder.notebook(path.stem), report


def _emit_tests(builder: NotebookBuilder, report: NotebookReport, qline: QuestionLine, question: dict[str, Any],
                tests: list[tuple[str, int, bool]]) -> None:
    points = _case_points(question.get("points"), len(tests))
    converted: list[ConvertedTest] = []
    for n, ((body, index, hidden), pts) in enumerate(zip(tests, points, strict=False), 1):
        config = TEST_CONFIG.match(body)
        if config:
            extra = yaml.safe_load(config.group(1)) or {}
            body = body[config.end():]
            hidden = bool(extra.get("hidden", hidden))
            pts = float(extra.get("points", pts))
        if pts <= 0:
            report.unconverted.append(Unconverted(index, f"test {n} of {qline.foreign_id}", "worth 0 points"))
            continue
        name = f"{qline.qid}_{'hidden' if hidden else 'public'}_{n}"
        test = convert_test(body, name=name, points=pts, hidden=hidden,
                            description=f"{qline.foreign_id} test {n}" + (" (hidden)" if hidden else ""),
                            expression_tests=True)
        converted.append(test)
        qline.tests.append(TestLine(name, pts, hidden, test.outside, test.how, index))
        qline.points += pts
    for hidden in (False, True):
        group = [t for t in converted if t.hidden == hidden]
        if group:
            builder.code(tests_cell(f"# {'HIDDEN TESTS' if hidden else 'TESTS'} {qline.qid}", group))


def import_assignment(path: Path) -> list[tuple[str, Any, NotebookReport]]:
    """An otter master notebook (or a folder with exactly one): [(stem, our notebook, its report)]."""
    if path.is_dir():
        masters = sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
        if len(masters) != 1:
            raise ImportFailure(f"{path}: expected one otter master notebook, found {len(masters)}; "
                                "name the notebook")
        path = masters[0]
    if not path.is_file():
        raise ImportFailure(f"{path}: no such otter master notebook")
    nb, report = import_notebook(path, path.stem)
    return [(path.stem, nb, report)]
