"""Defence in depth: what a student's own Lab (its terminal, its contents API) can reach on the running hub.

Each student's server runs in its own network namespace, bubblewrap view and PID namespace (aiml_course.hub.
isolation). These tests log in as the student and use Lab's terminal over its websocket, exactly as a student
would; the attacks are the ones reproduced against the unhardened hub (solutions through .git, other students'
work, root's files, other people's processes, port squatting).
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.hub.client import Person
from tests.hub.conftest import PART, HubRun
from tests.hub.test_hub_loop import person


@pytest.fixture(scope="module")
def alice(hub: HubRun) -> Person:
    p = person(hub, hub.user("alice"))
    hub.timings.setdefault("spawn alice (isolation tests)", p.start_server())
    return p


def run(p: Person, command: str) -> tuple[int, str]:
    return p.terminal(command)


def test_the_terminal_is_the_student_with_the_course_tools(hub: HubRun, alice: Person) -> None:
    status, out = run(alice, "id -un; id -u; command -v python nbgrader; python -c 'import aiml_notebooks, torch'")
    lines = out.split()
    assert status == 0, out
    assert lines[0] == hub.user("alice") and lines[1] != "0"
    assert lines[2] == str(ROOT / ".venv" / "bin" / "python") and lines[3].endswith("/.venv/bin/nbgrader"), out


def test_the_repository_and_its_git_history_are_not_there(hub: HubRun, alice: Person) -> None:
    solution = next((ROOT / "source" / PART).glob("*.ipynb"))
    bundle = next((ROOT / "autograder" / PART).glob("*.json"))
    pack = next((ROOT / ".git").rglob("*.pack"), ROOT / ".git" / "HEAD")
    for path in (ROOT / ".git" / "HEAD", pack, solution, bundle, ROOT / "tests", ROOT / "var", ROOT / "source"):
        assert path.exists(), path   # it is there on the host ...
        status, out = run(alice, f"ls -d --color=never {path} 2>&1; cat {path} 2>&1 | head -c 200")
        assert "No such file or directory" in out and "nbformat" not in out, (path, out)   # ... not in the Lab
    status, out = run(alice, f"git -c safe.directory='*' --git-dir={ROOT / '.git'} show HEAD:course_config.py 2>&1")
    assert status != 0 and "Course(" not in out, out
    status, out = run(alice, f"ls -a --color=never {ROOT}")
    assert set(out.split()) <= {".", "..", ".venv", "src", "hub_config"}, out   # what servers need, read-only
    status, out = run(alice, f"touch {ROOT / '.venv' / 'bin' / 'owned'} 2>&1")
    assert status != 0 and "Read-only file system" in out, out


def test_hub_state_grading_jobs_and_other_homes_are_not_there(hub: HubRun, alice: Person) -> None:
    marker = Path("/tmp") / f"aiml-host-marker-{hub.prefix}"     # where grading jobs and root's temp files live
    marker.write_text("host /tmp")
    try:
        _status, out = run(alice, f"ls -a --color=never /tmp /home /srv {hub.root} 2>&1; "
                                 f"cat {hub.root / 'state' / 'admin-token'} 2>&1; ls /root 2>&1")
    finally:
        marker.unlink()
    assert marker.name not in out, out
    assert hub.user("alice") in out and hub.user("carol") not in out and hub.user("bob") not in out, out
    assert "state" not in out.split() and "course" not in out.split() and "exchange" in out.split(), out
    assert out.count("No such file or directory") >= 2, out   # the admin token and /root


def test_tmp_is_private_and_writable(hub: HubRun, alice: Person) -> None:
    status, out = run(alice, "stat -c %a /tmp && echo hi > /tmp/mine && cat /tmp/mine && ls -a --color=never /tmp")
    assert status == 0 and out.split() == ["1777", "hi", ".", "..", "mine"], out


def test_other_peoples_processes_are_not_there(hub: HubRun, alice: Person) -> None:
    carol = person(hub, hub.user("carol"))
    carol.start_server()
    _status, out = run(alice, "ps -eo user:40=,pid=,args=")
    users = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert users <= {hub.user("alice"), "root"}, out   # root: only bubblewrap's pid 1 of this namespace
    assert len(out.splitlines()) < 15, out
    assert "jupyterhub " not in out and "configurable-http-proxy" not in out and hub.user("carol") not in out


def test_root_files_and_the_network_are_closed(hub: HubRun, alice: Person) -> None:
    _status, out = run(alice, "cat /etc/shadow 2>&1; python - <<'EOF'\n"
                             "import socket\n"
                             f"for host, port in [('127.0.0.1', {hub.port}), ('127.0.0.1', {hub.port + 2}),\n"
                             f"                   ('127.0.0.1', {hub.port + 10}), ('10.0.0.1', 80)]:\n"
                             "    try:\n"
                             "        socket.create_connection((host, port), 2).close(); print('OPEN', port)\n"
                             "    except OSError as e:\n"
                             "        print('closed', port, type(e).__name__)\n"
                             "EOF\ntrue")
    assert "Permission denied" in out and "OPEN" not in out, out   # the proxy's API, the dashboard: not reachable


def test_a_student_cannot_squat_or_race_the_servers_ports(hub: HubRun, alice: Person) -> None:
    """Holding ports in a Lab terminal takes nothing from the host: another student's server still starts."""
    ports = list(range(8880, 8900)) + [hub.port + 100 + i for i in range(20)]
    script = ("import socket, time\n"
              "held = []\n"
              f"for port in {ports}:\n"
              "    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
              "    try:\n"
              "        s.bind(('0.0.0.0', port)); s.listen(); held.append(s)\n"
              "    except OSError:\n"
              "        pass\n"
              "print('holding', len(held), flush=True); time.sleep(120)\n")
    _status, out = run(alice, f"cat > /tmp/squat.py <<'EOF'\n{script}EOF\npython /tmp/squat.py & sleep 3")
    assert "holding" in out, out
    for port in (hub.port + 100, hub.port + 101):   # the host's ports are untouched
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    bob = person(hub, hub.user("bob"))
    hub.timings["spawn bob while alice holds ports"] = bob.start_server()
    assert bob.server("GET", "/api/status").status_code == 200
    subprocess.run(["pkill", "-u", hub.user("alice"), "-f", "/tmp/squat.py"], capture_output=True, check=False)


def test_links_in_the_home_lead_nowhere_through_the_contents_api(hub: HubRun, alice: Person) -> None:
    """Lab's contents API follows links inside the home; links to the repository or the hub state find nothing."""
    solution = next((ROOT / "source" / PART).glob("*.ipynb"))
    targets = {"solution-link": solution, "state-link": hub.root / "state" / "roster.json",
               "git-link": ROOT / ".git" / "HEAD", "shadow-link": Path("/etc/shadow")}
    status, out = run(alice, "; ".join(f"ln -sfn {target} ~/{name}" for name, target in targets.items()))
    assert status == 0, out
    for name in targets:
        r = alice.server("GET", f"/api/contents/{name}?content=1")   # 400: "Cannot read non-file" (dangling)
        assert r.status_code in (400, 403, 404), (name, r.status_code, r.text[:200])
        assert not any(word in r.text for word in ("nbformat", "root:", "members", "refs/heads")), r.text[:200]
    run(alice, "rm -f " + " ".join(f"~/{name}" for name in targets))
