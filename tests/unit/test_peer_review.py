"""Peer review: assignment, anonymisation, rubric checks, calibrated grades and the `peer-review` commands."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aiml_course.config import RubricItem
from aiml_course.gradebook import Gradebook, Student, Submission
from aiml_course.grading.engine import NotebookGrade
from aiml_course.peer_review import (
    PeerAssignment,
    PeerReviewError,
    anonymize_notebook,
    assign_reviews,
    calibrated_grades,
    make_aliases,
    median_grades,
    peer_review_cli,
    validate_review,
)

PART = "part-04-neural-networks"
RUBRIC = (RubricItem("correctness", "Does it work?", 4), RubricItem("clarity", "Can you follow it?", 4))


def cohort(n: int, name: str = "c") -> dict[str, str]:
    return {f"{name}{i:02d}": name for i in range(n)}


def authors_of(assignment: dict[str, list[str]]) -> Counter[str]:
    return Counter(a for authors in assignment.values() for a in authors)


# ---------------------------------------------------------------- assignment


@pytest.mark.parametrize(("n", "k"), [(2, 3), (3, 3), (4, 3), (5, 3), (7, 4), (31, 3), (200, 4)])
def test_nobody_reviews_themselves_or_anyone_twice(n: int, k: int) -> None:
    """Does no reviewer get their own submission, or the same author twice?"""
    for reviewer, authors in assign_reviews(cohort(n), k=k, seed=1).items():
        assert reviewer not in authors
        assert len(set(authors)) == len(authors)


def test_reviews_stay_within_cohorts() -> None:
    """Is every author reviewed only by members of their own cohort?"""
    submitters = {**cohort(7, "a"), **cohort(5, "b"), **cohort(9, "z")}
    assignment = assign_reviews(submitters, k=3, seed=4)
    assert set(assignment) == set(submitters)
    for reviewer, authors in assignment.items():
        assert {submitters[a] for a in authors} <= {submitters[reviewer]}


@pytest.mark.parametrize(("n", "k"), [(4, 3), (5, 3), (6, 2), (10, 3), (31, 4), (200, 3)])
def test_every_author_gets_exactly_k_and_loads_are_balanced(n: int, k: int) -> None:
    """With more than k in the cohort, does every author get exactly k reviews and every reviewer write k?"""
    assignment = assign_reviews({**cohort(n, "a"), **cohort(n + 3, "b")}, k=k, seed=7)
    assert set(authors_of(assignment).values()) == {k}
    loads = [len(authors) for authors in assignment.values()]
    assert max(loads) - min(loads) <= 1
    assert set(loads) == {k}


@pytest.mark.parametrize(("n", "expected"), [(1, 0), (2, 1), (3, 2), (5, 3)])
def test_small_and_odd_cohorts_get_as_many_reviews_as_possible(n: int, expected: int) -> None:
    """With k = 3, does a cohort of n <= 3 review all n - 1 others, and one of 5 get exactly 3?"""
    assignment = assign_reviews(cohort(n), k=3, seed=2)
    assert set(assignment) == set(cohort(n))
    assert all(len(authors) == expected for authors in assignment.values())
    assert all(authors_of(assignment)[s] == expected for s in cohort(n))


def test_same_seed_same_assignment_whatever_the_input_order() -> None:
    """Is the assignment reproducible for a seed, independent of dict order, and different for another seed?"""
    submitters = {**cohort(12, "a"), **cohort(9, "b")}
    reordered = dict(reversed(list(submitters.items())))
    first = assign_reviews(submitters, k=3, seed=11)
    assert assign_reviews(reordered, k=3, seed=11) == first
    assert assign_reviews(submitters, k=3, seed=12) != first


def test_drop_outs_are_neither_reviewers_nor_authors() -> None:
    """Does a student missing from the submitters appear nowhere, while everyone else still gets k reviews?"""
    everyone = cohort(10)
    submitted = {s: c for s, c in everyone.items() if s not in ("c03", "c07")}
    assignment = assign_reviews(submitted, k=3, seed=5)
    assert set(assignment) == set(submitted)
    assert set(authors_of(assignment)) == set(submitted)
    assert set(authors_of(assignment).values()) == {3}


def test_k_below_one_is_refused() -> None:
    """Is k = 0 an error that says what k must be?"""
    with pytest.raises(PeerReviewError, match="at least 1"):
        assign_reviews(cohort(4), k=0, seed=0)


def test_aliases_are_distinct_and_kept_on_request() -> None:
    """Are aliases 'author-' + hex, all different, and are the ones passed in `keep` left alone?"""
    students = list(cohort(300))
    aliases = make_aliases(students)
    assert len(set(aliases.values())) == 300
    assert all(re.fullmatch(r"author-[0-9a-f]{4,}", a) for a in aliases.values())
    again = make_aliases([*students, "late"], keep=aliases)
    assert {s: again[s] for s in students} == aliases
    assert again["late"] not in aliases.values()


# ---------------------------------------------------------------- anonymisation


def named_notebook() -> dict:
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "authors": [{"name": "Ada Lovelace"}],
            "aiml": {"student": "ada17", "module": "4.6"},
            "nbgrader": {"student_id": "ADA17"},
            "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {"owner": "ada17"}}},
        },
        "cells": [
            {"cell_type": "markdown", "id": "a1", "metadata": {"nbgrader": {"grade_id": "ada17-q1"}},
             "source": ["# Project by Ada Lovelace (ada17)\n", "Made in Canada, ADA LOVELACE says hi."],
             "attachments": {"ada17.png": {"image/png": "iVBORw0KGgo="}}},
            {"cell_type": "code", "id": "c1", "execution_count": 3,
             "metadata": {"tags": ["answer"], "aiml": {"role": "answer", "who": "ada17"}},
             "source": "path = '/home/jupyter-ada17/data'  # Ada17 wrote this\nprint('Lovelace')",
             "outputs": [
                 {"output_type": "stream", "name": "stdout", "text": ["ada17 Lovelace\n"]},
                 {"output_type": "execute_result", "execution_count": 3, "metadata": {},
                  "data": {"text/html": "<b>Ada Lovelace</b>", "image/png": "QWRh"}},
             ]},
        ],
    }


def test_anonymized_notebook_has_no_trace_of_the_author() -> None:
    """Are the id and names gone from metadata, sources, attachments and outputs, case-insensitively?"""
    original = named_notebook()
    anon = anonymize_notebook(original, author="ada17", alias="author-7f3a", names=["Ada Lovelace", "Lovelace"])
    text = json.dumps(anon).lower()
    assert "ada17" not in text
    assert "lovelace" not in text
    assert "author-7f3a" in text
    assert anon["metadata"] == {"kernelspec": original["metadata"]["kernelspec"]}
    assert anon["cells"][0]["metadata"] == {}
    assert anon["cells"][1]["metadata"] == {"tags": ["answer"]}
    assert anon["cells"][1]["outputs"] == [] and anon["cells"][1]["execution_count"] is None
    assert set(anon["cells"][0]["attachments"]) == {"author-7f3a.png"}
    assert "Made in Canada" in "".join(anon["cells"][0]["source"])  # 'ada' inside a word is not a name
    assert original == named_notebook()  # a copy: the input is untouched


def test_kept_outputs_are_scrubbed_but_images_untouched() -> None:
    """With keep_outputs, is output text scrubbed while base64 image data stays byte-for-byte?"""
    anon = anonymize_notebook(named_notebook(), author="ada17", alias="author-0001",
                              names=["Ada Lovelace", "Lovelace"], keep_outputs=True)
    stream, result = anon["cells"][1]["outputs"]
    assert stream["text"] == ["author-0001 author-0001\n"]
    assert result["data"] == {"text/html": "<b>author-0001</b>", "image/png": "QWRh"}


# ---------------------------------------------------------------- rubric


def review(**overrides: object) -> dict:
    base = {"reviewer": "s01", "author": "author-00aa", "scores": {"correctness": 3, "clarity": 4},
            "comment": "Clear plots; the loss curve needs axis labels."}
    return {**base, **overrides}


def test_a_complete_review_is_valid() -> None:
    """Does a review with every item scored in range and a real comment pass?"""
    assert validate_review(review(), RUBRIC) == []


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"scores": {"correctness": 3}}, "no score for rubric item 'clarity'"),
    ({"scores": {"correctness": 5, "clarity": 4}}, "'correctness' must be a whole number from 0 to 4, got 5"),
    ({"scores": {"correctness": -1, "clarity": 4}}, "got -1"),
    ({"scores": {"correctness": 2.5, "clarity": 4}}, "got 2.5"),
    ({"scores": {"correctness": True, "clarity": 4}}, "got True"),
    ({"scores": {"correctness": "3", "clarity": 4}}, "got '3'"),
    ({"scores": {"correctness": 3, "clarity": 4, "style": 1}}, "unknown rubric item 'style'"),
    ({"scores": [3, 4]}, "'scores' must be an object"),
    ({"comment": "ok"}, "'comment' is too short (2 characters)"),
    ({"comment": "   "}, "'comment' is missing"),
    ({"comment": None}, "'comment' is missing"),
    ({"reviewer": ""}, "'reviewer' must be a non-empty string"),
])
def test_each_problem_is_named(overrides: dict, expected: str) -> None:
    """Does each kind of broken review produce a message naming the item and what is allowed?"""
    problems = validate_review(review(**overrides), RUBRIC)
    assert len(problems) == 1
    assert expected in problems[0]


def test_every_problem_is_reported_at_once() -> None:
    """Are all problems of a review listed, not just the first?"""
    problems = validate_review({"scores": {}, "comment": "short"}, RUBRIC)
    assert len(problems) == 5  # reviewer, author, two missing scores, comment


# ---------------------------------------------------------------- aggregation


def simulate(n: int, k: int, seed: int) -> tuple[dict[str, float], dict[str, float], list[tuple[str, str, float]]]:
    """True scores N(7, 2²), biases N(0, 1.5²), reliabilities Gamma(2, mean 1), as in the benchmark."""
    rng = np.random.default_rng(seed)
    ids = list(cohort(n))
    true = dict(zip(ids, rng.normal(7, 2, n), strict=True))
    bias = dict(zip(ids, rng.normal(0, 1.5, n), strict=True))
    tau = dict(zip(ids, rng.gamma(2.0, 0.5, n), strict=True))
    reviews = [(v, u, float(true[u] + bias[v] + rng.normal(0, 1 / np.sqrt(tau[v]))))
               for v, authors in assign_reviews(dict.fromkeys(ids, "c"), k=k, seed=seed).items() for u in authors]
    return true, bias, reviews


def rmse(estimate: dict[str, float], true: dict[str, float]) -> float:
    return float(np.sqrt(np.mean([(estimate[u] - true[u]) ** 2 for u in true])))


def test_median_grades() -> None:
    """Is each author's grade the median of their reviews?"""
    reviews = [("a", "x", 1), ("b", "x", 9), ("c", "x", 4), ("a", "y", 2), ("b", "y", 3)]
    assert median_grades(reviews) == {"x": 4.0, "y": 2.5}


