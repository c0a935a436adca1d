"""Tests for aiml_course.similarity on small generated notebooks in a copy of the mini course."""

from __future__ import annotations

import html
import json
import random
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from aiml_course.config import Course, load_course
from aiml_course.similarity import (
    SimilarityReport,
    find_similar,
    kgram_hashes,
    normalise,
    similarity_cli,
    similarity_report,
    winnow,
)

MINI = Path(__file__).resolve().parents[1] / "data" / "mini-course"
PART, NOTEBOOK = "part-01-mini", "1.1-mini"

ALICE = '''\
def double(x):
    """Return twice x."""
    return x + x


def normalise(values):
    total = sum(values)
    if total == 0:
        return [0.0 for _ in values]
    scaled = []
    for value in values:
        scaled.append(value / total)
    return scaled


def moving_average(xs, window):
    out = []
    running = 0.0
    for i, x in enumerate(xs):
        running += x
        if i >= window:
            running -= xs[i - window]
        if i >= window - 1:
            out.append(running / window)
    return out


def count_words(text):
    counts = {}
    for word in text.lower().split():
        word = word.strip('.,!?')
        if not word:
            continue
        counts[word] = counts.get(word, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
'''
ALICE_Q2 = "def squares(n):\n    return [i * i for i in range(n)]\n"

# Alice's code with every name changed, other comments and docstrings, other spacing and blank lines.
MALLORY = '''\
# my own solution!!
def double(number):
    # twice the number
    return number+number

def normalise(nums):
    """Scale so the numbers add up to one."""
    s_all = sum(nums)   # the sum
    if s_all == 0:
        return [0.0 for _ in nums]

    res = [ ]
    for n in nums:
        res.append( n / s_all )

    return res
def moving_average(data, size):
    """Rolling mean."""
    averages = []
    acc = 0.0


    for idx, item in enumerate(data):
        acc += item   # add the new one
        if idx >= size:
            acc -= data[idx - size]   # drop the old one
        if idx >= size - 1:
            averages.append(acc / size)
    return averages


def count_words(sentence):
    freq = {}
    for tok in sentence.lower().split():
        tok = tok.strip(".,!?")
        if not tok: continue
        freq[tok] = freq.get(tok, 0) + 1
    return sorted(freq.items(), key=lambda pair: (-pair[1], pair[0]))
'''
MALLORY_Q2 = "# squares\ndef squares(count):\n    return [k * k for k in range(count)]\n"

BOB = '''\
import math
from collections import Counter


def double(x):
    return 2 * x


def normalise(values):
    s = math.fsum(values)
    return [v / s if s else 0.0 for v in values]


def moving_average(xs, window):
    return [sum(xs[start:start + window]) / window for start in range(len(xs) - window + 1)]


def count_words(text):
    words = [w.strip('.,!?') for w in text.lower().split()]
    return Counter(w for w in words if w).most_common()
'''
BOB_Q2 = '''\
def squares(n):
    result = []
    k = 0
    while k < n:
        result.append(k ** 2)
        k += 1
    return result
'''

# Carol wrote two functions herself and copied Alice's moving_average, renaming its variables.
CAROL = '''\
def double(x):
    return x * 2


def normalise(values):
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1
    return [(v - lo) / span for v in values]


def moving_average(series, n):
    res = []
    acc = 0.0
    for j, y in enumerate(series):
        acc += y
        if j >= n:
            acc -= series[j - n]
        if j >= n - 1:
            res.append(acc / n)
    return res


def count_words(text):
    import re
    table = dict()
    tokens = re.findall(r"[a-z']+", text.lower())
    while tokens:
        token = tokens.pop()
        table[token] = 1 + table[token] if token in table else 1
    ranked = list(table.items())
    ranked.sort(key=lambda item: item[0])
    return ranked
'''
CAROL_Q2 = "def squares(n):\n    out = list(range(n))\n    return list(map(lambda v: v ** 2, out))\n"


@pytest.fixture
def course(tmp_path: Path) -> Course:
    root = tmp_path / "mini-course"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns(".course-cache", "var"))
    return load_course(root / "course_config.py")


