"""The revised-standard lint rules (issue 10): feature ledger, size caps, threshold wording, authoring artefacts,
helper cells, judged-inside cases, mutants per exercise and the quiz's share of the points."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from aiml_course.errors import ConfigError
from aiml_course.feature_ledger import (
    Ledger,
    features_used,
    import_bindings,
    load_ledger,
    module_order,
)
from aiml_course.lint import lint_notebook
from tests.unit.test_lint import METADATA, Cells, cell_number, compliant_cells, fired, lint, replace_in, write

REPO = Path(__file__).resolve().parents[2]
LEDGER = """\
[features]
"for" = "1.0"
"while" = "1.2"
"lambda" = "1.3"
"np.*" = "1.1"
"np.dot" = "2.2"
"nn.Linear" = "2.4"
".backward" = "3.3"
"""


def in_part(tmp_path: Path, cells: Cells, module: str, part: str = "part-01-basics", ledger: str = LEDGER,
            aiml: dict[str, object] | None = None) -> Path:
    """Write the notebook as module `module` of `part` in a course folder holding `ledger`."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "feature_ledger.toml").write_text(ledger)
    folder = tmp_path / "source" / part
    folder.mkdir(parents=True, exist_ok=True)
    return write(folder, cells, {"module": module, "title": "t", **(aiml or {})})


def add_lesson_cell(cells: Cells, code: str, intro: str = "Some code.") -> int:
    """Put a markdown + code pair before the exercises; return the code cell's number."""
    at = cell_number(cells, "## Step 0") - 1
    cells[at:at] = [new_markdown_cell(intro), new_code_cell(code)]
    return at + 2


def only(findings: list, rule: str) -> list[tuple[str, int | None]]:
    return [f for f in fired(findings) if f[0] == rule]


# --- the ledger itself ------------------------------------------------------------------------------------------


def test_the_course_ledger_loads_and_puts_module_1_0_first() -> None:
    """Does the repository's feature_ledger.toml parse, with 1.0's constructs at 1.0?"""
    ledger = load_ledger(REPO / "feature_ledger.toml")
    for feature in ("variables", "list", "for", "while", "if", "def", "return", "f-string", "dict"):
        assert ledger.taught_in(feature) == "1.0", feature
    assert module_order(ledger.taught_in(".backward") or "") > module_order("2.4")  # type: ignore[operator]


@pytest.mark.parametrize(("body", "message"), [
    ('[features]\n"for" = "one"\n', "write a module id"),
    ('[features]\n"forr" = "1.0"\n', "unknown feature 'forr'"),
    ('"for" = "1.0"\n', r"needs a \[features\] table"),
    ('[features\n', "cannot read"),
])
def test_a_bad_ledger_is_a_config_error_naming_the_entry(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "l.toml").write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_ledger(tmp_path / "l.toml")


def test_lookup_prefers_the_entry_then_the_longest_prefix() -> None:
    ledger = Ledger(Path("x"), {"np.*": "1.1", "np.random.*": "2.2", "np.random.seed": "3.1"})
    assert ledger.taught_in("np.random.seed") == "3.1"
    assert ledger.taught_in("np.random.normal") == "2.2"
    assert ledger.taught_in("np.linalg.norm") == "1.1"
    assert ledger.taught_in("torch.tensor") is None


def test_module_order() -> None:
    assert module_order("1.0") < module_order("1.3") < module_order("2.1") < module_order("10.1")  # type: ignore
    assert module_order("8.1a") < module_order("8.1b")  # type: ignore[operator]
    assert module_order("4.4") < module_order("project", 4) < module_order("major-project", 4)  # type: ignore
    assert module_order("4.project") == module_order("project", 4)
    assert module_order("project") is None and module_order("1") is None


def test_features_found_with_their_library_names() -> None:
    """Constructs and library names (through import aliases) are found; the np in np.dot is not a use of 'np'."""
    code = ("import numpy as np\nfrom torch import nn\nimport torch.nn.functional as F\n"
            "from torch.utils.data import DataLoader\n"
            "total = 0\nfor v in [1, 2]:\n    total += v\nw = np.dot(np.ones(2), np.random.default_rng(0).normal(size=2))\n"
            "layer = nn.Linear(2, 1)\nloss = F.mse_loss(layer(x), y)\nloss.backward()\nf = lambda t: t @ t\n"
            "dl = DataLoader([1], batch_size=1)\nprint(f'{total:.2f}')\n")
    tree = ast.parse(code)
    found = {f for f, _ in features_used(tree, import_bindings([tree]))}
    assert {"for", "list", "variables", "np.dot", "np.ones", "np.random.default_rng", "nn.Linear", "F.mse_loss",
            ".backward", "lambda", "matmul", "torch.utils.data.DataLoader", "f-string", "keyword-arguments",
            "print", "import"} <= found
    assert "np" not in found and "np.random" not in found and "nn" not in found