def test_calibrated_grades_beat_the_median() -> None:
    """On a simulated cohort of 40 with k = 3, is PG1's RMSE against the truth well below the median's?"""
    true, bias, reviews = simulate(40, 3, seed=3)
    fit = calibrated_grades(reviews, iterations=1500, seed=0)
    assert rmse(fit.scores, true) < 0.85 * rmse(median_grades(reviews), true)
    assert np.corrcoef([fit.bias[v] for v in bias], list(bias.values()))[0, 1] > 0.7


def test_calibration_finds_a_harsh_and_an_erratic_reviewer() -> None:
    """Is a reviewer who marks 3 points low found 3 below the fair ones, and a random marker the least reliable?

    Biases are relative to the average reviewer (here a quarter of them is harsh), so the grades may share one
    offset: what must shrink is the spread of the errors.
    """
    rng = np.random.default_rng(0)
    true = {f"u{i}": float(s) for i, s in enumerate(rng.normal(6, 2, 30))}
    reviews = []
    for u, s in true.items():
        reviews += [("fair1", u, s + rng.normal(0, 0.3)), ("fair2", u, s + rng.normal(0, 0.3)),
                    ("harsh", u, s - 3 + rng.normal(0, 0.3)), ("erratic", u, float(rng.uniform(0, 12)))]
    fit = calibrated_grades(reviews, iterations=800, seed=1)
    assert fit.bias["harsh"] - (fit.bias["fair1"] + fit.bias["fair2"]) / 2 == pytest.approx(-3, abs=0.3)
    assert min(fit.reliability, key=fit.reliability.__getitem__) == "erratic"
    median = median_grades(reviews)
    assert np.std([fit.scores[u] - s for u, s in true.items()]) < 0.3
    assert np.std([median[u] - s for u, s in true.items()]) > 0.6


