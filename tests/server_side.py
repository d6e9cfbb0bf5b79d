"""Writing rows a test needs straight into a live server's database (what a worker would have written)."""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def store_model_draft(live, project_id: int, item_id: int, spans: list[dict], note: str | None = None) -> None:
    """A model draft as the pre-annotation job stores it, without running the models."""
    from sqlalchemy import create_engine, insert

    from server.models import Annotation

    url = live.env.get("CLINLABEL_DATABASE_URL") or f"sqlite:///{live.env['CLINLABEL_DATA_DIR']}/clinlabel.sqlite"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(Annotation).values(
                item_id=item_id, project_id=project_id, source="model", stage="annotate", status="draft",
                payload={"spans": spans, "relations": []}, model_version="clinical@test", version=1,
                comment=note))
    finally:
        engine.dispose()


if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
