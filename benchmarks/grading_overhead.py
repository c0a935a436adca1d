"""Per-submission grading cost: `course grade` (default backend, and bwrap) against `nbgrader autograde`, one run.

    .venv/bin/python benchmarks/grading_overhead.py [-n 20] [--skip-bwrap]     (as root: the sandboxes need it)

The same torch + Lightning assignment (a LightningModule trained for 60 steps, graded on its final MSE) is
written once in nbgrader's format and once in ours, with N correct submissions each.

1. Interleaved, per submission (rounds A B C D, then D C B A, ...; N rounds): nbgrader grades submission i with
   `nbgrader autograde --student s_i` (a fresh process, its only per-submission mode); ours grades it through
   `course grade`'s own path (`grade_part` on a folder holding that one student: sandbox run, judging, gradebook
   row, feedback report) in one long-lived grading process with the DEFAULT backend (`auto`: the machine's warm
   fork server) and, for comparison, with bwrap; the student's own compute is the notebook's code run in a warm
   process that has imported torch and Lightning. Medians and min/max of N each; ratio = nbgrader's median ÷
   ours; overhead = our median − the student's median compute (signed, never clamped).
2. Whole runs, once each over all N: `course grade` as a fresh CLI process with the default settings (start-up
   included) and `nbgrader autograde` as one batch; wall ÷ N.

Wall times on a shared machine are noisy: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

SETUP = """import warnings
warnings.filterwarnings("ignore")
import torch
import lightning as L
torch.manual_seed(0)
X = torch.linspace(-1, 1, 64).unsqueeze(1)
Y = 3 * X + 0.5"""
MODEL = """class Regressor(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


def train_model():
    model = Regressor()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=16)
    trainer = L.Trainer(max_steps=60, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    trainer.fit(model, loader)
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(model.layer(X), Y))"""
CHECK = "final_mse = train_model()"


def nbgrader_course(work: Path, n: int) -> Path:
    """A one-notebook nbgrader course with n collected copies of the correct submission."""
    course = work / "nbgrader"
    (course / "source" / "ps").mkdir(parents=True)
    meta = lambda **kw: {"nbgrader": {"schema_version": 3, "locked": False, "solution": False,  # noqa: E731
                                      "grade": False, **kw}}
    cells = [new_code_cell(SETUP, metadata=meta(grade_id="setup", locked=True)),
             new_code_cell("### BEGIN SOLUTION\n" + MODEL + "\n### END SOLUTION",
                           metadata=meta(grade_id="model", solution=True)),
             new_code_cell(CHECK + "\nassert final_mse < 0.05", metadata=meta(grade_id="check", grade=True,
                                                                             points=1, locked=True))]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    nbformat.write(nb, course / "source" / "ps" / "ps.ipynb")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\n"
        "c.ExecutePreprocessor.timeout = 300\nc.Exchange.root = " + repr(str(work / "exchange")) + "\n")
    run([str(BIN / "nbgrader"), "db", "assignment", "add", "ps"], course)
    run([str(BIN / "nbgrader"), "generate_assignment", "ps", "--force"], course)
    solution = nbformat.read(course / "source" / "ps" / "ps.ipynb", as_version=4)
    for cell in solution.cells:
        cell.source = cell.source.replace("### BEGIN SOLUTION\n", "").replace("\n### END SOLUTION", "")
    for i in range(n):
        folder = course / "submitted" / f"s{i:02d}" / "ps"
        folder.mkdir(parents=True)
        nbformat.write(solution, folder / "ps.ipynb")
        run([str(BIN / "nbgrader"), "db", "student", "add", f"s{i:02d}"], course)
    return course


def our_course(work: Path, n: int) -> Path:
    """The same assignment in our format, built, with n copies of the correct submission."""
    course = work / "ours"
    part = "part-01-bench"
    (course / "source" / part).mkdir(parents=True)
    (course / "course_config.py").write_text(
        "from datetime import datetime, timezone\n"
        "from aiml_course.config import Course, Limits, Part, SandboxConfig\n"
        "COURSE = Course(id='bench', title='bench', parts=(Part('part-01-bench', title='b', "
        "due=datetime(2030, 1, 1, tzinfo=timezone.utc)),), "
        "sandbox=SandboxConfig(limits=Limits(wall_seconds=300, cell_seconds=120)))\n")
    cells = [new_markdown_cell("# bench"), new_code_cell(SETUP + "\nfrom aiml_notebooks import case"),
             new_markdown_cell("model"), new_code_cell("# ANSWER q1\n### BEGIN SOLUTION\n" + MODEL +
                                                       "\n### END SOLUTION"),
             new_markdown_cell("check"),
             new_code_cell("# TESTS q1\n@case(below=0.05)\ndef trains():\n    return train_model()")]
    nbformat.write(new_notebook(cells=cells), course / "source" / part / "bench.ipynb")
    run([str(BIN / "course"), "build"], course)
    sys.path.insert(0, str(ROOT / "src"))
    from aiml_course.authoring.parse import parse_notebook
    from aiml_course.authoring.render import dumps_notebook, render

    solution = dumps_notebook(render(parse_notebook(course / "source" / part / "bench.ipynb"), variant="solution"))
    for i in range(n):
        folder = course / "submitted" / f"s{i:02d}"
        folder.mkdir(parents=True)
        (folder / "bench.ipynb").write_text(solution)
    return course


CPU: dict[str, list[float]] = {}   # CPU seconds per arm, beside the wall times


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str], cwd: Path, cpu_arm: str | None = None) -> float:
    start, cpu = time.monotonic(), children_cpu()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}  # nbgrader shells out to alembic
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    if cpu_arm:  # the command and every process it waited for (nbgrader's kernel)
        CPU.setdefault(cpu_arm, []).append(children_cpu() - cpu)
    return time.monotonic() - start


WARM_COMPUTE = f"""import sys, time, json
{SETUP}
for line in sys.stdin:
    t, c = time.perf_counter(), time.process_time()
    exec(compile({(SETUP + chr(10) + MODEL + chr(10) + CHECK)!r}, 'nb', 'exec'), {{}})
    print(json.dumps([time.perf_counter() - t, time.process_time() - c]), flush=True)
