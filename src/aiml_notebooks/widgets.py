"""Headless-safe interactive demos: ipywidgets sliders in a live notebook, one default call everywhere else.

A course notebook must run end to end in CI and in the grader, where no widget frontend exists. `demo(fn, ...)`
builds real ipywidgets controls when a Jupyter kernel is attached, and otherwise calls `fn` once with the
default values, so the demo still prints and plots something.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiml_notebooks.environment import in_live_notebook

__all__ = ["Choice", "Slider", "Toggle", "choice", "demo", "slider", "toggle"]


@dataclass(frozen=True)
class Slider:
    """A number between `lo` and `hi` (integers give an integer slider)."""

    lo: float
    hi: float
    step: float | None = None
    value: float | None = None

    def default(self) -> float:
        return self.value if self.value is not None else self.lo

    def widget(self, name: str) -> Any:
        import ipywidgets as w

        is_int = all(isinstance(v, int) for v in (self.lo, self.hi, self.step or 1, self.default()))
        cls = w.IntSlider if is_int else w.FloatSlider
        step = self.step if self.step is not None else (1 if is_int else (self.hi - self.lo) / 100)
        return cls(min=self.lo, max=self.hi, step=step, value=self.default(), description=name,
                   continuous_update=False, style={"description_width": "initial"})


@dataclass(frozen=True)
class Choice:
    """One of a few options (a dropdown)."""

    options: tuple[Any, ...]
    value: Any = None

    def default(self) -> Any:
        return self.value if self.value is not None else self.options[0]

    def widget(self, name: str) -> Any:
        import ipywidgets as w

        return w.Dropdown(options=list(self.options), value=self.default(), description=name)


@dataclass(frozen=True)
class Toggle:
    """On or off (a checkbox)."""

    value: bool = False

    def default(self) -> bool:
        return self.value

    def widget(self, name: str) -> Any:
        import ipywidgets as w

        return w.Checkbox(value=self.value, description=name)


Control = Slider | Choice | Toggle


def slider(lo: float, hi: float, step: float | None = None, value: float | None = None) -> Slider:
    """A slider from `lo` to `hi`; `value` is where it starts (and what a headless run uses)."""
    if not lo < hi:
        raise ValueError(f"slider needs lo < hi, got lo={lo}, hi={hi}")
    if value is not None and not lo <= value <= hi:
        raise ValueError(f"slider start value {value} is outside [{lo}, {hi}]")
    return Slider(lo, hi, step, value)


def choice(options: Sequence[Any], value: Any = None) -> Choice:
    """A dropdown of `options`; `value` is the starting option."""
    if not options:
        raise ValueError("choice needs at least one option")
    if value is not None and value not in options:
        raise ValueError(f"choice start value {value!r} is not one of {list(options)!r}")
    return Choice(tuple(options), value)


def toggle(value: bool = False) -> Toggle:
    """A checkbox, starting at `value`."""
    return Toggle(bool(value))


def demo(fn: Callable[..., Any], /, **controls: Control | Any) -> None:
    """Run `fn` interactively with one control per keyword; headless, call it once with the defaults.

    Plain values (not made with slider/choice/toggle) are passed through unchanged. Returns None so the
    notebook echoes nothing after the demo.
    """
    for name, control in controls.items():
        if isinstance(control, (list, tuple)):
            raise TypeError(f"control {name!r}: use choice([...]) for a list of options")
    defaults = {n: c.default() if isinstance(c, Control) else c for n, c in controls.items()}
    if not in_live_notebook():
        fn(**defaults)
        return
    import ipywidgets as w

    kwargs = {n: c.widget(n) if isinstance(c, Control) else w.fixed(c) for n, c in controls.items()}
    w.interact(fn, **kwargs)
