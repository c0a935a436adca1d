"""One real JupyterHub for the whole hub test session: `course hub --demo` as a subprocess (hub, proxy, dashboard,
idle culler, a demo roster of real OS users), on ports no other test uses, under a fresh root in /srv.

The people are the tests' own (`t<random>-alice`, ...), never the demo's (`demo-alice`, ...): a demo started with
`make demo HUB=1` on the same machine is left alone, and every account, home, cgroup, network namespace and
folder the tests made is removed after them."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aiml_course.hub import isolation
from aiml_course.hub.launch import demo_usernames
from aiml_course.hub.layout import PRIVATE_REPO_DIRS, HubLayout
from tests.conftest import ROOT

COURSE = ROOT / ".venv" / "bin" / "course"
ARTIFACTS = Path(os.environ.get("AIML_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "hub"
PART = "part-02-first-neuron"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the hub needs root (PAM logins, one OS user each)")


@dataclass
class HubRun:
    base: str
    root: Path
    logins: dict[str, str]
    log: Path
    prefix: str = "demo"
    port: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)
    extra_users: list[str] = field(default_factory=list)   # made by tests (removed with the hub's)

    def user(self, name: str) -> str:
        """The login of the demo person `name` (alice, bob, carol, ta, instr) in this run."""
        return f"{self.prefix}-{name}"

    @property
    def layout(self) -> HubLayout:
        return HubLayout(self.root, "aiml101")

    @property
    def gradebook_url(self) -> str:
        return f"sqlite:///{self.layout.state_dir / 'gradebook.sqlite'}"

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def _free_base_port() -> int:
    """A base port P with P, P+1, P+2 and P+10 free (the hub's fixed ports), and no bridge of that name."""
    for base in range(18600, 19800, 200):
        ports = [base, base + 1, base + 2, base + 10]
        if Path(f"/sys/class/net/{isolation.HubNetwork(base).bridge}").exists():
            continue
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError("no free port block for the hub between 18600 and 19800")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture(scope="package")  # stopped (and the repository's modes restored) before other test folders run
def hub() -> Iterator[HubRun]:
    if os.geteuid() != 0:
        pytest.skip("the hub needs root")
    shutil.rmtree(ARTIFACTS, ignore_errors=True)   # this run's screenshots, logs and timings only
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="aiml-hub-", dir="/srv" if Path("/srv").is_dir() else None))
    root.chmod(0o755)
    modes = {ROOT / d: (ROOT / d).stat().st_mode for d in PRIVATE_REPO_DIRS if (ROOT / d).is_dir()}
    port = _free_base_port()
    log = ARTIFACTS / "course-hub.log"
    run = HubRun(f"http://127.0.0.1:{port}", root, {}, log, prefix=f"t{secrets.token_hex(2)}", port=port)
    t0 = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen([str(COURSE), "hub", "--demo", "--demo-prefix", run.prefix, "--hub-root", str(root),
                                 "--port", str(port), "--db", run.gradebook_url], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while "Press Ctrl-C to stop" not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                raise AssertionError(f"`course hub` exited ({proc.returncode}):\n{run.log_tail()}\n--- hub.log:\n"
                                     + _tail(root / "state" / "hub.log"))
            if time.monotonic() > deadline:
                raise AssertionError(f"`course hub` not ready in 240 s:\n{run.log_tail()}")
            time.sleep(0.3)
        run.timings["course hub --demo: command to ready (roster, hub, release)"] = time.monotonic() - t0
        text = log.read_text()
        run.timings["hub start (process to API answering)"] = float(text.split("JupyterHub is up in ")[1].split(" s")[0])
        run.logins = dict(line.split() for line in (root / "state" / "demo-logins.txt").read_text().splitlines())
        yield run
    finally:
        t1 = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        run.timings["hub stop (SIGTERM to exit, servers included)"] = time.monotonic() - t1
        shutil.copy(root / "state" / "hub.log", ARTIFACTS / "hub.log") if (root / "state" / "hub.log").exists() \
            else None
        (ARTIFACTS / "timings.json").write_text(json.dumps(run.timings, indent=1))
        print("\nhub timings (s):\n" + "\n".join(f"  {k}: {v:.2f}" for k, v in run.timings.items()))
        for path, mode in modes.items():
            path.chmod(mode)
        for user in [*demo_usernames(run.prefix), *run.extra_users]:
            subprocess.run(["pkill", "-KILL", "-u", user], capture_output=True, check=False)
            subprocess.run(["userdel", "--remove", user], capture_output=True, check=False)
        subprocess.run(["groupdel", "aiml101-staff"], capture_output=True, check=False) \
            if not _group_has_members("aiml101-staff") else None
        isolation.teardown(isolation.HubNetwork(port))
        shutil.rmtree(root, ignore_errors=True)


def _group_has_members(group: str) -> bool:
    import grp

    try:
        return bool(grp.getgrnam(group).gr_mem)
    except KeyError:
        return True   # nothing to delete


def _tail(path: Path, n: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(none)"
