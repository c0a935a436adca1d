from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aiml_notebooks.plotting import plot_training_curves

TinyFit = Callable[..., tuple[Any, Any]]  # the conftest fixture: fit(...) -> (trainer, logger)

# Lightning's CSVLogger layout: one row per logged step (train) or epoch end (val), NaN elsewhere.
CSV = """epoch,step,train_loss,train_acc,val_loss,val_acc
0,0,1.0,0.25,,
0,1,0.8,0.75,,
0,1,,,0.9,0.5
1,2,0.6,0.5,,
1,3,0.4,1.0,,
1,3,,,0.5,0.75
2,4,0.3,1.0,,
2,5,0.1,1.0,,
2,5,,,0.7,0.5
"""


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    (tmp_path / "metrics.csv").write_text(CSV)
    return tmp_path


def curve(ax: Any, label: str) -> tuple[list[float], list[float]]:
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return [float(v) for v in line.get_xdata()], [float(v) for v in line.get_ydata()]


def stop_lines(ax: Any) -> list[Any]:
    return [line for line in ax.get_lines() if line.get_linestyle() == "--"]


def test_curves_are_per_epoch_means(log_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Does each panel plot the per-epoch mean of train_<m> and the val_<m> value, loss then acc?"""
    fig = plot_training_curves(log_dir)
    loss_ax, acc_ax = fig.axes
    assert curve(loss_ax, "Train") == (
        [0, 1, 2],
        [pytest.approx(0.9), pytest.approx(0.5), pytest.approx(0.2)],
    )
    assert curve(loss_ax, "Validation") == ([0, 1, 2], [0.9, 0.5, 0.7])
    assert curve(acc_ax, "Train") == ([0, 1, 2], [0.5, 0.75, 1.0])
    assert curve(acc_ax, "Validation") == ([0, 1, 2], [0.5, 0.75, 0.5])
    assert "loss" in loss_ax.get_title().lower()
    assert "accuracy" in acc_ax.get_title().lower()
    assert stop_lines(loss_ax) == []
    out = capsys.readouterr().out
    assert "Epochs trained: 3" in out
    assert "Best val loss: 0.5000 at epoch 1" in out


def test_log_dir_csv_path_and_dataframe_agree(log_dir: Path) -> None:
    """Do a log folder, a metrics.csv path and a DataFrame give the same curves?"""
    sources = [log_dir, str(log_dir / "metrics.csv"), pd.read_csv(log_dir / "metrics.csv")]
    curves = [curve(plot_training_curves(s).axes[0], "Validation") for s in sources]
    assert curves[0] == curves[1] == curves[2]


def test_early_stop_epoch_is_a_dashed_line_in_every_panel(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Does stopped_epoch=2 draw a dashed vertical line at x=2 on both panels and report it?"""
    fig = plot_training_curves(log_dir, stopped_epoch=2)
    for ax in fig.axes:
        (line,) = stop_lines(ax)
        assert list(line.get_xdata()) == [2, 2]
    assert "Early stopping triggered at epoch 2" in capsys.readouterr().out


def test_stopped_epoch_zero_means_never_triggered(log_dir: Path) -> None:
    """Is Lightning's stopped_epoch == 0 ('did not stop early') left unmarked?"""
    fig = plot_training_curves(log_dir, stopped_epoch=0)
    assert all(stop_lines(ax) == [] for ax in fig.axes)


def test_only_present_metrics_get_a_panel(tmp_path: Path) -> None:
    """With only loss logged (as <name>_epoch / <name>_step columns), is there exactly one panel?"""
    frame = pd.DataFrame(
        {
            "epoch": [0, 0, 0, 1, 1, 1],
            "train_loss_step": [3.0, 1.0, None, 9.0, 9.0, None],
            "train_loss_epoch": [None, None, 2.0, None, None, 1.0],
            "val_loss": [None, None, 2.5, None, None, 1.5],
        }
    )
    fig = plot_training_curves(frame, metrics=("loss", "acc"), title="Tiny run")
    (ax,) = fig.axes
    assert curve(ax, "Train") == ([0, 1], [2.0, 1.0])  # the epoch column wins over step values
    assert fig._suptitle is not None
    assert fig._suptitle.get_text() == "Tiny run"


def test_figure_renders_headless(log_dir: Path) -> None:
    """Can the returned Figure be saved as PNG without any display or pyplot backend?"""
    buffer = io.BytesIO()
    fig = plot_training_curves(log_dir)
    fig.savefig(buffer, format="png")
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.to_png()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_file_and_unknown_metrics_are_explained(tmp_path: Path, log_dir: Path) -> None:
    """Are a missing metrics.csv, a frame without epochs and unlogged metrics reported clearly?"""
    with pytest.raises(FileNotFoundError, match=r"metrics\.csv"):
        plot_training_curves(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="epoch"):
        plot_training_curves(pd.DataFrame({"train_loss": [1.0]}))
    with pytest.raises(ValueError, match="train_f1/val_f1"):
        plot_training_curves(log_dir, metrics=("f1",))


def test_real_lightning_run_with_early_stopping(
    tiny_fit: TinyFit, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a real fit that early-stops at epoch 1, are both epochs plotted and the stop marked from the trainer?"""
    from lightning.pytorch.callbacks import EarlyStopping

    # lr=0 keeps val_loss exactly flat, so patience=1 stops after the second epoch, deterministically.
    early_stop = EarlyStopping(monitor="val_loss", patience=1, mode="min")
    trainer, logger = tiny_fit(callbacks=[early_stop], max_epochs=5, lr=0.0)
    assert early_stop.stopped_epoch == 1
    capsys.readouterr()
    fig = plot_training_curves(logger.log_dir, trainer=trainer)
    loss_ax, acc_ax = fig.axes
    epochs, values = curve(loss_ax, "Validation")
    assert epochs == [0, 1]
    assert values[0] == values[1]
    assert not math.isnan(values[0])
    assert [list(stop_lines(ax)[0].get_xdata()) for ax in (loss_ax, acc_ax)] == [[1, 1], [1, 1]]
    out = capsys.readouterr().out
    assert "Epochs trained: 2" in out
    assert "Early stopping triggered at epoch 1" in out
    assert curve(plot_training_curves(logger).axes[0], "Validation")[0] == [0, 1]  # the logger itself


@pytest.mark.parametrize("cell", ["plot", "plot_after_pyplot"])
def test_cell_value_in_a_live_notebook_shows_one_image(
    live_kernel_outputs: dict[str, list[Any]], cell: str
) -> None:
    """In a real Jupyter kernel, is a figure left as the cell's value shown exactly once, with or without pyplot?"""
    outputs = live_kernel_outputs[cell]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert images[0]["output_type"] == "execute_result"
    assert "Epochs trained: 2" in "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
