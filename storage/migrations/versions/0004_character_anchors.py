"""Character identity anchors.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("character", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("take_id", sa.Integer(), nullable=True),
        sa.Column("frame", sa.Integer(), nullable=True),
        sa.Column("box", sa.JSON(), nullable=True),
        sa.Column("image_path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_anchors_project_id_projects"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["take_id"], ["takes.id"], name=op.f("fk_anchors_take_id_takes"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anchors")),
    )
    op.create_index("ix_anchors_project_character", "anchors", ["project_id", "character"])


def downgrade() -> None:
    op.drop_index("ix_anchors_project_character", table_name="anchors")
    op.drop_table("anchors")
