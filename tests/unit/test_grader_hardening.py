"""Issue 17, without a sandbox: untrusted records, notebooks, files, names and text never break the grader.

Every input here is something a submission controls. The property under test: the grader's readers either return
clean data or raise their one documented error (EvidenceError, SubmissionRejected), never anything else, and
what they return is bounded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiml_course.authoring.parse import parse_notebook as parse_source
from aiml_course.authoring.verify import check_judged_outside, judged_inside
from aiml_course.errors import AuthoringError, SubmissionRejected
from aiml_course.grading.engine import Execution, judge, read_records
from aiml_course.grading.intake import MAX_NOTEBOOK_DEPTH, nesting_depth, parse_notebook, read_regular
from aiml_course.grading.pipeline import find_submissions, load_bundles, submission_time
from aiml_course.grading.report import feedback_notebook, render_html
from aiml_course.sandbox import RunResult
from aiml_course.untrusted import printable, student_id_problem
from aiml_notebooks.evidence import EvidenceError, decode, encode
from tests.conftest import MINI

PART, NB = "part-01-mini", "1.1-mini"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OK_RUN = RunResult(exit_code=0, signal=None, timed_out=False, oom_killed=False, pids_limit_hit=False,
                   wall_seconds=0.1, max_memory_mb=None, stdout="", stderr="")


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def bundle() -> dict[str, Any]:
    from aiml_course.config import load_course

    return load_bundles(load_course(MINI / "course_config.py"), PART)[NB]


# ------------------------------------------------------------------ JSON-ish values a submission can produce

MARKERS = st.sampled_from(["__array__", "__float__", "__dict__", "shape", "dtype", "ok", "value", "error"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=20), st.sampled_from(["nan", "inf", "-inf", "float64", "object", "V99999999",
                                                           "int64", "<U5", "bool"]))
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=6),
    st.dictionaries(st.one_of(MARKERS, st.text(max_size=8)), inner, max_size=5)), max_leaves=40)


@FUZZ
@given(JSONISH)
def test_decode_returns_plain_data_or_an_evidence_error(data: Any) -> None:
    """Whatever JSON value a record holds, does decode answer with data or EvidenceError, nothing else?"""
    try:
        decode(data)
    except EvidenceError:
        pass


@pytest.mark.parametrize("data", [
    {"__array__": [1.0], "shape": [float("inf")], "dtype": "float64"},        # a shape such as 1e400
    {"__array__": [1.0], "shape": [1e400], "dtype": "float64"},
    {"__array__": [], "shape": [10**6, 10**6, 10**6], "dtype": "float64"},    # a huge shape, no values
    {"__array__": [1], "shape": [1], "dtype": "V2000000000"},                 # a huge dtype
    {"__array__": [1], "shape": [1], "dtype": "object"},                      # an object dtype
    {"__array__": [[1]], "shape": [1], "dtype": "float64"},                   # nested values
    {"__array__": [1, 2, 3], "shape": [2], "dtype": "float64"},               # shape does not match
    {"__array__": [10**30], "shape": [1], "dtype": "int64"},                  # does not fit
    {"__array__": [1], "shape": [-1], "dtype": "float64"},
    {"__array__": [1], "shape": [True], "dtype": "float64"},
    {"__float__": "1e400"},
    {"__dict__": [[1, 2]]},
    {"__dict__": "x"},
    {"__array__": [1], "shape": [1], "dtype": "float64", "extra": 1},
    nested(5000),                                                             # records with deep nesting
], ids=lambda d: json.dumps(d)[:40] if not isinstance(d, list) else "deep")
def test_each_attack_record_from_the_issue_is_an_evidence_error(data: Any) -> None:
    """Do the record shapes that aborted whole runs (issue 17, item 1) now raise only EvidenceError?"""
    with pytest.raises(EvidenceError):
        decode(data)


def test_a_records_file_is_judged_without_an_exception_whatever_it_holds(tmp_path: Path) -> None:
    """Do deep nesting, 1e400 shapes, odd dtypes and malformed cell-log fields each give a zero, not a crash?"""
    b = bundle()
    deep = "[" * 100_000 + "]" * 100_000
    texts = [
        deep,
        '{"schema_version": 1, "records": {"double_of_three": {"ok": true, "value": ' + deep + '}}}',
        json.dumps({"schema_version": 1, "records": {"double_of_three": {
            "ok": True, "value": {"__array__": [6], "shape": [1e400], "dtype": "float64"}}}}),
        json.dumps({"schema_version": 1, "records": {"double_of_three": {
            "ok": True, "value": {"__array__": [6], "shape": [], "dtype": "V2000000000"}}}}),
        json.dumps({"schema_version": 1, "records": {"double_of_three": {"ok": "yes", "error": ["x"]}},
                    "cells": [{"cell": "one", "error": "x"}, {"cell": 1, "error": {"name": 5, "message": None}},
                              {"cell": 2, "error": [1]}, {"cell": 3, "output_dropped": "many"}, 7, None]}),
        '{"schema_version": 1, "records": {}, "error": {"nested": [1, 2]}}',
        '{"schema_version": 1, "records": {"double_of_three": {"ok": true, "value": NaN}}}',
        '{"schema_version": 1e400, "records": {}}',
        "\udcff not utf-8".encode("utf-8", "surrogatepass").decode("latin-1"),
    ]
    for i, text in enumerate(texts):
        path = tmp_path / str(i) / "records.json"
        path.parent.mkdir()
        path.write_text(text, encoding="latin-1" if i == len(texts) - 1 else "utf-8")
        grade = judge(b, read_records(path, OK_RUN))
        assert grade.earned == 0, text[:80]
        assert all(isinstance(c["name"], str) and isinstance(c["message"], str) for c in grade.cell_errors)
        render_html(_course(), PART, "s", grade, datetime.now(UTC))  # the report renders too


def test_a_malformed_cell_log_keeps_the_run_and_the_good_records(tmp_path: Path) -> None:
    """Does a malformed cell entry cost nothing but itself: the good records still score?"""
    path = tmp_path / "records.json"
    path.write_text(json.dumps({"schema_version": 1, "records": {"double_of_three": {"ok": True, "value": 6}},
                                "cells": [{"cell": "x"}, {"cell": 4, "error": {"name": "E" * 10_000,
                                                                              "message": "\x1b[2J" + "m" * 10_000}}]}))
    execution = read_records(path, OK_RUN)
    grade = judge(bundle(), execution)
    assert grade.by_question()["q1"][0] == 1
    (error,) = grade.cell_errors
    assert len(error["name"]) <= 60 and len(error["message"]) <= 200 and "\x1b" not in error["message"]


def test_a_records_file_that_is_a_link_or_huge_is_refused(tmp_path: Path) -> None:
    """Is a records.json that is a symlink (to the bundle) or beyond 8 MiB refused without being read?"""
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"schema_version": 1, "records": {"double_of_three": {"ok": True, "value": 6}}}))
    link = tmp_path / "out" / "records.json"
    link.parent.mkdir()
    link.symlink_to(secret)
    assert read_records(link, OK_RUN).records == {}
    big = tmp_path / "big" / "records.json"
    big.parent.mkdir()
    with big.open("wb") as f:
        f.truncate(2 * 2**30)  # sparse: 2 GiB that cost nothing to make
    tracemalloc.start()
    execution = read_records(big, OK_RUN)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "too large" in execution.problem and peak < 20 * 2**20


def _course() -> Any:
    from aiml_course.config import load_course

    return load_course(MINI / "course_config.py")


# ------------------------------------------------------------------ what a probe may return (encode)


def test_a_tensor_subclass_is_refused_without_running_its_code() -> None:
    """Is a torch.Tensor subclass refused before any of its methods (float, numpy, detach) can run?"""
    called: list[str] = []

    class Sneaky(torch.Tensor):
        def __float__(self) -> float:
            called.append("float")
            return 6.0

        def numpy(self, *a: Any, **k: Any) -> Any:  # type: ignore[override]
            called.append("numpy")
            return np.array(6.0)

        def detach(self) -> Any:  # type: ignore[override]
            called.append("detach")
            return self

        @classmethod
        def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            called.append("torch_function")
            return super().__torch_function__(func, types, args, kwargs or {})

    Sneaky.__module__ = "torch.sneaky"  # looks like torch's own
    value = torch.tensor([0.0]).as_subclass(Sneaky)
    called.clear()
    with pytest.raises(EvidenceError, match="subclass"):
        encode(value)
    assert called == []


@pytest.mark.parametrize("value", [
    np.array([1.0]).view(np.matrix),
    np.ma.masked_array([1.0]),
    type("MyList", (list,), {})([1]),
    type("MyDict", (dict,), {})(a=1),
    type("MyInt", (int,), {})(3),
    type("MyFloat", (float,), {"__repr__": lambda self: "6.0"})(0.0),
    __import__("collections").namedtuple("P", "x y")(1, 2),
    2 ** 20_000,
    np.array(["a"]),
    np.array([1 + 2j]),
    {object(): 1},
    nested(30),
], ids=["matrix", "masked", "list-subclass", "dict-subclass", "int-subclass", "float-subclass", "namedtuple",
        "huge-int", "text-array", "complex-array", "object-key", "deep"])
def test_anything_but_plain_data_is_refused(value: Any) -> None:
    """Are subclasses of builtin/numpy types, huge ints, text/complex arrays and deep nesting refused?"""
    with pytest.raises(EvidenceError):
        encode(value)


def test_plain_tensors_arrays_and_scalars_still_round_trip() -> None:
    """Do exact tensors (also Parameters, half precision), arrays and numpy scalars still cross unchanged?"""
    values = [torch.tensor([1.5, -2.0]), torch.nn.Parameter(torch.ones(2)), torch.tensor([1.0], dtype=torch.float16),
              np.float32(2.5), np.int64(3), np.bool_(True), (1, 2)]
    got = [decode(json.loads(json.dumps(encode(v)))) for v in values]
    assert got[0].tolist() == [1.5, -2.0] and got[1].tolist() == [1.0, 1.0] and got[2].tolist() == [1.0]
    assert got[3:] == [2.5, 3, True, [1, 2]]


# ------------------------------------------------------------------ submitted notebooks

NOTEBOOKISH = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=5),
    st.dictionaries(st.sampled_from(["cells", "cell_type", "source", "metadata", "aiml", "role", "question",
                                     "outputs", "id", "nbformat_minor"]), inner, max_size=6)), max_leaves=50)


@FUZZ
@given(NOTEBOOKISH)
def test_the_notebook_reader_returns_a_clean_notebook_or_a_rejection(data: Any) -> None:
    """For any JSON a student can submit: a clean notebook (feedback renders from it) or SubmissionRejected?"""
    try:
        nb = parse_notebook(json.dumps(data).encode())
    except SubmissionRejected:
        return
    assert all(isinstance(c["source"], str) and isinstance(c["metadata"], dict) for c in nb["cells"])
    assert nesting_depth(nb) <= MAX_NOTEBOOK_DEPTH
    feedback_notebook(nb, judge(bundle(), Execution(None, {}, [], "x")))


@FUZZ
@given(st.binary(max_size=200))
def test_the_notebook_reader_survives_any_bytes(data: bytes) -> None:
    """Are random bytes either a notebook or SubmissionRejected?"""
    try:
        parse_notebook(data)
    except SubmissionRejected:
        pass


@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_a_deeply_nested_notebook_is_rejected_with_a_reason(depth: int) -> None:
    """Is a notebook nested 100 … 100,000 levels deep a SubmissionRejected (the issue's ~1,000 aborted the run)?"""
    text = '{"cells": [], "metadata": {"x": ' + "[" * depth + "]" * depth + "}}"
    with pytest.raises(SubmissionRejected, match="nested"):
        parse_notebook(text.encode())


def test_aiml_metadata_of_the_wrong_type_is_dropped_not_fatal() -> None:
    """metadata.aiml as a string, a list or with a list as role: is the cell kept with its bad metadata dropped?"""
    cells = [{"cell_type": "code", "source": "x = 1", "metadata": {"aiml": "answer"}},
             {"cell_type": "code", "source": ["y", " = 2"], "metadata": {"aiml": {"role": ["answer"], "question": "q1"}}},
             {"cell_type": 5, "source": None, "metadata": []}, "not a cell"]
    nb = parse_notebook(json.dumps({"cells": cells, "metadata": {"aiml": "x"}}).encode())
    assert [c["source"] for c in nb["cells"]] == ["x = 1", "y = 2", ""]
    assert "aiml" not in nb["cells"][0]["metadata"] and nb["cells"][1]["metadata"]["aiml"] == {"question": "q1"}
    feedback_notebook(nb, judge(bundle(), Execution(None, {}, [], "x")))


# ------------------------------------------------------------------ files under the submissions folder


def test_links_fifos_folders_and_oversize_files_are_refused(tmp_path: Path) -> None:
    """Does read_regular refuse a link (last or middle component), a FIFO (without blocking), a folder and a file
    over the cap, and read a regular file?"""
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "nb.ipynb").write_text("{}")
    (tmp_path / "secret.ipynb").write_text("solution")
    (tmp_path / "eve").mkdir()
    (tmp_path / "eve" / "nb.ipynb").symlink_to(tmp_path / "secret.ipynb")
    (tmp_path / "mallory").symlink_to(tmp_path / "alice")
    os.mkfifo(tmp_path / "alice" / "fifo")
    assert read_regular(tmp_path, ("alice", "nb.ipynb"), 100)[0] == b"{}"
    for rel, reason in [(("eve", "nb.ipynb"), "symbolic link"), (("mallory", "nb.ipynb"), "symbolic link"),
                        (("alice", "fifo"), "not a regular file"), (("alice",), "not a regular file"),
                        (("alice", "nb.ipynb", "x"), "not a folder")]:
        with pytest.raises(SubmissionRejected, match=reason):
            read_regular(tmp_path, rel, 100)
    with pytest.raises(SubmissionRejected, match="more than"):
        read_regular(tmp_path, ("alice", "nb.ipynb"), 1)


