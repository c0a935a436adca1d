"""The whole course loop on a real hub: instructor releases Part 2 (done by `course hub --demo`), two students in
different cohorts fetch, solve (one right, one wrong) and submit through nbgrader's Assignment List API; the
instructor collects and grades from the dashboard; gradebook rows, CSV, both dashboards and the feedback that comes
back are checked. Then the same paths once in headless Chromium, with screenshots kept as artifacts."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from aiml_course.gradebook import Gradebook
from tests.conftest import ROOT
from tests.hub.client import Person
from tests.hub.conftest import ARTIFACTS, PART, HubRun

COURSE_ID = "aiml101"
SAMPLES = ROOT / "tests" / "submissions" / PART
N_NOTEBOOKS = len(list((ROOT / "release" / PART).glob("*.ipynb")))  # notebooks in the part


def person(hub: HubRun, user: str) -> Person:
    p = Person(hub.base, user, hub.logins[user])
    r = p.login()
    assert r.status_code == 302, (user, r.status_code, r.text[:300])
    return p


def _solve(p: Person, sample: str) -> None:
    """Fill the fetched notebooks with a sample student's work (as if typed in Lab) and save them."""
    listing = p.server("GET", f"/api/contents/{PART}").json()
    names = {item["name"] for item in listing["content"]}
    for nb in sorted((SAMPLES / sample).glob("*.ipynb")):
        assert nb.name in names, f"{nb.name} was not fetched into {PART}/"
        p.put_notebook(f"{PART}/{nb.name}", json.loads(nb.read_text()))


