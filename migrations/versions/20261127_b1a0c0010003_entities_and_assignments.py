"""entities and assignments

Revision ID: b1a0c0010003
Revises: b1a0c0010002
Create Date: 2026-11-27 07:30:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'b1a0c0010003'
down_revision = 'b1a0c0010002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('datasets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('approval_required', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_datasets_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_datasets_project_id_name'))
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_datasets_project_id'), ['project_id'], unique=False)

    op.create_table('entities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=64), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('village_code', sa.String(length=32), nullable=True),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('conflict', sa.String(length=8), nullable=True),
    sa.Column('conflict_detail', sa.JSON(), nullable=True),
    sa.Column('held', sa.JSON(), nullable=True),
    sa.Column('arrivals', sa.Integer(), nullable=False),
    sa.Column('registry_synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('creator_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['creator_id'], ['actors.id'], name=op.f('fk_entities_creator_id_actors')),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_entities_dataset_id_datasets')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_entities_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entities')),
    sa.UniqueConstraint('dataset_id', 'uuid', name=op.f('uq_entities_dataset_id_uuid'))
    )
    with op.batch_alter_table('entities', schema=None) as batch_op:
        batch_op.create_index('ix_entities_dataset_village', ['dataset_id', 'village_code', 'uuid'], unique=False)
        batch_op.create_index('ix_entities_dataset_household', ['dataset_id', 'household_id'], unique=False)

    op.create_table('entity_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('changed', sa.JSON(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('branch_id', sa.String(length=36), nullable=True),
    sa.Column('trunk_version', sa.Integer(), nullable=True),
    sa.Column('branch_base_version', sa.Integer(), nullable=True),
    sa.Column('arrival_order', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_entity_versions_actor_id_actors')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_entity_versions_entity_id_entities')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'],
                            name=op.f('fk_entity_versions_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_versions')),
    sa.UniqueConstraint('entity_id', 'version', name=op.f('uq_entity_versions_entity_id_version'))
    )
    with op.batch_alter_table('entity_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entity_versions_submission_id'), ['submission_id'], unique=False)

    op.create_table('entity_resolutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('conflict', sa.JSON(), nullable=False),
    sa.Column('choice', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_entity_resolutions_actor_id_actors')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_entity_resolutions_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_resolutions'))
    )
    with op.batch_alter_table('entity_resolutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entity_resolutions_entity_id'), ['entity_id'], unique=False)

    op.create_table('entity_list_cache',
    sa.Column('scope_key', sa.String(length=64), nullable=False),
    sa.Column('content_key', sa.String(length=64), nullable=False),
    sa.Column('registry_key', sa.String(length=64), nullable=True),
    sa.Column('md5', sa.String(length=32), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope_key', name=op.f('pk_entity_list_cache'))
    )

    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('village_code', sa.String(length=32), nullable=True),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('expected_count', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(village_code IS NULL) <> (household_id IS NULL)', name=op.f('ck_assignments_one_target')),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_assignments_actor_id_actors')),
    sa.ForeignKeyConstraint(['created_by'], ['actors.id'], name=op.f('fk_assignments_created_by_actors')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_assignments_household_id_households')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_assignments_project_id_projects')),
    sa.ForeignKeyConstraint(['village_code'], ['units.code'], name=op.f('fk_assignments_village_code_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('actor_id', 'village_code', 'household_id',
                        name=op.f('uq_assignments_actor_id_village_code_household_id'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignments_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_project_id'), ['project_id'], unique=False)


def downgrade():
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_project_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_actor_id'))
    op.drop_table('assignments')
    op.drop_table('entity_list_cache')
    with op.batch_alter_table('entity_resolutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_resolutions_entity_id'))
    op.drop_table('entity_resolutions')
    with op.batch_alter_table('entity_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entity_versions_submission_id'))
    op.drop_table('entity_versions')
    with op.batch_alter_table('entities', schema=None) as batch_op:
        batch_op.drop_index('ix_entities_dataset_household')
        batch_op.drop_index('ix_entities_dataset_village')
    op.drop_table('entities')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_datasets_project_id'))
    op.drop_table('datasets')
