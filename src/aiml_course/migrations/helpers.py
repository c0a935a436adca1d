"""Helpers for the migration scripts."""

from __future__ import annotations

from alembic import op
from sqlalchemy import inspect


def missing(table: str) -> bool:
    """True when `table` does not exist yet: migrations create only what is missing, so a gradebook made by
    create_all before migrations existed (or by a feature that created its own table) is adopted as it is."""
    return not inspect(op.get_bind()).has_table(table)
