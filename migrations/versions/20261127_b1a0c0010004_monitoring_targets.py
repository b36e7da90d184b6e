"""monitoring targets

Revision ID: b1a0c0010004
Revises: b1a0c0010003
Create Date: 2026-11-27 07:30:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'b1a0c0010004'
down_revision = 'b1a0c0010003'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
