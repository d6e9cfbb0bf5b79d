"""ICD-10-CM (chapters, blocks, categories, subcategories and 7th-character codes) from simple_icd_10_cm.

The package parses the CDC tabular XML when imported (~1.5 s); we import it only inside `load` so that importing
the ontologies package stays cheap for processes that only read the cached index.
"""
from __future__ import annotations

import calendar
import glob
import importlib.metadata
import importlib.util
import os
import re

from ..errors import OntologyLoadError
from ..model import Concept, Terminology, TerminologyBuilder
from .reading import ProgressTracker

NAME = "icd10cm"
LICENCE = "Public domain (U.S. Government work: CDC/NCHS ICD-10-CM)"
# Parentheses hold nonessential modifiers; square brackets hold synonyms or explanations ("Panic disorder
# [episodic paroxysmal anxiety]", "Human immunodeficiency virus [HIV] disease").
_NONESSENTIAL = re.compile(r"\s*(\([^()]*\)|\[[^\[\]]*\])")


def _data_dir() -> str:
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        raise OntologyLoadError("the simple-icd-10-cm package is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def shipped_version() -> str:
    """Release date from the bundled tabular file's name, e.g. icd10c-tabular-April-1-2026.xml -> 2026-04-01."""
    months = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
    for path in glob.glob(os.path.join(_data_dir(), "*tabular*.xml")):
        match = re.search(r"([A-Za-z]+)-(\d{1,2})-(\d{4})", os.path.basename(path))
        if match and match.group(1).lower() in months:
            return f"{match.group(3)}-{months[match.group(1).lower()]:02d}-{int(match.group(2)):02d}"
    return importlib.metadata.version("simple-icd-10-cm")


def nonessential_variant(text: str) -> str | None:
    """ICD-10-CM puts nonessential modifiers in parentheses ("Seizure(s) (convulsive) NOS") and alternative wording
    in brackets: the text without them is how the condition is usually written, so it becomes an extra synonym."""
    stripped = _NONESSENTIAL.sub("", text).strip(" ,")
    return stripped if stripped and stripped != text else None


def _level(cm, code: str) -> str:
    if cm.is_chapter(code):
        return "chapter"
    if cm.is_block(code) and "-" in code:
        return "block"
    if cm.is_category(code):
        return "category"
    if cm.is_extended_subcategory(code):
        return "extended subcategory"
    return "subcategory"


def load(paths, name: str | None, version: str | None, tracker: ProgressTracker,
         encoding: str | None = None) -> Terminology:
    import simple_icd_10_cm as cm

    tracker.set_fraction(0.5)
    source = f"simple-icd-10-cm {importlib.metadata.version('simple-icd-10-cm')} (CDC ICD-10-CM tabular)"
    builder = TerminologyBuilder(name or NAME, version or shipped_version(), source, LICENCE)
    codes = cm.get_all_codes(True)
    origin_file = "simple_icd_10_cm"
    for position, code in enumerate(codes):
        if position % 2000 == 0:
            tracker.set_fraction(0.5 + 0.5 * position / len(codes))
        if code in builder:
            # A block made of a single category shares the category's code; the category (which carries the
            # children) was or will be kept, and the block level is skipped.
            continue
        parent = cm.get_parent(code)
        if parent == code:
            parent = cm.get_parent(code, prioritize_blocks=True)
        description = cm.get_description(code)
        # Inclusion terms and "includes" notes both list conditions the code covers ("diabetes NOS" under E11).
        synonyms = list(cm.get_inclusion_term(code)) + list(cm.get_includes(code))
        for text in [description, *synonyms]:
            variant = nonessential_variant(text)
            if variant:
                synonyms.append(variant)
        attributes = {"billable": bool(cm.is_leaf(code)), "level": _level(cm, code), "semantic_types": []}
        builder.add(Concept(code=code, name=description, synonyms=synonyms, parents=[parent] if parent else [],
                            attributes=attributes), (origin_file, position + 1))
    return builder.build()
