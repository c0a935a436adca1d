"""The attacks reproduced against the unhardened hub, each run as the real OS user who mounted it, each refused.

- a student backdates a submission (her own folder name and timestamp.txt in nbgrader's inbound, old mtimes);
- a student plants links in the inbound (to /etc/shadow) for root's collect to copy into submitted/;
- a TA plants a link where the dashboard serves feedback reports, to make root serve a root-only file;
- a TA leaves a `traitlets.py` (and an edited nbgrader_config.py) in the course directory for root's nbgrader;
- a second `course hub` against a running one; a hub left running when `course hub`'s terminal goes away.

The exchange attacks run against a course layout of their own (no other test's submissions are touched), with
the hub's test students as the attackers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiml_course.config import load_course
from aiml_course.gradebook import Gradebook
from aiml_course.grading.pipeline import grade_part, submission_time
from aiml_course.hub import isolation
from aiml_course.hub.dashboard import read_report
from aiml_course.hub.exchange import collect_part, release_part
from aiml_course.hub.launch import lock_and_check
from aiml_course.hub.layout import HubLayout
from aiml_course.sandbox import make_sandbox
from tests.conftest import ROOT, bwrap_available
from tests.hub.conftest import COURSE, PART, HubRun, _free_base_port
from tests.hub.test_hub_loop import person

COURSE_CONFIG = load_course(ROOT / "course_config.py")
NOTEBOOK = "2.1-simplest-neuron"
SAMPLE = ROOT / "tests" / "submissions" / PART / "alice" / f"{NOTEBOOK}.ipynb"


def as_user(user: str, script: str) -> subprocess.CompletedProcess[str]:
    """A shell script run as OS user `user` (what a terminal of theirs can do), with a clean environment."""
    return subprocess.run(["runuser", "-u", user, "--", "env", "-i", "PATH=/usr/bin:/bin", "sh", "-c", script],
                          capture_output=True, text=True, timeout=60, check=False, cwd="/")


@pytest.fixture
def exchange(hub: HubRun) -> Iterator[HubLayout]:
    """A course layout of this test's own, released (so nbgrader's inbound exists), removed after."""
    root = Path(tempfile.mkdtemp(prefix="aiml-attack-", dir="/srv"))
    root.chmod(0o755)
    layout = HubLayout(root, COURSE_CONFIG.id)
    try:
        release_part(COURSE_CONFIG, PART, layout)
        yield layout
    finally:
        shutil.rmtree(root, ignore_errors=True)


def inbound(layout: HubLayout) -> Path:
    return layout.exchange / COURSE_CONFIG.id / "inbound"


def test_a_backdated_submission_is_late(hub: HubRun, exchange: HubLayout, tmp_path: Path) -> None:
    """bob names his folder and writes timestamp.txt for a moment before the deadline, and sets every mtime back:
    the time collected is the system's (now, after the deadline), so the submission is late."""
    bob = hub.user("bob")
    claimed = "2026-03-01 12:00:00.000000 UTC"   # before the part's deadline (2026-03-06)
    folder = inbound(exchange) / f"{bob}+{PART}+{claimed}+forged"
    work = exchange.root / "bobs-work.ipynb"   # readable by bob (pytest's tmp_path is root-only)
    shutil.copyfile(SAMPLE, work)
    work.chmod(0o644)
    done = as_user(bob, f"mkdir '{folder}' && cp '{work}' '{folder}/{NOTEBOOK}.ipynb' && "
                        f"printf '{claimed}' > '{folder}/timestamp.txt' && "
                        f"touch -d '2026-03-01 12:00' '{folder}'/* '{folder}'")
    assert done.returncode == 0, done.stderr
    assert datetime.fromtimestamp(folder.stat().st_mtime, UTC) < COURSE_CONFIG.part(PART).due   # mtimes lie
    t0 = datetime.now(UTC) - timedelta(seconds=5)

    collected = collect_part(COURSE_CONFIG, PART, exchange)
    assert collected.students == [bob]
    stamp = (collected.submitted_dir / bob / PART / "timestamp.txt").read_text()
    assert stamp != claimed
    at, _note = submission_time(collected.submitted_dir / bob / PART,
                                collected.submitted_dir / bob / PART / f"{NOTEBOOK}.ipynb")
    assert at >= t0, (at, t0)

    book = Gradebook(f"sqlite:///{tmp_path / 'grades.sqlite'}")
    directory = tmp_path / "grade"
    (directory / bob).mkdir(parents=True)
    shutil.copytree(collected.submitted_dir / bob / PART, directory / bob / PART)
    grade_part(COURSE_CONFIG, PART, directory, gradebook=book, show_progress=False,
               sandbox=make_sandbox("bwrap" if bwrap_available() else "none", COURSE_CONFIG.limits_for(PART)))
    row = next(r for r in book.latest(PART, student=bob) if r["notebook"] == NOTEBOOK)
    assert row["earned"] > 0 and row["submitted_at"] >= t0
    late = row["submitted_at"] - COURSE_CONFIG.part(PART).due
    assert late > timedelta(0) and COURSE_CONFIG.late_policy.penalty(late) > 0   # late, as it really is


