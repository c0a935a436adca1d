"""Collecting submissions from nbgrader's inbound as root, believing nothing a student wrote.

nbgrader's own `collect` (run as root) takes the student from the folder's name, the time from the folder's name
and `timestamp.txt`, and copies whatever is there, links included (a student's link to /etc/shadow came back in
submitted/). Here instead:

- the student is the OS user who owns the inbound folder (the name only claims one; a mismatch is reported);
- the time handed in is the system's: the latest change time (ctime) of the folder and everything in it. Only
  the kernel sets a ctime, to the current time, on every change: a student can make it later, never earlier.
  It is written to the collected folder's `timestamp.txt`, which is what the grading pipeline reads;
- only regular files are copied, each opened without following links, with caps on size and count;
- the copy is made in a root-only staging folder and renamed into course/submitted/<student>/<part> through
  folder descriptors opened without following links, so a link planted in the staff-writable course directory
  is never written through either.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiml_course.errors import HubError

NAME = re.compile(r"^(?P<student>[^+/]+)\+(?P<part>[^+/]+)\+(?P<stamp>[^+/]+)(\+(?P<nonce>[^+/]+))?$")
MAX_FILE_BYTES = 50 * 2**20
MAX_TOTAL_BYTES = 200 * 2**20
MAX_FILES = 500
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"     # nbgrader's timestamp.txt format
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


@dataclass(frozen=True)
class Handed:
    """One folder in the inbound: who really handed it in and when the system saw it last change."""

    folder: str          # its name in the inbound
    student: str         # the owner's login
    at: datetime         # the system's time (latest ctime), UTC
    claimed: str         # the student named in the folder's name


@dataclass
class Collected:
    students: list[str] = field(default_factory=list)     # a submission of the part is collected for each
    updated: list[str] = field(default_factory=list)      # collected now (new, or handed in again)
    problems: list[str] = field(default_factory=list)     # claims that did not match, links and oddities skipped


def latest_per_student(inbound: Path, part: str) -> tuple[dict[str, Handed], list[str]]:
    """Each student's latest submission of `part` by the system's time; and what looked wrong."""
    problems: list[str] = []
    latest: dict[str, Handed] = {}
    with os.scandir(inbound) as entries:
        for entry in entries:
            m = NAME.match(entry.name)
            if m is None or m["part"] != part:
                continue
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                problems.append(f"{entry.name}: not a folder (a link or a file): skipped")
                continue
            try:
                owner = pwd.getpwuid(st.st_uid).pw_name
            except KeyError:
                problems.append(f"{entry.name}: owned by uid {st.st_uid}, not a known user: skipped")
                continue
            if st.st_uid == 0:
                continue   # not handed in by a student
            if m["student"] != owner:
                problems.append(f"{entry.name}: handed in by {owner} but names {m['student']}: filed under {owner}")
            try:
                at = _latest_change(inbound, entry.name)
            except OSError as exc:
                problems.append(f"{entry.name}: unreadable ({exc.strerror}): skipped")
                continue
            handed = Handed(entry.name, owner, at, m["student"])
            if owner not in latest or handed.at > latest[owner].at:
                latest[owner] = handed
    return latest, problems


def _latest_change(inbound: Path, name: str) -> datetime:
    """The latest ctime of the folder and of everything inside it (links included, never followed)."""
    newest = 0.0
    inbound_fd = _open_dir(inbound)
    try:
        top = os.open(name, DIR_FLAGS, dir_fd=inbound_fd)
    finally:
        os.close(inbound_fd)
    try:
        newest = os.fstat(top).st_ctime
        for _dirpath, dirnames, filenames, dirfd in os.fwalk(".", dir_fd=top, follow_symlinks=False):
            for item in (*dirnames, *filenames):
                newest = max(newest, os.stat(item, dir_fd=dirfd, follow_symlinks=False).st_ctime)
    finally:
        os.close(top)
    return datetime.fromtimestamp(newest, tz=UTC)


def _open_dir(path: Path) -> int:
    """A descriptor of the folder `path`, refusing a link as its last component (the caller closes it)."""
    return os.open(path, DIR_FLAGS)


def copy_regular_files(inbound: Path, name: str, dest: Path) -> list[str]:
    """Copy the regular files of inbound/<name> (sub-folders kept) into the new folder `dest`; what was skipped."""
    skipped: list[str] = []
    total = count = 0
    dest.mkdir(mode=0o700)
    inbound_fd = _open_dir(inbound)
    top = os.open(name, DIR_FLAGS, dir_fd=inbound_fd)
    try:
        for dirpath, dirnames, filenames, dirfd in os.fwalk(".", dir_fd=top, follow_symlinks=False):
            rel = Path(dirpath)
            for sub in list(dirnames):   # fwalk lists links to folders here too (and does not enter them)
                if stat.S_ISDIR(os.stat(sub, dir_fd=dirfd, follow_symlinks=False).st_mode):
                    (dest / rel / sub).mkdir(mode=0o700, exist_ok=True)
                else:
                    skipped.append(f"{rel / sub}: a link: not followed")
                    dirnames.remove(sub)
            for item in filenames:
                if count >= MAX_FILES:
                    skipped.append(f"{rel / item}: over {MAX_FILES} files")
                    continue
                copied = _copy_one(dirfd, item, dest / rel / item, MAX_TOTAL_BYTES - total)
                if isinstance(copied, str):
                    skipped.append(f"{rel / item}: {copied}")
                else:
                    total += copied
                    count += 1
    finally:
        os.close(top)
        os.close(inbound_fd)
    return skipped


def _copy_one(dirfd: int, name: str, target: Path, budget: int) -> int | str:
    """Bytes copied, or why the entry was not copied."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dirfd)
    except OSError as exc:
        return "a link: not followed" if exc.errno == 40 else f"unreadable ({exc.strerror})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file"
        if st.st_size > min(MAX_FILE_BYTES, budget):
            return f"too large ({st.st_size} bytes)"
        with open(target, "xb") as out:
            left = min(MAX_FILE_BYTES, budget) + 1
            while left > 0 and (chunk := os.read(fd, min(1 << 20, left))):
                out.write(chunk)
                left -= len(chunk)
        if left <= 0:
            target.unlink()
            return "grew while copied"
        return st.st_size
    finally:
        os.close(fd)


