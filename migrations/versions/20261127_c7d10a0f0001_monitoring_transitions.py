"""monitoring transitions

Revision ID: c7d10a0f0001
Revises: e7a0c0010001
Create Date: 2026-11-27 08:20:00

The dashboard's time in each state (MA003) read every review event of the page's reviews joined to its
review (half a second for a province of a million households). ``monitoring_transitions`` keeps those
events summed per campaign, commune, village and transition (count, Σ event time in epoch seconds): the
review service appends a row per state-changing event, `flask monitoring refresh` rebuilds it. Filled here
from the existing events.
"""
import sqlalchemy as sa
from alembic import op

revision = 'c7d10a0f0001'
down_revision = 'e7a0c0010001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'monitoring_transitions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('commune_code', sa.String(length=32), nullable=True),
        sa.Column('village_code', sa.String(length=32), nullable=True),
        sa.Column('from_state', sa.String(length=32), nullable=False),
        sa.Column('to_state', sa.String(length=32), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('at_sum', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_transitions')),
    )
    op.create_index('ix_monitoring_transitions_campaign_commune', 'monitoring_transitions',
                    ['campaign_id', 'commune_code', 'village_code'])
    if op.get_bind().dialect.name == 'sqlite':
        epoch = "(julianday(e.at) - 2440587.5) * 86400.0"
    else:
        epoch = "CAST(EXTRACT(epoch FROM e.at) AS FLOAT)"
    op.execute(f"""
        INSERT INTO monitoring_transitions (campaign_id, commune_code, village_code, from_state, to_state, events,
                                            at_sum)
        SELECT r.campaign_id, r.commune_code, r.village_code, e.from_state, e.to_state, count(*), sum({epoch})
        FROM review_events e JOIN reviews r ON r.id = e.review_id
        WHERE e.from_state <> e.to_state
        GROUP BY r.campaign_id, r.commune_code, r.village_code, e.from_state, e.to_state""")


def downgrade():
    op.drop_index('ix_monitoring_transitions_campaign_commune', table_name='monitoring_transitions')
    op.drop_table('monitoring_transitions')
