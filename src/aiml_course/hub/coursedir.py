"""The nbgrader course directory the hub shares with staff (course/ in HubLayout), and running nbgrader's apps.

nbgrader's apps run in a subprocess (`python -m nbgrader`, cwd = the course directory, whose nbgrader_config.py
is written here): their traitlets configuration is global to a process. Everything under the course directory is
made group-readable and -writable for the staff group (when it exists) and closed to everyone else.
"""

from __future__ import annotations

import grp
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from aiml_course.config import Course, Part
from aiml_course.errors import ConfigError, HubError
from aiml_course.hub.layout import HubLayout

logger = logging.getLogger(__name__)

NOT_SUBMITTED = "not submitted"      # the problem aiml_course.grading.pipeline records for a missing notebook
NBGRADER_TIMEOUT = 600               # seconds for one nbgrader command (collect of a large class included)
SCRUBBED_ENV = ("NBGRADER_HUB_AUTH", "NBGRADER_STUDENT_ID", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER")


def declared_part(course: Course, part_id: str) -> Part:
    """The declared part, or a HubError listing the parts there are."""
    try:
        return course.part(part_id)
    except ConfigError as exc:
        raise HubError(str(exc)) from exc


def prepare_course_dir(course: Course, layout: HubLayout) -> None:
    """The hub folders with their modes, and the nbgrader_config.py that nbgrader's apps read in course/."""
    layout.create()
    config = (
        "# Written by aiml_course.hub.exchange on every release/collect; edits are overwritten.\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {course.id!r}\n"
        f"c.CourseDirectory.root = {str(layout.course_dir)!r}\n"
        f"c.CourseDirectory.db_url = {nbgrader_db_url(layout)!r}\n"
        f"c.Exchange.root = {str(layout.exchange)!r}\n")
    target = layout.course_dir / "nbgrader_config.py"
    if not target.is_file() or target.read_text(encoding="utf-8") != config:
        target.write_text(config, encoding="utf-8")


def nbgrader_db_url(layout: HubLayout) -> str:
    return f"sqlite:///{layout.nbgrader_db}"


def run_nbgrader(layout: HubLayout, part: str, *args: str) -> str:
    """Run one nbgrader app in the course directory; its log, or a HubError with the lines that matter."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env["NBGRADER_EXCHANGE"] = str(layout.exchange)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])  # alembic
    try:
        proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=layout.course_dir, env=env,
                              capture_output=True, text=True, timeout=NBGRADER_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise HubError(f"nbgrader {args[0]} {part} took over {NBGRADER_TIMEOUT} s and was stopped") from exc
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        problems = [ln for ln in log.splitlines() if "ERROR" in ln or "CRITICAL" in ln] or log.splitlines()[-8:]
        raise HubError(f"nbgrader {args[0]} {part} failed (exit {proc.returncode}) in {layout.course_dir}:\n  "
                       + "\n  ".join(problems))
    logger.info("nbgrader %s %s:\n%s", args[0], part, log)
    return log


def _staff_gid(layout: HubLayout) -> int | None:
    try:
        return grp.getgrnam(layout.staff_group).gr_gid
    except KeyError:
        return None


def share_with_staff(layout: HubLayout) -> None:
    """Folders 2770 and files 0660, group = the staff group when it exists: staff read and write, others nothing."""
    gid = _staff_gid(layout)
    for dirpath, _dirs, files in os.walk(layout.course_dir):
        for path in [Path(dirpath), *(Path(dirpath) / f for f in files)]:
            if path.is_symlink():
                continue
            if gid is not None and path.stat().st_gid != gid:
                os.chown(path, -1, gid)
            path.chmod(0o2770 if path.is_dir() else 0o660)


def replace_tree(src: Path, dest: Path) -> None:
    """Make `dest` an exact copy of `src` (hidden folders such as .checks/ included)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    fresh.rmdir()
    shutil.copytree(src, fresh, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    if dest.exists():
        shutil.rmtree(dest)
    fresh.rename(dest)
