"""What hub_config/jupyterhub_config.py needs to know, from the environment `course hub` sets (or defaults).

Ports: the proxy (public) at PORT, the hub at PORT+1 (on the hub's bridge, see isolation.py), the proxy's API at
PORT+2, the dashboard at PORT+10. User servers listen on port 8888 of their own address in their own network
namespace. The proxy listens on 127.0.0.1 unless AIML_HUB_IP says otherwise.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from aiml_course.config import Course, load_course
from aiml_course.hub.layout import HubLayout

REPO = Path(__file__).resolve().parents[3]
DEFAULT_PORT = 18000
TOKENS = ("admin-token", "dashboard-token")


@dataclass(frozen=True)
class HubSettings:
    course: Course
    layout: HubLayout
    port: int
    ip: str
    auth: str          # "pam" (real OS passwords) or "shared-password" (for demos without passwords)
    python: Path       # the interpreter whose environment has jupyterhub-singleuser, nbgrader and the course
    isolate: bool = True   # each server in its own namespaces (aiml_course.hub.isolation); AIML_HUB_ISOLATE=0: off

    @classmethod
    def from_env(cls) -> HubSettings:
        course = load_course(os.environ.get("AIML_COURSE_CONFIG", REPO / "course_config.py"))
        return cls(course=course, layout=HubLayout.for_course(course),
                   port=int(os.environ.get("AIML_HUB_PORT", DEFAULT_PORT)),
                   ip=os.environ.get("AIML_HUB_IP", "127.0.0.1"),
                   auth=os.environ.get("AIML_HUB_AUTH", "pam"),
                   python=Path(sys.executable), isolate=os.environ.get("AIML_HUB_ISOLATE", "1") != "0")

    @property
    def public_url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.public_url}/hub/api"

    @property
    def dashboard_port(self) -> int:
        return self.port + 10

    @property
    def bin(self) -> Path:
        return self.python.parent

    @property
    def student_read_only(self) -> list[Path]:
        """What every server sees of the installation, read-only: the Python environment, the student library and
        the Jupyter settings. Nothing else of the repository (no .git, source/, autograder/, tests/, var/)."""
        import aiml_notebooks

        venv = Path(sys.prefix)
        return [venv, Path(aiml_notebooks.__file__).resolve().parent, REPO / "hub_config" / "jupyter"]

    def env(self) -> dict[str, str]:
        """The variables that let the hub's children (dashboard, culler) find the same course."""
        env = {"AIML_COURSE_CONFIG": str(self.course.root.resolve() / "course_config.py"),
               "AIML_HUB_ROOT": str(self.layout.root), "AIML_HUB_PORT": str(self.port), "AIML_HUB_IP": self.ip}
        if os.environ.get("AIML_GRADEBOOK_URL"):  # `course hub --db URL`: the dashboard must use the same one
            env["AIML_GRADEBOOK_URL"] = os.environ["AIML_GRADEBOOK_URL"]
        return env


def token(layout: HubLayout, name: str) -> str:
    """A service token kept in state/ (0600), made on first use."""
    if name not in TOKENS:
        raise ValueError(f"unknown token {name!r}")
    path = layout.state_dir / name
    if not path.exists():
        layout.state_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()
