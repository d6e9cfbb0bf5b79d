"""Search behaviour on the shipped terminologies: coder-style ranking, abbreviations, prefixes, typos, filters,
learned aliases and hostile queries."""
import pytest

from ontologies import MAX_QUERY_LENGTH, QueryError, expand_query, load_abbreviations, normalize_mention
from ontologies.abbreviations import AbbreviationFileError, default_abbreviations


def _codes(results):
    return [result["code"] for result in results]


@pytest.mark.parametrize("query, terminology, code", [
    ("type 2 diabetes", "icd10cm", "E11.9"),
    ("htn", "icd10cm", "I10"),
    ("CHF exacerbation", "icd10cm", "I50.9"),
    ("seizure", "hpo", "HP:0001250"),
    ("seizure", "icd10cm", "R56.9"),
    ("dm2", "icd10cm", "E11.9"),
    ("t2dm", "icd10cm", "E11.9"),
    ("uti", "icd10cm", "N39.0"),
])
def test_coder_choice_ranks_first(shipped_store, query, terminology, code):
    assert _codes(shipped_store.search(query, [terminology], limit=5))[0] == code


def test_specific_leaf_beats_category_and_other(shipped_store):
    results = shipped_store.search("heart failure", ["icd10cm"], limit=10)
    codes = _codes(results)
    assert codes[0] == "I50.9" and codes.index("I50.9") < codes.index("I50")  # billable default over category
    assert results[0]["billable"] is True
    assert "I50.8" not in codes[:3]  # "Other heart failure" is not the reading of a bare mention


def test_prefix_and_typo(shipped_store):
    assert "E11.9" in _codes(shipped_store.search("diab", ["icd10cm"], limit=5))
    assert _codes(shipped_store.search("hypertensoin", ["icd10cm"], limit=3))[0] == "I10"
    assert _codes(shipped_store.search("E11", ["icd10cm"], limit=3))[0] == "E11"  # a typed code is that code
    assert all(code.startswith("E11") for code in _codes(shipped_store.search("E11.", ["icd10cm"], limit=5)))


def test_drug_brand_and_generic(shipped_store):
    assert shipped_store.search("lipitor", ["drugs"], limit=1)[0]["name"] == "Atorvastatin"
    result = shipped_store.search("asa", ["drugs"], limit=1)[0]
    assert result["name"] == "Aspirin" and result["billable"] is None


def test_filters(shipped_store):
    billable = shipped_store.search("diabetes", ["icd10cm"], limit=20, billable_only=True)
    assert billable and all(result["billable"] for result in billable)
    inheritance = shipped_store.search("autosomal dominant", ["hpo"], semantic_type="mode of inheritance")
    assert inheritance and _codes(inheritance)[0] == "HP:0000006"
    assert shipped_store.search("seizure", ["hpo"], semantic_type="Mode of inheritance") == []
    mixed = shipped_store.search("seizure", ["icd10cm", "hpo"], limit=10)
    assert {result["terminology"] for result in mixed} == {"icd10cm", "hpo"}
    with pytest.raises(KeyError):
        shipped_store.search("seizure", ["no_such_terminology"])


def test_aliases_learned_from_use_come_first(shipped_store):
    key = normalize_mention("  Sugar   Diabetes! ")
    assert key == "sugar diabetes"
    aliases = {key: [("icd10cm", "E11.65"), ("hpo", "HP:0000819"), ("icd10cm", "NOT.A.CODE")]}
    results = shipped_store.search("Sugar diabetes", ["icd10cm", "hpo"], aliases=aliases, limit=5)
    assert _codes(results)[:2] == ["E11.65", "HP:0000819"]
    assert _codes(shipped_store.candidates("sugar diabetes", ["icd10cm"], aliases=aliases))[0] == "E11.65"


def test_candidates_for_entity_linking(shipped_store):
    candidates = shipped_store.candidates("congestive heart failure", ["icd10cm", "hpo"], k=5)
    assert 0 < len(candidates) <= 5
    assert {"terminology", "code", "name", "matched", "score", "billable"} <= set(candidates[0])
    assert {"I50.9", "HP:0001635"} <= set(_codes(candidates))
    assert candidates == sorted(candidates, key=lambda item: -item["score"])


@pytest.mark.parametrize("query", ["", "   ", "x" * (MAX_QUERY_LENGTH + 1), "a" * 10_000, None, 42])
def test_unusable_queries_raise_query_error(shipped_store, query):
    with pytest.raises(QueryError):
        shipped_store.search(query)
    with pytest.raises(QueryError):
        shipped_store.candidates(query)


@pytest.mark.parametrize("query", [".*[a-z]+(", "\\d{3}|(?=x)", "'; DROP TABLE concepts;--", "1 OR 1=1",
                                   "%_%", "☃ 💊", "\x00\x01", "((((", "E11.9' --", "x" * MAX_QUERY_LENGTH])
def test_odd_queries_never_crash(shipped_store, query):
    results = shipped_store.search(query, limit=5)
    assert isinstance(results, list) and len(results) <= 5


def test_abbreviation_table():
    table = default_abbreviations()
    assert len(table) >= 150
    assert table["htn"] == ["hypertension"]
    assert table["chf"] == ["congestive heart failure"]
    assert table["dm2"] == table["t2dm"] == ["type 2 diabetes mellitus"]
    for abbreviation in ("uti", "ckd", "copd", "mi", "afib", "cad", "gerd", "sob"):
        assert abbreviation in table
    assert expand_query("chf exacerbation") == ["congestive heart failure exacerbation"]
    assert expand_query("n v") == ["nausea and vomiting"]  # "N/V" after normalisation
    assert expand_query("gi bleed") == ["gastrointestinal hemorrhage"]  # longest abbreviation wins
    assert expand_query("fever") == []


def test_abbreviation_file_is_editable_and_validated(tmp_path):
    path = tmp_path / "abbr.tsv"
    path.write_text("# local additions\nSOB\tshortness of breath|short of breath\n\nLOL\n", encoding="utf-8")
    with pytest.raises(AbbreviationFileError, match="line 4"):
        load_abbreviations(str(path))
    path.write_text("SOB\tshortness of breath|short of breath\n", encoding="utf-8")
    table = load_abbreviations(str(path))
    assert table == {"sob": ["shortness of breath", "short of breath"]}
    assert expand_query("sob on exertion", table) == ["shortness of breath on exertion",
                                                      "short of breath on exertion"]
