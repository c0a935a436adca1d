"""Tests for aiml_course.lint: a compliant notebook passes, and breaking one rule fires exactly that rule."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from aiml_course.lint import RULES, Finding, lint_notebook, lint_path, waivers

Cells = list[NotebookNode]

SETUP = """\
from aiml_notebooks import case, demo, get_device, plot_training_curves, set_seed

CONFIG = {
    # Reproducibility
    'seed': 42,  # random seed for reproducibility
    'learning_rate': 0.01,  # optimizer step size
    'max_epochs': 5,  # most epochs to train
    'early_stop_patience': 2,  # epochs without val_loss improvement before stopping
    'sizes': [  # hidden layer sizes
        8,
        4,
    ],
}"""
SEED = "set_seed(CONFIG['seed'])\ndevice = get_device()"
MODEL = """\
import torch
import lightning as L

class Model(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch).sum()

    def validation_step(self, batch, batch_idx):
        self.log('val_loss', self.layer(batch).sum())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=CONFIG['learning_rate'])"""
TRAIN = """\
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers import CSVLogger

model = Model()
csv_logger = CSVLogger('logs', name='model')
early_stop = EarlyStopping(monitor='val_loss', patience=CONFIG['early_stop_patience'])
trainer = L.Trainer(max_epochs=CONFIG['max_epochs'], logger=csv_logger, callbacks=[early_stop])
trainer.fit(model, [torch.ones(2)], [torch.ones(2)])"""
CURVES = "plot_training_curves(csv_logger.log_dir)"
QUIZ = """\
# QUIZ quiz
[
    {"question": "What is 1 + 1?", "choices": ["1", "2"], "answer": 1, "explain": "One and one make two.", "points": 0.1},
    {"question": "What is 2 + 1?", "choices": ["3", "2"], "answer": 0, "explain": "Two and one make three.", "points": 0.1},
    {"question": "What is 2 + 2?", "choices": ["3", "4"], "answer": 1, "explain": "Two twos make four.", "points": 0.1},
    {"question": "What is 3 + 2?", "choices": ["5", "4"], "answer": 0, "explain": "Count on from 3.", "points": 0.1},
    {"question": "What is 3 + 3?", "choices": ["5", "6"], "answer": 1,  # index into choices
     "explain": "Double three.", "points": 0.1},
]"""


def exercise(qid: str) -> Cells:
    """The 9 cells of one exercise: task, answer, hints, tests, hidden tests, walkthrough, two mutants."""
    return [
        new_markdown_cell(f"### Exercise {qid}\nWrite `add_{qid}(x)`, which adds one."),
        new_code_cell(
            f"# ANSWER {qid}\ndef add_{qid}(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION"
        ),
        new_markdown_cell(f"<!-- HINTS {qid} -->\nAdd something.\n---\nAdd **one**."),
        new_code_cell(f"# TESTS {qid}\n@case(points=1)\ndef {qid}_one():\n    return add_{qid}(1)"),
        new_markdown_cell("The grader also runs hidden tests."),
        new_code_cell(
            f"# HIDDEN TESTS {qid}\n@case(points=2)\ndef {qid}_negative():\n    return add_{qid}(-5)"
        ),
        new_markdown_cell(f"<!-- WALKTHROUGH {qid} -->\nWe return `x + 1`."),
        new_code_cell(f"# MUTANT {qid} plus-two\n# adds two instead of one\ndef add_{qid}(x):\n    return x + 2"),
        new_code_cell(f"# MUTANT {qid} unchanged\n# forgets to add anything\ndef add_{qid}(x):\n    return x"),
    ]


def compliant_cells() -> Cells:
    """50 cells (and 6 mutant cells) that meet every rule (a training notebook, so `lightning` applies)."""
    cells = [new_markdown_cell("# Adding one\n\nWe learn to add one.")]
    for intro, code in [
        ("## Setup", SETUP),
        ("Seed everything.", SEED),
        ("## The model", MODEL),
        ("## Training", TRAIN),
        ("Plot the curves.", CURVES),
        ("A demo.", "def show_square(x=2.0):\n    print(x * x)\n\ndemo(show_square)"),
        ("Another demo.", "def show_cube(x=2.0):\n    print(x ** 3)\n\ndemo(show_cube)"),
    ]:
        cells += [new_markdown_cell(intro), new_code_cell(code)]
    for k in range(5):
        cells += [new_markdown_cell(f"## Step {k}"), new_code_cell(f"value_{k} = {k} * 2\nprint(value_{k})")]
    for qid in ("q1", "q2", "q3"):
        cells += exercise(qid)
    cells += [new_markdown_cell("## Quiz"), new_code_cell(QUIZ)]
    cells += [
        new_markdown_cell("## Experiments & exploration\nChange CONFIG."),
        new_markdown_cell("## Key takeaways\n- one"),
    ]
    return cells


METADATA = {"aiml": {"module": "9.9", "title": "Adding one"}}


def write(
    tmp_path: Path, cells: Cells, aiml: dict[str, object] | None = None, name: str = "nb.ipynb"
) -> Path:
    notebook = new_notebook(cells=cells, metadata={"aiml": METADATA["aiml"] if aiml is None else aiml})
    path = tmp_path / name
    nbformat.write(notebook, path)
    return path


def lint(tmp_path: Path, cells: Cells, aiml: dict[str, object] | None = None) -> list[Finding]:
    return lint_notebook(write(tmp_path, cells, aiml))


def fired(findings: list[Finding]) -> list[tuple[str, int | None]]:
    return [(f.rule, f.cell) for f in findings]


def cell_number(cells: Cells, needle: str) -> int:
    """1-based number of the only cell whose source contains `needle`."""
    (number,) = [i for i, cell in enumerate(cells, start=1) if needle in cell.source]
    return number


def replace_in(cells: Cells, needle: str, new: str) -> int:
    number = cell_number(cells, needle)
    cells[number - 1].source = cells[number - 1].source.replace(needle, new)
    return number


# --- the compliant notebook ----------------------------------------------------------------------------


def test_compliant_notebook_has_no_findings(tmp_path: Path) -> None:
    """Does a notebook meeting the standard (50 cells, training with Lightning) yield no findings?"""
    cells = compliant_cells()
    assert len([c for c in cells if not c.source.startswith("# MUTANT")]) == 50
    assert lint(tmp_path, cells) == []


def test_every_rule_is_described_on_one_line() -> None:
    """Does RULES describe every rule, including those about the allow list, in one line each?"""
    assert {"cell-count", "lightning", "quiz", "notebook-format", "allow-without-reason"} <= RULES.keys()
    assert len(RULES) == 25
    assert all(description and "\n" not in description for description in RULES.values())


def test_finding_str_names_notebook_cell_and_rule() -> None:
    """Does a finding print as 'path, cell N [rule] message', and without a cell for notebook-level ones?"""
    path = Path("source/part-02-first-neuron/2.1-x.ipynb")
    assert (
        str(Finding(path, 12, "outputs", "clear them"))
        == "source/part-02-first-neuron/2.1-x.ipynb, cell 12 [outputs] clear them"
    )
    assert (
        str(Finding(path, None, "demos", "add one"))
        == "source/part-02-first-neuron/2.1-x.ipynb [demos] add one"
    )


# --- one rule broken at a time -------------------------------------------------------------------------


@pytest.mark.parametrize(("cut", "add"), [(2, 0), (0, 31)])
def test_cell_count_outside_50_to_80(tmp_path: Path, cut: int, add: int) -> None:
    """Do 48 or 81 cells fire cell-count for the notebook as a whole?"""
    cells = compliant_cells()
    step = cell_number(cells, "## Step 4")
    del cells[step - 1 : step - 1 + cut]
    cells[step - 1 : step - 1] = [new_markdown_cell("More words.") for _ in range(add)]
    assert fired(lint(tmp_path, cells)) == [("cell-count", None)]


def test_code_cell_without_markdown_before_it(tmp_path: Path) -> None:
    """Does swapping a markdown cell with its code cell fire markdown-before-code at that code cell?"""
    cells = compliant_cells()
    step = cell_number(cells, "## Step 2")
    cells[step - 1], cells[step] = cells[step], cells[step - 1]
    assert fired(lint(tmp_path, cells)) == [("markdown-before-code", step)]


def test_markdown_before_code_is_checked_as_students_see_it(tmp_path: Path) -> None:
    """Is a code cell preceded only by hidden-test and walkthrough cells (stripped from the release) reported?"""
    cells = compliant_cells()
    hidden = cell_number(cells, "# HIDDEN TESTS q1")
    del cells[cell_number(cells, "### Exercise q2") - 1]
    del cells[hidden - 2]  # the markdown before the hidden tests: hidden cells need none
    cells[1:1] = [new_markdown_cell("Why this matters."), new_markdown_cell("What you need.")]
    # visible cells now run: ..., TESTS q1, ANSWER q2
    assert fired(lint(tmp_path, cells)) == [("markdown-before-code", cell_number(cells, "# ANSWER q2"))]


@pytest.mark.parametrize(
    ("needle", "new", "words"),
    [
        (
            "'learning_rate': 0.01,  # optimizer step size",
            "'learning_rate': 0.01,",
            "'learning_rate' has no inline comment",
        ),
        ("'sizes': [  # hidden layer sizes", "'sizes': [", "'sizes' has no inline comment"),
        ("'seed': 42,", "'random_seed': 42,", "no 'seed'"),
    ],
)
def test_config_keys(tmp_path: Path, needle: str, new: str, words: str) -> None:
    """Is a CONFIG key without an inline comment, or a CONFIG without 'seed', reported at the CONFIG cell?"""
    cells = compliant_cells()
    number = replace_in(cells, needle, new)
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("config", number)]
    assert words in findings[0].message


def test_config_that_is_not_a_dict_literal(tmp_path: Path) -> None:
    """Is a CONFIG built by a call (not a dict literal) reported for the notebook?"""
    cells = compliant_cells()
    replace_in(cells, "CONFIG = {", "CONFIG = dict(**{")
    replace_in(cells, "\n}", "\n})")
    assert fired(lint(tmp_path, cells)) == [("config", None)]


def test_config_defined_too_late(tmp_path: Path) -> None:
    """Is CONFIG defined in the 8th code cell reported there?"""
    cells = compliant_cells()
    setup, late = cell_number(cells, "CONFIG = {"), cell_number(cells, "value_0 = 0 * 2")
    cells[setup - 1].source, cells[late - 1].source = SETUP.split("\n\n", 1)
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("config", late)]
    assert "code cell 8" in findings[0].message


@pytest.mark.parametrize("call", ["set_seed(42)", "print(CONFIG['seed'])"])
def test_set_seed_missing(tmp_path: Path, call: str) -> None:
    """Is a notebook that never calls set_seed(CONFIG['seed']) reported?"""
    cells = compliant_cells()
    replace_in(cells, "set_seed(CONFIG['seed'])", call)
    assert fired(lint(tmp_path, cells)) == [("set-seed", None)]


def test_set_seed_with_double_quotes_is_fine(tmp_path: Path) -> None:
    """Is set_seed(CONFIG["seed"]) accepted like set_seed(CONFIG['seed'])?"""
    cells = compliant_cells()
    replace_in(cells, "set_seed(CONFIG['seed'])", 'set_seed(CONFIG["seed"])')
    assert lint(tmp_path, cells) == []


def test_set_seed_too_late(tmp_path: Path) -> None:
    """Is set_seed first called in the 5th code cell reported at that cell?"""
    cells = compliant_cells()
    replace_in(cells, "set_seed(CONFIG['seed'])\n", "")
    number = replace_in(cells, "value_0 = 0 * 2", "set_seed(CONFIG['seed'])\nvalue_0 = 0 * 2")
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("set-seed", number)]
    assert "code cell 8" in findings[0].message


def test_import_before_first_use(tmp_path: Path) -> None:
    """Is `import numpy as np` two cells before its first use reported with both cell numbers?"""
    cells = compliant_cells()
    imported = replace_in(cells, "value_1 = 1 * 2", "import numpy as np\nvalue_1 = 1 * 2")
    used = replace_in(cells, "value_3 = 3 * 2", "value_3 = np.sqrt(9)")
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("imports-at-first-use", imported)]
    assert f"imports np in cell {imported} but first uses it in cell {used}" in findings[0].message


def test_separate_import_cell_right_before_its_cell_is_fine(tmp_path: Path) -> None:
    """Is an import cell whose names are used in the very next code cell accepted?"""
    cells = compliant_cells()
    replace_in(cells, "value_1 = 1 * 2\nprint(value_1)", "import numpy as np")
    replace_in(cells, "value_2 = 2 * 2", "value_2 = np.sqrt(4)")
    assert lint(tmp_path, cells) == []


@pytest.mark.parametrize("source", ["from aiml_notebooks import rel_error", "import os.path"])
def test_unused_import(tmp_path: Path, source: str) -> None:
    """Is an import never used (shared library outside the setup included) reported at its cell?"""
    cells = compliant_cells()
    number = replace_in(cells, "value_1 = 1 * 2", f"{source}\nvalue_1 = 1 * 2")
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("imports-at-first-use", number)]
    assert "never uses it" in findings[0].message


def test_matplotlib_magic(tmp_path: Path) -> None:
    """Is `%matplotlib inline` reported at its cell, without upsetting other rules?"""
    cells = compliant_cells()
    number = replace_in(cells, "value_2 = 2 * 2", "%matplotlib inline\nvalue_2 = 2 * 2")
    assert fired(lint(tmp_path, cells)) == [("no-magic-matplotlib", number)]


@pytest.mark.parametrize(
    "source",
    [
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)",
        "learning_rate = 0.1",
        "batch_size: int = -32",
    ],
)
def test_hardcoded_hyperparameter(tmp_path: Path, source: str) -> None:
    """Is a numeric hyperparameter passed as a keyword or assigned at top level reported at its cell?"""
    cells = compliant_cells()
    number = replace_in(cells, "value_2 = 2 * 2", f"{source}\nvalue_2 = 2 * 2")
    assert fired(lint(tmp_path, cells)) == [("hyperparameters-in-config", number)]


def test_hyperparameters_in_exercise_cells_are_fine(tmp_path: Path) -> None:
    """Are literals in ANSWER and TESTS cells (exercise inputs) left alone?"""
    cells = compliant_cells()
    replace_in(cells, "# ANSWER q1\n", "# ANSWER q1\nlearning_rate = 0.1\n")
    replace_in(cells, "return add_q2(1)", "return add_q2(1, lr=0.5)")
    assert lint(tmp_path, cells) == []


def test_training_without_early_stopping(tmp_path: Path) -> None:
    """Does a training notebook without EarlyStopping fire lightning?"""
    cells = compliant_cells()
    replace_in(cells, "from lightning.pytorch.callbacks import EarlyStopping\n", "")
    replace_in(
        cells, "early_stop = EarlyStopping(monitor='val_loss', patience=CONFIG['early_stop_patience'])\n", ""
    )
    replace_in(cells, "callbacks=[early_stop]", "callbacks=[]")
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("lightning", None)]
    assert "EarlyStopping" in findings[0].message


@pytest.mark.parametrize(
    ("needle", "new", "where", "words"),
    [
        (
            "    def validation_step(self, batch, batch_idx):",
            "    def val_step(self, batch, batch_idx):",
            "class Model",
            "validation_step",
        ),
        ("monitor='val_loss'", "monitor='train_loss'", "EarlyStopping(monitor", "monitor='val_loss'"),
        (", logger=csv_logger", "", "L.Trainer(", "logger="),
        (
            "    'early_stop_patience': 2,  # epochs without val_loss improvement before stopping\n",
            "",
            "CONFIG = {",
            "early_stop_patience",
        ),
        (CURVES, "print(csv_logger.log_dir)", "trainer.fit(", "training curves"),
    ],
)
def test_lightning_requirements(tmp_path: Path, needle: str, new: str, where: str, words: str) -> None:
    """Is each Lightning requirement reported at the cell that breaks it (patience may be any CONFIG key)?"""
    cells = compliant_cells()
    replace_in(cells, needle, new)
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("lightning", cell_number(cells, where))]
    assert words in findings[0].message


def test_early_stopping_patience_may_be_any_config_key(tmp_path: Path) -> None:
    """Is EarlyStopping(patience=CONFIG[<another key>]) accepted, since the value still lives in CONFIG?"""
    cells = compliant_cells()
    replace_in(cells, "patience=CONFIG['early_stop_patience']", "patience=CONFIG['max_epochs']")
    assert lint(tmp_path, cells) == []


def test_lightning_module_methods_may_come_from_a_base_class(tmp_path: Path) -> None:
    """Is a LightningModule whose configure_optimizers lives in a Lightning base class accepted?"""
    cells = compliant_cells()
    replace_in(
        cells,
        "class Model(L.LightningModule):",
        "class Base(L.LightningModule):\n    def configure_optimizers(self):\n        return None\n\nclass Model(Base):",
    )
    replace_in(
        cells,
        "    def configure_optimizers(self):\n        return torch.optim",
        "    def optimizers_(self):\n        return torch.optim",
    )
    assert lint(tmp_path, cells) == []


def notebook_without_training() -> Cells:
    cells = compliant_cells()
    for needle in (MODEL, TRAIN, CURVES):
        replace_in(cells, needle, "print(CONFIG['seed'])")
    return cells


def test_notebook_that_does_not_train_needs_no_lightning(tmp_path: Path) -> None:
    """Does the lightning rule stay silent for a notebook that never trains?"""
    assert lint(tmp_path, notebook_without_training()) == []


def test_metadata_trains_turns_lightning_on(tmp_path: Path) -> None:
    """Does aiml.trains = true make the lightning rule apply to a notebook with no fit call?"""
    findings = lint(tmp_path, notebook_without_training(), {**METADATA["aiml"], "trains": True})
    assert {f.rule for f in findings} == {"lightning"}
    assert any("LightningModule" in f.message for f in findings)


def test_hand_written_loop_calling_fit_fires_lightning(tmp_path: Path) -> None:
    """Does a `.fit(` call alone mark the notebook as training?"""
    cells = notebook_without_training()
    replace_in(cells, "value_4 = 4 * 2", "value_4 = model.fit(4)")
    assert {f.rule for f in lint(tmp_path, cells)} == {"lightning"}


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_demos(tmp_path: Path, count: int) -> None:
    """Is a notebook with fewer than two demo(...) calls reported?"""
    cells = compliant_cells()
    for needle in ["demo(show_square)", "demo(show_cube)"][: 2 - count]:
        replace_in(cells, needle, needle.replace("demo", "print"))
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("demos", None)]
    assert f"has {count} demo" in findings[0].message


def test_fewer_than_three_exercises(tmp_path: Path) -> None:
    """Is a notebook with only two exercises reported for the notebook as a whole?"""
    cells = compliant_cells()
    start = cell_number(cells, "### Exercise q3")
    prose = [[new_markdown_cell("More prose."), new_code_cell("print(1)")] for _ in range(3)]
    cells[start - 1 : start + 6] = [cell for pair in prose for cell in pair] + [new_markdown_cell("End.")]
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("exercises", None)]
    assert "has 2 exercise(s)" in findings[0].message


@pytest.mark.parametrize(
    ("needle", "new", "where", "words"),
    [
        ("# TESTS q2\n", "# Tests\n", "# ANSWER q2", "# TESTS q2"),
        ("# HIDDEN TESTS q2\n", "# HIDDEN TESTS q9\n", "# ANSWER q2", "# HIDDEN TESTS q2"),
        ("<!-- WALKTHROUGH q2 -->", "Walkthrough", "# ANSWER q2", "WALKTHROUGH q2"),
        ("<!-- HINTS q2 -->", "Hints", "# ANSWER q2", "HINTS q2"),
        (
            "<!-- HINTS q2 -->\nAdd something.\n---",
            "<!-- HINTS q2 -->\nAdd something.\n--",
            "<!-- HINTS q2 -->",
            "1 hint",
        ),
    ],
)
def test_exercise_parts(tmp_path: Path, needle: str, new: str, where: str, words: str) -> None:
    """Is a missing part of exercise q2 reported at its ANSWER cell, and a single hint at its HINTS cell?"""
    cells = compliant_cells()
    replace_in(cells, needle, new)
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("exercises", cell_number(cells, where))]
    assert words in findings[0].message


@pytest.mark.parametrize(
    ("needle", "new", "words"),
    [
        (
            '"answer": 0, "explain": "Count on from 3.", "points": 0.1}',
            '"answer": 2, "explain": "Count on from 3.", "points": 0.1}',
            "question 4 'answer' 2",
        ),
        ('"choices": ["1", "2"], "answer": 1', '"choices": ["2"], "answer": 0', "question 1 needs 'choices'"),
        ('"explain": "Double three."', '"explain": ""', "question 5 needs a non-empty 'explain'"),
        (
            '"answer": 1, "explain": "Two twos make four.", "points": 0.1},',
            '"answer": 1, "explain": "Two twos make four.", "points": 0.1}',
            "does not parse",
        ),
        (
            '"answer": 1, "explain": "One and one make two."',
            '"answer": ONE, "explain": "One and one make two."',
            "plain literal",
        ),
        (
            '{"question": "What is 3 + 2?", "choices": ["5", "4"], "answer": 0, "explain": "Count on from 3.", "points": 0.1},\n',
            "",
            "quiz has 4 questions",
        ),
    ],
)
def test_malformed_quiz(tmp_path: Path, needle: str, new: str, words: str) -> None:
    """Is each malformed quiz reported at the quiz cell, saying what is wrong?"""
    cells = compliant_cells()
    number = replace_in(cells, needle, new)
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("quiz", number)]
    assert words in findings[0].message


def test_quiz_missing(tmp_path: Path) -> None:
    """Is a notebook without a # QUIZ cell reported for the notebook as a whole?"""
    cells = compliant_cells()
    replace_in(cells, "# QUIZ quiz", "# quiz")
    assert fired(lint(tmp_path, cells)) == [("quiz", None)]


