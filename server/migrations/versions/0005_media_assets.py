"""media core: probe facts, derived assets, prediction checkpoints, progress detail, in-place imports

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 15:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('assets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('producer', sa.String(length=120), nullable=False),
    sa.Column('meta', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id', 'name', name='uq_asset_item_name')
    )
    op.create_table('prediction_checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('model_key', sa.String(length=160), nullable=False),
    sa.Column('state', JSON, nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id', 'model_key', name='uq_checkpoint_item_model')
    )
    with op.batch_alter_table('prediction_checkpoints', schema=None) as batch_op:
        batch_op.create_index('ix_checkpoints_item', ['item_id'], unique=False)
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media_info', JSON, nullable=True))
        batch_op.add_column(sa.Column('source_path', sa.String(length=1000), nullable=True))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress_detail', JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('progress_detail')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('source_path')
        batch_op.drop_column('media_info')
    with op.batch_alter_table('prediction_checkpoints', schema=None) as batch_op:
        batch_op.drop_index('ix_checkpoints_item')
    op.drop_table('prediction_checkpoints')
    op.drop_table('assets')
