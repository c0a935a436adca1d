"""Alembic environment: the connection comes from aiml_course.gradebook, never from a config file."""

from __future__ import annotations

from alembic import context

from aiml_course.gradebook import all_metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=all_metadata(), render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