def test_second_quiz_cell(tmp_path: Path) -> None:
    """Is a second # QUIZ cell reported at that cell?"""
    cells = compliant_cells()
    number = cell_number(cells, "# QUIZ quiz")
    cells[number - 2 : number - 2] = [
        new_markdown_cell("Warm-up."),
        new_code_cell(QUIZ.replace("quiz", "warmup", 1)),
    ]
    findings = lint(tmp_path, cells)
    assert fired(findings) == [("quiz", number + 2)]
    assert f"the first is cell {number}" in findings[0].message


@pytest.mark.parametrize(
    ("needle", "new", "where"),
    [
        ("## Key takeaways", "## What we learned", None),
        ("## Experiments & exploration", "## Things to try", None),
        ("## Step 4", "## Experiments first", "## Experiments first"),
        ("## Key takeaways", "Key takeaways, sort of", None),
    ],
)
def test_closing_sections(tmp_path: Path, needle: str, new: str, where: str | None) -> None:
    """Are missing closing headings reported, and one placed before the last exercise reported there?"""
    cells = compliant_cells()
    replace_in(cells, needle, new)
    if where:
        replace_in(cells, "## Experiments & exploration", "## Wrap-up")
    assert fired(lint(tmp_path, cells)) == [("sections", cell_number(cells, where) if where else None)]