# --- the ledger rule ----------------------------------------------------------------------------------------------


def test_a_feature_before_its_module_is_a_finding_naming_cell_feature_and_module(tmp_path: Path) -> None:
    cells = compliant_cells()
    first = add_lesson_cell(cells, "n = 3\nwhile n > 0:\n    n -= 1")
    second = add_lesson_cell(cells, "m = 2\nwhile m:\n    m -= 1")
    findings = [f for f in lint_notebook(in_part(tmp_path, cells, "1.1")) if "`while`" in f.message]
    assert [(f.cell, f.rule) for f in findings] == [(first, "feature-ledger")]
    assert "`while`" in findings[0].message and "module 1.2 teaches" in findings[0].message
    assert f"also in cell {second}" in findings[0].message and "module 1.1" in findings[0].message
    assert [f for f in lint_notebook(in_part(tmp_path, cells, "1.2")) if "`while`" in f.message] == []


def test_an_exercise_solution_counts_but_hidden_tests_mutants_and_marked_helpers_do_not(tmp_path: Path) -> None:
    cells = compliant_cells()
    add_lesson_cell(cells, "# drawing code: you may skip this\ndraw = lambda: None")
    add_lesson_cell(cells, "pick = lambda: None", intro="A helper (drawing code: you may skip this).")
    answer = replace_in(cells, "def add_q1(x):\n    ### BEGIN SOLUTION\n    return x + 1",
                        "def add_q1(x):\n    ### BEGIN SOLUTION\n    return (lambda v: v + 1)(x)")
    replace_in(cells, "def q2_negative():\n    return add_q2(-5)", "def q2_negative():\n    f = lambda: -5\n"
               "    return add_q2(f())")
    replace_in(cells, "def add_q3(x):\n    return x + 2", "def add_q3(x):\n    return (lambda v: v + 2)(x)")
    findings = [f for f in lint_notebook(in_part(tmp_path, cells, "1.1")) if "`lambda`" in f.message]
    assert [f.cell for f in findings] == [answer] and "also in" not in findings[0].message


def test_library_names_resolve_through_aliases(tmp_path: Path) -> None:
    cells = compliant_cells()
    array = add_lesson_cell(cells, "import numpy\nx = numpy.array([1.0])\nprint(numpy.dot(x, x))")
    module = add_lesson_cell(cells, "from torch import nn\nlayer = nn.Linear(2, 1)\nlayer(x).sum().backward()")
    findings = {f.message.split(",")[0]: f for f in lint_notebook(in_part(tmp_path, cells, "2.2"))
                if f.rule == "feature-ledger"}
    assert set(findings) == {"uses `nn.Linear`", "uses `.backward`"}
    assert findings["uses `nn.Linear`"].cell == cell_number(cells, "class Model")  # torch.nn.Linear there
    assert f"also in cell {module}" in findings["uses `nn.Linear`"].message
    assert findings["uses `.backward`"].cell == module
    findings = [f for f in lint_notebook(in_part(tmp_path, cells, "1.1")) if f.rule == "feature-ledger"]
    assert (array, "uses `np.dot`") in [(f.cell, f.message.split(",")[0]) for f in findings]


def test_a_broken_ledger_is_one_finding(tmp_path: Path) -> None:
    path = in_part(tmp_path, compliant_cells(), "1.1", ledger='[features]\n"for" = "soon"\n')
    findings = [f for f in lint_notebook(path) if f.rule == "feature-ledger"]
    assert len(findings) == 1 and "write a module id" in findings[0].message


# --- size caps -------------------------------------------------------------------------------------------------------


def test_prose_over_2500_words_and_code_over_250_lines(tmp_path: Path) -> None:
    cells = compliant_cells()
    assert only(lint(tmp_path, cells), "size") == []
    add_lesson_cell(cells, "\n".join(f"v{i} = {i}" for i in range(260)), intro="word " * 2500)
    messages = [f.message for f in lint(tmp_path, cells) if f.rule == "size"]
    assert len(messages) == 2
    assert "words of lesson prose, more than 2500" in messages[0]
    assert "lines of lesson code, more than 250" in messages[1]