def test_collect_copies_no_links(hub: HubRun, exchange: HubLayout) -> None:
    """carol's submission is links to /etc/shadow and to root's home: root's collect copies none of them."""
    carol = hub.user("carol")
    folder = inbound(exchange) / f"{carol}+{PART}+2026-12-01 10:00:00.000000 UTC+links"
    done = as_user(carol, f"mkdir '{folder}' && ln -s /etc/shadow '{folder}/{NOTEBOOK}.ipynb' && "
                          f"ln -s /etc/shadow '{folder}/shadow' && ln -s /root '{folder}/rootdir' && "
                          f"mkdir '{folder}/sub' && ln -s /etc/shadow '{folder}/sub/x.ipynb' && "
                          f"echo '{{}}' > '{folder}/ok.txt'")
    assert done.returncode == 0, done.stderr
    collected = collect_part(COURSE_CONFIG, PART, exchange)
    assert collected.students == [carol]
    dest = collected.submitted_dir / carol / PART
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))
    assert files == ["ok.txt", "sub", "timestamp.txt"], files
    shadow_head = Path("/etc/shadow").read_text().split(":", 1)[0]
    for path in dest.rglob("*"):
        assert not path.is_symlink()
        assert path.is_dir() or shadow_head + ":" not in path.read_text(errors="replace")


def test_a_folder_claiming_another_student_is_filed_under_its_owner(hub: HubRun, exchange: HubLayout) -> None:
    bob, carol = hub.user("bob"), hub.user("carol")
    folder = inbound(exchange) / f"{carol}+{PART}+2026-12-01 10:00:00.000000 UTC+impostor"
    assert as_user(bob, f"mkdir '{folder}' && echo x > '{folder}/a.txt'").returncode == 0
    collected = collect_part(COURSE_CONFIG, PART, exchange)
    assert collected.students == [bob] and collected.suspicious, collected


def test_a_ta_cannot_make_the_dashboard_serve_root_files(hub: HubRun) -> None:
    """The TA links a report path to the roster (root 0600): the dashboard serves nothing of it."""
    ta, alice = hub.user("ta"), hub.user("alice")
    secret = hub.root / "state" / "roster.json"
    old_place = hub.layout.course_dir / "reports" / PART / alice
    done = as_user(ta, f"mkdir -p '{old_place}' && ln -sf '{secret}' '{old_place}/{NOTEBOOK}.html'")
    assert done.returncode == 0, done.stderr
    denied = as_user(ta, f"mkdir -p '{hub.layout.reports_dir / PART / alice}' 2>&1; "
                         f"ln -s '{secret}' '{hub.layout.reports_dir}/x' 2>&1")
    assert "Permission denied" in denied.stdout + denied.stderr
    needle = json.loads(secret.read_text())["members"][0]["username"]
    for user in (ta, hub.user("instr"), alice):
        r = person(hub, user).dashboard(f"feedback/{alice}/{PART}/{NOTEBOOK}")
        assert r.status_code in (403, 404) or '"members"' not in r.text, (user, r.status_code)
        assert '"members"' not in r.text and f'"username": "{needle}"' not in r.text


