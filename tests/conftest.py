"""Shared fixtures: a temporary copy of the mini course (tests never modify repository files) and sandboxes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from aiml_course.config import Course, Limits, load_course
from aiml_course.errors import SandboxUnavailable
from aiml_course.sandbox import BwrapSandbox, DockerSandbox, ForkServerSandbox, LocalSandbox, Sandbox

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "data" / "mini-course"


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None and os.geteuid() == 0


def docker_available() -> bool:
    """A Docker daemon with the grading image answers (see scripts/docker-grading.sh)."""
    try:
        DockerSandbox(Limits())
    except SandboxUnavailable:
        return False
    return True


BACKENDS = (["bwrap", "forkserver"] + (["docker"] if docker_available() else [])) if bwrap_available() else ["none"]

needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap as root is needed for the sandbox")


@pytest.fixture
def mini_course(tmp_path: Path) -> Course:
    """A fresh copy of tests/data/mini-course, loaded."""
    root = tmp_path / "mini-course"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns(".course-cache", "var"))
    return load_course(root / "course_config.py")


_FORKSERVERS: dict[str, ForkServerSandbox] = {}


@pytest.fixture(params=BACKENDS)
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    """Each real backend this machine can run (bwrap and the fork server as root), else the unisolated runner."""
    limits = Limits(wall_seconds=60, cell_seconds=20, memory_mb=1024, pids=128)
    if request.param == "bwrap":
        return BwrapSandbox(limits)
    if request.param == "forkserver":  # one warm server for the whole session, as a grader keeps one
        return _FORKSERVERS.setdefault("default", ForkServerSandbox(limits))
    if request.param == "docker":
        return DockerSandbox(limits)
    return LocalSandbox(limits)
