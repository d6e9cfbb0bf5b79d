"""The internal terminology model every loader produces, and the builder that validates it.

Loaders never construct a Terminology directly: they feed a TerminologyBuilder, which remembers where (file, line)
each concept and each parent link came from. That is what lets a cycle found at the very end of a load still be
reported against the line that declared it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .errors import OntologyLoadError

Origin = tuple[str, int]  # (file basename or path, 1-based line number)


@dataclass(slots=True)  # slots: ICD-10-CM alone holds ~98k concepts in memory while its index is built
class Concept:
    code: str
    name: str
    synonyms: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    # Free-form per-terminology data. Keys the index understands: "billable" (bool), "semantic_types" (list[str]).
    attributes: dict = field(default_factory=dict)
    terminology: str = ""

    @property
    def billable(self) -> bool | None:
        return self.attributes.get("billable")

    @property
    def semantic_types(self) -> list[str]:
        return list(self.attributes.get("semantic_types") or [])


@dataclass
class Terminology:
    name: str
    version: str
    source: str
    licence: str
    concepts: dict[str, Concept] = field(default_factory=dict)
    # Non-fatal findings of the load (e.g. links to concepts absent from the files), shown to the admin.
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.concepts)


class TerminologyBuilder:
    """Collects concepts, rejects duplicates, and validates the hierarchy when built."""

    # Cap on warnings kept: a release with a million dangling links must not produce a million-line report.
    MAX_WARNINGS = 20

    def __init__(self, name: str, version: str, source: str, licence: str):
        self.terminology = Terminology(name=name, version=version, source=source, licence=licence)
        self._concept_origin: dict[str, Origin] = {}
        self._edge_origin: dict[tuple[str, str], Origin] = {}
        self._dangling = 0

    def __contains__(self, code: str) -> bool:
        return code in self.terminology.concepts

    def get(self, code: str) -> Concept | None:
        return self.terminology.concepts.get(code)

    def add(self, concept: Concept, origin: Origin) -> Concept:
        """Adds a new concept; a code seen before is an error naming both lines."""
        code = concept.code.strip()
        if not code:
            raise OntologyLoadError("empty concept code", *origin)
        if not concept.name.strip():
            raise OntologyLoadError(f"concept {code} has no name", *origin)
        if code in self.terminology.concepts:
            first = self._concept_origin[code]
            raise OntologyLoadError(f"duplicate code {code} (first defined on line {first[1]})", *origin)
        concept.code = code
        concept.terminology = self.terminology.name
        concept.synonyms = _unique_synonyms(concept.name, concept.synonyms)
        parents = []
        for parent in concept.parents:
            if parent and parent != code and parent not in parents:
                parents.append(parent)
                self._edge_origin.setdefault((code, parent), origin)
        concept.parents = parents
        self.terminology.concepts[code] = concept
        self._concept_origin[code] = origin
        return concept

    def add_synonym(self, code: str, synonym: str) -> None:
        concept = self.terminology.concepts[code]
        synonym = synonym.strip()
        if synonym and synonym != concept.name and synonym not in concept.synonyms:
            concept.synonyms.append(synonym)

    def add_parent(self, code: str, parent: str, origin: Origin) -> None:
        """Records a parent link declared in a relationship file (the child must already exist)."""
        concept = self.terminology.concepts.get(code)
        if concept is None or parent == code:
            return
        if parent not in concept.parents:
            concept.parents.append(parent)
            self._edge_origin.setdefault((code, parent), origin)

    def warn(self, message: str) -> None:
        if len(self.terminology.warnings) < self.MAX_WARNINGS:
            self.terminology.warnings.append(message)

    def build(self) -> Terminology:
        """Drops links to unknown concepts (with a warning), then rejects any cycle in the hierarchy."""
        concepts = self.terminology.concepts
        if not concepts:
            files = sorted({origin[0] for origin in self._concept_origin.values()})
            raise OntologyLoadError("no concepts found", files[0] if files else None)
        for code, concept in concepts.items():
            known = [p for p in concept.parents if p in concepts]
            if len(known) != len(concept.parents):
                for missing in (p for p in concept.parents if p not in concepts):
                    self._dangling += 1
                    if self._dangling <= 3:
                        file, line = self._edge_origin.get((code, missing), self._concept_origin[code])
                        self.warn(f"{os.path.basename(file)} line {line}: parent {missing} of {code} is not a known "
                                  "concept; link dropped")
                concept.parents = known
        if self._dangling > 3:
            self.warn(f"{self._dangling} parent links to unknown concepts were dropped in total")
        self._reject_cycles()
        return self.terminology

    def _reject_cycles(self) -> None:
        # Iterative three-colour DFS: recursion would overflow on deep hierarchies (SNOMED CT is ~30 levels, but a
        # malformed file can form a chain as long as the file).
        concepts = self.terminology.concepts
        state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
        for start in concepts:
            if start in state:
                continue
            path = [start]
            iterators = [iter(concepts[start].parents)]
            state[start] = 1
            while iterators:
                parent = next(iterators[-1], None)
                if parent is None:
                    state[path.pop()] = 2
                    iterators.pop()
                    continue
                mark = state.get(parent)
                if mark == 1:
                    cycle = path[path.index(parent):] + [parent]
                    file, line = self._edge_origin.get((path[-1], parent), self._concept_origin[path[-1]])
                    shown = " -> ".join(cycle[:8]) + (" -> ..." if len(cycle) > 8 else "")
                    raise OntologyLoadError(f"cycle in hierarchy: {shown}", file, line)
                if mark is None:
                    state[parent] = 1
                    path.append(parent)
                    iterators.append(iter(concepts[parent].parents))


def _unique_synonyms(name: str, synonyms) -> list[str]:
    seen = {name.strip().casefold()}
    result = []
    for synonym in synonyms:
        synonym = (synonym or "").strip()
        key = synonym.casefold()
        if synonym and key not in seen:
            seen.add(key)
            result.append(synonym)
    return result
