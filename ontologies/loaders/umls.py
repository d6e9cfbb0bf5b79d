"""UMLS Metathesaurus (user-supplied, licensed): MRCONSO.RRF required, MRSTY.RRF and MRREL.RRF optional.

One concept per CUI: its name is the preferred string (TS=P, STT=PF, ISPREF=Y) in the first requested language,
every other string of the CUI is a synonym. MRREL is read right to left, as the UMLS documentation says: REL is the
relationship CUI2 has to CUI1, so "C1|..|PAR|C2" makes C2 a parent of C1.
"""
from __future__ import annotations

import re

from ..errors import OntologyLoadError
from ..model import Concept, Terminology, TerminologyBuilder
from .reading import ProgressTracker, pick_files, read_pipe_rows

LICENCE = "UMLS Metathesaurus License (user-supplied; source vocabularies carry their own restrictions)"
SUPPRESSED = frozenset({"O", "E", "Y"})  # obsolete, editor-suppressed, suppressible (what MetamorphoSys hides)
CONSO_FIELDS = 18
REL_FIELDS = 16
STY_FIELDS = 6
FILES = {"MRCONSO": ("mrconso",), "MRSTY": ("mrsty",), "MRREL": ("mrrel",)}


class ConceptAccumulator:
    """Gathers the many RRF rows of one concept id into a name, synonyms and source list."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    def add(self, code: str, text: str, preferred_rank: int, sab: str, origin: tuple[str, int]) -> None:
        entry = self.rows.get(code)
        if entry is None:
            entry = self.rows[code] = {"name": text, "rank": preferred_rank, "strings": [], "sabs": set(),
                                       "origin": origin}
        elif preferred_rank < entry["rank"]:
            entry["strings"].append(entry["name"])
            entry["name"], entry["rank"] = text, preferred_rank
        else:
            entry["strings"].append(text)
        entry["sabs"].add(sab)

    def into(self, builder: TerminologyBuilder) -> None:
        for code, entry in self.rows.items():
            builder.add(Concept(code=code, name=entry["name"], synonyms=entry["strings"],
                                attributes={"sources": sorted(entry["sabs"]), "semantic_types": []}),
                        entry["origin"])
        self.rows.clear()


def release_from_paths(paths: dict[str, str]) -> str:
    for path in paths.values():
        match = re.search(r"(19|20)\d\d[A-Z]{2}", path)
        if match:
            return match.group(0)
    return "unversioned"


def load(paths, name: str | None, version: str | None, tracker: ProgressTracker, encoding: str | None = None,
         languages: tuple[str, ...] = ("ENG",), sources: tuple[str, ...] | None = None,
         hierarchy_sources: tuple[str, ...] | None = None, relations: tuple[str, ...] = ("PAR", "CHD"),
         keep_suppressible: bool = False) -> Terminology:
    files = pick_files(paths, FILES, "UMLS")
    if "MRCONSO" not in files:
        raise OntologyLoadError("UMLS needs MRCONSO.RRF")
    builder = TerminologyBuilder(name or "umls", version or release_from_paths(files), "UMLS Metathesaurus RRF",
                                 LICENCE)
    accumulator = ConceptAccumulator()
    conso = files["MRCONSO"]
    for line_no, row in read_pipe_rows(conso, CONSO_FIELDS, encoding, tracker):
        cui, lat, ts, stt, ispref = row[0], row[1], row[2], row[4], row[6]
        sab, text, suppress = row[11], row[14], row[16]
        if not cui or not text:
            raise OntologyLoadError("empty CUI or STR field", conso, line_no)
        if lat not in languages or (sources and sab not in sources):
            continue
        if suppress in SUPPRESSED and not keep_suppressible:
            continue
        rank = languages.index(lat) * 4 + (0 if (ts, stt, ispref) == ("P", "PF", "Y") else 1 if ts == "P" else 2)
        accumulator.add(cui, text, rank, sab, (conso, line_no))
    accumulator.into(builder)

    if "MRSTY" in files:
        for line_no, row in read_pipe_rows(files["MRSTY"], STY_FIELDS, encoding, tracker):
            concept = builder.get(row[0])
            if concept is not None:
                if row[3] not in concept.attributes["semantic_types"]:
                    concept.attributes["semantic_types"].append(row[3])
                concept.attributes.setdefault("tuis", []).append(row[1])
    if "MRREL" in files:
        read_rrf_hierarchy(files["MRREL"], builder, encoding, tracker, hierarchy_sources,
                           child_is_first={rel for rel in relations if rel in ("PAR", "RB")},
                           child_is_second={rel for rel in relations if rel in ("CHD", "RN")}, column=3)
    return builder.build()


def read_rrf_hierarchy(path: str, builder: TerminologyBuilder, encoding: str | None, tracker: ProgressTracker,
                       sabs: tuple[str, ...] | None, child_is_first: set[str], child_is_second: set[str],
                       column: int) -> None:
    """Adds parent links from an MRREL-style file. `column` is 3 for REL or 7 for RELA. For a label in
    `child_is_first`, "X|..|label|Y" makes Y the parent of X; in `child_is_second`, X becomes the parent of Y."""
    for line_no, row in read_pipe_rows(path, REL_FIELDS, encoding, tracker):
        label, first, second, sab, suppress = row[column], row[0], row[4], row[10], row[14]
        if (sabs and sab not in sabs) or suppress in SUPPRESSED:
            continue
        if label in child_is_first:
            builder.add_parent(first, second, (path, line_no))
        elif label in child_is_second:
            builder.add_parent(second, first, (path, line_no))
