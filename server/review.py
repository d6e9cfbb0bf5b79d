"""From k versions to gold: agreement when the k-th version arrives, auto-consensus, routing to review or
adjudication, reviewers' decisions. Driven only by the modality contract (`agree`, `merge`, `diff`)."""
from __future__ import annotations

from datetime import timedelta
from itertools import combinations

from sqlalchemy import and_, bindparam, func, or_, select, update

from annotators.base import registry
from server.db import insert_row, upsert, write_now
from server.errors import ApiError
from server.events import gold_created
from server.item_views import item_view
from server.extensions import db
from server.jobs.kinds import job_kind
from server.jobs.queue import start_job
from server.models import Annotation, Assignment, Item, ItemAgreement, Project, ReviewComment, User, utcnow
from server.workflow import submitted_count
from server.workflow_config import merged_workflow

REVIEW_STAGES = ("review", "adjudicate")




def validated_payload(project: Project, payload: dict) -> dict:
    """The modality's validation of a payload for this project, as a 400 naming the problem."""
    try:
        return registry.get(project.modality).validate_payload(payload, project.label_config)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


# Read on every submission: built once (server/statements.py). Each kind of row is defined once, for its own
# statement and for the one read that routing a submission needs (three statements before).
_HUMAN_VERSION = and_(Annotation.stage == bindparam("stage"), Annotation.source == "human",
                      Annotation.status.in_(("submitted", "accepted")))
_MODEL = Annotation.source == "model"
_CURRENT_GOLD = and_(Annotation.stage == "gold", Annotation.status == "accepted")
_HUMAN_VERSIONS = select(Annotation).where(Annotation.item_id == bindparam("item_id"), _HUMAN_VERSION
                                           ).order_by(Annotation.id)
_MODEL_DRAFT = select(Annotation).where(Annotation.item_id == bindparam("item_id"), _MODEL
                                        ).order_by(Annotation.id.desc()).limit(1)
_SUBMISSION_READS = select(Annotation).where(Annotation.item_id == bindparam("item_id"), or_(
    _HUMAN_VERSION, _MODEL, _CURRENT_GOLD)).order_by(Annotation.id)
_UNREAD = object()  # an argument not read yet (None is a real answer: no model draft)
_GOLD = select(Annotation).where(Annotation.item_id == bindparam("item_id"), _CURRENT_GOLD)


def latest_human_versions(item_id: int, stage: str = "annotate") -> list[Annotation]:
    return _latest_per_author(db.session.execute(_HUMAN_VERSIONS, {"item_id": item_id, "stage": stage}).scalars())


def _latest_per_author(rows) -> list[Annotation]:
    latest: dict[int | None, Annotation] = {}
    for row in rows:
        latest[row.author_id] = row
    return list(latest.values())


def _submission_reads(item_id: int, stage: str) -> tuple[list[Annotation], Annotation | None, list[Annotation]]:
    """latest_human_versions, latest_model_draft and the accepted gold of an item, from one statement."""
    rows = db.session.execute(_SUBMISSION_READS, {"item_id": item_id, "stage": stage}).scalars().all()
    humans = [r for r in rows if r.source == "human" and r.stage == stage and r.status in ("submitted", "accepted")]
    models = [r for r in rows if r.source == "model"]
    gold = [r for r in rows if r.stage == "gold" and r.status == "accepted"]
    return _latest_per_author(humans), (models[-1] if models else None), gold


def latest_model_draft(item_id: int) -> Annotation | None:
    return db.session.execute(_MODEL_DRAFT, {"item_id": item_id}).scalar_one_or_none()


def make_gold(project: Project, item: Item, payload: dict, author_id: int | None, source: str,
              supersedes: int | None, current_gold=_UNREAD) -> Annotation:
    if current_gold is _UNREAD:
        current_gold = db.session.execute(_GOLD, {"item_id": item.id}).scalars()
    for old in current_gold:
        old.status = "superseded"
    # A plain INSERT (db.insert_row); the item's change is written by the caller (after_submission: write_now).
    gold = insert_row(db.session, Annotation, {
        "item_id": item.id, "project_id": item.project_id, "author_id": author_id, "source": source, "stage": "gold",
        "status": "accepted", "payload": payload, "supersedes_id": supersedes})
    item.stage = "done"

    gold_created.send(project, item=item, payload=payload)
    return gold


# Above this much work (characters of text + annotation units over all versions) agreement and routing leave the
# request for a queued job: the submit returns at once and the item shows as "routing" until the job is done.
INLINE_WORK_LIMIT = 60_000


def work_size(item: Item, versions: list[Annotation]) -> int:
    units = sum(len(v) for ann in versions for v in (ann.payload or {}).values() if isinstance(v, list))
    return len(item.text or "") + 20 * units