def test_calibration_is_reproducible_and_handles_tiny_inputs() -> None:
    """Does the same seed give the same fit, and do one review or identical scores give finite grades?"""
    _, _, reviews = simulate(12, 3, seed=1)
    assert calibrated_grades(reviews, iterations=200, seed=4) == calibrated_grades(reviews, iterations=200, seed=4)
    assert calibrated_grades([], iterations=10).scores == {}
    one = calibrated_grades([("a", "b", 7.0)], iterations=200)
    assert one.scores["b"] == pytest.approx(7.0, abs=1.0)
    same = calibrated_grades([(v, u, 5.0) for v in "abc" for u in "xyz" if u != v], iterations=200)
    assert all(score == pytest.approx(5.0, abs=1e-3) for score in same.scores.values())


# ---------------------------------------------------------------- command line


CONFIG = f'''
from datetime import datetime, timezone
from aiml_course.config import Course, Part, PeerReview, RubricItem

COURSE = Course(
    id="pr", title="Peer review test course", cohorts=("a", "b"),
    parts=(Part("{PART}", title="Nets", due=datetime(2026, 3, 27, tzinfo=timezone.utc)),),
    peer_review=PeerReview(reviews_per_submission=2, seed=5, rubric=(
        RubricItem("correctness", "Does it work?", 4), RubricItem("clarity", "Can you follow it?", 4))),
)
'''


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    """A course with two cohorts; 5 + 4 students graded for the part, one inactive, one who never submitted."""
    (tmp_path / "course_config.py").write_text(CONFIG)
    gradebook = Gradebook(f"sqlite:///{tmp_path / 'var' / 'gradebook.sqlite'}")
    when = datetime(2026, 3, 20, tzinfo=UTC)
    students = {**{f"a{i}": "a" for i in range(6)}, **{f"b{i}": "b" for i in range(5)}}
    for sid, group in students.items():
        gradebook.ensure_student(sid, cohort=group)
        if sid != "b4":  # b4 never submitted
            gradebook.record(sid, PART, NotebookGrade(notebook="major-project.ipynb"), content_sha256=sid,
                             submitted_at=when)
    with gradebook.session() as s:
        s.get(Student, "a5").active = 0  # dropped out after submitting
    gradebook.record("a0", "part-01-basics", NotebookGrade(notebook="p.ipynb"), content_sha256="x", submitted_at=when)
    return tmp_path


