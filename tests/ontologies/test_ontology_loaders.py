"""Every loader on its fixture: concepts, names, synonyms, hierarchy, semantic types and progress reporting."""
import os

from ontologies import SHIPPED_TERMINOLOGIES, load_terminology


def _load(data_dir, fmt, relative, **kwargs):
    paths = [os.path.join(data_dir, part) for part in relative] if isinstance(relative, list) \
        else os.path.join(data_dir, relative)
    return load_terminology(fmt, paths, **kwargs)


def test_umls_concepts_synonyms_languages_and_suppression(data_dir):
    progress = []
    term = _load(data_dir, "umls", ["umls"], version="2024AB", progress=progress.append)
    assert term.name == "umls" and term.version == "2024AB" and "UMLS" in term.licence
    hypertension = term.concepts["C0020538"]
    assert hypertension.name == "Hypertensive disease"  # TS=P, STT=PF, ISPREF=Y string
    assert set(hypertension.synonyms) == {"Hypertension", "High blood pressure"}  # FRE and suppressible "HTN" left out
    assert "Juvenile-Onset Diabetes Mellitus" not in term.concepts["C0011854"].synonyms  # obsolete (SUPPRESS=O)
    assert progress[-1] == 100 and progress == sorted(progress)


def test_umls_hierarchy_reads_par_and_chd_right_to_left(data_dir):
    term = _load(data_dir, "umls", ["umls"])
    assert term.concepts["C0020538"].parents == ["C0012634"]  # PAR row and its CHD mirror give one link
    assert term.concepts["C0011860"].parents == ["C0011849"]  # from a CHD row only
    assert term.concepts["C0018802"].parents == ["C0018801"]
    assert term.concepts["C0012634"].parents == []  # the RO row is not a hierarchy link
    assert any("C0234428" in warning for warning in term.warnings)  # dangling parent dropped, with a warning


def test_umls_semantic_types_and_options(data_dir):
    term = _load(data_dir, "umls", ["umls"], keep_suppressible=True, languages=("ENG", "FRE"))
    assert term.concepts["C0025598"].semantic_types == ["Organic Chemical", "Pharmacologic Substance"]
    assert "HTN" in term.concepts["C0020538"].synonyms
    assert "Hypertension artérielle" in term.concepts["C0020538"].synonyms


def test_umls_files_given_by_role(data_dir):
    folder = os.path.join(data_dir, "umls")
    term = load_terminology("umls", {"MRCONSO": os.path.join(folder, "MRCONSO.RRF")})
    assert term.concepts["C0020538"].parents == []  # no MRREL given
    assert term.concepts["C0020538"].semantic_types == []


def test_snomed_snapshot(data_dir):
    term = _load(data_dir, "snomed", ["snomed"])
    assert term.version == "20240101"
    assert "155296003" not in term.concepts  # inactive concept
    hypertension = term.concepts["38341003"]
    assert hypertension.name == "Hypertensive disorder"  # preferred term from the US English language refset
    assert "Hypertension" in hypertension.synonyms and "Hyperpiesia" not in hypertension.synonyms
    assert hypertension.semantic_types == ["disorder"]
    assert hypertension.attributes["fully_specified_name"] == "Hypertensive disorder, systemic arterial (disorder)"
    assert term.concepts["59621000"].parents == ["38341003"]
    assert term.concepts["91175000"].parents == ["404684003"]  # the inactive is-a row is ignored
    assert term.concepts["22298006"].parents == ["64572001"]  # finding site is not is-a


def test_snomed_without_language_refset_uses_fsn_without_tag(data_dir):
    folder = os.path.join(data_dir, "snomed")
    files = [os.path.join(folder, name) for name in os.listdir(folder) if name.startswith("sct2_")]
    term = load_terminology("snomed", files)
    assert term.concepts["38341003"].name == "Hypertensive disorder, systemic arterial"


def test_rxnorm_names_term_types_and_ingredient_hierarchy(data_dir):
    term = _load(data_dir, "rxnorm", ["rxnorm"])
    metformin = term.concepts["6809"]
    assert metformin.name == "metformin" and metformin.semantic_types == ["IN"]
    assert "METFORMIN" not in metformin.synonyms  # same words as the name, different case only
    assert term.concepts["861007"].parents == ["6809"]  # has_ingredient, read right to left
    assert term.concepts["151827"].parents == ["6809"]  # brand name -> ingredient
    assert term.concepts["861008"].parents == ["861007"]  # branded drug -> clinical drug
    assert term.concepts["314076"].parents == ["29046"]  # has_dose_form is not a parent link
    assert "Coumadin (warfarin)" not in term.concepts["11289"].synonyms  # obsolete string


def test_loinc_table(data_dir):
    term = _load(data_dir, "loinc", "loinc/Loinc.csv")
    glucose = term.concepts["2345-7"]
    assert glucose.name == "Glucose [Mass/volume] in Serum or Plasma"
    assert "Glucose SerPl-mCnc" in glucose.synonyms and glucose.semantic_types == ["CHEM"]
    assert glucose.attributes["system"] == "Ser/Plas"
    assert "99999-9" not in term.concepts  # deprecated
    assert "99999-9" in _load(data_dir, "loinc", "loinc/Loinc.csv", include_deprecated=True).concepts
    assert len(term) == 24


