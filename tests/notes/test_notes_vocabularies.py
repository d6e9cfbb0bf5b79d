"""Disease vocabularies beyond ICD-10-CM/HPO: MONDO and DOID are used for PROBLEM spans when loaded and skipped when
not; their grouping classes, non-human / characteristic / susceptibility branches, imported terms, abbreviations
and non-EXACT synonyms are not matched; candidates carry the ICD-10-CM codes the concept cross-references."""
import os

import pytest

from annotators.notes import preannotate, vocabularies
from annotators.notes.schema import default_label_config
from ontologies import OntologyStore

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "ontologies")
MONDO = os.path.join(DATA, "mondo", "mondo-excerpt.obo")
DOID = os.path.join(DATA, "doid", "doid-excerpt.obo")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = OntologyStore(str(tmp_path_factory.mktemp("disease-store")))
    store.import_files("obo", MONDO)
    store.import_files("obo", DOID)
    return store


@pytest.fixture(scope="module")
def pipeline(store):
    config = {**default_label_config(), "phi_labels": []}
    p = preannotate.ClinicalPipeline()
    p.setup("cpu", config, None, {"ontologies": store})
    return p


def names_kept(store, name):
    index = store.index(name)
    keep = vocabularies.usable_concepts(name, index)
    return {index.concept_name(i) for i in range(len(index.codes)) if keep[i]}


def test_default_problem_terminologies_are_used_only_when_loaded(store, tmp_path):
    config = default_label_config()
    assert config["entity_labels"][0]["terminologies"] == ["icd10cm", "hpo", "mondo", "doid"]
    assert vocabularies.loaded(config, store)["PROBLEM"] == ["mondo", "doid"]  # no ICD-10-CM/HPO in this store
    empty = OntologyStore(str(tmp_path / "empty"))
    assert vocabularies.loaded(config, empty)["PROBLEM"] == []
    assert vocabularies.loaded(config, None)["PROBLEM"] == []
    assert vocabularies.problem_label({"entity_labels": [{"name": "DX", "terminologies": ["mondo"]}]}) == "DX"
    assert vocabularies.problem_label({"entity_labels": [{"name": "RX", "terminologies": ["drugs"]}]}) is None


def test_mondo_exclusions(store):
    kept = names_kept(store, "mondo")
    assert {"disease", "human disease"}.isdisjoint(kept)  # root and its direct children: grouping classes
    assert {"non-human animal disease", "hip dysplasia, canine"}.isdisjoint(kept)
    assert {"disease susceptibility", "susceptibility to HIV infection", "disease characteristic", "rare"}.isdisjoint(
        kept)
    assert "fever" not in kept  # HP:0001945, imported
    assert {"type 2 diabetes mellitus", "hypertensive disorder", "cardiovascular disorder"} <= kept


def test_doid_exclusions(store):
    kept = names_kept(store, "doid")
    assert {"disease", "disease of anatomical entity", "disease of cellular proliferation",
            "disease by infectious agent", "disease of metabolism"}.isdisjoint(kept)
    assert {"hypertension", "malaria", "breast cancer", "cancer"} <= kept


def test_only_exact_synonyms_that_are_not_abbreviations_become_phrases(store):
    index = store.index("mondo")
    titles = vocabularies.titles("mondo", index, index.find_code("MONDO:0005148"))
    assert set(titles) == {"type 2 diabetes mellitus", "type II diabetes mellitus",
                           "non-insulin-dependent diabetes mellitus"}  # not NIDDM (ABBREVIATION), T2DM (one
    # ALL-CAPS word), adult-onset diabetes (RELATED)
    doid = store.index("doid")
    titles = vocabularies.titles("doid", doid, doid.find_code("DOID:10763"))
    assert "HTN" not in titles and "hypertensive disease" not in titles and "hyperpiesia" in titles


def test_the_matcher_links_mondo_and_doid_diseases_in_a_note(pipeline):
    text = ("Assessment: 67 year old with type II diabetes mellitus and paralysis agitans, "
            "back from Kenya with malaria. History of hip dysplasia, canine type. Fever.")
    payload, _ = pipeline.annotate(text)
    problems = {s["text"]: s for s in payload["spans"] if s["label"] == "PROBLEM"}
    assert problems["type II diabetes mellitus"]["concept"]["code"] in ("MONDO:0005148", "DOID:9352")
    assert problems["paralysis agitans"]["concept"]["code"] == "MONDO:0005180"
    assert problems["malaria"]["concept"] == {"terminology": "doid", "code": "DOID:12365", "name": "malaria"}
    assert not any("canine" in t for t in problems)


def test_candidates_carry_icd10cm_xrefs_and_the_payload_validates(pipeline):
    from annotators.base import registry

    payload, _ = pipeline.annotate("Known type II diabetes mellitus; now malaria.")
    spans = {s["text"]: s for s in payload["spans"] if s["label"] == "PROBLEM"}
    codes = {c["code"]: c.get("icd10cm") for c in spans["type II diabetes mellitus"]["candidates"]}
    assert codes["MONDO:0005148"] == ["E11"]
    assert {c["code"]: c.get("icd10cm") for c in spans["malaria"]["candidates"]}["DOID:12365"] == ["B54"]
    registry.get("notes").validate_payload(payload, pipeline.config)


def test_matcher_cache_key_follows_the_loaded_terminologies(store, tmp_path, monkeypatch):
    other = OntologyStore(str(tmp_path / "only-doid"))
    other.import_files("obo", DOID)
    config = {"entity_labels": [{"name": "PROBLEM", "terminologies": ["icd10cm", "hpo", "mondo", "doid"]}]}
    monkeypatch.setattr(preannotate, "_MATCHERS", {})
    text = "Paralysis agitans and malaria."
    assert [s["text"] for s in preannotate._matcher(config, other).match(text)] == ["malaria"]
    other.import_files("obo", MONDO)  # MONDO loaded later: a new matcher, with MONDO's names
    assert [s["text"] for s in preannotate._matcher(config, other).match(text)] == ["Paralysis agitans", "malaria"]
    assert vocabularies.store_state(other)[0][0] == "doid"
