"""Access control on the running hub, one test per rule. Students act as their real OS users (runuser: what a
terminal in their Lab can do) and through their own browser session (cookies, xsrf)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT
from tests.hub.client import Person
from tests.hub.conftest import PART, HubRun
from tests.hub.test_hub_loop import person

STUDENT = OTHER_COHORT = SAME_COHORT = TA = ""   # this run's logins, set by _people


@pytest.fixture(autouse=True)
def _people(hub: HubRun) -> None:
    global STUDENT, OTHER_COHORT, SAME_COHORT, TA
    STUDENT, OTHER_COHORT, SAME_COHORT, TA = (hub.user(n) for n in ("alice", "carol", "bob", "ta"))


def as_user(user: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", user, "--", *cmd], capture_output=True, text=True, timeout=60, check=False)


def assert_denied(user: str, *cmd: str) -> None:
    proc = as_user(user, *cmd)
    assert proc.returncode != 0 and "Permission denied" in proc.stderr, (cmd, proc.returncode, proc.stdout[:200])


def test_a_student_cannot_read_another_students_files(hub: HubRun) -> None:
    carol = person(hub, OTHER_COHORT)
    hub.timings[f"spawn {OTHER_COHORT} (first start: request to Lab answering through OAuth)"] = carol.start_server()
    assert as_user(OTHER_COHORT, "ls", f"/home/{OTHER_COHORT}").returncode == 0  # the owner can
    assert_denied(STUDENT, "ls", f"/home/{OTHER_COHORT}")
    assert_denied(STUDENT, "cat", f"/home/{OTHER_COHORT}/.bashrc")
    alice = person(hub, STUDENT)
    r = alice.server("GET", "/api/contents", owner=OTHER_COHORT)
    assert r.status_code == 403 or "/api/contents" not in r.url, (r.status_code, r.url)
    assert OTHER_COHORT not in r.text or r.status_code == 403


def test_a_student_cannot_list_or_read_inbound_submissions(hub: HubRun) -> None:
    inbound = hub.layout.exchange / "aiml101" / "inbound"
    inbound.mkdir(parents=True, exist_ok=True) if not inbound.exists() else None
    assert inbound.stat().st_mode & 0o004 == 0, "inbound must not be listable by students"
    assert_denied(STUDENT, "ls", str(inbound))
    assert_denied(STUDENT, "ls", str(hub.layout.course_dir))                 # collected copies and nbgrader's gradebook
    assert_denied(STUDENT, "ls", str(hub.layout.course_dir / "submitted"))


def test_a_student_cannot_read_hidden_tests_or_solutions(hub: HubRun) -> None:
    bundle = next((ROOT / "autograder" / PART).glob("*.json"))
    solution = next((ROOT / "source" / PART).glob("*.ipynb"))
    sample = next((ROOT / "tests" / "submissions" / PART / "alice").glob("*.ipynb"))
    for path in (bundle, solution, sample):
        assert path.is_file()
        assert_denied(STUDENT, "cat", str(path))
    # what students do get: the released notebooks, through the exchange
    outbound = hub.layout.exchange / "aiml101" / "outbound" / PART
    assert as_user(STUDENT, "ls", str(outbound)).returncode == 0


def test_a_student_cannot_read_the_gradebook_or_hub_secrets(hub: HubRun) -> None:
    state = hub.root / "state"
    for path in (state / "gradebook.sqlite", state / "jupyterhub.sqlite", state / "admin-token",
                 state / "dashboard-token", state / "roster.json", hub.layout.course_dir / "gradebook.db"):
        assert_denied(STUDENT, "cat", str(path))
    assert_denied(STUDENT, "ls", str(ROOT / "var"))


def test_a_student_sees_only_their_own_dashboard(hub: HubRun) -> None:
    alice = person(hub, STUDENT)
    assert alice.dashboard().status_code == 200
    assert alice.dashboard(f"student/{STUDENT}").status_code == 200
    for path in (f"student/{SAME_COHORT}", f"student/{OTHER_COHORT}", "cohort/2026a", "cohort/2026b",
                 "export.csv", "export.csv?cohort=2026a", "jobs", f"feedback/{OTHER_COHORT}/{PART}/2.1-simplest-neuron"):
        r = alice.dashboard(path)
        assert r.status_code == 403, (path, r.status_code)


def test_a_ta_sees_only_their_cohort(hub: HubRun) -> None:
    ta = person(hub, TA)   # a TA of cohort 2026a
    assert ta.dashboard("cohort/2026a").status_code == 200
    assert ta.dashboard(f"student/{STUDENT}").status_code == 200
    assert ta.dashboard("cohort/2026b").status_code == 403
    assert ta.dashboard(f"student/{OTHER_COHORT}").status_code == 403
    assert ta.dashboard("export.csv?cohort=2026b").status_code == 403
    assert ta.dashboard(f"feedback/{OTHER_COHORT}/{PART}/2.1-simplest-neuron").status_code == 403
    assert ta.dashboard(f"certificate/{OTHER_COHORT}.pdf").status_code == 403
    page = ta.dashboard().text
    assert STUDENT in page and OTHER_COHORT not in page


def test_only_instructors_release_and_grade(hub: HubRun) -> None:
    for user in (STUDENT, TA):
        r = person(hub, user).dashboard_post("grade", {"part": PART})
        assert r.status_code == 403, (user, r.status_code, r.text[:300])
    instructor = person(hub, hub.user("instr"))
    r = instructor.dashboard_post("release", {"part": PART})
    assert r.status_code == 202, r.text[:300]
    assert instructor.wait_for_job(r.json()["job"], timeout=120).startswith("done")


def test_dashboard_posts_need_the_xsrf_token(hub: HubRun) -> None:
    """A page on another site cannot make an instructor's browser start grading."""
    instructor = person(hub, hub.user("instr"))
    r = instructor.dashboard_post("grade", {"part": PART}, xsrf=False)
    assert r.status_code in (302, 403) and r.status_code != 202, r.status_code
    assert not instructor.dashboard("jobs").json().get(f"grade {PART}", "").startswith("running")


