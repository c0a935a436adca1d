"""Train the course's tiny GPT on Jane Austen's novels and save it as checkpoint ``austen_gpt``.

    python scripts/checkpoints/austen_gpt.py            # about 8 CPU minutes on one thread

Deterministic: one torch thread, fixed seeds, a fixed number of steps (the same torch build gives the same
file). The model is ``aiml_notebooks.TinyGPT`` (Module 9.3's architecture) at 4 blocks, d_model 64, 4 heads,
context 64 (about 0.2M parameters); the text is ``load_text("austen")`` (4.0 M characters, 81 distinct), the first
90 % for training, the last 10 % for validation. Loss is in nats per character. Modules 9.4 and 9.5 load it to
show what longer training reaches; Parts 10-11 start from it with ``load_pretrained_gpt()``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))  # run from a checkout without installing

from aiml_notebooks import CharacterTokenizer, load_text
from aiml_notebooks.gpt import TinyGPT
from aiml_notebooks.pretrained import save_checkpoint

NAME = "austen_gpt"
SEED = 0
ARCHITECTURE = {"d_model": 64, "n_heads": 4, "n_layers": 4, "d_ff": 256, "max_len": 64}
TRAIN = {
    "steps": 6000,  # optimizer steps
    "batch_size": 32,  # windows per step (32 x 64 = 2,048 characters)
    "lr": 3e-3,  # AdamW's peak step size
    "min_lr": 3e-4,  # cosine decay ends here
    "warmup": 100,  # steps of linear warm-up
    "weight_decay": 0.1,
    "clip": 1.0,  # gradient-norm clipping
    "val_fraction": 0.1,  # the end of the text
    "eval_every": 250,
}


def learning_rate(step: int) -> float:
    if step < TRAIN["warmup"]:
        return TRAIN["lr"] * (step + 1) / TRAIN["warmup"]
    done = (step - TRAIN["warmup"]) / max(1, TRAIN["steps"] - TRAIN["warmup"])
    return TRAIN["min_lr"] + 0.5 * (TRAIN["lr"] - TRAIN["min_lr"]) * (1 + math.cos(math.pi * done))


def random_batch(ids: torch.Tensor, T: int, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    starts = torch.randint(0, len(ids) - T - 1, (n,), generator=g)
    x = torch.stack([ids[s : s + T] for s in starts.tolist()])
    y = torch.stack([ids[s + 1 : s + T + 1] for s in starts.tolist()])
    return x, y


@torch.no_grad()
def mean_loss(model: TinyGPT, x: torch.Tensor, y: torch.Tensor, batch: int = 256) -> float:
    """Mean cross-entropy (nats per character) over every position of the windows x -> y."""
    model.eval()
    total = 0.0
    for i in range(0, len(x), batch):
        logits = model(x[i : i + batch])
        total += F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y[i : i + batch].reshape(-1), reduction="sum"
        ).item()
    model.train()
    return total / y.numel()


def windows(ids: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every non-overlapping (x, y) window of ids, y one character ahead."""
    n = (len(ids) - 1) // T
    return ids[: n * T].reshape(n, T), ids[1 : n * T + 1].reshape(n, T)


def bigram_loss(train: torch.Tensor, val: torch.Tensor, vocab: int) -> float:
    counts = torch.ones(vocab, vocab, dtype=torch.float64)
    counts.index_put_(
        (train[:-1], train[1:]), torch.ones(len(train) - 1, dtype=torch.float64), accumulate=True
    )
    p = counts / counts.sum(dim=1, keepdim=True)
    return float(-torch.log(p[val[:-1], val[1:]]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=TRAIN["steps"])
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the checkpoint (default: the library's)"
    )
    args = parser.parse_args()
    TRAIN["steps"] = args.steps
    torch.set_num_threads(1)
    torch.manual_seed(SEED)

    text = load_text("austen")
    tokenizer = CharacterTokenizer.from_text(text)
    ids = torch.tensor(tokenizer.encode(text))
    cut = int(len(ids) * (1 - TRAIN["val_fraction"]))
    train_ids, val_ids = ids[:cut], ids[cut:]
    T = ARCHITECTURE["max_len"]
    val_x, val_y = windows(val_ids, T)
    g_eval = torch.Generator().manual_seed(SEED + 1)
    probe = torch.randperm(len(val_x), generator=g_eval)[:64]  # a fixed sample of windows for progress lines

    model = TinyGPT(vocab=tokenizer.vocab_size, **ARCHITECTURE)
    n_params = sum(p.numel() for p in model.parameters())
    baseline = bigram_loss(train_ids, val_ids, tokenizer.vocab_size)
    print(
        f"{len(train_ids):,} training / {len(val_ids):,} validation characters, vocab {tokenizer.vocab_size}; "
        f"{n_params:,} parameters; bigram validation loss {baseline:.4f}",
        flush=True,
    )
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": TRAIN["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=TRAIN["lr"],
    )
    g = torch.Generator().manual_seed(SEED)
    started, cpu_started = time.perf_counter(), time.process_time()
    curve = []
    for step in range(TRAIN["steps"]):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step)
        x, y = random_batch(train_ids, T, TRAIN["batch_size"], g)
        loss = F.cross_entropy(model(x).reshape(-1, tokenizer.vocab_size), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), TRAIN["clip"])
        optimizer.step()
        if (step + 1) % TRAIN["eval_every"] == 0 or step == 0:
            probe_loss = mean_loss(model, val_x[probe], val_y[probe])
            curve.append([step + 1, round(probe_loss, 4)])
            print(
                f"step {step + 1:5d}  train {loss.item():.3f}  val (64 windows) {probe_loss:.3f}  "
                f"{time.perf_counter() - started:6.0f} s wall  {time.process_time() - cpu_started:6.0f} s CPU",
                flush=True,
            )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    val_loss = mean_loss(model, val_x, val_y)
    train_x, train_y = windows(train_ids[: len(val_ids)], T)
    train_loss = mean_loss(model, train_x, train_y)
    print(
        f"validation loss {val_loss:.4f} over {val_y.numel():,} characters (train {train_loss:.4f}); "
        f"{wall:.0f} s wall, {cpu:.0f} s CPU",
        flush=True,
    )

    payload = {
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "architecture": {"vocab": tokenizer.vocab_size, **ARCHITECTURE},
        "tokenizer": tokenizer.to_dict(),
        "training": {**TRAIN, "seed": SEED, "corpus": "austen"},
    }
    info = {
        "command": f"python scripts/checkpoints/{NAME}.py"
        + (f" --steps {args.steps}" if args.steps != 6000 else ""),
        "trained_seconds": round(wall, 1),
        "metrics": {
            "val_loss": round(val_loss, 4),
            "train_loss": round(train_loss, 4),
            "bigram_val_loss": round(baseline, 4),
            "cpu_seconds": round(cpu, 1),
            "steps": TRAIN["steps"],
            "characters_seen": TRAIN["steps"] * TRAIN["batch_size"] * T,
            "parameters": n_params,
            "val_characters": int(val_y.numel()),
            "probe_curve": curve,
        },
        "description": (
            "TinyGPT (Module 9.3's architecture: 4 blocks, d_model 64, 4 heads, d_ff 256, context 64) "
            "trained on Jane Austen's six novels (first 90 % of load_text('austen')) with AdamW, "
            "warm-up and cosine decay, one thread; val_loss is nats per character on the last 10 %."
        ),
    }
    target = save_checkpoint(NAME, payload, info, **({"directory": args.out} if args.out else {}))
    print(f"saved {target} ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
