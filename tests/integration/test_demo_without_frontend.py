"""A notebook with no frontend attached never waits on widgets: `nbconvert --execute` / nbclient without
AIML_HEADLESS runs every demo once with its defaults (issue 10: 3.4, 4.4 and the major project stalled for the
whole 600 s cell timeout at a demo on a loaded machine)."""

from __future__ import annotations

import time

import nbformat
import pytest

from aiml_notebooks.environment import _run_by_a_batch_client

DEMOS = """\
import matplotlib.pyplot as plt
from aiml_notebooks import choice, demo, slider, toggle

def show(lr, kind, grid):
    print(f"demo ran: lr={lr} kind={kind} grid={grid}")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, lr])
    plt.show()

for start in (0.1, 0.5, 0.9):
    demo(show, lr=slider(0.0, 1.0, 0.01, start), kind=choice(["sigmoid", "relu"]), grid=toggle(True))
"""


def test_nbclient_without_aiml_headless_runs_demos_once_and_builds_no_widgets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.delenv("AIML_HEADLESS", raising=False)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(DEMOS), nbformat.v4.new_code_cell("print('end')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    start = time.monotonic()
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()  # a hang fails here, not after 600 s
    assert time.monotonic() - start < 120
    outputs = nb.cells[0].outputs
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert printed.count("demo ran: lr=") == 3 and "lr=0.5 kind=sigmoid grid=True" in printed
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plots are still saved
    assert nb.cells[1].outputs[0]["text"] == "end\n"


class _Shell:
    def __init__(self, parent: object) -> None:
        self.parent = parent

    def get_parent(self) -> object:
        return self.parent


@pytest.mark.parametrize(("parent", "batch"), [
    ({"header": {"msg_type": "execute_request"}, "content": {"allow_stdin": False}}, True),   # nbclient, papermill
    ({"header": {"msg_type": "execute_request"}, "content": {"allow_stdin": True}}, False),   # Lab, Notebook, VS Code
    ({"header": {"msg_type": "comm_msg"}, "content": {}}, False),      # a slider callback in a live frontend
    ({}, False),
    (None, False),
])
def test_a_batch_client_is_recognised_by_allow_stdin(parent: object, batch: bool) -> None:
    assert _run_by_a_batch_client(_Shell(parent)) is batch