def invoke(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(peer_review_cli, list(args), obj={"config": str(root / "course_config.py")})
    return result.exit_code, result.output


def stored(root: Path) -> list[tuple[str, str, str, str]]:
    with Gradebook(f"sqlite:///{root / 'var' / 'gradebook.sqlite'}").session() as s:
        return sorted((r.part, r.reviewer, r.author, r.alias) for r in s.query(PeerAssignment))


def test_assign_stores_a_reproducible_assignment(course_dir: Path) -> None:
    """Does `assign` store k reviews per graded active student within cohorts, the same again for the same seed?"""
    code, out = invoke(course_dir, "assign", "part-04", "--k", "3", "--seed", "9")
    assert code == 0, out
    rows = stored(course_dir)
    assert {r[0] for r in rows} == {PART}
    people = {r[1] for r in rows} | {r[2] for r in rows}
    assert people == {"a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3"}  # not a5 (inactive), not b4
    assert all(r[1][0] == r[2][0] and r[1] != r[2] for r in rows)  # same cohort, never oneself
    assert Counter(r[2] for r in rows) == dict.fromkeys(people, 3)
    assert len({r[3] for r in rows}) == 9 and all(r[3].startswith("author-") for r in rows)
    assert "a0" in out and "b3" in out
    assert "27 reviews for part-04-neural-networks stored (seed 9; first assignment of this part)" in out

    code, out = invoke(course_dir, "assign", PART, "--k", "3", "--seed", "9")
    assert code == 0 and stored(course_dir) == rows
    assert "same as the stored assignment" in out

    code, out = invoke(course_dir, "assign", PART, "--seed", "10")  # k from the config: 2
    assert code == 0 and "replaces the earlier assignment" in out
    again = stored(course_dir)
    assert len(again) == 18
    assert {(r[2], r[3]) for r in again} == {(r[2], r[3]) for r in rows}  # handed-out aliases stay valid


def test_assign_without_graded_submissions_is_a_clear_error(course_dir: Path) -> None:
    """Is a part nobody was graded for an error that says to grade first?"""
    (course_dir / "course_config.py").write_text(CONFIG.replace(
        "parts=(", 'parts=(Part("part-05-data", title="D", due=datetime(2026, 4, 1, tzinfo=timezone.utc)), '))
    code, out = invoke(course_dir, "assign", "part-05")
    assert code == 2
    assert "no graded submission for part-05-data" in out


def write_reviews(root: Path, rows: list[tuple[str, str, str, str]], *, harsh: str) -> Path:
    folder = root / "reviews"
    folder.mkdir()
    for i, (_, reviewer, author, alias) in enumerate(rows):
        points = 3 if author.startswith("a") else 2
        if reviewer == harsh:
            points -= 2
        (folder / f"review-{i:02d}.json").write_text(json.dumps({
            "reviewer": reviewer, "author": alias, "comment": "Readable, and the experiments are explained.",
            "scores": {"correctness": points, "clarity": points}}))
    return folder


def test_aggregate_prints_median_and_calibrated_grades(course_dir: Path) -> None:
    """Does `aggregate` read every review file and print each author's median and calibrated grade?"""
    assert invoke(course_dir, "assign", PART, "--k", "3")[0] == 0
    rows = stored(course_dir)
    folder = write_reviews(course_dir, rows[1:], harsh="a1")  # one review never handed in
    code, out = invoke(course_dir, "aggregate", PART, str(folder), "--iterations", "300")
    assert code == 0, out
    for _, _, author, alias in rows:
        assert f"{author:<16} {alias}" in out
    assert "1 assigned reviews not handed in" in out
    bias = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()
            if line[:1] in "ab" and len(line.split()) == 3}
    assert min(bias, key=bias.__getitem__) == "a1"


