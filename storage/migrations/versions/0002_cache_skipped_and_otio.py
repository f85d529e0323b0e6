"""Record how much work a cache hook skipped per take, and where a cut's OTIO timeline is.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("takes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cache_skipped", sa.Double(), nullable=True))
    # Takes rendered before this migration ran without a measured cache: nothing skipped.
    op.execute("UPDATE takes SET cache_skipped = 0")
    with op.batch_alter_table("takes", schema=None) as batch_op:
        batch_op.alter_column("cache_skipped", existing_type=sa.Double(), nullable=False)
    with op.batch_alter_table("cuts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("otio_path", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cuts", schema=None) as batch_op:
        batch_op.drop_column("otio_path")
    with op.batch_alter_table("takes", schema=None) as batch_op:
        batch_op.drop_column("cache_skipped")
