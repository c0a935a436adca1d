"""Importing an unchanged roster again changes nothing (no password reset) and says "unchanged"; a changed
password or cohort is "updated". Real OS accounts of this test's own, removed after."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiml_course.config import load_course
from aiml_course.gradebook import Gradebook
from aiml_course.hub.layout import HubLayout
from aiml_course.hub.roster import import_roster, parse_roster
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates OS accounts")
COURSE = load_course(ROOT / "course_config.py")


@pytest.fixture
def people() -> Iterator[tuple[str, str]]:
    prefix = f"r{secrets.token_hex(2)}"
    users = (f"{prefix}-ann", f"{prefix}-tim")
    try:
        yield users[0], users[1]
    finally:
        for user in users:
            subprocess.run(["userdel", "--remove", user], capture_output=True, check=False)


def _shadow_hash(user: str) -> str:
    return next(line.split(":")[1] for line in Path("/etc/shadow").read_text().splitlines()
                if line.startswith(f"{user}:"))


def test_an_unchanged_roster_changes_nothing(people: tuple[str, str], tmp_path: Path) -> None:
    ann, tim = people
    text = ("username,role,cohort,name,email,password\n"
            f"{ann},student,2026a,Ann Example,ann@example.org,first-password-1\n"
            f"{tim},student,2026b,Tim Example,,\n")
    layout = HubLayout(tmp_path / "hub", COURSE.id + "rt")
    book = Gradebook(f"sqlite:///{tmp_path / 'grades.sqlite'}")
    first = import_roster(COURSE, layout, *parse_roster(text, COURSE), gradebook=book)
    assert sorted(first.created) == sorted([ann, tim])
    hashed = _shadow_hash(ann)

    again = import_roster(COURSE, layout, *parse_roster(text, COURSE), gradebook=book)
    assert sorted(again.unchanged) == sorted([ann, tim]) and not again.updated and not again.created, again
    assert _shadow_hash(ann) == hashed, "the password was set again"
    assert again.summary().startswith("0 created, 0 updated, 2 unchanged")

    changed = text.replace("first-password-1", "second-password-2").replace("2026b,Tim", "2026a,Tim")
    third = import_roster(COURSE, layout, *parse_roster(changed, COURSE), gradebook=book)
    assert sorted(third.updated) == sorted([ann, tim]) and _shadow_hash(ann) != hashed
