"""annotation drafts (autosave) and per-layer agreement

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:20:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('annotation_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('payload', JSON, nullable=False),
    sa.Column('ui_state', JSON, nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('base_annotation_id', sa.Integer(), nullable=True),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['base_annotation_id'], ['annotations.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id', 'user_id', 'stage', name='uq_annotation_draft')
    )
    with op.batch_alter_table('item_agreements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('layers', JSON, nullable=True))
        batch_op.add_column(sa.Column('conflicts', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('item_agreements', schema=None) as batch_op:
        batch_op.drop_column('conflicts')
        batch_op.drop_column('layers')
    op.drop_table('annotation_drafts')