"""


class StudentCompute:
    """The notebook's own work, timed in a warm process that has already imported torch and Lightning."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", WARM_COMPUTE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self()  # the first run pays one-off lazy initialisation

    def __call__(self) -> float:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        wall, cpu = json.loads(self.proc.stdout.readline())
        CPU.setdefault("student's own compute (warm process)", []).append(cpu)
        return float(wall)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


class OurGrader:
    """One long-lived grading process's view: `course grade`'s per-submission path with one backend."""

    def __init__(self, course_root: Path, backend: str, work: Path, arm: str) -> None:
        from aiml_course.config import load_course
        from aiml_course.gradebook import Gradebook
        from aiml_course.sandbox import make_sandbox

        self.course = load_course(course_root / "course_config.py")
        self.part = self.course.parts[0].id
        self.sandbox = make_sandbox(backend, self.course.limits_for(self.part))
        self.book = Gradebook(f"sqlite:///{work / backend}.sqlite")
        self.reports = work / f"reports-{backend}"
        self.arm = arm
        self.sandbox_cpu: list[float] = []
        run_in_sandbox = self.sandbox.run

        def run_and_note(*args: Any) -> Any:  # the sandbox's CPU seconds (its cgroup), noted per run
            result = run_in_sandbox(*args)
            self.sandbox_cpu.append(result.cpu_seconds or 0.0)
            return result

        self.sandbox.run = run_and_note  # type: ignore[method-assign]

    def __call__(self, folder: Path) -> float:
        from aiml_course.grading.pipeline import grade_part

        start, cpu = time.monotonic(), time.process_time()
        summary = grade_part(self.course, self.part, folder, gradebook=self.book, sandbox=self.sandbox, workers=1,
                             force=True, reports=self.reports, show_progress=False)
        wall = time.monotonic() - start
        # the grading process (finding, judging, gradebook, report) + the sandbox's processes
        CPU.setdefault(self.arm, []).append(time.process_time() - cpu + self.sandbox_cpu[-1])
        (_, grade), = summary.graded
        if grade.earned != grade.possible:
            raise SystemExit(f"{self.sandbox.name}: a correct submission scored {grade.earned}/{grade.possible}: "
                             f"{grade.problem or [c.message for c in grade.cases]}")
        return wall


