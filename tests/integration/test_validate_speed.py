"""`course validate` on the warm path: notebooks validated in parallel, every run timed, `--timings` printed."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from click.testing import CliRunner

from aiml_course.cli import main
from aiml_course.config import Course, Limits
from aiml_course.sandbox import ForkServerSandbox, RunResult
from aiml_course.validate import validate_part
from tests.conftest import needs_bwrap

pytestmark = needs_bwrap
PART = "part-01-mini"


class RecordingForkServer(ForkServerSandbox):
    """The real warm sandbox, noting when each run of a notebook-validating thread started and ended."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        self.intervals: list[tuple[str, float, float]] = []

    def run(self, job_root: Path, script: Path, script_args: list[str], *, late: bytes | None = None) -> RunResult:
        start = time.monotonic()
        result = super().run(job_root, script, script_args, late=late)
        self.intervals.append((threading.current_thread().name, start, time.monotonic()))
        return result


def test_validate_runs_notebooks_in_parallel_and_times_every_run(mini_course: Course) -> None:
    """With two notebooks and two workers, do the two solution (build) runs overlap, and does every notebook
    report the seconds and peak memory of its solution, stub, lesson and mutant runs?"""
    folder = mini_course.source_dir / PART
    shutil.copy(folder / "1.1-mini.ipynb", folder / "1.2-mini.ipynb")
    box = RecordingForkServer(Limits(wall_seconds=60, cell_seconds=20))
    report = validate_part(mini_course, PART, box)
    builds = [(s, e) for name, s, e in box.intervals if name.startswith("validate-notebook")]
    assert len(builds) == 2, box.intervals
    (s1, e1), (s2, e2) = builds
    assert s1 < e2 and s2 < e1, "the two notebooks' solution runs did not overlap"
    assert [n.notebook for n in report.notebooks] == ["1.1-mini", "1.2-mini"]
    for check in report.notebooks:
        kinds = [r.kind.split(" ")[0] for r in check.runs]
        assert sorted(set(kinds)) == ["lesson", "mutant", "solution", "stub"], kinds
        assert kinds.count("mutant") == len(check.mutants)
        assert all(r.seconds > 0 and r.peak_mb for r in check.runs), check.runs
        assert check.peak_mb == max(r.peak_mb for r in check.runs if r.peak_mb)


def test_validate_timings_table(mini_course: Course) -> None:
    """Does `course validate --timings` print one timing row per notebook with its peak memory?"""
    result = CliRunner().invoke(main, ["--config", str(mini_course.root / "course_config.py"), "validate", PART,
                                       "--sandbox", "forkserver", "--timings"])
    assert result.exit_code == 0, result.output
    table = result.output.split("timings (")[1].splitlines()
    assert "peak MB" in table[1]
    row = next(line for line in table if line.strip().startswith("1.1-mini")).split()
    assert row[1].endswith("s") and float(row[1][:-1]) > 0 and float(row[-1]) > 0, row


def test_validate_only_runs_the_matching_notebooks(mini_course: Course) -> None:
    """Does `course validate PART --only GLOB` validate just the notebooks whose stem matches, say so by name when
    none does, and refuse --only without a PART?"""
    folder = mini_course.source_dir / PART
    shutil.copy(folder / "1.1-mini.ipynb", folder / "1.2-mini.ipynb")
    cfg = ["--config", str(mini_course.root / "course_config.py")]
    report = validate_part(mini_course, PART, ForkServerSandbox(Limits(wall_seconds=60, cell_seconds=20)),
                           only="1.2*")
    assert [n.notebook for n in report.notebooks] == ["1.2-mini"]
    none = CliRunner().invoke(main, [*cfg, "validate", PART, "--only", "9.9*"])
    assert none.exit_code != 0 and "no source notebook matches '9.9*'" in none.output, none.output
    bare = CliRunner().invoke(main, [*cfg, "validate", "--only", "1.1*"])
    assert bare.exit_code != 0 and "--only needs a PART" in bare.output, bare.output
