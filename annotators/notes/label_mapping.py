"""Labels of imported annotations that the project does not have: counted, then mapped, added or dropped.

A team migrating from brat, INCEpTION or doccano arrives with its own label names (`Disease`, `Chemical`,
`Gene_expression`). Refusing the upload sends it back to the peer; silently dropping loses its work. So an import
first reports what is unknown (with counts), and a plan says per name what happens:

    {"labels": {"Disease": "PROBLEM", "Species": null, "Gene": "+"},
     "relations": {"Theme": "+"}, "unknown": "drop" | "add" | "reject"}

a project label name maps, `null` (or "") drops, "+" adds the name to the project's label configuration; names the
plan does not list follow `unknown`. Relation types work the same way; a relation whose type the project knows but
whose end labels its rule does not allow is dropped, or its rule widened when adding is allowed.
"""
from __future__ import annotations

import copy
import re
from collections import Counter

from .schema import entity_label_names

ADD = "+"
POLICIES = ("drop", "add", "reject")
_LABEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
_PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#469990", "#9a6324",
            "#800000", "#808000", "#000075", "#a9a9a9", "#bfef45", "#fabed4", "#ffd8b1", "#dcbeff", "#aaffc3")
MAX_ENTITY_LABELS = 200


class PlanError(ValueError):
    """The plan itself is wrong (maps to a label the project does not have, adds without permission)."""


def label_name(name: str) -> str:
    """A name the label configuration accepts (letters first; letters, digits, _ and - after; ≤ 64)."""
    if _LABEL_NAME.match(name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_\-]+", "_", name).strip("_") or "label"
    if not cleaned[0].isalpha():
        cleaned = f"L_{cleaned}"
    return cleaned[:64]


def usage(payloads) -> dict[str, Counter]:
    """Span labels per layer and relation types, counted over the payloads."""
    counts = {"entity": Counter(), "phi": Counter(), "relation": Counter()}
    for payload in payloads:
        for span in payload.get("spans", ()):
            counts[span.get("layer", "entity")][span["label"]] += 1
        for relation in payload.get("relations", ()):
            counts["relation"][relation["type"]] += 1
    return counts


def unknown(payloads, config: dict) -> dict[str, dict[str, int]]:
    """{"labels": {name: count}, "relations": {type: count}}: what the project's configuration lacks."""
    counts = usage(payloads)
    entity, phi = set(entity_label_names(config)), set(config.get("phi_labels", ()))
    relation_types = {r["name"] for r in config.get("relation_types", ())}
    labels = Counter({k: v for k, v in counts["entity"].items() if k not in entity})
    labels.update({k: v for k, v in counts["phi"].items() if k not in phi})
    return {"labels": dict(labels.most_common()),
            "relations": {k: v for k, v in counts["relation"].most_common() if k not in relation_types}}


def check_plan(plan: dict | None) -> dict:
    """A plan from a request, checked for shape (not yet against the project)."""
    plan = plan or {}
    if not isinstance(plan, dict):
        raise PlanError("the label plan must be an object {\"labels\": {...}, \"relations\": {...}, \"unknown\": ...}")
    out = {"labels": {}, "relations": {}, "unknown": plan.get("unknown") or "drop"}
    if out["unknown"] not in POLICIES:
        raise PlanError(f"'unknown' must be one of {', '.join(POLICIES)}, not {str(out['unknown'])[:40]!r}")
    for key in ("labels", "relations"):
        entries = plan.get(key) or {}
        if not isinstance(entries, dict) or len(entries) > 1000:
            raise PlanError(f"'{key}' must be an object of at most 1000 name -> target entries")
        for name, target in entries.items():
            if not isinstance(name, str) or len(name) > 200 or (target is not None and not isinstance(target, str)):
                raise PlanError(f"'{key}' maps names to a {key[:-1]} name, \"+\" (add) or null (drop)")
            out[key][name] = target or None
    return out


def _decide(name: str, entries: dict, policy: str) -> str | None:
    """The target of one unknown name: a name, ADD, or None (drop)."""
    if name in entries:
        return entries[name]
    return ADD if policy == "add" else None


