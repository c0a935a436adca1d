"""Start and stop the course's JupyterHub (hub, proxy, dashboard, culler) as child processes.

`course hub` and the end-to-end tests both use `HubProcess`: prepare the folders, check students can run the
Python environment, start `jupyterhub`, wait until its API answers with our token, make hub users and groups equal
to the roster, and on stop send SIGTERM (the hub stops user servers, services and the proxy itself).
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiml_course.config import Course
from aiml_course.errors import HubError
from aiml_course.gradebook import Gradebook
from aiml_course.hub import isolation
from aiml_course.hub.layout import HubLayout
from aiml_course.hub.roster import HubAPI, Member, import_roster, load_members
from aiml_course.hub.settings import REPO, HubSettings, token

DEMO_PART = "part-02-first-neuron"   # released by `course hub --demo`
DEMO_PREFIX = "demo"                 # demo logins are <prefix>-<role name>: a demo never takes over a real account
DEMO_ROSTER = (  # name after the prefix, role, cohort, full name
    ("instr", "instructor", "", "Ada Instructor"),
    ("ta", "ta", "2026a", "Tom Assistant"),
    ("alice", "student", "2026a", "Alice Example"),
    ("bob", "student", "2026a", "Bob Example"),
    ("carol", "student", "2026b", "Carol Example"),
)
PR_SET_PDEATHSIG = 1


def demo_usernames(prefix: str = DEMO_PREFIX) -> list[str]:
    return [f"{prefix}-{name}" for name, *_ in DEMO_ROSTER]


def _die_with_parent() -> None:
    """In the hub's child, before exec: SIGTERM when `course hub` dies, however it dies (a closed terminal, a
    broken pipe, SIGKILL): no hub is ever left running as root on its own."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class HubProcess:
    settings: HubSettings
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started_in: float = 0.0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> HubAPI:
        return HubAPI(self.settings.api_url, token(self.settings.layout, "admin-token"))

    def start(self, *, timeout: float = 90) -> None:
        """Start the hub and return once its API answers (raises HubError with the log's tail otherwise)."""
        s = self.settings
        refuse_if_taken(s)
        env = {**os.environ, **s.env(), **self.env, "PATH": f"{s.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        log = self.log_path.open("ab")
        t0 = time.monotonic()
        # a new session, so Ctrl-C in the terminal reaches only `course hub`, which then stops the hub in order
        self.proc = subprocess.Popen([str(s.bin / "jupyterhub"), "-f", str(REPO / "hub_config" / "jupyterhub_config.py")],
                                     cwd=s.layout.state_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        log.close()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - t0

    def _wait_ready(self, timeout: float) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise HubError(f"jupyterhub exited with status {self.proc.returncode}:\n{self.log_tail()}")
            try:  # an authenticated call: proves the proxy route, the hub and our token all work
                self.api.call("GET", "/users", timeout=2)
                if self._answered_by_ours():
                    return
            except (requests.RequestException, HubError):  # not up yet: refused, or the proxy's 404
                pass
            time.sleep(0.3)
        raise HubError(f"the hub did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def _answered_by_ours(self) -> bool:
        """The hub that answered is the one we started (its pid file names our process), not a stray one."""
        pid_file = self.settings.layout.state_dir / "jupyterhub.pid"
        try:
            return self.proc is not None and int(pid_file.read_text().strip()) == self.proc.pid
        except (OSError, ValueError):
            return False

    def stop(self, *, timeout: float = 60) -> float:
        """SIGTERM and wait; the hub stops servers, services and proxy; then the network it made. Seconds taken."""
        if self.proc is None or self.proc.poll() is not None:
            self._clean_network()
            return 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._clean_network()
        return time.monotonic() - t0

    def _clean_network(self) -> None:
        if self.settings.isolate and isolation.available() is None:
            isolation.teardown(isolation.HubNetwork(self.settings.port))

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def refuse_if_taken(settings: HubSettings) -> None:
    """A hub (ours, stray, or anything else) already on one of the ports: say which, never report it as ours."""
    ports = (settings.port, settings.port + 1, settings.port + 2, settings.dashboard_port)
    taken = [p for p in ports if not _bindable(settings.ip, p)]
    if not taken:
        return
    pid_file = settings.layout.state_dir / "jupyterhub.pid"
    stray = pid_file.read_text().strip() if pid_file.is_file() else ""
    hint = (f"a hub started from {settings.layout.root} may still run (pid {stray}: `kill {stray}`)"
            if stray and Path(f"/proc/{stray}").exists() else "stop what runs there")
    raise HubError(f"port(s) {', '.join(map(str, taken))} on {settings.ip} are already in use: {hint}, "
                   "or choose another --port")


def _bindable(ip: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError:
            return False
        return True


GRADING_MATERIAL = (".git", "source", "autograder", "tests", "var")   # solutions, hidden cases, keys, the gradebook
PROBE = """import os, sys
for path in sys.argv[1:]:
    try:
        os.listdir(path) if os.path.isdir(path) else open(path, 'rb').close()
    except OSError:
        continue
    print(path)
"""


def reachable_grading_material(repo: Path) -> list[str]:
    """Paths of grading material an unprivileged user (nobody) can list or read, as that user finds them."""
    probes: list[str] = []
    for name in GRADING_MATERIAL:
        top = repo / name
        if not top.exists():
            continue
        probes.append(str(top))
        first = next((p for p in sorted(top.rglob("*")) if p.is_file() and not p.is_symlink()), None)
        if first is not None:
            probes.append(str(first))   # a folder closed to listing may still let a known file be read
    proc = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-I", "-c", PROBE, *probes],
                          capture_output=True, text=True, check=False, timeout=60)
    return proc.stdout.split()


def lock_and_check(repo: Path) -> list[Path]:
    """Close the repository's grading material to others, then check as `nobody` that none of it is reachable
    (a HubError naming what is); the folders whose modes were changed."""
    locked = HubLayout.lock_repository(repo)
    if leaks := reachable_grading_material(repo):
        raise HubError("students could read grading material: " + ", ".join(leaks) + " — close it "
                       "(chmod o-rwx) before starting the hub")
    return locked


def prepare(course: Course, layout: HubLayout) -> list[Path]:
    """Folders with their modes, repository locked down and checked; an unprivileged user can run the environment."""
    if os.geteuid() != 0:
        raise HubError("the hub runs as root (PAM logins, one OS user per student): run `sudo course hub`")
    layout.create()
    locked = lock_and_check(course.root.resolve())
    venv_python = Path(os.environ.get("AIML_HUB_PYTHON", REPO / ".venv" / "bin" / "python"))
    probe = subprocess.run(["runuser", "-u", "nobody", "--", str(venv_python), "-c", "import aiml_notebooks, nbgrader"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise HubError(f"students could not run {venv_python} ({probe.stderr.strip()[-300:]}): every folder above "
                       "the repository must be readable and searchable by others (chmod o+rx), and the venv must be "
                       "made from /usr/bin/python3 (scripts/install.sh does)")
    if os.environ.get("AIML_HUB_ISOLATE", "1") != "0" and (missing := isolation.available()):
        raise HubError(f"cannot isolate students' servers: {missing}")
    return locked


def demo_roster(course: Course, layout: HubLayout, *, gradebook: Gradebook,
                prefix: str = DEMO_PREFIX) -> dict[str, str]:
    """Create the demo people with fresh passwords (kept in state/demo-logins.txt, 0600); username → password."""
    from aiml_course.hub.roster import Member

    members = [Member(f"{prefix}-{u}", role, cohort if cohort in course.cohorts else "", name)
               for u, role, cohort, name in DEMO_ROSTER]
    passwords = {m.username: secrets.token_urlsafe(9) for m in members}
    import_roster(course, layout, members, passwords, gradebook=gradebook)
    until = datetime.now(UTC) + timedelta(days=30)  # the shipped deadlines are past: let demo students be on time
    for m in members:
        if m.role == "student":
            gradebook.grant_extension(m.username, DEMO_PART, until, granted_by="course hub --demo",
                                      reason="demo: deadlines in course_config.py are in the past")
    logins = layout.state_dir / "demo-logins.txt"
    logins.touch(mode=0o600)
    logins.write_text("".join(f"{u} {p}\n" for u, p in passwords.items()))
    return passwords


def roster_summary(layout: HubLayout) -> list[Member]:
    return sorted((m for m in load_members(layout).values() if m.active), key=lambda m: (m.role, m.username))
