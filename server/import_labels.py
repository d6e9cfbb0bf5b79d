"""Label mapping at import, for every path that imports annotations (upload, preview, file job, server import).

The plan comes from the request (`label_plan`), over the project's standing plan (workflow `import_label_plan`,
e.g. {"labels": {"Disease": "PROBLEM"}}); what the modality does with it lives in the modality
(annotators/notes/label_mapping.py). Adding labels changes the project's label configuration, so it needs the
`project.edit` permission and happens in the same transaction as the items it was added for.
"""
from __future__ import annotations

import json

from server import audit
from server.errors import ApiError
from server.permissions import can

MAX_PLAN_BYTES = 64 * 1024


def requested_plan(request, body: dict | None = None) -> dict | None:
    """`label_plan` from a JSON body, a multipart form field or the query string (a JSON object)."""
    raw = (body or {}).get("label_plan") if isinstance(body, dict) else None
    if raw is None:
        raw = request.form.get("label_plan") if request.mimetype == "multipart/form-data" else None
    if raw is None:
        raw = request.args.get("label_plan")
    if raw is None:
        unknown = request.args.get("unknown_labels") or (request.form.get("unknown_labels")
                                                           if request.mimetype == "multipart/form-data" else None)
        return {"unknown": unknown} if unknown else None
    if isinstance(raw, str):
        if len(raw) > MAX_PLAN_BYTES:
            raise ApiError(413, f"label_plan is larger than {MAX_PLAN_BYTES // 1024} KiB")
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"label_plan is not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ApiError(400, "label_plan must be a JSON object {\"labels\": {name: target}, \"unknown\": ...}")
    return raw


def effective_plan(project, requested: dict | None) -> dict:
    standing = (project.workflow or {}).get("import_label_plan") or {}
    requested = requested or {}
    plan = {key: {**(standing.get(key) or {}), **(requested.get(key) or {})} for key in ("labels", "relations")
            if isinstance(standing.get(key) or {}, dict) and isinstance(requested.get(key) or {}, dict)}
    plan["unknown"] = requested.get("unknown") or standing.get("unknown") or "drop"
    return plan


def may_add(role: str | None) -> bool:
    return can(role, "project.edit")


def map_labels(project, modality, staged: list, plan: dict, adding_allowed: bool) -> tuple[dict | None, dict | None]:
    """Rewrite the staged items' imported payloads by the plan: (new label config or None, report or None).
    Payloads left empty are removed. Raises ValueError (the modality's PlanError) for a plan that cannot apply."""
    payloads = [payload for _, ingested in staged for payload in ingested.annotations]
    if not payloads:
        return None, None
    result = modality.map_import_labels(payloads, project.label_config, plan, adding_allowed)
    if result is None:
        return None, None
    new_config, report = result
    for _, ingested in staged:
        ingested.annotations = [p for p in ingested.annotations if any(v for v in p.values() if isinstance(v, list))]
    if new_config is not None:
        new_config = modality.validate_label_config(new_config)
    return new_config, report


def store_config(project, new_config: dict | None, report: dict | None, actor: str, session) -> None:
    """In the caller's write transaction: the extended label configuration, with an audit event naming what was added."""
    if new_config is None:
        return
    project.label_config = new_config
    audit.record(session, actor=actor, action="project.labels_added_by_import", object_type="project",
                 object_id=project.id, project_id=project.id, details={"added": (report or {}).get("added")})


def merge_reports(total: dict | None, report: dict | None) -> dict | None:
    """Reports of several batches as one (counts added up)."""
    if report is None:
        return total
    if total is None:
        return json.loads(json.dumps(report))
    for key in ("labels", "relations"):
        for name, count in report["unknown"][key].items():
            total["unknown"][key][name] = total["unknown"][key].get(name, 0) + count
        total["added"][key] += [n for n in report["added"][key] if n not in total["added"][key]]
    for name, count in report["mapped"].items():
        total["mapped"][name] = total["mapped"].get(name, 0) + count
    dropped = total["dropped"]
    dropped["spans"] += report["dropped"]["spans"]
    dropped["relations"] += report["dropped"]["relations"]
    for key in ("labels", "relation_types"):
        for name, count in report["dropped"][key].items():
            dropped[key][name] = dropped[key].get(name, 0) + count
    return total
