"""one current version per submission

Revision ID: f1c2d3e40001
Revises: c7d10a0f0001
Create Date: 2026-11-27 13:40:00

Two phones editing the same version at once could both be accepted, leaving a submission with two
current versions. The ingest path now retires the old version with a conditional update; this unique
partial index makes the database refuse a second current version whatever path writes one. Any
submission that already has several keeps its newest as current (the others stay, as earlier versions).
"""
import sqlalchemy as sa
from alembic import op

revision = 'f1c2d3e40001'
down_revision = 'c7d10a0f0001'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
        UPDATE submission_defs SET current = false
        WHERE current AND id < (SELECT max(newer.id) FROM submission_defs AS newer
                                WHERE newer.submission_id = submission_defs.submission_id AND newer.current)
    """)
    op.create_index('ux_submission_defs_one_current', 'submission_defs', ['submission_id'], unique=True,
                    postgresql_where=sa.text('current'), sqlite_where=sa.text('current'))


def downgrade():
    op.drop_index('ux_submission_defs_one_current', table_name='submission_defs')
