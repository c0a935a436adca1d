"""Grade one notebook: run it in a sandbox, then judge its records here, outside the sandbox.

Only the notebook and the public probe sources (functions that call student code) go into the job folder. The
hidden probes and a seed drawn here for this run travel on the runner's stdin, which the runner reads only after
the student's cells and public probes have reported (see runner.py): no file of the sandbox holds them. Points,
tolerances, reference values and judges stay in this process. Whatever happens inside — a crash, a timeout, a
kill, forged or malformed records — the result is a row with zero points and the reason, never an exception.

What comes back is untrusted data: the records file is opened without following links, read up to a cap, parsed
without NaN constants or unbounded nesting, and every string in it is capped and stripped of control characters
before it can reach feedback. Hidden cases are reported as passed or failed with their points and the author's
hint, never with anything the student's code produced while a hidden probe ran.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import secrets
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiml_course.errors import SubmissionRejected
from aiml_course.grading.intake import read_regular
from aiml_course.sandbox import RunResult, Sandbox
from aiml_course.untrusted import printable
from aiml_notebooks.evidence import Verdict, compare, decode, describe, is_threshold

logger = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("runner.py")
NOT_WRITTEN = "NotImplementedError"  # what the stub raises: the case says "not written yet"
MAX_RECORDS_BYTES = 8 * 1024 * 1024
MAX_CELL_ERRORS = 10             # cells whose error is shown; the rest are counted in the problem text
MAX_ERROR_CHARS = 200            # of one error message written by student code (public cases, cell errors)
# what the runner may say about a whole run (codes, never free text from inside the sandbox)
RUNNER_ERRORS = {
    "records_too_large": "the test results were too large to read",
    "stopped_during_tests": "your notebook stopped while the tests were running",
}
# public-check and quiz-display cells (feedback only, nothing to grade) and `# LESSON ONLY` cells (demos, heavy
# lesson code: never needed by an exercise, skipped so grading stays fast)
SKIP_ROLES = ("tests", "quiz", "lesson")


@dataclass
class Execution:
    """What came back from one sandboxed run of a notebook."""

    run: RunResult | None
    records: dict[str, Any]
    cells: list[dict[str, Any]]
    problem: str = ""              # why there are no usable records, for the student and staff
    seed: int | None = None        # this run's GRADING_SEED, handed to the hidden probes and to judges
    late_cases: frozenset[str] = frozenset()  # cases whose probes ran after the hidden material was sent

    @property
    def cell_errors(self) -> list[dict[str, Any]]:
        return [c for c in self.cells if "error" in c]


@dataclass(frozen=True)
class CaseResult:
    name: str
    question: str
    hidden: bool
    earned: float
    possible: float
    message: str


@dataclass
class NotebookGrade:
    notebook: str
    cases: list[CaseResult] = field(default_factory=list)
    problem: str = ""
    seconds: float = 0.0
    cell_errors: list[dict[str, Any]] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)   # the sandbox's accounting, for staff

    @property
    def earned(self) -> float:
        return round(sum(c.earned for c in self.cases), 6)

    @property
    def possible(self) -> float:
        return round(sum(c.possible for c in self.cases), 6)

    def by_question(self) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        for c in self.cases:
            e, p = out.get(c.question, (0.0, 0.0))
            out[c.question] = (round(e + c.earned, 6), round(p + c.possible, 6))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "earned": self.earned, "possible": self.possible,
                "problem": self.problem, "seconds": self.seconds, "cell_errors": self.cell_errors, "run": self.run,
                "cases": [asdict(c) for c in self.cases]}


def execute(notebook_text: str, probe_cells: list[dict[str, Any]], sandbox: Sandbox, *,
            cell_seconds: int, probe_seconds: int | None = None, files: dict[str, bytes] | None = None,
            keep: Path | None = None, skip_roles: tuple[str, ...] = SKIP_ROLES, seed: int | None = None) -> Execution:
    """Run `notebook_text` and then the probes in `sandbox`; read back and validate the records.

    Code cells whose `metadata.aiml.role` is in `skip_roles` are not run (course validate runs lesson cells once).
    Probe cells not marked `"hidden": False` are hidden: they and `seed` (drawn here, fresh per run, unless given)
    reach the runner only on its stdin, after the student's code and the public probes have reported.
    """
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    late_cases = frozenset(c for p in probe_cells if p.get("hidden", True) for c in p["cases"])
    job_root = sandbox.new_job_root()  # 0700, under a root-only parent; reclaimed if this grader dies
    try:
        execution = _execute_in(job_root, notebook_text, probe_cells, sandbox, cell_seconds=cell_seconds,
                                probe_seconds=probe_seconds, files=files, keep=keep, skip_roles=skip_roles, seed=seed)
        execution.seed, execution.late_cases = seed, late_cases
        return execution
    except Exception as exc:  # a grader fault on one notebook is that notebook's zero row, never a lost run
        logger.exception("grading one notebook failed")
        return Execution(None, {}, [], f"the grader could not run this notebook ({type(exc).__name__})", seed,
                         late_cases)
    finally:
        try:
            sandbox.cleanup(job_root)
        finally:
            shutil.rmtree(job_root, ignore_errors=True)


def _execute_in(job_root: Path, notebook_text: str, probe_cells: list[dict[str, Any]], sandbox: Sandbox, *,
                cell_seconds: int, probe_seconds: int | None, files: dict[str, bytes] | None, keep: Path | None,
                skip_roles: tuple[str, ...], seed: int) -> Execution:
    (job_root / "in").mkdir()
    try:
        sandbox.prepare(job_root)  # before the data files go in: work/ may become a size-limited tmpfs
    except (OSError, subprocess.CalledProcessError) as exc:
        return Execution(None, {}, [], f"the grader could not prepare the sandbox: {exc}")
    (job_root / "in" / "notebook.ipynb").write_text(notebook_text, encoding="utf-8")
    for rel, data in (files or {}).items():
        target = job_root / "work" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    job = {"notebook": "in/notebook.ipynb", "out": "out/records.json", "cell_seconds": cell_seconds,
           # a case may train a model, like a cell: same time limit unless told otherwise
           "probe_seconds": probe_seconds or cell_seconds, "skip_roles": list(skip_roles),
           # own PID namespace: the runner may end every other process of the sandbox user before writing
           "isolated": bool(sandbox.isolated),
           "probe_cells": [{"source": p["source"], "cases": p["cases"]} for p in probe_cells
                           if p.get("hidden", True) is False]}
    hidden = [{"source": p["source"], "cases": p["cases"]} for p in probe_cells if p.get("hidden", True) is not False]
    late = None
    if hidden:  # never written to a file: the runner's stdin
        job["late"] = True
        late = json.dumps({"seed": seed, "probe_cells": hidden}).encode("utf-8")
    (job_root / "in" / "job.json").write_text(json.dumps(job), encoding="utf-8")
    try:
        run = sandbox.run(job_root, RUNNER, [str(job_root / "in" / "job.json")], late=late)
    except OSError as exc:
        return Execution(None, {}, [], f"the grader could not start the sandbox: {exc}")
    execution = read_records(job_root / "out" / "records.json", run)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for name in ("sandbox.stdout", "sandbox.stderr"):
            if (job_root / name).is_file() and not (job_root / name).is_symlink():
                shutil.copy(job_root / name, keep / name)
    return execution


def _first_key_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")


def read_records(path: Path, run: RunResult) -> Execution:
    """Parse the records file as untrusted data: no links, a size cap, strict JSON, bounded nesting, a schema.

    Any malformed part makes the whole file unusable (zero with the reason); nothing here raises.
    """
    reason = run.reason
    if run.timed_out or run.oom_killed or run.signal is not None:
        return Execution(run, {}, [], f"your notebook {reason}")
    try:
        raw, _ = read_regular(path.parent, (path.name,), MAX_RECORDS_BYTES)
    except SubmissionRejected as exc:
        if "does not exist" in str(exc):
            return Execution(run, {}, [], "your notebook stopped before the tests could run"
                             + (f" (it {reason})" if reason else ""))
        if "more than" in str(exc):
            return Execution(run, {}, [], "the test results were too large to read")
        return Execution(run, {}, [], "the test results were not a regular file")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants, object_pairs_hook=_first_key_wins)
        return _execution_from(data, run)
    except RecursionError:
        return Execution(run, {}, [], "the test results were malformed (nested too deeply)")
    except Exception as exc:  # any other shape: unusable, said plainly
        return Execution(run, {}, [], f"the test results could not be read ({type(exc).__name__})")


def _execution_from(data: Any, run: RunResult) -> Execution:
    if type(data) is not dict or data.get("schema_version") != 1 or type(data.get("records")) is not dict:
        return Execution(run, {}, [], "the test results were malformed")
    records: dict[str, Any] = {}
    for name, record in data["records"].items():
        if type(record) is not dict or type(record.get("ok")) is not bool:
            continue
        if record["ok"] and "value" in record:
            records[name] = {"ok": True, "value": record["value"]}
        elif not record["ok"]:
            error = record.get("error")
            records[name] = {"ok": False, "error": printable(error if type(error) is str else "an error", 400)}
    cells = [cell for cell in map(_cell_entry, data.get("cells") or [] if type(data.get("cells")) is list else [])
             if cell is not None]
    code = data.get("error")
    problem = "" if code is None else RUNNER_ERRORS.get(code, "the test results were malformed") \
        if type(code) is str else "the test results were malformed"
    return Execution(run, records, cells, problem)


def _cell_entry(entry: Any) -> dict[str, Any] | None:
    """One cell's log entry, reduced to the fields the grader uses, each of the right type and capped."""
    if type(entry) is not dict or type(entry.get("cell")) is not int:
        return None
    out: dict[str, Any] = {"cell": entry["cell"]}
    if type(entry.get("seconds")) in (int, float):
        out["seconds"] = float(entry["seconds"])
    if type(entry.get("output_dropped")) is int:
        out["output_dropped"] = max(0, entry["output_dropped"])
    error = entry.get("error")
    if error is not None:
        error = error if type(error) is dict else {}
        name, message = error.get("name"), error.get("message")
        out["error"] = {"name": printable(name if type(name) is str else "Error", 60),
                        "message": printable(message if type(message) is str else "", MAX_ERROR_CHARS)}
    return out


