"""Small label sets defined by this project: consultation segment types and the Cholec80 surgical phases.

They go through the same model and index as the big terminologies so that label pickers, search and linking treat
every label source alike.
"""
from __future__ import annotations

from ..model import Concept, Terminology, TerminologyBuilder
from .reading import ProgressTracker

CONSULT_SEGMENTS_VERSION = "1"
CHOLEC80_VERSION = "1"

# (code, readable name, synonyms) for the parts of a clinical consultation, in the order they usually occur.
CONSULT_SEGMENTS = [
    ("greeting", "Greeting and introductions", ["opening", "introduction", "rapport building"]),
    ("agenda", "Agenda setting", ["reason for visit", "presenting complaint", "chief complaint"]),
    ("history_taking", "History taking", ["history of presenting illness", "anamnesis", "past medical history",
                                          "social history", "family history", "review of systems"]),
    ("examination", "Physical examination", ["exam", "clinical examination", "vital signs"]),
    ("investigations", "Investigations and results review", ["test results", "ordering tests", "lab results"]),
    ("diagnosis_discussion", "Diagnosis discussion", ["explanation of diagnosis", "assessment", "impression"]),
    ("treatment_plan", "Treatment plan", ["management plan", "shared decision making", "plan"]),
    ("medication_counselling", "Medication counselling", ["prescription", "medication review", "dosing advice",
                                                           "side effects discussion"]),
    ("lifestyle_advice", "Lifestyle advice", ["health promotion", "diet and exercise advice", "smoking cessation"]),
    ("safety_netting", "Safety netting", ["red flags advice", "when to seek help"]),
    ("follow_up", "Follow-up arrangements", ["referral", "next appointment", "follow up"]),
    ("closing", "Closing", ["summary and goodbye", "end of consultation"]),
    ("small_talk", "Small talk", ["social conversation", "non-clinical talk"]),
    ("other", "Other", ["unclassified", "administrative"]),
]

# The seven phases of laparoscopic cholecystectomy annotated in Cholec80 (Twinanda et al., 2016), with the labels
# the dataset files use as codes.
CHOLEC80_PHASES = [
    ("Preparation", "Preparation", ["trocar placement", "port insertion"]),
    ("CalotTriangleDissection", "Calot triangle dissection", ["dissection of Calot's triangle",
                                                              "critical view of safety"]),
    ("ClippingCutting", "Clipping and cutting", ["clipping and division of cystic duct and artery"]),
    ("GallbladderDissection", "Gallbladder dissection", ["dissection of gallbladder from liver bed"]),
    ("GallbladderPackaging", "Gallbladder packaging", ["gallbladder retrieval bag", "specimen bag"]),
    ("CleaningCoagulation", "Cleaning and coagulation", ["haemostasis", "hemostasis", "irrigation and suction"]),
    ("GallbladderRetraction", "Gallbladder retraction", ["gallbladder extraction", "specimen removal"]),
]


def _from_table(name: str, version: str, source: str, rows, semantic_type: str, order_key: str) -> Terminology:
    builder = TerminologyBuilder(name, version, source, "Defined by this project (free to use)")
    for position, (code, label, synonyms) in enumerate(rows):
        builder.add(Concept(code=code, name=label, synonyms=list(synonyms),
                            attributes={"semantic_types": [semantic_type], order_key: position}),
                    (f"{name} built-in table", position + 1))
    return builder.build()


def load_consult_segments(paths, name: str | None, version: str | None, tracker: ProgressTracker,
                          encoding: str | None = None) -> Terminology:
    return _from_table(name or "consult_segments", version or CONSULT_SEGMENTS_VERSION,
                       "Clinlabel built-in consultation segment types", CONSULT_SEGMENTS, "consultation segment",
                       "order")


def load_cholec80_phases(paths, name: str | None, version: str | None, tracker: ProgressTracker,
                         encoding: str | None = None) -> Terminology:
    return _from_table(name or "cholec80_phases", version or CHOLEC80_VERSION,
                       "Cholec80 surgical phase labels (Twinanda et al., IEEE TMI 2016)", CHOLEC80_PHASES,
                       "surgical phase", "phase_index")
