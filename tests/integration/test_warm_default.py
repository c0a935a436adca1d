"""The fast default: `auto` picks the warm fork server where it can run and falls back to bwrap, said once; the
default number of workers fits the machine's (or the pod's) cores and memory. Real cgroups and sandboxes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aiml_course.config import Limits, SandboxConfig
from aiml_course.sandbox import (
    BwrapSandbox,
    ForkServerSandbox,
    forkserver_unavailable,
    make_sandbox,
    new_job_root,
)
from tests.conftest import needs_bwrap

pytestmark = needs_bwrap
CGROUP = Path("/sys/fs/cgroup")


def _run_trivial(box: ForkServerSandbox | BwrapSandbox) -> int | None:
    job = new_job_root()
    (job / "in").mkdir()
    box.prepare(job)
    (job / "in" / "probe.py").write_text("print('ok')\n")
    try:
        return box.run(job, job / "in" / "probe.py", []).exit_code
    finally:
        box.cleanup(job)


def test_auto_is_the_warm_server_where_it_can_run() -> None:
    """On a machine where root may create namespaces, is the default backend the warm fork server?"""
    assert SandboxConfig().backend == "auto"
    assert forkserver_unavailable() is None
    box = make_sandbox("auto", Limits(wall_seconds=60, cell_seconds=20))
    assert isinstance(box, ForkServerSandbox) and isinstance(box.fallback, BwrapSandbox)


def test_a_server_that_cannot_start_falls_back_to_bwrap_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    """When the warm server cannot start, are the notebooks still graded (in bwrap), with one warning in all?"""
    limits = Limits(wall_seconds=60, cell_seconds=20)
    box = ForkServerSandbox(limits, python="/nonexistent/python3", fallback=BwrapSandbox(limits),
                            server_name=f"broken-{os.getpid()}")
    with caplog.at_level(logging.WARNING, logger="aiml_course.sandbox"):
        assert _run_trivial(box) == 0
        assert _run_trivial(box) == 0
    warnings = [r for r in caplog.records if "bwrap" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]


WORKERS = ("from aiml_course.machine import default_workers, usable_cores, usable_memory_mb\n"
           "print(default_workers(2048), default_workers(512), usable_cores(), round(usable_memory_mb()))")


@pytest.mark.skipif(not (CGROUP / "memory").is_dir(), reason="needs cgroup v1 memory and cpu controllers")
def test_default_workers_fit_a_two_core_four_gib_pod() -> None:
    """In a cgroup limited to 2 cores and 4 GiB (a small grading pod), does the default grade one notebook at a
    time with the 2 GiB default limit (two would OOM the pod) and two with a 512 MiB limit?"""
    name = f"aiml-test-pod-{os.getpid()}"
    memory, cpu = CGROUP / "memory" / name, CGROUP / "cpu" / name
    memory.mkdir()
    cpu.mkdir()
    try:
        (memory / "memory.limit_in_bytes").write_text(str(4 * 2**30))
        (cpu / "cpu.cfs_period_us").write_text("100000")
        (cpu / "cpu.cfs_quota_us").write_text("200000")

        def join() -> None:
            for group in (memory, cpu):
                (group / "cgroup.procs").write_text(str(os.getpid()))

        out = subprocess.run([sys.executable, "-c", WORKERS], capture_output=True, text=True, preexec_fn=join,
                             check=True).stdout.split()
    finally:
        for group in (memory, cpu):
            group.rmdir()
    assert out[:2] == ["1", "2"], out
    assert float(out[2]) <= 2 and int(out[3]) <= 4096, out
