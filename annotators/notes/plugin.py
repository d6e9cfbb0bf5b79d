"""The `notes` modality: clinical notes with PHI, entities, assertion, ontology links and relations."""
from __future__ import annotations

from annotators.base import DocumentErrors, Exporter, Importer, IngestedItem, ItemInput, ItemRejected, MetricSpec, Modality
from annotators.notes import consensus, formats, label_mapping, metrics, schema
from annotators.notes.preannotate import ClinicalPipeline

DEMO_NOTES = [
    "HPI: Mr. John Carter is a 67 year old man with a history of type 2 diabetes mellitus and HTN who presents with "
    "worsening shortness of breath. He denies chest pain. MRN 4455-1923. Seen at St. Mary's Hospital on 3/4.\n"
    "Medications: metformin 500 mg PO BID, lisinopril 10 mg daily.\n"
    "Family History: Mother had breast cancer.\n"
    "Assessment/Plan: CHF exacerbation. Start furosemide 40 mg IV daily. Echocardiogram ordered; rule out pneumonia.",
    "S: 34 yo female with migraine and asthma, here for follow-up. No fever. Possible urinary tract infection.\n"
    "O: Urinalysis positive for nitrites. Exam: tenderness of the abdomen.\n"
    "A: Urinary tract infection. Asthma stable.\n"
    "P: Start nitrofurantoin 100 mg PO BID for 5 days. Continue albuterol inhaled PRN. Call 555-201-3344 with results.",
    "PMH: Atrial fibrillation, chronic kidney disease stage 3, gout.\n"
    "HPI: 92 year old woman admitted with seizure. CT head negative. EEG pending. Patient lives at 12 Elm Street, "
    "Springfield. Daughter Mary Jones (mary.jones@example.com) at bedside.\n"
    "Plan: levetiracetam 500 mg PO BID; apixaban held. If symptoms recur, consider MRI brain.",
]


