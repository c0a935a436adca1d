"""Where is this code running: a live Jupyter kernel, or a plain process?"""

from __future__ import annotations

import os
import sys

__all__ = ["in_live_notebook"]


def in_live_notebook() -> bool:
    """Return True only inside a running Jupyter kernel (a ZMQ shell with a kernel attached).

    AIML_HEADLESS=1 forces False: e.g. `AIML_HEADLESS=1 jupyter nbconvert --execute` saves what demos print.
    A cell run by a batch client (nbconvert --execute, nbclient, papermill: no person, no widget frontend) is not
    live either, with or without AIML_HEADLESS.
    """
    if os.environ.get("AIML_HEADLESS", "") not in ("", "0"):
        return False
    # Look IPython up in sys.modules instead of importing it: if nothing imported it, no kernel runs.
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    if shell is None:
        return False
    # Subclasses count too (Colab's shell derives from ZMQInteractiveShell); terminal IPython doesn't.
    is_zmq_shell = any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)
    return is_zmq_shell and getattr(shell, "kernel", None) is not None and not _run_by_a_batch_client(shell)


def _run_by_a_batch_client(shell: object) -> bool:
    """Is the cell running now sent by a client with no person at it (nbclient, nbconvert --execute, papermill)?

    Those clients send execute requests with allow_stdin=False (they cannot answer input()); JupyterLab, Notebook,
    VS Code and Colab send allow_stdin=True. A kernel with no frontend attached must never wait on widgets: with
    ipywidgets' comm traffic, `nbconvert --execute` stalled for its whole cell timeout at demos on a loaded machine.
    """
    get_parent = getattr(shell, "get_parent", None)
    try:
        parent = get_parent() if callable(get_parent) else getattr(shell, "parent_header", None)
    except Exception:  # an IPython without parent tracking: assume a person is there
        return False
    if not isinstance(parent, dict):
        return False
    header, content = parent.get("header") or {}, parent.get("content") or {}
    return header.get("msg_type") == "execute_request" and content.get("allow_stdin") is False
