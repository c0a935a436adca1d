"""Start and stop the course's JupyterHub (hub, proxy, dashboard, culler) as child processes.

`course hub` and the end-to-end tests both use `HubProcess`: prepare the folders, check students can run the
Python environment, start `jupyterhub`, wait until its API answers with our token, make hub users and groups equal
to the roster, and on stop send SIGTERM (the hub stops user servers, services and the proxy itself).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiml_course.config import Course
from aiml_course.errors import HubError
from aiml_course.gradebook import Gradebook
from aiml_course.hub.layout import HubLayout
from aiml_course.hub.roster import HubAPI, Member, import_roster, load_members
from aiml_course.hub.settings import REPO, HubSettings, token

DEMO_PART = "part-02-first-neuron"   # released by `course hub --demo`
DEMO_ROSTER = (  # username, role, cohort, name — prefixed so a demo never takes over a real account
    ("demo-instr", "instructor", "", "Ada Instructor"),
    ("demo-ta", "ta", "2026a", "Tom Assistant"),
    ("demo-alice", "student", "2026a", "Alice Example"),
    ("demo-bob", "student", "2026a", "Bob Example"),
    ("demo-carol", "student", "2026b", "Carol Example"),
)


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
        env = {**os.environ, **s.env(), **self.env, "PATH": f"{s.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        log = self.log_path.open("ab")
        t0 = time.monotonic()
        # a new session, so Ctrl-C in the terminal reaches only `course hub`, which then stops the hub in order
        self.proc = subprocess.Popen([str(s.bin / "jupyterhub"), "-f", str(REPO / "hub_config" / "jupyterhub_config.py")],
                                     cwd=s.layout.state_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
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
                return
            except (requests.RequestException, HubError):  # not up yet: refused, or the proxy's 404
                pass
            time.sleep(0.3)
        raise HubError(f"the hub did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, *, timeout: float = 60) -> float:
        """SIGTERM and wait; the hub stops servers, services and proxy. Seconds it took."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        return time.monotonic() - t0

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def prepare(course: Course, layout: HubLayout) -> list[Path]:
    """Folders with their modes, repository locked down; checks an unprivileged user can run the environment."""
    if os.geteuid() != 0:
        raise HubError("the hub runs as root (PAM logins, one OS user per student): run `sudo course hub`")
    layout.create()
    locked = HubLayout.lock_repository(course.root.resolve())
    venv_python = Path(os.environ.get("AIML_HUB_PYTHON", REPO / ".venv" / "bin" / "python"))
    probe = subprocess.run(["runuser", "-u", "nobody", "--", str(venv_python), "-c", "import aiml_notebooks, nbgrader"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise HubError(f"students could not run {venv_python} ({probe.stderr.strip()[-300:]}): every folder above "
                       "the repository must be readable and searchable by others (chmod o+rx), and the venv must be "
                       "made from /usr/bin/python3 (scripts/install.sh does)")
    return locked


def demo_roster(course: Course, layout: HubLayout, *, gradebook: Gradebook) -> dict[str, str]:
    """Create the demo people with fresh passwords (kept in state/demo-logins.txt, 0600); username → password."""
    from aiml_course.hub.roster import Member

    members = [Member(u, role, cohort if cohort in course.cohorts else "", name)
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
