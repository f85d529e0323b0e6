"""Expanded prompts stored on the storyboard version that made them.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("storyboard_versions") as batch:
        batch.add_column(sa.Column("prompts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("storyboard_versions") as batch:
        batch.drop_column("prompts")
