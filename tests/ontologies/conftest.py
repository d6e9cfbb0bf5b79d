"""Shared fixtures: the shipped terminologies are built once per test session into a temporary cache."""
import os

import pytest

from ontologies import OntologyStore

DATA_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "data", "ontologies"))


@pytest.fixture(scope="session")
def data_dir() -> str:
    return DATA_DIR


@pytest.fixture(scope="session")
def shipped_store(tmp_path_factory) -> OntologyStore:
    """ICD-10-CM, HPO, drugs and the built-in label sets, built once (a few seconds) and shared."""
    store = OntologyStore(str(tmp_path_factory.mktemp("ontology-cache")))
    store.ensure_shipped()
    return store


@pytest.fixture(scope="session")
def fixture_store(tmp_path_factory) -> OntologyStore:
    """Every user-file format loaded from the fixtures under tests/data/ontologies."""
    store = OntologyStore(str(tmp_path_factory.mktemp("fixture-cache")))
    store.import_files("umls", [os.path.join(DATA_DIR, "umls")], version="2024AB")
    store.import_files("snomed", [os.path.join(DATA_DIR, "snomed")])
    store.import_files("rxnorm", [os.path.join(DATA_DIR, "rxnorm")], version="20240902")
    store.import_files("loinc", os.path.join(DATA_DIR, "loinc", "Loinc.csv"), version="2.78")
    store.import_files("obo", os.path.join(DATA_DIR, "sample.obo"), name="hpo_excerpt")
    store.import_files("owl", os.path.join(DATA_DIR, "sample.owl"), name="mondo_excerpt")
    store.import_files("tabular", os.path.join(DATA_DIR, "sample.csv"), name="wounds", version="1")
    store.import_files("tabular", os.path.join(DATA_DIR, "sample.tsv"), name="scales", version="1")
    return store
