"""Pre-annotation jobs: models cached per worker process, progress in items or media seconds, cancellation inside
long items, and checkpoints, so a worker lost an hour into a 2-hour recording resumes from its last checkpoint.

Model drafts are keyed `pre:{item}:{preannotator}@{version}`: a redelivered job writes nothing twice, a checkpoint
writes the same row as the final result (status "partial" until the item is finished, then "draft").
"""
from __future__ import annotations

import inspect
import json
import threading
import time
from collections import OrderedDict

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from annotators.base import ITEM_FIELDS, registry
from server.extensions import db
from server.item_views import item_view
from server.jobs.handlers import BATCH, active_params, job_project, pick_device, preannotate_wants_gpu, resources
from server.jobs.kinds import JobCancelled, JobFailed, job_kind
from server.models import Annotation, Asset, Item, Job, PredictionCheckpoint, utcnow
from server.workflow_config import merged_workflow

MODEL_CACHE_SIZE = 4
_models: "OrderedDict[tuple, object]" = OrderedDict()  # per worker process: set-up pre-annotators by key
_models_lock = threading.Lock()


def _setup_cached(modality, annotator, device: str, label_config: dict, params: dict | None) -> tuple[object, bool]:
    """The set-up pre-annotator for this key, loading it only on the first job of this process that needs it."""
    key = (type(annotator), modality.name, annotator.name, annotator.version, device,
           json.dumps(label_config, sort_keys=True, default=str), json.dumps(params, sort_keys=True, default=str),
           _loaded_terminologies())
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key], True
    annotator.setup(device, label_config, params, resources())
    with _models_lock:
        _models[key] = annotator
        while len(_models) > MODEL_CACHE_SIZE:
            _models.popitem(last=False)
    return annotator, False


def _loaded_terminologies() -> tuple:
    """(name, build) of every loaded terminology: a pre-annotator set up before MONDO was loaded, or before
    ICD-10-CM was rebuilt, is set up again (pre-annotators use whichever of their bound terminologies are loaded)."""
    store = resources().get("ontologies")
    return store.build_ids() if store is not None else ()


def clear_model_cache() -> None:
    with _models_lock:
        _models.clear()


def _insert(rows: list[dict]) -> int:
    """Insert model drafts; an existing row under the same key is replaced only while it is a partial checkpoint."""
    if not rows:
        return 0
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    stmt = insert(Annotation).values(rows)
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["idempotency_key"], where=Annotation.status == "partial",
        set_={"payload": excluded.payload, "status": excluded.status, "score": excluded.score,
              "comment": excluded.comment, "updated_at": utcnow()}).returning(Annotation.id)
    return len(db.session.execute(stmt).all())  # rows inserted or completed (rowcount is -1 for batches)


def _allowed_field(name: str, value) -> bool:
    allowed = ITEM_FIELDS.get(name)
    return isinstance(value, allowed) if isinstance(allowed, type) else value in (allowed or ())


def _set_item_fields(item_id: int, fields: dict) -> None:
    values = {k: v for k, v in fields.items() if k != "meta"}
    if "meta" in fields:
        item = db.session.get(Item, item_id)
        values["meta"] = {**(item.meta or {}), **fields["meta"]}
    db.session.execute(update(Item).where(Item.id == item_id).values(**values))


class JobReport:
    """The `Report` a `predict(items, report)` receives (annotators/media.py)."""

    def __init__(self, ctx, project, modality, model_key: str, total_items: int):
        self.ctx, self.project, self.modality, self.model_key = ctx, project, modality, model_key
        self.total_items, self.items_done = max(1, total_items), 0
        self._last_write = self._last_cancel_check = 0.0
        self.checkpoints = 0

    def _row(self, item_id: int, payload: dict, status: str, score=None, comment=None) -> dict:
        return {"item_id": item_id, "project_id": self.project.id, "source": "model", "stage": "annotate",
                "status": status, "payload": payload, "score": score, "model_version": self.model_key,
                "version": 1, "idempotency_key": f"pre:{item_id}:{self.model_key}", "comment": comment}

    def progress(self, done: float, total: float | None = None, unit: str = "items") -> None:
        now = time.monotonic()
        if now - self._last_write < 0.5:  # a tight loop must not turn into a database write per frame
            self.check_cancelled()
            return
        self._last_write = now
        within = (done / total) if (unit != "items" and total) else 0.0
        overall = (self.items_done + min(1.0, within)) if unit != "items" else done
        detail = {"done": round(done, 1), "total": total, "unit": "media seconds" if unit == "seconds" else unit,
                  "items": self.items_done, "total_items": self.total_items}
        self.ctx.progress(overall, self.total_items, detail=detail)  # also notices cancellation

    def check_cancelled(self) -> None:
        now = time.monotonic()
        if now - self._last_cancel_check < 1.0:
            return
        self._last_cancel_check = now
        cancel = db.session.execute(select(Job.cancel_requested).where(Job.id == self.ctx.job.id)).scalar_one()
        db.session.commit()
        if cancel:
            raise JobCancelled()

    def checkpoint(self, item_id: int, payload: dict, state: dict) -> None:
        payload = self.modality.validate_payload(payload, self.project.label_config)
        _insert([self._row(item_id, payload, "partial", comment="partial: the model is still working on this item")])
        insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
        stmt = insert(PredictionCheckpoint).values(item_id=item_id, model_key=self.model_key, state=state)
        db.session.execute(stmt.on_conflict_do_update(index_elements=["item_id", "model_key"],
                                                      set_={"state": stmt.excluded.state, "updated_at": utcnow()}))
        db.session.commit()
        self.checkpoints += 1
        self.ctx.progress(self.items_done, self.total_items)  # renews the lease

    def resume(self, item_id: int):
        state = db.session.execute(select(PredictionCheckpoint.state).where(
            PredictionCheckpoint.item_id == item_id, PredictionCheckpoint.model_key == self.model_key)).scalar()
        payload = db.session.execute(select(Annotation.payload).where(
            Annotation.idempotency_key == f"pre:{item_id}:{self.model_key}", Annotation.status == "partial")).scalar()
        db.session.commit()
        return (payload, state) if state is not None and payload is not None else None


