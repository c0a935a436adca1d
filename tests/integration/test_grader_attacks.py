"""Issue 17's attacks, on every sandbox backend this machine has (bwrap, fork server, docker when its image exists).

Each attack is a submission with WRONG answers that tries to be scored as right without knowing the answers'
verdicts (the forged records below copy the bundle's references, standing in for "any chosen content"), to carry
text out through feedback, or to make the grader stop the whole run.
"""

from __future__ import annotations

import json
import shutil
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


# ------------------------------------------------------------------ hidden probes are out of reach (issue 17, item 1)

# The hidden probe of the mini course draws its inputs with `np.random.default_rng(1)` and `rng.normal(size=10)`
# (its case names and descriptions are shown in every report by design). The submission looks for that code; its own source never holds it in one piece (the regular
# expression below spells it with a character class), so a match means it found the grader's material.
SEARCH = r'''
import os, re, stat, select, threading, fcntl
NEEDLES = [re.compile(rb"default_rng[(]1[)]"), re.compile(rb"rng[.]normal[(]size=10[)]")]

def _grab(data):
    for needle in NEEDLES:  # each with a literal prefix: searched at memchr speed
        m = needle.search(data)
        if m is not None:
            return data[max(0, m.start() - 60): m.end() + 200].decode("latin-1")

def _files():
    for top in ("/job", "/tmp", "/dev/shm"):
        for folder, _, names in os.walk(top):
            for name in names:
                try:
                    with open(os.path.join(folder, name), "rb") as f:
                        found = _grab(f.read(50_000_000))
                except OSError:
                    continue
                if found:
                    return f"{folder}/{name}: {found}"

def _fds(pid):
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        path = f"/proc/{pid}/fd/{fd}"
        try:
            if pid == "self":  # our own descriptors: read what is there without waiting or moving anything
                n = int(fd)
                mode = os.fstat(n).st_mode
                if stat.S_ISREG(mode):
                    data = os.pread(n, 50_000_000, 0)
                elif stat.S_ISFIFO(mode) and select.select([n], [], [], 0)[0]:
                    continue  # something to read on a pipe of ours: the stealing thread's business
                else:
                    continue
            else:  # another process's descriptor: opened anew, never waiting on a pipe
                n = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                try:
                    data = os.read(n, 50_000_000)
                finally:
                    os.close(n)
        except OSError:
            continue
        found = _grab(data)
        if found:
            return f"{path}: {found}"

def _processes():
    for pid in ["self"] + [p for p in os.listdir("/proc") if p.isdigit()]:
        for name in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as f:
                    found = _grab(f.read())
            except OSError:
                continue
            if found:
                return f"/proc/{pid}/{name}: {found}"
        found = _fds(pid)
        if found:
            return found

def _memory():  # our own writable memory, read directly (/proc/self/mem is closed to a non-dumpable process)
    import ctypes
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("rw"):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if end - start > 1 << 26:
                continue
            found = _grab(ctypes.string_at(start, end - start))
            if found:
                return f"memory {fields[0]}: {found}"

def search(memory=True):
    return _files() or _processes() or (_memory() if memory else None)

def tell(text):
    """Put `text` wherever it might come back: forged messages on every pipe we hold, stdout, stderr."""
    text = text[:1500]
    frames = [{"kind": "cells", "cells": [{"cell": 1, "error": {"name": "Leak", "message": text}}]},
              {"kind": "record", "case": "double_of_three", "record": {"ok": False, "error": "Leak: " + text}},
              {"kind": "record", "case": "double_of_many_secret_values", "record": {"ok": True, "value": text}},
              {"kind": "public_done"}, {"kind": "end"}]
    import json
    data = "".join(json.dumps(f) + "\n" for f in frames).encode()
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, data)
        except OSError:
            pass
    os.write(1, data)
    os.write(2, data)
'''

ATTACKS = {
    # look everywhere before the probes (files, every process's fds, cmdline and environ, our memory), again
    # inside the public probe, and inside the hidden probes (memory included); say whatever was found
    "search": SEARCH + r'''
FOUND_BEFORE = search()
if FOUND_BEFORE:
    raise RuntimeError("FOUND " + FOUND_BEFORE)
raise RuntimeError("searched: nothing")
''',
    # a thread that reads every pipe of ours the moment it has data (the way the hidden probes arrive) and
    # repeats what it read everywhere
    "steal": SEARCH + r'''
def _steal():
    import time
    for _ in range(3000):
        for fd in map(int, os.listdir("/proc/self/fd")):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode) and select.select([fd], [], [], 0)[0]:
                    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
                    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
                    data = os.read(fd, 1 << 20)
                    fcntl.fcntl(fd, fcntl.F_SETFL, flags)
                    if data:
                        tell(_grab(data) or data.decode("latin-1"))
            except OSError:
                pass
        time.sleep(0.002)
threading.Thread(target=_steal, daemon=True).start()
raise RuntimeError("searched: nothing")
''',
}

