"""The roster: who takes the course, in which cohort, in which role — as OS accounts, hub groups and gradebook rows.

A roster CSV has a header row and the columns

    username  (required)  OS and hub login: lowercase letters, digits, '_' or '-', starting with a letter, ≤ 32
    role      (required)  student | ta | instructor
    cohort    (students)  one of course_config.py's cohorts; optional for a TA (limits what the TA sees)
    name, email           optional
    password              optional: sets the OS (PAM) password; leave empty when logins come from SSO

`import_roster` checks every row first and refuses the whole file if any row is bad, naming each bad row with
its line number and the reason. Then it is idempotent: running it again changes nothing. Removing someone
(`remove_users`, or `import_roster(..., prune=True)` for everyone missing from the file) locks their OS account
and takes them off the hub, but keeps their home folder, submissions and grades (the gradebook row is only
marked inactive).
"""

from __future__ import annotations

import csv
import io
import json
import os
import pwd
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiml_course.config import Course
from aiml_course.errors import RosterError
from aiml_course.gradebook import Gradebook, Student
from aiml_course.hub.layout import HubLayout

ROLES = ("student", "ta", "instructor")
COLUMNS = ("username", "role", "cohort", "name", "email", "password")
USERNAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
RESERVED = {"root", "admin", "nobody", "jovyan", "daemon", "bin", "sys", "www-data", "postgres"}
MIN_UID = 1000  # below this: system accounts, never taken over by a roster