class NotesModality(Modality):
    name = "notes"
    title = "Clinical notes"
    description = ("EHR notes: PHI de-identification, entities with assertion and ontology codes, relations. "
                   "Pre-annotated by presidio + terminology matching + a NER trained in-project.")
    item_kinds = ("note",)
    accepts = formats.ACCEPTS
    label_config_schema = schema.LABEL_CONFIG_SCHEMA
    payload_schema = schema.PAYLOAD_SCHEMA
    default_label_config = schema.DEFAULT_LABEL_CONFIG
    ui_module = "js/modalities/notes.js"
    fit_wants_gpu = True
    metric_specs = (
        MetricSpec("agreement", description="exact span F1: what workflow thresholds use"),
        *(MetricSpec(f"span_{mode}_{m}", description=f"{mode} span matching")
          for mode in ("exact", "overlap") for m in ("precision", "recall", "f1")),
        *(MetricSpec(f"{layer}_span_{mode}_f1", description=f"{layer} layer only")
          for layer in ("entity", "phi") for mode in ("exact", "overlap")),
        MetricSpec("relation_f1", description="relations between the same spans"),
        MetricSpec("token_kappa", range=(-1.0, 1.0), description="Cohen's kappa over tokens"),
        MetricSpec("token_alpha", range=(-1.0, 1.0), description="Krippendorff's alpha over tokens"),
        MetricSpec("concept_agreement", description="same code on exactly matched spans"),
        MetricSpec("concept_pairs", range=(0.0, None), description="matched spans with a code"),
        MetricSpec("assertion_agreement", description="same assertion on exactly matched entities"),
        MetricSpec("assertion_pairs", range=(0.0, None), description="matched entity spans"),
    )
    # Auto-consensus needs every one of these above its threshold: PHI apart from entities, so one annotator who
    # marked no PHI at all cannot hide inside a good entity score.
    consensus_layers = {"entities": "entity_span_exact_f1", "assertion": "assertion_agreement",
                        "concepts": "concept_agreement", "relations": "relation_f1", "phi": "phi_span_exact_f1"}  # training is the step worth a GPU worker when one exists

    def ingest(self, item: ItemInput, label_config: dict) -> list[IngestedItem]:
        try:
            ingested = formats.ingest(item, label_config)  # a posted record reads like a JSONL line, spans included
        except DocumentErrors as exc:  # the valid documents a caller may keep are de-identified like the others
            if label_config.get("deidentify_at_ingest"):
                exc.items = [self._deidentify(i, label_config) for i in exc.items]
            raise
        if label_config.get("deidentify_at_ingest"):
            ingested = [self._deidentify(i, label_config) for i in ingested]
        return ingested

    @staticmethod
    def _deidentify(item: IngestedItem, label_config: dict) -> IngestedItem:
        """Annotators of this project only ever see de-identified text; a note that cannot be de-identified is not
        stored at all (fail closed)."""
        from annotators.notes.phi import PhiError, deidentify, get_default_detector

        try:
            spans = get_default_detector().detect(item.text)
        except PhiError:
            raise ItemRejected(f"{item.name or 'note'}: de-identification failed; the note was not stored") from None
        item.text = deidentify(item.text, spans, mode=label_config.get("deidentify_mode", "mask"),
                               seed=int(label_config.get("surrogate_seed", 0)))
        # Nothing from the original survives: file and record names ("John Carter 4455-1923.txt") and metadata
        # (patient, MRN, CSV columns) are dropped, not de-identified: a detector miss there would be stored as is.
        import hashlib

        item.name = f"note-{hashlib.sha256(item.text.encode('utf-8')).hexdigest()[:12]}"
        item.meta = {"deidentified_at_ingest": True}
        item.annotations = []  # offsets of imported spans no longer hold on the rewritten text
        return item

    def validate_label_config(self, config: dict) -> dict:
        super().validate_label_config(config)
        names = [label["name"] for label in config.get("entity_labels", [])] + list(config.get("phi_labels", []))
        if len(names) != len(set(names)):
            raise ValueError("label_config invalid: label names must be unique across entity and PHI labels")
        return config

    def check_payload_semantics(self, payload: dict, label_config: dict) -> None:
        errors = schema.semantic_errors(payload, label_config)
        if errors:
            raise ValueError("payload invalid: " + "; ".join(errors[:5]))

    def importers(self) -> dict[str, Importer]:
        return formats.importers()

    def map_import_labels(self, payloads, label_config: dict, plan: dict, may_add: bool):
        return label_mapping.apply(payloads, label_config, label_mapping.check_plan(plan), may_add)

    def exporters(self) -> dict[str, Exporter]:
        return formats.exporters()

    def preannotators(self, label_config: dict):
        return [ClinicalPipeline()]

    def warm_up(self, resources: dict) -> None:
        from annotators.notes.phi import get_default_detector
        from annotators.notes.preannotate import _matcher

        get_default_detector().detect("Seen on 01/02/2020 by Dr. Smith at 555-0100.")  # spaCy + Presidio, loaded
        _matcher(schema.default_label_config(), resources.get("ontologies"))  # the default labels' term matcher

    def fit(self, accepted, label_config: dict, previous: dict | None):
        from annotators.notes.training import fit_ner

        return fit_ner(accepted, label_config, previous)

    def agree(self, a: dict, b: dict, item, label_config: dict) -> dict[str, float]:
        result = metrics.agree(a, b, item.text or "")
        result["agreement"] = result["span_exact_f1"]
        return result

    def agree_many(self, annotations, label_config: dict) -> dict:
        return metrics.agree_many([(item.id, item.text or "", who, payload) for item, who, payload in annotations])

    def merge(self, payloads, item, label_config: dict) -> dict:
        return consensus.merge(payloads)

    def merge_conflicts(self, payloads, item, label_config: dict) -> list[dict]:
        return consensus.merge_report(payloads)[1]

    def limit_suggestions(self, payload: dict, limit: int) -> tuple[dict, int]:
        spans = payload.get("spans", [])
        if len(spans) <= limit:
            return payload, 0
        ranked = sorted(range(len(spans)), key=lambda i: -(spans[i].get("score") if spans[i].get("score") is not None
                                                           else 1.0))
        keep = sorted(ranked[:limit])
        kept = [spans[i] for i in keep]
        ids = {s["id"] for s in kept}
        relations = [r for r in payload.get("relations", []) if r["head"] in ids and r["tail"] in ids]
        return {**payload, "spans": kept, "relations": relations}, len(spans) - len(kept)

    def curation_units(self, payloads, item, label_config: dict) -> list[dict]:
        return consensus.curation_units(payloads)

    def curate(self, payloads, choices: dict, item, label_config: dict) -> dict:
        return consensus.curate(payloads, choices)

    def diff(self, payloads, item, label_config: dict) -> list[dict]:
        return consensus.diff(payloads)

    def learned_aliases(self, payload: dict, item) -> list[tuple[str, str, str]]:
        """Mention → concept pairs people accepted; the ontology search ranks them first next time."""
        return [(s["text"], s["concept"]["terminology"], s["concept"]["code"]) for s in payload.get("spans", [])
                if s.get("layer") == "entity" and s.get("concept") and s.get("text")]

    def demo(self) -> dict:
        return {
            "name": "Demo: clinical notes",
            "description": "Synthetic notes: entities with assertion and codes, PHI, medication relations.",
            "label_config": self.default_label_config,
            "inputs": [ItemInput(name=f"note {i + 1}", record={"text": t, "name": f"note {i + 1}"})
                       for i, t in enumerate(DEMO_NOTES)],
            "preannotate": True,
        }
