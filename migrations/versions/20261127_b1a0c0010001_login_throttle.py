"""login throttle

Revision ID: b1a0c0010001
Revises: 314f6c44f166
Create Date: 2026-11-27 07:30:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'b1a0c0010001'
down_revision = '314f6c44f166'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