def test_the_dashboard_serves_only_regular_root_files_inside_its_folder(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / PART / "alice").mkdir(parents=True)
    (reports / PART / "alice" / "ok.html").write_text("<p>report</p>")
    assert read_report(reports, PART, "alice", "ok") == b"<p>report</p>"
    secret = tmp_path / "secret"
    secret.write_text("token")
    (reports / PART / "alice" / "link.html").symlink_to(secret)
    os.link(secret, reports / PART / "alice" / "hard.html")
    (reports / PART / "bob").symlink_to(tmp_path)                     # a linked folder on the way
    (tmp_path / "evil.html").write_text("token")
    for student, notebook in (("alice", "link"), ("alice", "hard"), ("bob", "evil"), ("..", "secret"),
                              ("alice", "../../../secret")):
        assert read_report(reports, PART, student, notebook) is None, (student, notebook)
    os.chown(reports / PART / "alice" / "ok.html", 65534, -1)            # not made by root: not served
    assert read_report(reports, PART, "alice", "ok") is None


def test_a_ta_module_in_the_course_directory_never_runs_as_root(hub: HubRun) -> None:
    """traitlets.py, nbgrader.py and an edited nbgrader_config.py placed by the TA in course/: root's nbgrader
    (a release from the dashboard) imports none of them."""
    ta = hub.user("ta")
    marker = hub.root / f"pwned-{hub.prefix}"   # root could write it; the TA could not
    payload = f"import os\\nopen('{marker}', 'w').write(str(os.getuid()))\\n"
    course = hub.layout.course_dir
    script = "; ".join(f"printf '{payload}' > '{course / name}'"
                       for name in ("traitlets.py", "nbgrader.py", "jupyter_core.py", "nbgrader_config.py"))
    done = as_user(ta, script)
    assert done.returncode == 0, done.stderr
    instructor = person(hub, hub.user("instr"))
    r = instructor.dashboard_post("release", {"part": PART})
    assert r.status_code == 202, r.text[:300]
    try:
        status = instructor.wait_for_job(r.json()["job"], timeout=180)
        assert status.startswith("done"), status
        assert not marker.exists(), "a TA's module ran as root"
    finally:
        for name in ("traitlets.py", "nbgrader.py", "jupyter_core.py"):
            (course / name).unlink(missing_ok=True)
        marker.unlink(missing_ok=True)


