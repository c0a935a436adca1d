"""Bad input never crashes and never corrupts: a malformed rubric, unknown students, the same submission collected
twice, a timestamp from the future, a gradebook cut short by a crash — and review forms written to break things."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiml_course.config import Course, Limits, RubricItem, load_course
from aiml_course.errors import ConfigError, GradebookError
from aiml_course.gradebook import Gradebook, Student, Submission
from aiml_course.grading.engine import NotebookGrade
from aiml_course.grading.pipeline import find_submissions, grade_part
from aiml_course.hub.layout import HubLayout
from aiml_course.peer_review import PeerReviewError, aggregate_part, peer_feedback, read_reviews
from aiml_course.peer_review.exchange import collect_reviews, release_reviews
from aiml_course.peer_review.form import check_rubric, form_cell_source, read_form, review_form
from aiml_course.peer_review.store import Pair, StoredReview, load_reviews, replace_pairs, store_reviews
from aiml_course.sandbox import LocalSandbox

PART, MINI_PART, MINI_NB = "part-04-neural-networks", "part-01-mini", "1.1-mini"
RUBRIC = (RubricItem("correctness", "Does it work?", 4), RubricItem("clarity", "Can you follow it?", 4))
GOOD = "Clear structure; the loss plot shows the model learning."
WHEN = datetime(2026, 3, 20, tzinfo=UTC)


# ---------------------------------------------------------------- a malformed rubric


COURSE_CONFIG = """
from datetime import datetime, timezone
from aiml_course.config import Course, Part, PeerReview, RubricItem
COURSE = Course(id="c", title="t", parts=(Part("part-04-x", title="X", due=datetime(2026, 1, 1, tzinfo=timezone.utc)),),
                peer_review=PeerReview(rubric={rubric}))
"""


@pytest.mark.parametrize(("rubric", "expected"), [
    ('(RubricItem("Clarity!", "Is it clear?", 4),)', r"RubricItem id 'Clarity!'"),
    ('(RubricItem("clarity", "Is it clear?", 0),)', r"RubricItem clarity: max_points must be a whole number"),
    ('(RubricItem("clarity", "Is it clear?", 2.5),)', r"RubricItem clarity: max_points"),
    ('(RubricItem("clarity", "   "),)', r"RubricItem clarity: describe what reviewers judge"),
    ('(RubricItem("clarity", "a"), RubricItem("clarity", "b"))', r"repeated ids: \['clarity'\]"),
    ('({"id": "clarity", "max_points": 4},)', r"rubric item 1 is dict .*write RubricItem\("),
    ('(RubricItem("clarity", "Is it clear?", 4, wieght=2),)', r"RubricItem has no field 'wieght'"),
])
def test_a_malformed_rubric_in_course_config_is_a_config_error(tmp_path: Path, rubric: str, expected: str) -> None:
    """Is every kind of broken rubric in course_config.py a ConfigError naming the file, never a traceback?"""
    path = tmp_path / "course_config.py"
    path.write_text(COURSE_CONFIG.format(rubric=rubric))
    with pytest.raises(ConfigError, match=expected) as caught:
        load_course(path)
    assert str(path) in str(caught.value)


def test_peer_review_refuses_a_missing_or_foreign_rubric_before_touching_anything(tmp_path: Path) -> None:
    """Do release and collect stop at an empty rubric, and is a rubric of plain tuples refused with its entry?"""
    with pytest.raises(PeerReviewError, match="declares no peer-review rubric"):
        check_rubric(())
    with pytest.raises(PeerReviewError, match=r"RubricItem\(id, description, max_points\).*entry 2"):
        check_rubric((RUBRIC[0], ("clarity", "Is it clear?", 4)))
    path = tmp_path / "course_config.py"
    path.write_text(COURSE_CONFIG.format(rubric="()"))
    course = load_course(path)
    layout = HubLayout(tmp_path / "hub", course.id)
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    for step in (release_reviews, collect_reviews):
        with pytest.raises(PeerReviewError, match="no peer-review rubric"):
            step(course, book, "part-04-x", layout=layout)
    assert not layout.root.exists()


# ---------------------------------------------------------------- review forms that try to break things


ALIASES = ("author-aaaa", "author-bbbb", "author-cccc")


def filled(cells: dict[str, str]) -> dict:
    """The released form for the first two aliases, with the given cells' sources replaced."""
    nb = review_form(PART, {a: [f"{a}__p.ipynb"] for a in ALIASES[:2]}, RUBRIC)
    for cell in nb["cells"]:
        alias = cell["metadata"].get("aiml_peer_review", {}).get("alias")
        if alias in cells:
            cell["source"] = cells[alias]
    return nb


