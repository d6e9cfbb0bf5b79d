"""The notes pre-annotation pipeline on its own (with the shipped terminologies): abbreviations defined in the text,
section headings, labels of common abbreviations, branches of HPO that are not findings."""
import pytest


@pytest.fixture(scope="module")
def pipeline(shipped_ontology_dir):
    from annotators.notes.preannotate import ClinicalPipeline
    from annotators.notes.schema import default_label_config
    from ontologies import OntologyStore

    p = ClinicalPipeline()
    p.setup("cpu", default_label_config(), None, {"ontologies": OntologyStore(shipped_ontology_dir)})
    return p


def spans_of(pipeline, text):
    payload, deid = pipeline.annotate(text)
    return {(s["text"], s["label"]) for s in payload["spans"] if s["layer"] == "entity"}, payload


def test_abbreviation_defined_in_the_note_takes_the_long_form_label(pipeline):
    found, payload = spans_of(pipeline, "Admitted with acute kidney injury (AKI). AKI improved with fluids.")
    assert ("acute kidney injury", "PROBLEM") in found
    aki = [s for s in payload["spans"] if s["text"] == "AKI"]
    assert len(aki) == 2 and all(s["label"] == "PROBLEM" for s in aki)


def test_headings_are_not_findings_but_numbered_problems_are(pipeline):
    found, _ = spans_of(pipeline, "Family History: none.\n1. Hypertension: continue lisinopril 10 mg daily.")
    assert not any(text.lower() == "family history" for text, _ in found)
    assert ("Hypertension", "PROBLEM") in found and ("lisinopril", "MEDICATION") in found


def test_tests_and_procedures_are_not_problems_and_modifiers_are_not_findings(pipeline):
    found, _ = spans_of(pipeline, "Severe onset of chest pain. EKG and CT ordered; s/p CABG in 2019.")
    labels = {text: label for text, label in found}
    assert labels.get("EKG") == "TEST" and labels.get("CT") == "TEST" and labels.get("CABG") == "PROCEDURE"
    assert "Severe" not in labels and "onset" not in labels
    assert labels.get("chest pain") == "PROBLEM"


def test_drugs_are_not_problems_through_poisoning_codes_and_toxicities_are_problems(pipeline):
    """cocaine and caffeine are names in ICD-10-CM's poisoning (T40.5) and use (F15) chapters: bare, they are drugs;
    "cocaine use disorder" is a problem, "cocaine use" (ICD-10-CM's F14.90, "use, unspecified") names the drug only
    (the issue: the use chapters link only where the text says poisoning or abuse). Words of the -toxicity/-itis/
    -aemia families are problems even where no vocabulary phrase matches."""
    found, _ = spans_of(pipeline, "Drinks caffeine daily; cocaine in the past. Cocaine use disorder. "
                                  "Developed nephrotoxicity and cardiotoxicity on cisplatin, then hyperkalaemia.")
    assert ("caffeine", "PROBLEM") not in found and ("cocaine", "PROBLEM") not in found
    assert ("caffeine", "MEDICATION") in found and ("cocaine", "MEDICATION") in found
    assert any(text.lower().startswith("cocaine use") and label == "PROBLEM" for text, label in found)
    assert {("nephrotoxicity", "PROBLEM"), ("cardiotoxicity", "PROBLEM"), ("hyperkalaemia", "PROBLEM")} <= found
    found, _ = spans_of(pipeline, "Admits to cocaine use on weekends and alcohol abuse.")
    assert ("cocaine", "MEDICATION") in found and not any(label == "PROBLEM" and "cocaine" in text
                                                          for text, label in found)
    assert ("alcohol abuse", "PROBLEM") in found


def test_drug_induced_problems_split_and_adjectives_name_findings(pipeline):
    """"X-induced Y": X is a medication and Y the problem; the adjective of a finding ("hypertensive") is a problem;
    eponyms match in text rebuilt from tokens ("Crohn ' s disease")."""
    found, _ = spans_of(pipeline, "Lithium-induced hypothyroidism in hypertensive adults with Crohn ' s disease.")
    assert {("Lithium", "MEDICATION"), ("hypothyroidism", "PROBLEM"), ("hypertensive", "PROBLEM"),
            ("Crohn ' s disease", "PROBLEM")} <= found


def test_document_definition_outranks_the_abbreviation_table(pipeline):
    """A short form defined in the note as a drug is that drug, not the table's problem sense ("CP": chest pain)."""
    found, payload = spans_of(pipeline, "Started cyclophosphamide (CP) in May. CP was stopped after two cycles.")
    cp = [s for s in payload["spans"] if s["text"] == "CP"]
    assert len(cp) == 2 and all(s["label"] == "MEDICATION" for s in cp)
    assert ("CP", "PROBLEM") not in found


def test_organ_problems_chemicals_and_codes(pipeline):
    found, _ = spans_of(pipeline, "Hepatic dysfunction after steroids and XR-4412; toxicity resolved.")
    assert {("Hepatic dysfunction", "PROBLEM"), ("steroids", "MEDICATION"), ("XR-4412", "MEDICATION"),
            ("toxicity", "PROBLEM")} <= found


def test_findings_named_only_inside_longer_vocabulary_titles(pipeline):
    """ICD-10-CM and HPO name these only in longer titles ("Nontraumatic hematoma of soft tissue"); an organ word
    before one joins it ("artery calcification"), as type words join a problem ("autonomic neuropathy")."""
    found, _ = spans_of(pipeline, "Hemolysis, a hematoma and bruising with bleeding; incontinence and a gastric "
                                  "ulcer. Artery calcification, autonomic neuropathy and neuropathic pain.")
    assert {("Hemolysis", "PROBLEM"), ("hematoma", "PROBLEM"), ("bruising", "PROBLEM"), ("bleeding", "PROBLEM"),
            ("incontinence", "PROBLEM"), ("Artery calcification", "PROBLEM"), ("autonomic neuropathy", "PROBLEM"),
            ("neuropathic pain", "PROBLEM")} <= found


def test_when_and_how_words_join_the_problem_after_them(pipeline):
    """"postoperative nausea and vomiting", "malignant hypertension", "daytime sleepiness": the word before narrows
    the finding and is part of its name; on its own it names nothing ("a malignant course")."""
    found, _ = spans_of(pipeline, "Postoperative nausea and vomiting; malignant hypertension with daytime "
                                  "sleepiness and interstitial fibrosis. A malignant course. Toxic hepatitis, "
                                  "tardive dystonia and intracranial aneurysms.")
    assert {("Postoperative nausea and vomiting", "PROBLEM"), ("malignant hypertension", "PROBLEM"),
            ("daytime sleepiness", "PROBLEM"), ("interstitial fibrosis", "PROBLEM"), ("Toxic hepatitis", "PROBLEM"),
            ("tardive dystonia", "PROBLEM"), ("intracranial aneurysms", "PROBLEM")} <= found
    assert not any(text.startswith("malignant course") for text, _ in found)


def test_units_plurals_gene_names_and_modalities_are_not_problem_abbreviations(pipeline):
    """Matched without regard to case, these were multiple myeloma ("mM"), ARDS ("RDs"), essential tremor ("ET-1")
    and mitral regurgitation ("MR imaging"); written in capitals as findings, the abbreviations still are."""
    found, _ = spans_of(pipeline, "Lactate 8.5 mM. Users of benzodiazepines or related drugs (BZDs / RDs). "
                                  "ET-1 synthesis rose; MR imaging was normal. Adverse effects were mild.\n"
                                  "Assessment: MR and RDS; he has AFib.")
    problems = [text for text, label in found if label == "PROBLEM"]
    assert "mM" not in problems and "RDs" not in problems and "Adverse effects" not in problems
    assert problems.count("MR") == 1 and "ET" not in problems
    assert {("MR", "PROBLEM"), ("RDS", "PROBLEM"), ("AFib", "PROBLEM")} <= found


def test_enzymes_and_proteins_are_not_medications_but_enzyme_drugs_are(pipeline):
    """A drug dictionary built from MeSH lists enzymes and transporters; notes name them as targets or lab values.
    Enzymes given as drugs (alteplase, collagenase ointment) stay medications."""
    found, _ = spans_of(pipeline, "ATPase and NO synthase activity fell; aminotransferase rose. Given alteplase, "
                                  "then collagenase ointment and propranolol.")
    medications = {text for text, label in found if label == "MEDICATION"}
    assert not {"ATPase", "NO synthase", "aminotransferase"} & medications
    assert {"alteplase", "collagenase", "propranolol"} <= medications


def test_drug_classes_are_medications_where_the_patient_is_given_them(pipeline):
    """"Started antibiotics", a class under Medications: this patient's medication; "neuroleptics may cause",
    "analgesic activity": a statement about drugs, no medication."""
    found, _ = spans_of(pipeline, "Neuroleptics may cause rigidity; analgesic activity was measured.\n"
                                  "Started antibiotics yesterday. Continue ACE inhibitor.\n"
                                  "Medications: anticoagulants.")
    medications = {text for text, label in found if label == "MEDICATION"}
    assert {"antibiotics", "ACE inhibitor", "anticoagulants"} <= medications
    assert not {"Neuroleptics", "analgesic"} & medications


def test_british_spellings_and_spaced_hyphens_match_the_vocabulary(pipeline):
    """The vocabularies write "Hemolytic-uremic syndrome", "Hemorrhage", "Anemia"; notes also write them with a
    space for the hyphen and in British spelling. "Tremor" has no British form to invent."""
    found, _ = spans_of(pipeline, "Hemolytic uremic syndrome, then haemolytic-uraemic syndrome with haemorrhage, "
                                  "anaemia and diarrhoea; a fine tremor.")
    problems = {text.lower() for text, label in found if label == "PROBLEM"}
    assert {"hemolytic uremic syndrome", "haemolytic-uraemic syndrome", "haemorrhage", "anaemia", "diarrhoea",
            "tremor"} <= problems


def test_phrase_variants_spell_findings_the_british_way_only_where_they_differ():
    from annotators.notes.lexicon import phrase_variants

    assert "haemorrhage" in phrase_variants("Hemorrhage") and "Anaemia" in phrase_variants("Anemia")
    assert "Dyspnoea" in phrase_variants("Dyspnea") and "Brain tumour" in phrase_variants("Brain tumor")
    assert phrase_variants("Tremor") == ["Tremors"] and phrase_variants("Hemiplegia") == ["Hemiplegias"]
    assert phrase_variants("Hemorrhage", plural=False) == []  # drug names: neither plurals nor British forms


def test_syndrome_names_damage_kinds_and_measured_quantities(pipeline):
    """Words before "syndrome" name one no vocabulary lists (and its abbreviation follows it); the word before
    "injury" says what was injured; a measured quantity without a word saying it is abnormal is no finding."""
    found, payload = spans_of(pipeline, "Neuroleptic malignant syndrome (NMS) was reported; NMS resolved. This rare "
                                        "syndrome recurred. Endothelial injury and podocyte injury. Intracranial "
                                        "pressure (ICP) was measured.")
    problems = [text for text, label in found if label == "PROBLEM"]
    assert {"Neuroleptic malignant syndrome", "NMS", "Endothelial injury", "podocyte injury"} <= set(problems)
    assert not any("rare" in p or p.lower() == "syndrome" for p in problems)
    assert not any("pressure" in p.lower() or p == "ICP" for p in problems)


def test_declining_organ_function_and_common_findings_are_problems(pipeline):
    found, _ = spans_of(pipeline, "Impaired renal function, then a reduction in renal function; renal function was "
                                  "normal before. History of drug abuse and malignancy; blood loss; thrombi.")
    problems = {text for text, label in found if label == "PROBLEM"}
    assert {"Impaired renal function", "reduction in renal function", "drug abuse", "malignancy", "blood loss",
            "thrombi"} <= problems
    assert "renal function" not in problems


def test_units_genotypes_and_listed_definitions(pipeline):
    """"moles / glomerulus" and "mole fraction" are units (a mole on the skin is a finding); "TR(-) rats" is a
    genotype, not tricuspid regurgitation; a definition may list more in its parentheses ("(HEM, n = 7)")."""
    found, payload = spans_of(pipeline, "41.8 moles / glomerulus; a mole fraction. A mole on the back. TR(-) rats. "
                                        "Bleeding by hemorrhage (HEM, n = 7) or infusion. HEM lowered pressure.")
    moles = [s for s in payload["spans"] if s["text"].lower().startswith("mole")]
    assert [(s["text"], s["label"]) for s in moles] == [("mole", "PROBLEM")]
    assert not any(text == "TR" for text, _ in found)
    assert [s["label"] for s in payload["spans"] if s["text"] == "HEM"] == ["PROBLEM", "PROBLEM"]


def test_spaced_compounds_and_nerve_damage(pipeline):
    """"gall stones" written in two words, "intravascular coagulation" without "disseminated", a damaged axon or
    cord ("axonal damage", "cord damage") are findings; "nerve" and "cord" alone are not."""
    found, _ = spans_of(pipeline, "Gall stones and intravascular coagulation; axonal damage and cord damage. "
                                  "The nerve and the cord were intact.")
    assert {("Gall stones", "PROBLEM"), ("intravascular coagulation", "PROBLEM"), ("axonal damage", "PROBLEM"),
            ("cord damage", "PROBLEM")} <= found
    assert not any(text in ("nerve", "cord") and label == "PROBLEM" for text, label in found)
