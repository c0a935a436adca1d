"""course_config.py: one validated object; typos and bad values are clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiml_course.config import LatePolicy, Limits, Part, load_course
from aiml_course.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_course_config_loads() -> None:
    """Does the repository's course_config.py load, with Part 2 in it?"""
    course = load_course(ROOT / "course_config.py")
    assert course.part("part-02").id == "part-02-first-neuron"
    assert course.root == ROOT


def test_a_misspelt_field_names_the_field_and_suggests_the_right_one(tmp_path: Path) -> None:
    """Does a typo like 'wieght' produce an error naming it and suggesting 'weight'?"""
    cfg = tmp_path / "course_config.py"
    cfg.write_text(
        "from datetime import datetime, timezone\n"
        "from aiml_course.config import Course, Part\n"
        "COURSE = Course(id='c', title='t', parts=(Part('part-01-a', title='A', "
        "due=datetime(2026, 1, 1, tzinfo=timezone.utc), wieght=2),))\n")
    with pytest.raises(ConfigError, match=r"no field 'wieght'.*did you mean 'weight'"):
        load_course(cfg)


def test_missing_file_and_missing_course_object_are_errors(tmp_path: Path) -> None:
    """Are a missing file and a file without COURSE reported as ConfigError?"""
    with pytest.raises(ConfigError, match="not found"):
        load_course(tmp_path / "nope.py")
    (tmp_path / "c.py").write_text("X = 1\n")
    with pytest.raises(ConfigError, match="COURSE"):
        load_course(tmp_path / "c.py")


def test_values_are_validated() -> None:
    """Are impossible values refused with the field named?"""
    with pytest.raises(ConfigError, match="must look like"):
        Part("Part 2", title="x", due=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ConfigError, match="time zone"):
        Part("part-02-x", title="x", due=datetime(2026, 1, 1))
    with pytest.raises(ConfigError, match="memory_mb"):
        Limits(memory_mb=0)


def test_late_policy_grace_penalty_cap_and_cutoff() -> None:
    """Does the late policy give 0 in the grace period, per started day after, capped, and 1 past the cut-off?"""
    policy = LatePolicy(grace=timedelta(minutes=15), penalty_per_day=0.1, max_penalty=0.3,
                        cutoff=timedelta(days=7))
    assert policy.penalty(timedelta(minutes=10)) == 0
    assert policy.penalty(timedelta(hours=2)) == pytest.approx(0.1)
    assert policy.penalty(timedelta(days=1, hours=1)) == pytest.approx(0.2)
    assert policy.penalty(timedelta(days=5)) == pytest.approx(0.3)
    assert policy.penalty(timedelta(days=8)) == 1.0


def test_a_malformed_rubric_is_refused_with_the_item_named() -> None:
    """Are repeated rubric ids, zero points and empty descriptions errors naming the item?"""
    from aiml_course.config import PeerReview, RubricItem

    with pytest.raises(ConfigError, match="repeated ids"):
        PeerReview(rubric=(RubricItem("clarity", "a"), RubricItem("clarity", "b")))
    with pytest.raises(ConfigError, match="clarity: max_points"):
        RubricItem("clarity", "Is it clear?", 0)
    with pytest.raises(ConfigError, match="describe"):
        RubricItem("clarity", " ")


def test_a_part_can_have_its_own_limits() -> None:
    """Does a part's own Limits override the course's, and the others keep the course's?"""
    from aiml_course.config import Course, SandboxConfig

    due = datetime(2026, 1, 1, tzinfo=UTC)
    course = Course(id="c", title="t", sandbox=SandboxConfig(limits=Limits(wall_seconds=100, cell_seconds=60)), parts=(
        Part("part-01-a", title="A", due=due), Part("part-05-b", title="B", due=due, limits=Limits(wall_seconds=900))))
    assert course.limits_for("part-01").wall_seconds == 100
    assert course.limits_for("part-05").wall_seconds == 900