def submit(directory: Path, student: str, course: Course, answers: dict[str, str] | None = None,
           extra: tuple[str, ...] = (), nested: bool = False) -> Path:
    """Write a student's notebook: the release with the ANSWER cells replaced and `extra` code cells appended."""
    nb = nbformat.read(course.release_dir / PART / f"{NOTEBOOK}.ipynb", as_version=4)
    for cell in nb.cells:
        for qid, code in (answers or {}).items():
            if cell.cell_type == "code" and cell.source.startswith(f"# ANSWER {qid}\n"):
                cell.source = f"# ANSWER {qid}\n{code}"
                cell.execution_count = 7
    nb.cells.extend(nbformat.v4.new_code_cell(code) for code in extra)
    folder = directory / student / PART if nested else directory / student
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{NOTEBOOK}.ipynb"
    nbformat.write(nb, path)
    return path


def scores(report: SimilarityReport) -> dict[frozenset[str], float]:
    return {frozenset((p.student_a, p.student_b)): p.score for p in report.pairs}


@pytest.fixture
def cohort(course: Course, tmp_path: Path) -> Path:
    """Alice, her disguised copy Mallory, honest Bob, partial copier Carol, and two who only ran the release."""
    subs = tmp_path / "subs"
    submit(subs, "alice", course, {"q1": ALICE, "q2": ALICE_Q2})
    submit(subs, "mallory", course, {"q1": MALLORY, "q2": MALLORY_Q2}, nested=True)
    submit(subs, "bob", course, {"q1": BOB, "q2": BOB_Q2})
    submit(subs, "carol", course, {"q1": CAROL, "q2": CAROL_Q2})
    submit(subs, "sam", course)
    submit(subs, "tess", course, extra=("%matplotlib inline\n!pip list",))
    return subs


def test_scores_order_copies_partial_copies_and_honest_work(course: Course, cohort: Path) -> None:
    """Is a disguised copy high, a one-function copy in between, honest work low, and starter code alone zero?"""
    report = find_similar(course, part=PART, directory=cohort, threshold=0.0, min_common=0)
    s = scores(report)
    pair = lambda a, b: s[frozenset((a, b))]  # noqa: E731
    assert report.students == ("alice", "bob", "carol", "mallory", "sam", "tess")
    assert report.pairs_compared == 15
    assert pair("alice", "mallory") > 0.9
    assert pair("alice", "bob") < 0.2
    assert pair("bob", "carol") < 0.2
    assert 0.2 < pair("alice", "carol") < 0.7
    assert 0.2 < pair("carol", "mallory") < 0.7
    assert pair("sam", "tess") == 0.0
    assert max(pair("sam", other) for other in ("alice", "bob", "carol", "mallory")) == 0.0


def test_default_threshold_lists_only_suspicious_pairs(course: Course, cohort: Path) -> None:
    """With the default threshold, are only the copy and the partial copies listed, highest first?"""
    report = find_similar(course, part=PART, directory=cohort)
    listed = [(p.student_a, p.student_b) for p in report.pairs]
    assert listed[0] == ("alice", "mallory")
    assert ("sam", "tess") not in listed
    assert all("bob" not in p for p in listed)
    assert [p.score for p in report.pairs] == sorted((p.score for p in report.pairs), reverse=True)
    assert all(p.score >= 0.5 for p in report.pairs)


def test_matched_cells_point_at_the_copied_lines(course: Course, cohort: Path) -> None:
    """Do the matched cells of the partial copy pair Carol's moving_average lines with Alice's?"""
    report = find_similar(course, part=PART, directory=cohort, threshold=0.0, min_common=0)
    pair = next(p for p in report.pairs if (p.student_a, p.student_b) == ("alice", "carol"))
    top = pair.cells[0]
    assert top.notebook == NOTEBOOK
    assert top.cell_a == top.cell_b == 4
    alice_lines = top.source_a.split("\n")
    carol_lines = top.source_b.split("\n")
    assert any("running -= xs[i - window]" in alice_lines[n - 1] for n in top.lines_a)
    assert any("acc -= series[j - n]" in carol_lines[n - 1] for n in top.lines_b)
    assert not any("table[token]" in carol_lines[n - 1] for n in top.lines_b)