def apply(payloads: list[dict], config: dict, plan: dict, may_add: bool) -> tuple[dict | None, dict]:
    """Rewrite `payloads` in place by the plan. Returns (the extended configuration or None when unchanged, report).

    Raises PlanError for a plan that cannot be applied and, with policy "reject", when anything is unknown."""
    missing = unknown(payloads, config)
    report = {"unknown": missing, "mapped": {}, "added": {"labels": [], "relations": []},
              "dropped": {"spans": 0, "relations": 0, "labels": {}, "relation_types": {}}}
    if plan["unknown"] == "reject" and (missing["labels"] or missing["relations"]):
        names = ", ".join(list(missing["labels"]) + list(missing["relations"]))
        raise PlanError(f"labels unknown to this project: {names[:300]} (map them, add them, or drop them)")
    new_config = copy.deepcopy(config)
    entity = set(entity_label_names(config))
    phi = set(config.get("phi_labels", ()))
    label_target: dict[str, str | None] = {}
    for name in missing["labels"]:
        target = _decide(name, plan["labels"], plan["unknown"])
        if target == ADD:
            if not may_add:
                raise PlanError(f"adding label {name!r} to the project needs permission to edit its labels")
            target = label_name(name)
            if target not in entity and target not in phi:
                if len(new_config["entity_labels"]) >= MAX_ENTITY_LABELS:
                    raise PlanError(f"cannot add label {name!r}: a project has at most {MAX_ENTITY_LABELS} labels")
                colour = _PALETTE[len(new_config["entity_labels"]) % len(_PALETTE)]
                new_config["entity_labels"].append({"name": target, "terminologies": [], "color": colour})
                entity.add(target)
                report["added"]["labels"].append(target)
        elif target is not None and target not in entity and target not in phi:
            raise PlanError(f"label {name!r} is mapped to {target!r}, which is not a label of this project")
        label_target[name] = target
    for payload in payloads:
        kept = []
        for span in payload.get("spans", ()):
            original = span["label"]
            if original in label_target:
                target = label_target[original]
                if target is None:
                    report["dropped"]["labels"][original] = report["dropped"]["labels"].get(original, 0) + 1
                    continue
                span["label"] = target
                span["layer"] = "phi" if target in phi else "entity"
                if target != original:
                    key = f"{original}→{target}"
                    report["mapped"][key] = report["mapped"].get(key, 0) + 1
            kept.append(span)
        report["dropped"]["spans"] += len(payload.get("spans", ())) - len(kept)
        payload["spans"] = kept
    _apply_relations(payloads, new_config, plan, may_add, missing["relations"], report)
    changed = report["added"]["labels"] or report["added"]["relations"] or new_config != config
    return (new_config if changed else None), report


def _apply_relations(payloads, config, plan, may_add, missing: dict, report) -> None:
    rules = {r["name"]: r for r in config.setdefault("relation_types", [])}
    targets: dict[str, str | None] = {}
    for name in missing:
        target = _decide(name, plan["relations"], plan["unknown"])
        if target == ADD:
            if not may_add:
                raise PlanError(f"adding relation type {name!r} needs permission to edit the project's labels")
            target = label_name(name)
            if target not in rules:
                rules[target] = {"name": target, "head": [], "tail": []}
                config["relation_types"].append(rules[target])
                report["added"]["relations"].append(target)
        elif target is not None and target not in rules:
            raise PlanError(f"relation type {name!r} is mapped to {target!r}, which this project does not have")
        targets[name] = target
    widen = set(report["added"]["relations"]) | ({r for r in rules} if plan["unknown"] == "add" and may_add else set())
    for payload in payloads:
        spans = {s["id"]: s for s in payload.get("spans", ())}
        kept = []
        for relation in payload.get("relations", ()):
            kind = targets.get(relation["type"], relation["type"])
            head, tail = spans.get(relation["head"]), spans.get(relation["tail"])
            if kind is None or head is None or tail is None:
                why = relation["type"] if kind is None else "an end span was dropped"
                report["dropped"]["relation_types"][why] = report["dropped"]["relation_types"].get(why, 0) + 1
                continue
            rule = rules[kind]
            if head["label"] not in rule["head"] or tail["label"] not in rule["tail"]:
                if kind not in widen:
                    why = f"{kind}: {head['label']} → {tail['label']} not allowed"
                    report["dropped"]["relation_types"][why] = report["dropped"]["relation_types"].get(why, 0) + 1
                    continue
                for side, label in (("head", head["label"]), ("tail", tail["label"])):
                    if label not in rule[side]:
                        rule[side].append(label)
            if kind != relation["type"]:
                key = f"{relation['type']}→{kind}"
                report["mapped"][key] = report["mapped"].get(key, 0) + 1
            relation["type"] = kind
            kept.append(relation)
        report["dropped"]["relations"] += len(payload.get("relations", ())) - len(kept)
        payload["relations"] = kept
    for name in list(report["added"]["relations"]):  # every relation of an added type was dropped: add nothing
        if not rules[name]["head"]:
            config["relation_types"].remove(rules[name])
            report["added"]["relations"].remove(name)