def test_obo_terms_synonyms_obsolete_and_alt_ids(data_dir):
    term = _load(data_dir, "obo", "sample.obo")
    assert term.name == "hp" and term.version == "2025-01-16" and "hpo.jax.org" in term.licence
    seizure = term.concepts["HP:0001250"]
    assert set(seizure.synonyms) == {"Epileptic seizure", "Seizures", "Fits"}  # the obsolete synonym is left out
    assert seizure.attributes["alt_ids"] == ["HP:0002279", "HP:0002391"]
    assert "intermittent abnormality" in seizure.attributes["definition"]
    assert "Neurologic disorder" not in term.concepts["HP:0000707"].synonyms  # BROAD synonym
    assert term.concepts["HP:0000707"].attributes["definition"] == 'An abnormality of the "nervous system".'
    assert term.concepts["HP:0000252"].parents == ["HP:0000240", "HP:0000707"]
    assert "HP:0000057" not in term.concepts and "part_of" not in term.concepts


def test_owl_classes(data_dir):
    term = _load(data_dir, "owl", "sample.owl", name="mondo_excerpt")
    assert term.version == "2024-06-04" and "creativecommons" in term.licence
    diabetes = term.concepts["MONDO:0005015"]
    assert diabetes.name == "diabetes mellitus" and diabetes.synonyms == ["diabetes", "DM"]
    assert diabetes.parents == ["MONDO:0005151"]  # the anonymous restriction is not a parent
    assert "MONDO:0000000" not in term.concepts and "MONDO:9999999" not in term.concepts
    assert term.concepts["MONDO:0007915"].synonyms[-1] == "lupus érythémateux disséminé"
    assert "endocrine" in term.concepts["MONDO:0005151"].attributes["definition"]


def test_tabular_csv_and_tsv(data_dir):
    wounds = _load(data_dir, "tabular", "sample.csv", name="wounds", version="1")
    assert wounds.concepts["W01.1"].name == "Pressure injury, stage 1"  # quoted comma
    assert wounds.concepts["W01"].synonyms == ["pressure ulcer", "bed sore", "decubitus ulcer"]
    assert wounds.concepts["W02.2"].parents == ["W02", "W03"]
    assert wounds.concepts["W01.1"].billable is True and wounds.concepts["W01"].billable is False
    assert wounds.concepts["W01"].attributes["notes"] == "Staged per NPIAP, 2016"
    scales = _load(data_dir, "tsv", "sample.tsv", name="scales", version="1")
    assert scales.concepts["NYHA1"].synonyms == ["no limitation of physical activity", '"asymptomatic" heart failure']
    assert scales.concepts["ECOG3"].parents == ["ECOG"] and scales.concepts["ECOG"].billable is None


def test_builtin_label_sets():
    phases = load_terminology("cholec80_phases")
    assert list(phases.concepts) == ["Preparation", "CalotTriangleDissection", "ClippingCutting",
                                     "GallbladderDissection", "GallbladderPackaging", "CleaningCoagulation",
                                     "GallbladderRetraction"]
    assert phases.concepts["CalotTriangleDissection"].name == "Calot triangle dissection"
    segments = load_terminology("consult_segments")
    for code in ("greeting", "history_taking", "examination", "diagnosis_discussion", "treatment_plan",
                 "medication_counselling", "closing", "other"):
        assert code in segments.concepts


def test_shipped_terminologies_are_listed():
    assert set(SHIPPED_TERMINOLOGIES) == {"icd10cm", "hpo", "drugs", "consult_segments", "cholec80_phases"}


def test_shipped_icd10cm_structure(shipped_store):
    e119 = shipped_store.concept("icd10cm", "E11.9")
    assert e119["billable"] is True and e119["parents"] == [{"code": "E11", "name": "Type 2 diabetes mellitus"}]
    e11 = shipped_store.concept("icd10cm", "E11")
    assert e11["billable"] is False and "diabetes NOS" in e11["synonyms"]
    assert "Seizure NOS" in shipped_store.concept("icd10cm", "R56.9")["synonyms"]  # nonessential modifiers dropped
    entry = next(item for item in shipped_store.available() if item["name"] == "icd10cm")
    assert entry["concept_count"] > 98000 and entry["shipped"] and "Public domain" in entry["licence"]


def test_shipped_hpo_and_drugs(shipped_store):
    seizure = shipped_store.concept("hpo", "HP:0001250")
    assert seizure["name"] == "Seizure" and seizure["semantic_types"] == ["Phenotypic abnormality"]
    assert shipped_store.concept("hpo", "HP:0000006")["semantic_types"] == ["Mode of inheritance"]
    atorvastatin = shipped_store.concept("drugs", "DB01076")
    assert atorvastatin["name"] == "Atorvastatin" and "lipitor" in atorvastatin["synonyms"]
    counts = {item["name"]: item["concept_count"] for item in shipped_store.available()}
    assert counts["hpo"] > 18000 and counts["drugs"] > 19000 and counts["cholec80_phases"] == 7


def test_owl_merges_repeated_class_axioms_and_skips_unlabelled_declarations(tmp_path):
    owl = """<?xml version="1.0"?>
<rdf:RDF xmlns:owl="http://www.w3.org/2002/07/owl#" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">
  <owl:Class rdf:about="http://purl.obolibrary.org/obo/X_1"><rdfs:label>root</rdfs:label></owl:Class>
  <owl:Class rdf:about="http://purl.obolibrary.org/obo/X_2"><rdfs:label>child</rdfs:label></owl:Class>
  <owl:Class rdf:about="http://purl.obolibrary.org/obo/X_2">
    <rdfs:subClassOf rdf:resource="http://purl.obolibrary.org/obo/X_1"/>
  </owl:Class>
  <owl:Class rdf:about="http://purl.obolibrary.org/obo/OTHER_9"/>
</rdf:RDF>"""
    path = tmp_path / "tiny.owl"
    path.write_text(owl, encoding="utf-8")
    term = load_terminology("owl", str(path))
    assert list(term.concepts) == ["X:1", "X:2"] and term.concepts["X:2"].parents == ["X:1"]
    assert "1 class(es) without rdfs:label were skipped" in term.warnings
