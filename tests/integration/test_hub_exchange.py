"""The hub's exchange with real OS users: release → fetch → submit → collect → grade → feedback → formgrader.

Students texalice and texbob (and instructor texinstr, in the staff group) are created for this module and
removed after it. The layout's course id is `texaiml` so that its staff group (`texaiml-staff`) belongs to
these tests alone; nbgrader's course id stays the course's own (`aiml101`).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from aiml_course.config import load_course
from aiml_course.errors import HubError
from aiml_course.gradebook import Gradebook
from aiml_course.grading.pipeline import load_bundles
from aiml_course.hub.exchange import (
    CollectResult,
    ExchangeRound,
    ReleaseResult,
    collect_and_grade,
    collect_part,
    release_feedback,
    release_part,
)
from aiml_course.hub.exchange_cli import collect_cmd, release_cmd
from aiml_course.hub.formgrader import sync_formgrader
from aiml_course.hub.layout import HubLayout
from aiml_course.sandbox import make_sandbox
from tests.conftest import ROOT, bwrap_available

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create OS users"),
    pytest.mark.skipif(not all(shutil.which(c) for c in ("useradd", "userdel", "groupadd", "runuser")),
                       reason="needs useradd, groupadd and runuser"),
]

COURSE = load_course(ROOT / "course_config.py")
PART = "part-02-first-neuron"
SAMPLES = ROOT / "tests" / "submissions" / PART
N_NOTEBOOKS = len(list((ROOT / "release" / PART).glob("*.ipynb")))  # notebooks in the part
BIN = ROOT / ".venv" / "bin"
STUDENTS = {"texalice": "alice", "texbob": "bob"}   # OS user → sample submission folder
STAFF_USER, STAFF_GROUP = "texinstr", "texaiml-staff"


def run_as(user: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`cmd` as OS user `user` in their home, with a clean environment (no root settings leak in)."""
    home = f"/home/{user}"
    proc = subprocess.run(["runuser", "-u", user, "--", "env", "-i", f"PATH={BIN}:/usr/bin:/bin", f"HOME={home}",
                           "LANG=C.UTF-8", *cmd], cwd=home, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"{user}: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc


def nbgrader_as(user: str, *args: str) -> str:
    proc = run_as(user, str(BIN / "nbgrader"), *args)
    return proc.stdout + proc.stderr


def _drop_accounts() -> None:
    for user in (*STUDENTS, STAFF_USER):
        subprocess.run(["userdel", "-r", user], capture_output=True, check=False)
    subprocess.run(["groupdel", STAFF_GROUP], capture_output=True, check=False)


@pytest.fixture(scope="module")
def hub_root() -> Iterator[Path]:
    """A 0755 folder under /srv (students must reach the exchange) with the test accounts; all removed after."""
    _drop_accounts()  # leftovers of an interrupted run
    root = Path(tempfile.mkdtemp(dir="/srv", prefix="aiml-tex-"))
    root.chmod(0o755)
    try:
        subprocess.run(["groupadd", STAFF_GROUP], check=True, capture_output=True)
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", "-G", STAFF_GROUP, STAFF_USER], check=True,
                       capture_output=True)
        for user in STUDENTS:
            subprocess.run(["useradd", "-m", "-s", "/bin/bash", user], check=True, capture_output=True)
        yield root
    finally:
        _drop_accounts()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Flow:
    layout: HubLayout
    release: ReleaseResult
    done: ExchangeRound
    gradebook: Gradebook
    db_url: str
    reports: Path
    listed: dict[str, str]


def _student_config(user: str, layout: HubLayout) -> None:
    """What the hub's system-wide nbgrader config gives a student: the course id and the exchange."""
    path = Path(f"/home/{user}/nbgrader_config.py")
    path.write_text(f"c = get_config()\nc.CourseDirectory.course_id = {COURSE.id!r}\n"
                    f"c.Exchange.root = {str(layout.exchange)!r}\n")
    path.chmod(0o644)