def assess(project: Project, item: Item, versions: list[Annotation], draft=_UNREAD) -> dict:
    """Pairwise agreement of the versions, per layer the modality declares, with the model's draft, the
    conflicts a majority merge cannot resolve, and the merge itself. Reads only: a worker computes this before
    it takes SQLite's write lock."""
    modality = registry.get(project.modality)
    view = item_view(item)
    names = dict(db.session.execute(select(User.id, User.username).where(
        User.id.in_([v.author_id for v in versions if v.author_id]))).all()) if len(versions) > 1 else {}
    pairs = []
    for a, b in combinations(versions, 2):
        metrics = modality.agree(a.payload, b.payload, view, project.label_config)
        pairs.append({"a": names.get(a.author_id, "?"), "b": names.get(b.author_id, "?"), "metrics": metrics})
    agreement = min((p["metrics"].get("agreement", 0.0) for p in pairs), default=1.0)
    layers = {layer: min((float(p["metrics"].get(key, 0.0)) for p in pairs), default=1.0)
              for layer, key in modality.consensus_layers.items()}
    payloads = [v.payload for v in versions]
    conflicts = modality.merge_conflicts(payloads, view, project.label_config) if len(versions) > 1 else []
    draft = latest_model_draft(item.id) if draft is _UNREAD else draft
    model_agreement = None
    if draft is not None and versions:
        model_agreement = min(modality.agree(v.payload, draft.payload, view, project.label_config)
                              .get("agreement", 0.0) for v in versions)
    reasons = []
    if pairs and agreement < 1.0:
        reasons.append(f"annotators agree {agreement:.0%}")
    weak = [f"{layer} {value:.0%}" for layer, value in layers.items() if pairs and value < 1.0]
    if weak and len(layers) > 1:
        reasons.append("layers below full agreement: " + ", ".join(weak))
    if conflicts:
        reasons.append(f"{len(conflicts)} tie(s) for a person to resolve")
    if model_agreement is not None and model_agreement < 1.0:
        reasons.append(f"humans and model ({draft.model_version}) agree {model_agreement:.0%}")
    merged = modality.merge(payloads, view, project.label_config) if len(versions) > 1 and not conflicts else None
    return {"pairs": pairs, "agreement": agreement, "layers": layers, "conflicts": len(conflicts),
            "model_agreement": model_agreement, "reason": ("; ".join(reasons) or "full agreement")[:300],
            "merged": merged, "versions": sorted((v.id, v.version) for v in versions)}


def measure(project: Project, item: Item, assessment: dict) -> None:
    """Store an assessment once per item (incremental: dashboards aggregate these rows); one upsert."""
    a = assessment
    upsert(db.session, ItemAgreement, {
        "project_id": project.id, "item_id": item.id, "agreement": a["agreement"],
        "model_agreement": a["model_agreement"], "pairs": a["pairs"], "layers": a["layers"],
        "conflicts": a["conflicts"], "reason": a["reason"], "created_at": utcnow()}, ["item_id"])
    # The review queue takes the riskiest items first: disagreement between people, or with the model.
    model = a["model_agreement"] if a["model_agreement"] is not None else 1.0
    item.priority = min(a["agreement"], *a["layers"].values(), model)


def layer_threshold(workflow: dict, layer: str, key: str = "consensus") -> float:
    per_layer = workflow.get(f"{key}_layer_thresholds") or {}
    return float(per_layer.get(layer, workflow[f"{key}_threshold"]))


def after_submission(project: Project, item: Item, stage: str) -> bool:
    """Called when a version is submitted. Returns True when the item needs the `route` job (too much work for a
    request): the item is then at stage "routing" and the caller starts the job after committing."""
    if stage != "annotate" or item.stage != "annotate":
        return False
    workflow = merged_workflow(project.workflow, None)
    k = int(workflow["annotators_per_item"])
    # With k = 1 the count is the caller's own submission (mark_submitted closed their assignment just before).
    if k > 1 and submitted_count(item.id) < k:
        return False
    versions, draft, gold = _submission_reads(item.id, "annotate")
    if not versions:
        return False
    item.slots_taken = 0  # the next stage hands out its own slots
    if work_size(item, versions) > INLINE_WORK_LIMIT:
        item.stage = "routing"
        return True
    # The reads of routing depend on nothing pending here: the item's changes (slots, priority, stage) are written
    # once, after routing (write_now: one UPDATE), instead of once before each read.
    with db.session.no_autoflush:
        route(project, item, versions, draft=draft, current_gold=gold)
    write_now(db.session, item, ("stage", "slots_taken", "priority"))
    return False