def test_key_takeaways_not_near_the_end(tmp_path: Path) -> None:
    """Is a Key takeaways heading after the exercises but more than 8 cells from the end reported there?"""
    cells = compliant_cells()
    cells += [new_markdown_cell("Appendix.") for _ in range(8)]
    assert fired(lint(tmp_path, cells)) == [("sections", cell_number(cells, "## Key takeaways"))]


@pytest.mark.parametrize("executed", ["outputs", "execution_count"])
def test_stored_outputs(tmp_path: Path, executed: str) -> None:
    """Is a code cell saved with outputs or an execution count reported at that cell?"""
    cells = compliant_cells()
    number = cell_number(cells, "value_3 = 3 * 2")
    if executed == "outputs":
        cells[number - 1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="6\n")]
    else:
        cells[number - 1].execution_count = 7
    assert fired(lint(tmp_path, cells)) == [("outputs", number)]


def test_missing_title(tmp_path: Path) -> None:
    """Is a first cell that is not a `# ` heading reported at cell 1?"""
    cells = compliant_cells()
    cells[0].source = "## Adding one"
    assert fired(lint(tmp_path, cells)) == [("title", 1)]


@pytest.mark.parametrize("missing", ["module", "title"])
def test_missing_module_metadata(tmp_path: Path, missing: str) -> None:
    """Is metadata without aiml.module or aiml.title reported for the notebook?"""
    aiml = {k: v for k, v in METADATA["aiml"].items() if k != missing}
    findings = lint(tmp_path, compliant_cells(), aiml)
    assert fired(findings) == [("title", None)]
    assert f"aiml.{missing}" in findings[0].message


