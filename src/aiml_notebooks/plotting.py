"""Training curves from a Lightning CSVLogger: train vs validation, one panel per metric."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NotebookFigure", "plot_training_curves"]

TRAIN_COLOR, VAL_COLOR = "#4ECDC4", "#FF6B6B"
_LABELS = {"loss": "Loss", "acc": "Accuracy", "accuracy": "Accuracy", "ppl": "Perplexity"}


class NotebookFigure(Figure):
    """A Figure outside pyplot that Jupyter shows as a PNG when it is a cell's value."""

    def to_png(self, dpi: int = 80) -> bytes:
        """The figure rendered as PNG bytes (Agg; no display needed)."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        # Without this, a kernel that never imported pyplot shows only "<Figure size ...>".
        return self.to_png()


def plot_training_curves(
    source: str | Path | pd.DataFrame | Any,
    *,
    stopped_epoch: int | None = None,
    metrics: Sequence[str] = ("loss", "acc"),
    title: str | None = None,
    trainer: Any = None,
) -> Figure:
    """Plot per-epoch train_<metric> and val_<metric> side by side; print a short summary.

    ``source`` is a CSVLogger (or its ``log_dir``), a ``metrics.csv`` path or a DataFrame. The
    early-stopping epoch (``stopped_epoch``, or read from ``trainer``) is marked with a dashed line;
    0 means "never triggered", as in Lightning. The Figure is not registered with pyplot: Jupyter
    shows it once when it is the cell's value, like a DataFrame; else ``display(fig)`` or
    ``fig.savefig(path)``.
    """
    frame = _read_metrics(source)
    if stopped_epoch is None and trainer is not None:
        stopped_epoch = _stopped_epoch(trainer)
    stop = stopped_epoch if stopped_epoch is not None and stopped_epoch > 0 else None

    curves = {m: _epoch_curves(frame, m) for m in metrics}
    curves = {m: c for m, c in curves.items() if c}  # only the metrics that were logged
    if not curves:
        wanted = ", ".join(f"train_{m}/val_{m}" for m in metrics)
        raise ValueError(f"none of {wanted} is in the metrics (columns: {', '.join(frame.columns)})")

    # Not pyplot: no global state, no backend needed (Agg renders it), no double display in Jupyter.
    fig = NotebookFigure(figsize=(7 * len(curves), 5), layout="tight")
    axes = fig.subplots(1, len(curves), squeeze=False)[0]
    for ax, (metric, series) in zip(axes, curves.items(), strict=True):
        for split, color, marker in (("train", TRAIN_COLOR, "o"), ("val", VAL_COLOR, "s")):
            if split in series:
                epochs, values = series[split]
                label = "Train" if split == "train" else "Validation"
                ax.plot(epochs, values, label=label, marker=marker, linewidth=2, color=color)
        if stop is not None:
            ax.axvline(stop, color="red", linestyle="--", alpha=0.6, label=f"Early stop (epoch {stop})")
        name = _LABELS.get(metric, metric)
        ax.set(xlabel="Epoch", ylabel=name, title=f"Training and validation {name.lower()}")
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title, fontsize=14, fontweight="bold")
    print(_summary(frame, curves, stop))
    return fig


def _read_metrics(source: Any) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a logger (its log_dir), a log folder or a metrics.csv path."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        frame = source
    else:
        path = Path(getattr(source, "log_dir", source))  # a CSVLogger itself is accepted too
        if path.is_dir():
            path = path / "metrics.csv"
        if not path.is_file():
            raise FileNotFoundError(f"no metrics.csv at {path}; pass logger.log_dir after trainer.fit")
        frame = pd.read_csv(path)
    if "epoch" not in frame.columns:
        raise ValueError("the metrics have no 'epoch' column; log them with Lightning's CSVLogger")
    return frame


def _epoch_curves(frame: pd.DataFrame, metric: str) -> dict[str, tuple[list[int], list[float]]]:
    """Per-epoch means of train_<metric> and val_<metric>: {'train': (epochs, values), ...}."""
    curves: dict[str, tuple[list[int], list[float]]] = {}
    for split in ("train", "val"):
        # self.log(on_epoch=True, on_step=True) writes <name>_epoch and <name>_step columns.
        candidates = (f"{split}_{metric}_epoch", f"{split}_{metric}", f"{split}_{metric}_step")
        column = next((c for c in candidates if c in frame.columns), None)
        if column is None:
            continue
        # Lightning writes one row per step or epoch end, so each metric is mostly NaN: drop those.
        per_epoch = frame[["epoch", column]].dropna().groupby("epoch")[column].mean()
        if len(per_epoch):
            curves[split] = ([int(e) for e in per_epoch.index], [float(v) for v in per_epoch])
    return curves


def _stopped_epoch(trainer: Any) -> int | None:
    """The epoch at which the trainer's EarlyStopping callback stopped training (0 if it never did)."""
    callback = getattr(trainer, "early_stopping_callback", None)
    return None if callback is None else int(callback.stopped_epoch)


def _summary(frame: pd.DataFrame, curves: dict[str, Any], stop: int | None) -> str:
    """Epochs trained, best validation loss and its epoch, early stop."""
    epochs = frame["epoch"].dropna().nunique()
    lines = [f"Epochs trained: {epochs}"]
    if "val" in curves.get("loss", {}):
        val_epochs, val_losses = curves["loss"]["val"]
        best = min(range(len(val_losses)), key=val_losses.__getitem__)
        lines.append(f"Best val loss: {val_losses[best]:.4f} at epoch {val_epochs[best]}")
    if stop is not None:
        lines.append(f"Early stopping triggered at epoch {stop}")
    return "\n".join(lines)
