"""Train the course's Fashion-MNIST CNN checkpoint (Part 6 major project): `python scripts/checkpoints/fashion_cnn.py`.

A small CNN of the family the Part 6 major project builds (conv -> ReLU -> pool twice, padding 1, dropout, two
Linear layers), trained far longer than a student run: 12 epochs over 55,000 training images with random
left-right flips, Adam with a cosine learning-rate schedule. Deterministic: one torch thread, fixed seeds, a seeded
generator for shuffling and flips; on one CPU thread it takes several minutes. Writes
src/aiml_notebooks/checkpoints/fashion_cnn.pt (state_dict + the architecture as plain data + per-epoch history)
and fashion_cnn.json (command, seconds, metrics measured on the 10,000 test images).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from aiml_notebooks import load_fashion_mnist
from aiml_notebooks.pretrained import save_checkpoint

ARCH = {"channels": [32, 64], "hidden": 128, "dropout": 0.25}  # the architecture, as plain data
TRAIN = {"seed": 0, "epochs": 12, "batch_size": 128, "learning_rate": 0.002, "n_train": 55000, "flip": 0.5}


def build_cnn(channels: list[int], hidden: int, dropout: float) -> nn.Sequential:
    """Same builder as the major project's `build_cnn`: padding 1 keeps 28 -> 28 -> 14 -> 14 -> 7."""
    c1, c2 = channels
    return nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(dropout), nn.Linear(c2 * 7 * 7, hidden), nn.ReLU(),
                         nn.Linear(hidden, 10))


def evaluate(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    net.train()
    return F.cross_entropy(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=TRAIN["epochs"], help="(for a quick try only)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(TRAIN["seed"])
    images, labels = load_fashion_mnist()
    test_images, test_labels = load_fashion_mnist(split="test")
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 255.0
    y = torch.tensor(labels)
    n = TRAIN["n_train"]
    train_x, train_y, val_x, val_y = x[:n], y[:n], x[n:], y[n:]
    test_x = torch.tensor(test_images, dtype=torch.float32).unsqueeze(1) / 255.0
    test_y = torch.tensor(test_labels)

    net = build_cnn(**ARCH)
    optimizer = torch.optim.Adam(net.parameters(), lr=TRAIN["learning_rate"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    generator = torch.Generator().manual_seed(TRAIN["seed"])
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_acc": []}
    start = time.perf_counter()
    for epoch in range(args.epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for first in range(0, n, TRAIN["batch_size"]):
            index = order[first:first + TRAIN["batch_size"]]
            xb = train_x[index]
            flip = torch.rand(len(index), generator=generator) < TRAIN["flip"]
            xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(dims=[3]), xb)  # clothes look the same mirrored
            loss = F.cross_entropy(net(xb), train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
        schedule.step()
        val_loss, val_acc = evaluate(net, val_x, val_y)
        history["train_loss"].append(round(total / n, 6))
        history["val_loss"].append(round(val_loss, 6))
        history["val_acc"].append(round(val_acc, 6))
        print(f"epoch {epoch + 1}: train loss {total / n:.4f}, val loss {val_loss:.4f}, val acc {val_acc:.4f}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    seconds = time.perf_counter() - start
    test_loss, test_acc = evaluate(net, test_x, test_y)
    print(f"test loss {test_loss:.4f}, test accuracy {test_acc:.4f}")
    info = {
        "command": "python scripts/checkpoints/fashion_cnn.py",
        "trained_seconds": round(seconds, 1),
        "metrics": {"test_accuracy": round(test_acc, 4), "test_loss": round(test_loss, 4),
                    "val_accuracy": round(history["val_acc"][-1], 4)},
        "description": (f"CNN {ARCH} on Fashion-MNIST: {args.epochs} epochs over {n} training images with random "
                        "left-right flips, Adam with a cosine schedule; one CPU thread, seed 0. Metrics on the "
                        "10,000 test images."),
        "arch": ARCH,
        "train": {**TRAIN, "epochs": args.epochs},
        "torch": torch.__version__,
    }
    payload = {"state_dict": {k: v.clone() for k, v in net.state_dict().items()}, "arch": ARCH,
               "history": history}
    print("wrote", save_checkpoint("fashion_cnn", payload, info))


if __name__ == "__main__":
    main()