@pytest.fixture
def srv_tmp() -> Iterator[Path]:
    """A folder others can traverse (pytest's tmp_path is root-only, so `nobody` could never reach anything)."""
    path = Path(tempfile.mkdtemp(prefix="aiml-check-", dir="/srv"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_startup_check_refuses_readable_grading_material(srv_tmp: Path) -> None:
    tmp_path = srv_tmp
    repo = tmp_path / "repo"
    for name, text in ((".git/HEAD", "ref: refs/heads/main"), ("source/p/solution.ipynb", "{}"),
                       ("autograder/p/x.bundle.json", "{}"), ("tests/t.py", ""), ("release/p/student.ipynb", "{}")):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    for path in [tmp_path, *repo.rglob("*"), repo]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    from aiml_course.hub.launch import reachable_grading_material

    leaks = reachable_grading_material(repo)
    assert str(repo / ".git") in leaks and str(repo / "source") in leaks, leaks
    assert not [p for p in leaks if "/release" in p], leaks   # what students get anyway
    locked = lock_and_check(repo)
    assert {p.name for p in locked} >= {".git", "source", "autograder", "tests"}
    assert reachable_grading_material(repo) == []
    (repo / ".git").chmod(0o751)   # searchable again: a known file (HEAD) is readable
    assert str(repo / ".git" / "HEAD") in reachable_grading_material(repo)


def _start_hub(root: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(COURSE), "hub", "--hub-root", str(root), "--port", str(port),
                             "--db", f"sqlite:///{root / 'grades.sqlite'}"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=log.open("wb"), start_new_session=True)


def _wait_line(proc: subprocess.Popen[bytes], text: str, timeout: float) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode(errors="replace")
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} from `course hub`:\n{''.join(lines)}")


def _hub_pid(root: Path) -> int:
    return int((root / "state" / "jupyterhub.pid").read_text())


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_a_second_hub_is_refused_and_a_lost_terminal_stops_the_hub(hub: HubRun, tmp_path: Path) -> None:
    """`course hub` whose stdout breaks and whose terminal hangs up stops its hub; a second start on the same port
    says the port is taken instead of reporting "up"; `course hub` killed outright takes its hub with it."""
    root = Path(tempfile.mkdtemp(prefix="aiml-hub2-", dir="/srv"))
    root.chmod(0o755)
    port = _free_base_port()
    net = isolation.HubNetwork(port)
    try:
        first = _start_hub(root, port, tmp_path / "first.log")
        _wait_line(first, "Press Ctrl-C to stop", 180)
        pid = _hub_pid(root)

        second = subprocess.run([str(COURSE), "hub", "--hub-root", str(root), "--port", str(port)], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode != 0 and "already in use" in second.stderr + second.stdout, second
        assert "is up" not in second.stdout
        assert _hub_pid(root) == pid and not _gone(pid, 0.5)   # the first hub is untouched

        assert first.stdout is not None
        first.stdout.close()                      # the reader goes away: stdout is broken ...
        first.send_signal(signal.SIGHUP)          # ... and the terminal hangs up
        assert first.wait(90) is not None
        assert _gone(pid, 30), "the hub kept running as root after its terminal went away"
        assert not Path(f"/sys/class/net/{net.bridge}").exists()

        third = _start_hub(root, port, tmp_path / "third.log")
        _wait_line(third, "Press Ctrl-C to stop", 180)
        pid = _hub_pid(root)
        third.kill()                              # SIGKILL: no handler runs in `course hub`
        third.wait(10)
        assert _gone(pid, 60), "the hub outlived a killed `course hub`"
    finally:
        for proc_pid in (p.pid for p in [locals().get("first"), locals().get("third")] if p is not None):
            try:
                os.killpg(proc_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        isolation.teardown(net)
        shutil.rmtree(root, ignore_errors=True)


def test_a_ta_link_in_submitted_never_copies_a_secret_into_the_formgrader(hub: HubRun, exchange: HubLayout) -> None:
    """Root mirrors submitted/ into autograded/ for the formgrader: a TA's link to the hub's admin token there is
    not followed (else the token would land in a staff-readable file), nor is autograded/ replaced by a link."""
    from aiml_course.hub.coursedir import share_with_staff
    from aiml_course.hub.formgrader import _mirror_autograded

    alice, ta = hub.user("alice"), hub.user("ta")
    folder = exchange.course_dir / "submitted" / alice / PART
    folder.mkdir(parents=True)
    shutil.copyfile(SAMPLE, folder / f"{NOTEBOOK}.ipynb")
    share_with_staff(exchange)
    secret = hub.root / "state" / "admin-token"
    assert as_user(ta, f"ln -s '{secret}' '{folder}/evil.ipynb'").returncode == 0

    _mirror_autograded(exchange, alice, PART, folder)
    copied = exchange.course_dir / "autograded" / alice / PART
    assert sorted(p.name for p in copied.iterdir()) == [f"{NOTEBOOK}.ipynb"]
    assert all(secret.read_text().strip() not in p.read_text() for p in copied.iterdir())

    autograded = exchange.course_dir / "autograded"
    done = as_user(ta, f"mv '{autograded}' '{autograded}.old' && ln -s /etc '{autograded}'")   # root: not into /etc
    assert done.returncode == 0, done.stderr
    with pytest.raises(OSError):
        _mirror_autograded(exchange, alice, PART, folder)
    assert not Path("/etc", alice).exists()