def test_report_files_show_both_students_matching_cells(course: Course, cohort: Path) -> None:
    """Does the HTML report hold both students' matching cell text, highlighted, and the JSON the same pairs?"""
    report = similarity_report(course, part=PART, directory=cohort)
    assert report.html_path == course.root / "var" / "similarity" / f"{PART}.html"
    page = report.html_path.read_text()
    assert "alice ↔ mallory" in page
    assert f"<mark>{html.escape('            running -= xs[i - window]')}</mark>" in page
    assert f"<mark>{html.escape('            acc -= data[idx - size]   # drop the old one')}</mark>" in page
    data = json.loads(report.json_path.read_text())
    assert data["schema_version"] == 1
    assert [(p["student_a"], p["student_b"]) for p in data["pairs"]] == [
        (p.student_a, p.student_b) for p in report.pairs]
    assert data["pairs"][0]["overall"]["share_a"] > 0.9


def test_unparsable_cells_and_corrupt_notebooks(course: Course, tmp_path: Path) -> None:
    """Are copied cells that do not parse still matched (tokenize fallback), and a corrupt notebook skipped?"""
    subs = tmp_path / "subs"
    submit(subs, "ann", course, {"q1": ALICE.replace("def count_words(text):", "def count_words(text)")})
    submit(subs, "ben", course, {"q1": MALLORY.replace("def count_words(sentence):", "def count_words(sentence)")})
    (subs / "cat").mkdir()
    (subs / "cat" / f"{NOTEBOOK}.ipynb").write_text("{not json")
    report = find_similar(course, part=PART, directory=subs)
    assert [(p.student_a, p.student_b) for p in report.pairs] == [("ann", "ben")]
    assert report.pairs[0].score > 0.9
    assert report.unreadable == (f"cat/{NOTEBOOK}.ipynb",)


def test_normalisation_ignores_names_comments_and_layout() -> None:
    """Do renamed names, comments, docstrings and formatting give the same tokens, and other literals' types not?"""
    a = normalise("def f(a, b):\n    '''doc'''\n    c = a + b  # sum\n    return len(c) * 2\n")
    b = normalise("def g(x,y):\n\n    z=x+y\n    return len( z )*7")
    c = normalise("def g(x,y):\n    z=x+y\n    return len(z)*7.0")
    assert [t for t, _ in a] == [t for t, _ in b]
    assert [t for t, _ in a] != [t for t, _ in c]
    assert normalise("%timeit f(1)\n!ls\nx = !pwd\n") == []
    assert normalise("x = await f()")[0] == ("Assign", 1)  # top-level await parses, as in Jupyter
    assert [t for t, _ in normalise("if x\n    y = 1")] == [t for t, _ in normalise("if q\n    r = 3")]


def test_winnowing_keeps_a_minimum_in_every_window() -> None:
    """Does every window of w hashes contain a chosen position, and do equal inputs give equal fingerprints?"""
    rng = random.Random(1)
    hashes = kgram_hashes([rng.choice("abcdefgh") for _ in range(300)], k=5)
    chosen = winnow(hashes, w=4)
    positions = [p for _, p in chosen]
    assert positions == sorted(set(positions))
    assert all(set(positions) & set(range(i, i + 4)) for i in range(len(hashes) - 3))
    for h, p in chosen:  # each chosen hash is the minimum of a window that holds it
        assert h == hashes[p]
        assert any(h == min(hashes[s:s + 4]) for s in range(max(0, p - 3), min(p, len(hashes) - 4) + 1))
    assert len(chosen) < len(hashes) / 2
    assert kgram_hashes(list("abcdefg"), k=3) == kgram_hashes(list("abcdefg"), k=3)
    assert kgram_hashes(list("ab"), k=3) == []