def test_aggregate_names_the_broken_file(course_dir: Path) -> None:
    """Is an invalid review file an error naming that file and its problems?"""
    assert invoke(course_dir, "assign", PART, "--k", "2")[0] == 0
    rows = stored(course_dir)
    folder = write_reviews(course_dir, rows, harsh="")
    broken = folder / "review-03.json"
    data = json.loads(broken.read_text())
    broken.write_text(json.dumps({**data, "scores": {"correctness": 9}}))
    (folder / "review-04.json").write_text("{not json")
    stranger = json.loads((folder / "review-05.json").read_text())
    (folder / "review-99.json").write_text(json.dumps({**stranger, "author": "author-ffff0"}))
    code, out = invoke(course_dir, "aggregate", PART, str(folder))
    assert code == 2
    assert f"{broken}: no score for rubric item 'clarity'" in out
    assert f"{broken}: score for 'correctness' must be a whole number from 0 to 4, got 9" in out
    assert f"{folder / 'review-04.json'}: not a readable JSON file" in out
    assert f"{folder / 'review-99.json'}: author alias 'author-ffff0' is not in the stored assignment" in out


def test_peer_tasks_say_which_assigned_reviews_are_done(tmp_path) -> None:
    """The dashboard's task list: every assigned review, marked done once a valid review is stored."""
    from datetime import UTC, datetime

    from aiml_course.gradebook import Gradebook
    from aiml_course.peer_review.exchange import peer_feedback, peer_tasks
    from aiml_course.peer_review.store import StoredReview, replace_pairs, store_reviews

    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    for s in ("ann", "bob", "cat"):
        book.ensure_student(s, name=s.title())
    replace_pairs(book, "p4", {"ann": ["bob", "cat"], "bob": ["ann"]}, {"ann": "A-1", "bob": "B-2", "cat": "C-3"},
                  seed=1)
    assert peer_tasks(book, "p4", "ann") == [{"part": "p4", "alias": "B-2", "done": False},
                                             {"part": "p4", "alias": "C-3", "done": False}]
    store_reviews(book, [StoredReview("p4", "ann", "cat", "C-3", {"clarity": 3}, 3, "Ann liked it",
                                      datetime(2026, 3, 1, tzinfo=UTC))])
    assert [t["done"] for t in peer_tasks(book, "p4", "ann")] == [False, True]
    assert peer_tasks(book, "p4", "cat") == []
    (received,) = peer_feedback(book, "p4", "cat")
    assert received["reviewer"] == "Reviewer 1" and "Ann" not in received["comment"]