def test_walkthroughs_hints_and_code_fences_are_not_lesson_prose(tmp_path: Path) -> None:
    cells = compliant_cells()
    replace_in(cells, "## Step 4", "## Step 4\nDraw the outline of the box; the test threshold is set to 4.")
    replace_in(cells, "<!-- WALKTHROUGH q1 -->\nWe return `x + 1`.", "<!-- WALKTHROUGH q1 -->\n" + "word " * 2600)
    replace_in(cells, "<!-- HINTS q1 -->\nAdd something.", "<!-- HINTS q1 -->\n" + "word " * 2600)
    add_lesson_cell(cells, "x = 1", intro="```\n" + "word " * 2600 + "\n```")
    assert only(lint(tmp_path, cells), "size") == []


# --- "at least" vs above= ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("prose", "spec", "fires"), [
    ("Reach an accuracy of at least 0.9.", "above=0.9", True),
    ("Reach an accuracy of at least 90 %.", "above=0.9", True),
    ("Reach an accuracy ≥ 0.9.", "above=0.9", True),
    ("Reach an accuracy of more than 0.9.", "above=0.9", False),
    ("Reach an accuracy of at least 0.9.", "at_least=0.9", False),
    ("Reach an accuracy of at least 0.8.", "above=0.9", False),
    ("Keep the loss at most 0.1.", "below=0.1", True),
])
def test_at_least_in_prose_needs_at_least_in_the_test(tmp_path: Path, prose: str, spec: str, fires: bool) -> None:
    cells = compliant_cells()
    replace_in(cells, "Write `add_q2(x)`, which adds one.", prose)
    number = replace_in(cells, "@case(points=2)\ndef q2_negative", f"@case(points=2, {spec})\ndef q2_negative")
    assert only(lint(tmp_path, cells), "threshold-wording") == ([("threshold-wording", number)] if fires else [])


# --- authoring artefacts -------------------------------------------------------------------------------------------------


def test_authoring_artefacts_in_student_text(tmp_path: Path) -> None:
    cells = compliant_cells()
    outline = replace_in(cells, "## Step 1", "## Step 1\nThe course outline asks for this example.")
    calibration = replace_in(cells, "## Step 2", "## Step 2\nWe calibrated the grading threshold with a margin.")
    comment = replace_in(cells, "value_3 = 3 * 2", "value_3 = 3 * 2  # as in the course outline")
    replace_in(cells, "## Step 4", "## Step 4\nDraw the outline of the box; the test threshold is set to 4.")
    replace_in(cells, "<!-- WALKTHROUGH q1 -->\nWe return `x + 1`.",
               "<!-- WALKTHROUGH q1 -->\nThe course outline says so; the grading threshold was calibrated here.")
    assert only(lint(tmp_path, cells), "authoring-artefacts") == [
        ("authoring-artefacts", outline), ("authoring-artefacts", calibration), ("authoring-artefacts", comment)]


def test_lightning_is_not_mentioned_before_part_5(tmp_path: Path) -> None:
    cells = compliant_cells()
    number = replace_in(cells, "## Step 1", "## Step 1\nWe do not need Lightning here.")
    part2 = in_part(tmp_path / "a", cells, "2.1", part="part-02-first-neuron")
    part5 = in_part(tmp_path / "b", cells, "5.1", part="part-05-real-data")
    assert ("authoring-artefacts", number) in fired(lint_notebook(part2))
    assert only(lint_notebook(part5), "authoring-artefacts") == []


# --- helper cells, judged inside, mutants, quiz share ---------------------------------------------------------------------


def test_unmarked_helper_cells(tmp_path: Path) -> None:
    cells = compliant_cells()
    unmarked = add_lesson_cell(cells, "def fmt(x):\n    return f'{x:.3g}'\n\nprint(fmt(1 / 3))")
    drawing = add_lesson_cell(cells, "def picture(ax):\n    ax.plot([0, 1])\n    ax.set_title('t')\n"
                                     "    ax.grid(True)\n\nprint('ok')")
    add_lesson_cell(cells, "# drawing code: you may skip this\ndef draw_it(ax):\n    ax.plot([0, 1])")
    add_lesson_cell(cells, "def neuron(x, w, b):\n    return x * w + b\n\nprint(neuron(1, 2, 3))")
    assert only(lint(tmp_path, cells), "helper-cells") == [("helper-cells", unmarked), ("helper-cells", drawing)]


