"""Printing and drawing helpers shared by the course notebooks (Parts 1-4).

Notebooks import these instead of carrying their own copies ("drawing code: you may skip this"):

- `fmt(value)`: short, neat text for a number, for printing worked examples step by step.
- `written_sum(terms)`: "a + (-b) + c" with negative terms in brackets.
- `draw_chain(ax, x, steps)`: input -> one box per step -> output (a function machine, a one-input neuron).
- `draw_neuron(ax, inputs, weights, bias)`: inputs, weighted arrows and the neuron circle.
- `draw_axes(ax, lo, hi)`: two number lines crossing at (0, 0) on square grid paper.
- `draw_boxes(ax, values)`: a row or table of numbers as boxes with their indices.
- `draw_jumps(ax, start, jumps, colour, title)`: a number line with curved arrows, one per jump (1.2's operations).
- `draw_decision_map(ax, predict, X, y, names)`: a two-feature classifier's colour map, 0.5 line and points.
- `draw_loss_bowl(ax, loss, best, path)`: a one-weight loss curve around its lowest point, with a path of weights.

Every `draw_*` function takes a matplotlib Axes, draws on it and returns nothing that a test needs except where
stated; matplotlib is imported inside the functions, so `fmt` costs nothing to import.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

POSITIVE = "#2A9D8F"  # arrows of positive weights
NEGATIVE = "#E76F51"  # arrows of negative weights
INPUT_COLOUR = "#AED6F1"
STEP_COLOUR = "#F9E79F"
OUTPUT_COLOUR = "#A9DFBF"


def fmt(value: Any, brackets: bool = False, digits: int = 6, decimals: int | None = None) -> str:
    """Short, neat text for a number: at most `digits` significant digits, no trailing zeros.

    - `brackets=True` writes a negative number as `(-2)`, for use inside a written sum (`5 × (-2)`).
    - `decimals=4` rounds to 4 places after the point instead (0.986614 -> "0.9866").
    - Binary rounding dust (|value| < 1e-12) and minus zero are shown as 0.
    Accepts Python, numpy and PyTorch numbers (anything `float()` takes).
    """
    number = float(value) + 0.0  # + 0.0 turns -0.0 into 0.0
    if math.isfinite(number) and abs(number) < 1e-12:
        number = 0.0
    if decimals is not None:
        text = f"{number:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text in ("-0", ""):
            text = "0"
    else:
        text = f"{number:.{digits}g}"
    return f"({text})" if brackets and text.startswith("-") else text


def written_sum(terms: Sequence[Any], **fmt_options: Any) -> str:
    """The terms written as a sum, negative ones in brackets: [2, -1.5, 3] -> "2 + (-1.5) + 3"."""
    if not terms:
        return "0"
    parts = [fmt(terms[0], **fmt_options)]
    parts += [fmt(t, brackets=True, **fmt_options) for t in terms[1:]]
    return " + ".join(parts)


def draw_chain(
    ax: Any,
    x: float,
    steps: Sequence[tuple[str, float]],
    input_label: str = "input",
    output_label: str = "output",
) -> None:
    """Draw input -> one yellow box per step -> output, with the number carried by each arrow above it.

    `steps` is a list of (label of the step, number after that step), e.g.
    `[("× weight\\nw = 0.5", 2.5), ("+ bias\\nb = 1", 3.5)]`.
    """
    if not steps:
        raise ValueError("draw_chain needs at least one step")
    boxes = [(f"{input_label}\n{fmt(x)}", INPUT_COLOUR)]
    boxes += [(label, STEP_COLOUR) for label, _ in steps]
    boxes += [(f"{output_label}\n{fmt(steps[-1][1])}", OUTPUT_COLOUR)]
    travelling = [x] + [value for _, value in steps]  # the number carried by each arrow
    spots = [0.08 + i * 0.84 / (len(boxes) - 1) for i in range(len(boxes))]
    for spot, (label, colour) in zip(spots, boxes, strict=True):
        ax.text(
            spot,
            0.45,
            label,
            ha="center",
            va="center",
            fontsize=11,
            bbox={"boxstyle": "round,pad=0.5", "facecolor": colour, "edgecolor": "grey"},
        )
    for left, right, value in zip(spots[:-1], spots[1:], travelling, strict=True):
        ax.annotate(
            "",
            xy=(right - 0.07, 0.45),
            xytext=(left + 0.07, 0.45),
            arrowprops={"arrowstyle": "->", "lw": 2, "color": "grey"},
        )
        ax.text((left + right) / 2, 0.78, fmt(value), ha="center", fontsize=10, color="dimgrey")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")


def draw_neuron(
    ax: Any,
    inputs: Sequence[float],
    weights: Sequence[float],
    bias: float,
    output: float | None = None,
    activation: str | None = None,
    title: str | None = None,
) -> float:
    """Draw inputs (circles), weighted arrows (green positive, red negative, thicker = bigger) and the neuron.

    The output shown is `output` when given, else the weighted sum plus the bias (no activation). `activation`
    names the squashing step written inside the neuron ("sigmoid", "relu"). Returns the output shown.
    """
    from matplotlib.patches import Circle

    if len(inputs) != len(weights):
        raise ValueError(f"{len(inputs)} inputs but {len(weights)} weights")
    if output is None:
        output = sum(float(x) * float(w) for x, w in zip(inputs, weights, strict=True)) + float(bias)
    n = len(inputs)
    ys = [(n - 1) / 2 - i for i in range(n)]
    biggest = max((abs(float(w)) for w in weights), default=0.0) or 1.0
    cx, r = 3.2, 0.6
    for i, (xi, wi, y) in enumerate(zip(inputs, weights, ys, strict=True)):
        ax.add_patch(Circle((0, y), 0.32, facecolor="#FFE29A", edgecolor="black"))
        ax.text(0, y, fmt(xi), ha="center", va="center", fontsize=11)
        ax.text(-0.55, y, f"x{i + 1}", ha="right", va="center", fontsize=10)
        colour = POSITIVE if float(wi) >= 0 else NEGATIVE
        ax.annotate(
            "",
            xy=(cx - r, 0),
            xytext=(0.32, y),
            arrowprops={"arrowstyle": "->", "color": colour, "lw": 1 + 4 * abs(float(wi)) / biggest},
        )
        t = 0.3  # the label sits 30 % of the way along the arrow, where the arrows are still apart
        ax.text(
            0.32 + t * (cx - r - 0.32),
            y * (1 - t) + 0.12,
            f"× {fmt(wi)}",
            ha="center",
            va="bottom",
            color=colour,
            fontsize=11,
        )
    ax.add_patch(Circle((cx, 0), r, facecolor="#A8DADC", edgecolor="black"))
    inside = "add up\n+ bias" if activation is None else f"add up\n+ bias\n→ {activation}"
    ax.text(cx, 0, inside, ha="center", va="center", fontsize=9 if activation else 10)
    ax.text(cx, -r - 0.25, f"bias = {fmt(bias)}", ha="center", va="top", fontsize=10)
    ax.annotate("", xy=(cx + 1.7, 0), xytext=(cx + r, 0), arrowprops={"arrowstyle": "->", "lw": 2})
    ax.text(cx + 1.8, 0, f"output\n{fmt(output)}", ha="left", va="center", fontsize=11, fontweight="bold")
    ax.set_xlim(-1.1, cx + 3.0)
    ax.set_ylim(min(ys, default=0) - 1.0, max(ys, default=0) + 0.7)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or "A neuron with several inputs")
    return float(output)


def draw_axes(ax: Any, lo: float, hi: float) -> None:
    """Two number lines crossing at (0, 0), one tick per whole number, on square grid paper."""
    ax.axhline(0, color="black", lw=1.2)
    ax.axvline(0, color="black", lw=1.2)
    ax.set_xlim(lo - 0.5, hi + 0.5)
    ax.set_ylim(lo - 0.5, hi + 0.5)
    ax.set_xticks(range(int(lo), int(hi) + 1))
    ax.set_yticks(range(int(lo), int(hi) + 1))
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.set_xlabel("x (across)")
    ax.set_ylabel("y (up)")


def draw_boxes(ax: Any, values: Any, title: str = "") -> tuple[int, int]:
    """A row (or table) of numbers as boxes, each box's index written above it in grey. Returns (rows, cols)."""
    import numpy as np

    table = np.atleast_2d(np.asarray(values))
    if table.ndim != 2:
        raise ValueError(f"draw_boxes draws a row or a table, not an array of shape {table.shape}")
    rows, cols = table.shape
    from matplotlib.patches import Rectangle

    for r in range(rows):
        for c in range(cols):
            y = -1.4 * r  # room between rows for the index labels
            ax.add_patch(Rectangle((c, y), 0.9, 0.9, facecolor=INPUT_COLOUR, edgecolor="grey"))
            ax.text(c + 0.45, y + 0.45, str(table[r, c]), ha="center", va="center", fontsize=13)
            index = f"[{c}]" if rows == 1 else f"[{r}, {c}]"
            ax.text(c + 0.45, y + 0.97, index, ha="center", va="bottom", fontsize=8, color="dimgrey")
    ax.set_xlim(-0.2, cols + 0.1)
    ax.set_ylim(-1.4 * (rows - 1) - 0.2, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return rows, cols


def draw_jumps(ax: Any, start: float, jumps: Sequence[float], colour: str, title: str) -> list[float]:
    """A number line with one curved arrow per jump, from `start` (hollow dot) to the end (filled dot).

    A negative jump goes left. Returns the positions visited, start first.
    """
    positions = [start]
    for jump in jumps:
        positions.append(positions[-1] + jump)
    lo, hi = math.floor(min([*positions, 0])) - 1, math.ceil(max([*positions, 0])) + 1
    ax.axhline(0, color="grey", lw=1, zorder=1)
    for tick in range(lo, hi + 1):
        ax.plot([tick, tick], [-0.08, 0.08], color="grey", lw=1)
        ax.text(tick, -0.25, str(tick), ha="center", va="top", fontsize=8)
    for left, right in itertools.pairwise(positions):
        xs = [left + (right - left) * i / 20 for i in range(21)]
        ys = [0.5 * 4 * (i / 20) * (1 - i / 20) for i in range(21)]  # a low arch, 0.5 high
        ax.plot(xs, ys, color=colour, lw=2)
        ax.annotate("", xy=(xs[-1], ys[-1]), xytext=(xs[-3], ys[-3]), arrowprops=dict(arrowstyle="-|>", color=colour, lw=2))
        ax.text((left + right) / 2, 0.58, fmt(right - left), ha="center", fontsize=8, color=colour)
    ax.plot(positions[0], 0, "o", markerfacecolor="white", markeredgecolor=colour, markersize=8, zorder=3)
    ax.plot(positions[-1], 0, "o", color=colour, markersize=8, zorder=3)
    ax.set_xlim(lo - 0.5, hi + 0.5)
    ax.set_ylim(-0.6, 0.9)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return positions


def draw_decision_map(
    ax: Any,
    predict: Any,
    X: Any,
    y: Any,
    names: Sequence[str],
    axis_names: Sequence[str] = ("x1", "x2"),
    title: str = "",
    padding: float = 0.7,
    grid_points: int = 150,
) -> Any:
    """A two-feature classifier's map: colours for its output, the black 0.5 line, and the points by label.

    `predict(rows)` takes an (N, 2) array of spots and returns N outputs between 0 and 1 (blue near 0, red near 1).
    `X` is (N, 2), `y` holds labels 0/1 and `names` the two label names. The map starts at 0 at the lowest on both
    axes (lengths cannot be negative) and reaches `padding` beyond the points. Returns the grid of outputs.
    """
    import numpy as np

    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    g1 = np.linspace(max(0.0, X[:, 0].min() - padding), X[:, 0].max() + padding, grid_points)
    g2 = np.linspace(max(0.0, X[:, 1].min() - padding), X[:, 1].max() + padding, grid_points)
    G1, G2 = np.meshgrid(g1, g2)
    out = np.asarray(predict(np.column_stack([G1.ravel(), G2.ravel()])), dtype=float).reshape(G1.shape)
    ax.contourf(G1, G2, out, levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.6)
    if out.min() < 0.5 < out.max():  # the boundary only where it crosses the map
        ax.contour(G1, G2, out, levels=[0.5], colors="k", linewidths=2)
    for label, colour in ((0, "tab:blue"), (1, "tab:orange")):
        pts = X[y == label]
        ax.scatter(pts[:, 0], pts[:, 1], c=colour, edgecolor="k", s=30, label=f"{label} = {names[label]}")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    if title:
        ax.set_title(title, fontsize=10)
    return out


def draw_loss_bowl(ax: Any, loss: Any, best: float, path: Sequence[float] = (), half_width: float = 3.0,
                   points: int = 201) -> None:
    """A one-weight loss curve around its lowest point `best`, with an optional path of weights as joined dots.

    `loss(ws)` takes a numpy array of weights and returns their losses. The path starts with a red dot; a dotted
    line marks `best`. The picture shows `half_width` either side of `best`.
    """
    import numpy as np

    ws = np.linspace(best - half_width, best + half_width, points)
    ax.plot(ws, loss(ws), color="#AED6F1", lw=3, zorder=1)
    if len(path):
        path = np.asarray(path, dtype=float)
        ax.plot(path, loss(path), "-o", color="#E67E22", ms=4, lw=1, zorder=2)
        ax.plot(path[0], loss(path[:1])[0], "o", color="red", ms=8, zorder=3)
    top = float(np.max(loss(np.array([best - half_width, best + half_width]))))
    ax.axvline(best, color="grey", ls=":", lw=1)
    ax.set_xlim(best - half_width, best + half_width)
    ax.set_ylim(-0.05 * top, 1.1 * top)
    ax.set_xlabel("weight w")
    ax.set_ylabel("loss")
