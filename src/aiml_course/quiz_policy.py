"""Which kind of quiz a course has: formative (practice, instant feedback) or graded on the first recorded answer.

The policy lives in course_config.py (`Course.quiz`). `course build` renders the quiz and its sentence from it,
and `course lint` finds it for a notebook by looking for the course_config.py above the notebook.
"""

from __future__ import annotations

import functools
from pathlib import Path

from aiml_course.config import QUIZ_POLICIES, load_course

FORMATIVE, GRADED = QUIZ_POLICIES
MAX_FORMATIVE_SHARE = 0.10


def quiz_sentence(policy: str, quiz_points: float, notebook_points: float) -> str:
    """The sentence the student notebook shows above the quiz, saying which kind it is."""
    worth = f"It is worth {quiz_points:g} of this notebook's {notebook_points:g} points."
    if policy == GRADED:
        return ("**This quiz is graded.** Your first answer to each question is recorded and is the one that counts; "
                f"you see which were right in your feedback after grading. {worth}")
    return ("**This quiz is for practice.** Click an answer for instant feedback and try again as often as you like; "
            f"then write your letters in the answer cell. {worth}")


@functools.lru_cache(maxsize=16)
def _policy_of(config: Path, mtime: float) -> str:
    return load_course(config).quiz


def quiz_policy_for(notebook: Path) -> str:
    """The quiz policy of the course holding `notebook` (formative when no course_config.py is above it).

    Raises ConfigError when that course_config.py does not load."""
    for folder in notebook.resolve().parents:
        if (folder / "course_config.py").is_file():
            config = folder / "course_config.py"
            return _policy_of(config, config.stat().st_mtime)
    return FORMATIVE
