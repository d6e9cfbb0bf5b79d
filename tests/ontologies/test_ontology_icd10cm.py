"""Our streaming reader of the ICD-10-CM tabular must give exactly the package's codes, names, parents and leaf
flags (simple_icd_10_cm is imported here only, as the reference)."""
import re

import pytest

from ontologies import load_terminology


def _same_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).replace("/ ", "/").strip()


@pytest.fixture(scope="module")
def icd():
    return load_terminology("icd10cm")


def test_matches_simple_icd_10_cm(icd):
    cm = pytest.importorskip("simple_icd_10_cm")
    codes = list(dict.fromkeys(cm.get_all_codes(True)))  # single-category blocks repeat their category's code
    assert list(icd.concepts) == codes and len(codes) > 98000
    for code in codes:
        concept = icd.concepts[code]
        parent = cm.get_parent(code)
        if parent == code:  # the category of a single-category block hangs from the chapter
            parent = cm.get_parent(code, prioritize_blocks=True)
        assert concept.parents == ([parent] if parent else []), code
        assert _same_text(concept.name) == _same_text(cm.get_description(code)), code
        assert concept.billable == cm.is_leaf(code), code
        listed = {_same_text(text).casefold() for text in cm.get_inclusion_term(code) + cm.get_includes(code)}
        ours = {_same_text(text).casefold() for text in [concept.name, *concept.synonyms]}
        assert listed <= ours, code


def test_seventh_character_codes(icd):
    assert icd.concepts["S72.001A"].name == ("Fracture of unspecified part of neck of right femur, initial encounter "
                                             "for closed fracture")
    assert icd.concepts["S72.001A"].parents == ["S72.001"] and icd.concepts["S72.001A"].billable
    assert icd.concepts["T78.2XXA"].parents == ["T78.2"]  # placeholder X padding
    assert icd.concepts["S72.001"].billable is False
    assert icd.concepts["W19.XXXA"].attributes["level"] == "extended subcategory"
