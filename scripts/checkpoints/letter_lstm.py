"""Train the course's letter-level LSTM checkpoint (Part 7 project): `python scripts/checkpoints/letter_lstm.py`.

The Part 7 project's model (letters -> nn.Embedding -> nn.LSTM -> nn.Linear -> logits over 27 letters), made
bigger (32-number letter vectors, a 256-number memory) and trained much longer than a student run: random
windows of 64 letters from the pydoc-topics text, Adam with a cosine learning-rate schedule. The text is cleaned
exactly as in the project (lower case, a-z and single spaces); the project's validation slice (letters
64,000..79,999) is never trained on, so its validation loss compares with the project's run. Deterministic: one
torch thread, fixed seeds. Writes src/aiml_notebooks/checkpoints/letter_lstm.pt (state_dict, vocabulary and
sizes as plain data) and letter_lstm.json.
"""

from __future__ import annotations

import argparse
import math
import re
import time

import torch
import torch.nn.functional as F
from pydoc_data.topics import topics
from torch import nn

from aiml_notebooks.pretrained import save_checkpoint

VOCAB = " abcdefghijklmnopqrstuvwxyz"
ARCH = {"embed_size": 32, "hidden": 256}
TRAIN = {"seed": 0, "steps": 2500, "seq_len": 64, "batch_size": 64, "learning_rate": 0.005,
         "val_start": 64000, "val_end": 80000}


class LetterLSTM(nn.Module):
    """letters (N, T) and a memory -> logits (N, T, 27) and the new memory (the project's forward)."""

    def __init__(self, embed_size: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB), embed_size)
        self.lstm = nn.LSTM(embed_size, hidden, batch_first=True)
        self.head = nn.Linear(hidden, len(VOCAB))

    def forward(self, x: torch.Tensor, state=None):
        states, state = self.lstm(self.embed(x), state)
        return self.head(states), state


def encode(text: str) -> torch.Tensor:
    cleaned = re.sub(r" +", " ", re.sub(r"[^a-z]", " ", text.lower()))
    return torch.tensor([VOCAB.index(ch) for ch in cleaned])


def val_loss(model: nn.Module, val_ids: torch.Tensor, seq_len: int) -> float:
    """Mean next-letter loss over the validation slice cut into windows (as the project's val_loader)."""
    n = (len(val_ids) - 1) // seq_len
    x = torch.stack([val_ids[i * seq_len:(i + 1) * seq_len] for i in range(n)])
    y = torch.stack([val_ids[i * seq_len + 1:(i + 1) * seq_len + 1] for i in range(n)])
    model.eval()
    with torch.no_grad():
        loss = F.cross_entropy(model(x)[0].reshape(-1, len(VOCAB)), y.reshape(-1)).item()
    model.train()
    return loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=TRAIN["steps"], help="(for a quick try only)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(TRAIN["seed"])
    ids = encode(" ".join(topics[name] for name in sorted(topics)))
    val_ids = ids[TRAIN["val_start"]:TRAIN["val_end"]]
    pieces = [ids[:TRAIN["val_start"]], ids[TRAIN["val_end"]:]]  # everything but the validation slice
    model = LetterLSTM(**ARCH)
    optimizer = torch.optim.Adam(model.parameters(), lr=TRAIN["learning_rate"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps)
    generator = torch.Generator().manual_seed(TRAIN["seed"])
    length, seq = [len(p) for p in pieces], TRAIN["seq_len"]
    history: dict[str, list[float]] = {"step": [], "val_loss": []}
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        rows = []
        for _ in range(TRAIN["batch_size"]):
            piece = pieces[0] if torch.rand(1, generator=generator).item() < length[0] / sum(length) else pieces[1]
            first = torch.randint(len(piece) - seq - 1, (1,), generator=generator).item()
            rows.append(piece[first:first + seq + 1])
        batch = torch.stack(rows)
        logits, _ = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), batch[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 250 == 0 or step == args.steps:
            v = val_loss(model, val_ids, 32)
            history["step"].append(step)
            history["val_loss"].append(round(v, 6))
            print(f"step {step}: train loss {loss.item():.4f}, val loss {v:.4f}, {time.perf_counter() - start:.0f} s",
                  flush=True)
    seconds = time.perf_counter() - start
    final = history["val_loss"][-1]
    info = {
        "command": "python scripts/checkpoints/letter_lstm.py",
        "trained_seconds": round(seconds, 1),
        "metrics": {"val_loss": round(final, 4), "val_bits_per_letter": round(final / math.log(2), 4)},
        "description": (f"letter-level LSTM {ARCH} on the pydoc-topics text (a-z and space), {args.steps} steps of "
                        f"{TRAIN['batch_size']} random {seq}-letter windows, Adam with a cosine schedule, gradient "
                        "clipping 1.0; one CPU thread, seed 0. val_loss: mean next-letter cross-entropy (nats) on "
                        "letters 64,000..79,999 in 32-letter windows, the Part 7 project's validation slice."),
        "arch": ARCH,
        "train": {**TRAIN, "steps": args.steps},
        "torch": torch.__version__,
    }
    payload = {"state_dict": {k: v.clone() for k, v in model.state_dict().items()}, "arch": ARCH, "vocab": VOCAB,
               "history": history}
    print("wrote", save_checkpoint("letter_lstm", payload, info))


if __name__ == "__main__":
    main()
