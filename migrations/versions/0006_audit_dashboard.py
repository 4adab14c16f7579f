"""audit viewer, dashboard, jobs page: filter indexes, append-only audit log, job owners

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-24 09:22:24.197794

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# Frozen copies: migrations never import app code.
NEW_PERMISSIONS = {
    'dashboard.view': 'See the admin dashboard: counts, charts and system health',
}
GRANTED_TO = {'dashboard.view': ['admin']}

# PostgreSQL refuses UPDATE and DELETE on audit_events. The retention purge alone may delete,
# by setting `sanctum.audit_purge` for its own transaction (sanctum.audit.retention). SQLite has
# no such guard: there `sanctum audit verify` is what shows a change.
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('sanctum.audit_purge', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
"""


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_action'))
        batch_op.drop_index(batch_op.f('ix_audit_events_actor_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_target'))
        batch_op.create_index('ix_audit_events_action_seq', ['action', 'seq'], unique=False, postgresql_ops={'action': 'varchar_pattern_ops'})
        batch_op.create_index('ix_audit_events_actor_seq', ['actor_id', 'seq'], unique=False)
        batch_op.create_index('ix_audit_events_ip_seq', ['ip', 'seq'], unique=False, postgresql_ops={'ip': 'varchar_pattern_ops'})
        batch_op.create_index('ix_audit_events_outcome_seq', ['outcome', 'seq'], unique=False)
        batch_op.create_index('ix_audit_events_target_seq', ['target_type', 'target_id', 'seq'], unique=False)

    with op.batch_alter_table('job_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_job_records_owner_id'), ['owner_id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)
        _trigram_index()
    seed_permissions()


def _trigram_index():
    """Free-text search over details: a trigram index when pg_trgm can be had, else a scan."""
    bind = op.get_bind()
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first()
    if available is None:
        return
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
    except sa.exc.DBAPIError:
        savepoint.rollback()  # not allowed for this role: searches still work, by scanning
        return
    savepoint.commit()
    op.execute('CREATE INDEX ix_audit_events_details_trgm ON audit_events USING gin ((details::text) gin_trgm_ops)')


def seed_permissions():
    permissions = sa.table('permissions', sa.column('id', sa.Integer), sa.column('name', sa.String),
                           sa.column('description', sa.String), sa.column('is_dynamic', sa.Boolean))
    roles = sa.table('roles', sa.column('id', sa.Integer), sa.column('name', sa.String))
    links = sa.table('role_permissions', sa.column('role_id', sa.Integer), sa.column('permission_id', sa.Integer))
    for name, description in NEW_PERMISSIONS.items():
        op.execute(permissions.insert().values(name=name, description=description, is_dynamic=False))
        op.execute(links.insert().from_select(
            ['role_id', 'permission_id'],
            sa.select(roles.c.id, permissions.c.id)
            .join(permissions, sa.true())  # every granted role × the one new permission
            .where(roles.c.name.in_(GRANTED_TO[name]), permissions.c.name == name),
        ))


def downgrade():
    permissions = sa.table('permissions', sa.column('name', sa.String))
    op.execute(permissions.delete().where(permissions.c.name.in_(list(NEW_PERMISSIONS))))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_audit_events_details_trgm')
        op.execute('DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events')
        op.execute('DROP FUNCTION IF EXISTS audit_events_append_only()')

    with op.batch_alter_table('job_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_records_owner_id'))
        batch_op.drop_column('owner_id')

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_target_seq')
        batch_op.drop_index('ix_audit_events_outcome_seq')
        batch_op.drop_index('ix_audit_events_ip_seq')
        batch_op.drop_index('ix_audit_events_actor_seq')
        batch_op.drop_index('ix_audit_events_action_seq')
        batch_op.create_index(batch_op.f('ix_audit_events_target'), ['target_type', 'target_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_action'), ['action'], unique=False)
