from __future__ import annotations

import base64
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aiml_notebooks.callbacks import LiveLossPlot
from aiml_notebooks.environment import in_live_notebook

TinyFit = Callable[..., tuple[Any, Any]]  # the conftest fixture: fit(...) -> (trainer, logger)

SHELL_PROBE = "from aiml_notebooks.environment import in_live_notebook; print(in_live_notebook())"


def test_plain_python_is_not_a_live_notebook() -> None:
    """Is the pytest process (no IPython shell at all) reported as headless?"""
    assert in_live_notebook() is False


@pytest.mark.parametrize(
    "command",
    [
        # an IPython shell object without a kernel (what some tools embed)
        [sys.executable, "-c", "from IPython.core.interactiveshell import InteractiveShell; "
         f"InteractiveShell.instance(); {SHELL_PROBE}"],
        # terminal IPython: a real TerminalInteractiveShell, still no kernel
        [sys.executable, "-m", "IPython", "--no-banner", "--quick", "-c", SHELL_PROBE],
    ],
    ids=["InteractiveShell", "TerminalInteractiveShell"],
)  # fmt: skip
def test_ipython_shells_without_a_kernel_are_headless(command: list[str], tmp_path: Path) -> None:
    """Do IPython shells that are not Jupyter kernels count as headless?"""
    env = os.environ | {"IPYTHONDIR": str(tmp_path)}  # keep IPython's history out of $HOME
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_a_jupyter_kernel_is_a_live_notebook(live_kernel_outputs: dict[str, list[Any]]) -> None:
    """Inside a real ipykernel, does in_live_notebook() return True?"""
    (output,) = live_kernel_outputs["env"]
    assert output["text"].strip() == "True"


def test_records_history_and_stays_silent_headless(
    tiny_fit: TinyFit, capsys: pytest.CaptureFixture[str]
) -> None:
    """During a real fit, does LiveLossPlot record one row per epoch matching the logged losses, printing nothing?"""
    live = LiveLossPlot()
    _, logger = tiny_fit(callbacks=[live], max_epochs=2)
    assert capsys.readouterr().out == ""  # headless display() would print "<IPython...Image object>"
    metrics = pd.read_csv(Path(logger.log_dir) / "metrics.csv")
    train = metrics[["epoch", "train_loss"]].dropna().groupby("epoch")["train_loss"].mean()
    val = metrics[["epoch", "val_loss"]].dropna().set_index("epoch")["val_loss"]
    assert live.history["epoch"] == [0, 1]  # the sanity-check validation is not recorded
    assert live.history["train_loss"] == pytest.approx(train.tolist(), rel=1e-5)
    assert live.history["val_loss"] == pytest.approx(val.tolist(), rel=1e-5)
    assert live.history["val_loss"][1] < live.history["val_loss"][0]  # lr 0.1 learns something


def test_missing_val_metric_is_nan(tiny_fit: TinyFit) -> None:
    """If the watched validation metric was never logged, is it recorded as NaN instead of crashing?"""
    live = LiveLossPlot(val_key="val_perplexity")
    tiny_fit(callbacks=[live], max_epochs=1)
    assert len(live.history["val_loss"]) == 1
    assert math.isnan(live.history["val_loss"][0])
    assert not math.isnan(live.history["train_loss"][0])


def test_plot_draws_the_recorded_history() -> None:
    """Does plot() draw the history's train and validation curves against the epochs?"""
    live = LiveLossPlot(title="Run 1")
    live.history = {"epoch": [0, 1, 2], "train_loss": [2.0, 1.5, 1.0], "val_loss": [2.1, 1.7, 1.6]}
    (ax,) = live.plot().axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["Train"].get_ydata()) == [2.0, 1.5, 1.0]
    assert list(lines["Validation"].get_xdata()) == [0, 1, 2]
    assert ax.get_title() == "Run 1"


def test_live_kernel_redraws_one_image_in_place(live_kernel_outputs: dict[str, list[Any]]) -> None:
    """In a real kernel, does a 3-epoch fit leave one image, updated to the final curve (not 3 images)?"""
    images = [o for o in live_kernel_outputs["fit"] if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert images[0]["output_type"] == "display_data"
    (final,) = live_kernel_outputs["final"]
    rows, final_png = final["text"].split()
    assert rows == "3"
    shown = base64.b64decode(images[0]["data"]["image/png"])
    assert shown == base64.b64decode(final_png)  # the first epoch's image was replaced
