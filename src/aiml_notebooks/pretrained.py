"""Checkpoints the course's own code trained for longer than a student run allows.

Each checkpoint is two files in ``src/aiml_notebooks/checkpoints/``: ``<name>.pt`` (a ``state_dict`` of plain
tensors, plus any plain-data extras such as a tokenizer's vocabulary) and ``<name>.json`` (what trained it, the
command that rebuilds it, how long it trained and what it reached). The training script is
``scripts/checkpoints/<name>.py``; with the same torch build it rebuilds the file deterministically (one thread,
fixed seeds). A notebook loads a checkpoint to *show* what longer training reaches; it never grades with one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
MAX_CHECKPOINT_BYTES = 4 * 1024 * 1024  # committed to git: keep each one small
REQUIRED_INFO = ("command", "trained_seconds", "metrics", "description")


class CheckpointMissing(FileNotFoundError):
    """A course checkpoint is not on disk; the message says how to rebuild it."""


def checkpoint_path(name: str) -> Path:
    """The ``.pt`` file of checkpoint ``name``; a clear error naming the rebuild command if it is missing."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"bad checkpoint name {name!r}")
    path = CHECKPOINT_DIR / f"{name}.pt"
    if not path.is_file():
        raise CheckpointMissing(f"checkpoint {name!r} not found at {path}; rebuild it with "
                                f"`python scripts/checkpoints/{name}.py`")
    return path


def checkpoint_info(name: str) -> dict[str, Any]:
    """The JSON beside the checkpoint: command, trained_seconds, metrics (e.g. val_loss), description."""
    info_path = checkpoint_path(name).with_suffix(".json")
    if not info_path.is_file():
        raise CheckpointMissing(f"checkpoint {name!r} has no {info_path.name}; rebuild it with "
                                f"`python scripts/checkpoints/{name}.py`")
    return json.loads(info_path.read_text(encoding="utf-8"))


def load_checkpoint(name: str) -> dict[str, Any]:
    """The saved dictionary (tensors and plain data only: loaded with ``weights_only=True``, on the CPU)."""
    import torch

    return torch.load(checkpoint_path(name), map_location="cpu", weights_only=True)


def save_checkpoint(name: str, payload: dict[str, Any], info: dict[str, Any],
                    directory: Path = CHECKPOINT_DIR) -> Path:
    """Write ``<name>.pt`` and ``<name>.json`` atomically (for the scripts that train checkpoints)."""
    import torch

    missing = [key for key in REQUIRED_INFO if key not in info]
    if missing:
        raise ValueError(f"checkpoint info lacks {', '.join(missing)}")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.pt"
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".tmp", delete=False) as handle:
        torch.save(payload, handle)
        temporary = Path(handle.name)
    temporary.chmod(0o644)  # NamedTemporaryFile makes 0600; graders and students read it as other users
    size = temporary.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        temporary.unlink()
        raise ValueError(f"checkpoint {name!r} is {size:,} bytes; the limit is {MAX_CHECKPOINT_BYTES:,}")
    os.replace(temporary, target)
    text = json.dumps({**info, "bytes": size}, indent=1, sort_keys=True) + "\n"
    info_tmp = target.with_suffix(".json.tmp")
    info_tmp.write_text(text, encoding="utf-8")
    os.replace(info_tmp, target.with_suffix(".json"))
    return target


__all__ = ["CHECKPOINT_DIR", "MAX_CHECKPOINT_BYTES", "CheckpointMissing", "checkpoint_info", "checkpoint_path",
           "load_checkpoint", "save_checkpoint"]