def _load_judges(sources: list[str]) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "aiml_judges"}
    for src in sources:
        exec(compile(src, "<judge cell>", "exec"), ns)
    return ns


def takes_seed(fn: Any) -> bool:
    """Does this judge take the grading run's seed (a parameter named `seed`)?"""
    try:
        return "seed" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _verdict(case: dict[str, Any], got: Any, expected: Any, judges: dict[str, Any],
             seed: int | None = None) -> tuple[float, Verdict]:
    """Fraction of the case's points earned, and the verdict behind it. A judge with a `seed` parameter gets the
    seed this run's hidden probes had as GRADING_SEED, to compute its own reference."""
    spec = case["spec"]
    if "judge" in spec:
        fn = judges.get(spec["judge"])
        if fn is None:
            return 0.0, Verdict(False, f"grader error: judge {spec['judge']} is not defined")
        try:
            outcome = fn(got, expected, seed=seed) if takes_seed(fn) else fn(got, expected)
            # a judge may return (score, detail): the detail is the author's wording of what was measured,
            # e.g. "your accuracy 0.62, needs >= 0.9"
            outcome, detail = outcome if isinstance(outcome, tuple) and len(outcome) == 2 else (outcome, "")
            frac = float(outcome) if not isinstance(outcome, bool) else (1.0 if outcome else 0.0)
        except Exception as exc:  # a judge crashing on odd student output is a failed case, not a crash
            return 0.0, Verdict(False, f"the value could not be checked ({type(exc).__name__})")
        frac = 0.0 if math.isnan(frac) else min(1.0, max(0.0, frac))
        return frac, Verdict(frac >= 1.0, "" if frac >= 1.0 else (printable(str(detail), 200) or "not good enough yet"))
    verdict = compare(got, expected, spec)
    return (1.0 if verdict.passed else 0.0), verdict


