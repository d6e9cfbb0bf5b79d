"""Drug names from drug-named-entity-recognition's bundled dictionary (~20k drugs, ~107k names).

The dictionary ships as a bz2-compressed pickle inside that package; we read the file directly rather than
importing the package, whose import also reads a pickle cache from the user's home directory and prepares
network look-ups we must not make. Reading the package's own data file is the same trust as importing the package;
nothing we write is pickled.
"""
from __future__ import annotations

import bz2
import functools
import importlib.metadata
import os
import pickle
from collections import Counter

from ..errors import OntologyLoadError
from ..model import Concept, Terminology, TerminologyBuilder
from .reading import ProgressTracker, package_file

NAME = "drugs"
PACKAGE = "drug-named-entity-recognition"
DATA_FILE = "drug_ner_dictionary.pkl.bz2"
LICENCE = ("MIT (drug-named-entity-recognition, Fast Data Science); names compiled from DrugBank open data, MeSH, "
           "MedlinePlus, Wikipedia and the NHS - check those sources' terms before redistribution")


def data_path() -> str:
    return package_file("drug_named_entity_recognition", PACKAGE, DATA_FILE)


def shipped_version() -> str:
    return importlib.metadata.version(PACKAGE)


def load(paths, name: str | None, version: str | None, tracker: ProgressTracker,
         encoding: str | None = None) -> Terminology:
    path = data_path()
    try:
        with bz2.open(path, "rb") as handle:
            dictionary = pickle.load(handle)  # the package's own shipped data (see module docstring)
        variant_to_canonical = dictionary["drug_variant_to_canonical"]
        canonical_data = dictionary["drug_canonical_to_data"]
        variant_data = dictionary.get("drug_variant_to_variant_data", {})
    except (OSError, EOFError, KeyError, pickle.UnpicklingError) as exc:
        raise OntologyLoadError(f"unreadable drug dictionary ({type(exc).__name__})", path) from None
    tracker.set_fraction(0.5)

    synonyms: dict[str, list[str]] = {}
    for variant, canonicals in variant_to_canonical.items():
        for canonical in canonicals:
            synonyms.setdefault(canonical, []).append(variant)
    mesh_use = Counter(data.get("mesh_id") for data in canonical_data.values() if data.get("mesh_id"))

    builder = TerminologyBuilder(name or NAME, version or shipped_version(), f"{PACKAGE} {shipped_version()}",
                                 LICENCE)
    for position, canonical in enumerate(sorted(set(canonical_data) | set(synonyms))):
        data = canonical_data.get(canonical, {})
        attributes = {key: data[key] for key in ("drugbank_id", "mesh_id", "medline_plus_id", "wikipedia_url")
                      if data.get(key)}
        brands = [variant for variant in synonyms.get(canonical, []) if variant_data.get(variant, {}).get("is_brand")]
        if brands:
            attributes["brand_names"] = brands
        attributes["semantic_types"] = ["drug"]
        builder.add(Concept(code=_code_for(canonical, data, mesh_use), name=data.get("name") or canonical,
                            synonyms=synonyms.get(canonical, []), attributes=attributes), (DATA_FILE, position + 1))
    return builder.build()


def _code_for(canonical: str, data: dict, mesh_use: Counter) -> str:
    """A stable public identifier: DrugBank id, else a MeSH id used by this drug alone, else MedlinePlus, else the
    canonical name itself (unique in the dictionary)."""
    if data.get("drugbank_id"):
        return data["drugbank_id"]
    if data.get("mesh_id") and mesh_use[data["mesh_id"]] == 1:
        return data["mesh_id"]
    if data.get("medline_plus_id"):
        return data["medline_plus_id"]
    return canonical


@functools.lru_cache(maxsize=1)
def variant_names() -> frozenset[str]:
    """Every lower-case drug name and brand in the shipped dictionary (~107k; read once, ~1 s): for callers that
    only need to know whether a word names a drug, without building the terminology's index."""
    try:
        with bz2.open(data_path(), "rb") as handle:
            dictionary = pickle.load(handle)  # the package's own shipped data (see module docstring)
        return frozenset(name.lower() for name in dictionary["drug_variant_to_canonical"])
    except (OSError, EOFError, KeyError, pickle.UnpicklingError) as exc:
        raise OntologyLoadError(f"unreadable drug dictionary ({type(exc).__name__})", data_path()) from None
