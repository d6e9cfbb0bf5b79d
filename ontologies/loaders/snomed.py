"""SNOMED CT RF2 snapshot (user-supplied, licensed): sct2_Concept, sct2_Description and sct2_Relationship files,
plus an optional language refset (der2_cRefset_Language...) to pick preferred terms.

Only active rows are used. The name is the preferred synonym when a language refset is given, otherwise the fully
specified name without its semantic tag; the tag ("disorder", "finding", ...) becomes the semantic type.
"""
from __future__ import annotations

import re

from ..errors import OntologyLoadError
from ..model import Concept, Terminology, TerminologyBuilder
from .reading import ProgressTracker, pick_files, read_header_rows

LICENCE = "SNOMED CT Affiliate Licence (user-supplied; use is limited to licensed territories)"
IS_A = "116680003"
FSN = "900000000000003001"
SYNONYM = "900000000000013009"
PREFERRED = "900000000000548007"
US_ENGLISH = "900000000000509007"
# Trailing underscores keep sct2_RelationshipConcreteValues (newer releases) from passing for sct2_Relationship.
FILES = {"concept": ("sct2_concept_",), "description": ("sct2_description_",),
         "relationship": ("sct2_relationship_",), "language": ("der2_crefset_language",)}
_TAG = re.compile(r"\s*\(([^()]+)\)\s*$")


def load(paths, name: str | None, version: str | None, tracker: ProgressTracker, encoding: str | None = None,
         language_refset: str = US_ENGLISH) -> Terminology:
    files = pick_files(paths, FILES, "SNOMED CT RF2")
    for role in ("concept", "description"):
        if role not in files:
            raise OntologyLoadError(f"SNOMED CT needs an sct2_{role.capitalize()} snapshot file")
    release = re.search(r"_(\d{8})\.txt", files["concept"])
    builder = TerminologyBuilder(name or "snomedct", version or (release.group(1) if release else "unversioned"),
                                 "SNOMED CT RF2 snapshot", LICENCE)

    active: dict[str, int] = {}
    seen: dict[str, int] = {}
    concept_file = files["concept"]
    for line_no, row in read_header_rows(concept_file, "\t", ("id", "active"), encoding, tracker, quoted=False):
        concept_id = row["id"].strip()
        if concept_id in seen:
            raise OntologyLoadError(f"duplicate concept id {concept_id} in a snapshot (first on line "
                                    f"{seen[concept_id]})", concept_file, line_no)
        seen[concept_id] = line_no
        if row["active"].strip() == "1":
            active[concept_id] = line_no

    preferred_ids = _preferred_description_ids(files.get("language"), language_refset, encoding, tracker)
    fsn: dict[str, tuple[str, int]] = {}
    preferred: dict[str, str] = {}
    synonyms: dict[str, list[str]] = {}
    description_file = files["description"]
    required = ("id", "active", "conceptid", "typeid", "term")
    for line_no, row in read_header_rows(description_file, "\t", required, encoding, tracker, quoted=False):
        concept_id = row["conceptid"]
        if row["active"] != "1" or concept_id not in active:
            continue
        if row["typeid"] == FSN:
            fsn.setdefault(concept_id, (row["term"], line_no))
        else:
            synonyms.setdefault(concept_id, []).append(row["term"])
            if row["id"] in preferred_ids:
                preferred.setdefault(concept_id, row["term"])

    for concept_id, concept_line in active.items():
        full_name = fsn.get(concept_id, (None, 0))[0]
        terms = synonyms.get(concept_id, [])
        if full_name is None and not terms:
            raise OntologyLoadError(f"active concept {concept_id} has no active description", concept_file,
                                    concept_line)
        tag_match = _TAG.search(full_name or "")
        bare_name = _TAG.sub("", full_name) if full_name else None
        name_text = preferred.get(concept_id) or bare_name or terms[0]
        builder.add(Concept(code=concept_id, name=name_text, synonyms=[*terms, bare_name or ""],
                            attributes={"semantic_types": [tag_match.group(1)] if tag_match else [],
                                        "fully_specified_name": full_name or ""}),
                    (concept_file, concept_line))

    if "relationship" in files:
        path = files["relationship"]
        required = ("active", "sourceid", "destinationid", "typeid")
        for line_no, row in read_header_rows(path, "\t", required, encoding, tracker, quoted=False):
            if row["active"] == "1" and row["typeid"] == IS_A:
                builder.add_parent(row["sourceid"], row["destinationid"], (path, line_no))
    return builder.build()


def _preferred_description_ids(path: str | None, refset: str, encoding: str | None,
                               tracker: ProgressTracker) -> set[str]:
    if not path:
        return set()
    required = ("active", "refsetid", "referencedcomponentid", "acceptabilityid")
    return {row["referencedcomponentid"]
            for _, row in read_header_rows(path, "\t", required, encoding, tracker, quoted=False)
            if row["active"] == "1" and row["refsetid"] == refset and row["acceptabilityid"] == PREFERRED}
