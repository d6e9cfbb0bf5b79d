"""Clinlabel ontologies: terminology loaders, concept search and entity-linking candidates (pure Python).

    store = OntologyStore("var/ontologies")
    store.ensure_shipped()                      # ICD-10-CM, HPO, drugs, consult segments, Cholec80 phases
    store.search("CHF exacerbation", ["icd10cm"])
    store.import_files("snomed", ["/data/SnomedCT_.../Snapshot"], version="20240101")
"""
from .abbreviations import expand_query, load_abbreviations
from .errors import OntologyLoadError, QueryError
from .evaluation import evaluate, load_benchmark
from .index import ConceptIndex
from .loaders import FORMATS, SHIPPED_VERSIONS, load_terminology
from .model import Concept, Terminology, TerminologyBuilder
from .search import MAX_QUERY_LENGTH, expansions_for, run_search
from .store import OntologyStore
from .text import normalize, normalize_code, normalize_mention

SHIPPED_TERMINOLOGIES = tuple(SHIPPED_VERSIONS)

__all__ = [
    "Concept", "ConceptIndex", "FORMATS", "MAX_QUERY_LENGTH", "OntologyLoadError", "OntologyStore", "QueryError",
    "SHIPPED_TERMINOLOGIES", "SHIPPED_VERSIONS", "Terminology", "TerminologyBuilder", "evaluate", "expand_query",
    "expansions_for", "load_abbreviations", "load_benchmark", "load_terminology", "normalize", "normalize_code",
    "normalize_mention", "run_search",
]
