"""Runs INSIDE the sandbox: execute a notebook's code cells, then the probes; write plain-JSON records.

Usage: python runner.py JOB.json  (with the hidden probes on stdin when the job says "late")

The job file names the notebook, the PUBLIC probe sources (test-case functions, no expected values), the per-cell
and per-probe time limits and where to write the records. The hidden probes and the grading run's seed are never in
the job folder: the grader hands them over on stdin (a memory-only file, or a pipe on docker), which this process
moves out of fd 0 before any student code exists and reads only after the student's cells and public probes have
reported (see `main`). Nothing here decides a grade: the records are judged outside the sandbox. This file imports only the standard library, IPython and the student library's encoder so it
runs in a minimal view, and it must never import anything that reads grading material.

Two processes. The *recorder* (this process) never runs student code: before any student code exists it opens a
pipe, makes itself non-dumpable (so no process of the same uid can read its memory or its file descriptors) and
forks the *student process*, which runs the cells and then the probes and sends one line of JSON per event (the
cells' log, each case's encoded value, the end) through the pipe. The recorder keeps the first complete message
of each kind and stops listening at the first end message; in its own PID namespace it then kills every other
process of the sandbox user (lingering threads, atexit handlers and daemons die with them) and only then writes
the records file, once. Patching `os.replace`, faking `aiml_notebooks.evidence` in `sys.modules`, an `atexit`
hook, a `__del__` or a thread that rewrites the file later all act after the recorder stopped listening.
Student code can still choose the values its own probes report — as it can by returning them — which is why
every verdict is computed outside the sandbox from raw values.

Hidden material arrives late. The recorder forks the student process before it reads a byte of stdin, so the
student process never holds the hidden probes in memory and has no descriptor that reaches them (the recorder is not
dumpable: /proc/<recorder>/fd is closed to it). Once the student process reports that its cells and public probes
are done ("public_done"), the recorder freezes the cells' log and the public records (nothing sent later counts for
them) and only then writes the hidden probes and the seed into a pipe the student process reads; from then on it
accepts records for hidden cases only, whose feedback outside says passed or failed and nothing else, and its exit
status no longer mirrors the student process's (which student code could choose).
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import signal
import stat
import sys
import time
import traceback
import types
from typing import Any

# imported before any student code runs: a fake module put into sys.modules later changes nothing here
from aiml_notebooks.evidence import encode as _ENCODE

SCHEMA_VERSION = 1
STREAM_LIMIT = 256 * 1024          # characters of stdout/stderr kept per cell for the staff log
MAX_RECORD_BYTES = 8 * 1024 * 1024
MAX_ERROR_CHARS = 300            # of an exception message kept in a record
MAX_MESSAGE_DEPTH = 64           # a message nested deeper is not one the student process's runner sent
MAX_LATE_BYTES = 16 * 1024 * 1024  # the hidden probes and the seed, as the grader sends them
SEED_NAME = "GRADING_SEED"       # the name under which hidden probes find this grading run's seed
PR_SET_DUMPABLE = 4
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


def _snapshot(names: tuple[str, ...]) -> dict[str, tuple[types.ModuleType, dict[str, Any]]]:
    return {n: (sys.modules[n], dict(vars(sys.modules[n]))) for n in names if n in sys.modules}


def _restore(snapshot: dict[str, tuple[types.ModuleType, dict[str, Any]]]) -> None:
    """Undo monkeypatching of common modules before probes run (e.g. builtins.sum, math.exp, np.mean).

    The module objects themselves go back into sys.modules and get their own class back (a module whose
    `__class__` was replaced could answer every attribute lookup itself).
    """
    for name, (module, saved) in snapshot.items():
        sys.modules[name] = module
        try:
            if type(module) is not types.ModuleType:
                module.__class__ = types.ModuleType
        except TypeError:
            pass
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
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata")
        aiml = meta.get("aiml") if isinstance(meta, dict) else None
        role = aiml.get("role") if isinstance(aiml, dict) else None
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
            entry["error"] = {"name": _type_name(error), "message": _message(error)}
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


def run_probes(user_ns: dict[str, Any], probe_cells: list[dict[str, Any]], probe_seconds: int,
               send: Any = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Define each probe cell's functions in a copy of the student's namespace and call every case.

    Each case's record is reduced to plain data (`encode`) while still in this process and, if `send` is given,
    sent at once; the records are also returned. `extra` names are added to each probe cell's namespace (the
    hidden probes' GRADING_SEED).
    """
    records: dict[str, Any] = {}
    builtins_module = sys.modules["builtins"]  # restored by now: probes never inherit a rebound __builtins__

    def record(name: str, value: dict[str, Any]) -> None:
        records[name] = value
        if send is not None:
            send({"kind": "record", "case": name, "record": value})

    for cell in probe_cells:
        ns = dict(user_ns)
        ns["__builtins__"] = builtins_module
        ns["case"] = lambda **spec: (lambda fn: fn)
        ns.update(extra or {})
        signal.alarm(probe_seconds)
        try:
            exec(compile(cell["source"], f"<tests for {', '.join(cell['cases'])}>", "exec"), ns)
        except BaseException as exc:
            signal.alarm(0)
            for name in cell["cases"]:
                record(name, {"ok": False, "error": f"{_type_name(exc)}: {_message(exc)}"})
            continue
        finally:
            signal.alarm(0)
        for name in cell["cases"]:
            out = BoundedStream()
            saved = sys.stdout, sys.stderr
            sys.stdout = sys.stderr = out
            signal.alarm(probe_seconds)
            try:
                result: dict[str, Any] = {"ok": True, "value": _ENCODE(ns[name]())}
            except CellTimeout:
                result = {"ok": False, "error": f"TimeoutError: took longer than {probe_seconds} s"}
            except BaseException as exc:
                result = {"ok": False, "error": f"{_type_name(exc)}: {_message(exc)}"}
            finally:
                signal.alarm(0)
                sys.stdout, sys.stderr = saved
            record(name, result)
    return records