# --- skipping rules ------------------------------------------------------------------------------------


def without_demos() -> Cells:
    cells = compliant_cells()
    replace_in(cells, "demo(show_square)", "print(show_square())")
    return cells


def test_allow_with_reason_silences_the_rule(tmp_path: Path) -> None:
    """Does aiml.lint.allow with a reason skip that rule and nothing else?"""
    aiml = {**METADATA["aiml"], "lint": {"allow": {"demos": "A reading-only module."}}}
    assert lint(tmp_path, without_demos(), aiml) == []
    cells = without_demos()
    replace_in(cells, "value_0 = 0 * 2", "%matplotlib inline\nvalue_0 = 0 * 2")
    assert {f.rule for f in lint(tmp_path, cells, aiml)} == {"no-magic-matplotlib"}


def test_rules_skipped_with_a_reason_are_shown_not_hidden(tmp_path: Path) -> None:
    """Are skipped rules listed (waivers) and counted by `course lint`, while an empty reason is not a waiver?"""
    from click.testing import CliRunner

    from aiml_course.cli import main

    write(tmp_path, without_demos(), {**METADATA["aiml"], "lint": {"allow": {"demos": "A reading-only module."}}},
          name="a.ipynb")
    write(tmp_path, compliant_cells(), {**METADATA["aiml"], "lint": {"allow": {"size": ""}}}, name="b.ipynb")
    assert waivers(tmp_path) == [(tmp_path / "a.ipynb", "demos", "A reading-only module.")]
    result = CliRunner().invoke(main, ["lint", str(tmp_path)])
    assert "1 rule(s) skipped with a reason (demos ×1)" in result.output
    stats = CliRunner().invoke(main, ["lint", "--stats", str(tmp_path)])
    assert "skips demos: a.ipynb (A reading-only module.)" in stats.output


