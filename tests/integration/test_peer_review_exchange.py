"""Peer review through nbgrader's real file exchange, with real OS users (tpralice, tprbob, tprcarol):
release → fetch (only one's own packet) → fill in review.ipynb → submit → collect → peer_reviews → aggregate,
certificates and anonymous feedback. Needs root (useradd, runuser, chown)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from aiml_course.certificates.eligibility import eligibility, reviews_done
from aiml_course.config import Course, load_course
from aiml_course.gradebook import Gradebook, default_url
from aiml_course.grading.engine import NotebookGrade
from aiml_course.hub.layout import HubLayout
from aiml_course.peer_review import assign_part, peer_feedback, peer_review_cli
from aiml_course.peer_review.exchange import QUARANTINE, review_assignment
from aiml_course.peer_review.store import Pair, load_reviews
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create OS users")

PART = "part-04-neural-networks"
PEOPLE = {"tpralice": "Alice Tprtest", "tprbob": "Bob Tprtest", "tprcarol": "Carol Tprtest"}
BIN = ROOT / ".venv" / "bin"
CONFIG = f'''
from datetime import datetime, timezone
from aiml_course.config import CertificatePolicy, Course, Part, PeerReview, RubricItem

COURSE = Course(
    id="tprcourse", title="Peer review exchange test", cohorts=("a",),
    parts=(Part("{PART}", title="Nets", due=datetime(2026, 3, 27, tzinfo=timezone.utc)),),
    peer_review=PeerReview(reviews_per_submission=2, seed=3, rubric=(
        RubricItem("correctness", "Does it work?", 4), RubricItem("clarity", "Can you follow it?", 4))),
    certificate=CertificatePolicy(min_part_fraction=0.0, min_reviews_done=2),
)
'''
GOOD = "The training loop is clear and the plots make the loss curve easy to read."


@dataclass
class Hub:
    course: Course
    gradebook: Gradebook
    layout: HubLayout
    pairs: list[Pair]
    release_output: str

    def mine(self, reviewer: str) -> list[Pair]:
        return [p for p in self.pairs if p.reviewer == reviewer]

    def outbound(self, reviewer: str) -> Path:
        return self.layout.exchange / self.course.id / "outbound" / review_assignment(PART, reviewer)


def run_as(user: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command as `user` in their home, with the venv on PATH (as a hub terminal would)."""
    env = ["env", f"PATH={BIN}:/usr/bin:/bin", f"HOME=/home/{user}"]
    proc = subprocess.run(["runuser", "-u", user, "--", *env, *argv], cwd=f"/home/{user}", capture_output=True,
                          text=True, timeout=120, check=False)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def invoke(hub_root: Path, course: Course, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(peer_review_cli, [*args, "--hub-root", str(hub_root)],
                                obj={"config": str(course.root / "course_config.py")})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def users() -> Iterator[list[str]]:
    for user, name in PEOPLE.items():
        subprocess.run(["userdel", "-r", user], capture_output=True, check=False)  # a crashed earlier run
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", "-c", name, user], check=True, capture_output=True)
    try:
        yield list(PEOPLE)
    finally:
        for user in PEOPLE:
            subprocess.run(["userdel", "-r", user], capture_output=True, check=False)


@pytest.fixture(scope="module")
def hub(users: list[str]) -> Iterator[Hub]:
    """A course with three graded authors in one cohort, each reviewing the two others; packets released."""
    top = Path(tempfile.mkdtemp(prefix="tpr-", dir="/srv"))
    top.chmod(0o755)
    try:
        (top / "course").mkdir()
        (top / "course" / "course_config.py").write_text(CONFIG)
        course = load_course(top / "course" / "course_config.py")
        layout = HubLayout.for_course(course, top / "hub")
        layout.create()
        gradebook = Gradebook(default_url(course.root))
        for user, name in PEOPLE.items():
            gradebook.ensure_student(user, cohort="a", name=name)
            gradebook.record(user, PART, NotebookGrade("4.6-project"), content_sha256=user,
                             submitted_at=datetime(2026, 3, 20, tzinfo=UTC))
            _write_submission(layout.course_dir / "submitted" / user / PART, user, name)
        (layout.course_dir / "submitted" / "tprmallory" / PART).mkdir(parents=True)  # not in the assignment
        pairs = assign_part(gradebook, PART, k=2, seed=3).pairs
        code, out = invoke(layout.root, course, "release", PART)
        assert code == 0, out
        for user in users:
            jupyter = Path(f"/home/{user}/.jupyter")
            jupyter.mkdir()
            (jupyter / "nbgrader_config.py").write_text(
                f"c = get_config()\nc.CourseDirectory.course_id = {course.id!r}\n"
                f"c.Exchange.root = {str(layout.exchange)!r}\n")
            shutil.chown(jupyter, user, user)
            shutil.chown(jupyter / "nbgrader_config.py", user, user)
        yield Hub(course, gradebook, layout, pairs, out)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _write_submission(folder: Path, user: str, name: str) -> None:
    folder.mkdir(parents=True)
    cells = [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": f"# Project by {name} ({user})"},
             {"cell_type": "code", "id": "c", "metadata": {"aiml": {"student": user}}, "execution_count": 1,
              "source": f"path = '/home/{user}/data'\nprint('{name}')",
              "outputs": [{"output_type": "stream", "name": "stdout", "text": f"{name}\n"}]}]
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                       "authors": [{"name": name}]}}
    (folder / f"4.6-project-{user}.ipynb").write_text(json.dumps(nb))
    (folder / "timestamp.txt").write_text("2026-03-20 10:00:00.000000 UTC")


