"""The read-only view of a stored item that modalities receive (never an ORM object); one place builds it."""
from __future__ import annotations

from flask import current_app, has_app_context

from annotators.base import ItemView
from annotators.media import MediaInfo


def item_view(item, local_media: bool = False, assets: list | None = None) -> ItemView:
    """`local_media`: make sure media and assets are local files (on S3 storage this fetches them into the
    worker's cache); without it, paths are filled only where that costs nothing (filesystem storage)."""
    view = ItemView(id=item.id, kind=item.kind, text=item.text, meta=item.meta or {}, name=item.name or "",
                    media=MediaInfo.from_dict(getattr(item, "media_info", None)))
    if not has_app_context() or "media" not in current_app.extensions:
        return view
    store = current_app.extensions["media"]
    cheap = store.kind == "filesystem"
    if item.storage_key and (cheap or local_media):
        view.media_path = str(store.local_path(item.storage_key))
    elif getattr(item, "source_path", None):
        view.media_path = item.source_path
    for asset in assets or ():
        if cheap or local_media:
            view.assets[asset.name] = str(store.local_path(asset.storage_key))
    return view