def test_allow_lightning_for_a_hand_written_loop(tmp_path: Path) -> None:
    """Does allow {'lightning': reason} silence a training notebook without Lightning parts?"""
    cells = compliant_cells()
    replace_in(cells, "callbacks=[early_stop]", "callbacks=[]")
    replace_in(
        cells, "early_stop = EarlyStopping(monitor='val_loss', patience=CONFIG['early_stop_patience'])\n", ""
    )
    replace_in(cells, "from lightning.pytorch.callbacks import EarlyStopping\n", "")
    aiml = {**METADATA["aiml"], "lint": {"allow": {"lightning": "Part 3 writes the training loop by hand."}}}
    assert lint(tmp_path, cells, aiml) == []


@pytest.mark.parametrize("reason", ["", "   ", None, True])
def test_allow_without_reason_is_a_finding(tmp_path: Path, reason: object) -> None:
    """Does an allow entry without a reason become a finding, and leave its rule in force?"""
    aiml = {**METADATA["aiml"], "lint": {"allow": {"demos": reason}}}
    findings = lint(tmp_path, without_demos(), aiml)
    assert fired(findings) == [("allow-without-reason", None), ("demos", None)]
    assert "'demos'" in findings[0].message


@pytest.mark.parametrize("rule", ["demo", "notebook-format"])
def test_allow_unknown_rule_is_a_finding(tmp_path: Path, rule: str) -> None:
    """Is an allow entry for a rule that does not exist (or cannot be skipped) reported?"""
    aiml = {**METADATA["aiml"], "lint": {"allow": {rule: "Typo."}}}
    findings = lint(tmp_path, compliant_cells(), aiml)
    assert fired(findings) == [("allow-unknown-rule", None)]
    assert repr(rule) in findings[0].message


