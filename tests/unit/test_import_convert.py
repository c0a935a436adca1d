"""Issue 13: which foreign tests become outside-judged probes, and what the probes return (no sandbox needed)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from aiml_course.importers.convert import convert_test


def _probe(source: str, **kw: object) -> tuple[bool, str]:
    test = convert_test(source, name="t", points=1.0, hidden=False, **kw)  # type: ignore[arg-type]
    ast.parse(test.source)  # always valid Python
    return test.outside, test.source


@pytest.mark.parametrize("source", [
    "assert f(1) == 2",
    "assert 2 == f(1)",
    "assert f(1) == [1, 4], 'squares are wrong'",
    "x = f(3)\nassert x == 9\nassert g(x) == -1.5",
    "import math\nassert f(math.pi) == 0",
    "assert np.isclose(f(0.5), 0.25)",
    "assert np.allclose(f(0.5), 0.25, rtol=1e-3)",
])
def test_splittable_asserts_are_judged_outside(source: str) -> None:
    outside, probe = _probe(source)
    assert outside
    assert "assert" not in probe and "isclose" not in probe and "==" not in probe  # no verdict in the sandbox


@pytest.mark.parametrize("source", [
    "square(1) == 1",
    "np.isclose(price_by_flavor['chocolate'], 3.33333333)",
    "f = fib()\nassert next(f) == 0\nnext(f) == 1",
])
def test_otter_expression_tests_are_judged_outside(source: str) -> None:
    outside, probe = _probe(source, expression_tests=True)
    assert outside and "==" not in probe and "isclose" not in probe


@pytest.mark.parametrize("source, why", [
    ("assert type(x) == pd.Series", "is not LEFT == literal"),
    ("for v in data:\n    assert v in xs", "For"),
    ("try:\n    f(0)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError", "Try"),
    ("del squares\nassert g(1) == 1", "Delete"),
    ("assert f(1) == 1\nassert np.isclose(f(2), 4)", "mixes exact and approximate"),
    ("assert f(1) > 0", "is not LEFT == literal"),
    ("def helper():\n    return f(0) is None\nassert helper() == True", "helper"),
    ("print(f(1))", "Expr"),
])
def test_other_tests_run_inside_and_say_why(source: str, why: str) -> None:
    test = convert_test(source, name="t", points=1.0, hidden=True)
    assert not test.outside and why in test.how
    assert 'compare="true", judged="inside"' in test.source
    assert repr(source.strip()) in test.source  # kept as written, run in the notebook's namespace


def test_a_bare_expression_is_not_a_check_in_nbgrader_cells() -> None:
    assert not convert_test("f(1) == 2", name="t", points=1.0, hidden=False).outside


def test_manual_questions_parse_render_and_never_leak_their_model_answer(tmp_path: Path) -> None:
    import nbformat

    from aiml_course.authoring.parse import parse_notebook
    from aiml_course.authoring.render import case_table, dumps_notebook, render
    from aiml_course.authoring.verify import scan_for_leaks
    from aiml_course.errors import AuthoringError, LeakError

    model = "It computes the Fibonacci numbers recursively, from the base cases 0 and 1."
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Describe f."), nbformat.v4.new_markdown_cell(f"<!-- MANUAL part_a 2 -->\n{model}")]
    path = tmp_path / "m.ipynb"
    nbformat.write(nb, path)
    spec = parse_notebook(path)
    assert spec.questions["part_a"].kind == "manual" and spec.questions["part_a"].points == 2.0
    assert case_table(spec) == [{"name": "part_a__manual", "question": "part_a", "hidden": False,
                                 "spec": {"points": 2.0, "manual": True}, "description": "part_a (graded by hand)"}]
    release = dumps_notebook(render(spec, variant="release"))
    assert model not in release and "YOUR ANSWER HERE" in release
    assert model in dumps_notebook(render(spec, variant="walkthrough"))
    scan_for_leaks(spec, {"release/p/m.ipynb": release})
    forged = release.replace("YOUR ANSWER HERE", model)
    with pytest.raises(LeakError, match="model answer"):
        scan_for_leaks(spec, {"release/p/m.ipynb": forged})
    nb.cells.append(nbformat.v4.new_code_cell("# MANUAL part_a 1\nx = 1"))
    nbformat.write(nb, path)
    with pytest.raises(AuthoringError, match="already a question"):
        parse_notebook(path)


@pytest.mark.parametrize("cell_type, text", [
    ("markdown", "Explain why.\n<!-- MANUAL why 1 -->\nBecause the model answer says so."),
    ("markdown", "Some prose\n  <!-- HINTS q1 -->"),
    ("code", "x = 1\n# HIDDEN TESTS q1\n@case(compare='equal')\ndef t():\n    return f(2)"),
    ("code", "# the model answer\n# MANUAL q2 1\nprint('secret')"),
    ("code", "y = 2\n# JUDGE\ndef judge(v):\n    return 1.0"),
])
def test_a_directive_below_a_cells_first_line_is_refused_not_released(tmp_path: Path, cell_type: str,
                                                                      text: str) -> None:
    """A directive counts only on a cell's first line; further down it would be plain text that reaches students
    (a model answer, hidden tests, a judge). Is it refused with the notebook, cell and line named?"""
    import nbformat

    from aiml_course.authoring.parse import parse_notebook
    from aiml_course.errors import AuthoringError

    nb = nbformat.v4.new_notebook()
    make = nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_code_cell
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), make(text)]
    path = tmp_path / "buried.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(AuthoringError, match=r"buried\.ipynb, cell 2: the directive .* is on line \d"):
        parse_notebook(path)
