"""aiml_notebooks: the small library every course notebook imports.

Names are loaded lazily, so `from aiml_notebooks import set_seed` does not pay for importing torch or Lightning
until a function that needs them runs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # reproducibility and hardware
    "set_seed": "reproducibility",
    "get_device": "reproducibility",
    # text
    "CharacterTokenizer": "text",
    "UnknownCharacterError": "text",
    "create_dataset": "text",
    # training helpers
    "plot_training_curves": "plotting",
    "NotebookFigure": "plotting",
    "LiveLossPlot": "callbacks",
    "in_live_notebook": "environment",
    # interactive demos
    "demo": "widgets",
    "slider": "widgets",
    "choice": "widgets",
    "toggle": "widgets",
    # printing and drawing (shared by the notebooks of Parts 1-4)
    "fmt": "drawing",
    "written_sum": "drawing",
    "draw_chain": "drawing",
    "draw_neuron": "drawing",
    "draw_axes": "drawing",
    "draw_boxes": "drawing",
    "draw_jumps": "drawing",
    "draw_decision_map": "drawing",
    "draw_loss_bowl": "drawing",
    # exercises
    "case": "checks",
    "check": "checks",
    "show_quiz": "quiz",
    # data
    "load_digits": "datasets",
    "load_mnist_5k": "datasets",
    "load_mnist": "datasets",
    "load_fashion_mnist": "datasets",
    "load_cifar10": "datasets",
    "load_text": "datasets",
    "read_idx": "datasets",
    # numeric checks
    "rel_error": "numeric",
    "numerical_gradient": "numeric",
    "gradient_check": "numeric",
    "accuracy": "numeric",
    "is_decreasing": "numeric",
    "data_dir": "datasets",
    "DatasetUnavailable": "datasets",
    "CIFAR10_CLASSES": "datasets",
    "FASHION_MNIST_CLASSES": "datasets",
    # checkpoints the course trained for longer than a student run allows
    "load_checkpoint": "pretrained",
    "checkpoint_info": "pretrained",
    # the course's tiny GPT (Part 9) and its trained checkpoint, which Parts 10-11 start from
    "TinyGPT": "gpt",
    "load_pretrained_gpt": "gpt",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aiml_notebooks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"aiml_notebooks.{module}"), name)
    globals()[name] = value  # cache: the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return __all__