def review_cell(alias: str, correctness: object, clarity: object, comment: str) -> str:
    return (f'review = {{\n    "author": "{alias}",  # keep\n    "scores": {{"correctness": {correctness!r}, '
            f'"clarity": {clarity!r}}},\n    "comment": """{comment}""",\n}}\n')


FILL = """
import json, sys
path, fills = sys.argv[1], json.loads(sys.argv[2])
nb = json.load(open(path))
for cell in nb["cells"]:
    alias = cell.get("metadata", {}).get("aiml_peer_review", {}).get("alias")
    if alias in fills:
        cell["source"] = fills[alias]
json.dump(nb, open(path, "w"))
"""


@pytest.fixture(scope="module")
def handed_in(hub: Hub) -> Hub:
    """Each reviewer fetches their packet, fills in review.ipynb as themselves and submits it; carol also forges
    a submission in bob's name and hands one in to bob's packet under her own name."""
    a, b, c = (hub.mine(u) for u in PEOPLE)
    fills = {
        "tpralice": {a[0].alias: review_cell(a[0].alias, 4, 3, GOOD + " Signed, Alice Tprtest"),
                     a[1].alias: review_cell(a[1].alias, 3, 3, GOOD)},
        "tprbob": {b[0].alias: review_cell(b[0].alias, 2, 4, GOOD),
                   b[1].alias: review_cell(b[1].alias, 7, 4, GOOD)},                 # out of range
        "tprcarol": {c[0].alias: review_cell(c[0].alias, 1, 2, GOOD),
                     c[1].alias: review_cell("author-zzzz", 3, 3, GOOD)},            # unknown alias
    }
    for user, fill in fills.items():
        assignment = review_assignment(PART, user)
        run_as(user, "nbgrader", "fetch_assignment", assignment)
        form = f"/home/{user}/{assignment}/review.ipynb"
        run_as(user, str(BIN / "python"), "-c", FILL, form, json.dumps(fill))
        run_as(user, "nbgrader", "submit", assignment)
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    inbound = hub.layout.exchange / hub.course.id / "inbound"
    bob_packet = review_assignment(PART, "tprbob")
    forged = {b[0].alias: review_cell(b[0].alias, 0, 0, "Forged by someone who is not the reviewer at all.")}
    script = (f"import json, os, sys\nfor name in sys.argv[1:]:\n    d = os.path.join({str(inbound)!r}, name)\n"
              f"    os.mkdir(d)\n    open(os.path.join(d, 'timestamp.txt'), 'w').write({later!r})\n"
              f"    open(os.path.join(d, 'review.ipynb'), 'w').write(json.dumps({_form_json(forged)!r}))\n")
    run_as("tprcarol", str(BIN / "python"), "-c", script, f"tprbob+{bob_packet}+{later}+forged",
           f"tprcarol+{bob_packet}+{later}+stray")
    return hub