NBG = "nbgrader autograde --student (process)"
AUTO = "course grade, default backend (auto)"
BWRAP = "course grade --sandbox bwrap"
COMPUTE = "student's own compute (warm process)"


def stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20, help="submissions per tool (interleaved rounds)")
    parser.add_argument("--skip-bwrap", action="store_true", help="leave out the bwrap arm (it is slow)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aiml-bench-"))
    compute = None
    try:
        loads = [load()]
        nbg = nbgrader_course(work, args.n)
        ours = our_course(work, args.n)
        singles = ours / "single"
        for i in range(args.n):  # one folder per submission, for the per-submission path
            shutil.copytree(ours / "submitted" / f"s{i:02d}", singles / f"s{i:02d}" / f"s{i:02d}")
        compute = StudentCompute()
        arms: dict[str, Any] = {
            NBG: lambda i: run(
                [str(BIN / "nbgrader"), "autograde", "ps", "--student", f"s{i:02d}", "--force"], nbg, NBG),
            AUTO: (lambda g: lambda i: g(singles / f"s{i:02d}"))(OurGrader(ours, "auto", work, AUTO)),
            COMPUTE: lambda i: compute(),
        }
        if not args.skip_bwrap:
            arms[BWRAP] = (lambda g: lambda i: g(singles / f"s{i:02d}"))(OurGrader(ours, "bwrap", work, BWRAP))
        arms[AUTO](0)  # the warm server is started (or found) before timing
        CPU.clear()
        names = list(arms)
        walls: dict[str, list[float]] = {name: [] for name in names}
        loads.append(load())
        for i in range(args.n):
            for name in (names if i % 2 == 0 else names[::-1]):
                walls[name].append(arms[name](i))
            print(f"  round {i + 1}/{args.n}: " + ", ".join(f"{walls[n][-1]:.2f}" for n in names) +
                  f"  (load {load()})", file=sys.stderr)
        loads.append(load())
        cli_all = run([str(BIN / "course"), "grade", "part-01-bench", "submitted", "--force",
                       "--db", f"sqlite:///{work / 'cli'}.sqlite"], ours) / args.n
        nbg_all = run([str(BIN / "nbgrader"), "autograde", "ps", "--force"], nbg) / args.n
        loads.append(load())

        for title, table in (("wall", walls), ("CPU", CPU)):
            base = stats(table[NBG])[0]
            own = stats(table[COMPUTE])[0]
            print(f"\n1{'a' if title == 'wall' else 'b'}. Interleaved, per submission, {title} seconds: N = {args.n} "
                  "rounds (A B C D, D C B A, ...)")
            print(f"{'':42} {'median':>8} {'min':>7} {'max':>7} {'nbgrader ÷ this':>16} {'overhead':>9}")
            for name in names:
                med, lo, hi = stats(table[name])
                ratio = f"{base / med:>16.1f}" if name != COMPUTE else f"{'':>16}"
                over = f"{med - own:>9.2f}" if name.startswith("course") else f"{'':>9}"
                print(f"{name:42} {med:>8.2f} {lo:>7.2f} {hi:>7.2f} {ratio} {over}")
        print("\noverhead = our median − the student's median compute (signed, not clamped). CPU = user + system "
              "seconds: nbgrader's process and kernel (rusage of waited children); ours = the grading process's "
              "CPU for that submission + the sandbox's cgroup. Every submission of ours scored full marks.")
        print(f"\n2. Whole runs over all {args.n} submissions, once each (start-up included), wall ÷ N")
        print(f"{'nbgrader autograde (one batch)':42} {nbg_all:>9.2f}")
        print(f"{'course grade (fresh CLI, defaults)':42} {cli_all:>9.2f}   nbgrader ÷ this: {nbg_all / cli_all:.1f}")
        print(f"\nload average (1, 5, 15 min): start {loads[0]} | before rounds {loads[1]} | after rounds "
              f"{loads[2]} | after whole runs {loads[3]}; {os.cpu_count()} cores")
    finally:
        if compute is not None:
            compute.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
