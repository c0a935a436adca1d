"""Where is this code running: a live Jupyter kernel, or a plain process?"""

from __future__ import annotations

import os
import sys

__all__ = ["in_live_notebook"]


def in_live_notebook() -> bool:
    """Return True only inside a running Jupyter kernel (a ZMQ shell with a kernel attached).

    AIML_HEADLESS=1 forces False: e.g. `AIML_HEADLESS=1 jupyter nbconvert --execute` saves what demos print.
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
    return is_zmq_shell and getattr(shell, "kernel", None) is not None
