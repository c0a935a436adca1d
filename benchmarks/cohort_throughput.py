"""Cohort throughput: a realistic Part 2 cohort graded with the default settings, against nbgrader autograde.

    .venv/bin/python benchmarks/cohort_throughput.py [--students 200] [--nbgrader-students 10]   (as root)

The cohort: `--students` students × the 5 Part 2 notebooks, each notebook drawn (seeded) from the sample
submissions in tests/submissions/part-02-first-neuron/: 50 % correct (alice), 30 % partly wrong (bob), 20 % raising
(carol); each copy gets a unique comment cell so no two submissions have the same content. Ours: one
`course grade part-02-first-neuron DIR` run with the default settings (backend `auto`, workers from cores and
memory; a fresh gradebook, so nothing is skipped), timed from the command's start to its end (CLI start-up and,
if no warm server is running yet, its start-up included). nbgrader: `nbgrader autograde` over the first
`--nbgrader-students` students of the same cohort (all 5 notebooks each) in one batch, scaled linearly to the
cohort; its assignment is the release notebooks with no graded cells, so nbgrader only executes each notebook in
a fresh kernel — a lower bound for its real grading time. Prints notebooks per minute for both, the time for
1,000 notebooks, the peak memory per graded notebook (cgroup accounting) and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PART = "part-02-first-neuron"
SAMPLES = ROOT / "tests" / "submissions" / PART
MIX = (("alice", 0.5), ("bob", 0.3), ("carol", 0.2))   # correct, partly wrong, raising


def notebooks() -> list[str]:
    return sorted(p.stem for p in (ROOT / "release" / PART).glob("*.ipynb"))


def make_cohort(folder: Path, students: int, seed: int = 12) -> dict[str, int]:
    """Write the cohort; return how many submissions of each kind it holds."""
    rng = random.Random(seed)
    kinds = {name: 0 for name, _ in MIX}
    for i in range(students):
        student = folder / f"s{i:03d}"
        student.mkdir(parents=True)
        for stem in notebooks():
            sample = rng.choices([n for n, _ in MIX], weights=[w for _, w in MIX])[0]
            kinds[sample] += 1
            nb = json.loads((SAMPLES / sample / f"{stem}.ipynb").read_text())
            nb["cells"].append({"cell_type": "markdown", "metadata": {}, "id": f"note-{i:03d}",
                                "source": f"Submitted by student {i} ({sample}'s answers)."})
            (student / f"{stem}.ipynb").write_text(json.dumps(nb))
    return kinds


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds of the command, and the CPU seconds of it and every process it waited for."""
    start, cpu = time.monotonic(), children_cpu()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, children_cpu() - cpu