# ---------------------------------------------------------------- issue 11: empty folders, bounds, re-assignment


def test_students_whose_folder_was_empty_get_no_reviews_and_are_not_reviewed(course_dir: Path) -> None:
    """A student graded 0 on every notebook because nothing was handed in (no submission time) is neither a
    reviewer nor an author; one missing notebook out of two is still a submitter."""
    book = Gradebook(f"sqlite:///{course_dir / 'var' / 'gradebook.sqlite'}")
    for sid in ("a0", "a1"):  # a0: folder empty (both notebooks missing); a1: one of two handed in
        with book.session() as s:
            s.query(Submission).filter_by(student_id=sid, part=PART).delete()
    book.record("a0", PART, NotebookGrade(notebook="major-project.ipynb"), content_sha256="missing",
                submitted_at=None)
    book.record("a0", PART, NotebookGrade(notebook="report.ipynb"), content_sha256="missing", submitted_at=None)
    book.record("a1", PART, NotebookGrade(notebook="major-project.ipynb"), content_sha256="missing",
                submitted_at=None)
    book.record("a1", PART, NotebookGrade(notebook="report.ipynb"), content_sha256="x" * 64,
                submitted_at=datetime(2026, 3, 20, tzinfo=UTC))
    assert invoke(course_dir, "assign", PART, "--k", "2")[0] == 0
    people = {r[1] for r in stored(course_dir)} | {r[2] for r in stored(course_dir)}
    assert "a0" not in people and "a1" in people


def test_tiny_cohorts_are_warned_that_k_is_more_than_possible(tmp_path: Path) -> None:
    """Cohorts of 1 and 2 with k = 3: the assignment says so, cohort by cohort."""
    (tmp_path / "course_config.py").write_text(CONFIG)
    book = Gradebook(f"sqlite:///{tmp_path / 'var' / 'gradebook.sqlite'}")
    for sid, group in (("a0", "a"), ("a1", "a"), ("b0", "b")):
        book.ensure_student(sid, cohort=group)
        book.record(sid, PART, NotebookGrade(notebook="p.ipynb"), content_sha256=sid,
                    submitted_at=datetime(2026, 3, 20, tzinfo=UTC))
    result = CliRunner().invoke(peer_review_cli, ["assign", PART, "--k", "3"],
                                obj={"config": str(tmp_path / "course_config.py")})
    assert result.exit_code == 0, result.output
    assert "cohort 'a' has 2 student(s) with a submission: k=3 is more than possible, they get only 1 review(s)" \
        in result.output
    assert "cohort 'b' has 1 student(s)" in result.output and "no reviews at all" in result.output


