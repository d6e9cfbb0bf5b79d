"""Which terminologies and which of their concepts and names the notes pre-annotator matches and links.

PROBLEM spans link to ICD-10-CM and HPO (shipped) and to the disease ontologies MONDO and DOID when a user has
loaded them (`flask ontology load obo mondo.obo`); a bound terminology that is not loaded is skipped silently, so
one label configuration serves every site. From the OBO disease ontologies only what names a disease is matched:
not their roots and the grouping classes right under a root ("disease", "human disease", "disease of anatomical
entity"), not MONDO's branches that name no human disease (non-human animal disease, disease characteristic,
disease susceptibility), not terms they import from other ontologies, and of their names only the preferred name
and EXACT synonyms that are neither abbreviations nor one ALL-CAPS word ("HTN", "NIDDM": the abbreviation table and
the search resolve those in context).
"""
from __future__ import annotations

import re

# The terminologies a problem label is bound to by default, in the order their concepts are preferred.
PROBLEM_TERMINOLOGIES = ("icd10cm", "hpo", "mondo", "doid")
# Disease ontologies loaded from OBO files whose concepts and synonyms pass the filters below.
DISEASE_ONTOLOGIES = frozenset({"mondo", "doid"})
# Synonym scopes that become match phrases. RELATED ("hypertensive disease" for hypertension, "lung neoplasm" for
# lung cancer) and NARROW/BROAD name another concept too often; they stay search names only.
MATCH_SCOPES = frozenset({"EXACT"})
# MONDO's branches that name no human disease (compared by name, lower case, and by code).
EXCLUDED_BRANCHES = frozenset({"non-human animal disease", "disease characteristic", "disease susceptibility"})
EXCLUDED_BRANCH_CODES = frozenset({"MONDO:0005583", "MONDO:0021125", "MONDO:0042489"})

# Branches of a terminology that describe or qualify findings, or the circumstances of care, without naming a
# finding: HPO's "Clinical modifier" ("severe", "onset", "distal", "progressive"), "Mode of inheritance" ("autosomal
# dominant"), "Frequency", "Blood group" and "Health status" ("affected", "healthy"); ICD-10-CM's external causes
# (V00-Y99: "activity", "car accident") and factors influencing health status (Z00-Z99: "donor", "counseling").
# Their names are not problems, whatever label the terminology is bound to. Names compare without a code range.
NON_FINDING_BRANCHES = frozenset({
    "clinical modifier", "mode of inheritance", "frequency", "blood group", "health status",
    "external causes of morbidity", "factors influencing health status and contact with health services",
})
_CODE_RANGE = re.compile(r"\s*\([A-Z]\d+[A-Z0-9.]*-[A-Z]\d+[A-Z0-9.]*\)\s*$")
_ONE_CAPS_WORD = re.compile(r"^[A-Z0-9][A-Z0-9-]*$")


def label_terminologies(config: dict) -> dict[str, list[str]]:
    return {label["name"]: list(label.get("terminologies", [])) for label in config.get("entity_labels", [])}


def problem_label(config: dict) -> str | None:
    """The label bound to a problem terminology (the first such label)."""
    return next((name for name, bound in label_terminologies(config).items()
                 if any(t in PROBLEM_TERMINOLOGIES for t in bound)), None)


def loaded(config: dict, store) -> dict[str, list[str]]:
    """Label -> its bound terminologies that the store holds (absent ones skipped)."""
    available = set(store.names()) if store is not None else set()
    return {label: [t for t in bound if t in available] for label, bound in label_terminologies(config).items()}


def store_state(store) -> tuple:
    return store.build_ids() if store is not None else ()


def is_disease_ontology(name: str) -> bool:
    return name in DISEASE_ONTOLOGIES


def finding_concepts(index) -> list[bool]:
    """Per concept: False for a root of a typed terminology (HPO's "All") and for concepts all of whose paths to
    the root pass through a non-finding branch; True otherwise."""
    n = len(index.codes)
    typed = bool(index.meta.get("semantic_types"))
    memo: dict[int, bool] = {}

    def finding(concept: int) -> bool:
        stack = [concept]
        while stack:
            current = stack[-1]
            if current in memo:
                stack.pop()
                continue
            if _CODE_RANGE.sub("", index.concept_name(current)).strip().lower() in NON_FINDING_BRANCHES:
                memo[current] = False
                stack.pop()
                continue
            parents = index.parents(current)
            pending = [p for p in parents if p not in memo]
            if pending:
                stack.extend(pending)
                continue
            memo[current] = any(memo[p] for p in parents) if parents else True
            stack.pop()
        return memo[concept]

    return [finding(i) and not (typed and not index.semantic_types(i)) for i in range(n)]


def own_prefix(index) -> str:
    """The id prefix of the ontology's own terms: its name in capitals when terms use it ("MONDO", "DOID"), else
    the commonest prefix."""
    counts: dict[str, int] = {}
    for code in index.codes:
        prefix = code.split(":", 1)[0] if ":" in code else ""
        counts[prefix] = counts.get(prefix, 0) + 1
    name = index.name.upper()
    return name if name in counts else max(counts, key=counts.get, default="")


def disease_concepts(index) -> list[bool]:
    """Per concept of an OBO disease ontology: True when it names a human disease worth matching (see the module
    docstring); roots are concepts without parents that have children."""
    n = len(index.codes)
    prefix = own_prefix(index) + ":"
    keep = [code.startswith(prefix) for code in index.codes]
    roots = [i for i in range(n) if keep[i] and not index.parents(i) and index.children(i)]
    for root in roots:
        keep[root] = False
        for child in index.children(root):
            keep[child] = False
    excluded = [i for i in range(n) if index.codes[i] in EXCLUDED_BRANCH_CODES
                or index.concept_name(i).strip().lower() in EXCLUDED_BRANCHES]
    stack, seen = list(excluded), set(excluded)
    while stack:  # the whole branch under an excluded class
        current = stack.pop()
        keep[current] = False
        for child in index.children(current):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return keep


def usable_concepts(name: str, index) -> list[bool]:
    findings = finding_concepts(index)
    if not is_disease_ontology(name):
        return findings
    diseases = disease_concepts(index)
    return [a and b for a, b in zip(findings, diseases)]


def titles(name: str, index, i: int) -> list[str]:
    """The names of concept `i` that become match phrases: all of them, except in the disease ontologies (preferred
    name and EXACT synonyms, without abbreviations and one-word ALL-CAPS names)."""
    names = [index.concept_name(i), *index.concept_synonyms(i)]
    if not is_disease_ontology(name):
        return names
    attributes = index.attributes()[i]
    scopes = attributes.get("synonym_scopes") or {}
    abbreviations = set(attributes.get("abbreviations") or ())
    out = []
    for n, title in enumerate(names):
        if n and (scopes.get(title, "RELATED") not in MATCH_SCOPES or title in abbreviations):
            continue
        if _ONE_CAPS_WORD.match(title.strip()):
            continue
        out.append(title)
    return out


def add_icd10cm_xrefs(store, candidates: list[dict]) -> list[dict]:
    """Gives each candidate from an ontology that records ICD-10-CM xrefs (MONDO, DOID) an `icd10cm` list, so a
    coder sees the billing code next to the disease concept."""
    for candidate in candidates:
        if not is_disease_ontology(candidate.get("terminology", "")):
            continue
        try:
            index = store.index(candidate["terminology"])
        except KeyError:
            continue
        position = index.find_code(candidate["code"])
        codes = index.attributes()[position].get("icd10cm") if position is not None else None
        if codes:
            candidate["icd10cm"] = [str(code)[:32] for code in codes[:10]]
    return candidates
