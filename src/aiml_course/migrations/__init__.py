"""Alembic migrations of the gradebook schema (run by Gradebook() on open; no alembic.ini needed)."""
