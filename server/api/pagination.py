"""Keyset pagination: `?limit=&cursor=`, ordered by id; the cursor is opaque to clients. Never OFFSET."""
from __future__ import annotations

import base64

from sqlalchemy import Select

from server.errors import ApiError


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"k{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        if len(cursor) > 40:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("k"):
            raise ValueError
        value = int(raw[1:])
        if not 0 <= value < 2**31:
            raise ValueError
        return value
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "cursor is not valid; use the next_cursor of a previous page") from None


def page(session, stmt: Select, id_column, limit: int, cursor: str | None, descending: bool = False):
    """Run `stmt` from the cursor on; returns (rows, next_cursor or None)."""
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(id_column < after if descending else id_column > after)
    stmt = stmt.order_by(id_column.desc() if descending else id_column.asc()).limit(limit + 1)
    rows = session.execute(stmt).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    key = id_column.key
    return rows, (encode_cursor(getattr(rows[-1], key)) if more and rows else None)


def page_of_rows(session, statement_for, params: dict, limit: int, cursor: str | None):
    """page() for a column select built once (server/statements.py): `statement_for(after)` gives it, ordered by
    `id` ascending, with the bind parameters `after` (only when `after` is true) and `limit`; rows, not objects."""
    after = decode_cursor(cursor)
    rows = session.execute(statement_for(after is not None), {**params, "after": after, "limit": limit + 1}).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more and rows else None)
