"""The bwrap sandbox itself: what untrusted code can and cannot do. Real kernel limits, no mocks."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiml_course.config import Limits
from aiml_course.sandbox import BwrapSandbox, DockerSandbox, ForkServerSandbox, RunResult, Sandbox
from tests.conftest import BACKENDS, ROOT, needs_bwrap

pytestmark = needs_bwrap
BACKEND = "bwrap"


@pytest.fixture(autouse=True, params=[b for b in BACKENDS if b != "none"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test runs against both isolation backends."""
    global BACKEND
    BACKEND = request.param
    yield request.param
    BACKEND = "bwrap"


_servers: dict[tuple[int, ...], ForkServerSandbox] = {}
_jobs: list[tuple[Sandbox, Path]] = []


@pytest.fixture(autouse=True)
def _unmount_jobs() -> Iterator[None]:
    """Unmount each job's size-limited folders after the test has looked at them."""
    yield
    while _jobs:
        box, job = _jobs.pop()
        box.cleanup(job)


def _sandbox(limits: Limits) -> Sandbox:
    if BACKEND == "bwrap":
        return BwrapSandbox(limits)
    if BACKEND == "docker":
        return DockerSandbox(limits)
    key = tuple(vars(limits).values())
    if key not in _servers:  # one warm fork server per set of limits, as a grader keeps one per thread
        _servers[key] = ForkServerSandbox(limits)
    return _servers[key]


def run(tmp_path: Path, code: str, **limits: int) -> tuple[RunResult, dict]:
    """Run `code` in the sandbox; it reports findings by writing JSON to /job/out/report.json."""
    job = tmp_path / "job"
    (job / "in").mkdir(parents=True)
    script = job / "in" / "probe.py"
    script.write_text("import json, os\nreport = {}\n" + code +
                      "\njson.dump(report, open('/job/out/report.json', 'w'))\n")
    settings = {"wall_seconds": 20, "cell_seconds": 10, "memory_mb": 512, "pids": 64, **limits}
    box = _sandbox(Limits(**settings))
    result = box.run(job, script, [])
    _jobs.append((box, job))
    out = job / "out" / "report.json"
    return result, (json.loads(out.read_text()) if out.exists() else {})


def test_runs_as_nobody_without_capabilities(tmp_path: Path) -> None:
    """Is the code uid 65534 with every capability dropped and no_new_privs set?"""
    result, report = run(tmp_path, "report['uid'] = os.getuid()\n"
                         "report['status'] = open('/proc/self/status').read()")
    assert result.exit_code == 0, result.stderr
    assert report["uid"] == 65534
    assert "CapEff:\t0000000000000000" in report["status"] and "NoNewPrivs:\t1" in report["status"]


def test_no_network(tmp_path: Path) -> None:
    """Do DNS, outside connections and host loopback services all fail?"""
    code = """
import socket
for name, target in [('outside', ('1.1.1.1', 80)), ('loopback', ('127.0.0.1', 22))]:
    try:
        socket.create_connection(target, timeout=2); report[name] = 'connected'
    except OSError as exc:
        report[name] = type(exc).__name__
try:
    socket.getaddrinfo('pypi.org', 443); report['dns'] = 'resolved'
except OSError as exc:
    report['dns'] = type(exc).__name__
"""
    _, report = run(tmp_path, code)
    assert report == {"outside": "OSError", "loopback": "ConnectionRefusedError", "dns": "gaierror"} or \
        ("connected" not in report.values() and report["dns"] != "resolved")


def test_cannot_see_grading_material_or_secrets(tmp_path: Path) -> None:
    """Are the autograder bundles, source notebooks, /etc/shadow, root's home and /home unreadable or empty?"""
    targets = [str(ROOT / "autograder"), str(ROOT / "source"), str(ROOT / "var"), "/etc/shadow", "/root", "/home",
               str(tmp_path)]
    code = (f"for t in {targets!r}:\n    try:\n"
            "        report[t] = bool(os.listdir(t)) if os.path.isdir(t) else bool(open(t, 'rb').read(1))\n"
            "    except OSError:\n        report[t] = False")  # missing, unreadable or empty: nothing to see
    result, report = run(tmp_path, code)
    assert result.exit_code == 0, result.stderr
    assert report == dict.fromkeys(targets, False)


def test_system_and_code_are_read_only(tmp_path: Path) -> None:
    """Can it write only to its scratch folder and /tmp, not to /usr, the venv or the course code?"""
    code = f"""
for t in ['/usr/evil', '{ROOT / "src" / "evil.py"}', '/evil', '/job/in/evil', '/job/work/ok', '/tmp/ok']:
    try:
        open(t, 'w').write('x'); report[t] = 'written'
    except OSError as exc:
        report[t] = type(exc).__name__
"""
    _, report = run(tmp_path, code)
    assert report.pop("/job/work/ok") == "written" and report.pop("/tmp/ok") == "written"
    assert "written" not in report.values(), report
    assert not (ROOT / "src" / "evil.py").exists()