def cell(alias: str, correctness: object = 3, clarity: object = 4, comment: object = GOOD, extra: str = "") -> str:
    return (f'review = {{"author": {alias!r}, "scores": {{"correctness": {correctness!r}, "clarity": {clarity!r}}}, '
            f'"comment": {comment!r}{extra}}}')


def read(nb: dict) -> tuple[dict, list[str], list[str]]:
    reading = read_form(nb, reviewer="ann", assigned=ALIASES[:2], known=ALIASES, rubric=RUBRIC)
    return reading.valid, reading.invalid, reading.missing


def test_the_released_form_reads_back_as_not_reviewed_and_a_filled_one_as_valid() -> None:
    """Is an untouched form 'not reviewed' (no error), and does filling the template's Nones give a valid review?"""
    assert read(filled({})) == ({}, [], list(ALIASES[:2]))
    template = form_cell_source("author-aaaa", RUBRIC)
    done = template.replace("None", "3", 1).replace("None", "2", 1).replace('"""\n\n"""', repr(GOOD))
    valid, invalid, missing = read(filled({"author-aaaa": done}))
    assert invalid == [] and missing == ["author-bbbb"]
    assert valid["author-aaaa"] == {"reviewer": "ann", "author": "author-aaaa",
                                    "scores": {"correctness": 3, "clarity": 2}, "comment": GOOD}


@pytest.mark.parametrize(("source", "expected"), [
    (cell("author-aaaa", correctness=5), "author-aaaa: score for 'correctness' must be a whole number from 0 to 4, "
                                         "got 5"),
    (cell("author-aaaa", clarity=-1), "author-aaaa: score for 'clarity' must be a whole number from 0 to 4, got -1"),
    (cell("author-aaaa", clarity=2.5), "got 2.5"),
    (cell("author-aaaa", clarity=True), "got True"),
    (cell("author-aaaa", clarity=None), "got None"),
    (cell("author-aaaa", comment=""), "author-aaaa: 'comment' is missing"),
    (cell("author-aaaa", comment="ok"), "'comment' is too short (2 characters)"),
    (cell("author-zzzz"), "author-zzzz: unknown author alias 'author-zzzz'"),
    (cell("author-cccc"), "author-cccc: you were not asked to review 'author-cccc'"),
    (cell("author-aaaa", extra=', "grade": 10'), "unknown key 'grade'"),
    ('review = {"author": {"x": 1}, "scores": {}, "comment": "long enough to be a comment"}',
     "'author' must be a non-empty string"),
    ('review = {"author": ["author-aaaa"], "scores": None, "comment": 3}', "'scores' must be an object"),
    ('review = {"author": "author-aaaa", "scores": {"correctness": 2 + 2}}', "only plain values"),
    ("review = {'author': 'author-aaaa', 'scores': {'correctness': __import__('os').getpid()}}", "only plain values"),
    ('review = {"author": "author-aaaa", "scores": {', "is not valid Python (line 1)"),
    ("print('hello')", "must hold exactly one `review = {...}`"),
    ('review = {"scores": {}}', 'has no "author" line'),
    ("", "is empty"),
    ("x = 1\n" * 5000, "is too long"),
])
def test_each_invalid_review_cell_is_reported_with_its_reason_and_not_kept(source: str, expected: str) -> None:
    """Is a cell with a bad score, no comment, a wrong alias, code or broken syntax reported, never accepted?"""
    valid, invalid, _ = read(filled({"author-aaaa": source}))
    assert "author-aaaa" not in valid
    assert any(expected in line for line in invalid), invalid


def test_a_review_cell_is_read_never_run(tmp_path: Path) -> None:
    """Does a cell that would write a file when executed leave no file behind?"""
    marker = tmp_path / "ran"
    source = f"review = {{'author': 'author-aaaa', 'x': open({str(marker)!r}, 'w').write('x')}}"
    _, invalid, _ = read(filled({"author-aaaa": source}))
    assert invalid and not marker.exists()


def test_a_second_review_of_the_same_author_and_a_non_notebook_are_refused() -> None:
    """Is a copied cell reviewing the same alias twice refused, and a form that is not a notebook reported?"""
    nb = filled({"author-aaaa": cell("author-aaaa"), "author-bbbb": cell("author-aaaa", correctness=0)})
    valid, invalid, missing = read(nb)
    assert valid["author-aaaa"]["scores"]["correctness"] == 3
    assert any("a second review of the same author" in line for line in invalid)
    assert missing == ["author-bbbb"]
    assert read([1, 2]) == ({}, ["review.ipynb is not a notebook (no list of cells)"], list(ALIASES[:2]))