def _type_name(exc: BaseException) -> str:
    name = getattr(type(exc), "__name__", "Error")
    return name[:80] if type(name) is str else "Error"


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:  # a student exception whose __str__ raises
        return ""
    return text[:MAX_ERROR_CHARS] if type(text) is str else ""


class Channel:
    """The student process's end of the pipe: one line of JSON per message, written with retries."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.write = os.write
        self.dumps = json.dumps

    def send(self, message: dict[str, Any]) -> None:
        data = (self.dumps(message, allow_nan=False, default=_json_default) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[self.write(self.fd, view):]


def student_side(job: dict[str, Any], notebook: dict[str, Any], channel: Channel, late_fd: int | None = None) -> int:
    """In the forked student process: run the cells, then the public probes, reporting each through `channel`;
    then (if the job has hidden probes) wait for them on `late_fd`, which the recorder fills only after it has
    taken the cells' log and the public records, and run them."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")
    shell.showtraceback = _quiet_traceback(shell.showtraceback)
    snapshot = _snapshot(PROTECTED_MODULES)
    start = time.monotonic()
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    cells_log = run_cells(shell, cells if isinstance(cells, list) else [], set(job.get("skip_roles", [])),
                          job["cell_seconds"])
    executed = time.monotonic() - start
    channel.send({"kind": "cells", "cells": cells_log, "seconds": round(executed, 3)})
    _restore(snapshot)
    run_probes(shell.user_ns, job["probe_cells"], job["probe_seconds"], channel.send)
    channel.send({"kind": "public_done"})
    if job.get("late") and late_fd is not None:
        try:
            data = _read_to_end(late_fd)
            _restore(snapshot)  # student code ran again inside the public probes
            late = json.loads(data.decode("utf-8"))
            extra = {SEED_NAME: int(late["seed"])}
            cells = late["probe_cells"]
        except Exception:  # the material did not arrive whole (student code read or closed the pipe): no cases
            cells, extra = [], {}
        run_probes(shell.user_ns, cells, job["probe_seconds"], channel.send, extra)
    channel.send({"kind": "end", "seconds": round(time.monotonic() - start, 3)})
    return 0


def _read_to_end(fd: int, limit: int = MAX_LATE_BYTES) -> bytes:
    parts, size = [], 0
    while size <= limit:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