def test_tiny_cohorts_fall_back_to_the_median_with_a_warning() -> None:
    """Two cohorts of two, k = 3 (one review per author; the unbounded model gave 757 and -1180 on 0..12)."""
    reviews = [("s0", "s1", 11.0), ("s1", "s0", 9.0), ("s2", "s3", 10.0), ("s3", "s2", 6.0)]
    fit = calibrated_grades(reviews, iterations=500, score_range=(0, 12))
    assert fit.method == "median" and fit.scores == median_grades(reviews)
    assert fit.warnings and "too little data to calibrate" in fit.warnings[0]


@pytest.mark.parametrize("n", [3, 4, 5, 6, 8])
def test_calibrated_grades_of_small_cohorts_stay_in_range_and_bounded(n: int) -> None:
    """Small cohorts with integer rubric totals and extreme reviewers: the model's own estimates (no clipping)
    stay near the rubric's range, and the returned grades never leave it."""
    for seed in range(8):
        rng = np.random.default_rng(seed)
        assignment = assign_reviews(cohort(n), k=3, seed=seed)
        reviews = [(v, u, float(rng.choice([0, 12]) if v.endswith("0") else rng.integers(0, 13)))
                   for v, authors in assignment.items() for u in authors]
        raw = calibrated_grades(reviews, iterations=400, seed=seed)
        assert all(-1.0 <= x <= 13.0 for x in raw.scores.values()), raw.scores
        clipped = calibrated_grades(reviews, iterations=400, seed=seed, score_range=(0, 12))
        assert all(0 <= x <= 12 for x in clipped.scores.values())


def test_reviews_of_pairs_no_longer_assigned_do_not_count(tmp_path: Path) -> None:
    """After a re-assignment, a stored review whose pair was dropped is left out of the aggregate (with a
    warning), and authors without a review are still listed."""
    from aiml_course.peer_review import aggregate_part
    from aiml_course.peer_review.store import StoredReview, replace_pairs, store_reviews

    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    aliases = {s: f"author-{s}" for s in ("ann", "bob", "cat")}
    replace_pairs(book, PART, {"ann": ["bob"], "bob": ["cat"], "cat": ["ann"]}, aliases, seed=1)
    when = datetime(2026, 3, 1, tzinfo=UTC)
    comment = "Clear code and a good explanation of the results."
    store_reviews(book, [StoredReview(PART, v, u, aliases[u], {"correctness": p, "clarity": p}, 2 * p, comment, when)
                         for v, u, p in (("ann", "bob", 4), ("bob", "cat", 1), ("cat", "ann", 3))])
    replace_pairs(book, PART, {"ann": ["bob", "cat"], "bob": ["ann"], "cat": []}, aliases, seed=2)
    result = aggregate_part(book, PART, None, rubric=RUBRIC, iterations=100)
    assert sorted(result.reviews) == [("ann", "bob", 8.0)]
    assert result.unreviewed == ["ann", "cat"] and set(result.aliases) == {"ann", "bob", "cat"}
    assert any("no longer assigned" in w for w in result.warnings)


def test_aggregate_lists_authors_without_reviews(course_dir: Path) -> None:
    """The printed table has a row for every author of the assignment, 'no reviews' where nobody reviewed them."""
    assert invoke(course_dir, "assign", PART, "--k", "2")[0] == 0
    rows = stored(course_dir)
    forgotten = rows[0][2]
    folder = write_reviews(course_dir, [r for r in rows if r[2] != forgotten], harsh="")
    code, out = invoke(course_dir, "aggregate", PART, str(folder), "--iterations", "100")
    assert code == 0, out
    line = next(ln for ln in out.splitlines() if ln.startswith(f"{forgotten:<16}"))
    assert "no reviews" in line
