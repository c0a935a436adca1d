"""Where the hub deployment keeps its files, and who may read them.

One root per course (default `/srv/aiml-course/<course id>`, or `$AIML_HUB_ROOT`):

    <root>/                 0755 root             traversable by everyone
      state/                0700 root             hub database, cookie secret, roster.json, tokens, logs
        nbgrader/           0700 root             cwd and config of the nbgrader apps root runs
      reports/              0700 root             HTML feedback reports (the dashboard serves them)
      staging/              0700 root             collect copies submissions here first
      exchange/             1777 root             nbgrader's Exchange.root (students create inbound files)
      course/               2770 root:<staff>     nbgrader's CourseDirectory.root (formgrader for instructors):
        release/<part>/                           copies of release/<part> handed to the exchange
        submitted/<student>/<part>/               what `course collect` gathered
        feedback/<student>/<part>/                HTML feedback handed back through the exchange
        gradebook.db                              nbgrader's gradebook (our grades mirrored for the formgrader)

The course repository's instructor-only folders (.git/, source/, autograder/, tests/, var/) must not be readable
by students: `HubLayout.lock_repository` removes the world bits (and students' servers do not even see the
repository: aiml_course.hub.isolation).
"""

from __future__ import annotations

import grp
import os
from dataclasses import dataclass
from pathlib import Path

from aiml_course.config import Course

DEFAULT_PARENT = Path("/srv/aiml-course")
PRIVATE_REPO_DIRS = (".git", "source", "autograder", "tests", "var")


@dataclass(frozen=True)
class HubLayout:
    root: Path
    course_id: str

    @classmethod
    def for_course(cls, course: Course, root: Path | str | None = None) -> HubLayout:
        """The layout under `root`, else `$AIML_HUB_ROOT`, else /srv/aiml-course/<course id>."""
        chosen = root or os.environ.get("AIML_HUB_ROOT") or DEFAULT_PARENT / course.id
        return cls(Path(chosen).resolve(), course.id)

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def course_dir(self) -> Path:
        return self.root / "course"

    @property
    def staging_dir(self) -> Path:
        """Root only: collect copies submissions here before moving them into course/submitted/."""
        return self.root / "staging"

    @property
    def reports_dir(self) -> Path:
        """Root only: the HTML feedback reports the dashboard serves (never in the staff-writable course/)."""
        return self.root / "reports"

    @property
    def nbgrader_dir(self) -> Path:
        """Root only: cwd and nbgrader_config.py of the nbgrader apps root runs (nothing staff can write)."""
        return self.state_dir / "nbgrader"

    @property
    def nbgrader_db(self) -> Path:
        return self.course_dir / "gradebook.db"

    @property
    def roster_file(self) -> Path:
        return self.state_dir / "roster.json"

    @property
    def staff_group(self) -> str:
        """The OS group of instructors and TAs: it owns course/ (the formgrader's course directory)."""
        return f"{self.course_id}-staff"

    def create(self) -> None:
        """Make the folders with their modes (idempotent; the staff group must exist, see roster)."""
        for path, mode in ((self.root, 0o755), (self.state_dir, 0o700), (self.exchange, 0o1777),
                           (self.course_dir, 0o2770), (self.staging_dir, 0o700), (self.reports_dir, 0o700),
                           (self.nbgrader_dir, 0o700)):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(mode)
        try:
            os.chown(self.course_dir, 0, grp.getgrnam(self.staff_group).gr_gid)
        except KeyError:
            pass  # no staff yet: root only until the roster adds some

    @staticmethod
    def lock_repository(repo: Path) -> list[Path]:
        """Remove 'other' permissions from the repository's instructor-only folders; the ones changed."""
        changed = []
        (repo / "var").mkdir(mode=0o750, exist_ok=True)  # the default gradebook goes here: private from the start
        for name in PRIVATE_REPO_DIRS:
            path = repo / name
            if path.is_dir() and path.stat().st_mode & 0o007:
                path.chmod(path.stat().st_mode & ~0o007)
                changed.append(path)
        return changed
