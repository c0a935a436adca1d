"""Alembic environment: the connection comes from aiml_course.gradebook, never from a config file.

Applying migrations needs no models, so opening a gradebook imports no feature module. To autogenerate a new
migration, pass the whole schema: `cfg.attributes["target_metadata"] = aiml_course.schema.all_metadata()` with
`cfg = aiml_course.gradebook._alembic_config(connection)`, then `alembic.command.revision(cfg, autogenerate=True)`.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=context.config.attributes.get("target_metadata"),
                  render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
