"""JSON Schemas of the notes modality: the annotation payload and the label configuration.

Offsets are Python string indices (Unicode code points) into the stored note text, end exclusive. Checks that JSON
Schema cannot express (offsets inside the text, labels known to the config, relation endpoints) live in
`semantic_errors`, so the plugin and the importers apply the same rules.
"""
from __future__ import annotations

import copy

ASSERTIONS = ("present", "negated", "possible", "hypothetical", "historical", "family")
LAYERS = ("entity", "phi")

# Safe Harbor categories, folded into the labels annotators work with. FAX numbers are PHONE; account, licence,
# device and plan numbers are ID.
DEFAULT_PHI_LABELS = (
    "NAME", "DATE", "AGE_OVER_89", "PHONE", "EMAIL", "SSN", "ID", "LOCATION", "HOSPITAL", "URL", "IP_ADDRESS",
)

_CONCEPT = {
    "type": "object",
    "required": ["terminology", "code"],
    "properties": {
        "terminology": {"type": "string", "minLength": 1, "maxLength": 64},
        "code": {"type": "string", "minLength": 1, "maxLength": 128},
        "name": {"type": "string", "maxLength": 1000},
    },
    "additionalProperties": False,
}

_CANDIDATE = {
    "type": "object",
    "required": ["terminology", "code"],
    # icd10cm: the ICD-10-CM codes a disease ontology's concept cross-references (MONDO, DOID xrefs), shown to coders
    "properties": {**_CONCEPT["properties"], "score": {"type": "number"},
                   "icd10cm": {"type": "array", "items": {"type": "string", "maxLength": 32}, "maxItems": 10}},
    "additionalProperties": False,
}

_SPAN = {
    "type": "object",
    "required": ["id", "start", "end", "label", "layer"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 64},
        "start": {"type": "integer", "minimum": 0},
        "end": {"type": "integer", "minimum": 1},
        "label": {"type": "string", "minLength": 1, "maxLength": 64},
        "layer": {"enum": list(LAYERS)},
        "text": {"type": "string", "maxLength": 100000},
        "assertion": {"enum": list(ASSERTIONS)},
        # an object or null, written without oneOf: the compiled validator then tries no branch (and raises no
        # exception) per span, a third of the time of checking a 300,000-span import
        "concept": {**_CONCEPT, "type": ["object", "null"]},
        "candidates": {"type": "array", "items": _CANDIDATE, "maxItems": 50},
        "attributes": {
            "type": "object",
            "propertyNames": {"maxLength": 64},
            "additionalProperties": {"type": "string", "maxLength": 1000},
        },
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "section": {"type": "string", "maxLength": 64},
    },
    "additionalProperties": False,
}

_RELATION = {
    "type": "object",
    "required": ["id", "type", "head", "tail"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 64},
        "type": {"type": "string", "minLength": 1, "maxLength": 64},
        "head": {"type": "string", "minLength": 1, "maxLength": 64},
        "tail": {"type": "string", "minLength": 1, "maxLength": 64},
    },
    "additionalProperties": False,
}

PAYLOAD_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Clinical note annotation",
    "type": "object",
    "required": ["spans"],
    "properties": {
        "spans": {"type": "array", "items": _SPAN, "maxItems": 100000},
        "relations": {"type": "array", "items": _RELATION, "maxItems": 100000},
    },
    "additionalProperties": False,
}

_LABEL_NAME = {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$"}
_COLOR = {"type": "string", "pattern": r"^#[0-9A-Fa-f]{6}$"}

LABEL_CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Clinical note label configuration",
    "type": "object",
    "required": ["entity_labels", "phi_labels"],
    "properties": {
        "entity_labels": {
            "type": "array",
            "maxItems": 200,
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": _LABEL_NAME,
                    "terminologies": {"type": "array", "items": {"type": "string", "maxLength": 64}},
                    "hotkey": {"type": "string", "maxLength": 1},
                    "color": _COLOR,
                },
                "additionalProperties": False,
            },
        },
        "phi_labels": {"type": "array", "items": _LABEL_NAME, "maxItems": 100, "uniqueItems": True},
        "relation_types": {
            "type": "array",
            "maxItems": 200,
            "items": {
                "type": "object",
                "required": ["name", "head", "tail"],
                "properties": {
                    "name": _LABEL_NAME,
                    "head": {"type": "array", "items": _LABEL_NAME, "minItems": 1},
                    "tail": {"type": "array", "items": _LABEL_NAME, "minItems": 1},
                },
                "additionalProperties": False,
            },
        },
        "assertions": {"type": "array", "items": {"enum": list(ASSERTIONS)}, "uniqueItems": True},
        "deidentify_at_ingest": {"type": "boolean"},
        "deidentify_mode": {"enum": ["mask", "surrogate"]},
        "surrogate_seed": {"type": "integer"},
        "max_chars": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
    },
    "additionalProperties": False,
}

