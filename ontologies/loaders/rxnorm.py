"""RxNorm (user-supplied monthly release): RXNCONSO.RRF required, RXNREL.RRF optional.

One concept per RXCUI, named by its RxNorm-normalised string (SAB=RXNORM) with the other sources' strings as
synonyms; the semantic type is the RxNorm term type (IN, SCD, SBD, BN, ...). The hierarchy links drugs to their
ingredients and brands to their generics. RXNREL reads right to left like MRREL: "A|..|has_ingredient|B" means B
has ingredient A, so A is B's parent.
"""
from __future__ import annotations

import re

from ..errors import OntologyLoadError
from ..model import Terminology, TerminologyBuilder
from .reading import ProgressTracker, pick_files, read_pipe_rows
from .umls import CONSO_FIELDS, SUPPRESSED, ConceptAccumulator, read_rrf_hierarchy

LICENCE = ("RxNorm: SAB=RXNORM content is public domain (NLM); strings from other sources require the UMLS "
           "licence (user-supplied)")
FILES = {"RXNCONSO": ("rxnconso",), "RXNREL": ("rxnrel",)}
# Term types ranked for the display name: normalised names first, then synonyms, then other sources' strings.
SYNONYM_TTYS = ("SY", "TMSY", "PSN")
PARENT_IS_FIRST = {"has_ingredient", "tradename_of", "isa"}
PARENT_IS_SECOND = {"ingredient_of", "has_tradename", "inverse_isa"}


def load(paths, name: str | None, version: str | None, tracker: ProgressTracker, encoding: str | None = None,
         keep_suppressible: bool = False) -> Terminology:
    files = pick_files(paths, FILES, "RxNorm")
    if "RXNCONSO" not in files:
        raise OntologyLoadError("RxNorm needs RXNCONSO.RRF")
    release = re.search(r"(\d{8})", "".join(files.values()))
    builder = TerminologyBuilder(name or "rxnorm", version or (release.group(1) if release else "unversioned"),
                                 "RxNorm RRF release", LICENCE)
    accumulator = ConceptAccumulator()
    term_types: dict[str, str] = {}
    conso = files["RXNCONSO"]
    for line_no, row in read_pipe_rows(conso, CONSO_FIELDS, encoding, tracker):
        rxcui, lat, sab, tty, text, suppress = row[0], row[1], row[11], row[12], row[14], row[16]
        if not rxcui or not text:
            raise OntologyLoadError("empty RXCUI or STR field", conso, line_no)
        if lat != "ENG" or (suppress in SUPPRESSED and not keep_suppressible):
            continue
        if sab == "RXNORM" and tty not in SYNONYM_TTYS:
            rank = 0
            term_types.setdefault(rxcui, tty)
        else:
            rank = 1 if sab == "RXNORM" else 2
        accumulator.add(rxcui, text, rank, sab, (conso, line_no))
    accumulator.into(builder)
    for rxcui, tty in term_types.items():
        builder.get(rxcui).attributes["semantic_types"] = [tty]
    if "RXNREL" in files:
        # "A|..|RELA|B" = B RELA A: for has_ingredient the first id (A) is the parent, i.e. the child is second.
        read_rrf_hierarchy(files["RXNREL"], builder, encoding, tracker, None, child_is_first=PARENT_IS_SECOND,
                           child_is_second=PARENT_IS_FIRST, column=7)
    return builder.build()