def test_identical_one_liners_are_not_listed(course: Course, tmp_path: Path) -> None:
    """Are two students whose only code is the same two one-line answers left out unless min_common allows it?"""
    subs = tmp_path / "subs"
    submit(subs, "ann", course, {"q1": "def double(x):\n    return x + x\n", "q2": ALICE_Q2})
    submit(subs, "ben", course, {"q1": "def double(y):\n    return y+y\n", "q2": MALLORY_Q2})
    assert find_similar(course, part=PART, directory=subs).pairs == ()
    assert scores(find_similar(course, part=PART, directory=subs, min_common=0)) == {frozenset(("ann", "ben")): 1.0}


def _random_function(rng: random.Random, name: str) -> str:
    """A plausible student function of 8-20 lines with random names, structure and literals."""
    names = [f"{rng.choice('abcdefghxyz')}{rng.randrange(100)}" for _ in range(6)]
    lines = [f"def {name}({names[0]}, {names[1]}):", f"    {names[2]} = 0"]
    for _ in range(rng.randrange(3, 8)):
        kind = rng.randrange(4)
        v, u = rng.sample(names, 2)
        if kind == 0:
            lines.append(f"    for {v} in range(len({u})):\n        {names[2]} += {v} * {rng.randrange(9)}")
        elif kind == 1:
            lines.append(f"    if {v} > {u}:\n        {v}, {u} = {u}, {v}\n    else:\n        {v} = -{u}")
        elif kind == 2:
            lines.append(f"    {v} = [{u} ** 2 for {u} in range({rng.randrange(9)}) if {u} % 2]")
        else:
            lines.append(f"    {v} = max({u}, {names[2]}) / {rng.random():.3f}")
    lines.append(f"    return {names[2]}")
    return "\n".join(lines)


def test_thirty_students_take_a_few_seconds(course: Course, tmp_path: Path) -> None:
    """Are 30 students of ~12 functions each (435 pairs) compared in a few seconds, finding the one planted copy?"""
    rng = random.Random(0)
    subs = tmp_path / "subs"
    codes = ["\n\n".join(_random_function(rng, f"f{j}") for j in range(12)) for _ in range(30)]
    codes[29] = codes[3].replace("def f", "def g")
    for i, code in enumerate(codes):
        submit(subs, f"s{i:02d}", course, {"q1": code})
    start = time.perf_counter()
    report = similarity_report(course, part=PART, directory=subs)
    seconds = time.perf_counter() - start
    print(f"30 students, {sum(c.count(chr(10)) for c in codes)} lines: {seconds:.2f} s")
    assert report.pairs_compared == 435
    assert [(p.student_a, p.student_b) for p in report.pairs] == [("s03", "s29")]
    assert seconds < 5


def test_code_shared_by_many_students_is_ignored(course: Course, tmp_path: Path) -> None:
    """Is code that more than `common_limit` students share (a helper from a tutorial) ignored, like MOSS -m?"""
    rng = random.Random(2)
    subs = tmp_path / "subs"
    for i in range(12):
        submit(subs, f"s{i:02d}", course, {"q1": ALICE, "q2": _random_function(rng, "squares")})
    assert find_similar(course, part=PART, directory=subs).pairs == ()
    assert len(find_similar(course, part=PART, directory=subs, common_limit=12).pairs) == 66
    assert len(find_similar(course, part=PART, directory=subs, common_limit=None).pairs) == 66


def test_cli_forwards_and_prints_a_table(course: Course, cohort: Path, tmp_path: Path) -> None:
    """Does `course similarity PART DIR --threshold --out` write the reports where asked and print the pairs?"""
    out = tmp_path / "report" / "sim.html"
    result = CliRunner().invoke(similarity_cli, ["part-01", str(cohort), "--threshold", "0.9", "--out", str(out)],
                                obj={"config": str(course.root / "course_config.py")})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split()[:2] == ["alice", "mallory"]
    assert "6 students, 15 pairs compared, 1 at or above 90%" in result.output
    assert out.is_file()
    assert out.with_suffix(".json").is_file()
    bad = CliRunner().invoke(similarity_cli, ["part-09", str(cohort)],
                             obj={"config": str(course.root / "course_config.py")})
    assert bad.exit_code == 1
    assert "unknown part 'part-09'" in bad.output