def route(project: Project, item: Item, versions: list[Annotation], assessment: dict | None = None,
          draft=_UNREAD, current_gold=_UNREAD) -> str:
    """k versions are in: measure them, then gold by honest consensus, or review, or adjudication. (`draft` and
    `current_gold`: the model draft and gold when the caller read them already.)"""
    workflow = merged_workflow(project.workflow, None)
    assessment = assessment or assess(project, item, versions, draft)
    measure(project, item, assessment)
    if len(versions) == 1:
        if workflow["peer_review"]:
            item.stage = "review"
        else:
            make_gold(project, item, versions[0].payload, versions[0].author_id, "human", versions[0].id,
                      current_gold)
        return item.stage
    layers = assessment["layers"] or {}
    agreed = all(value >= layer_threshold(workflow, layer) for layer, value in layers.items())
    merged = assessment.get("merged")
    if workflow["auto_consensus"] and agreed and not assessment["conflicts"] and not workflow["peer_review"]:
        if merged is None:
            modality = registry.get(project.modality)
            merged = modality.merge([v.payload for v in versions], item_view(item), project.label_config)
        make_gold(project, item, merged, None, "consensus", None, current_gold)
        return item.stage
    rule = workflow["adjudication"]
    below = any(value < layer_threshold(workflow, layer, "adjudication") for layer, value in layers.items())
    if rule == "always" or (rule == "below_threshold" and below):
        item.stage = "adjudicate"
    else:
        item.stage = "review"
    return item.stage


def start_routing(project: Project, item: Item, actor: str, user_id: int | None) -> None:
    count = db.session.execute(select(func.count()).select_from(Annotation).where(
        Annotation.item_id == item.id, Annotation.stage == "annotate")).scalar_one()
    start_job(project, "route", {"item": item.id, "versions": count}, actor, None, user_id)


@job_kind("route")
def route_job(ctx) -> dict:
    """The `route` job: agreement, consensus and routing of one large item, outside any web request."""
    from server.db import immediate_writes

    item_id = ctx.job.params["item"]
    item = db.session.get(Item, item_id)
    if item is None or item.stage != "routing":
        return {"item": item_id, "skipped": "not awaiting routing"}
    project = db.session.get(Project, item.project_id)
    versions = latest_human_versions(item.id)
    assessment = assess(project, item, versions) if versions else None
    db.session.commit()  # the seconds of computing above held no lock; the writes below take it briefly
    with immediate_writes():
        db.session.expire_all()  # re-read inside the lock, not from the identity map
        item = db.session.get(Item, item_id)
        versions = latest_human_versions(item_id)
        if item is None or item.stage != "routing":
            db.session.rollback()
            return {"item": item_id, "skipped": "not awaiting routing"}
        if assessment is None or assessment["versions"] != sorted((v.id, v.version) for v in versions):
            assessment = None  # a version changed meanwhile: measure again, inside the lock
        stage = route(project, item, versions, assessment) if versions else "annotate"
        item.stage = stage
        db.session.commit()
    return {"item": item_id, "stage": stage}


def reopen_for_review(project: Project, item: Item, annotation: Annotation) -> None:
    """A version changed after the item became gold: the change is a new gold candidate, reviewed like any
    other (gold stays as it was until a reviewer decides)."""
    item.stage = "review"
    item.priority = 0.0
    row = db.session.execute(select(ItemAgreement).where(ItemAgreement.item_id == item.id)).scalar_one_or_none()
    reason = f"version {annotation.version} edited after gold"
    if row is None:
        db.session.add(ItemAgreement(project_id=project.id, item_id=item.id, agreement=0.0, pairs=[],
                                     reason=reason, layers={}, conflicts=0))
    else:
        row.reason = reason[:300]


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


def curated_payload(project: Project, item: Item, versions: list[Annotation], choices: dict) -> dict:
    """The payload a reviewer's curation choices make; every tied unit must have been chosen by a person."""
    if not versions:
        raise ApiError(409, "nothing to merge")
    modality = registry.get(project.modality)
    payloads, view = [v.payload for v in versions], item_view(item)
    units = modality.curation_units(payloads, view, project.label_config)
    open_units = [u["id"] for u in units if u["default"] is None and u["id"] not in choices]
    if open_units:
        raise ApiError(400, f"{len(open_units)} unit(s) are tied between versions; choose an option for each "
                            f"(first: {', '.join(open_units[:5])})")
    try:
        merged = modality.curate(payloads, choices, view, project.label_config)
        return modality.validate_payload(merged, project.label_config)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def decide(project: Project, item: Item, reviewer: User, action: str, annotation_id: int | None,
           payload: dict | None, comment: str | None, choices: dict | None = None) -> dict:
    """accept (one version) · edit (the reviewer's payload) · merge (curation: the reviewer's choice per unit,
    the majority where they made none; ties must be chosen) · send_back (to its author, with a comment).
    Returns what happened, for the audit record and the response."""
    if item.stage not in REVIEW_STAGES:
        raise ApiError(409, f"item {item.id} is not awaiting review (stage: {item.stage})")
    stage = item.stage
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
        chosen = curated_payload(project, item, versions, choices or {})
        author, supersedes = reviewer.id, None
    elif action == "edit":
        if payload is None:
            raise ApiError(400, "edit needs a payload")
        chosen = validated_payload(project, payload)
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