def _form_json(fills: dict[str, str]) -> str:
    cells = [{"cell_type": "code", "metadata": {"aiml_peer_review": {"alias": alias}}, "source": source,
              "outputs": [], "execution_count": None} for alias, source in fills.items()]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})


@pytest.fixture(scope="module")
def collected(handed_in: Hub) -> tuple[Hub, str]:
    code, out = invoke(handed_in.layout.root, handed_in.course, "collect", PART)
    assert code == 0, out
    return handed_in, out


def stored(hub: Hub) -> list[tuple[str, str, int]]:
    return sorted((r.reviewer, r.alias, r.total) for r in load_reviews(hub.gradebook, PART))


def test_each_reviewer_gets_a_private_anonymous_packet(hub: Hub) -> None:
    """Is each packet root:<reviewer's group> 0750/0640, holding the form and only aliases, never a name?"""
    assert "3 review packets of part-04-neural-networks released" in hub.release_output
    assert "'tprmallory' is not an author in the assignment" in hub.release_output
    for user in PEOPLE:
        packet = hub.outbound(user)
        info = packet.stat()
        assert (info.st_uid, info.st_gid) == (0, _gid(user))
        assert stat.S_IMODE(info.st_mode) == 0o750
        files = sorted(p.name for p in packet.iterdir())
        assert files == sorted(["review.ipynb", *(f"{p.alias}__4.6-project-{p.alias}.ipynb" for p in hub.mine(user))])
        for path in packet.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.stat().st_gid == _gid(user)
            text = path.read_text().lower()
            for other, name in PEOPLE.items():
                assert other not in text and name.lower() not in text, (path, other)
        form = json.loads((packet / "review.ipynb").read_text())
        assert "How to review" in "".join(form["cells"][0]["source"])
    assert not list(hub.outbound("tpralice").parent.glob(".*"))  # no staging copies left in outbound/


def test_a_reviewer_cannot_fetch_another_reviewers_packet(hub: Hub) -> None:
    """Does nbgrader refuse carol bob's packet (and the file system refuse her a plain copy), while her list works?"""
    bobs = review_assignment(PART, "tprbob")
    proc = run_as("tprcarol", "nbgrader", "fetch_assignment", bobs, check=False)
    assert proc.returncode != 0 and "don't have read permissions" in proc.stdout + proc.stderr
    assert run_as("tprcarol", "cat", str(hub.outbound("tprbob") / "review.ipynb"), check=False).returncode != 0
    assert not Path(f"/home/tprcarol/{bobs}").exists()
    listing = run_as("tprcarol", "nbgrader", "list")
    assert review_assignment(PART, "tprcarol") in listing.stdout + listing.stderr


def test_collect_stores_valid_reviews_and_reports_each_invalid_one(collected: tuple[Hub, str]) -> None:
    """Are only complete, in-range reviews of assigned aliases stored, and every other one reported with why?"""
    hub, out = collected
    a, b, c = (hub.mine(u) for u in PEOPLE)
    assert stored(hub) == sorted([("tpralice", a[0].alias, 7), ("tpralice", a[1].alias, 6),
                                  ("tprbob", b[0].alias, 6), ("tprcarol", c[0].alias, 3)])
    assert f"invalid   {b[1].alias}: score for 'correctness' must be a whole number from 0 to 4, got 7" in out
    assert "invalid   author-zzzz: unknown author alias 'author-zzzz'" in out
    assert f"missing   {c[1].alias}" in out
    assert "peer_reviews for part-04-neural-networks: 4 added, 0 updated, 0 unchanged" in out


