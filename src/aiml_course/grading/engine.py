"""Grade one notebook: run it in a sandbox, then judge its records here, outside the sandbox.

Only the notebook and the probe sources (functions that call student code) go into the sandbox. Points,
tolerances, reference values and judges stay in this process. Whatever happens inside — a crash, a timeout, a
kill, forged or malformed records — the result is a row with zero points and the reason, never an exception.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiml_course.sandbox import RunResult, Sandbox
from aiml_notebooks.evidence import EvidenceError, Verdict, compare, decode, describe

logger = logging.getLogger(__name__)

RUNNER = Path(__file__).with_name("runner.py")
MAX_RECORDS_BYTES = 8 * 1024 * 1024
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
            keep: Path | None = None, skip_roles: tuple[str, ...] = SKIP_ROLES) -> Execution:
    """Run `notebook_text` and then the probes in `sandbox`; read back and validate the records.

    Code cells whose `metadata.aiml.role` is in `skip_roles` are not run (course validate runs lesson cells once).
    """
    job_root = Path(tempfile.mkdtemp(prefix="aiml-job-"))
    try:
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
               "probe_cells": [{"source": p["source"], "cases": p["cases"]} for p in probe_cells]}
        (job_root / "in" / "job.json").write_text(json.dumps(job), encoding="utf-8")
        try:
            run = sandbox.run(job_root, RUNNER, [str(job_root / "in" / "job.json")])
        except OSError as exc:
            return Execution(None, {}, [], f"the grader could not start the sandbox: {exc}")
        execution = _read_records(job_root / "out" / "records.json", run)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for name in ("sandbox.stdout", "sandbox.stderr"):
                if (job_root / name).exists():
                    shutil.copy(job_root / name, keep / name)
        return execution
    finally:
        sandbox.cleanup(job_root)
        shutil.rmtree(job_root, ignore_errors=True)


def _read_records(path: Path, run: RunResult) -> Execution:
    """Parse the records file as untrusted data: size cap, no symlinks, schema checks."""
    reason = run.reason
    if run.timed_out or run.oom_killed or run.signal is not None:
        return Execution(run, {}, [], f"your notebook {reason}")
    try:
        if path.is_symlink() or not path.is_file():
            return Execution(run, {}, [], "your notebook stopped before the tests could run"
                             + (f" (it {reason})" if reason else ""))
        if path.stat().st_size > MAX_RECORDS_BYTES:
            return Execution(run, {}, [], "the test results were too large to read")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return Execution(run, {}, [], f"the test results could not be read ({type(exc).__name__})")
    if not isinstance(data, dict) or data.get("schema_version") != 1 or not isinstance(data.get("records"), dict):
        return Execution(run, {}, [], "the test results were malformed")
    cells = data.get("cells") if isinstance(data.get("cells"), list) else []
    records = {k: v for k, v in data["records"].items() if isinstance(k, str) and isinstance(v, dict)}
    return Execution(run, records, [c for c in cells if isinstance(c, dict)], str(data.get("error", "")))


def kind_of(value: Any) -> str:
    """What a returned value is, without its contents: "an array of shape (3, 2)", "a list of 4 items"."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"an array of shape {tuple(value.shape)}"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple, dict, set)):
        n = len(value)
        return f"a {type(value).__name__} of {n} item{'s' if n != 1 else ''}"
    return f"a {type(value).__name__}"


def _load_judges(sources: list[str]) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "aiml_judges"}
    for src in sources:
        exec(compile(src, "<judge cell>", "exec"), ns)
    return ns


def _verdict(case: dict[str, Any], got: Any, expected: Any, judges: dict[str, Any]) -> tuple[float, Verdict]:
    """Fraction of the case's points earned, and the verdict behind it."""
    spec = case["spec"]
    if "judge" in spec:
        fn = judges.get(spec["judge"])
        if fn is None:
            return 0.0, Verdict(False, f"grader error: judge {spec['judge']} is not defined")
        try:
            outcome = fn(got, expected)
        except Exception as exc:  # a judge crashing on odd student output is a failed case, not a crash
            return 0.0, Verdict(False, f"the value could not be checked ({type(exc).__name__})")
        frac = float(outcome) if not isinstance(outcome, bool) else (1.0 if outcome else 0.0)
        frac = 0.0 if math.isnan(frac) else min(1.0, max(0.0, frac))
        return frac, Verdict(frac >= 1.0, "" if frac >= 1.0 else "not good enough yet")
    verdict = compare(got, expected, spec)
    return (1.0 if verdict.passed else 0.0), verdict


def judge(bundle: dict[str, Any], execution: Execution) -> NotebookGrade:
    """Points for every case of the bundle, from the records of `execution` and the bundle's references."""
    grade = NotebookGrade(bundle["notebook"], problem=execution.problem,
                          cell_errors=[{"cell": c.get("cell"), **c.get("error", {})} for c in execution.cell_errors])
    if execution.run is not None:
        r = execution.run
        grade.seconds = r.wall_seconds
        dropped = sum(int(c.get("output_dropped", 0) or 0) for c in execution.cells)
        grade.run = {"exit_code": r.exit_code, "signal": r.signal, "timed_out": r.timed_out,
                     "oom_killed": r.oom_killed, "pids_limit_hit": r.pids_limit_hit,
                     "output_truncated": r.output_truncated or dropped > 0, "max_memory_mb": r.max_memory_mb}
    judges = _load_judges(bundle.get("judges", []))
    for case in bundle["cases"]:
        possible = float(case["spec"].get("points", 1))
        name, hidden, desc = case["name"], case["hidden"], case["description"]
        record = execution.records.get(name)
        hint = case["spec"].get("hint", "")
        if record is None:
            msg = f"✗ {desc}: not run — {execution.problem or 'the tests did not reach this case'}"
            grade.cases.append(CaseResult(name, case["question"], hidden, 0.0, possible, msg))
            continue
        if not record.get("ok"):
            error = str(record.get("error", "an error"))
            # a hidden case names only the exception's type: its message is the student's own text and could
            # carry the hidden inputs out through the feedback (raise ValueError(repr(x)))
            shown = error.split(":", 1)[0][:80] if hidden else error[:300]
            msg = f"✗ {desc}: your code raised {shown}"
            grade.cases.append(CaseResult(name, case["question"], hidden, 0.0, possible,
                                          msg + (f" Hint: {hint}" if hint else "")))
            continue
        try:
            got = decode(record.get("value"))
            expected = decode(bundle["references"].get(name))
        except (EvidenceError, ValueError, TypeError, KeyError):
            grade.cases.append(CaseResult(name, case["question"], hidden, 0.0, possible,
                                          f"✗ {desc}: the value returned could not be read"))
            continue
        frac, verdict = _verdict(case, got, expected, judges)
        earned = round(possible * frac, 6)
        if verdict.passed:
            msg = f"✓ {desc}"
        elif hidden:  # neither the expected value nor what came back (it could echo the hidden inputs)
            msg = f"✗ {desc}: got {kind_of(got)}, which is not right"
        else:
            msg = f"✗ {desc}: expected {describe(expected)}, got {describe(got)}"
            msg += f" ({verdict.detail})" if verdict.detail else ""
        if not verdict.passed and hint:
            msg += f" Hint: {hint}"
        grade.cases.append(CaseResult(name, case["question"], hidden, earned, possible, msg))
    return grade