def _takes_report(annotator) -> bool:
    try:
        return len(inspect.signature(annotator.predict).parameters) >= 2
    except (TypeError, ValueError):
        return False


@job_kind("preannotate", wants_gpu=preannotate_wants_gpu, user_startable=True)
def preannotate(ctx) -> dict:
    project = job_project(ctx)
    modality = registry.get(project.modality)
    annotators = modality.preannotators(project.label_config)
    if not annotators:
        raise JobFailed(f"modality {modality.name!r} has no pre-annotator")
    device = pick_device()
    versions, loaded, reused = [], [], 0
    for annotator in annotators:
        version, params = active_params(project.id, annotator.name)
        if version:
            annotator.version = version
        db.session.commit()  # no read transaction stays open while a model loads
        ready, hit = _setup_cached(modality, annotator, device, project.label_config, params)
        reused += hit
        loaded.append(ready)
        versions.append(f"{annotator.name}@{annotator.version}")
    db.session.commit()  # setup may have read (learned aliases): end that before writing, or SQLite says "locked"
    ctx.job.model_version = ",".join(versions)
    db.session.commit()

    stmt = select(Item).where(Item.project_id == project.id, Item.status == "ready")
    selection = ctx.job.params.get("items")
    if selection:
        stmt = stmt.where(Item.id.in_(selection))
    count = select(func.count()).select_from(Item).where(Item.project_id == project.id, Item.status == "ready")
    total = db.session.execute(count.where(Item.id.in_(selection)) if selection else count).scalar_one()
    batch = max(1, min(int(getattr(a, "batch_size", BATCH) or BATCH) for a in loaded))
    reports = {f"{a.name}@{a.version}": JobReport(ctx, project, modality, f"{a.name}@{a.version}", total)
               for a in loaded}
    written = done = last_id = 0
    limit = int(merged_workflow(project.workflow, None)["max_suggestions_per_item"])
    limited: list[dict] = []
    while True:
        items = db.session.execute(stmt.where(Item.id > last_id).order_by(Item.id).limit(batch)).scalars().all()
        if not items:
            break
        last_id = items[-1].id
        assets: dict[int, list] = {}
        for asset in db.session.execute(select(Asset).where(Asset.item_id.in_([i.id for i in items]))).scalars():
            assets.setdefault(asset.item_id, []).append(asset)  # derived inputs (decoded PCM, frame index...)
        views = [item_view(i, local_media=True, assets=assets.get(i.id, [])) for i in items]
        db.session.commit()  # no transaction stays open while the models run
        rows, scores, updates = [], {}, {}
        for annotator in loaded:
            key = f"{annotator.name}@{annotator.version}"
            report = reports[key]
            report.items_done = done
            predictions = annotator.predict(views, report) if _takes_report(annotator) else annotator.predict(views)
            for pred in predictions:
                payload, dropped = modality.limit_suggestions(pred.payload, limit)
                payload = modality.validate_payload(payload, project.label_config)
                note = None
                if dropped:
                    limited.append({"item": pred.item_id, "dropped": dropped})
                    note = (f"The model proposed {dropped + limit:,} suggestions; the {limit:,} most confident are "
                            f"shown (per-item limit: workflow setting max_suggestions_per_item).")
                rows.append(report._row(pred.item_id, payload, "draft", pred.score, note))
                fields = {k: v for k, v in pred.item_fields.items() if _allowed_field(k, v)}
                if fields:
                    updates.setdefault(pred.item_id, {}).update(fields)
                if pred.score is not None:
                    scores[pred.item_id] = min(scores.get(pred.item_id, 1.0), pred.score)
        db.session.commit()  # models may read while predicting; a deferred read cannot upgrade to a write on SQLite
        written += _insert(rows)
        for item_id, score in scores.items():
            db.session.execute(update(Item).where(Item.id == item_id).values(priority=score))
        for item_id, fields in updates.items():
            _set_item_fields(item_id, fields)
        db.session.execute(delete(PredictionCheckpoint).where(
            PredictionCheckpoint.item_id.in_([v.id for v in views]), PredictionCheckpoint.model_key.in_(reports)))
        db.session.commit()
        done += len(items)
        ctx.progress(done, total, detail={"done": done, "total": total, "unit": "items"})
    return {"items": done, "annotations_written": written, "device": device, "model_versions": versions,
            "models_reused": reused, "checkpoints": sum(r.checkpoints for r in reports.values()),
            "limited": limited[:100], "items_limited": len(limited)}
