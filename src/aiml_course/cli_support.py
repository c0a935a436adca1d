"""What every `course` command shares: clean errors, the loaded course, the gradebook URL."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from aiml_course.config import Course, load_course
from aiml_course.errors import CourseError


def fail_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A CourseError becomes one red line and exit status 2; Ctrl-C says what was kept and exits 130."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CourseError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.secho("interrupted: everything finished before now is saved; run the command again to go on",
                        fg="yellow", err=True)
            sys.exit(130)

    return wrapper


def course_from(ctx: click.Context) -> Course:
    """The course named by the top-level `--config` option."""
    return load_course((ctx.obj or {}).get("config", "course_config.py"))


def db_url(course: Course, db: str | None) -> str:
    """`--db`, or the default SQLite gradebook under var/."""
    from aiml_course.gradebook import default_url

    return db or default_url(course.root)
