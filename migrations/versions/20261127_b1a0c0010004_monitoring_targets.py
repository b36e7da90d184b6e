"""monitoring targets

Revision ID: b1a0c0010004
Revises: b1a0c0010003
Create Date: 2026-11-27 07:30:00

The supervisors' dashboard (server/monitoring): the plan's targets per year, one derived row per
household survey with what the dashboard counts (facts read out of the JSON columns once, when the
survey is processed, so that a province-wide page is a handful of GROUP BYs), and the indexes its
aggregates use.
"""
import sqlalchemy as sa
from alembic import op

revision = 'b1a0c0010004'
down_revision = 'b1a0c0010003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'monitoring_targets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('indicator', sa.String(length=32), nullable=False),
        sa.Column('target', sa.Float(), nullable=False),
        sa.Column('baseline', sa.Float(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('set_by', sa.Integer(), nullable=True),
        sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['set_by'], ['actors.id'], name=op.f('fk_monitoring_targets_set_by_actors')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_targets')),
        sa.UniqueConstraint('year', 'indicator', name=op.f('uq_monitoring_targets_year')),
    )
    op.create_table(
        'monitoring_facts',
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('village_code', sa.String(length=32), nullable=True),
        sa.Column('commune_code', sa.String(length=32), nullable=True),
        sa.Column('submitter_id', sa.Integer(), nullable=True),
        sa.Column('household_class', sa.String(length=32), nullable=True),
        sa.Column('deprived', sa.Integer(), nullable=False),
        sa.Column('deprivation_count', sa.Integer(), nullable=True),
        sa.Column('gps_flags', sa.Integer(), nullable=False),
        sa.Column('lat', sa.Float(), nullable=True),
        sa.Column('lon', sa.Float(), nullable=True),
        sa.Column('income', sa.Float(), nullable=True),
        sa.Column('duration_s', sa.Integer(), nullable=True),
        sa.Column('submitted_on', sa.Date(), nullable=False),
        sa.Column('stamp', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'],
                                name=op.f('fk_monitoring_facts_submission_id_submissions')),
        sa.PrimaryKeyConstraint('submission_id', name=op.f('pk_monitoring_facts')),
    )
    op.create_index('ix_monitoring_facts_campaign_village', 'monitoring_facts', ['campaign_id', 'village_code'])
    op.create_index('ix_monitoring_facts_campaign_commune', 'monitoring_facts', ['campaign_id', 'commune_code'])
    op.create_index('ix_reviews_campaign_village_state', 'reviews', ['campaign_id', 'village_code', 'state'])
    op.create_index('ix_review_events_to_state_review', 'review_events', ['to_state', 'review_id'])
    # Time in each state: every event of the scope's reviews, read from the index alone.
    op.create_index('ix_review_events_review_states_at', 'review_events', ['review_id', 'from_state', 'to_state', 'at'])
    op.create_index('ix_duplicate_pairs_status_village', 'duplicate_pairs', ['status', 'village_code'])
    # Households expected per village: an index-only count of the live (not merged) registry households.
    op.create_index('ix_households_village_live', 'households', ['village_code'],
                    postgresql_where=sa.text("merged_into_id IS NULL AND source = 'registry'"),
                    sqlite_where=sa.text("merged_into_id IS NULL AND source = 'registry'"))


def downgrade():
    op.drop_index('ix_households_village_live', table_name='households')
    op.drop_index('ix_duplicate_pairs_status_village', table_name='duplicate_pairs')
    op.drop_index('ix_review_events_review_states_at', table_name='review_events')
    op.drop_index('ix_review_events_to_state_review', table_name='review_events')
    op.drop_index('ix_reviews_campaign_village_state', table_name='reviews')
    op.drop_index('ix_monitoring_facts_campaign_commune', table_name='monitoring_facts')
    op.drop_index('ix_monitoring_facts_campaign_village', table_name='monitoring_facts')
    op.drop_table('monitoring_facts')
    op.drop_table('monitoring_targets')
