"""a notebook not handed in has no submission time: submissions.submitted_at may be NULL

Before, a missing notebook was recorded as handed in when it was graded, which made its whole part late.
Rows written that way (content hash 'missing', which no real SHA-256 can be) lose that time here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.alter_column('submitted_at', existing_type=sa.DateTime(timezone=True), nullable=True)
    op.execute("UPDATE submissions SET submitted_at = NULL WHERE content_sha256 = 'missing'")


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.alter_column('submitted_at', existing_type=sa.DateTime(timezone=True), nullable=False)
