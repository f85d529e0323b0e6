"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('storyboard_path', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('name', name=op.f('uq_projects_name'))
    )
    op.create_table('cuts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('output_path', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('entries', sa.JSON(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('frames', sa.Integer(), nullable=False),
    sa.Column('duration', sa.Double(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_cuts_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cuts'))
    )
    op.create_table('storyboard_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source_path', sa.Text(), nullable=False),
    sa.Column('parsed', sa.JSON(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_storyboard_versions_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_storyboard_versions')),
    sa.UniqueConstraint('project_id', 'number', name=op.f('uq_storyboard_versions_project_id'))
    )
    op.create_table('shots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('scene', sa.String(length=128), nullable=False),
    sa.Column('chain', sa.Integer(), nullable=False),
    sa.Column('conditioned_on', sa.String(length=128), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('negative_prompt', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('input_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stale_reason', sa.Text(), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('chosen_take_id', sa.Integer(), nullable=True),
    sa.Column('version_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_shots_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['storyboard_versions.id'], name=op.f('fk_shots_version_id_storyboard_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shots')),
    sa.UniqueConstraint('project_id', 'key', name=op.f('uq_shots_project_id'))
    )
    op.create_table('takes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shot_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('input_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('media_path', sa.Text(), nullable=True),
    sa.Column('media_sha256', sa.String(length=64), nullable=True),
    sa.Column('last_frame_path', sa.Text(), nullable=True),
    sa.Column('last_frame_sha256', sa.String(length=64), nullable=True),
    sa.Column('sheet_path', sa.Text(), nullable=True),
    sa.Column('sheet_sha256', sa.String(length=64), nullable=True),
    sa.Column('frame_count', sa.Integer(), nullable=True),
    sa.Column('fps', sa.Double(), nullable=True),
    sa.Column('timings', sa.JSON(), nullable=False),
    sa.Column('device', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('weighted_score', sa.Double(), nullable=True),
    sa.Column('chosen_reason', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shot_id'], ['shots.id'], name=op.f('fk_takes_shot_id_shots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_takes')),
    sa.UniqueConstraint('shot_id', 'attempt', name=op.f('uq_takes_shot_id'))
    )
    with op.batch_alter_table('takes', schema=None) as batch_op:
        batch_op.create_index('ix_takes_shot_status', ['shot_id', 'status'], unique=False)

    # shots ↔ takes reference each other: the shots → takes key is added once both exist.
    with op.batch_alter_table('shots', schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f('fk_shots_chosen_take_id_takes'), 'takes', ['chosen_take_id'], ['id'], ondelete='SET NULL'
        )

    op.create_table('reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shot_id', sa.Integer(), nullable=False),
    sa.Column('take_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('reviewer', sa.String(length=128), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shot_id'], ['shots.id'], name=op.f('fk_reviews_shot_id_shots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['take_id'], ['takes.id'], name=op.f('fk_reviews_take_id_takes'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews'))
    )
    op.create_table('scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('take_id', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Double(), nullable=False),
    sa.Column('threshold', sa.Double(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['take_id'], ['takes.id'], name=op.f('fk_scores_take_id_takes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scores')),
    sa.UniqueConstraint('take_id', 'metric', name=op.f('uq_scores_take_id'))
    )


def downgrade() -> None:
    op.drop_table('scores')
    op.drop_table('reviews')
    with op.batch_alter_table('takes', schema=None) as batch_op:
        batch_op.drop_index('ix_takes_shot_status')

    with op.batch_alter_table('shots', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_shots_chosen_take_id_takes'), type_='foreignkey')
    op.drop_table('takes')
    op.drop_table('shots')
    op.drop_table('storyboard_versions')
    op.drop_table('cuts')
    op.drop_table('projects')
