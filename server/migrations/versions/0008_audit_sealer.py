"""audit sealer: rows are appended unsealed (own id, row MAC) and chained later by the sealer

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 05:10:00

Existing rows keep their chain: each gets id = seq, so insert order and chain order agree for them, and no MAC
(they verify as before). The append-only triggers are replaced by ones that allow exactly one UPDATE per row: the
sealer setting seq, prev_hash and hash from NULL, nothing else changed.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
CONTENT = ("id", "time", "actor", "action", "object_type", "object_id", "project_id", "outcome", "details",
           "nonce", "mac")
OLD_COLUMNS = "seq, prev_hash, hash, time, actor, action, object_type, object_id, project_id, outcome, details"

# Frozen copies of server/models/audit.py's DDL as of this revision.
SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events WHEN "
    "OLD.seq IS NOT NULL OR OLD.prev_hash IS NOT NULL OR OLD.hash IS NOT NULL "
    "OR NEW.seq IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL OR "
    + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in CONTENT)
    + " BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
]
POSTGRES_FUNCTION = (
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL "
    "AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL AND "
    "(" + ", ".join(f"NEW.{c}" for c in CONTENT) + ") IS NOT DISTINCT FROM ("
    + ", ".join(f"OLD.{c}" for c in CONTENT) + ") THEN RETURN NEW; END IF; "
    "RAISE EXCEPTION 'audit_events is append-only'; END $$"
)


def _new_table(name: str) -> None:
    op.create_table(name,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=True),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=120), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('details', JSON, nullable=False),
    sa.Column('nonce', sa.String(length=16), nullable=True),
    sa.Column('mac', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash'),
    sa.UniqueConstraint('mac'),
    sa.UniqueConstraint('seq')
    )


def _indexes() -> None:
    op.create_index('ix_audit_login', 'audit_events', ['action', 'object_id', 'time'], unique=False)
    op.create_index('ix_audit_project', 'audit_events', ['project_id', 'id'], unique=False)


def _upgrade_sqlite() -> None:
    # SQLite cannot change a primary key in place: copy into the new table (the old triggers go with the old one).
    _new_table('audit_events_new')
    op.execute(f"INSERT INTO audit_events_new (id, {OLD_COLUMNS}) SELECT seq, {OLD_COLUMNS} FROM audit_events "
               "ORDER BY seq")
    op.drop_table('audit_events')
    op.rename_table('audit_events_new', 'audit_events')
    _indexes()
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def _upgrade_postgresql() -> None:
    op.execute("DROP TRIGGER audit_events_no_update ON audit_events")  # the id back-fill below is an UPDATE
    op.add_column('audit_events', sa.Column('id', sa.Integer(), nullable=True))
    op.add_column('audit_events', sa.Column('nonce', sa.String(length=16), nullable=True))
    op.add_column('audit_events', sa.Column('mac', sa.String(length=64), nullable=True))
    op.execute("UPDATE audit_events SET id = seq")
    op.execute("CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id")
    op.execute("SELECT setval('audit_events_id_seq', COALESCE((SELECT max(id) FROM audit_events), 0) + 1, false)")
    op.execute("ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq')")
    op.alter_column('audit_events', 'id', nullable=False)
    op.drop_index('ix_audit_project', table_name='audit_events')
    op.drop_constraint('audit_events_pkey', 'audit_events', type_='primary')
    op.create_primary_key('audit_events_pkey', 'audit_events', ['id'])
    for column in ('seq', 'prev_hash', 'hash'):
        op.alter_column('audit_events', column, nullable=True)
    op.create_unique_constraint('audit_events_seq_key', 'audit_events', ['seq'])
    op.create_unique_constraint('audit_events_mac_key', 'audit_events', ['mac'])
    op.create_index('ix_audit_project', 'audit_events', ['project_id', 'id'], unique=False)
    op.execute(POSTGRES_FUNCTION)
    op.execute("CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events "
               "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()")
    # The app role (server/db_roles.py) may set the chain fields, and only those (the trigger allows it once).
    bind = op.get_bind()
    grantees = bind.execute(sa.text(
        "SELECT DISTINCT grantee FROM information_schema.role_table_grants WHERE table_name = 'audit_events' "
        "AND privilege_type = 'INSERT' AND grantee <> current_user AND grantee <> 'PUBLIC'")).scalars().all()
    for role in grantees:
        quoted = '"' + role.replace('"', '""') + '"'
        op.execute(f"GRANT UPDATE (seq, prev_hash, hash) ON audit_events TO {quoted}")
        op.execute(f"GRANT USAGE, SELECT ON SEQUENCE audit_events_id_seq TO {quoted}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()


def downgrade() -> None:
    # Rows sealed since this revision are chained over their row MAC, which the previous code cannot verify, and
    # unsealed rows have no place in the old table: going back means restoring a backup taken before upgrading.
    raise NotImplementedError("0008 (audit sealer) cannot be downgraded; restore the pre-upgrade backup")