@dataclass(frozen=True)
class Member:
    username: str
    role: str
    cohort: str = ""
    name: str = ""
    email: str = ""
    active: bool = True

    @property
    def staff(self) -> bool:
        return self.role in ("ta", "instructor")


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)     # new OS accounts
    updated: list[str] = field(default_factory=list)     # role, cohort, name, email or password changed
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)     # locked and taken off the hub; grades kept

    def summary(self) -> str:
        return (f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{len(self.removed)} removed")


# ---------------------------------------------------------------- reading and checking


def read_roster_csv(path: Path, course: Course) -> tuple[list[Member], dict[str, str]]:
    """Members and passwords from `path`; every bad row is reported at once in one RosterError."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"{path}: cannot read the roster ({exc})") from exc
    return parse_roster(text, course, source=str(path))


def parse_roster(text: str, course: Course, *, source: str = "roster") -> tuple[list[Member], dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("username", "role") if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown:
        raise RosterError(f"{source}: header must have username and role"
                          + (f"; missing {', '.join(missing)}" if missing else "")
                          + (f"; unknown column(s) {', '.join(unknown)} (known: {', '.join(COLUMNS)})"
                             if unknown else ""))
    reader.fieldnames = header
    members: list[Member] = []
    passwords: dict[str, str] = {}
    problems: list[str] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        if None in row:
            problems.append(f"line {line}: more fields than the header has")
            continue
        row = {k: (v or "").strip() for k, v in row.items()}
        if not any(row.values()):
            continue  # blank line
        found = _row_problems(row, course)
        user = row["username"]
        if user in seen:
            found.append(f"username {user!r} already on line {seen[user]}")
        if found:
            problems.append(f"line {line} ({user or 'no username'}): " + "; ".join(found))
            continue
        seen[user] = line
        members.append(Member(user, row["role"], row.get("cohort", ""), row.get("name", ""), row.get("email", "")))
        if row.get("password"):
            passwords[user] = row["password"]
    if problems:
        raise RosterError(f"{source}: {len(problems)} bad row(s), nothing was changed:\n  " + "\n  ".join(problems))
    if not members:
        raise RosterError(f"{source}: no members (only a header?)")
    return members, passwords


def _row_problems(row: dict[str, str], course: Course) -> list[str]:
    found = []
    user, role, cohort = row["username"], row["role"], row.get("cohort", "")
    if not USERNAME.match(user):
        found.append(f"username {user!r} is not a valid login (lowercase letter first, then letters, digits, "
                     "'_' or '-', at most 32)")
    elif user in RESERVED:
        found.append(f"username {user!r} is reserved")
    elif (uid := _uid(user)) is not None and uid < MIN_UID:
        found.append(f"username {user!r} is a system account (uid {uid})")
    if role not in ROLES:
        found.append(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == "student" and not cohort:
        found.append("a student needs a cohort")
    if cohort and cohort not in course.cohorts:
        found.append(f"cohort {cohort!r} is not in course_config.py (cohorts: {', '.join(course.cohorts)})")
    email = row.get("email", "")
    if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        found.append(f"email {email!r} does not look like an address")
    password = row.get("password", "")
    if password and (len(password) < 8 or ":" in password or "\n" in password):
        found.append("password must be at least 8 characters, without ':'")
    return found


def _uid(user: str) -> int | None:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


# ---------------------------------------------------------------- the stored roster (state/roster.json)


def load_members(layout: HubLayout) -> dict[str, Member]:
    """Everyone ever imported (removed members stay, inactive), by username; {} before the first import."""
    try:
        data = json.loads(layout.roster_file.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise RosterError(f"{layout.roster_file}: unreadable roster state ({exc}); re-run `course roster import`"
                          ) from exc
    return {m["username"]: Member(**m) for m in data.get("members", [])}


def save_members(layout: HubLayout, members: dict[str, Member]) -> None:
    """Write atomically (a crash leaves the old file or the new one, never half of one)."""
    layout.state_dir.mkdir(parents=True, exist_ok=True)
    tmp = layout.roster_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"members": [asdict(m) for m in sorted(members.values(), key=lambda m: m.username)]},
                              indent=1))
    tmp.chmod(0o600)
    os.replace(tmp, layout.roster_file)


# ---------------------------------------------------------------- applying


def import_roster(course: Course, layout: HubLayout, members: list[Member], passwords: dict[str, str], *,
                  gradebook: Gradebook, prune: bool = False, hub: HubAPI | None = None) -> ImportReport:
    """Create or update OS accounts, the gradebook's students and the stored roster; sync a running hub."""
    layout.create()
    known = load_members(layout)
    report = ImportReport()
    if any(m.staff for m in members):
        _ensure_group(layout.staff_group)
    for member in members:
        before = known.get(member.username)
        created = _ensure_account(member, layout)
        changed = _set_password(member.username, passwords.get(member.username))
        if member.role == "student":
            _ensure_gradebook_student(gradebook, member)
        known[member.username] = member
        if created:
            report.created.append(member.username)
        elif changed or before != member:
            report.updated.append(member.username)
        else:
            report.unchanged.append(member.username)
    if prune:
        listed = {m.username for m in members}
        stale = [u for u, m in known.items() if m.active and u not in listed]
        report.removed = _deactivate(stale, known, gradebook)
    layout.create()  # the staff group may exist now: give it course/
    save_members(layout, known)
    if hub is not None:
        hub.sync(course, known)
    return report


def remove_users(course: Course, layout: HubLayout, usernames: list[str], *, gradebook: Gradebook,
                 hub: HubAPI | None = None) -> list[str]:
    """Lock and take off the hub; keep homes, submissions and grades. Unknown names are an error."""
    known = load_members(layout)
    unknown = [u for u in usernames if u not in known]
    if unknown:
        raise RosterError(f"not in the roster: {', '.join(unknown)} (see {layout.roster_file})")
    removed = _deactivate(usernames, known, gradebook)
    save_members(layout, known)
    if hub is not None:
        hub.sync(course, known)
    return removed


def _deactivate(usernames: list[str], known: dict[str, Member], gradebook: Gradebook) -> list[str]:
    for user in usernames:
        known[user] = Member(**{**asdict(known[user]), "active": False})
        if _uid(user) is not None:
            _run(["usermod", "--lock", "--expiredate", "1", user])
        with gradebook.session() as s:
            row = s.get(Student, user)
            if row is not None:
                row.active = 0
    return sorted(usernames)


def _ensure_gradebook_student(gradebook: Gradebook, member: Member) -> None:
    gradebook.ensure_student(member.username, cohort=member.cohort, name=member.name)
    with gradebook.session() as s:
        row = s.get(Student, member.username)
        assert row is not None
        row.cohort, row.active = member.cohort, 1
        row.name = member.name or row.name
        row.email = member.email or row.email


def _ensure_account(member: Member, layout: HubLayout) -> bool:
    """The OS account, home 0700, unlocked, in the staff group iff staff. True if it was created."""
    created = _uid(member.username) is None
    if created:
        _run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", member.name[:60] or member.username,
              member.username])
    else:
        _run(["usermod", "--expiredate", "", member.username])      # undo a removal
        _run(["usermod", "--unlock", member.username], check=False)  # fails harmlessly if no password is set
    home = Path(pwd.getpwnam(member.username).pw_dir)
    if home.is_dir():
        home.chmod(0o700)  # students never read each other's work
    if member.staff:
        _link_course_dir(home, layout, pwd.getpwnam(member.username).pw_uid)
    groups = _groups_of(member.username)
    if member.staff and layout.staff_group not in groups:
        _run(["usermod", "--append", "--groups", layout.staff_group, member.username])
    elif not member.staff and layout.staff_group in groups:
        _run(["gpasswd", "--delete", member.username, layout.staff_group])
    return created


