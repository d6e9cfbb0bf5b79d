"""What happens when an item's annotations are in: gold, auto-consensus, or routing to review/adjudication.

Driven only by the modality contract (`agree`, `merge`); no modality is named here.
"""
from __future__ import annotations

from itertools import combinations

from sqlalchemy import select

from annotators.base import registry
from server.extensions import db
from server.models import Annotation, Item
from server.workflow import submitted_count
from server.workflow_config import merged_workflow


def latest_human_versions(item_id: int, stage: str = "annotate") -> list[Annotation]:
    rows = db.session.execute(select(Annotation).where(
        Annotation.item_id == item_id, Annotation.stage == stage, Annotation.source == "human",
        Annotation.status.in_(("submitted", "accepted"))).order_by(Annotation.id)).scalars().all()
    latest: dict[int | None, Annotation] = {}
    for row in rows:
        latest[row.author_id] = row
    return list(latest.values())


def mean_agreement(modality, item_view, payloads: list[dict], label_config: dict) -> float:
    scores = [modality.agree(a, b, item_view, label_config).get("agreement", 0.0)
              for a, b in combinations(payloads, 2)]
    return min(scores) if scores else 1.0


def make_gold(item: Item, payload: dict, author_id: int | None, source: str, supersedes: int | None) -> Annotation:
    for old in db.session.execute(select(Annotation).where(
            Annotation.item_id == item.id, Annotation.stage == "gold", Annotation.status == "accepted")).scalars():
        old.status = "superseded"
    gold = Annotation(item_id=item.id, project_id=item.project_id, author_id=author_id, source=source,
                      stage="gold", status="accepted", payload=payload, supersedes_id=supersedes)
    db.session.add(gold)
    item.stage = "done"
    db.session.flush()
    return gold


def item_view(item: Item):
    from annotators.base import ItemView

    return ItemView(id=item.id, kind=item.kind, text=item.text, meta=item.meta or {})


def after_submission(project, item: Item, stage: str) -> None:
    if stage != "annotate" or item.stage != "annotate":
        return
    workflow = merged_workflow(project.workflow, None)
    k = int(workflow["annotators_per_item"])
    if submitted_count(item.id) < k:
        return
    versions = latest_human_versions(item.id)
    if not versions:
        return
    modality = registry.get(project.modality)
    payloads = [v.payload for v in versions]
    if len(versions) == 1:
        if workflow["peer_review"]:
            item.stage = "review"
        else:
            make_gold(item, payloads[0], versions[0].author_id, "human", versions[0].id)
        return
    agreement = mean_agreement(modality, item_view(item), payloads, project.label_config)
    item.meta = {**(item.meta or {}), "agreement": round(agreement, 4)}
    item.priority = agreement  # the review queue takes low agreement first
    if workflow["auto_consensus"] and agreement >= float(workflow["consensus_threshold"]):
        merged = modality.merge(payloads, item_view(item), project.label_config)
        make_gold(item, merged, None, "consensus", None)
        return
    rule = workflow["adjudication"]
    if rule == "always" or (rule == "below_threshold" and agreement < float(workflow["adjudication_threshold"])):
        item.stage = "adjudicate"
    elif workflow["peer_review"] or rule == "never":
        item.stage = "review"
    else:
        item.stage = "review"
    item.slots_taken = 0  # the next stage hands out its own slots