def test_allow_that_is_not_a_mapping(tmp_path: Path) -> None:
    """Is an allow list (instead of a rule -> reason mapping) reported?"""
    aiml = {**METADATA["aiml"], "lint": {"allow": ["demos"]}}
    assert fired(lint(tmp_path, without_demos(), aiml)) == [("allow-without-reason", None), ("demos", None)]


# --- unreadable notebooks and folders ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"cells": [', "not valid JSON (line 1"),
        ("[]", "nbformat=None"),
        (json.dumps({"nbformat": 3, "worksheets": []}), "nbformat=3"),
        (json.dumps({"nbformat": 4, "cells": {}}), "no list of cells"),
        (json.dumps({"nbformat": 4, "cells": [{"source": "x"}]}), "cell 1"),
    ],
)
def test_unreadable_notebook_is_one_finding(tmp_path: Path, text: str, words: str) -> None:
    """Does a malformed file yield one notebook-format finding instead of an exception?"""
    path = tmp_path / "broken.ipynb"
    path.write_text(text, encoding="utf-8")
    findings = lint_notebook(path)
    assert fired(findings) == [("notebook-format", None)]
    assert words in findings[0].message


def test_missing_file(tmp_path: Path) -> None:
    """Is a path that does not exist reported as notebook-format, not raised?"""
    findings = lint_path(tmp_path / "missing.ipynb")
    assert fired(findings) == [("notebook-format", None)]
    assert "cannot read" in findings[0].message


def test_non_utf8_notebook(tmp_path: Path) -> None:
    """Is a file that is not UTF-8 reported as notebook-format?"""
    path = tmp_path / "latin1.ipynb"
    path.write_bytes('{"nbformat": 4, "cells": ["\xe9"]}'.encode("latin-1"))
    assert fired(lint_notebook(path)) == [("notebook-format", None)]


def test_lint_path_walks_a_folder_sorted_skipping_checkpoints(tmp_path: Path) -> None:
    """Does lint_path lint every notebook under a folder in sorted order, skipping .ipynb_checkpoints?"""
    part = tmp_path / "part-02"
    (part / ".ipynb_checkpoints").mkdir(parents=True)
    (part / "sub").mkdir()
    for path in (
        part / "b.ipynb",
        part / "sub" / "a.ipynb",
        part / ".ipynb_checkpoints" / "b-checkpoint.ipynb",
    ):
        path.write_text("not json", encoding="utf-8")
    write(part, compliant_cells(), name="a.ipynb")
    findings = lint_path(part)
    assert [f.notebook for f in findings] == [part / "b.ipynb", part / "sub" / "a.ipynb"]
    assert lint_path(part / "a.ipynb") == []