def judge(bundle: dict[str, Any], execution: Execution, *, for_staff: bool = False) -> NotebookGrade:
    """Points for every case of the bundle, from the records of `execution` and the bundle's references.

    Students' messages for hidden cases say passed or failed, the description and the author's hint only.
    `for_staff` (course validate, on the instructor's own notebooks) adds what came back to every message.
    """
    errors = execution.cell_errors
    grade = NotebookGrade(bundle["notebook"], problem=printable(execution.problem, 500),
                          cell_errors=[{"cell": c.get("cell"), **c.get("error", {})}
                                       for c in errors[:MAX_CELL_ERRORS]])
    if len(errors) > MAX_CELL_ERRORS:
        more = f"{len(errors) - MAX_CELL_ERRORS} more cells raised errors (the first {MAX_CELL_ERRORS} are listed)"
        grade.problem = "; ".join(p for p in (grade.problem, more) if p)
    if execution.run is not None:
        r = execution.run
        grade.seconds = r.wall_seconds
        dropped = sum(int(c.get("output_dropped", 0) or 0) for c in execution.cells)
        grade.run = {"exit_code": r.exit_code, "signal": r.signal, "timed_out": r.timed_out,
                     "oom_killed": r.oom_killed, "pids_limit_hit": r.pids_limit_hit,
                     "output_truncated": r.output_truncated or dropped > 0, "max_memory_mb": r.max_memory_mb,
                     "cpu_seconds": r.cpu_seconds}
    judges = _load_judges(bundle.get("judges", []))
    for case in bundle["cases"]:
        possible = float(case["spec"].get("points", 1))
        try:
            earned, message = _judge_case(bundle, case, execution, judges, for_staff)
        except Exception:  # whatever the record holds, one case never stops the others
            logger.exception("judging %s failed", case["name"])
            earned, message = 0.0, f"✗ {case['description']}: the value returned could not be checked"
        grade.cases.append(CaseResult(case["name"], case["question"], case["hidden"], earned, possible, message))
    return grade


