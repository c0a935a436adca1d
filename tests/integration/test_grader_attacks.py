"""Issue 17's attacks, on every sandbox backend this machine has (bwrap, fork server, docker when its image exists).

Each attack is a submission with WRONG answers that tries to be scored as right without knowing the answers'
verdicts (the forged records below copy the bundle's references, standing in for "any chosen content"), to carry
text out through feedback, or to make the grader stop the whole run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiml_course.config import Course
from aiml_course.gradebook import Gradebook
from aiml_course.grading.pipeline import grade_part, load_bundles
from aiml_course.sandbox import Sandbox
from tests.integration.test_gradebook import postgres_url  # noqa: F401  (the real PostgreSQL fixture)
from tests.integration.test_grading import CORRECT, NB, PART, grade_text, notebook

WRONG = {"q1": "def double(x):\n    return 0.5", "q2": "def squares(n):\n    return [1000] * n"}  # 0 of 8


def forged_records(course: Course) -> str:
    """A complete records file in which every case returned its reference value."""
    references = load_bundles(course, PART)[NB]["references"]
    return json.dumps({"schema_version": 1, "cells": [],
                       "records": {name: {"ok": True, "value": value} for name, value in references.items()}})


def rewriter(content: str) -> str:
    """Notebook code defining rewrite(): put `content` where the runner writes its records."""
    return (f"import os\nFORGED = {content!r}\n"
            "OUT = os.path.join(os.getcwd(), '..', 'out', 'records.json')  # cwd is the job's work/ folder\n"
            "def rewrite(FORGED=FORGED, open=open, OUT=OUT):\n"
            "    try:\n"
            "        with open(OUT, 'w') as f:\n"
            "            f.write(FORGED)\n"
            "    except OSError:\n"
            "        pass\n")


REWRITE_AFTER_PROBES = {
    "atexit": "import atexit\natexit.register(rewrite)",
    "lingering-thread": ("import threading, time\n"
                         "def later():\n"
                         "    for _ in range(400):\n"
                         "        time.sleep(0.02)\n"
                         "        if os.path.exists(OUT):\n"
                         "            rewrite()\n"
                         "            return\n"
                         "threading.Thread(target=later).start()"),
    "__del__": ("class Later:\n"
                "    def __del__(self, rewrite=rewrite):\n"
                "        rewrite()\n"
                "keep_me = Later()"),
    "patched-os.replace": ("_real_replace = os.replace\n"
                           "def replace(src, dst, *a, _real=_real_replace, **k):\n"
                           "    _real(src, dst, *a, **k)\n"
                           "    rewrite()\n"
                           "os.replace = replace"),
    "fake-evidence-module": ("import sys, types, json\n"
                             "REFS = json.loads(FORGED)['records']\n"
                             "fake = types.ModuleType('aiml_notebooks.evidence')\n"
                             "def encode(value, _depth=0):\n"
                             "    name = sys._getframe(1).f_locals.get('name')\n"
                             "    return REFS[name]['value'] if name in REFS else value\n"
                             "fake.encode = encode\n"
                             "sys.modules['aiml_notebooks.evidence'] = fake"),
    "lingering-process": ("import time\n"
                          "if os.fork() == 0:\n"
                          "    for _ in range(400):\n"
                          "        time.sleep(0.02)\n"
                          "        if os.path.exists(OUT):\n"
                          "            time.sleep(0.1)\n"
                          "            rewrite()\n"
                          "            os._exit(0)\n"
                          "    os._exit(0)"),
}


@pytest.mark.parametrize("attack", sorted(REWRITE_AFTER_PROBES))
def test_records_rewritten_after_the_probes_do_not_count(mini_course: Course, sandbox: Sandbox, tmp_path: Path,
                                                         attack: str) -> None:
    """Wrong answers + a records file rewritten after the probes (atexit, a thread, __del__, a patched
    os.replace, a fake evidence module, a forked process): is the score still 0?"""
    code = rewriter(forged_records(mini_course)) + REWRITE_AFTER_PROBES[attack]
    grade = grade_text(mini_course, sandbox, notebook(mini_course, WRONG, before=(code,)), tmp_path)
    assert grade.earned == 0, [c.message for c in grade.cases]
    assert grade.possible == 8


def test_a_tensor_subclass_that_claims_the_right_value_earns_nothing(mini_course: Course, sandbox: Sandbox,
                                                                     tmp_path: Path) -> None:
    """double() returns a torch.Tensor subclass (posing as torch's own) whose numpy()/detach()/float() give the
    right answer: is it refused rather than read through its own methods?"""
    evil = ("import torch, numpy as np\n"
            "class Answer(torch.Tensor):\n"
            "    def numpy(self, *a, **k):\n"
            "        return np.asarray(self.right)\n"
            "    def detach(self):\n"
            "        return self\n"
            "    def cpu(self):\n"
            "        return self\n"
            "    def __float__(self):\n"
            "        return float(self.right)\n"
            "Answer.__module__ = 'torch.answer'\n"
            "def double(x):\n"
            "    t = torch.tensor(0.0).as_subclass(Answer)\n"
            "    t.right = 2 * x\n"
            "    return t\n")
    grade = grade_text(mini_course, sandbox, notebook(mini_course, {**WRONG, "q1": evil}), tmp_path)
    assert grade.by_question()["q1"] == (0, 4), [c.message for c in grade.cases]


def test_malformed_records_through_the_pipe_and_the_file_are_zeros_not_crashes(
        mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """Messages forged into every pipe the notebook holds and a records file rewritten at exit, with deep nesting,
    a 1e400 shape, a huge dtype and malformed cell-log fields: does grading end with a row (never an exception)?"""
    deep = "[" * 50_000 + "]" * 50_000
    frames = [
        '{"kind": "cells", "cells": [{"cell": "x", "error": "y"}, 5, {"cell": 1, "error": {"name": [1]}}]}',
        '{"kind": "record", "case": "double_of_three", "record": {"ok": true, "value": ' + deep + "}}",
        '{"kind": "record", "case": "squares_of_four", "record": {"ok": true, "value": '
        '{"__array__": [1], "shape": [1e400], "dtype": "float64"}}}',
        '{"kind": "record", "case": "last_square_small", "record": {"ok": true, "value": '
        '{"__array__": [1], "shape": [1], "dtype": "V2000000000"}}}',
        '{"kind": "end"}',
    ]
    malformed_file = ('{"schema_version": 1, "records": {"squares_of_four": {"ok": true, "value": '
                      '{"__array__": [1], "shape": [1e400], "dtype": "float64"}}}, "cells": [{"cell": "x"}]}')
    code = rewriter(malformed_file) + (
        "import atexit, stat\natexit.register(rewrite)\n"
        f"FRAMES = {chr(10).join(frames) + chr(10)!r}.encode()\n"
        "for fd in map(int, os.listdir('/proc/self/fd')):\n"
        "    try:\n"
        "        if stat.S_ISFIFO(os.fstat(fd).st_mode):\n"
        "            os.write(fd, FRAMES)\n"
        "    except OSError:\n"
        "        pass\n")
    grade = grade_text(mini_course, sandbox, notebook(mini_course, WRONG, before=(code,)), tmp_path)
    assert grade.earned == 0 and grade.possible == 8
    assert all(isinstance(c["message"], str) for c in grade.cell_errors)


def test_hidden_cases_say_only_failed_even_with_a_class_named_after_the_inputs(
        mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """An exception class whose NAME is the hidden input (the student names the class): does the hidden case's
    feedback carry no trace of it, only failed + hint?"""
    import numpy as np

    leak = ("def double(x):\n"
            "    name = 'L' + repr(float(x)).replace('.', '_').replace('-', 'm')\n"
            "    raise type(name, (Exception,), {})(repr(x))\n")
    grade = grade_text(mini_course, sandbox, notebook(mini_course, {**CORRECT, "q1": leak}), tmp_path)
    hidden = [c for c in grade.cases if c.hidden and c.question == "q1"]
    bundle = load_bundles(mini_course, PART)[NB]
    descriptions = {c["name"]: c["description"] for c in bundle["cases"]}
    hints = {c["name"]: c["spec"].get("hint", "") for c in bundle["cases"]}
    for case in hidden:
        expected = f"✗ {descriptions[case.name]}" + (f" Hint: {hints[case.name]}" if hints[case.name] else "")
        assert case.earned == 0 and case.message == expected
    for value in np.random.default_rng(1).normal(size=10):
        assert f"{abs(value):.3f}"[:5].replace(".", "_") not in json.dumps(grade.to_dict())


def test_student_text_in_feedback_is_capped(mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """30 cells raising 5,000-character errors and a public case raising a 100,000-character one: are at most
    10 cell errors of at most 200 characters shown, and the case's message capped?"""
    cells = tuple("raise ValueError('Z' * 5000)" for _ in range(30))
    loud = "def double(x):\n    raise ValueError('Q' * 100_000)"
    grade = grade_text(mini_course, sandbox, notebook(mini_course, {**CORRECT, "q1": loud}, before=cells), tmp_path)
    assert len(grade.cell_errors) == 10 and all(len(c["message"]) <= 200 for c in grade.cell_errors)
    assert "20 more cells raised errors" in grade.problem
    public = next(c for c in grade.cases if c.name == "double_of_three")
    assert "raised ValueError" in public.message and len(public.message) < 500


def _write(root: Path, student: str, text: str) -> Path:
    folder = root / student / PART
    folder.mkdir(parents=True)
    path = folder / f"{NB}.ipynb"
    path.write_text(text)
    return path


def test_a_link_to_the_solution_and_a_broken_notebook_cost_only_their_own_rows(
        mini_course: Course, sandbox: Sandbox, tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    """On PostgreSQL: a submission that is a link to a correct notebook, one nested 1,000 levels deep, one with
    metadata.aiml set to a string and a 65-character student folder, next to a correct one. Is each link or broken
    notebook a zero row with its reason, the bad id named and skipped, and everyone else graded?"""
    subs = tmp_path / "submitted"
    solution = tmp_path / "instructor" / "solution.ipynb"
    solution.parent.mkdir()
    solution.write_text(notebook(mini_course, CORRECT))
    _write(subs, "alice", notebook(mini_course, CORRECT))
    (subs / "eve" / PART).mkdir(parents=True)
    (subs / "eve" / PART / f"{NB}.ipynb").symlink_to(solution)
    _write(subs, "deep", '{"cells": [], "metadata": {"x": ' + "[" * 1000 + "]" * 1000 + "}}")
    meta = json.loads(notebook(mini_course, CORRECT))
    meta["metadata"]["aiml"] = "a string"
    for cell in meta["cells"][:3]:
        cell["metadata"]["aiml"] = "also a string"
    _write(subs, "meta", json.dumps(meta))
    _write(subs, "x" * 65, notebook(mini_course, CORRECT))
    book = Gradebook(postgres_url)
    summary = grade_part(mini_course, PART, subs, gradebook=book, sandbox=sandbox, workers=2, force=True,
                         show_progress=False)
    rows = {r["student"]: r for r in book.latest(PART)}
    assert rows["alice"]["earned"] == 8 and rows["meta"]["earned"] == 8
    assert rows["eve"]["earned"] == 0 and "symbolic link" in rows["eve"]["problem"]
    assert rows["deep"]["earned"] == 0 and "nested" in rows["deep"]["problem"]
    assert "x" * 65 not in rows and any("65 characters" in r for r in summary.not_graded)


def test_a_hand_graded_answer_with_nul_and_escape_codes_is_stored_on_postgresql(
        mini_course: Course, sandbox: Sandbox, postgres_url: str) -> None:  # noqa: F811
    """A manual question's answer with a NUL byte (PostgreSQL refuses it), escape codes and 50,000 characters:
    is the row stored, with the answer cleaned and capped?"""
    from datetime import UTC, datetime

    from aiml_course.grading.pipeline import grade_notebook_bytes

    bundle = json.loads(json.dumps(load_bundles(mini_course, PART)[NB]))
    bundle["cases"].append({"name": "essay__manual", "question": "essay", "hidden": False, "description": "essay",
                            "spec": {"points": 2, "manual": True}})
    nb = json.loads(notebook(mini_course, CORRECT))
    nb["cells"].append({"cell_type": "markdown", "metadata": {"aiml": {"role": "manual", "question": "essay"}},
                        "source": "my answer\x00\x1b[2J\n" + "A" * 50_000})
    grade, digest = grade_notebook_bytes(bundle, json.dumps(nb).encode(), limits=sandbox.limits, files={},
                                         sandbox=sandbox)
    essay = next(c for c in grade.cases if c.name == "essay__manual")
    assert "my answer" in essay.message and "\x00" not in essay.message and "\x1b" not in essay.message
    assert len(essay.message) < 21_000
    book = Gradebook(postgres_url)
    book.record("hand", PART, grade, content_sha256=digest, submitted_at=datetime.now(UTC))
    assert any(r["student"] == "hand" for r in book.latest(PART))


def test_the_recorder_cannot_be_read_by_the_notebook(mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """Can the notebook open the recorder's file descriptors, memory or environment through /proc (it would then
    reach the records channel from the other side)? The answer scores full marks only if every attempt fails."""
    probe = ("import os\n"
             "def _reached():\n"
             "    ppid = os.getppid()\n"
             "    found = []\n"
             "    for path in (f'/proc/{ppid}/fd', f'/proc/{ppid}/mem', f'/proc/{ppid}/environ'):\n"
             "        try:\n"
             "            os.listdir(path) if path.endswith('fd') else open(path, 'rb').close()\n"
             "            found.append(path)\n"
             "        except OSError:\n"
             "            pass\n"
             "    return found\n"
             "REACHED = _reached()\n"
             "def double(x):\n"
             "    return 0.5 if REACHED else x + x\n")
    grade = grade_text(mini_course, sandbox, notebook(mini_course, {**CORRECT, "q1": probe}), tmp_path)
    assert grade.by_question()["q1"] == (4, 4), [c.message for c in grade.cases]
