"""Clinical abbreviation expansion for search queries ("htn" -> "hypertension", "n/v" -> "nausea and vomiting").

The table is a plain TSV shipped in ontologies/data/abbreviations.tsv so that clinicians can extend it without
touching code. Both sides are normalised like every other text, so case and punctuation never matter.
"""
from __future__ import annotations

import functools
import itertools
import os

from .text import normalize

DEFAULT_PATH = os.path.join(os.path.dirname(__file__), "data", "abbreviations.tsv")
# Longest abbreviation key, in words ("n v d"); longer spans are never looked up.
MAX_KEY_WORDS = 3


class AbbreviationFileError(ValueError):
    """The abbreviation table is malformed; the message names the line."""


def load_abbreviations(path: str | None = None) -> dict[str, list[str]]:
    """Reads an abbreviation TSV (abbreviation<TAB>expansion[|expansion...]; '#' starts a comment line)."""
    table: dict[str, list[str]] = {}
    path = path or DEFAULT_PATH
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 2:
                raise AbbreviationFileError(f"{os.path.basename(path)} line {line_no}: expected "
                                            "'abbreviation<TAB>expansion'")
            key = normalize(parts[0])
            expansions = [normalize(text) for text in parts[1].split("|") if normalize(text)]
            if not key or not expansions or len(key.split()) > MAX_KEY_WORDS:
                raise AbbreviationFileError(f"{os.path.basename(path)} line {line_no}: empty or over-long entry")
            merged = table.setdefault(key, [])
            merged.extend(text for text in expansions if text not in merged and text != key)
    return table


@functools.lru_cache(maxsize=1)
def default_abbreviations() -> dict[str, list[str]]:
    return load_abbreviations(DEFAULT_PATH)


def expand_query(normalized_query: str, table: dict[str, list[str]] | None = None,
                 max_variants: int = 4) -> list[str]:
    """Readings of the query with abbreviations spelled out (the query itself not included).

    Longest abbreviation first at each position, so "gi bleed" is read as one abbreviation rather than "gi" + a
    word. Ambiguous abbreviations multiply the readings, capped at `max_variants`.
    """
    table = default_abbreviations() if table is None else table
    words = normalized_query.split()
    if not words or not table:
        return []
    pieces: list[list[str]] = []
    expanded = False
    i = 0
    while i < len(words):
        for span in range(min(MAX_KEY_WORDS, len(words) - i), 0, -1):
            key = " ".join(words[i:i + span])
            if key in table:
                pieces.append(table[key])
                expanded = True
                i += span
                break
        else:
            pieces.append([words[i]])
            i += 1
    if not expanded:
        return []
    variants = []
    for combination in itertools.islice(itertools.product(*pieces), max_variants):
        variant = " ".join(combination)
        if variant != normalized_query and variant not in variants:
            variants.append(variant)
    return variants
