"""The whole gradebook schema: the storage layer's tables and those of the features built on it.

The gradebook (storage) knows nothing of peer review or certificates; each of them declares its own tables on
`aiml_course.gradebook.Base`. This module sits above all of them and imports every module that declares tables,
so that `all_metadata()` holds the complete schema: what the Alembic migrations must build (a test compares the
two) and what `alembic revision --autogenerate` diffs against (pass it as `target_metadata`, see
migrations/env.py). A feature with new tables adds its module to TABLE_MODULES and a migration.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from aiml_course.gradebook import Base

TABLE_MODULES = (
    "aiml_course.gradebook",              # students, submissions, case_results, extensions, adjustments, meta
    "aiml_course.peer_review.store",      # peer_assignments, peer_reviews
    "aiml_course.certificates.records",   # certificates
)


def all_metadata() -> MetaData:
    """The schema of every table, the feature modules' own included."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return Base.metadata
