"""Grading on a real Dask cluster: a scheduler and two workers on 127.0.0.1, started as processes."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aiml_course.cli import main
from aiml_course.config import Course
from aiml_course.gradebook import Gradebook
from aiml_course.grading.pipeline import grade_part
from aiml_course.sandbox import Sandbox
from tests.conftest import ROOT, bwrap_available
from tests.integration.test_grading import CORRECT, NB, PART, notebook

BIN = ROOT / ".venv" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `dask scheduler` and two `dask worker` processes; yields the scheduler address."""
    logs = tmp_path_factory.mktemp("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=(logs / "scheduler.log").open("wb"),
                              stderr=subprocess.STDOUT)]
    for n in range(2):
        procs.append(subprocess.Popen(
            [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1", "--name", f"w{n}",
             "--no-dashboard", "--host", "127.0.0.1"],
            stdout=(logs / f"worker{n}.log").open("wb"), stderr=subprocess.STDOUT))
    try:
        from distributed import Client

        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    if len(client.scheduler_info()["workers"]) == 2:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Dask cluster did not start: " + (logs / "scheduler.log").read_text()[-2000:])
            time.sleep(0.5)
        yield address
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def test_grading_on_two_dask_workers_matches_local_grading(cluster: str, mini_course: Course, sandbox: Sandbox,
                                                           tmp_path: Path) -> None:
    """Do submissions graded on the Dask workers score exactly as when graded locally, using both workers?"""
    subs = tmp_path / "subs"
    answers = {"alice": CORRECT, "bob": {"q1": CORRECT["q1"]}, "carol": {}, "dave": CORRECT}
    for student, ans in answers.items():
        (subs / student).mkdir(parents=True)
        (subs / student / f"{NB}.ipynb").write_text(notebook(mini_course, ans))
    remote = grade_part(mini_course, PART, subs, gradebook=Gradebook(f"sqlite:///{tmp_path / 'r.sqlite'}"),
                        sandbox=sandbox, scheduler=cluster, show_progress=False)
    local = grade_part(mini_course, PART, subs, gradebook=Gradebook(f"sqlite:///{tmp_path / 'l.sqlite'}"),
                       sandbox=sandbox, workers=2, show_progress=False)
    assert sorted((s, g.earned) for s, g in remote.graded) == sorted((s, g.earned) for s, g in local.graded)
    assert dict((s, g.earned) for s, g in remote.graded) == {"alice": 8, "bob": 4, "carol": 0, "dave": 8}
    from distributed import Client

    with Client(cluster) as client:
        ran_on = client.run(lambda dask_worker: len(dask_worker.data) + dask_worker.state.executed_count)
    assert all(count > 0 for count in ran_on.values()), ran_on  # both workers did some grading


def test_cli_scheduler_option_and_unreachable_scheduler(cluster: str, mini_course: Course, tmp_path: Path) -> None:
    """Does `course grade --scheduler` work, and does a dead address give a clear error (exit 2)?"""
    subs = tmp_path / "subs" / "erin"
    subs.mkdir(parents=True)
    (subs / f"{NB}.ipynb").write_text(notebook(mini_course, CORRECT))
    cfg = ["--config", str(mini_course.root / "course_config.py")]
    backend = [] if bwrap_available() else ["--sandbox", "none"]
    db = ["--db", f"sqlite:///{tmp_path / 'g.sqlite'}"]
    ok = CliRunner().invoke(main, [*cfg, "grade", PART, str(tmp_path / "subs"), *db, *backend, "--scheduler", cluster])
    assert ok.exit_code == 0 and "8/8" in ok.output, ok.output
    dead = CliRunner().invoke(main, [*cfg, "grade", PART, str(tmp_path / "subs"), *db, *backend, "--force",
                                     "--scheduler", f"tcp://127.0.0.1:{_free_port()}"])
    assert dead.exit_code == 2 and "cannot reach the Dask scheduler" in dead.output