def file_into(course_dir: Path, staged: Path, student: str, part: str, *, under: str = "submitted") -> None:
    """Move the staged folder to course_dir/<under>/<student>/<part>, replacing an earlier one, never through
    a link (every folder on the way is opened with O_NOFOLLOW)."""
    course_fd = _open_dir(course_dir)
    fds = [course_fd]
    try:
        parent = course_fd
        for name in (under, student):
            try:
                os.mkdir(name, 0o2770, dir_fd=parent)
            except FileExistsError:
                pass
            parent = os.open(name, DIR_FLAGS, dir_fd=parent)
            fds.append(parent)
        try:
            old = os.stat(part, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None:
            trash = staged.parent / f"old-{student}"
            os.rename(part, trash, src_dir_fd=parent)      # out of the staff's reach first, then removed
            if trash.is_dir() and not trash.is_symlink():
                shutil.rmtree(trash)
            else:
                trash.unlink()
        os.rename(staged, part, dst_dir_fd=parent)
    finally:
        for fd in reversed(fds):
            os.close(fd)


def collect(inbound: Path, course_dir: Path, staging_root: Path, part: str, *,
            collected_stamp: dict[str, str]) -> Collected:
    """Collect each student's latest submission of `part`; `collected_stamp` maps student → the timestamp.txt of
    what was collected before (a submission is copied again only when the system's time differs)."""
    if not inbound.is_dir():
        raise HubError(f"no inbound folder {inbound}")
    latest, problems = latest_per_student(inbound, part)
    out = Collected(problems=problems)
    staging_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging_root.chmod(0o700)
    for student, handed in sorted(latest.items()):
        stamp = handed.at.strftime(TIME_FORMAT)
        out.students.append(student)
        if collected_stamp.get(student) == stamp:
            continue
        with tempfile.TemporaryDirectory(dir=staging_root) as tmp:
            staged = Path(tmp) / "copy"
            for note in copy_regular_files(inbound, handed.folder, staged):
                out.problems.append(f"{handed.folder}/{note}: skipped")
            (staged / "timestamp.txt").write_text(stamp)   # the system's time, replacing the student's claim
            file_into(course_dir, staged, student, part)
        out.updated.append(student)
    return out