# ---------------------------------------------------------------- unknown students


def pairs() -> list[Pair]:
    return [Pair("ann", "bob", "author-bbbb", 0), Pair("bob", "ann", "author-aaaa", 0)]


def test_a_review_file_from_an_unknown_student_is_refused_with_the_file_named(tmp_path: Path) -> None:
    """Is a review file whose reviewer is not in the assignment an error naming that file and the student?"""
    (tmp_path / "ok.json").write_text(json.dumps({"reviewer": "ann", "author": "author-bbbb", "comment": GOOD,
                                                  "scores": {"correctness": 3, "clarity": 3}}))
    (tmp_path / "zed.json").write_text(json.dumps({"reviewer": "zed", "author": "author-bbbb", "comment": GOOD,
                                                   "scores": {"correctness": 4, "clarity": 4}}))
    with pytest.raises(PeerReviewError) as caught:
        read_reviews(tmp_path, pairs(), RUBRIC)
    assert f"{tmp_path / 'zed.json'}: reviewer 'zed' is not in the stored assignment" in str(caught.value)
    assert "ok.json" not in str(caught.value)


def corrupt_submission(folder: Path, student: str, stamp: str | None) -> None:
    """A notebook that is not JSON: graded zero without starting a sandbox, which keeps these tests fast."""
    target = folder / student / MINI_PART
    target.mkdir(parents=True)
    (target / f"{MINI_NB}.ipynb").write_text("{not json")
    if stamp is not None:
        (target / "timestamp.txt").write_text(stamp)


def grade(course: Course, folder: Path, book: Gradebook) -> object:
    return grade_part(course, MINI_PART, folder, gradebook=book, sandbox=LocalSandbox(Limits()), workers=1,
                      show_progress=False)


