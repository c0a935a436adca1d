"""Text and names that come from students, made safe to store, print and show.

Anything a submission can influence — a student folder's name, an error message, a problem text — passes through
here before it reaches a terminal, a report, the gradebook or the dashboard: control characters (which could
move the cursor and rewrite a printed row), bidirectional overrides and other invisible format characters are
replaced by spaces, and the length is capped.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_MESSAGE_CHARS", "STUDENT_ID", "printable", "student_id_problem"]

MAX_MESSAGE_CHARS = 300
MAX_STUDENT_ID_CHARS = 64   # the gradebook's students.id column (PostgreSQL refuses longer values)
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _safe_char(ch: str) -> str:
    return " " if unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch


def printable(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` on one line, without control or invisible format characters, at most `limit` characters."""
    raw = str(text) if not isinstance(text, str) else text
    raw = raw[: limit * 4]  # never walk a huge string character by character
    cleaned = " ".join("".join(_safe_char(ch) for ch in raw).split())
    return cleaned if len(cleaned) <= limit else cleaned[: max(0, limit - 1)] + "…"


def student_id_problem(name: str) -> str:
    """Why `name` cannot be a student id ('' when it can): at most 64 letters, digits and . _ @ + -."""
    if STUDENT_ID.fullmatch(name):
        return ""
    shown = printable(repr(name), 80)
    if len(name) > MAX_STUDENT_ID_CHARS:
        return f"student folder {shown} is {len(name)} characters long (at most {MAX_STUDENT_ID_CHARS})"
    return (f"student folder {shown} is not a valid student id (letters, digits and . _ @ + - only, "
            "starting with a letter or digit)")