def _judge_case(bundle: dict[str, Any], case: dict[str, Any], execution: Execution, judges: dict[str, Any],
                for_staff: bool) -> tuple[float, str]:
    possible = float(case["spec"].get("points", 1))
    name, desc = case["name"], case["description"]
    # nothing produced while a hidden probe ran (or after the hidden material was sent) goes to the student
    quiet = (case["hidden"] or name in execution.late_cases) and not for_staff
    hint = case["spec"].get("hint", "")
    with_hint = f" Hint: {hint}" if hint else ""
    record = execution.records.get(name)
    if record is None:
        return 0.0, f"✗ {desc}: not run — {execution.problem or 'the tests did not reach this case'}"
    if not record.get("ok"):
        if str(record.get("error", "")).startswith(NOT_WRITTEN):  # the untouched stub (our own exception type)
            return 0.0, f"✗ {desc}: not written yet — replace `raise NotImplementedError()` with your code"
        if quiet:
            return 0.0, f"✗ {desc}{with_hint}"
        shown = printable(record.get("error", "an error"), MAX_ERROR_CHARS)
        return 0.0, f"✗ {desc}: your code raised {shown}{with_hint}"
    try:
        got = decode(record.get("value"))
    except Exception:
        return 0.0, f"✗ {desc}: the value returned could not be read{with_hint}"
    expected = decode(bundle["references"].get(name))
    frac, verdict = _verdict(case, got, expected, judges, execution.seed)
    earned = round(possible * frac, 6)
    if verdict.passed:
        return earned, f"✓ {desc}"
    if quiet:  # a judge's own wording of what it measured is the author's text, not the student's
        shown = f": {verdict.detail}" if "judge" in case["spec"] and verdict.detail != "not good enough yet" else ""
        return earned, f"✗ {desc}{shown}{with_hint}"
    if is_threshold(case["spec"]) or "judge" in case["spec"]:  # the measured value against the goal, no reference
        return earned, printable(f"✗ {desc}: {verdict.detail}", 400) + with_hint
    msg = f"✗ {desc}: expected {describe(expected)}, got {describe(got)}"
    msg += f" ({verdict.detail})" if verdict.detail else ""
    return earned, printable(msg, 400) + with_hint
