"""From k versions to gold: agreement when the k-th version arrives, auto-consensus, routing to review or
adjudication, reviewers' decisions. Driven only by the modality contract (`agree`, `merge`, `diff`)."""
from __future__ import annotations

from datetime import timedelta
from itertools import combinations

from sqlalchemy import select, update

from annotators.base import ItemView, registry
from server.errors import ApiError
from server.extensions import db
from server.models import Annotation, Assignment, Item, ItemAgreement, Project, ReviewComment, User, utcnow
from server.workflow import submitted_count
from server.workflow_config import merged_workflow

REVIEW_STAGES = ("review", "adjudicate")


def item_view(item: Item) -> ItemView:
    return ItemView(id=item.id, kind=item.kind, text=item.text, meta=item.meta or {})


def latest_human_versions(item_id: int, stage: str = "annotate") -> list[Annotation]:
    rows = db.session.execute(select(Annotation).where(
        Annotation.item_id == item_id, Annotation.stage == stage, Annotation.source == "human",
        Annotation.status.in_(("submitted", "accepted"))).order_by(Annotation.id)).scalars().all()
    latest: dict[int | None, Annotation] = {}
    for row in rows:
        latest[row.author_id] = row
    return list(latest.values())


def latest_model_draft(item_id: int) -> Annotation | None:
    return db.session.execute(select(Annotation).where(
        Annotation.item_id == item_id, Annotation.source == "model").order_by(Annotation.id.desc()).limit(1)
    ).scalar_one_or_none()


def make_gold(project: Project, item: Item, payload: dict, author_id: int | None, source: str,
              supersedes: int | None) -> Annotation:
    for old in db.session.execute(select(Annotation).where(
            Annotation.item_id == item.id, Annotation.stage == "gold", Annotation.status == "accepted")).scalars():
        old.status = "superseded"
    gold = Annotation(item_id=item.id, project_id=item.project_id, author_id=author_id, source=source,
                      stage="gold", status="accepted", payload=payload, supersedes_id=supersedes)
    db.session.add(gold)
    item.stage = "done"
    db.session.flush()
    from server.ontology_service import learn_aliases

    learn_aliases(project, registry.get(project.modality), payload, item_view(item))
    return gold


def measure(project: Project, item: Item, versions: list[Annotation]) -> ItemAgreement:
    """Pairwise agreement of the versions and with the model's draft; stored once per item (incremental)."""
    modality = registry.get(project.modality)
    view = item_view(item)
    names = dict(db.session.execute(select(User.id, User.username).where(
        User.id.in_([v.author_id for v in versions if v.author_id]))).all())
    pairs = []
    for a, b in combinations(versions, 2):
        metrics = modality.agree(a.payload, b.payload, view, project.label_config)
        pairs.append({"a": names.get(a.author_id, "?"), "b": names.get(b.author_id, "?"), "metrics": metrics})
    agreement = min((p["metrics"].get("agreement", 0.0) for p in pairs), default=1.0)
    draft = latest_model_draft(item.id)
    model_agreement = None
    if draft is not None and versions:
        model_agreement = min(modality.agree(v.payload, draft.payload, view, project.label_config)
                              .get("agreement", 0.0) for v in versions)
    reasons = []
    if pairs and agreement < 1.0:
        reasons.append(f"annotators agree {agreement:.0%}")
    if model_agreement is not None and model_agreement < 1.0:
        reasons.append(f"humans and model ({draft.model_version}) agree {model_agreement:.0%}")
    row = db.session.execute(select(ItemAgreement).where(ItemAgreement.item_id == item.id)).scalar_one_or_none()
    if row is None:
        row = ItemAgreement(project_id=project.id, item_id=item.id, agreement=agreement, pairs=pairs)
        db.session.add(row)
    row.agreement, row.model_agreement, row.pairs = agreement, model_agreement, pairs
    row.reason, row.created_at = "; ".join(reasons) or "full agreement", utcnow()
    # The review queue takes the riskiest items first: disagreement between people, or with the model.
    item.priority = min(agreement, model_agreement if model_agreement is not None else 1.0)
    return row


