"""Reading what students wrote, outside the sandbox: only regular files, never through a link, never unbounded.

Every file under the submissions folder is opened relative to that folder one component at a time with
O_NOFOLLOW (a link anywhere on the way — the student's folder, the part folder or the file itself — is refused),
must be a regular file (not a FIFO, device or folder) and is read up to a cap. A notebook is parsed into a clean
shape (cells of known types with string sources, dict metadata, no outputs) whose nesting is bounded, so nothing
later can recurse without limit or trip over a value of the wrong type.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from aiml_course.errors import SubmissionRejected

MAX_NOTEBOOK_BYTES = 32 * 1024 * 1024   # far above a notebook with plots; the sandbox re-runs it anyway
MAX_TIMESTAMP_BYTES = 256               # nbgrader writes one line of about 30 characters
MAX_NOTEBOOK_DEPTH = 64                 # real notebooks nest about 10 levels (metadata included)
CELL_TYPES = frozenset({"code", "markdown", "raw"})


def read_regular(base: Path, relative: tuple[str, ...], cap: int) -> tuple[bytes, os.stat_result]:
    """The bytes of `base`/`relative` (at most `cap`) and its stat; SubmissionRejected with the reason otherwise.

    `base` itself is trusted (the folder the instructor named); nothing below it is followed if it is a link.
    """
    shown = "/".join(relative)
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        dir_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SubmissionRejected(f"{shown}: the submissions folder cannot be opened ({exc.strerror})") from None
    fd = -1
    try:
        for part in relative[:-1]:
            try:
                next_fd = os.open(part, flags | os.O_DIRECTORY, dir_fd=dir_fd)
            except OSError as exc:
                raise SubmissionRejected(_refusal(shown, part, exc, dir_fd)) from None
            os.close(dir_fd)
            dir_fd = next_fd
        try:
            fd = os.open(relative[-1], flags | os.O_NONBLOCK, dir_fd=dir_fd)
        except OSError as exc:
            raise SubmissionRejected(_refusal(shown, relative[-1], exc, dir_fd)) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionRejected(f"{shown} is not a regular file")
        if info.st_size > cap:
            raise SubmissionRejected(f"{shown} is {info.st_size} bytes, more than the {cap} allowed")
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:  # it grew while being read
            raise SubmissionRejected(f"{shown} is more than the {cap} bytes allowed")
        return b"".join(chunks), info
    finally:
        if fd >= 0:
            os.close(fd)
        os.close(dir_fd)


def _refusal(shown: str, part: str, exc: OSError, dir_fd: int) -> str:
    import errno

    try:
        is_link = stat.S_ISLNK(os.stat(part, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        is_link = False
    if is_link or exc.errno in (errno.ELOOP, errno.EMLINK):
        return f"{shown}: {part} is a symbolic link; only regular files are graded"
    if exc.errno == errno.ENOTDIR:
        return f"{shown}: {part} is not a folder"
    if exc.errno == errno.ENOENT:
        return f"{shown} does not exist"
    return f"{shown} cannot be read ({exc.strerror})"


def lstat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def parse_notebook(data: bytes) -> dict[str, Any]:
    """A submitted notebook's bytes as a clean notebook dict, or SubmissionRejected saying why it is not one."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionRejected(f"the notebook is {len(data)} bytes, more than the {MAX_NOTEBOOK_BYTES} allowed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SubmissionRejected("the notebook file is not a valid notebook (not UTF-8 text)") from None
    try:
        raw = json.loads(text)
    except RecursionError:
        raise SubmissionRejected("the notebook file is not a valid notebook (nested too deeply)") from None
    except ValueError as exc:
        raise SubmissionRejected(f"the notebook file is not a valid notebook (not JSON: {_json_where(exc)})") from None
    if type(raw) is not dict or type(raw.get("cells")) is not list:
        raise SubmissionRejected("the notebook file is not a valid notebook (no list of cells)")
    cells = [_clean_cell(c) for c in raw["cells"] if type(c) is dict]
    meta = raw.get("metadata") if type(raw.get("metadata")) is dict else {}
    minor = raw.get("nbformat_minor") if type(raw.get("nbformat_minor")) is int else 5
    notebook = {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": minor}
    if nesting_depth(notebook) > MAX_NOTEBOOK_DEPTH:
        raise SubmissionRejected(f"the notebook file is not a valid notebook (nested more than "
                                 f"{MAX_NOTEBOOK_DEPTH} levels deep)")
    return notebook


def _json_where(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}"
    return "unreadable"


def _clean_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Only what grading and feedback use, each of the right type: outputs are dropped (the sandbox re-runs)."""
    kind = cell.get("cell_type") if cell.get("cell_type") in CELL_TYPES else "raw"
    source = cell.get("source", "")
    if type(source) is list:
        source = "".join(s for s in source if type(s) is str)
    elif type(source) is not str:
        source = ""
    meta = dict(cell["metadata"]) if type(cell.get("metadata")) is dict else {}
    if "aiml" in meta:
        aiml = meta["aiml"]
        if type(aiml) is dict:
            meta["aiml"] = {k: v for k, v in aiml.items() if type(k) is str and type(v) in (str, int, bool)}
        else:
            del meta["aiml"]
    clean: dict[str, Any] = {"cell_type": kind, "metadata": meta, "source": source}
    if type(cell.get("id")) is str and len(cell["id"]) <= 64:
        clean["id"] = cell["id"]
    if kind == "code":
        clean.update(outputs=[], execution_count=None)
    return clean


def nesting_depth(value: Any, stop_after: int = MAX_NOTEBOOK_DEPTH + 1) -> int:
    """How deeply lists and dicts nest in `value` (iteratively: no recursion limit), up to `stop_after`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if type(item) is dict:
            children: Any = item.values()
        elif type(item) is list:
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest >= stop_after:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest
