"""Section headings and ConText-style assertion on hand-written sentences."""
from __future__ import annotations

import pytest

from annotators.notes.assertion import ConText, Rule, assert_span, assign_assertions
from annotators.notes.sections import detect_headings, detect_sections, section_at

# (sentence, entity, expected assertion)
SENTENCES = [
    ("No fever or chills.", "chills", "negated"),
    ("Patient denies chest pain.", "chest pain", "negated"),
    ("Denies nausea, vomiting, or diarrhea.", "diarrhea", "negated"),
    ("CT negative for pulmonary embolism.", "pulmonary embolism", "negated"),
    ("Pneumonia is ruled out.", "Pneumonia", "negated"),
    ("There is no evidence of fracture.", "fracture", "negated"),
    ("Without shortness of breath at rest.", "shortness of breath", "negated"),
    ("Lungs are clear, wheezing absent.", "wheezing", "negated"),
    ("No fever but has a productive cough.", "productive cough", "present"),
    ("Denies headache, however reports dizziness.", "dizziness", "present"),
    ("Possible pneumonia in the right lower lobe.", "pneumonia", "possible"),
    ("Findings concerning for appendicitis.", "appendicitis", "possible"),
    ("Cannot rule out myocardial infarction.", "myocardial infarction", "possible"),
    ("Cellulitis versus abscess.", "abscess", "possible"),
    ("Suspected urinary tract infection.", "urinary tract infection", "possible"),
    ("Small bowel obstruction?", "Small bowel obstruction", "possible"),
    ("Return to the ED if chest pain recurs.", "chest pain", "hypothetical"),
    ("Call for fever above 101.", "fever", "hypothetical"),
    ("Watch for signs of bleeding.", "bleeding", "hypothetical"),
    ("History of myocardial infarction in 2010.", "myocardial infarction", "historical"),
    ("Status post appendectomy.", "appendectomy", "historical"),
    ("Hx of DVT, on warfarin.", "DVT", "historical"),
    ("Mother with breast cancer.", "breast cancer", "family"),
    ("Colon cancer in his father.", "Colon cancer", "family"),
    ("Family history of diabetes.", "diabetes", "family"),
    ("Maternal grandmother had ovarian cancer.", "ovarian cancer", "family"),
    ("67 year old male with diabetes.", "diabetes", "present"),
    ("Presents with acute chest pain.", "acute chest pain", "present"),
    ("No change in lower extremity edema.", "lower extremity edema", "present"),
    ("Patient has hypertension and hyperlipidemia.", "hyperlipidemia", "present"),
    ("Not only fatigue but also weight loss.", "fatigue", "present"),
    ("No family history of colon cancer.", "colon cancer", "negated"),
    ("Denies chest pain. Reports palpitations.", "palpitations", "present"),
    ("Tolerating diet without difficulty; abdominal pain improved.", "abdominal pain", "present"),
]


@pytest.mark.parametrize("sentence, entity, expected", SENTENCES)
def test_assertion_sentences(sentence, entity, expected):
    start = sentence.index(entity)
    assert assert_span(sentence, start, start + len(entity)) == expected


def test_sentence_count():
    assert len(SENTENCES) >= 30


def test_scope_window_limits_reach():
    text = "No acute events overnight and the patient walked the hallway twice with physical therapy, pneumonia noted."
    start = text.index("pneumonia")
    assert assert_span(text, start, start + 9) == "present"


def test_custom_rules():
    context = ConText([Rule("absent", "negated", "backward", 3)])
    text = "Reflexes absent."
    assert assert_span(text, 0, 8, context=context) == "negated"
    assert assert_span("No reflexes.", 3, 11, context=context) == "present"


NOTE = """CHIEF COMPLAINT: shortness of breath
HISTORY OF PRESENT ILLNESS:
72 yo woman with CHF presents with dyspnea. Denies chest pain.
PMH: diabetes, hypertension
Past Surgical History: cholecystectomy
Medications:
- furosemide 40 mg daily
Allergies: penicillin
Family History: coronary artery disease
Social History: no tobacco
ROS: negative except as above
Physical Exam: crackles at bases
Labs: BNP 900
Imaging: CXR with edema
A/P:
1. CHF exacerbation - diuresis
Plan to discharge tomorrow.
"""


def test_sections_found():
    names = [s.name for s in detect_sections(NOTE)]
    assert names == ["chief_complaint", "history_of_present_illness", "past_medical_history",
                     "past_surgical_history", "medications", "allergies", "family_history", "social_history",
                     "review_of_systems", "physical_exam", "labs", "imaging", "assessment_and_plan"]


def test_section_extents_and_lookup():
    sections = detect_sections(NOTE)
    for first, second in zip(sections, sections[1:]):
        assert first.end <= second.start
    pmh = next(h for h in detect_headings(NOTE) if h.name == "past_medical_history")
    assert NOTE[pmh.start:pmh.end].strip() == "PMH:"
    for start, end, name in sections:  # plain (start, end, name) tuples
        assert start < end and name
    assert section_at(sections, NOTE.index("diabetes")) == "past_medical_history"
    assert section_at(sections, NOTE.index("Plan to discharge")) == "assessment_and_plan"  # prose, not a heading
    assert section_at(sections, 0) == "chief_complaint"


@pytest.mark.parametrize("heading, name", [
    ("HPI:", "history_of_present_illness"), ("Meds:", "medications"), ("A/P:", "assessment_and_plan"),
    ("Assessment and Plan:", "assessment_and_plan"), ("S:", "subjective"), ("O:", "objective"),
    ("A:", "assessment"), ("P:", "plan"), ("Exam:", "physical_exam"), ("PHYSICAL EXAMINATION", "physical_exam"),
    ("Review of Systems:", "review_of_systems"), ("FH:", "family_history"), ("SH:", "social_history"),
    ("Imaging:", "imaging"), ("Hospital Course:", "hospital_course"),
])
def test_heading_variants(heading, name):
    assert [s.name for s in detect_sections(f"Intro line.\n{heading} text here\n")] == [name]


def test_prose_is_not_a_heading():
    assert detect_sections("Patient will follow up.\nplan was discussed\nso: nothing\n") == []


def test_section_defaults_and_triggers_in_a_note():
    spans = []
    for i, phrase in enumerate(["dyspnea", "chest pain", "diabetes", "cholecystectomy", "coronary artery disease",
                                "crackles", "CHF exacerbation"]):
        start = NOTE.index(phrase)
        spans.append({"id": f"s{i}", "start": start, "end": start + len(phrase), "label": "PROBLEM", "layer": "entity"})
    spans.append({"id": "p1", "start": 0, "end": 5, "label": "NAME", "layer": "phi"})
    assign_assertions(NOTE, spans, detect_sections(NOTE))
    got = {NOTE[s["start"]:s["end"]]: s.get("assertion") for s in spans}
    assert got == {"dyspnea": "present", "chest pain": "negated", "diabetes": "historical",
                   "cholecystectomy": "historical", "coronary artery disease": "family", "crackles": "present",
                   "CHF exacerbation": "present", "CHIEF": None}
    assert spans[2]["section"] == "past_medical_history"


def test_human_assertion_kept_unless_overwrite():
    text = "No fever."
    spans = [{"id": "a", "start": 3, "end": 8, "label": "PROBLEM", "layer": "entity", "assertion": "present"}]
    assign_assertions(text, spans)
    assert spans[0]["assertion"] == "present"
    assign_assertions(text, spans, overwrite=True)
    assert spans[0]["assertion"] == "negated"


def _written_cases():
    from pathlib import Path

    path = Path(__file__).parent.parent / "data" / "notes" / "assertion_cases.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            category, entity, sentence = line.split("\t")
            yield pytest.param(sentence, entity, category, id=f"{category}:{sentence[:40]}")


@pytest.mark.parametrize("sentence, entity, expected", list(_written_cases()))
def test_written_cases_conditionals_lists_temporality(sentence, entity, expected):
    """Our own sentences per category (tests/data/notes/assertion_cases.tsv): conditionals and plans are
    hypothetical, every item of a long negated list is negated, dated or aged events are historical, a clause
    after a comma or "but" ends a scope. benchmarks/bench_assertion.py prints the accuracy per category."""
    start = sentence.index(entity)
    assert assert_span(sentence, start, start + len(entity)) == expected


def test_prn_findings_are_hypothetical_and_prn_drugs_are_orders():
    """"q6h PRN pain": the pain is not asserted; "prn ativan" is an order for a drug that is given as needed, so
    the drug's own assertion stays present (the span's label says which)."""
    text = "Tylenol 650 mg PO q6h PRN pain. Agitation responding well to prn ativan."
    pain, ativan = text.index("pain"), text.index("ativan")
    assert assert_span(text, pain, pain + 4) == "hypothetical"
    assert assert_span(text, ativan, ativan + 6, label="MEDICATION") == "present"
    spans = [{"start": ativan, "end": ativan + 6, "label": "MEDICATION", "layer": "entity"},
             {"start": pain, "end": pain + 4, "label": "PROBLEM", "layer": "entity"}]
    assert [s["assertion"] for s in assign_assertions(text, spans)] == ["present", "hypothetical"]