def after_submission(project: Project, item: Item, stage: str) -> None:
    if stage != "annotate" or item.stage != "annotate":
        return
    workflow = merged_workflow(project.workflow, None)
    k = int(workflow["annotators_per_item"])
    if submitted_count(item.id) < k:
        return
    versions = latest_human_versions(item.id)
    if not versions:
        return
    measured = measure(project, item, versions)
    modality = registry.get(project.modality)
    item.slots_taken = 0  # the next stage hands out its own slots
    if len(versions) == 1:
        if workflow["peer_review"]:
            item.stage = "review"
        else:
            make_gold(project, item, versions[0].payload, versions[0].author_id, "human", versions[0].id)
        return
    if workflow["auto_consensus"] and measured.agreement >= float(workflow["consensus_threshold"]):
        merged = modality.merge([v.payload for v in versions], item_view(item), project.label_config)
        make_gold(project, item, merged, None, "consensus", None)
        return
    rule = workflow["adjudication"]
    below = measured.agreement < float(workflow["adjudication_threshold"])
    if rule == "always" or (rule == "below_threshold" and below):
        item.stage = "adjudicate"
    else:
        item.stage = "review"


def _claim_decision(item: Item, expected_stage: str, new_stage: str) -> None:
    """One decision per item wins: the stage moves only from the stage the reviewer saw."""
    moved = db.session.execute(update(Item).where(Item.id == item.id, Item.stage == expected_stage)
                               .values(stage=new_stage))
    if moved.rowcount != 1:
        db.session.rollback()
        current = db.session.get(Item, item.id)
        raise ApiError(409, f"item {item.id} is no longer awaiting {expected_stage} (now: {current.stage}); "
                            "another decision was made first")
    db.session.refresh(item)


def decide(project: Project, item: Item, reviewer: User, action: str, annotation_id: int | None,
           payload: dict | None, comment: str | None) -> dict:
    """accept (one version) · edit (the reviewer's payload) · merge (the modality's merge) · send_back (to its
    author, with a comment). Returns what happened, for the audit record and the response."""
    if item.stage not in REVIEW_STAGES:
        raise ApiError(409, f"item {item.id} is not awaiting review (stage: {item.stage})")
    stage = item.stage
    modality = registry.get(project.modality)
    versions = latest_human_versions(item.id)
    by_id = {v.id: v for v in versions}
    if action in ("accept", "send_back") and annotation_id not in by_id:
        raise ApiError(400, f"annotation_id must be one of this item's versions: {sorted(by_id)}")
    if action == "send_back":
        if not comment:
            raise ApiError(400, "send_back needs a comment for the annotator")
        target = by_id[annotation_id]
        _claim_decision(item, stage, "annotate")
        target.status = "rejected"
        db.session.execute(update(Assignment).where(
            Assignment.item_id == item.id, Assignment.user_id == target.author_id, Assignment.stage == "annotate")
            .values(status="active", lease_expires_at=utcnow() + timedelta(days=7),
                    finished_at=None))
        item.slots_taken = int(merged_workflow(project.workflow, None)["annotators_per_item"])
        db.session.add(ReviewComment(project_id=project.id, item_id=item.id, from_user_id=reviewer.id,
                                     to_user_id=target.author_id, kind="send_back", text=comment))
        return {"action": action, "stage": "annotate", "annotation": target.id}
    if action == "accept":
        chosen, author, supersedes = by_id[annotation_id].payload, by_id[annotation_id].author_id, annotation_id
    elif action == "merge":
        if not versions:
            raise ApiError(409, "nothing to merge")
        chosen = modality.merge([v.payload for v in versions], item_view(item), project.label_config)
        author, supersedes = reviewer.id, None
    elif action == "edit":
        if payload is None:
            raise ApiError(400, "edit needs a payload")
        try:
            chosen = modality.validate_payload(payload, project.label_config)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        author, supersedes = reviewer.id, None
    else:
        raise ApiError(400, f"unknown action {action!r}; use accept, edit, merge or send_back")
    _claim_decision(item, stage, "done")
    gold = make_gold(project, item, chosen, author, "review", supersedes)
    for version in versions:
        version.status = "accepted" if version.id == supersedes else version.status
    if comment:
        db.session.add(ReviewComment(project_id=project.id, item_id=item.id, from_user_id=reviewer.id,
                                     to_user_id=None, kind="decision", text=comment))
    return {"action": action, "stage": "done", "gold": gold.id}
