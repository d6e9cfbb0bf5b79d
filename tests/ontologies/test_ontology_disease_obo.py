"""MONDO and DOID through the OBO loader: name, version and licence from the header; subsets, xrefs (ICD-10-CM among
them), synonym scopes and abbreviation types kept per term; obsolete terms left out."""
import os

import pytest

from ontologies.loaders import load_terminology
from ontologies.loaders.obo import _release


@pytest.fixture(scope="module")
def mondo(data_dir):
    return load_terminology("obo", os.path.join(data_dir, "mondo", "mondo-excerpt.obo"))


@pytest.fixture(scope="module")
def doid(data_dir):
    return load_terminology("obo", os.path.join(data_dir, "doid", "doid-excerpt.obo"))


def test_name_version_and_licence_come_from_the_header(mondo, doid):
    assert (mondo.name, mondo.version) == ("mondo", "2026-08-21")  # not "mondo.owl" from the data-version URL
    assert mondo.licence == "https://creativecommons.org/licenses/by/4.0/"
    assert (doid.name, doid.version) == ("doid", "2016-09-01")
    assert doid.licence == "http://creativecommons.org/licenses/by/3.0/"  # from the header's remark
    for concept in [*mondo.concepts.values(), *doid.concepts.values()]:
        assert concept.terminology == concept.code.split(":")[0].lower() or concept.code.startswith("HP:")


def test_an_explicit_name_and_version_win(data_dir):
    term = load_terminology("obo", os.path.join(data_dir, "doid", "doid-excerpt.obo"), name="do", version="v1")
    assert (term.name, term.version) == ("do", "v1")


@pytest.mark.parametrize("value, release", [
    ("http://purl.obolibrary.org/obo/mondo/releases/2024-06-04/mondo.owl", "2024-06-04"),
    ("doid/releases/2026-07-31/doid.obo", "2026-07-31"),
    ("releases/2016-09-01", "2016-09-01"),
    ("hp/releases/2025-01-16", "2025-01-16"),
    ("v3.2", "v3.2"),
    ("http://example.org/x/v7/x.owl", "v7"),
])
def test_release_read_from_data_version(value, release):
    assert _release(value) == release


def test_synonym_scopes_abbreviations_subsets_and_xrefs(mondo):
    t2dm = mondo.concepts["MONDO:0005148"]
    scopes = t2dm.attributes["synonym_scopes"]
    assert scopes["type II diabetes mellitus"] == "EXACT" and scopes["adult-onset diabetes"] == "RELATED"
    assert t2dm.attributes["abbreviations"] == ["NIDDM"]
    assert t2dm.attributes["subsets"] == ["ordo_disease"]
    assert t2dm.attributes["xrefs"] == ["DOID:9352", "ICD10CM:E11"]  # qualifiers and comments stripped
    assert t2dm.attributes["icd10cm"] == ["E11"]
    assert mondo.concepts["MONDO:0005044"].attributes["icd10cm"] == ["I10-I16", "I15"]
    infarction = mondo.concepts["MONDO:0005068"]
    assert infarction.attributes["synonym_scopes"]["myocardial necrosis"] == "BROAD"
    assert "myocardial necrosis" not in infarction.synonyms  # BROAD: recorded, not a search name
    assert "heart attack" in infarction.synonyms


def test_doid_icd10cm_xrefs_and_obsolete_terms(doid):
    hypertension = doid.concepts["DOID:10763"]
    assert hypertension.attributes["icd10cm"] == ["I10", "I10-I15"]
    assert "ICD9CM:401-405.99" in hypertension.attributes["xrefs"]
    assert hypertension.attributes["synonym_scopes"]["hypertensive disease"] == "RELATED"
    subsets = doid.concepts["DOID:1612"].attributes["subsets"]
    assert subsets == ["DO_cancer_slim", "DO_MGI_slim", "TopNodes_DOcancerslim"]
    assert "DOID:0050001" not in doid.concepts  # is_obsolete: true
    assert doid.concepts["DOID:9352"].parents  # the hierarchy up to DOID:4 is complete in the excerpt


def test_obsolete_mondo_term_and_typedefs_are_not_concepts(mondo):
    assert "MONDO:0001486" not in mondo.concepts and "RO:0002573" not in mondo.concepts
    assert "HP:0001945" in mondo.concepts  # imported terms load; the pre-annotator leaves them out


def test_other_xref_spellings_of_icd10cm(tmp_path):
    path = tmp_path / "x.obo"
    path.write_text("format-version: 1.2\nontology: x\nlicense: CC0\n\n[Term]\nid: X:1\nname: one\n"
                    'xref: ICD-10-CM:K35.80 "Unspecified acute appendicitis"\nxref: ICD10CM_2016:K37\n'
                    "xref: ICD10:K35\n", encoding="utf-8")
    term = load_terminology("obo", str(path), version="1")
    assert term.licence == "CC0"
    assert term.concepts["X:1"].attributes["icd10cm"] == ["K35.80", "K37"]  # ICD-10 (WHO) is another code system
    assert term.concepts["X:1"].attributes["xrefs"][0] == "ICD-10-CM:K35.80"
