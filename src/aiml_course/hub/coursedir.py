"""The nbgrader course directory the hub shares with staff (course/ in HubLayout), and running nbgrader's apps.

nbgrader's apps run as root in a subprocess (their traitlets configuration is global to a process), and nothing
staff can write ever reaches them: `python -I -m nbgrader` (no cwd or PYTHON* variables on the import path), cwd
and nbgrader_config.py in the root-only state/nbgrader/, and a course root of their own there (state/nbgrader/
course/) holding only what root copied in. A `traitlets.py` or an edited nbgrader_config.py that a TA leaves in
course/ is never imported by root. Everything under course/ is made group-readable and -writable for the staff
group (when it exists) and closed to everyone else, through descriptors that never follow a link.
"""

from __future__ import annotations

import grp
import logging
import os
import shutil
import stat
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
    """The hub folders with their modes; nbgrader_config.py for root's apps (state/nbgrader/) and for the staff's
    formgrader (course/)."""
    layout.create()
    (layout.nbgrader_dir / "course").mkdir(mode=0o700, exist_ok=True)
    for root, target in ((layout.nbgrader_dir / "course", layout.nbgrader_dir / "nbgrader_config.py"),
                         (layout.course_dir, layout.course_dir / "nbgrader_config.py")):
        write_no_follow(target, (
            "# Written by aiml_course.hub on every release/collect; edits are overwritten.\n"
            "c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.course_id = {course.id!r}\n"
            f"c.CourseDirectory.root = {str(root)!r}\n"
            f"c.CourseDirectory.db_url = {nbgrader_db_url(layout)!r}\n"
            f"c.Exchange.root = {str(layout.exchange)!r}\n"))


def write_no_follow(path: Path, text: str, mode: int = 0o660) -> None:
    """Write `text` to `path` as a regular file, never through a link someone placed there."""
    data = text.encode("utf-8")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode) and os.read(fd, len(data) + 1) == data:
                return
        finally:
            os.close(fd)
    except FileNotFoundError:
        pass
    except OSError:
        path.unlink()   # a link (ELOOP) or something odd: replaced, never followed
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def read_no_follow(path: Path, limit: int = 1 << 16) -> str | None:
    """The text of a regular file (at most `limit` bytes), or None if it is missing, a link or not a file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit).decode("utf-8", errors="replace")
    finally:
        os.close(fd)


def nbgrader_db_url(layout: HubLayout) -> str:
    return f"sqlite:///{layout.nbgrader_db}"


def run_nbgrader(layout: HubLayout, part: str, *args: str) -> str:
    """Run one nbgrader app as root, isolated from everything staff can write (see the module's docstring); its
    log, or a HubError with the lines that matter."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env["NBGRADER_EXCHANGE"] = str(layout.exchange)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])  # alembic
    try:
        proc = subprocess.run([sys.executable, "-I", "-m", "nbgrader", *args], cwd=layout.nbgrader_dir, env=env,
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
    """Folders 2770 and files 0660, group = the staff group when it exists: staff read and write, others nothing.
    Every entry is opened without following links and changed through its descriptor (a link a TA swaps in is
    never chmod-ed or chown-ed through)."""
    gid = _staff_gid(layout)
    for _path, dirs, files, dirfd in os.fwalk(layout.course_dir, follow_symlinks=False):
        _share(dirfd, gid, 0o2770)
        for name in (*dirs, *files):
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dirfd)
            except OSError:
                continue   # a link, or gone
            try:
                st = os.fstat(fd)
                if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
                    _share(fd, gid, 0o2770 if stat.S_ISDIR(st.st_mode) else 0o660)
            finally:
                os.close(fd)


def make_readable(path: Path) -> None:
    """chmod 0644 a regular file, never through a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o644)
    finally:
        os.close(fd)


def _share(fd: int, gid: int | None, mode: int) -> None:
    st = os.fstat(fd)
    if gid is not None and st.st_gid != gid:
        os.fchown(fd, -1, gid)
    if stat.S_IMODE(st.st_mode) != mode:
        os.fchmod(fd, mode)


def replace_tree(src: Path, dest: Path) -> None:
    """Make `dest` an exact copy of `src` (hidden folders such as .checks/ included)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    fresh.rmdir()
    shutil.copytree(src, fresh, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    if dest.exists():
        shutil.rmtree(dest)
    fresh.rename(dest)