class Recorder:
    """The recorder's side: read messages until the first end, keeping the first complete one of each kind.

    With `public` (the public cases' names) only those cases' records count before the hidden phase; with
    `late_fd` and `down_fd`, the child's first "public_done" (after its cells' log) starts the hidden phase: the
    hidden material is read from `late_fd` now — never earlier — and written into `down_fd`, and from then on
    only the hidden cases' records count.
    """

    def __init__(self, fd: int, child: int, *, public: set[str] | None = None, late_fd: int | None = None,
                 down_fd: int | None = None) -> None:
        self.fd, self.child = fd, child
        self.public, self.late_fd, self.down_fd = public, late_fd, down_fd
        self.hidden: set[str] = set()
        self.late_phase = False
        self.pending = memoryview(b"")
        self.buffer = b""
        self.total = 0
        self.cells: list[Any] | None = None
        self.records: dict[str, Any] = {}
        self.ended = False
        self.too_large = False
        self.status: int | None = None   # the student process's wait status, once it has ended

    def listen(self) -> None:
        while not self.ended and not self.too_large:
            writing = [self.down_fd] if self.down_fd is not None and self.late_phase else []
            ready, can_write, _ = select.select([self.fd], writing, [], 0.2)
            if can_write:
                self._send_some()
            if ready:
                if not self._read_some():
                    break  # every writer closed the pipe
            elif self._child_gone():
                while not self.ended and not self.too_large and self._readable() and self._read_some():
                    pass  # what the student process wrote before it ended
                break
        deadline = time.monotonic() + 2
        while not self.ended and not self._child_gone() and time.monotonic() < deadline:
            time.sleep(0.01)  # the pipe closed as the process ended: wait briefly for how it ended

    def _start_late_phase(self) -> None:
        """The cells' log and the public records are final: read the hidden material and start sending it."""
        self.late_phase = True
        if self.late_fd is None or self.down_fd is None:
            return
        data = _pread_all(self.late_fd, MAX_LATE_BYTES)
        try:
            late = json.loads(data.decode("utf-8"))
            self.hidden = {c for cell in late["probe_cells"] for c in cell["cases"] if isinstance(c, str)}
        except Exception:
            data = b""
        self.pending = memoryview(data)
        os.set_blocking(self.down_fd, False)
        self._send_some()

    def _send_some(self) -> None:
        assert self.down_fd is not None
        try:
            while self.pending:
                self.pending = self.pending[os.write(self.down_fd, self.pending):]
        except BlockingIOError:
            return  # the pipe is full: the rest when the student process has read some
        except OSError:
            pass  # the student process closed its end: it gets no hidden probes
        os.close(self.down_fd)  # all sent: the student process reads to the end
        self.down_fd = None

    def _readable(self) -> bool:
        return bool(select.select([self.fd], [], [], 0)[0])

    def _child_gone(self) -> bool:
        if self.status is None:
            try:
                pid, status = os.waitpid(self.child, os.WNOHANG)
            except ChildProcessError:
                return True
            if pid == 0:
                return False
            self.status = status
        return True

    def _read_some(self) -> bool:
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return False
        self.total += len(chunk)
        if self.total > MAX_RECORD_BYTES:
            self.too_large = True
            return False
        self.buffer += chunk
        while b"\n" in self.buffer and not self.ended:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self._take(line)
        return True

    def _take(self, line: bytes) -> None:
        try:
            message = json.loads(line.decode("utf-8"), parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            return  # not a complete, strict message: ignored
        if not isinstance(message, dict) or _depth(message) > MAX_MESSAGE_DEPTH:
            return
        kind = message.get("kind")
        if kind == "cells" and self.cells is None and not self.late_phase and isinstance(message.get("cells"), list):
            self.cells = message["cells"]
        elif kind == "record" and isinstance(message.get("case"), str) and isinstance(message.get("record"), dict):
            case = message["case"]
            allowed = case in self.hidden if self.late_phase else (self.public is None or case in self.public)
            if allowed:
                self.records.setdefault(case, message["record"])
        elif kind == "public_done" and self.cells is not None and not self.late_phase:
            self._start_late_phase()
        elif kind == "end" and self.cells is not None:
            self.ended = True

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "cells": self.cells or [], "records": self.records}
        if self.too_large:
            out.update(records={}, error="records_too_large")
        elif not self.ended:
            out["error"] = "stopped_during_tests"
        return out


def _pread_all(fd: int, limit: int) -> bytes:
    parts, size = [], 0
    while size <= limit:
        chunk = os.pread(fd, 1 << 16, size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts) if size <= limit else b""