def test_a_submission_folder_of_a_student_not_on_the_roster_is_flagged(mini_course: Course, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """With a roster in the gradebook, is a folder for someone not on it graded (nothing lost) but flagged?"""
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    book.ensure_student("ann", cohort="a")
    subs = tmp_path / "submitted"
    for student in ("ann", "mallory"):
        corrupt_submission(subs, student, "2026-01-09 10:00:00.000000 UTC")
    with caplog.at_level(logging.WARNING):
        summary = grade(mini_course, subs, book)
    assert summary.unknown == ["mallory"]
    assert "'mallory' is not on the roster" in caplog.text
    assert sorted(row["student"] for row in book.latest(MINI_PART)) == ["ann", "mallory"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create OS users (and release needs root)")
def test_release_skips_reviewers_without_an_account_and_authors_without_a_submission(tmp_path: Path) -> None:
    """Is a reviewer with no OS account, or with nobody to review, reported and given no packet (no crash)?"""
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", "tprsolo"], check=True, capture_output=True)
    try:
        path = tmp_path / "course_config.py"
        path.write_text(COURSE_CONFIG.format(rubric=repr(RUBRIC).replace("RubricItem(id=", "RubricItem(")))
        course = load_course(path)
        book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
        replace_pairs(book, "part-04-x", {"tprghost": ["tprsolo"], "tprsolo": ["tprghost"]},
                      {"tprghost": "author-aaaa", "tprsolo": "author-bbbb"}, seed=0)
        (tmp_path / "submitted" / "tprstranger").mkdir(parents=True)
        report = release_reviews(course, book, "part-04-x", layout=HubLayout(tmp_path / "hub", course.id),
                                 submissions=tmp_path / "submitted")
    finally:
        subprocess.run(["userdel", "tprsolo"], capture_output=True, check=False)
    assert report.released == []
    assert report.problems["tprghost"] == ["no OS account 'tprghost': import the roster first; the packet was not "
                                           "released"]
    assert report.problems["tprsolo"][0].startswith("no submitted notebook of tprghost (author-aaaa)")
    assert report.problems["tprsolo"][1] == "nothing to review: the packet was not released"
    assert not list((tmp_path / "hub" / "exchange").rglob("*review*"))
    assert report.ignored == [f"{tmp_path / 'submitted' / 'tprstranger'}: 'tprstranger' is not an author in the "
                              "assignment of part-04-x (unknown student, or not graded): ignored"]


# ---------------------------------------------------------------- the same submission collected twice


def test_the_same_submission_graded_twice_is_one_row(mini_course: Course, tmp_path: Path) -> None:
    """Does grading the same collected folder twice skip it the second time and keep one submission row?"""
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    subs = tmp_path / "submitted"
    corrupt_submission(subs, "ann", "2026-01-09 10:00:00.000000 UTC")
    first, second = grade(mini_course, subs, book), grade(mini_course, subs, book)
    assert (len(first.graded), second.skipped, len(second.graded)) == (1, 1, 0)  # type: ignore[attr-defined]
    with book.session() as s:
        assert s.query(Submission).count() == 1


def test_the_same_review_stored_twice_is_one_row_and_a_change_updates_it(tmp_path: Path) -> None:
    """Does storing the same review again change nothing, and a changed one update its row in place?"""
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    review = StoredReview(PART, "ann", "bob", "author-bbbb", {"correctness": 3, "clarity": 4}, 7, GOOD, WHEN)
    first = store_reviews(book, [review])
    again = store_reviews(book, [review])
    changed = store_reviews(book, [StoredReview(PART, "ann", "bob", "author-bbbb", {"correctness": 1, "clarity": 4},
                                                5, GOOD, WHEN)])
    assert (first.added, again.unchanged, changed.updated) == ([("ann", "author-bbbb")],) * 3
    assert [(r.reviewer, r.total) for r in load_reviews(book, PART)] == [("ann", 5)]


# ---------------------------------------------------------------- a timestamp from the future


def test_a_timestamp_from_the_future_is_clamped_and_said(mini_course: Course, tmp_path: Path) -> None:
    """Is a submission stamped next year counted as handed in when it was collected (no lateness credit, a late
    penalty where due), with the reason in the gradebook's problem, while a sane stamp is kept as it is?"""
    subs = tmp_path / "submitted"
    before = datetime.now(UTC) - timedelta(seconds=1)
    future = datetime.now(UTC) + timedelta(days=365)
    corrupt_submission(subs, "ann", future.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    corrupt_submission(subs, "bob", "2026-01-09 10:00:00.000000 UTC")
    corrupt_submission(subs, "cat", "not a time at all")
    found = {s.student: s for s in find_submissions(subs, MINI_PART, [MINI_NB])}
    assert before <= found["ann"].submitted_at <= datetime.now(UTC)
    assert "after the submission was collected (clock skew?)" in found["ann"].note
    assert found["bob"].submitted_at == datetime(2026, 1, 9, 10, tzinfo=UTC) and found["bob"].note == ""
    assert found["cat"].note == ""  # unreadable: the file time, as before
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    grade(mini_course, subs, book)
    rows = {row["student"]: row for row in book.latest(MINI_PART)}
    assert rows["ann"]["submitted_at"] <= datetime.now(UTC)
    assert "clock skew" in rows["ann"]["problem"] and "not a valid notebook" in rows["ann"]["problem"]
    assert "clock skew" not in rows["bob"]["problem"]


# ---------------------------------------------------------------- a gradebook cut short by a crash


def filled_gradebook(path: Path, n: int = 40) -> str:
    url = f"sqlite:///{path}"
    book = Gradebook(url)
    for i in range(n):
        book.record(f"s{i:03d}", MINI_PART, NotebookGrade(MINI_NB, problem="x" * 3000), content_sha256=f"{i:064d}",
                    submitted_at=WHEN)
    book.engine.dispose()  # the last connection checkpoints the WAL into the file
    return url


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.9])
def test_a_truncated_gradebook_is_a_clear_error_and_is_left_untouched(tmp_path: Path, keep: float) -> None:
    """Is a gradebook file cut short a GradebookError naming the file and what to do, with no byte changed?"""
    path = tmp_path / "gradebook.sqlite"
    url = filled_gradebook(path)
    with path.open("r+b") as f:
        f.truncate(int(path.stat().st_size * keep))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(GradebookError) as caught:
        Gradebook(url)
    message = str(caught.value)
    assert f"{path} is damaged" in message and "restore the latest backup" in message
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    """Is a gradebook path holding something else (here: text) refused with the same advice, unchanged?"""
    path = tmp_path / "gradebook.sqlite"
    path.write_text("student,points\nann,3\n" * 20)
    with pytest.raises(GradebookError, match=r"file is not a database[\s\S]*restore the latest backup"):
        Gradebook(f"sqlite:///{path}")
    assert path.read_text().startswith("student,points")


KILLED_WRITER = """
import sys, time
from datetime import UTC, datetime
from aiml_course.gradebook import Gradebook, Student
from aiml_course.grading.engine import NotebookGrade

book = Gradebook(sys.argv[1])
for i in range(5):
    book.record(f"s{i}", "part-01-mini", NotebookGrade("1.1-mini"), content_sha256=str(i), submitted_at=datetime.now(UTC))
session = book._session()
session.add(Student(id="half", name="never committed"))
session.flush()
print("ready", flush=True)
time.sleep(60)
"""


def test_a_writer_killed_mid_transaction_loses_nothing_committed(tmp_path: Path) -> None:
    """After a grader is killed (SIGKILL) inside a transaction, leaving its WAL journal behind, does the gradebook
    open with every committed row and without the unfinished one?"""
    path = tmp_path / "gradebook.sqlite"
    url = f"sqlite:///{path}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, url], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        assert Path(f"{path}-wal").is_file()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert Path(f"{path}-wal").is_file()  # left behind by the crash
    book = Gradebook(url)
    assert [s.id for s in book.students()] == [f"s{i}" for i in range(5)]
    assert len(book.latest(MINI_PART)) == 5


def test_a_gradebook_from_before_peer_reviews_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    """Does a gradebook at migration 0001 gain the peer_reviews table on open, keeping every row it had?"""
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from aiml_course.gradebook import _alembic_config

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0001")
        connection.exec_driver_sql("INSERT INTO students (id, name, email, cohort, active) "
                                   "VALUES ('old', 'Old Timer', '', 'a', 1)")
    assert "peer_reviews" not in inspect(engine).get_table_names()
    engine.dispose()
    book = Gradebook(url)
    assert [s.name for s in book.students()] == ["Old Timer"]
    assert "peer_reviews" in inspect(book.engine).get_table_names()


# ---------------------------------------------------------------- the table: aggregate and feedback


def test_aggregate_reads_the_table_and_says_when_it_is_empty(tmp_path: Path) -> None:
    """Does aggregate without a folder use the stored reviews, and explain what to run when there are none?"""
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    replace_pairs(book, PART, {"ann": ["bob"], "bob": ["ann"]}, {"ann": "author-aaaa", "bob": "author-bbbb"}, seed=0)
    with pytest.raises(PeerReviewError, match="run `course peer-review collect"):
        aggregate_part(book, PART, None, rubric=RUBRIC, iterations=20)
    store_reviews(book, [StoredReview(PART, "ann", "bob", "author-bbbb", {"correctness": 3, "clarity": 3}, 6, GOOD,
                                      WHEN)])
    result = aggregate_part(book, PART, None, rubric=RUBRIC, iterations=20)
    assert result.reviews == [("ann", "bob", 6.0)] and result.median == {"bob": 6.0}
    assert [(p.reviewer, p.alias) for p in result.missing] == [("bob", "author-aaaa")]


def test_feedback_is_anonymous_and_its_numbering_is_stable(tmp_path: Path) -> None:
    """Does an author see 'Reviewer n' (names written in comments replaced) in an order that does not depend on
    who the reviewers are?"""
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    with book.session() as s:
        s.add_all([Student(id="ann", name="Ann Example"), Student(id="cy", name="Cy Example")])
    reviews = [StoredReview(PART, reviewer, "bob", "author-bbbb", {"correctness": pts, "clarity": pts}, 2 * pts,
                            f"{GOOD} (reviewed by {signature})", WHEN)
               for reviewer, pts, signature in (("ann", 3, "Ann Example"), ("cy", 1, "cy"))]
    store_reviews(book, reviews)
    feedback = peer_feedback(book, PART, "bob")
    assert sorted(f["reviewer"] for f in feedback) == ["Reviewer 1", "Reviewer 2"]
    for item in feedback:
        assert item["comment"] == f"{GOOD} (reviewed by {item['reviewer']})"
    assert "Ann Example" not in json.dumps(feedback) and "by cy" not in json.dumps(feedback)
    book2 = Gradebook(f"sqlite:///{tmp_path / 'g2.sqlite'}")
    store_reviews(book2, [StoredReview(r.part, {"ann": "zz", "cy": "aa"}[r.reviewer], r.author, r.alias, r.scores,
                                       r.total, r.comment, WHEN) for r in reviews])  # ids now sort the other way
    assert [f["total"] for f in peer_feedback(book2, PART, "bob")] == [f["total"] for f in feedback]
    assert peer_feedback(book, PART, "nobody") == []