def test_a_submission_forged_in_a_reviewers_name_is_quarantined(collected: tuple[Hub, str]) -> None:
    """Is carol's submission in bob's name moved aside (bob's own review counts), and her stray one ignored?"""
    hub, out = collected
    quarantine = hub.layout.state_dir / QUARANTINE
    assert [p.name.rsplit("+", 1)[1] for p in quarantine.iterdir()] == ["forged"]
    assert "a submission in tprbob's name was made by tprcarol" in out
    assert "tprcarol handed in to tprbob's review packet" in out
    bob = next(r for r in load_reviews(hub.gradebook, PART) if r.reviewer == "tprbob")
    assert bob.scores == {"correctness": 2, "clarity": 4}


def test_collecting_again_stores_nothing_twice(collected: tuple[Hub, str]) -> None:
    """Does a second collect of the same submissions leave exactly the same rows?"""
    hub, _ = collected
    before = stored(hub)
    code, out = invoke(hub.layout.root, hub.course, "collect", PART)
    assert code == 0, out
    assert "0 added, 0 updated, 4 unchanged" in out
    assert stored(hub) == before


def test_aggregate_certificates_and_feedback_use_the_table(collected: tuple[Hub, str]) -> None:
    """Does `aggregate` without a folder read peer_reviews, do certificates count each reviewer's rows, and does
    an author get anonymous feedback?"""
    hub, _ = collected
    result = CliRunner().invoke(peer_review_cli, ["aggregate", PART, "--iterations", "50"],
                                obj={"config": str(hub.course.root / "course_config.py")})
    assert result.exit_code == 0, result.output
    assert all(user in result.output for user in PEOPLE)
    assert reviews_done(hub.gradebook) == {"tpralice": 2, "tprbob": 1, "tprcarol": 1}
    verdicts = {v.student: v for v in eligibility(hub.course, hub.gradebook)}
    assert verdicts["tpralice"].reviews_done == 2
    assert "Peer reviews: 1 done, needs 2" in verdicts["tprbob"].missing
    author = hub.mine("tpralice")[0].author  # alice gave this author 4 + 3 and signed her comment
    feedback = peer_feedback(hub.gradebook, PART, author)
    assert sorted(f["reviewer"] for f in feedback) == [f"Reviewer {i}" for i in range(1, len(feedback) + 1)]
    text = json.dumps(feedback).lower()
    assert not any(user in text or name.lower() in text for user, name in PEOPLE.items())
    assert any(f["total"] == 7 and f["comment"].endswith("Signed, " + f["reviewer"]) for f in feedback)


def _gid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def test_packets_of_authors_who_are_also_in_the_form_list_only_aliases(hub: Hub) -> None:
    """Does every reviewer's form name exactly their assigned aliases, in the cells' metadata?"""
    for user in PEOPLE:
        form = json.loads((hub.outbound(user) / "review.ipynb").read_text())
        tagged = [c["metadata"]["aiml_peer_review"]["alias"] for c in form["cells"] if c["cell_type"] == "code"]
        assert sorted(tagged) == sorted(p.alias for p in hub.mine(user))


def test_staff_files_in_the_course_folder_never_run_as_root(hub: Hub, tmp_path: Path) -> None:
    """A TA's nbgrader_config.py or traitlets.py in the staff-writable course folder: does root's release of the
    review packets run it? (nbgrader loads nbgrader_config.py from its course root and imports from its cwd.)"""
    marker = tmp_path / "ran-as-root"
    planted = [hub.layout.course_dir / "nbgrader_config.py", hub.layout.course_dir / "traitlets.py"]
    for path in planted:
        path.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    try:
        code, out = invoke(hub.layout.root, hub.course, "release", PART)
        assert code == 0, out
        assert not marker.exists(), "a file staff can write was run by root's nbgrader"
        assert not (hub.layout.course_dir / "release").exists()   # packets are staged where staff cannot write
    finally:
        for path in planted:
            path.unlink()
