"""The `labels` modality: whole-item classification of text items."""
from __future__ import annotations

import os

from annotators.base import Exporter, Importer, IngestedItem, ItemInput, ItemRejected, MetricSpec, Modality
from annotators.labels import formats, metrics
from annotators.labels.preannotate import KeywordLabeler, fit_keywords

LABEL_NAME = {"type": "string", "minLength": 1, "maxLength": 80, "pattern": r"^[^<>&\"'`]+$"}

LABEL_CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Labels configuration",
    "type": "object",
    "additionalProperties": False,
    "required": ["labels"],
    "properties": {
        "labels": {
            "type": "array", "minItems": 1, "maxItems": 200, "title": "Labels",
            "items": {
                "type": "object", "additionalProperties": False, "required": ["name"],
                "properties": {
                    "name": {**LABEL_NAME, "title": "Name"},
                    "description": {"type": "string", "maxLength": 500, "title": "Guideline"},
                    "keywords": {"type": "array", "title": "Keywords (pre-annotation)", "maxItems": 500,
                                 "items": {"type": "string", "minLength": 1, "maxLength": 80}},
                    "hotkey": {"type": "string", "pattern": "^[1-9a-z]$", "title": "Hotkey"},
                },
            },
        },
        "multi_label": {"type": "boolean", "default": False, "title": "Several labels per item"},
        "instructions": {"type": "string", "maxLength": 5000, "title": "Instructions for annotators"},
    },
}

PAYLOAD_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["labels"],
    "properties": {"labels": {"type": "array", "maxItems": 200, "uniqueItems": True, "items": LABEL_NAME}},
}

DEMO_TEXTS = [
    ("Chest pain radiating to the left arm, diaphoretic, BP 85/50. Needs immediate assessment.", "urgent"),
    ("Patient reports sudden shortness of breath and confusion since this morning.", "urgent"),
    ("Request to renew the repeat prescription for lisinopril, stable on current dose.", "routine"),
    ("Annual follow-up for hypertension, home readings within target, no complaints.", "routine"),
    ("Please update the patient's mailing address and insurance details.", "admin"),
    ("Fax the discharge summary to the GP practice; copy to records.", "admin"),
    ("Severe bleeding after tooth extraction, not stopping with pressure.", "urgent"),
    ("Routine diabetic foot check due next month; book with the nurse.", "routine"),
    ("Appointment reschedule requested by the patient for next week.", "admin"),
    ("Fever 39.8, neck stiffness and a spreading rash in a 19-year-old.", "urgent"),
    ("Stable asthma, uses reliever twice a month, review inhaler technique.", "routine"),
    ("Medical records request from the solicitor; consent form attached.", "admin"),
]


class LabelsModality(Modality):
    name = "labels"
    title = "Text classification"
    description = "Assign one (or several) labels to each whole text item; keyword pre-annotation; Cohen's kappa."
    item_kinds = ("text",)
    accepts = (".txt", ".jsonl", ".csv")
    label_config_schema = LABEL_CONFIG_SCHEMA
    payload_schema = PAYLOAD_SCHEMA
    default_label_config = {
        "labels": [
            {"name": "urgent", "keywords": ["chest pain", "bleeding", "shortness of breath", "confusion",
                                            "stiffness", "severe"], "hotkey": "1"},
            {"name": "routine", "keywords": ["follow-up", "routine", "stable", "renew", "review"], "hotkey": "2"},
            {"name": "admin", "keywords": ["address", "insurance", "appointment", "records", "fax"], "hotkey": "3"},
        ],
        "multi_label": False,
    }
    metric_specs = (MetricSpec("agreement", description="Jaccard overlap of the chosen labels"),
                    MetricSpec("exact_match", description="the same labels exactly"))
    ui_module = "js/modalities/labels.js"
    ui_template = "modalities/labels.html"

    def ingest(self, item: ItemInput, label_config: dict) -> list[IngestedItem]:
        if item.record is not None:
            names = {label["name"] for label in label_config.get("labels", [])}
            return [formats.record_to_item(item.record, item.name, names)]
        ext = os.path.splitext(item.name)[1].lower()
        importer = {".jsonl": formats.read_jsonl, ".csv": formats.read_csv, ".txt": formats.read_txt}.get(ext)
        if importer is None:
            raise ItemRejected(f"{item.name}: unsupported file type {ext or '(none)'}; "
                               f"accepted: {', '.join(self.accepts)}")
        return importer(item, label_config)

    def validate_label_config(self, config: dict) -> dict:
        super().validate_label_config(config)
        names = [label["name"] for label in config["labels"]]
        if len(set(names)) != len(names):
            raise ValueError("label_config invalid at labels: label names must be unique")
        return config

    def check_payload_semantics(self, payload: dict, label_config: dict) -> None:
        names = {label["name"] for label in label_config.get("labels", [])}
        unknown = [x for x in payload["labels"] if x not in names]
        if unknown:
            raise ValueError(f"payload invalid at labels: unknown label(s) {unknown}")
        if not label_config.get("multi_label") and len(payload["labels"]) > 1:
            raise ValueError("payload invalid at labels: this project allows one label per item")

    def importers(self) -> dict[str, Importer]:
        return {"jsonl": Importer("jsonl", (".jsonl",), formats.read_jsonl),
                "csv": Importer("csv", (".csv",), formats.read_csv),
                "txt": Importer("txt", (".txt",), formats.read_txt)}

    def exporters(self) -> dict[str, Exporter]:
        return {"jsonl": Exporter("jsonl", "jsonl", "application/x-ndjson", formats.write_jsonl),
                "csv": Exporter("csv", "csv", "text/csv", formats.write_csv)}

    def preannotators(self, label_config: dict):
        return [KeywordLabeler()]

    def fit(self, accepted, label_config: dict, previous: dict | None):
        return fit_keywords(accepted, label_config, previous)

    def agree(self, a: dict, b: dict, item, label_config: dict) -> dict[str, float]:
        return metrics.pair_agreement(a, b)

    def agree_many(self, annotations, label_config: dict) -> dict:
        return metrics.agreement_report(annotations)

    def merge(self, payloads, item, label_config: dict) -> dict:
        return metrics.majority(payloads, bool(label_config.get("multi_label")))

    def diff(self, payloads, item, label_config: dict) -> list[dict]:
        chosen = [sorted(p.get("labels") or []) for p in payloads]
        if all(c == chosen[0] for c in chosen):
            return []
        return [{"kind": "labels", "what": "chosen labels differ", "versions": chosen}]

    def demo(self) -> dict:
        return {
            "name": "Demo: message triage (labels)",
            "description": "Classify patient messages as urgent, routine or admin. Synthetic texts.",
            "label_config": self.default_label_config,
            "inputs": [ItemInput(name=f"message {i + 1}", record={"text": text, "meta": {"demo": True}})
                       for i, (text, _) in enumerate(DEMO_TEXTS)],
            "preannotate": True,
        }