def _submission(root: Path, student: str, text: str = "{}") -> Path:
    folder = root / student / PART
    folder.mkdir(parents=True)
    (folder / f"{NB}.ipynb").write_text(text)
    return folder


def test_a_2gb_sparse_timestamp_is_not_read(tmp_path: Path) -> None:
    """Does a 2 GB sparse timestamp.txt cost neither memory nor time (it grew the grader to 18.9 GB)?"""
    folder = _submission(tmp_path, "ann")
    with (folder / "timestamp.txt").open("wb") as f:
        f.truncate(2 * 2**30)
    tracemalloc.start()
    start = time.monotonic()
    when, note = submission_time(folder, folder / f"{NB}.ipynb")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * 2**20 and time.monotonic() - start < 2
    assert when == datetime.fromtimestamp((folder / f"{NB}.ipynb").stat().st_mtime, tz=UTC) and note == ""


@FUZZ
@given(st.one_of(st.text(max_size=40), st.datetimes(timezones=st.timezones()).map(str),
                 st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1e400", "\x00"])))
def test_any_timestamp_text_gives_a_storable_utc_time(text: str) -> None:
    """Whatever timestamp.txt says, is the submission time an aware UTC datetime the gradebook can store?"""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = _submission(Path(tmp), "ann")
        (folder / "timestamp.txt").write_text(text, errors="surrogateescape")
        when, _ = submission_time(folder, folder / f"{NB}.ipynb")
    assert when.utcoffset() is not None and when.astimezone(UTC) == when


def test_a_2gb_sparse_notebook_is_refused_unread(tmp_path: Path) -> None:
    """Is a submitted notebook over 32 MiB (a sparse 2 GB file) refused with the reason, without reading it?"""
    from aiml_course.grading.pipeline import read_submission

    folder = _submission(tmp_path, "ann")
    with (folder / f"{NB}.ipynb").open("wb") as f:
        f.truncate(2 * 2**30)
    (sub,) = find_submissions(tmp_path, PART, [NB])
    tracemalloc.start()
    with pytest.raises(SubmissionRejected, match="more than"):
        read_submission(sub)
    assert tracemalloc.get_traced_memory()[1] < 5 * 2**20
    tracemalloc.stop()


def test_a_timestamp_that_is_a_link_or_a_fifo_is_not_followed(tmp_path: Path) -> None:
    """timestamp.txt linking to /etc/shadow-like files or a FIFO: is the file time used, without blocking?"""
    folder = _submission(tmp_path, "ann")
    (tmp_path / "elsewhere.txt").write_text("2020-01-01 00:00:00.000000 UTC")
    (folder / "timestamp.txt").symlink_to(tmp_path / "elsewhere.txt")
    assert submission_time(folder, folder / f"{NB}.ipynb")[0].year != 2020
    (folder / "timestamp.txt").unlink()
    os.mkfifo(folder / "timestamp.txt")
    assert submission_time(folder, folder / f"{NB}.ipynb")[0].year != 2020


def test_bad_student_folder_names_are_named_and_the_rest_are_found(tmp_path: Path) -> None:
    """Is a 65-character folder name or one with control characters named as not graded, the others kept?"""
    for student in ("ann", "b" * 65, "evil\x1b[2Jname", "ok.name-2"):
        _submission(tmp_path, student)
    not_graded: list[str] = []
    found = find_submissions(tmp_path, PART, [NB], not_graded)
    assert sorted(s.student for s in found) == ["ann", "ok.name-2"]
    assert len(not_graded) == 2 and any("65 characters" in r for r in not_graded)
    assert all("\x1b" not in r for r in not_graded)


def test_a_student_folder_or_part_folder_that_is_a_link_is_a_zero_with_the_reason(tmp_path: Path) -> None:
    """A student folder linking to the instructor's files, a part folder or a notebook that is a link: is each
    found with a problem (a zero row) and no time (it makes nothing late), never read?"""
    subs = tmp_path / "subs"
    _submission(subs, "ann")
    (subs / "eve").symlink_to(MINI / "source")
    (subs / "bob").mkdir()
    (subs / "bob" / PART).symlink_to(MINI / "source" / PART)
    (subs / "cat" / PART).mkdir(parents=True)
    (subs / "cat" / PART / f"{NB}.ipynb").symlink_to(MINI / "source" / PART / f"{NB}.ipynb")
    found = {s.student: s for s in find_submissions(subs, PART, [NB])}
    assert found["ann"].problem == ""
    assert "symbolic link" in found["eve"].problem and "symbolic link" in found["bob"].problem
    assert "symbolic link" in found["cat"].problem
    assert all(found[s].submitted_at is None for s in ("eve", "bob", "cat"))  # refused: makes nothing late


# ------------------------------------------------------------------ text and names that get printed


@pytest.mark.parametrize("text", ["\x1b[1A\r26/26", "ok\u202eevil", "a\nb\tc\x00d", "\x9b31m", "zero\u200bwidth"])
def test_printable_removes_control_and_invisible_characters(text: str) -> None:
    """Are ESC, CR, NUL, C1 controls, bidi overrides and zero-width characters gone, on one line?"""
    out = printable(text)
    assert all(ch.isprintable() and ch not in "\u202e\u200b" for ch in out), repr(out)


def test_printable_caps_length() -> None:
    """Is a long text cut to the limit with an ellipsis?"""
    assert len(printable("x" * 10_000, 50)) == 50 and printable("x" * 10_000, 50).endswith("…")


@pytest.mark.parametrize("name", ["a" * 65, "", ".hidden", "a/b", "x\ny", "ann\n", "é", "a b"])
def test_invalid_student_ids_are_named(name: str) -> None:
    """Is every id that is too long or has characters outside letters, digits and . _ @ + - refused?"""
    assert student_id_problem(name)


def test_the_grade_summary_prints_no_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    """Can a problem text rewrite its own row of `course grade`'s summary (cursor up, carriage return)?"""
    from aiml_course.cli import _print_summary
    from aiml_course.grading.engine import NotebookGrade
    from aiml_course.grading.pipeline import GradeSummary

    summary = GradeSummary(PART, graded=[("eve", NotebookGrade(NB, problem="\x1b[1A\r eve 26/26 \x1b[K"))],
                           not_graded=["student folder 'x\x1b[2J' is not a valid student id"])
    _print_summary(summary)
    out = capsys.readouterr()
    assert "\x1b" not in out.out + out.err and "\r" not in out.out + out.err


# ------------------------------------------------------------------ verdicts decided inside are refused by build


def _source_with(tmp_path: Path, old: str, new: str) -> Path:
    src = tmp_path / "src.ipynb"
    text = (MINI / "source" / PART / f"{NB}.ipynb").read_text()
    assert old in text
    src.write_text(text.replace(old, new, 1))
    return src


def test_build_refuses_a_case_that_returns_its_own_verdict(tmp_path: Path) -> None:
    """Is @case(compare="true") refused with an error naming notebook, cell, question and case?"""
    src = _source_with(tmp_path, "@case(compare='equal')", "@case(compare='true')")
    with pytest.raises(AuthoringError) as info:
        check_judged_outside(parse_source(src))
    message = str(info.value)
    assert str(src) in message and "question q2" in message and "squares_of_four" in message
    assert "cell" in message and "inside the sandbox" in message


def test_an_explicit_judged_inside_case_is_allowed_and_listed(tmp_path: Path) -> None:
    """Is @case(compare="true", judged="inside") accepted by build and reported as judged inside?"""
    src = _source_with(tmp_path, "@case(compare='equal')", "@case(compare='true', judged='inside')")
    spec = parse_source(src)
    check_judged_outside(spec)
    assert [c.name for c in judged_inside(spec)] == ["squares_of_four"]
    shutil.rmtree(tmp_path, ignore_errors=True)


# ------------------------------------------------------------------ the runner's recorder and restoration


def test_the_recorder_keeps_the_first_complete_record_and_stops_at_the_first_end() -> None:
    """Messages after the first end (what an atexit hook or a lingering thread would send), a second record for
    the same case, half a line, NaN and 500-deep values: does the recorder keep only the first complete, strict
    record of each case?"""
    from aiml_course.grading.runner import Recorder

    lines = [b'{"kind": "cells", "cells": []}', b'{"kind": "record", "case": "a", "record": {"ok": true, "value": 1}}',
             b'{"kind": "record", "case": "a", "record": {"ok": true, "value": 2}}', b'{"kind": "record", "ca',
             b'not json at all', b'{"kind": "record", "case": "c", "record": {"ok": true, "value": NaN}}',
             b'{"kind": "record", "case": "d", "record": {"ok": true, "value": ' + b"[" * 500 + b"]" * 500 + b"}}",
             b'{"kind": "end"}',
             b'{"kind": "record", "case": "b", "record": {"ok": true, "value": 3}}']
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        os.write(write_end, b"\n".join(lines) + b"\n")
        os._exit(0)
    os.close(write_end)
    recorder = Recorder(read_end, child)
    recorder.listen()
    os.close(read_end)
    assert recorder.result() == {"schema_version": 1, "cells": [], "records": {"a": {"ok": True, "value": 1}}}
    json.dumps(recorder.result(), allow_nan=False)  # what the recorder writes is strict JSON


def test_probes_get_the_real_builtins_and_modules_their_own_class() -> None:
    """A notebook that rebinds __builtins__ in its namespace or swaps a module's __class__: do the probes still see
    the real builtins and module functions?"""
    import builtins
    import math
    import types

    from aiml_course.grading.runner import _restore, _snapshot, run_probes

    snapshot = _snapshot(("math",))

    class Liar(types.ModuleType):
        def __getattribute__(self, name: str) -> Any:
            return (lambda *a: 42) if name == "sqrt" else super().__getattribute__(name)

    math.__class__ = Liar
    try:
        assert math.sqrt(4) == 42
        _restore(snapshot)
        assert type(math) is types.ModuleType and math.sqrt(4) == 2
    finally:
        math.__class__ = types.ModuleType
    fake = dict(vars(builtins), len=lambda x: 42)
    cells = [{"source": "import math\ndef probe():\n    return [len([1, 2]), math.sqrt(9)]", "cases": ["probe"]}]
    records = run_probes({"__builtins__": fake}, cells, 10)
    assert records["probe"] == {"ok": True, "value": [2, 3.0]}


# ------------------------------------------------------------------ fresh hidden inputs per grading run


def test_build_refuses_a_seeded_case_not_judged_with_the_seed(tmp_path: Path) -> None:
    """A hidden case drawing its inputs from GRADING_SEED but compared with a stored reference, and a public case
    using GRADING_SEED: are both refused, naming the case? With a # JUDGE taking `seed`, is it accepted?"""
    seeded = _source_with(tmp_path, "default_rng(1)", "default_rng(GRADING_SEED)")
    with pytest.raises(AuthoringError, match="double_of_many_secret_values draws its inputs from GRADING_SEED"):
        check_judged_outside(parse_source(seeded))
    text = seeded.read_text()
    public = _source_with(tmp_path, "return double(3)", "return double(GRADING_SEED)")
    with pytest.raises(AuthoringError, match="double_of_three uses GRADING_SEED in a public test cell"):
        check_judged_outside(parse_source(public))
    text = text.replace("@case(points=2, rtol=1e-9)", "@case(points=2, judge='fresh_ok')", 1)
    text = text.replace("def is_even_integer(got, expected):",
                        "def fresh_ok(got, expected, seed):\\n    return True\\ndef is_even_integer(got, expected):", 1)
    seeded.write_text(text)
    check_judged_outside(parse_source(seeded))
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_judge_taking_seed_gets_the_runs_seed_and_others_do_not() -> None:
    """Does a # JUDGE with a `seed` parameter receive the run's seed (and one without it keep working)?"""
    b = json.loads(json.dumps(bundle()))
    b["judges"].append("def fresh_ok(got, expected, seed):\n    return got == 2 * seed\n")
    b["cases"].append({"name": "fresh", "question": "q1", "hidden": True, "description": "fresh input",
                       "spec": {"points": 1, "judge": "fresh_ok"}})
    records = {"fresh": {"ok": True, "value": 2 * 4242}, "double_of_an_integer_is_even": {"ok": True, "value": 14}}
    grade = judge(b, Execution(OK_RUN, records, [], seed=4242))
    by_name = {c.name: c.earned for c in grade.cases}
    assert by_name["fresh"] == 1 and by_name["double_of_an_integer_is_even"] == 1
    assert judge(b, Execution(OK_RUN, records, [], seed=4243)).cases[-1].earned == 0


def _late_recorder(lines: list[bytes], late: bytes, public: set[str]) -> tuple[Any, bytes]:
    """Run the recorder against a fake student process that sends `lines` and reads what comes down (returned as
    its SHA-256, b"" if nothing came)."""
    from aiml_course.grading.runner import Recorder
    from aiml_course.sandbox import late_file

    up_read, up_write = os.pipe()
    down_read, down_write = os.pipe()
    got_read, got_write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(up_read)
            os.close(down_write)
            for line in lines:
                os.write(up_write, line + b"\n")
                if line == b'{"kind": "public_done"}':
                    data = b""
                    while chunk := os.read(down_read, 1 << 16):
                        data += chunk
                    os.write(got_write, hashlib.sha256(data).hexdigest().encode())  # small: never blocks
        finally:
            os._exit(0)
    os.close(up_write)
    os.close(down_read)
    os.close(got_write)
    late_fd = late_file(late)
    recorder = Recorder(up_read, child, public=public, late_fd=late_fd, down_fd=down_write)
    recorder.listen()
    os.close(up_read)
    os.close(late_fd)
    received = b""
    while chunk := os.read(got_read, 1 << 16):
        received += chunk
    os.close(got_read)
    return recorder, received


def test_the_recorder_freezes_the_public_results_before_it_sends_the_hidden_probes() -> None:
    """A cells log and public records sent after "public_done" (student code that read the hidden probes and
    wants to say so in a public message), hidden records sent before it, records of unknown cases: does the
    recorder keep only the public results sent before, the hidden ones sent after, and send the hidden material
    (larger than a pipe holds) only after "public_done"?"""
    late = json.dumps({"seed": 7, "probe_cells": [{"source": "x = 1\n" * 20_000, "cases": ["h"]}]}).encode()
    lines = [b'{"kind": "record", "case": "h", "record": {"ok": true, "value": "too early"}}',
             b'{"kind": "record", "case": "nobody", "record": {"ok": true, "value": 1}}',
             b'{"kind": "cells", "cells": []}',
             b'{"kind": "record", "case": "p", "record": {"ok": true, "value": 1}}',
             b'{"kind": "public_done"}',
             b'{"kind": "cells", "cells": [{"cell": 1, "error": {"name": "Leak", "message": "x = 1"}}]}',
             b'{"kind": "record", "case": "q", "record": {"ok": false, "error": "Leak: x = 1"}}',
             b'{"kind": "record", "case": "h", "record": {"ok": true, "value": 2}}',
             b'{"kind": "end"}']
    recorder, received = _late_recorder(lines, late, {"p", "q"})
    assert received.decode() == hashlib.sha256(late).hexdigest()
    assert recorder.result() == {"schema_version": 1, "cells": [],
                                 "records": {"p": {"ok": True, "value": 1}, "h": {"ok": True, "value": 2}}}
    recorder, received = _late_recorder(lines[:4] + lines[-1:], late, {"p", "q"})  # never said public_done
    assert received == b"" and recorder.result()["records"] == {"p": {"ok": True, "value": 1}}
