"""aiml_notebooks.gpt: the course's TinyGPT (Module 9.3's architecture) and the trained Austen checkpoint."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from aiml_notebooks import CharacterTokenizer, TinyGPT, checkpoint_info, load_pretrained_gpt, pretrained
from aiml_notebooks.gpt import ARCHITECTURE_KEYS

SIZES = {"vocab": 11, "d_model": 16, "n_heads": 2, "n_layers": 2, "d_ff": 40, "max_len": 12}
HAS_AUSTEN_GPT = (pretrained.CHECKPOINT_DIR / "austen_gpt.pt").is_file()


def make(seed: int = 0, **sizes: int) -> TinyGPT:
    torch.manual_seed(seed)
    return TinyGPT(**(SIZES | sizes)).eval()


def parameter_formula(vocab: int, d_model: int, n_heads: int, n_layers: int, d_ff: int, max_len: int) -> int:
    """Module 9.3's count: embeddings, per block 2 norms + qkv + proj + feed-forward, final norm, output layer."""
    d = d_model
    block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * d_ff + d_ff) + (d_ff * d + d)
    return vocab * d + max_len * d + n_layers * block + 2 * d + vocab * d


def test_logits_have_one_row_per_position_and_the_expected_parameter_count() -> None:
    model = make()
    ids = torch.randint(0, SIZES["vocab"], (3, 7), generator=torch.Generator().manual_seed(1))
    assert model(ids).shape == (3, 7, SIZES["vocab"])
    assert sum(p.numel() for p in model.parameters()) == parameter_formula(**SIZES)
    assert model.config == SIZES


def test_the_causal_mask_hides_the_future_and_can_be_switched_off() -> None:
    """Changing tokens from position 5 on leaves positions 0-4 unchanged, unless causal=False."""
    model = make().double()
    a = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])
    b = a.clone()
    b[0, 5:] = torch.tensor([0, 0, 9])
    with torch.no_grad():
        assert torch.equal(model(a)[0, :5], model(b)[0, :5])
        assert not torch.allclose(model(a, causal=False)[0, :5], model(b, causal=False)[0, :5])


def test_bad_sizes_and_too_long_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="multiple of n_heads"):
        make(d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="max_len"):
        make()(torch.zeros(1, SIZES["max_len"] + 1, dtype=torch.long))


def test_generate_appends_tokens_greedy_or_sampled_and_crops_to_max_len() -> None:
    model = make()
    start = torch.tensor([[1, 2, 3]])
    greedy = model.generate(start, 20, temperature=0)  # 23 tokens: longer than max_len 12, so it crops
    assert greedy.shape == (1, 23) and torch.equal(greedy[:, :3], start)
    assert torch.equal(model.generate(start, 20, temperature=1.0, top_k=1), greedy)  # top-1 is greedy
    with torch.no_grad():
        assert int(greedy[0, 3]) == int(model(start)[0, -1].argmax())
    one = model.generate(start, 15, generator=torch.Generator().manual_seed(3))
    two = model.generate(start, 15, generator=torch.Generator().manual_seed(3))
    assert torch.equal(one, two)


def test_load_pretrained_gpt_rebuilds_model_and_tokenizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint saved the way scripts/checkpoints/austen_gpt.py saves it loads back to the same logits."""
    monkeypatch.setattr(pretrained, "CHECKPOINT_DIR", tmp_path)
    tokenizer = CharacterTokenizer.from_text("abcdefghij ")
    model = make()
    payload = {
        "state_dict": model.state_dict(),
        "architecture": dict(SIZES),
        "tokenizer": tokenizer.to_dict(),
    }
    info = {"command": "x", "trained_seconds": 1.0, "metrics": {"val_loss": 2.0}, "description": "d"}
    pretrained.save_checkpoint("tiny_gpt", payload, info, directory=tmp_path)
    back, back_tokenizer = load_pretrained_gpt("tiny_gpt")
    ids = torch.tensor([back_tokenizer.encode("cab ja")])
    assert not back.training and back_tokenizer.itos == tokenizer.itos
    with torch.no_grad():
        assert torch.equal(back(ids), model(ids))


@pytest.mark.skipif(not HAS_AUSTEN_GPT, reason="checkpoint austen_gpt not built")
def test_the_committed_austen_checkpoint_loads_with_its_recorded_numbers() -> None:
    model, tokenizer = load_pretrained_gpt()
    info = checkpoint_info("austen_gpt")
    assert tokenizer.vocab_size == 81 and model.config["vocab"] == 81
    assert {k: model.config[k] for k in ARCHITECTURE_KEYS[1:]} == {
        "d_model": 64, "n_heads": 4, "n_layers": 4, "d_ff": 256, "max_len": 64}  # fmt: skip
    assert info["metrics"]["val_loss"] <= 1.6 < info["metrics"]["bigram_val_loss"]
    assert info["metrics"]["parameters"] == sum(p.numel() for p in model.parameters())
    assert info["command"].startswith("python scripts/checkpoints/austen_gpt.py")


@pytest.mark.skipif(
    not HAS_AUSTEN_GPT
    or importlib.util.find_spec("rdata") is None
    or not Path("/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb").is_file(),
    reason="needs the austen_gpt checkpoint and the Austen corpus",
)
def test_the_austen_checkpoint_predicts_held_out_austen_well() -> None:
    """On 32 windows from the held-out end of the novels, is the loss near the recorded one (well below 2)?"""
    from aiml_notebooks import load_text

    model, tokenizer = load_pretrained_gpt()
    ids = torch.tensor(tokenizer.encode(load_text("austen")[-32 * 64 - 1 :]))
    x, y = ids[:-1].reshape(32, 64), ids[1:].reshape(32, 64)
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, 81), y.reshape(-1)).item()
    assert loss < 1.8
