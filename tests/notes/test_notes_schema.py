"""Payload and label-config schemas, and the semantic checks schemas cannot express."""
from __future__ import annotations

import jsonschema
import pytest

from annotators.notes.schema import (
    DEFAULT_LABEL_CONFIG, LABEL_CONFIG_SCHEMA, PAYLOAD_SCHEMA, default_label_config, semantic_errors,
)

TEXT = "Lasix 40 mg daily for edema."
GOOD = {"spans": [
    {"id": "m", "start": 0, "end": 5, "label": "MEDICATION", "layer": "entity", "text": "Lasix", "assertion": "present",
     "concept": None, "candidates": [{"terminology": "drugs", "code": "furosemide", "name": "Furosemide", "score": 0.9}],
     "attributes": {"source": "terminology"}, "score": 0.8, "section": "medications"},
    {"id": "d", "start": 6, "end": 11, "label": "DOSAGE", "layer": "entity"},
    {"id": "p", "start": 18, "end": 27, "label": "NAME", "layer": "phi"}],
    "relations": [{"id": "r", "type": "dosage", "head": "m", "tail": "d"}]}


def test_default_config_is_valid_and_complete():
    jsonschema.validate(DEFAULT_LABEL_CONFIG, LABEL_CONFIG_SCHEMA)
    names = [label["name"] for label in DEFAULT_LABEL_CONFIG["entity_labels"]]
    assert names[:5] == ["PROBLEM", "MEDICATION", "PROCEDURE", "TEST", "ANATOMY"]
    assert {"NAME", "DATE", "AGE_OVER_89", "PHONE", "EMAIL", "ID", "LOCATION", "HOSPITAL", "URL", "SSN"} <= set(
        DEFAULT_LABEL_CONFIG["phi_labels"])
    assert DEFAULT_LABEL_CONFIG["deidentify_at_ingest"] is False and DEFAULT_LABEL_CONFIG["max_chars"] == 1_000_000
    copy = default_label_config()
    copy["phi_labels"].append("X")
    assert "X" not in DEFAULT_LABEL_CONFIG["phi_labels"]


def test_good_payload():
    jsonschema.validate(GOOD, PAYLOAD_SCHEMA)
    assert semantic_errors(GOOD, DEFAULT_LABEL_CONFIG, TEXT) == []


@pytest.mark.parametrize("change", [
    lambda p: p["spans"][0].update(layer="other"), lambda p: p["spans"][0].update(assertion="maybe"),
    lambda p: p["spans"][0].update(start=-1), lambda p: p["spans"][0].update(extra=1),
    lambda p: p["spans"][0].update(score=2), lambda p: p.update(comments=[]),
    lambda p: p["spans"][0].update(concept={"code": "x"}),
])
def test_schema_rejects(change):
    import copy

    payload = copy.deepcopy(GOOD)
    change(payload)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, PAYLOAD_SCHEMA)


def test_semantic_errors():
    import copy

    payload = copy.deepcopy(GOOD)
    payload["spans"][0]["end"] = 500
    payload["spans"][1]["label"] = "NAME"
    payload["spans"].append(dict(payload["spans"][2]))
    payload["relations"].append({"id": "r2", "type": "location", "head": "m", "tail": "zz"})
    errors = semantic_errors(payload, DEFAULT_LABEL_CONFIG, TEXT)
    assert any("past the end" in e for e in errors) and any("unknown in the entity layer" in e for e in errors)
    assert any("used twice" in e for e in errors) and any("does not exist" in e for e in errors)
    assert all("Lasix" not in e for e in errors)  # messages never quote note text