def nbgrader_course(work: Path, cohort: Path, students: int) -> Path:
    """An nbgrader course whose assignment is Part 2's release notebooks, with the first `students` students."""
    course = work / "nbgrader"
    source = course / "source" / PART
    source.mkdir(parents=True)
    for stem in notebooks():
        shutil.copy(ROOT / "release" / PART / f"{stem}.ipynb", source / f"{stem}.ipynb")
    for data in (ROOT / "release" / PART).iterdir():  # data files the notebooks read
        if data.is_file() and data.suffix != ".ipynb":
            shutil.copy(data, source / data.name)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\nc.ExecutePreprocessor.timeout = 300\n"
        f"c.Exchange.root = {str(work / 'exchange')!r}\n")
    run([str(BIN / "nbgrader"), "db", "assignment", "add", PART], course)
    run([str(BIN / "nbgrader"), "generate_assignment", PART, "--force"], course)
    for student in sorted(cohort.iterdir())[:students]:
        target = course / "submitted" / student.name / PART
        shutil.copytree(student, target)
        run([str(BIN / "nbgrader"), "db", "student", "add", student.name], course)
    return course


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--nbgrader-students", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aiml-cohort-"))
    try:
        cohort = work / "cohort"
        kinds = make_cohort(cohort, args.students)
        total = sum(kinds.values())
        print(f"cohort: {args.students} students × {len(notebooks())} notebooks = {total} submissions "
              f"({', '.join(f'{k}: {v}' for k, v in kinds.items())}); cores {os.cpu_count()}; load {load()}")
        loads = [load()]
        ours, ours_cpu = run([str(BIN / "course"), "grade", PART, str(cohort), "--db",
                              f"sqlite:///{work / 'ours.sqlite'}", "--reports", str(work / "reports"), "--force"], ROOT)
        loads.append(load())
        reports = [json.loads(p.read_text()) for p in (work / "reports").rglob("*.json")]
        graded = [r for r in reports if isinstance(r, dict) and "earned" in r]
        peaks = [r.get("run", {}).get("max_memory_mb") for r in graded]
        peaks = [p for p in peaks if isinstance(p, (int, float))]
        seconds = [r.get("seconds") for r in graded if isinstance(r.get("seconds"), (int, float))]
        # the notebooks ran in the warm server, not under `course grade`: their CPU is each sandbox's cgroup's
        sandbox_cpu = sum(r.get("run", {}).get("cpu_seconds") or 0.0 for r in graded)
        nbg_course = nbgrader_course(work, cohort, args.nbgrader_students)
        nbg_total = args.nbgrader_students * len(notebooks())
        loads.append(load())
        nbg, nbg_cpu = run([str(BIN / "nbgrader"), "autograde", PART, "--force"], nbg_course)
        loads.append(load())
        ours_rate, nbg_rate = total / ours * 60, nbg_total / nbg * 60
        print(f"\n{'tool':44} {'notebooks':>9} {'wall s':>8} {'notebooks/min':>14} {'1,000 notebooks':>16}")
        print(f"{'course grade (defaults: auto backend)':44} {total:>9} {ours:>8.1f} {ours_rate:>14.1f} "
              f"{1000 / ours_rate:>13.1f} min")
        print(f"{'nbgrader autograde (batch, subset)':44} {nbg_total:>9} {nbg:>8.1f} {nbg_rate:>14.1f} "
              f"{1000 / nbg_rate:>13.1f} min")
        print(f"\nthroughput ratio (ours ÷ nbgrader, notebooks per minute): {ours_rate / nbg_rate:.1f}×")
        ours_cpu_each = (ours_cpu + sandbox_cpu) / total
        nbg_cpu_each = nbg_cpu / nbg_total
        cores = len(os.sched_getaffinity(0))
        print(f"CPU seconds per notebook: ours {ours_cpu_each:.2f} (grader {ours_cpu / total:.2f} + sandbox "
              f"{sandbox_cpu / total:.2f}), nbgrader {nbg_cpu_each:.2f} (process + kernels); ratio "
              f"{nbg_cpu_each / ours_cpu_each:.1f}×. With the {cores} cores to ourselves, CPU-bound: 1,000 notebooks "
              f"≈ {1000 * ours_cpu_each / cores / 60:.1f} min ours, {1000 * nbg_cpu_each / cores / 60:.1f} min nbgrader "
              "(a projection from CPU time, not a measured wall time)")
        if seconds:
            print(f"our sandbox wall per notebook: median {statistics.median(seconds):.2f} s "
                  f"(min {min(seconds):.2f}, max {max(seconds):.2f}), {len(seconds)} reports")
        if peaks:
            print(f"peak memory per graded notebook (cgroup, pages beyond the warm server's): median "
                  f"{statistics.median(peaks):.0f} MB (min {min(peaks):.0f}, max {max(peaks):.0f})")
        print(f"load average (1, 5, 15 min) before / after ours / before / after nbgrader: {' | '.join(loads)}")
        print(f"nbgrader: the first {args.nbgrader_students} students ({nbg_total} notebooks) of the same cohort, "
              f"scaled linearly; its assignment has no graded cells (execution only: a lower bound).")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