def test_memory_bomb_is_oom_killed_and_reported(tmp_path: Path) -> None:
    """Is touching 2 GiB under a 256 MiB limit killed, with oom_killed read from the cgroup?"""
    result, _ = run(tmp_path, "b = bytearray(2 * 1024**3)\nb[::4096] = b'x' * (len(b) // 4096)", memory_mb=256)
    assert result.oom_killed, result
    assert "memory" in result.reason


def test_fork_bomb_hits_the_pids_limit_and_leaves_nothing(tmp_path: Path) -> None:
    """Does a fork bomb stop at the pids limit, get reported, and leave no process behind?"""
    code = """
import time
kids = 0
try:
    for _ in range(1000):
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
        kids += 1
except OSError as exc:
    report['error'] = exc.errno
report['kids'] = kids
"""
    result, report = run(tmp_path, code, pids=32)
    assert report["kids"] < 32
    # docker too, on cgroup v1 as here: read from our parent cgroup's pids.peak (DockerSandbox._pids_limit_reached)
    assert result.pids_limit_hit, result
    assert "processes" in result.reason
    leftover = subprocess.run(["pgrep", "-u", "65534", "-f", "probe.py"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


def test_wall_clock_limit_kills_sleepers(tmp_path: Path) -> None:
    """Is a program sleeping past the wall limit killed and reported as timed out?"""
    result, _ = run(tmp_path, "import time\ntime.sleep(30)", wall_seconds=2, cell_seconds=1)
    assert result.timed_out and result.wall_seconds < 10


def test_large_files_are_stopped_by_the_size_limit(tmp_path: Path) -> None:
    """Is writing past the file-size limit stopped (EFBIG: Python ignores SIGXFSZ) instead of filling the disk?"""
    code = ("try:\n    f = open('/job/work/big', 'wb')\n    for _ in range(100):\n        f.write(b'x' * 2**20)\n"
            "        f.flush()\nexcept OSError as exc:\n    report['errno'] = exc.errno")
    _, report = run(tmp_path, code, output_mb=8)
    assert report == {"errno": 27}  # EFBIG
    assert (tmp_path / "job" / "work" / "big").stat().st_size <= 8 * 2**20


def test_background_processes_die_with_the_run(tmp_path: Path) -> None:
    """Do double-forked, setsid'd children end when the run ends?"""
    code = "import subprocess\nsubprocess.Popen(['setsid', 'sleep', '300'], start_new_session=True)"
    run(tmp_path, code)
    leftover = subprocess.run(["pgrep", "-u", "65534", "sleep"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_cgroups_are_removed_after_each_run(tmp_path: Path) -> None:
    """Are per-run cgroups cleaned up (no leak of cgroup folders), in every hierarchy (docker's runc creates our
    parent in blkio, devices, freezer, ... too), and does a run far below the pids limit report no hit?"""
    from aiml_course.sandbox import owner_tag

    result, _ = run(tmp_path, "pass")  # its cgroups are named after the job folder and us: "job-<owner tag>-<random>"
    assert not result.pids_limit_hit, result
    pattern = f"job-{owner_tag()}-*"
    mine = [p for p in Path("/sys/fs/cgroup").glob(f"*/aiml-grading/{pattern}") if p.is_dir()]
    mine += [p for p in Path("/sys/fs/cgroup/aiml-grading").glob(pattern) if p.is_dir()]  # cgroup v2
    assert mine == [], mine


def test_filling_the_disk_stops_at_the_job_quota(tmp_path: Path) -> None:
    """Do many files that together pass the disk limit get ENOSPC, without touching the host's disk?"""
    code = ("n = 0\ntry:\n    for i in range(100):\n        with open(f'/job/work/f{i}', 'wb') as f:\n"
            "            f.write(b'x' * 8 * 2**20)\n        n += 1\nexcept OSError as exc:\n"
            "    report['errno'] = exc.errno\nreport['files'] = n")
    _, report = run(tmp_path, code, disk_mb=64, output_mb=16)
    assert report["errno"] == 28 and report["files"] < 9  # ENOSPC after about 64 MiB


def test_grader_environment_and_host_paths_stay_outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With /proc made readable again (PR_SET_DUMPABLE), does the sandbox see none of the grader's environment
    (a database URL it was started with) and no host path of the course, the venv or the job in any command line?"""
    monkeypatch.setenv("GRADER_DB_URL", "postgresql://grader:hunter2@db/course")
    code = """
import ctypes
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self/* readable to ourselves again
def read(p):
    try:
        return open(p, 'rb').read().decode(errors='replace')
    except OSError as exc:
        return type(exc).__name__
report['environ'] = read('/proc/self/environ')
report['cmdline'] = {p: read(p) for p in ('/proc/1/cmdline', '/proc/self/cmdline', f'/proc/{os.getppid()}/cmdline')}
"""
    if BACKEND == "forkserver":  # a server of its own, started from this test's environment (the shared one is not)
        box: Sandbox = ForkServerSandbox(Limits(wall_seconds=60, cell_seconds=20), idle_seconds=5,
                                         server_name=f"envtest-{os.getpid()}")
        job = tmp_path / "job"
        (job / "in").mkdir(parents=True)
        (job / "in" / "probe.py").write_text("import json, os\nreport = {}\n" + code +
                                             "\njson.dump(report, open('/job/out/report.json', 'w'))\n")
        result = box.run(job, job / "in" / "probe.py", [])
        _jobs.append((box, job))
        report = json.loads((job / "out" / "report.json").read_text())
        box.close()
    else:
        result, report = run(tmp_path, code)
    assert result.exit_code == 0, result.stderr
    assert "KEY" not in report["environ"] and "Error" not in report["environ"], report["environ"]
    assert "hunter2" not in report["environ"] and "GRADER_DB_URL" not in report["environ"]
    assert "HOME=/job/work" in report["environ"]
    for name, line in report["cmdline"].items():
        for host_path in (str(ROOT), str(tmp_path)):
            assert host_path not in line, (name, line)


def _as_other_user(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run a command as an unprivileged user that is neither root nor the sandbox user."""
    return subprocess.run(["setpriv", "--reuid=12345", "--regid=12345", "--clear-groups", *argv],
                          capture_output=True, text=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_other_users_cannot_see_jobs_being_graded(tmp_path: Path) -> None:
    """While a notebook is graded (the real engine), can another local user list the jobs, or list or read the
    job folder, the submission or job.json? Folders are 0700 under a root-only parent."""
    import threading

    from aiml_course.grading.engine import execute
    from aiml_course.sandbox import owner_tag, private_root

    box = _sandbox(Limits(wall_seconds=60, cell_seconds=30))
    notebook = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "source": "import time\ntime.sleep(6)", "outputs": [],
         "execution_count": None}]})
    done = threading.Thread(target=execute, args=(notebook, [], box), kwargs={"cell_seconds": 30})
    done.start()
    mine = private_root() / "jobs" / owner_tag()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (mine.is_dir() and any(mine.glob("aiml-job-*/in/job.json"))):
        time.sleep(0.05)
    jobs = list(mine.glob("aiml-job-*"))
    try:
        assert jobs, "no job folder appeared under the private root"
        job = jobs[0]
        assert (job / "in" / "notebook.ipynb").exists()
        for target in (private_root(), private_root() / "jobs", mine, job, job / "in"):
            assert _as_other_user("ls", str(target)).returncode != 0, target
        for secret in (job / "in" / "notebook.ipynb", job / "in" / "job.json"):
            assert _as_other_user("cat", str(secret)).returncode != 0, secret
        assert stat_mode(private_root()) == 0o700 and stat_mode(job) == 0o700
    finally:
        done.join()


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


GRADER = """
import sys, time
from pathlib import Path
from aiml_course.config import Limits
from aiml_course.sandbox import BwrapSandbox, DockerSandbox, ForkServerSandbox, new_job_root, owner_tag
box = {"bwrap": BwrapSandbox, "forkserver": ForkServerSandbox, "docker": DockerSandbox}[sys.argv[1]](
    Limits(wall_seconds=120, cell_seconds=60))
job = new_job_root()
(job / "in").mkdir()
box.prepare(job)
(job / "in" / "victim.py").write_text(
    "import subprocess, time\\nsubprocess.Popen(['sleep', '307'], start_new_session=True)\\ntime.sleep(307)\\n")
print(owner_tag(), job, flush=True)
box.run(job, job / "in" / "victim.py", [])
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_a_killed_grader_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGKILL the grader while a job runs: its processes die, and the next grader's start removes the job's
    mounts, folder and cgroups."""
    import signal
    import sys

    from aiml_course.sandbox import _mounts_under, reclaim_leftovers

    victims_before = _victim_containers(DockerSandbox(Limits())) if BACKEND == "docker" else set()
    grader = subprocess.Popen([sys.executable, "-c", GRADER, BACKEND], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    assert grader.stdout is not None
    tag, job_path = grader.stdout.readline().split()
    job = Path(job_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _running("307"):
        time.sleep(0.1)
    assert _running("307"), "the job never started"
    assert _mounts_under(job), "the job's folders should be mounted while it runs"
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    reclaim_leftovers()  # what the next grader does when it starts
    if BACKEND == "docker":  # ... and, constructing its docker backend, removes the dead grader's containers
        DockerSandbox._reclaimed_daemons.clear()
        assert _victim_containers(DockerSandbox(Limits())) - victims_before == set(), "its container was kept"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _running("307"):
        time.sleep(0.1)
    assert not _running("307"), "the job's processes outlived the grader"
    assert not job.exists() and not _mounts_under(job)
    leftover = [g for g in Path("/sys/fs/cgroup").glob(f"*/aiml-grading/*{tag}*")]
    assert leftover == [], leftover


def _victim_containers(box: DockerSandbox) -> set[str]:
    """The docker daemon's containers (running or not) that ran this test's victim.py."""
    listed = box._docker("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}").stdout
    return {line.split()[0] for line in listed.splitlines() if "victim.py" in line}


def _running(marker: str) -> bool:
    found = subprocess.run(["pgrep", "-u", "65534", "-f", f"sleep {marker}"], capture_output=True, text=True)
    return bool(found.stdout.strip())