def test_judged_inside_only_in_imported_notebooks(tmp_path: Path) -> None:
    cells = compliant_cells()
    number = replace_in(cells, "@case(points=2)\ndef q1_negative",
                        "@case(points=2, compare='true', judged='inside')\ndef q1_negative")
    assert only(lint(tmp_path, cells), "judged-inside") == [("judged-inside", number)]
    imported = {**METADATA["aiml"], "imported": {"from": "otter", "source": "hw.ipynb"}}
    assert only(lint(tmp_path, cells, imported), "judged-inside") == []


def test_every_exercise_needs_two_to_five_mutants(tmp_path: Path) -> None:
    cells = compliant_cells()
    cells.remove(cells[cell_number(cells, "# MUTANT q2 unchanged") - 1])
    cells[cell_number(cells, "# MUTANT q3 unchanged") - 1:cell_number(cells, "# MUTANT q3 unchanged")] = [
        new_code_cell(f"# MUTANT q3 m{k}\n# adds {k}\ndef add_q3(x):\n    return x + {k}") for k in range(3, 9)]
    findings = only(lint(tmp_path, cells), "mutants")
    assert findings == [("mutants", cell_number(cells, "# ANSWER q2")), ("mutants", cell_number(cells, "# ANSWER q3"))]


def test_a_formative_quiz_is_at_most_a_tenth_of_the_points(tmp_path: Path) -> None:
    cells = compliant_cells()
    number = cell_number(cells, "# QUIZ quiz")
    cells[number - 1].source = cells[number - 1].source.replace('"points": 0.1', '"points": 1')
    findings = [f for f in lint(tmp_path, cells) if f.rule == "quiz-share"]
    assert [(f.rule, f.cell) for f in findings] == [("quiz-share", number)]
    assert "worth 5 of 14 points (36%)" in findings[0].message
    (tmp_path / "course" / "source").mkdir(parents=True)
    (tmp_path / "course" / "course_config.py").write_text(
        "from datetime import datetime, timezone\nfrom aiml_course.config import Course, Part\n"
        "COURSE = Course(id='c', title='c', quiz='graded-first-answer',\n"
        "                parts=(Part('part-01-x', title='p', due=datetime(2026, 1, 1, tzinfo=timezone.utc)),))\n")
    graded = write(tmp_path / "course" / "source", cells)
    assert only(lint_notebook(graded), "quiz-share") == []


def test_mutant_cells_are_not_counted_or_checked_as_lesson_cells(tmp_path: Path) -> None:
    """A mutant cell has no markdown before it, redefines the answer and is never released: no other rule fires."""
    cells = compliant_cells()
    assert lint(tmp_path, cells) == []
    nb = nbformat.read(write(tmp_path, cells), as_version=4)
    assert sum(c.source.startswith("# MUTANT") for c in nb.cells) == 6


def test_notebook_stats_count_what_the_standard_caps(tmp_path: Path) -> None:
    from aiml_course.lint import notebook_stats

    cells = compliant_cells()
    add_lesson_cell(cells, "a = 1\n\n# a comment\nb = 2", intro="three more words")
    stats = notebook_stats(write(tmp_path, cells))
    assert not isinstance(stats, str)
    assert (stats.module, stats.exercises, stats.mutants, stats.demos) == ("9.9", 3, 6, 2)
    assert stats.lesson_code_lines == lesson_lines_before(tmp_path) + 2
    assert stats.words == words_before(tmp_path) + 3


def lesson_lines_before(tmp_path: Path) -> int:
    from aiml_course.lint import notebook_stats

    stats = notebook_stats(write(tmp_path, compliant_cells(), name="base.ipynb"))
    assert not isinstance(stats, str)
    return stats.lesson_code_lines


def words_before(tmp_path: Path) -> int:
    from aiml_course.lint import notebook_stats

    stats = notebook_stats(write(tmp_path, compliant_cells(), name="base.ipynb"))
    assert not isinstance(stats, str)
    return stats.words


def test_course_lint_stats_and_list_features(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aiml_course.cli import main

    write(tmp_path, compliant_cells(), name="one.ipynb")
    result = CliRunner().invoke(main, ["lint", "--stats", str(tmp_path)])
    header, row = result.output.splitlines()[:2]
    assert header.split() == ["notebook", "module", "words", "code", "ex", "mut", "demos"]
    assert row.split()[0] == "one.ipynb" and row.split()[1] == "9.9" and row.split()[4:] == ["3", "6", "2"]
    assert result.exit_code == 0 and "lint: 0 finding(s)" in result.output
    listed = CliRunner().invoke(main, ["lint", "--list-features"]).output
    assert "list-comprehension" in listed and "matmul" in listed
