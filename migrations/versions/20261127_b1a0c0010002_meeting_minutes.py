"""meeting minutes

Revision ID: b1a0c0010002
Revises: b1a0c0010001
Create Date: 2026-11-27 07:30:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'b1a0c0010002'
down_revision = 'b1a0c0010001'
branch_labels = None
depends_on = None


def upgrade():
    # The photo or scan of a village meeting's signed minutes; the bytes are in the blob store.
    op.create_table('meeting_minutes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_code', sa.String(length=32), nullable=False),
    sa.Column('blob_id', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['blob_id'], ['blobs.id'], name=op.f('fk_meeting_minutes_blob_id_blobs')),
    sa.ForeignKeyConstraint(['uploaded_by'], ['actors.id'], name=op.f('fk_meeting_minutes_uploaded_by_actors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_minutes'))
    )
    with op.batch_alter_table('meeting_minutes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_minutes_village_code'), ['village_code'], unique=False)


def downgrade():
    with op.batch_alter_table('meeting_minutes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_minutes_village_code'))

    op.drop_table('meeting_minutes')
