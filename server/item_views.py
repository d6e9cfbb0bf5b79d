"""The read-only view of a stored item that modalities receive (never an ORM object); one place builds it."""
from __future__ import annotations

from flask import current_app, has_app_context

from annotators.base import ItemView


def item_view(item) -> ItemView:
    path = None
    if item.storage_key and has_app_context() and "media" in current_app.extensions:
        path = str(current_app.extensions["media"].path(item.storage_key))
    return ItemView(id=item.id, kind=item.kind, text=item.text, meta=item.meta or {}, media_path=path)