def _do_the_work(user: str, sample: str) -> None:
    """Put the sample student's notebooks into the fetched folder, owned by the student."""
    uid = pwd.getpwnam(user).pw_uid
    for nb in sorted((SAMPLES / sample).glob("*.ipynb")):
        target = Path(f"/home/{user}/{PART}/{nb.name}")
        shutil.copyfile(nb, target)
        os.chown(target, uid, uid)


@pytest.fixture(scope="module")
def flow(hub_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Flow:
    """The whole round once: release, each student lists, fetches, works and submits, then collect_and_grade."""
    layout = HubLayout(hub_root / "course", "texaiml")
    release = release_part(COURSE, PART, layout)
    listed = {}
    for user, sample in STUDENTS.items():
        _student_config(user, layout)
        listed[user] = nbgrader_as(user, "list")
        nbgrader_as(user, "fetch_assignment", PART)
        _do_the_work(user, sample)
        nbgrader_as(user, "submit", PART)
    work = tmp_path_factory.mktemp("exchange")
    db_url = f"sqlite:///{work / 'gradebook.sqlite'}"
    book = Gradebook(db_url)
    sandbox = make_sandbox("bwrap" if bwrap_available() else "none", COURSE.limits_for(PART))
    done = collect_and_grade(COURSE, PART, layout, gradebook=book, sandbox=sandbox, workers=2,
                             reports=work / "reports", known_students={"texalice"})
    for user in STUDENTS:
        nbgrader_as(user, "fetch_feedback", PART)
    return Flow(layout, release, done, book, db_url, work / "reports", listed)


def _totals(book: Gradebook) -> dict[str, tuple[float, float]]:
    """student → (earned, possible) over the part's notebooks in our gradebook."""
    totals: dict[str, tuple[float, float]] = {}
    for row in book.latest(PART):
        earned, possible = totals.get(row["student"], (0.0, 0.0))
        totals[row["student"]] = (round(earned + row["earned"], 6), round(possible + row["possible"], 6))
    return totals


def test_students_list_and_fetch_the_release_as_their_own_files(flow: Flow) -> None:
    """Does each student see the part, and get its notebooks and .checks/ owned by their own uid?"""
    assert flow.release.notebooks == sorted(p.stem for p in (COURSE.release_dir / PART).glob("*.ipynb"))
    assert not flow.release.replaced
    for user in STUDENTS:
        assert f"{COURSE.id} {PART}" in flow.listed[user]
        fetched = Path(f"/home/{user}/{PART}")
        assert (fetched / ".checks" / "2.1-simplest-neuron.json").is_file()
        assert fetched.stat().st_uid == pwd.getpwnam(user).pw_uid
    assert (flow.layout.course_dir / "release" / PART / ".checks" / "project.json").is_file()


def test_collect_files_each_submission_under_its_student_and_grades_it(flow: Flow) -> None:
    """Are the submissions filed under the right student with timestamp.txt, alice at full marks and bob below?"""
    collected = flow.done.collected
    assert collected.students == sorted(STUDENTS) and collected.updated == sorted(STUDENTS)
    assert collected.unknown == ["texbob"] and collected.suspicious == []
    for user, sample in STUDENTS.items():
        folder = collected.submitted_dir / user / PART
        assert (folder / "timestamp.txt").is_file()
        for nb in (SAMPLES / sample).glob("*.ipynb"):
            assert (folder / nb.name).read_bytes() == nb.read_bytes()
    totals = _totals(flow.gradebook)
    assert set(totals) == set(STUDENTS)
    assert totals["texalice"][0] == totals["texalice"][1] > 0
    assert 0 < totals["texbob"][0] < totals["texbob"][1]
    assert flow.done.grades is not None and len(flow.done.grades.graded) == 2 * N_NOTEBOOKS
    assert flow.done.feedback == sorted(STUDENTS) and flow.done.formgrader == 2


def test_nbgrader_gradebook_shows_the_same_per_question_scores(flow: Flow) -> None:
    """Does nbgrader's own gradebook hold each student's per-question points, maxima and timestamp like ours?"""
    from nbgrader.api import Gradebook as NbGradebook
    from nbgrader.utils import parse_utc

    rows = flow.gradebook.latest(PART)
    with NbGradebook(f"sqlite:///{flow.layout.nbgrader_db}", course_id=COURSE.id) as gb:
        for row in rows:
            for qid, (earned, possible) in row["questions"].items():
                grade = gb.find_grade(qid, row["notebook"], PART, row["student"])
                assert (grade.auto_score, grade.max_score, grade.score) == (earned, possible, earned)
                assert not grade.needs_manual_grade
        for user in STUDENTS:
            sub = gb.find_submission(PART, user)
            ours = [r for r in rows if r["student"] == user]
            assert sub.score == pytest.approx(sum(r["earned"] for r in ours))
            assert sub.max_score == pytest.approx(sum(r["possible"] for r in ours))
            stamp = (flow.layout.course_dir / "submitted" / user / PART / "timestamp.txt").read_text()
            assert sub.timestamp == parse_utc(stamp)
            late = COURSE.late_policy.penalty(max(r["submitted_at"] for r in ours) - COURSE.part(PART).due)
            for r in ours:  # the late policy's share of each notebook's points, as `course export` takes it
                nb = gb.find_submission_notebook(r["notebook"], PART, user)
                assert nb.late_submission_penalty == pytest.approx(r["earned"] * late)
        assert [a.name for a in gb.assignments] == [PART]


def _hidden_code_lines(bundle: dict[str, object]) -> list[str]:
    """The code of the hidden probes (docstrings and imports aside): none of it may reach a student."""
    lines = []
    for cell in bundle["probe_cells"]:  # type: ignore[attr-defined]
        if cell["hidden"]:
            lines += [ln.strip() for ln in cell["source"].splitlines()
                      if ln.strip() and not ln.strip().startswith(("'", '"', "import ", "from "))]
    return lines


def _long_hidden_values(bundle: dict[str, object]) -> list[str]:
    """Hidden expected numbers with many digits, as the first 8 characters of their text."""
    out = []
    for case in bundle["cases"]:  # type: ignore[attr-defined]
        if case["hidden"]:
            ref = bundle["references"][case["name"]]  # type: ignore[index]
            values = ref if isinstance(ref, list) else [ref]
            out += [str(v)[:8] for v in values if isinstance(v, float) and len(str(v)) > 9]
    return out


def test_each_student_fetches_feedback_for_their_own_notebooks_without_hidden_material(flow: Flow) -> None:
    """Does fetch_feedback give each student one page per own notebook, naming them only, with no hidden tests?"""
    bundles = load_bundles(COURSE, PART)
    bob_failed_hidden = 0
    for user, sample in STUDENTS.items():
        pages = list(Path(f"/home/{user}/{PART}/feedback").glob("*/*.html"))
        assert sorted(p.stem for p in pages) == sorted(p.stem for p in (SAMPLES / sample).glob("*.ipynb"))
        for page in pages:
            html = page.read_text()
            assert f"student <b>{user}</b>" in html
            assert not any(other in html for other in STUDENTS if other != user)
            report = json.loads((flow.reports / user / f"{page.stem}.json").read_text())
            assert f"Score: {report['earned']:g} / {report['possible']:g}" in html
            assert page.read_bytes() == (flow.reports / user / page.name).read_bytes()
            bundle = bundles[page.stem]
            assert not [line for line in _hidden_code_lines(bundle) if line in html]
            assert not [v for v in _long_hidden_values(bundle) if v in html]
            hidden_messages = re.findall(r"<td>hidden</td><td>(.*?)</td>", html)
            assert hidden_messages and not [m for m in hidden_messages if "expected" in m]
            bob_failed_hidden += sum(m.startswith("✗") for m in hidden_messages) if user == "texbob" else 0
    assert bob_failed_hidden > 0  # the checks above looked at failed hidden tests, not only passed ones


def test_students_cannot_see_inbound_or_the_course_directory_but_staff_can(flow: Flow) -> None:
    """Is bob unable to list the inbound folder or read course/, while the staff group reads and writes it?"""
    layout = flow.layout
    inbound = layout.exchange / COURSE.id / "inbound"
    assert run_as("texbob", "ls", str(inbound), check=False).returncode != 0
    assert "texalice" not in nbgrader_as("texbob", "list", "--inbound")
    for target in (layout.course_dir, layout.course_dir / "submitted" / "texalice"):
        assert run_as("texbob", "ls", str(target), check=False).returncode != 0
    assert run_as("texbob", "cat", str(layout.nbgrader_db), check=False).returncode != 0
    assert "texalice" in run_as(STAFF_USER, "ls", str(layout.course_dir / "submitted")).stdout
    run_as(STAFF_USER, "test", "-r", str(layout.nbgrader_db), "-a", "-w", str(layout.nbgrader_db))
    for path in [layout.course_dir, *layout.course_dir.rglob("*")]:
        assert path.stat().st_mode & 0o007 == 0, path
        assert path.group() == STAFF_GROUP, path


def _free_port(lo: int = 18300, hi: int = 18399) -> int:
    for port in range(lo, hi + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {lo}-{hi}")


def test_the_real_formgrader_serves_our_scores(flow: Flow, tmp_path: Path) -> None:
    """Does nbgrader's formgrader, started for real on the course directory, list our scores per student?"""
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen([str(BIN / "jupyter-server"), "--allow-root", "--no-browser", "--ip=127.0.0.1",
                               f"--port={port}", f"--ServerApp.token={token}",
                               f"--ServerApp.root_dir={flow.layout.course_dir}"],
                              cwd=flow.layout.course_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                if requests.get(f"{base}/api/status", headers=headers, timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.3)
        subs = requests.get(f"{base}/formgrader/api/submissions/{PART}", headers=headers, timeout=30).json()
        students = requests.get(f"{base}/formgrader/api/students", headers=headers, timeout=30).json()
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    ours = _totals(flow.gradebook)
    assert {s["student"]: (round(s["score"], 6), round(s["max_score"], 6)) for s in subs} == ours
    assert all(s["autograded"] and s["submitted"] and not s["needs_manual_grade"] for s in subs)
    assert {s["id"]: (round(s["score"], 6), round(s["max_score"], 6)) for s in students} == ours


def test_releasing_again_replaces_the_release_and_keeps_submissions(flow: Flow) -> None:
    """Is a second release a clean replacement: same files, one assignment, submissions and grades untouched?"""
    from nbgrader.api import Gradebook as NbGradebook

    outbound = flow.release.outbound
    before = {p.relative_to(outbound): p.read_bytes() for p in outbound.rglob("*") if p.is_file()}
    again = release_part(COURSE, PART, flow.layout)
    assert again.replaced and "replaced the earlier release" in again.summary()
    assert {p.relative_to(outbound): p.read_bytes() for p in outbound.rglob("*") if p.is_file()} == before
    assert nbgrader_as("texbob", "list").count(f"{COURSE.id} {PART}") == 1
    with NbGradebook(f"sqlite:///{flow.layout.nbgrader_db}", course_id=COURSE.id) as gb:
        assert [a.name for a in gb.assignments] == [PART]
        assert len(gb.find_assignment(PART).notebooks) == len(again.notebooks)
        assert len(gb.assignment_submissions(PART)) == 2


def test_course_collect_forwards_and_prints_each_student(flow: Flow) -> None:
    """Does `course collect` run the same round (nothing new: no re-grading) and print a line per student?"""
    out = CliRunner().invoke(collect_cmd, [PART, "--hub-root", str(flow.layout.root), "--db", flow.db_url,
                                           "--reports", str(flow.reports), "--sandbox", "none"],
                             obj={"config": str(ROOT / "course_config.py")})
    assert out.exit_code == 0, out.output
    totals = _totals(flow.gradebook)
    for user in STUDENTS:
        earned, possible = totals[user]
        assert re.search(rf"^{user} +{earned:g}/{possible:g} +unchanged +released$", out.output, re.M), out.output
    assert "2 submission(s), 0 new or updated" in out.output
    assert "feedback released to 2 student(s); 2 submission(s) in the formgrader" in out.output


def test_sync_is_idempotent_and_carries_staff_adjustments(flow: Flow) -> None:
    """Does a re-sync update scores in place (no new rows) and show `course adjust` as a manual score?"""
    from nbgrader.api import Grade, SubmittedAssignment
    from nbgrader.api import Gradebook as NbGradebook

    row = next(r for r in flow.gradebook.latest(PART) if r["student"] == "texbob" and r["earned"] < r["possible"])
    qid = next(q for q, (e, p) in row["questions"].items() if e < p)
    earned, possible = row["questions"][qid]
    url = f"sqlite:///{flow.layout.nbgrader_db}"
    with NbGradebook(url, course_id=COURSE.id) as gb:
        counts = (gb.db.query(Grade).count(), gb.db.query(SubmittedAssignment).count())
    flow.gradebook.adjust("texbob", PART, row["notebook"], qid, 1.0, by="texinstr", reason="partial credit")
    assert sync_formgrader(COURSE, flow.gradebook, flow.layout, PART) == 2
    with NbGradebook(url, course_id=COURSE.id) as gb:
        assert (gb.db.query(Grade).count(), gb.db.query(SubmittedAssignment).count()) == counts
        grade = gb.find_grade(qid, row["notebook"], PART, "texbob")
        assert (grade.auto_score, grade.manual_score) == (earned, min(possible, earned + 1.0))
        assert grade.score == min(possible, earned + 1.0)


def test_collecting_with_no_submissions_says_so(hub_root: Path) -> None:
    """Before a release collect is refused with what to do; after it, no submissions is said plainly."""
    layout = HubLayout(hub_root / "empty", "texempty")
    with pytest.raises(HubError, match=rf"{PART} was never released.*course release {PART}"):
        collect_part(COURSE, PART, layout)
    runner, obj = CliRunner(), {"config": str(ROOT / "course_config.py")}
    out = runner.invoke(release_cmd, ["part-02", "--hub-root", str(layout.root)], obj=obj)
    assert out.exit_code == 0 and f"{PART}: {N_NOTEBOOKS} notebook(s) released" in out.output, out.output
    nothing = collect_and_grade(COURSE, PART, layout, gradebook=Gradebook("sqlite://"),
                                sandbox=make_sandbox("none", COURSE.limits_for(PART)), reports=hub_root / "r")
    assert isinstance(nothing.collected, CollectResult) and nothing.collected.empty and nothing.grades is None
    assert "no submissions yet" in nothing.collected.summary() and nothing.formgrader == 0
    assert not (hub_root / "r").exists()
    out = runner.invoke(collect_cmd, [PART, "--hub-root", str(layout.root), "--no-grade"], obj=obj)
    assert out.exit_code == 0 and "no submissions yet" in out.output, out.output


def test_an_unknown_part_is_a_clear_error(hub_root: Path, tmp_path: Path) -> None:
    """Does every entry point name the unknown part and the parts there are?"""
    layout = HubLayout(hub_root / "unknown", "texunknown")
    known = rf"unknown part 'part-09-nope'.*{PART}"
    with pytest.raises(HubError, match=known):
        release_part(COURSE, "part-09-nope", layout)
    with pytest.raises(HubError, match=known):
        collect_part(COURSE, "part-09-nope", layout)
    with pytest.raises(HubError, match=known):
        release_feedback(COURSE, "part-09-nope", layout, reports=tmp_path)
    out = CliRunner().invoke(release_cmd, ["part-09-nope", "--hub-root", str(hub_root / "unknown")],
                             obj={"config": str(ROOT / "course_config.py")})
    assert out.exit_code == 2 and "unknown part 'part-09-nope'" in out.output
