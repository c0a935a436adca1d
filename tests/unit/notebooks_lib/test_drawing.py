"""aiml_notebooks.drawing: the printing and drawing helpers the notebooks share."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from aiml_notebooks import (
    draw_axes,
    draw_boxes,
    draw_chain,
    draw_decision_map,
    draw_jumps,
    draw_loss_bowl,
    draw_neuron,
    fmt,
    written_sum,
)


@pytest.mark.parametrize(
    ("value", "options", "text"),
    [
        (0.1 * 3, {}, "0.3"),
        (-2, {"brackets": True}, "(-2)"),
        (2, {"brackets": True}, "2"),
        (-0.0, {}, "0"),
        (0.1 + 0.2 - 0.3, {}, "0"),  # binary rounding dust
        (0.986614, {"decimals": 4}, "0.9866"),
        (0.8, {"decimals": 4}, "0.8"),
        (-0.00001, {"decimals": 4}, "0"),
        (-5.0, {"decimals": 2, "brackets": True}, "(-5)"),
        (123456789.0, {}, "1.23457e+08"),
        (np.float32(0.5), {}, "0.5"),
        (float("inf"), {}, "inf"),
    ],
)
def test_fmt(value: float, options: dict[str, object], text: str) -> None:
    assert fmt(value, **options) == text


def test_written_sum() -> None:
    assert written_sum([2, -1.5, 3]) == "2 + (-1.5) + 3"
    assert written_sum([-2, 1]) == "-2 + 1"
    assert written_sum([]) == "0"


def test_draw_neuron_returns_weighted_sum_plus_bias() -> None:
    fig, ax = plt.subplots()
    assert draw_neuron(ax, [3, 7, 2], [0.5, 0.3, 0.8], 1.0) == pytest.approx(6.2)
    assert draw_neuron(ax, [1], [2], 0, output=0.25, activation="sigmoid") == 0.25
    texts = [t.get_text() for t in ax.texts]
    assert "output\n0.25" in texts and any("sigmoid" in t for t in texts)
    with pytest.raises(ValueError, match="2 inputs but 1 weights"):
        draw_neuron(ax, [1, 2], [3], 0)
    plt.close(fig)


def test_draw_chain_labels_every_arrow() -> None:
    fig, ax = plt.subplots()
    draw_chain(ax, 5, [("× w", 2.5), ("+ b", 3.5)])
    texts = [t.get_text() for t in ax.texts]
    assert texts[0] == "input\n5" and texts[-1] == "3.5" and "output\n3.5" in texts
    with pytest.raises(ValueError):
        draw_chain(ax, 1, [])
    plt.close(fig)


def test_draw_axes_and_boxes() -> None:
    fig, (a, b) = plt.subplots(1, 2)
    draw_axes(a, -3, 3)
    assert list(a.get_xticks()) == [-3, -2, -1, 0, 1, 2, 3]
    assert draw_boxes(b, [[1, 2, 3], [4, 5, 6]], "table") == (2, 3)
    assert "[1, 2]" in [t.get_text() for t in b.texts]
    assert draw_boxes(b, [2, 5, 8]) == (1, 3)
    with pytest.raises(ValueError):
        draw_boxes(b, np.zeros((2, 2, 2)))
    plt.close(fig)


def test_draw_jumps_returns_positions_and_labels_each_jump() -> None:
    fig, ax = plt.subplots()
    assert draw_jumps(ax, 7, [-2, -2, -2], "red", "7 − 6") == [7, 5, 3, 1]
    assert [t.get_text() for t in ax.texts].count("-2") == 3
    assert draw_jumps(ax, 0, [], "blue", "nothing") == [0]
    plt.close(fig)


def test_draw_decision_map_paints_outputs_and_both_labels() -> None:
    fig, ax = plt.subplots()
    X = np.array([[1.0, 0.2], [1.5, 0.3], [4.5, 1.4], [5.0, 1.6]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    out = draw_decision_map(ax, lambda rows: 1 / (1 + np.exp(-(rows @ np.array([1.0, 1.0]) - 4.0))), X, y,
                            ["small", "big"], grid_points=20, title="map")
    assert out.shape == (20, 20)
    assert 0.0 < out.min() < 0.5 < out.max() < 1.0
    assert [c.get_label() for c in ax.collections if c.get_label().startswith(("0 =", "1 ="))] == ["0 = small", "1 = big"]
    assert ax.get_title() == "map"
    plt.close(fig)


def test_draw_loss_bowl_draws_curve_path_and_limits() -> None:
    fig, ax = plt.subplots()
    draw_loss_bowl(ax, lambda w: (2 * w - 5) ** 2, 2.5, path=[0.1, 1.06, 1.636], half_width=3, points=50)
    assert ax.get_xlim() == (-0.5, 5.5)
    assert len(ax.lines) == 4  # curve, path, start dot, best-weight line
    assert ax.lines[1].get_xydata().shape == (3, 2)
    draw_loss_bowl(ax, lambda w: (2 * w - 5) ** 2, 2.5)  # no path
    plt.close(fig)
