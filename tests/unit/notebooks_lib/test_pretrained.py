"""Course checkpoints: every committed one loads, is small, says how it was trained, and has its script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aiml_notebooks import pretrained

REPO = Path(__file__).resolve().parents[3]
COMMITTED = sorted(p.stem for p in pretrained.CHECKPOINT_DIR.glob("*.pt"))


def test_save_then_load_round_trips_tensors_and_plain_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Does a saved state dict with a vocabulary come back equal, with its info and byte count beside it?"""
    monkeypatch.setattr(pretrained, "CHECKPOINT_DIR", tmp_path)
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    pretrained.save_checkpoint("tiny", {"state_dict": state, "chars": ["a", "b"]},
                               {"command": "x", "trained_seconds": 1.0, "metrics": {"val_loss": 2.0},
                                "description": "d"}, directory=tmp_path)
    back = pretrained.load_checkpoint("tiny")
    assert torch.equal(back["state_dict"]["w"], state["w"]) and back["chars"] == ["a", "b"]
    info = pretrained.checkpoint_info("tiny")
    assert info["metrics"] == {"val_loss": 2.0} and info["bytes"] == (tmp_path / "tiny.pt").stat().st_size
    assert not list(tmp_path.glob("*.tmp"))
    assert (tmp_path / "tiny.pt").stat().st_mode & 0o777 == 0o644, "others (the sandbox's user) must read it"


def test_a_missing_checkpoint_names_its_rebuild_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pretrained, "CHECKPOINT_DIR", tmp_path)
    with pytest.raises(pretrained.CheckpointMissing, match=r"python scripts/checkpoints/nope\.py"):
        pretrained.load_checkpoint("nope")
    with pytest.raises(ValueError, match="bad checkpoint name"):
        pretrained.checkpoint_path("../etc/passwd")


def test_info_without_the_required_keys_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lacks command"):
        pretrained.save_checkpoint("t", {}, {"trained_seconds": 1, "metrics": {}, "description": ""}, tmp_path)


def test_an_oversized_checkpoint_is_refused_and_leaves_nothing(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pretrained, "MAX_CHECKPOINT_BYTES", 100)
    info = {"command": "x", "trained_seconds": 1, "metrics": {}, "description": ""}
    with pytest.raises(ValueError, match="the limit is 100"):
        pretrained.save_checkpoint("big", {"w": torch.zeros(1000)}, info, tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", COMMITTED)
def test_every_committed_checkpoint_loads_and_is_documented(name: str) -> None:
    """Each committed checkpoint: under the size limit, loads with weights_only, has complete info whose command
    names its existing training script."""
    path = pretrained.checkpoint_path(name)
    assert path.stat().st_size <= pretrained.MAX_CHECKPOINT_BYTES
    assert isinstance(pretrained.load_checkpoint(name), dict)
    info = json.loads(path.with_suffix(".json").read_text())
    assert all(key in info for key in pretrained.REQUIRED_INFO), info
    script = REPO / "scripts" / "checkpoints" / f"{name}.py"
    assert script.is_file() and f"scripts/checkpoints/{name}.py" in info["command"], info["command"]