def test_service_tokens_carry_only_the_scopes_they_need(hub: HubRun) -> None:
    state = hub.root / "state"
    api = f"{hub.base}/hub/api"

    def call(token_name: str, path: str) -> requests.Response:
        token = (state / token_name).read_text().strip()
        return requests.get(f"{api}{path}", headers={"Authorization": f"token {token}"}, timeout=30)

    me = call("dashboard-token", "/user").json()
    assert me["kind"] == "service" and me["name"] == "dashboard"
    assert not [s for s in me["scopes"] if s.startswith(("admin", "list:", "read:users", "access:servers",
                                                        "servers", "tokens"))], me["scopes"]
    for path in ("/users", "/groups", f"/users/{STUDENT}"):
        assert call("dashboard-token", path).status_code in (403, 404), path
    admin = call("admin-token", "/user").json()       # `course roster`: users and groups, nothing else
    assert "admin:users" in admin["scopes"] and "admin:groups" in admin["scopes"]
    assert not [s for s in admin["scopes"] if s.startswith(("access:servers", "admin:servers", "tokens", "proxy",
                                                            "shutdown"))], admin["scopes"]
    token = (state / "admin-token").read_text().strip()
    r = requests.get(f"{hub.base}/user/{STUDENT}/api/contents", headers={"Authorization": f"token {token}"},
                     timeout=30, allow_redirects=False)
    assert r.status_code in (302, 403, 404, 424, 503), r.status_code  # never a student's files


def test_only_the_roster_logs_in(hub: HubRun) -> None:
    outsider = f"{hub.prefix}-outsider"
    subprocess.run(["useradd", "--create-home", outsider], capture_output=True, check=False)
    try:
        subprocess.run(["chpasswd"], input=f"{outsider}:outsider-pw-123\n", text=True, check=True)
        assert Person(hub.base, outsider, "outsider-pw-123").login().status_code == 403
        assert Person(hub.base, STUDENT, "not-the-password").login().status_code == 403
        assert Person(hub.base, STUDENT, hub.logins[STUDENT]).login().status_code == 302
    finally:
        subprocess.run(["userdel", "--remove", outsider], capture_output=True, check=False)


def test_each_server_runs_in_its_own_limited_cgroup(hub: HubRun) -> None:
    """A student's runaway kernel hits their own memory/CPU/pids limits, not the machine's."""
    from aiml_course.config import load_course

    person(hub, STUDENT).start_server()
    pids = subprocess.run(["pgrep", "-u", STUDENT, "-f", "jupyterhub-singleuser"], capture_output=True,
                          text=True).stdout.split()
    assert pids, "no server process for the student"
    lines = Path(f"/proc/{pids[0]}/cgroup").read_text().splitlines()
    memory = [line.split(":", 2)[2] for line in lines if ":memory:" in line or line.startswith("0::")]
    assert memory and memory[0].endswith(f"/aiml-hub/{STUDENT}"), lines
    limits = load_course(ROOT / "course_config.py").hub
    v1 = Path("/sys/fs/cgroup/memory") / memory[0].lstrip("/") / "memory.limit_in_bytes"
    v2 = Path("/sys/fs/cgroup") / memory[0].lstrip("/") / "memory.max"
    limit = int((v1 if v1.exists() else v2).read_text())
    assert limit == limits.memory_mb * 2**20


def test_formgrader_buttons_that_would_run_or_move_student_work_point_to_the_dashboard(hub: HubRun) -> None:
    """Autograde (student code outside the sandbox, as the instructor's uid), Generate, Collect and feedback: 403."""
    instructor = person(hub, hub.user("instr"))
    instructor.start_server()
    for path in (f"/formgrader/api/submission/{PART}/{STUDENT}/autograde", f"/formgrader/api/assignment/{PART}/assign",
                 f"/formgrader/api/assignment/{PART}/collect", f"/formgrader/api/assignment/{PART}/release",
                 f"/formgrader/api/assignment/{PART}/generate_feedback",
                 f"/formgrader/api/assignment/{PART}/release_feedback"):
        r = instructor.server("POST", path)
        assert r.status_code == 403 and "sandboxed grader" in r.text, (path, r.status_code, r.text[:300])
    r = instructor.server("GET", "/formgrader/api/students")
    assert r.status_code == 200 and isinstance(r.json(), list)   # browsing and manual grading stay
