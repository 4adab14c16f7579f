"""user search and sort indexes

Substring search over the users list must not scan every row, and neither must
sorting by last sign-in. See sanctum.users.listing.SEARCH_TEXT: the expression
indexed here must stay identical to the one queried.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

SEARCH_EXPRESSION = "lower(username) || ' ' || email || ' ' || coalesce(lower(display_name), '')"


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX ix_users_search_trgm ON users USING gin (({SEARCH_EXPRESSION}) gin_trgm_ops)")
        op.execute("CREATE INDEX ix_users_last_login_sort ON users (last_login DESC NULLS LAST, id DESC)")
    else:
        # SQLite sorts NULL lowest, so DESC already puts never-signed-in users last.
        op.execute("CREATE INDEX ix_users_last_login_sort ON users (last_login, id)")
        op.execute("CREATE VIRTUAL TABLE users_search USING fts5(body, tokenize='trigram')")
        op.execute(f"INSERT INTO users_search (rowid, body) SELECT id, {SEARCH_EXPRESSION} FROM users")
        op.execute(f"""CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
            INSERT INTO users_search (rowid, body) VALUES (new.id, {SEARCH_EXPRESSION.replace('username', 'new.username').replace('email', 'new.email').replace('display_name', 'new.display_name')});
        END""")
        op.execute(f"""CREATE TRIGGER users_search_update AFTER UPDATE OF username, email, display_name ON users BEGIN
            UPDATE users_search SET body = {SEARCH_EXPRESSION.replace('username', 'new.username').replace('email', 'new.email').replace('display_name', 'new.display_name')} WHERE rowid = new.id;
        END""")
        op.execute("""CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
            DELETE FROM users_search WHERE rowid = old.id;
        END""")


def downgrade():
    op.execute("DROP INDEX IF EXISTS ix_users_last_login_sort")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_users_search_trgm")
    else:
        for trigger in ("users_search_insert", "users_search_update", "users_search_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS users_search")
