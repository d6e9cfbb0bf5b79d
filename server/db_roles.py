"""A least-privilege PostgreSQL role for the app (migrations run under the owner role, the app under this one).

The app role reads and writes the application tables but only SELECT and INSERT on audit_events, plus UPDATE of the
three chain columns the sealer sets (the table's trigger allows that once per row, on an unsealed row); it owns
nothing, so it cannot ALTER, DISABLE TRIGGER, TRUNCATE or DROP the audit table (PostgreSQL allows those to the owner
only).
"""
from __future__ import annotations

from sqlalchemy import text

AUDIT_TABLE = "audit_events"


def grant_app_role(conn, role: str) -> None:
    """Run as the owner after migrations (`flask db-grant-app-role ROLE`); safe to repeat."""
    quoted = '"' + role.replace('"', '""') + '"'
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    statements = [
        f'GRANT CONNECT ON DATABASE "{database}" TO {quoted}',
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {AUDIT_TABLE} FROM {quoted}",
        f"GRANT UPDATE (seq, prev_hash, hash) ON {AUDIT_TABLE} TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        # tables later migrations create: the same rights (the audit table is never re-created)
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {quoted}",
    ]
    for statement in statements:
        conn.execute(text(statement))
