"""audit log append-only

The audit log is evidence: rows may be added, never changed. PostgreSQL also refuses deletes (the
test suite empties tables with TRUNCATE, which row triggers do not see); SQLite refuses updates.

Revision ID: a7d1e0c0f001
Revises: 479b9dee8499
Create Date: 2026-11-27 03:40:00
"""
from alembic import op

revision = "a7d1e0c0f001"
down_revision = "479b9dee8499"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audits_append_only() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION 'audits are append-only';
            END $$ LANGUAGE plpgsql
        """)
        op.execute("CREATE TRIGGER audits_append_only BEFORE UPDATE OR DELETE ON audits "
                   "FOR EACH ROW EXECUTE FUNCTION audits_append_only()")
    else:
        op.execute("CREATE TRIGGER audits_append_only BEFORE UPDATE ON audits "
                   "BEGIN SELECT RAISE(ABORT, 'audits are append-only'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audits_append_only ON audits")
        op.execute("DROP FUNCTION audits_append_only()")
    else:
        op.execute("DROP TRIGGER audits_append_only")