def _link_course_dir(home: Path, layout: HubLayout, uid: int) -> None:
    """~/<course id> → the shared course directory: nbgrader's formgrader only serves a course directory that
    lies under the server's root (the home folder)."""
    link = home / layout.course_id
    if link.is_symlink() and Path(os.readlink(link)) == layout.course_dir:
        return
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        return  # the person's own folder of that name: leave it (their formgrader then needs a manual config)
    link.symlink_to(layout.course_dir)
    os.lchown(link, uid, -1)


def _set_password(user: str, password: str | None) -> bool:
    """Set the password unless it already is this one (an unchanged roster changes nothing); True if it changed."""
    if not password or password_matches(user, password):
        return False
    _run(["chpasswd"], stdin=f"{user}:{password}\n")
    return True


def password_matches(user: str, password: str) -> bool:
    """Whether `password` is the account's current one (libcrypt against /etc/shadow; False when unknown)."""
    import ctypes
    import ctypes.util

    try:
        lines = Path("/etc/shadow").read_text().splitlines()
    except OSError:
        return False
    stored = next((line.split(":")[1] for line in lines if line.split(":", 1)[0] == user), "")
    if not stored or stored[0] in "!*":
        return False
    library = ctypes.util.find_library("crypt")
    if library is None:
        return False
    crypt = ctypes.CDLL(library).crypt
    crypt.restype, crypt.argtypes = ctypes.c_char_p, [ctypes.c_char_p, ctypes.c_char_p]
    result = crypt(password.encode(), stored.encode())
    return result is not None and result.decode() == stored


def _ensure_group(group: str) -> None:
    _run(["groupadd", "--force", group])


def _groups_of(user: str) -> set[str]:
    out = subprocess.run(["id", "-nG", user], capture_output=True, text=True, check=False).stdout
    return set(out.split())


def _run(cmd: list[str], *, stdin: str | None = None, check: bool = True) -> None:
    if os.geteuid() != 0:
        raise RosterError(f"creating OS accounts needs root: run `sudo course roster ...` ({cmd[0]})")
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        shown = " ".join(cmd) if cmd[0] != "chpasswd" else "chpasswd"
        raise RosterError(f"`{shown}` failed: {proc.stderr.strip() or proc.returncode}")


# ---------------------------------------------------------------- hub groups and roles


def hub_groups(course: Course, members: dict[str, Member]) -> dict[str, list[str]]:
    """Every hub group the course manages → its active members (sorted). Cohorts are `cohort-<name>`."""
    active = [m for m in members.values() if m.active]
    groups: dict[str, list[str]] = {
        "students": [m.username for m in active if m.role == "student"],
        "tas": [m.username for m in active if m.role == "ta"],
        "instructors": [m.username for m in active if m.role == "instructor"],
        f"nbgrader-{course.id}": [m.username for m in active if m.role == "student"],  # nbgrader: course members
        f"formgrade-{course.id}": [m.username for m in active if m.staff],               # nbgrader: graders
    }
    for cohort in course.cohorts:
        groups[f"cohort-{cohort}"] = [m.username for m in active if m.cohort == cohort]
    return {name: sorted(users) for name, users in groups.items()}


class HubAPI:
    """The few JupyterHub REST calls the roster needs, with a token of the `course-admin` service."""

    def __init__(self, api_url: str, token: str) -> None:
        self.api_url, self.token = api_url.rstrip("/"), token

    def call(self, method: str, path: str, body: Any = None, *, timeout: float = 30) -> Any:
        import requests

        resp = requests.request(method, f"{self.api_url}{path}", json=body, timeout=timeout,
                                headers={"Authorization": f"token {self.token}"})
        if resp.status_code >= 400 and not (method == "DELETE" and resp.status_code == 404):
            raise RosterError(f"hub API {method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    def sync(self, course: Course, members: dict[str, Member]) -> None:
        """Make the hub's users and managed groups exactly what the roster says."""
        active = sorted(u for u, m in members.items() if m.active)
        existing = {u["name"] for u in self.call("GET", "/users")}
        if missing := [u for u in active if u not in existing]:
            self.call("POST", "/users", {"usernames": missing})
        for user in sorted(u for u, m in members.items() if not m.active and u in existing):
            self.call("DELETE", f"/users/{user}")  # also stops the server; grades and files stay
        current = {g["name"]: set(g["users"]) for g in self.call("GET", "/groups")}
        for group, users in hub_groups(course, members).items():
            if group not in current:
                self.call("POST", f"/groups/{group}")
                current[group] = set()
            if add := sorted(set(users) - current[group]):
                self.call("POST", f"/groups/{group}/users", {"users": add})
            if drop := sorted(current[group] - set(users)):
                self.call("DELETE", f"/groups/{group}/users", {"users": drop})
