"""The course, declared once in course_config.py as `COURSE = Course(...)`, and validated on load.

Every record is frozen; a misspelt field name or a value out of range is a ConfigError that names the field.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiml_course.errors import ConfigError

PART_ID = re.compile(r"^part-\d{2}-[a-z0-9-]+$")
BACKENDS = ("auto", "forkserver", "bwrap", "docker", "none")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one graded notebook run."""

    memory_mb: int = 2048        # hard memory limit (cgroup); OOM kill past it
    pids: int = 256              # processes + threads
    cpus: float = 1.0            # CPU quota in cores
    wall_seconds: int = 600      # whole notebook, killed from outside past it
    cell_seconds: int = 120      # one cell, interrupted inside the runner
    output_mb: int = 64          # largest file the notebook may write (RLIMIT_FSIZE)
    disk_mb: int = 1024          # all files the notebook may write in its folder (a size-limited tmpfs)

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise ConfigError(f"Limits.{f.name} must be positive, got {getattr(self, f.name)}")
        if self.cell_seconds > self.wall_seconds:
            raise ConfigError("Limits.cell_seconds cannot exceed Limits.wall_seconds")


@dataclass(frozen=True)
class SandboxConfig:
    """Which isolation backend runs student notebooks, and with what limits.

    backend "auto" (the default): the warm fork server wherever it can run (root, namespaces), else bwrap (said
    once). workers None (the default): one per usable core, as many as fit in memory at `limits.memory_mb` each
    (aiml_course.machine.default_workers); resolved when the config is loaded."""

    backend: str = "auto"
    limits: Limits = field(default_factory=Limits)
    workers: int | None = None   # notebooks graded at once on this machine; None = from cores and memory

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"SandboxConfig.backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.workers is None:  # resolved here, on the machine that grades
            from aiml_course.machine import default_workers

            object.__setattr__(self, "workers", default_workers(self.limits.memory_mb))
        if self.workers < 1:
            raise ConfigError("SandboxConfig.workers must be at least 1")


@dataclass(frozen=True)
class HubConfig:
    """Each person's Jupyter server on the hub (all their kernels share these limits) and idle culling."""

    memory_mb: int = 4096        # cgroup memory limit of one user's server and kernels; OOM kills stay inside
    cpus: float = 2.0            # CPU quota in cores
    pids: int = 1024             # processes + threads
    idle_minutes: int = 60       # servers idle this long are stopped (work is saved on disk)

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise ConfigError(f"HubConfig.{f.name} must be positive, got {getattr(self, f.name)}")


@dataclass(frozen=True)
class LatePolicy:
    """How late work is scored: a grace period, a penalty per started day, a cap and a hard cut-off."""

    grace: timedelta = timedelta(minutes=15)
    penalty_per_day: float = 0.10    # fraction of the score lost per started late day
    max_penalty: float = 0.50        # never lose more than this fraction
    cutoff: timedelta | None = timedelta(days=7)  # later than this after the deadline scores zero

    def __post_init__(self) -> None:
        if not 0 <= self.penalty_per_day <= 1 or not 0 <= self.max_penalty <= 1:
            raise ConfigError("LatePolicy penalties are fractions between 0 and 1")

    def penalty(self, lateness: timedelta) -> float:
        """Fraction of the score lost for work submitted `lateness` after the deadline."""
        if lateness <= self.grace:
            return 0.0
        if self.cutoff is not None and lateness > self.cutoff:
            return 1.0
        started_days = -(-lateness // timedelta(days=1))
        return min(self.max_penalty, started_days * self.penalty_per_day)


@dataclass(frozen=True)
class RubricItem:
    """One peer-review criterion, scored from 0 to `max_points`."""

    id: str
    description: str
    max_points: int = 4

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z][a-z0-9_]*$", self.id):
            raise ConfigError(f"RubricItem id {self.id!r}: use lower-case letters, digits and '_'")
        if not isinstance(self.max_points, int) or self.max_points < 1:
            raise ConfigError(f"RubricItem {self.id}: max_points must be a whole number ≥ 1")
        if not self.description.strip():
            raise ConfigError(f"RubricItem {self.id}: describe what reviewers judge")