def _take_late_channel() -> int:
    """Before any student code exists: move what the grader sent on stdin (the hidden probes and the seed) out of
    fd 0 into a descriptor only the recorder keeps, and give fd 0 /dev/null.

    A memory-only file (the fork server, bwrap) is kept as it is. A pipe (docker) is drained now — into a memory
    file with splice(), so the bytes never pass through this process's memory, which the student process is about
    to inherit — so that no other holder of the pipe (the container's init) can be read for it later.
    """
    info = os.fstat(0)
    if stat.S_ISREG(info.st_mode):
        fd = os.dup(0)
    else:
        fd = os.memfd_create("late")
        size = 0
        while size <= MAX_LATE_BYTES:
            try:
                moved = os.splice(0, fd, 1 << 20)
            except OSError:  # not a pipe: copied through memory (never the case with the backends we have)
                chunk = os.read(0, 1 << 20)
                moved = os.write(fd, chunk) if chunk else 0
            if not moved:
                break
            size += moved
    empty, writer = os.pipe()  # fd 0 at its end (not /dev/null, which a sandbox may not let us open)
    os.close(writer)
    os.dup2(empty, 0)
    os.close(empty)
    return fd


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")


def _depth(value: Any) -> int:
    """How deeply lists and dicts nest in a parsed message (iteratively)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_MESSAGE_DEPTH:
            break
    return deepest


def _not_dumpable() -> None:
    """No other process of this uid may read this one's memory, file descriptors or environment."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _end_everything_else(child: int, isolated: bool) -> None:
    """Kill the student process and, in the sandbox's own PID namespace, every process of this uid but this one."""
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(child, 0)  # reaped first: a zombie child would keep answering kill(-1)
    except ChildProcessError:
        pass
    if isolated and os.getuid() != 0:  # never as root, never outside the sandbox's PID namespace
        for _ in range(20):
            try:
                os.kill(-1, signal.SIGKILL)  # not this process, not PID 1 (init), nobody else's processes
            except (ProcessLookupError, PermissionError):
                break  # nothing left to signal
            time.sleep(0.01)


def _empty(folder: str) -> None:
    """Remove everything in the output folder: anything there now was put there by someone else."""
    import shutil

    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def _write_once(out_path: str, data: str) -> None:
    _empty(os.path.dirname(out_path))
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(data)


def _exit_like(status: int | None) -> int:
    """The recorder's exit status mirrors the student process's: a kill shows as the same signal."""
    if status is None:
        return 0
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return os.waitstatus_to_exitcode(status)


def main(job_path: str) -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(job_path)))  # <root>/in/job.json
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    out_path = os.path.join(root, job["out"])
    with open(os.path.join(root, job["notebook"]), encoding="utf-8") as f:
        notebook = json.load(f)
    try:  # imported before student code so its pristine functions can be restored before the probes
        import numpy  # noqa: F401
    except ImportError:
        pass
    import IPython.core.interactiveshell  # noqa: F401  (the student process starts warm)

    late = bool(job.get("late"))
    _not_dumpable()  # before anything else: the student process never sees a readable recorder
    late_fd = _take_late_channel() if late else None  # not read yet: only moved off fd 0
    read_end, write_end = os.pipe()
    down_read, down_write = os.pipe() if late else (None, None)
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.close(read_end)
            for fd in (late_fd, down_write):  # the student process never holds the way to the hidden material
                if fd is not None:
                    os.close(fd)
            code = student_side(job, notebook, Channel(write_end), down_read)
        except BaseException:
            traceback.print_exc(limit=3)
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(write_end)
    if down_read is not None:
        os.close(down_read)
    public = {name for cell in job["probe_cells"] for name in cell["cases"]}
    recorder = Recorder(read_end, child, public=public, late_fd=late_fd, down_fd=down_write)
    recorder.listen()
    _end_everything_else(child, bool(job.get("isolated")))
    if recorder.status is None:  # ended by us after a complete report: a normal end
        recorder.status = 0
    if recorder.cells is not None:
        result = recorder.result()
        data = json.dumps(result, allow_nan=False, default=_json_default)
        _write_once(out_path, data)
    else:  # nothing usable came: no records file, the grader says the notebook stopped before the tests
        _empty(os.path.dirname(out_path))
    if recorder.ended or recorder.late_phase:  # once hidden probes may have run, no status student code chose
        return 0
    return _exit_like(recorder.status)


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
