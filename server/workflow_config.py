"""Per-project workflow settings: defaults and validation (the workflow engine reads them)."""
from __future__ import annotations

DEFAULT_WORKFLOW = {
    "annotators_per_item": 1,
    "peer_review": False,
    "adjudication": "below_threshold",
    "adjudication_threshold": 0.8,
    "auto_consensus": True,
    "consensus_threshold": 0.9,
    "gold_share": 0.0,
    "pilot_size": 0,
    "ordering": "import",
    "lease_minutes": 60,
    "auto_preannotate": False,
    "consensus_layer_thresholds": {},
    "max_suggestions_per_item": 5000,
    "adjudication_layer_thresholds": {},
}


def merged_workflow(current: dict | None, changes: dict | None) -> dict:
    out = dict(DEFAULT_WORKFLOW)
    out.update(current or {})
    out.update(changes or {})
    return out