@dataclass(frozen=True)
class PeerReview:
    """Peer review of the major projects."""

    reviews_per_submission: int = 3
    rubric: tuple[RubricItem, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.reviews_per_submission < 1:
            raise ConfigError("PeerReview.reviews_per_submission must be at least 1")
        if not isinstance(self.rubric, (tuple, list)):
            raise ConfigError("PeerReview.rubric must be a tuple of RubricItem(...)")
        for i, item in enumerate(self.rubric, 1):
            if not isinstance(item, RubricItem):
                raise ConfigError(f"PeerReview.rubric item {i} is {type(item).__name__} {item!r:.60}; write "
                                  'RubricItem("id", "what reviewers judge", max_points)')
        ids = [r.id for r in self.rubric]
        if len(ids) != len(set(ids)):
            raise ConfigError(f"PeerReview.rubric has repeated ids: {sorted({i for i in ids if ids.count(i) > 1})}")


@dataclass(frozen=True)
class CertificatePolicy:
    """Who earns a certificate."""

    min_part_fraction: float = 0.70  # every part at least this share of its points
    min_reviews_done: int = 0        # completed peer reviews

    def __post_init__(self) -> None:
        if not 0 <= self.min_part_fraction <= 1:
            raise ConfigError("CertificatePolicy.min_part_fraction is a fraction between 0 and 1")


@dataclass(frozen=True)
class Part:
    """One part of the course = one assignment: the notebooks in source/<id>/."""

    id: str
    title: str
    due: datetime
    weight: float = 1.0              # share of the final grade, relative to the other parts
    limits: Limits | None = None     # this part's sandbox limits (default: the course's), e.g. longer training

    def __post_init__(self) -> None:
        if not PART_ID.match(self.id):
            raise ConfigError(f"Part id {self.id!r} must look like 'part-02-first-neuron'")
        if self.due.tzinfo is None:
            raise ConfigError(f"Part {self.id}: due date needs a time zone, e.g. tzinfo=timezone.utc")
        if self.weight < 0:
            raise ConfigError(f"Part {self.id}: weight must not be negative")


QUIZ_POLICIES = ("formative", "graded-first-answer")


@dataclass(frozen=True)
class Course:
    """The whole course."""

    id: str
    title: str
    parts: tuple[Part, ...]
    cohorts: tuple[str, ...] = ("default",)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    late_policy: LatePolicy = field(default_factory=LatePolicy)
    peer_review: PeerReview = field(default_factory=PeerReview)
    certificate: CertificatePolicy = field(default_factory=CertificatePolicy)
    hub: HubConfig = field(default_factory=HubConfig)
    data_dir: str = "~/.cache/aiml-course/data"
    quiz: str = "formative"          # quizzes: "formative" (<= 10 % of a notebook's points, instant feedback) or
    #                                  "graded-first-answer" (the first recorded answer counts; no key leaves autograder/)
    root: Path = Path(".")           # set by load_course to the folder holding course_config.py

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z0-9][a-z0-9_-]*$", self.id):
            raise ConfigError(f"Course id {self.id!r}: use lower-case letters, digits, '-' and '_'")
        ids = [p.id for p in self.parts]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ConfigError(f"Part ids appear twice: {dupes}")
        if not self.parts:
            raise ConfigError("Course.parts is empty")
        if self.quiz not in QUIZ_POLICIES:
            raise ConfigError(f"Course.quiz {self.quiz!r}: choose one of {', '.join(QUIZ_POLICIES)}")

    def limits_for(self, part_id: str) -> Limits:
        """The sandbox limits that apply to `part_id` (its own, else the course's)."""
        return self.part(part_id).limits or self.sandbox.limits

    def part(self, part_id: str) -> Part:
        """The part called `part_id` (a prefix such as 'part-02' is enough if unambiguous)."""
        matches = [p for p in self.parts if p.id == part_id] or [p for p in self.parts if p.id.startswith(part_id)]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(p.id for p in self.parts)
        raise ConfigError(f"unknown part {part_id!r}; course_config.py declares: {known}")

    @property
    def source_dir(self) -> Path:
        return self.root / "source"

    @property
    def release_dir(self) -> Path:
        return self.root / "release"

    @property
    def autograder_dir(self) -> Path:
        return self.root / "autograder"


def _explain_type_error(exc: TypeError, path: Path) -> ConfigError:
    """Turn dataclass TypeErrors (typos in field names) into messages with a suggestion."""
    msg = str(exc)
    m = re.search(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'", msg)
    if m:
        cls = {c.__name__: c for c in (Course, Part, SandboxConfig, Limits, LatePolicy, PeerReview,
                                      RubricItem, CertificatePolicy)}.get(m.group(1))
        names = [f.name for f in fields(cls)] if cls else []
        close = difflib.get_close_matches(m.group(2), names, n=1)
        hint = f" — did you mean {close[0]!r}?" if close else f" (known: {', '.join(names)})"
        return ConfigError(f"{path}: {m.group(1)} has no field {m.group(2)!r}{hint}")
    return ConfigError(f"{path}: {msg}")


def load_course(path: Path | str = "course_config.py") -> Course:
    """Import course_config.py, check it defines COURSE, and return it with `root` set to its folder."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"{path} not found: run `course` from the course folder or pass --config")
    spec = importlib.util.spec_from_file_location("course_config", path)
    assert spec and spec.loader  # a .py path always yields a loader
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except TypeError as exc:
        raise _explain_type_error(exc, path) from exc
    except Exception as exc:
        raise ConfigError(f"{path} failed to load: {type(exc).__name__}: {exc}") from exc
    course: Any = getattr(module, "COURSE", None)
    if not isinstance(course, Course):
        raise ConfigError(f"{path} must define COURSE = Course(...)")
    object.__setattr__(course, "root", path.parent)
    return course