DEFAULT_LABEL_CONFIG = {
    "entity_labels": [
        {"name": "PROBLEM", "terminologies": ["icd10cm", "hpo", "mondo", "doid"], "hotkey": "1", "color": "#d62728"},
        {"name": "MEDICATION", "terminologies": ["drugs"], "hotkey": "2", "color": "#1f77b4"},
        {"name": "PROCEDURE", "terminologies": [], "hotkey": "3", "color": "#2ca02c"},
        {"name": "TEST", "terminologies": [], "hotkey": "4", "color": "#9467bd"},
        {"name": "ANATOMY", "terminologies": [], "hotkey": "5", "color": "#8c564b"},
        # Medication attributes are spans of their own, linked to the drug by a relation.
        {"name": "DOSAGE", "terminologies": [], "hotkey": "6", "color": "#17becf"},
        {"name": "ROUTE", "terminologies": [], "hotkey": "7", "color": "#bcbd22"},
        {"name": "FREQUENCY", "terminologies": [], "hotkey": "8", "color": "#e377c2"},
        {"name": "RESULT", "terminologies": [], "hotkey": "9", "color": "#7f7f7f"},
    ],
    "phi_labels": list(DEFAULT_PHI_LABELS),
    "relation_types": [
        {"name": "dosage", "head": ["MEDICATION"], "tail": ["DOSAGE"]},
        {"name": "route", "head": ["MEDICATION"], "tail": ["ROUTE"]},
        {"name": "frequency", "head": ["MEDICATION"], "tail": ["FREQUENCY"]},
        {"name": "location", "head": ["PROBLEM"], "tail": ["ANATOMY"]},
        {"name": "result", "head": ["TEST"], "tail": ["RESULT"]},
    ],
    "assertions": list(ASSERTIONS),
    "deidentify_at_ingest": False,
    "deidentify_mode": "mask",
    "surrogate_seed": 0,
    "max_chars": 1_000_000,
}


def default_label_config() -> dict:
    """A fresh copy, so callers may edit it without changing the module default."""
    return copy.deepcopy(DEFAULT_LABEL_CONFIG)


def entity_label_names(config: dict) -> list[str]:
    return [label["name"] for label in config.get("entity_labels", [])]


def layer_of_label(label: str, config: dict) -> str:
    """Which layer an imported label belongs to: PHI labels of the config go to `phi`, everything else to `entity`."""
    return "phi" if label in set(config.get("phi_labels", DEFAULT_PHI_LABELS)) else "entity"


def semantic_errors(payload: dict, config: dict, text: str | None = None, max_errors: int = 20) -> list[str]:
    """Problems a schema-valid payload can still have. Messages name span/relation ids, never note text."""
    errors: list[str] = []
    labels = {"entity": set(entity_label_names(config)), "phi": set(config.get("phi_labels", []))}
    allowed_assertions = set(config.get("assertions", ASSERTIONS))
    spans_by_id: dict[str, dict] = {}
    for span in payload.get("spans", []):
        sid = span["id"]
        if sid in spans_by_id:
            errors.append(f"span id {sid!r} is used twice")
        spans_by_id[sid] = span
        if span["end"] <= span["start"]:
            errors.append(f"span {sid!r} ends before it starts")
        if text is not None:
            if span["end"] > len(text):
                errors.append(f"span {sid!r} ends at {span['end']}, past the end of the note ({len(text)})")
            elif "text" in span and text[span["start"]:span["end"]] != span["text"]:
                errors.append(f"span {sid!r} text does not match the note at {span['start']}-{span['end']}")
        if span["label"] not in labels[span["layer"]]:
            errors.append(f"span {sid!r} has label {span['label']!r}, unknown in the {span['layer']} layer")
        if "assertion" in span and span["assertion"] not in allowed_assertions:
            errors.append(f"span {sid!r} has assertion {span['assertion']!r}, not enabled in this project")
        if len(errors) >= max_errors:
            return errors
    relation_rules = {r["name"]: r for r in config.get("relation_types", [])}
    seen_relations: set[str] = set()
    for relation in payload.get("relations", []):
        rid = relation["id"]
        if rid in seen_relations:
            errors.append(f"relation id {rid!r} is used twice")
        seen_relations.add(rid)
        head, tail = spans_by_id.get(relation["head"]), spans_by_id.get(relation["tail"])
        if head is None or tail is None:
            errors.append(f"relation {rid!r} points at a span that does not exist")
            continue
        rule = relation_rules.get(relation["type"])
        if rule is None:
            errors.append(f"relation {rid!r} has unknown type {relation['type']!r}")
        elif head["label"] not in rule["head"] or tail["label"] not in rule["tail"]:
            errors.append(f"relation {rid!r} of type {relation['type']!r} cannot link {head['label']} to {tail['label']}")
        if len(errors) >= max_errors:
            break
    return errors
