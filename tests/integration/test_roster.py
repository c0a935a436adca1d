"""`course roster import`: real OS accounts, groups, homes and gradebook rows; bad rows named; idempotent; removal
keeps grades. Root only (it creates users); users are named tro* and removed afterwards."""

from __future__ import annotations

import dataclasses
import grp
import os
import pwd
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from aiml_course.cli import main
from aiml_course.config import Course, load_course
from aiml_course.gradebook import Gradebook, Student
from aiml_course.grading.engine import CaseResult, NotebookGrade
from aiml_course.hub.layout import HubLayout
from aiml_course.hub.roster import (
    RosterError,
    hub_groups,
    import_roster,
    load_members,
    parse_roster,
    remove_users,
)
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creating OS accounts needs root")

USERS = ("troann", "trobob", "trocat", "troinstr", "trota")
ROSTER = """username,role,cohort,name,email,password
troann,student,2026a,Ann Lee,ann@example.org,ann-password-1
trobob,student,2026a,Bob Roe,,
trocat,student,2026b,Cat Poe,,
troinstr,instructor,,Ina Structor,,instr-password-1
trota,ta,2026a,Tam Assist,,
"""


@pytest.fixture
def course() -> Course:
    base = load_course(ROOT / "course_config.py")
    course = dataclasses.replace(base, id="trocourse")   # its own staff group: trocourse-staff
    object.__setattr__(course, "root", base.root)
    return course


@pytest.fixture
def layout(course: Course) -> Iterator[HubLayout]:
    root = Path(tempfile.mkdtemp(prefix="aiml-roster-", dir="/srv" if Path("/srv").is_dir() else None))
    yield HubLayout(root, course.id)
    for user in USERS:
        subprocess.run(["userdel", "--remove", user], capture_output=True, check=False)
    subprocess.run(["groupdel", "trocourse-staff"], capture_output=True, check=False)
    subprocess.run(["rm", "-rf", str(root)], check=False)


@pytest.fixture
def gradebook(tmp_path: Path) -> Gradebook:
    return Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")


def _groups(user: str) -> set[str]:
    return set(subprocess.run(["id", "-nG", user], capture_output=True, text=True).stdout.split())


def test_import_creates_accounts_groups_and_gradebook_rows(course: Course, layout: HubLayout,
                                                           gradebook: Gradebook) -> None:
    members, passwords = parse_roster(ROSTER, course)
    report = import_roster(course, layout, members, passwords, gradebook=gradebook)
    assert sorted(report.created) == sorted(USERS)
    for user in USERS:
        home = Path(pwd.getpwnam(user).pw_dir)
        assert stat.S_IMODE(home.stat().st_mode) == 0o700, user        # no student reads another's work
    assert "trocourse-staff" in _groups("troinstr") and "trocourse-staff" in _groups("trota")
    assert "trocourse-staff" not in _groups("troann")
    assert grp.getgrgid(layout.course_dir.stat().st_gid).gr_name == "trocourse-staff"  # the formgrader's folder
    shadow = {line.split(":")[0]: line.split(":")[1] for line in Path("/etc/shadow").read_text().splitlines()}
    assert shadow["troann"].startswith("$") and not shadow["trobob"].startswith("$")  # password only if given
    students = {s.id: s for s in gradebook.students()}
    assert {u for u in students} == {"troann", "trobob", "trocat"}               # staff are not graded
    assert (students["troann"].cohort, students["troann"].name, students["troann"].email) == \
        ("2026a", "Ann Lee", "ann@example.org")
    groups = hub_groups(course, load_members(layout))
    assert groups["cohort-2026a"] == ["troann", "trobob", "trota"] and groups["cohort-2026b"] == ["trocat"]
    assert groups["instructors"] == ["troinstr"] and groups["formgrade-trocourse"] == ["troinstr", "trota"]
    assert groups["nbgrader-trocourse"] == ["troann", "trobob", "trocat"]
    assert stat.S_IMODE(layout.roster_file.stat().st_mode) == 0o600


