"""A class logging in at once: 30 students (real OS users, added with `course roster import` while the hub runs)
log in within 10 s on loopback; every one must get a working Lab of their own (its API answers through OAuth,
and its terminal is that student). p50/p95 of the spawn time go to test-artifacts/hub/load.json.

Bounded: 30 people, loopback only, every request with a timeout, 12 minutes at most; the servers are stopped after.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import ROOT
from tests.hub.client import Person
from tests.hub.conftest import ARTIFACTS, COURSE, HubRun

CLASS_SIZE = 30
ARRIVAL_WINDOW = 9.0        # seconds over which the logins start
SPAWN_TIMEOUT = 600         # seconds for one person, login to Lab answering (a loaded 2-core machine)


def _roster(hub: HubRun, tmp: Path) -> dict[str, str]:
    """CLASS_SIZE new students in both cohorts, imported into the running hub; username → password."""
    people = {f"{hub.prefix}-s{i:02d}": f"load-pw-{i:02d}-{hub.prefix}" for i in range(CLASS_SIZE)}
    csv = tmp / "class.csv"
    csv.write_text("username,role,cohort,name,email,password\n" + "".join(
        f"{u},student,{'2026a' if i % 2 else '2026b'},Load Student {i},,{pw}\n"
        for i, (u, pw) in enumerate(people.items())))
    hub.extra_users.extend(people)
    env = {**os.environ, "AIML_HUB_PORT": str(hub.port), "AIML_HUB_ROOT": str(hub.root)}
    done = subprocess.run([str(COURSE), "roster", "import", str(csv), "--hub-root", str(hub.root),
                           "--db", hub.gradebook_url], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "hub updated" in done.stdout, done.stdout + done.stderr
    return people


def _arrive(hub: HubRun, user: str, password: str, delay: float) -> dict[str, object]:
    """One student: log in, spawn, open a terminal; the spawn time, or what went wrong (never raises)."""
    time.sleep(delay)
    t0 = time.monotonic()
    try:
        p = Person(hub.base, user, password)
        assert p.login().status_code == 302, "login refused"
        p.start_server(timeout=SPAWN_TIMEOUT, poll=2.0)   # a browser waits on an event stream, not a loop
        spawn = time.monotonic() - t0
        status, out = p.terminal("id -un; ls --color=never /home", timeout=120)
        # their Lab, their terminal, and of all the class only their own home
        assert status == 0 and out.split() == [user, user], out
        p.hub_api("DELETE", f"/users/{user}/server")
    except Exception as exc:  # reported with the others: one failure must not hide the rest's timings
        return {"user": user, "error": f"{type(exc).__name__}: {exc}"[:500],
                "after_s": round(time.monotonic() - t0, 2)}
    return {"user": user, "spawn_s": round(spawn, 2)}


def test_thirty_students_logging_in_within_ten_seconds_all_get_a_lab(hub: HubRun, tmp_path: Path) -> None:
    people = _roster(hub, tmp_path)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLASS_SIZE) as pool:
        futures = [pool.submit(_arrive, hub, u, pw, i * ARRIVAL_WINDOW / CLASS_SIZE)
                   for i, (u, pw) in enumerate(people.items())]
        results = [f.result(timeout=SPAWN_TIMEOUT + 120) for f in futures]
    wall = time.monotonic() - t0
    failed = [r for r in results if "error" in r]
    spawns = sorted(float(r["spawn_s"]) for r in results if "spawn_s" in r)   # type: ignore[arg-type]
    assert spawns, failed
    p50 = statistics.median(spawns)
    p95 = spawns[min(len(spawns) - 1, round(0.95 * (len(spawns) - 1)))]
    summary = {"students": CLASS_SIZE, "arrival_window_s": ARRIVAL_WINDOW, "spawn_p50_s": round(p50, 2),
               "spawn_p95_s": round(p95, 2), "spawn_max_s": spawns[-1], "wall_s": round(wall, 1),
               "failed": len(failed), "cpus": os.cpu_count(), "load_after": os.getloadavg(), "each": results}
    (ARTIFACTS / "load.json").write_text(json.dumps(summary, indent=1))
    hub.timings[f"load: {CLASS_SIZE} students within {ARRIVAL_WINDOW:g} s, spawn p50"] = p50
    hub.timings[f"load: {CLASS_SIZE} students within {ARRIVAL_WINDOW:g} s, spawn p95"] = p95
    print(f"\nload: {CLASS_SIZE} students, spawn p50 {p50:.1f} s, p95 {p95:.1f} s, max {spawns[-1]:.1f} s, "
          f"wall {wall:.0f} s, {len(failed)} failed")
    assert not failed, failed
    assert len(spawns) == CLASS_SIZE
