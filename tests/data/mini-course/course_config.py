"""A two-question course used by the tests (not real content)."""

from datetime import datetime, timezone

from aiml_course.config import Course, Limits, Part, SandboxConfig

COURSE = Course(
    id="mini",
    title="Mini course for tests",
    parts=(Part("part-01-mini", title="Mini", due=datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)),),
    sandbox=SandboxConfig(backend="bwrap", limits=Limits(wall_seconds=60, cell_seconds=20), workers=2),
)