def test_importing_again_changes_nothing_and_a_change_is_an_update(course: Course, layout: HubLayout,
                                                                  gradebook: Gradebook) -> None:
    members, _passwords = parse_roster(ROSTER, course)
    import_roster(course, layout, members, {}, gradebook=gradebook)
    again = import_roster(course, layout, members, {}, gradebook=gradebook)
    assert sorted(again.unchanged) == sorted(USERS) and not again.created and not again.updated
    moved = parse_roster(ROSTER.replace("trocat,student,2026b", "trocat,student,2026a"), course)[0]
    third = import_roster(course, layout, moved, {}, gradebook=gradebook)
    assert third.updated == ["trocat"]
    assert {s.id: s.cohort for s in gradebook.students()}["trocat"] == "2026a"


def test_every_bad_row_is_named_and_nothing_changes(course: Course, layout: HubLayout,
                                                    gradebook: Gradebook) -> None:
    bad = ("username,role,cohort,name,email,password\n"
           "troann,student,2026a,,,\n"
           "Tro Bad,student,2026a,,,\n"          # line 3: not a login name
           "trobob,teacher,2026a,,,\n"           # line 4: unknown role
           "trocat,student,,,,\n"                # line 5: student without a cohort
           "trota,ta,2031z,,,\n"                 # line 6: unknown cohort
           "troann,student,2026b,,,\n"           # line 7: duplicate
           "root,instructor,,,,\n"               # line 8: reserved
           "troinstr,instructor,,,not-an-email,short\n")  # line 9: email and password
    with pytest.raises(RosterError) as err:
        parse_roster(bad, course, source="roster.csv")
    text = str(err.value)
    for line in ("line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9"):
        assert line in text, (line, text)
    assert "line 2 (" not in text and "already on line 2" in text and "nothing was changed" in text
    assert "8 bad row" not in text and "7 bad row(s)" in text
    for user in USERS:
        with pytest.raises(KeyError):
            pwd.getpwnam(user)
    with pytest.raises(RosterError, match="unknown column"):
        parse_roster("username,role,grp\ntroann,student,x\n", course)


def test_removing_a_student_keeps_their_grades(course: Course, layout: HubLayout, gradebook: Gradebook) -> None:
    members, _ = parse_roster(ROSTER, course)
    import_roster(course, layout, members, {}, gradebook=gradebook)
    grade = NotebookGrade("2.1-simplest-neuron", [CaseResult("c0", "q1", False, 3.0, 4.0, "ok")])
    gradebook.record("trobob", "part-02-first-neuron", grade, content_sha256="b" * 64,
                     submitted_at=datetime(2026, 3, 1, tzinfo=UTC))
    kept = [m for m in members if m.username != "trobob"]
    report = import_roster(course, layout, kept, {}, gradebook=gradebook, prune=True)
    assert report.removed == ["trobob"]
    (row,) = gradebook.latest("part-02-first-neuron")
    assert (row["student"], row["earned"]) == ("trobob", 3.0)                    # the grade is still there
    with gradebook.session() as s:
        assert s.get(Student, "trobob").active == 0
    shadow = {line.split(":")[0]: line.split(":") for line in Path("/etc/shadow").read_text().splitlines()}
    assert shadow["trobob"][1].startswith("!") and shadow["trobob"][7] == "1"   # locked and expired
    assert "trobob" not in hub_groups(course, load_members(layout))["students"]
    assert Path(pwd.getpwnam("trobob").pw_dir).is_dir()                          # home kept
    back = import_roster(course, layout, members, {}, gradebook=gradebook)       # re-enrolling restores them
    assert "trobob" in back.updated and "trobob" in hub_groups(course, load_members(layout))["students"]
    with pytest.raises(RosterError, match="not in the roster: nobody-here"):
        remove_users(course, layout, ["nobody-here"], gradebook=gradebook)


def test_roster_cli_reports_bad_rows_with_exit_status_2(tmp_path: Path) -> None:
    csv_file = tmp_path / "roster.csv"
    csv_file.write_text("username,role,cohort\ntro ann,student,2026a\n")
    result = CliRunner().invoke(main, ["--config", str(ROOT / "course_config.py"), "roster", "import",
                                       str(csv_file), "--hub-root", str(tmp_path / "hub")])
    assert result.exit_code == 2
    assert "line 2 (tro ann)" in result.output and "not a valid login" in result.output
