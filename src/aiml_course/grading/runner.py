"""Runs INSIDE the sandbox: execute a notebook's code cells, then the probes; write plain-JSON records.

Usage: python runner.py JOB.json

The job file names the notebook, the probe sources (test-case functions, no expected values), the per-cell and
per-probe time limits and where to write the records. Nothing here decides a grade: the records are judged
outside the sandbox. This file imports only the standard library and IPython so it runs in a minimal view, and it
must never import anything that reads grading material.
"""

from __future__ import annotations

import io
import json
import math
import os
import signal
import sys
import time
import traceback
from typing import Any

SCHEMA_VERSION = 1
STREAM_LIMIT = 256 * 1024          # characters of stdout/stderr kept per cell for the staff log
MAX_RECORD_BYTES = 8 * 1024 * 1024
PROTECTED_MODULES = ("builtins", "math", "json", "numpy", "operator", "functools", "itertools")


class CellTimeout(BaseException):
    """Raised by the alarm inside a cell or probe that ran past its time limit."""


class BoundedStream(io.TextIOBase):
    """A text stream that keeps the first `limit` characters and counts the rest."""

    def __init__(self, limit: int = STREAM_LIMIT) -> None:
        self.limit, self.parts, self.size, self.dropped = limit, [], 0, 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        room = self.limit - self.size
        if room > 0:
            self.parts.append(s[:room])
            self.size += min(len(s), room)
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def text(self) -> str:
        return "".join(self.parts)


_MISSING = object()


def _on_alarm(signum: int, frame: Any) -> None:
    raise CellTimeout()


def _snapshot(names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return {n: dict(vars(sys.modules[n])) for n in names if n in sys.modules}


def _restore(snapshot: dict[str, dict[str, Any]]) -> None:
    """Undo monkeypatching of common modules before probes run (e.g. builtins.sum, math.exp, np.mean)."""
    for name, saved in snapshot.items():
        module = sys.modules.get(name)
        if module is None:
            continue
        d = vars(module)  # additions stay (lazy submodules such as numpy.random land here); changes go
        for key, value in saved.items():
            if d.get(key, _MISSING) is not value:
                d[key] = value


def _json_float(x: float) -> Any:
    return x if math.isfinite(x) else {"__float__": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def run_cells(shell: Any, cells: list[dict[str, Any]], skip_roles: set[str], cell_seconds: int) -> list[dict]:
    """Execute each code cell; record errors, time and captured output. Errors never stop the run."""
    log = []
    for index, cell in enumerate(cells, 1):
        if cell.get("cell_type") != "code":
            continue
        role = (cell.get("metadata", {}).get("aiml") or {}).get("role")
        if role in skip_roles:
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        out, err = BoundedStream(), BoundedStream()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        entry: dict[str, Any] = {"cell": index}
        start = time.monotonic()
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(cell_seconds)
        try:
            result = shell.run_cell(source, store_history=False, silent=False)
            error = result.error_before_exec or result.error_in_exec
        except CellTimeout:
            error = CellTimeout(f"cell ran longer than {cell_seconds} s")
        finally:
            signal.alarm(0)
            sys.stdout, sys.stderr = saved
        if isinstance(error, CellTimeout):  # IPython reports the alarm as an ordinary error
            error = CellTimeout(f"cell ran longer than {cell_seconds} s")
        entry["seconds"] = round(time.monotonic() - start, 3)
        if error is not None:
            entry["error"] = {"name": type(error).__name__, "message": str(error)[:500]}
        entry["stdout"] = out.text()[-4000:]
        entry["stderr"] = err.text()[-4000:]
        entry["output_dropped"] = out.dropped + err.dropped
        log.append(entry)
        _close_figures()
    return log


def _close_figures() -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        try:
            plt.close("all")
        except Exception:  # a student may have broken pyplot; figures then simply stay open
            pass


def run_probes(user_ns: dict[str, Any], probe_cells: list[dict[str, Any]], probe_seconds: int) -> dict[str, Any]:
    """Define each probe cell's functions in a copy of the student's namespace and call every case."""
    from aiml_notebooks.evidence import encode  # local import: the student's cells have run by now

    records: dict[str, Any] = {}
    for cell in probe_cells:
        ns = dict(user_ns)
        ns["case"] = lambda **spec: (lambda fn: fn)
        signal.alarm(probe_seconds)
        try:
            exec(compile(cell["source"], f"<tests for {', '.join(cell['cases'])}>", "exec"), ns)
        except BaseException as exc:
            for name in cell["cases"]:
                records[name] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            continue
        finally:
            signal.alarm(0)
        for name in cell["cases"]:
            out = BoundedStream()
            saved = sys.stdout, sys.stderr
            sys.stdout = sys.stderr = out
            signal.alarm(probe_seconds)
            try:
                records[name] = {"ok": True, "value": encode(ns[name]())}
            except CellTimeout:
                records[name] = {"ok": False, "error": f"TimeoutError: took longer than {probe_seconds} s"}
            except BaseException as exc:
                records[name] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            finally:
                signal.alarm(0)
                sys.stdout, sys.stderr = saved
    return records


def main(job_path: str) -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(job_path)))  # <root>/in/job.json
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    out_path = os.path.join(root, job["out"])
    if os.path.exists(out_path):  # anything already there is not ours
        os.remove(out_path)
    with open(os.path.join(root, job["notebook"]), encoding="utf-8") as f:
        notebook = json.load(f)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")
    shell.showtraceback = _quiet_traceback(shell.showtraceback)
    try:  # imported before student code so its pristine functions can be restored before the probes
        import numpy  # noqa: F401
    except ImportError:
        pass
    snapshot = _snapshot(PROTECTED_MODULES)
    start = time.monotonic()
    cells_log = run_cells(shell, notebook.get("cells", []), set(job.get("skip_roles", [])), job["cell_seconds"])
    executed = time.monotonic() - start
    _restore(snapshot)
    records = run_probes(shell.user_ns, job["probe_cells"], job["probe_seconds"])
    result = {"schema_version": SCHEMA_VERSION, "cells": cells_log, "records": records,
              "seconds": {"cells": round(executed, 3), "total": round(time.monotonic() - start, 3)}}
    data = json.dumps(result, allow_nan=False, default=_json_default)
    if len(data) > MAX_RECORD_BYTES:
        result = {"schema_version": SCHEMA_VERSION, "cells": cells_log, "records": {},
                  "error": f"records are {len(data)} bytes, over the {MAX_RECORD_BYTES} allowed"}
        data = json.dumps(result, allow_nan=False, default=_json_default)
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
    os.replace(tmp, out_path)
    return 0


def _json_default(obj: Any) -> Any:
    if isinstance(obj, float):
        return _json_float(obj)
    return repr(obj)[:200]


def _quiet_traceback(original: Any) -> Any:
    """Keep tracebacks short in the staff log: the error name and message are recorded separately."""

    def show(*args: Any, **kwargs: Any) -> None:
        try:
            etype, value, _ = sys.exc_info()
            print(f"{getattr(etype, '__name__', 'Error')}: {value}", file=sys.stdout)
        except Exception:
            traceback.print_exc(limit=1)

    return show


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