def test_release_fetch_submit_collect_grade_feedback(hub: HubRun) -> None:
    """alice (cohort 2026a) answers right, carol (2026b) partly wrong."""
    t_loop = time.monotonic()
    students = {hub.user("alice"): person(hub, hub.user("alice")), hub.user("carol"): person(hub, hub.user("carol"))}
    for user, p in students.items():
        hub.timings[f"server of {user} ready (spawned unless an earlier test did)"] = p.start_server()
        listed = p.server("GET", f"/assignments?course_id={COURSE_ID}").json()
        assert listed["success"], listed
        assert any(a["assignment_id"] == PART and a["status"] == "released" for a in listed["value"]), listed
        p.nbgrader("fetch", COURSE_ID, PART)
    _solve(students[hub.user("alice")], "alice")   # every answer right
    _solve(students[hub.user("carol")], "bob")     # some answers wrong
    for p in students.values():
        p.nbgrader("submit", COURSE_ID, PART)

    instructor = person(hub, hub.user("instr"))
    t_grade = time.monotonic()
    r = instructor.dashboard_post("grade", {"part": PART})
    assert r.status_code == 202, (r.status_code, r.text[:2000])
    status = instructor.wait_for_job(r.json()["job"], timeout=600)
    hub.timings["collect + grade + feedback from the dashboard (2 students, every notebook of the part)"] = \
        time.monotonic() - t_grade
    assert status.startswith("done") and "collected and graded 2" in status, (status, hub.log_tail())

    # gradebook: one row per notebook per student, filed under the right student
    rows = Gradebook(hub.gradebook_url).latest(PART)
    by_student: dict[str, list[dict]] = {}
    for row in rows:
        by_student.setdefault(row["student"], []).append(row)
    assert set(by_student) == {hub.user("alice"), hub.user("carol")}
    assert len(by_student[hub.user("alice")]) == len(by_student[hub.user("carol")]) == N_NOTEBOOKS
    earned = {s: sum(r["earned"] for r in rs) for s, rs in by_student.items()}
    possible = {s: sum(r["possible"] for r in rs) for s, rs in by_student.items()}
    assert earned[hub.user("alice")] == possible[hub.user("alice")] > 0
    assert 0 < earned[hub.user("carol")] < possible[hub.user("carol")]
    assert (hub.layout.course_dir / "submitted" / hub.user("alice") / PART / "timestamp.txt").is_file()

    # the CSV from the dashboard: numbers as numbers, cohorts right, no late penalty (demo extension)
    r = instructor.dashboard("export.csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    demo = {hub.user(n) for n in ("alice", "bob", "carol")}   # other tests (the load test) enrol people too
    table = {row["student"]: row for row in csv.DictReader(io.StringIO(r.text)) if row["student"] in demo}
    assert set(table) == {hub.user("alice"), hub.user("carol"), hub.user("bob")}   # everyone enrolled, with or without a submission
    assert table[hub.user("alice")]["cohort"] == "2026a" and table[hub.user("carol")]["cohort"] == "2026b"
    assert {s: float(table[s][f"{PART}:raw"]) for s in earned} == pytest.approx(earned), table
    assert float(table[hub.user("alice")][f"{PART}:late_penalty"]) == 0.0
    one_cohort = list(csv.DictReader(io.StringIO(instructor.dashboard("export.csv?cohort=2026b").text)))
    assert [row["student"] for row in one_cohort if row["student"] in demo] == [hub.user("carol")]
    assert all(row["cohort"] == "2026b" for row in one_cohort)

    # dashboards: each student sees their own points; the instructor sees both cohorts
    for user, p in students.items():
        page = p.dashboard().text
        assert user in page and f"{earned[user]:g}" in page, page[:3000]
        other = hub.user("carol") if user == hub.user("alice") else hub.user("alice")
        assert other not in page
        links = re.findall(r'href="([^"]*/feedback/[^"]+)"', page)
        assert len(links) == N_NOTEBOOKS, links
        report = p.http.get(f"{hub.base}{html.unescape(links[0])}", timeout=30)
        assert report.status_code == 200 and user in report.text and other not in report.text
    staff_page = instructor.dashboard().text
    assert hub.user("alice") in staff_page and hub.user("carol") in staff_page and "2026a" in staff_page and "2026b" in staff_page

    # feedback back to each student through the exchange, only their own
    for user, p in students.items():
        p.nbgrader("fetch_feedback", COURSE_ID, PART)
        listing = p.server("GET", f"/api/contents/{PART}/feedback").json()
        stamps = [item["name"] for item in listing["content"] if item["type"] == "directory"]
        assert stamps, listing
        files = p.server("GET", f"/api/contents/{PART}/feedback/{stamps[0]}").json()["content"]
        pages = [f["name"] for f in files if f["name"].endswith(".html")]
        assert len(pages) == N_NOTEBOOKS, files
        text = p.server("GET", f"/api/contents/{PART}/feedback/{stamps[0]}/{pages[0]}").json()["content"]
        assert user in text and (hub.user("carol") if user == hub.user("alice") else hub.user("alice")) not in text
    hub.timings["full loop (2 spawns, fetch, solve, submit, grade, CSV, dashboards, feedback)"] = \
        time.monotonic() - t_loop
    hub.facts["loop_done"] = True
    hub.facts["earned"] = earned


FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def test_student_and_instructor_in_chromium(hub: HubRun, tmp_path: Path) -> None:
    """Log in with the form, open Lab's Assignment List and the dashboard at phone and laptop widths."""
    sync_api = pytest.importorskip("playwright.sync_api")
    assert Path("/usr/bin/chromium").exists(), "Debian's chromium is installed by scripts/install.sh"
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with sync_api.sync_playwright() as pw:
        for user in (hub.user("alice"), hub.user("instr")):
            ctx = pw.chromium.launch_persistent_context(str(tmp_path / f"profile-{user}"), headless=True,
                                                        executable_path="/usr/bin/chromium", args=FLAGS,
                                                        viewport={"width": 1280, "height": 800})
            page = ctx.new_page()
            try:
                _visit(hub, page, user, shots)
            except BaseException:
                page.screenshot(path=str(shots / f"FAILED-{user}.png"), full_page=True)
                raise
            finally:
                ctx.close()
    hub.timings["browser: both people, Lab + dashboards at 2 widths + formgrader"] = time.monotonic() - t0
    assert len(list(shots.glob("*.png"))) >= 5


def _visit(hub: HubRun, page: Any, user: str, shots: Path) -> None:
    """One person's path through the pages (page: a Playwright Page)."""
    page.goto(f"{hub.base}/hub/login?next=/hub/home")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.logins[user])
    page.click("#login_submit")
    page.wait_for_url("**/hub/home**", timeout=60_000)
    if user == hub.user("alice"):
        page.goto(f"{hub.base}/hub/spawn?next=/user/{user}/lab%3Freset", timeout=90_000)   # starts it if needed
        page.wait_for_selector("#jp-main-dock-panel .lm-TabBar-tab", timeout=90_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
        page.wait_for_selector("#nbgrader-assignment-list", timeout=30_000)
        page.wait_for_selector(f"text={PART}", timeout=30_000)
        page.screenshot(path=str(shots / "student-lab-assignment-list.png"))
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        labels = page.locator(".lm-Menu-itemLabel").all_inner_texts()
        assert not [x for x in labels if "Formgrader" in x or "Create" in x], labels  # staff tools hidden
        page.keyboard.press("Escape")
        page.locator(".lm-MenuBar-itemLabel", has_text="Course").click()   # a link from Lab to the dashboard
        assert "Course dashboard" in page.locator(".lm-Menu-itemLabel").all_inner_texts()
        page.keyboard.press("Escape")
    role = "student" if user == hub.user("alice") else "instructor"
    for width, height in ((390, 844), (1280, 800)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{hub.base}/services/dashboard/")
        page.wait_for_selector("main", timeout=30_000)
        assert user in page.content() or role == "instructor"
        page.screenshot(path=str(shots / f"{role}-dashboard-{width}px.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{role} dashboard scrolls sideways by {overflow}px at {width}px"
    if user == hub.user("instr") and hub.facts.get("loop_done"):
        # nbgrader's own formgrader, in the instructor's server, shows the grades we wrote
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(f"{hub.base}/hub/spawn?next=/user/{user}/formgrader/manage_students", timeout=90_000)
        page.wait_for_url("**/formgrader/manage_students**", timeout=90_000)
        page.wait_for_selector(f"text={hub.user('alice')}", timeout=60_000)
        page.screenshot(path=str(shots / "instructor-formgrader-students.png"), full_page=True)
        row = page.locator("tr", has_text=hub.user("alice")).inner_text()
        assert f"{hub.facts['earned'][hub.user('alice')]:g}" in row, row   # the points our grader gave
        # ... and inside Lab, where the Formgrader panel is an iframe (needs the CSP fix in hub_config)
        page.goto(f"{hub.base}/user/{user}/lab?reset", timeout=90_000)
        page.wait_for_selector("#jp-main-dock-panel .lm-TabBar-tab", timeout=90_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        page.locator(".lm-Menu-itemLabel", has_text="Formgrader").first.click()
        frame = page.frame_locator("iframe[src*='formgrader']")
        frame.locator("a", has_text="Manage Students").wait_for(timeout=60_000)   # the panel loaded, not refused
        page.screenshot(path=str(shots / "instructor-lab-formgrader.png"))


def _scroll_until_visible(page: Any, target: Any, *, timeout_s: float) -> None:
    """Lab 4 renders only the cells near the viewport (windowed notebook): sweep the notebook from the top until
    `target` is on the page and visible, while Run All may still be executing."""
    scroller = page.locator(".jp-NotebookPanel .jp-WindowedPanel-outer").first
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        scroller.evaluate("el => { el.scrollTop = 0; }")
        for _ in range(80):
            if target.count() and target.is_visible():
                target.scroll_into_view_if_needed()
                return
            at_end = scroller.evaluate("el => { const before = el.scrollTop; el.scrollBy(0, el.clientHeight / 2);"
                                       " return el.scrollTop === before; }")
            page.wait_for_timeout(150)
            if at_end:
                break
    raise AssertionError(f"no demo slider appeared in Lab within {timeout_s} s")


def test_a_demo_slider_redraws_its_output_in_lab(hub: HubRun, tmp_path: Path) -> None:
    """In a real Lab on the hub, run a released notebook and drag a demo's slider: does its output change?"""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not hub.facts.get("loop_done"):
        pytest.skip("needs the solved notebooks from the loop test")
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(tmp_path / "profile"), headless=True,
                                                    executable_path="/usr/bin/chromium", args=FLAGS,
                                                    viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        try:
            page.goto(f"{hub.base}/hub/login?next=/hub/home")
            page.fill("#username_input", hub.user("alice"))
            page.fill("#password_input", hub.logins[hub.user("alice")])
            page.click("#login_submit")
            page.wait_for_url("**/hub/home**", timeout=60_000)
            page.goto(f"{hub.base}/hub/spawn?next=/user/{hub.user('alice')}/lab/tree/{PART}/2.1-simplest-neuron.ipynb%3Freset",
                      timeout=90_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
            page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
            slider = page.locator(".widget-slider .noUi-handle, .widget-hslider .noUi-handle").first
            _scroll_until_visible(page, slider, timeout_s=180)
            box = page.locator(".widget-interact, .jupyter-widgets.widget-vbox").filter(has=slider).first
            output = box.locator(".jp-OutputArea-output, .widget-output").first
            output.wait_for(timeout=60_000)
            before = output.inner_text()
            slider.scroll_into_view_if_needed()
            slider.focus()
            for _ in range(5):
                page.keyboard.press("ArrowRight")
            page.wait_for_function("([el, old]) => el.innerText !== old", arg=[output.element_handle(), before],
                                   timeout=30_000)
            after = output.inner_text()
            page.screenshot(path=str(shots / "student-lab-demo-slider.png"))
        except BaseException:
            page.screenshot(path=str(shots / "FAILED-slider.png"), full_page=True)
            raise
        finally:
            ctx.close()
    assert before != after, (before, after)
    hub.timings["browser: run a notebook in Lab and drag a demo slider"] = time.monotonic() - t0
