"""export classification facts

Revision ID: e7a0c0010001
Revises: b1a0c0010004
Create Date: 2026-11-27 08:00:00

The registry export's plain columns read out of each classification's result JSON once
(server/exports/models.py), filled by the first export after a classification; nothing to backfill.
"""
import sqlalchemy as sa
from alembic import op

revision = 'e7a0c0010001'
down_revision = 'b1a0c0010004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'export_classification_facts',
        sa.Column('classification_id', sa.Integer(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('indicators', sa.String(length=12), nullable=True),
        sa.Column('income_vnd', sa.BigInteger(), nullable=True),
        sa.Column('b1_total', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['classification_id'], ['classifications.id'], ondelete='CASCADE',
                                name=op.f('fk_export_classification_facts_classification_id_classifications')),
        sa.PrimaryKeyConstraint('classification_id', name=op.f('pk_export_classification_facts')),
    )


def downgrade():
    op.drop_table('export_classification_facts')
