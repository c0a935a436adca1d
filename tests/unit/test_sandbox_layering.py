"""The sandbox is a lower layer: it knows nothing of grading (issue 12's import circle stays gone)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import aiml_course.sandbox, aiml_course.forkserver, aiml_course.machine
from aiml_course.sandbox import make_sandbox, new_job_root
higher = sorted(m for m in sys.modules if m.startswith(("aiml_course.grading", "aiml_course.authoring",
                                                          "aiml_course.hub", "aiml_course.gradebook")))
print(",".join(higher))
"""


def test_sandbox_and_fork_server_import_nothing_of_grading() -> None:
    """Does importing the sandbox, the fork server and the machine helpers (in a fresh interpreter) pull in any
    grading, authoring, hub or gradebook module?"""
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", out


def test_no_import_of_grading_anywhere_in_the_sandbox_layer() -> None:
    """Not even inside a function (the old circle was a lazy `from aiml_course.grading.engine import RUNNER`)."""
    import ast
    from pathlib import Path

    import aiml_course

    package = Path(aiml_course.__file__).parent
    for name in ("sandbox.py", "forkserver.py", "machine.py"):
        tree = ast.parse((package / name).read_text())
        imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m.startswith("aiml_course.") and
                    m not in ("aiml_course.config", "aiml_course.errors", "aiml_course.machine")], (name, imported)
