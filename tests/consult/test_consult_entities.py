"""Clinical entities in a consultation turn: the notes payload (spans, assertion, concept, relations) on each
segment, checked against the turn's text and the project's entity labels."""
from __future__ import annotations

import pytest

from annotators.base import registry

TEXT = "Are you still taking metformin for the diabetes?"


def payload(**span):
    base = {"id": "e1", "start": 21, "end": 30, "label": "MEDICATION", "layer": "entity", "text": "metformin",
            "concept": {"terminology": "drugs", "code": "DB00331"}}
    entities = {"spans": [{**base, **span}, {"id": "e2", "start": 39, "end": 47, "label": "PROBLEM",
                                             "layer": "entity", "text": "diabetes", "assertion": "present"}],
                "relations": []}
    return {"speakers": [{"id": "S1"}], "segments": [{"id": "t1", "start_ms": 0, "end_ms": 3000, "speaker": "S1",
                                                      "text": TEXT, "entities": entities}]}


def test_entities_on_a_turn_are_accepted_and_kept():
    consult = registry.get("consult")
    config = consult.default_label_config
    assert {label["name"] for label in config["entities"]["entity_labels"]} >= {"PROBLEM", "MEDICATION"}
    checked = consult.validate_payload(payload(), config)
    assert checked["segments"][0]["entities"]["spans"][0]["concept"]["code"] == "DB00331"


@pytest.mark.parametrize("span, problem", [
    ({"end": 60}, "past the end"),
    ({"start": 20}, "does not match"),
    ({"label": "DISEASE"}, "unknown in the entity layer"),
    ({"assertion": "sometimes"}, "must be one of"),
])
def test_bad_entities_are_refused_with_the_turn_and_span_named(span, problem):
    consult = registry.get("consult")
    with pytest.raises(ValueError) as err:
        consult.validate_payload(payload(**span), consult.default_label_config)
    assert problem in str(err.value) and ("segments[0]" in str(err.value) or "entities" in str(err.value))
    assert "metformin" not in str(err.value)  # messages name ids, never the transcript's words