LOOKING_DOUBLE = r'''
SEARCHED = []
def double(x):
    if x == 3:  # the public probe: look again (memory was searched in the cell), say it in the public case's error
        found = search(memory=False)
        if found:
            raise RuntimeError("FOUND " + found)
        return x + x
    if SEARCHED:
        return x + x
    SEARCHED.append(1)
    found = search()  # a hidden probe: the hidden material is in this process now; try to get it out
    if found:
        tell(found)
        os.write(1, found.encode())
        raise type("L" + re.sub(r"\W", "_", found)[:60], (Exception,), {})(found)
    return x + x
'''


def roomy(sandbox: Sandbox) -> Sandbox:
    """The same backend with a longer wall clock: these attacks search a lot, and bwrap pays every import per run
    (on a loaded 2-core machine that alone can take most of a minute)."""
    import copy
    import dataclasses

    box = copy.copy(sandbox)
    box.limits = dataclasses.replace(sandbox.limits, wall_seconds=240, cell_seconds=60)
    return box


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hidden_probes_cannot_be_read_before_or_while_student_code_runs(
        mini_course: Course, sandbox: Sandbox, tmp_path: Path, attack: str) -> None:
    """A submission searches every file under /job, /tmp and /dev/shm, every readable /proc/<pid>/{fd,cmdline,
    environ} and its own memory for the hidden probe's source — before the probes, inside the public probe and
    inside the hidden probes — or steals whatever arrives on its pipes, and repeats what it finds in cell errors,
    forged records and messages, and exception class names. Does it find nothing before the hidden phase, and does
    nothing of the hidden probe come back in the grade, its JSON or its HTML report?"""
    from datetime import UTC, datetime

    from aiml_course.grading.report import render_html

    answers = {**CORRECT, "q1": LOOKING_DOUBLE}
    grade = grade_text(mini_course, roomy(sandbox), notebook(mini_course, answers, before=(ATTACKS[attack],)),
                       tmp_path)
    shown = json.dumps(grade.to_dict()) + render_html(mini_course, PART, "s", grade, datetime.now(UTC))
    for secret in ("default_rng", "rng.normal", "FOUND"):
        assert secret not in shown, (secret, grade.to_dict())
    if attack == "search":  # (the stealing thread may forge the cells' log early with bytes of some other pipe)
        q1_errors = [c for c in grade.cell_errors if "searched" in c["message"]]
        assert q1_errors and q1_errors[0]["message"] == "searched: nothing", grade.cell_errors
        public = next(c for c in grade.cases if c.name == "double_of_three")
        assert public.earned == public.possible, public.message  # the public probe found nothing either
    assert grade.by_question()["q2"] == (2, 2)  # (the hidden cases and the quiz it may lose: it broke their run)


def test_the_job_folder_holds_no_hidden_probe(mini_course: Course, sandbox: Sandbox, tmp_path: Path) -> None:
    """Is job.json free of hidden probes and of the run's seed, while the hidden cases are still graded (a
    correct notebook scores full marks)?"""
    seen: dict[str, str] = {}
    original = type(sandbox).run

    def spying_run(self: Sandbox, job_root: Path, script: Path, args: list[str], **kw: object) -> object:
        seen["job"] = (job_root / "in" / "job.json").read_text()
        seen["files"] = "\n".join(str(p) for p in job_root.rglob("*"))
        return original(self, job_root, script, args, **kw)  # type: ignore[arg-type]

    type(sandbox).run = spying_run  # type: ignore[method-assign]
    try:
        grade = grade_text(mini_course, sandbox, notebook(mini_course, CORRECT), tmp_path)
    finally:
        type(sandbox).run = original  # type: ignore[method-assign]
    assert (grade.earned, grade.possible) == (8, 8), [c.message for c in grade.cases]
    job = json.loads(seen["job"])
    assert job["late"] is True and "seed" not in seen["job"]
    assert "secret_values" not in seen["job"] and "default_rng" not in seen["job"] and "quiz__" not in seen["job"]
    assert [c for p in job["probe_cells"] for c in p["cases"]] == ["double_of_three", "squares_of_four",
                                                                   "last_square_small"]


@pytest.mark.skipif("docker" not in __import__("tests.conftest").conftest.BACKENDS, reason="needs the docker backend")
def test_a_container_printing_hundreds_of_megabytes_is_capped_not_read(tmp_path: Path) -> None:
    """docker: a program printing 256 MB to stdout and stderr (the 1 GB attack, scaled down for a shared 2-core
    machine): does the run end normally, the tails read back at most 8,000 characters each, and the grader's own
    peak memory grow by far less than what was printed? (The daemon keeps 1 MB of log and drops the rest without
    saying so: `output_truncated` is not set for it.)"""
    import resource

    from aiml_course.config import Limits
    from aiml_course.sandbox import DockerSandbox

    job = tmp_path / "job"
    (job / "in").mkdir(parents=True)
    script = job / "in" / "loud.py"
    script.write_text("import os\nchunk = b'x' * (1 << 20)\nfor _ in range(128):\n    os.write(1, chunk)\n"
                      "    os.write(2, chunk)\n")
    box = DockerSandbox(Limits(wall_seconds=300, cell_seconds=60, memory_mb=512, pids=64))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        result = box.run(job, script, [])
    finally:
        box.cleanup(job)
        shutil.rmtree(job, ignore_errors=True)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.exit_code == 0 and not result.timed_out, result
    assert len(result.stdout) <= 8000 and len(result.stderr) <= 8000
    assert grown_mb < 64, grown_mb
