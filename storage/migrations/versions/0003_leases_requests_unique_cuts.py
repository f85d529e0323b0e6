"""Project and shot leases, re-render requests, take owners, numbered cuts written atomically.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("pid_start", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_leases_project_id_projects"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leases")),
        sa.UniqueConstraint("project_id", "scope", name=op.f("uq_leases_project_id")),
    )
    op.create_table(
        "render_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("shot_key", sa.String(length=128), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("cascade", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("taken_by", sa.String(length=64), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_render_requests_project_id_projects"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_render_requests")),
    )
    with op.batch_alter_table("takes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
    with op.batch_alter_table("cuts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
    # Cuts made before: numbered in the order they were made, per project; all were written.
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, project_id FROM cuts ORDER BY project_id, id")).fetchall()
    counters: dict[int, int] = {}
    for cut_id, project_id in rows:
        counters[project_id] = counters.get(project_id, 0) + 1
        connection.execute(sa.text("UPDATE cuts SET number = :n, status = 'done' WHERE id = :id"), {"n": counters[project_id], "id": cut_id})
    with op.batch_alter_table("cuts", schema=None) as batch_op:
        batch_op.alter_column("number", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("status", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_cuts_project_id"), ["project_id", "number"])


def downgrade() -> None:
    with op.batch_alter_table("cuts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_cuts_project_id"), type_="unique")
        batch_op.drop_column("owner")
        batch_op.drop_column("status")
        batch_op.drop_column("number")
    with op.batch_alter_table("takes", schema=None) as batch_op:
        batch_op.drop_column("owner")
    op.drop_table("render_requests")
    op.drop_table("leases")
