"""The on-disk index cache (round trip, no pickle, atomic activation), the catalogue and the hierarchy API."""
import json
import os
import threading
import zipfile

import numpy as np

from ontologies import ConceptIndex, OntologyStore, load_terminology


def test_cache_round_trip_gives_identical_index_and_results(tmp_path, data_dir):
    term = load_terminology("obo", os.path.join(data_dir, "sample.obo"), name="excerpt")
    built = ConceptIndex.build(term)
    built.save(str(tmp_path / "index"))
    loaded = ConceptIndex.load(str(tmp_path / "index"))
    assert loaded.codes == built.codes and loaded.names == built.names and loaded.meta == built.meta
    for key in ("post_ptr", "post_name", "post_weight", "parent_idx", "child_idx", "default_leaf"):
        assert np.array_equal(getattr(loaded, key), getattr(built, key))
    assert loaded.attributes() == built.attributes()
    for query in ("seizure", "small head", "ad"):
        assert list(loaded.retrieve(query, 5)[0]) == list(built.retrieve(query, 5)[0])


def test_cache_files_are_json_and_plain_npz(tmp_path, data_dir):
    term = load_terminology("tabular", os.path.join(data_dir, "sample.csv"), name="wounds")
    ConceptIndex.build(term).save(str(tmp_path / "index"))
    assert sorted(os.listdir(tmp_path / "index")) == ["arrays.npz", "attributes.json", "meta.json", "strings.json"]
    with zipfile.ZipFile(tmp_path / "index" / "arrays.npz") as archive:
        for member in archive.namelist():
            header = archive.read(member)[:128]
            assert b"'descr': '|O'" not in header  # no object arrays, hence nothing pickled
    with open(tmp_path / "index" / "meta.json") as handle:
        assert json.load(handle)["concept_count"] == 16


def test_store_catalogue_and_reuse(tmp_path, data_dir):
    store = OntologyStore(str(tmp_path / "cache"))
    store.import_files("tabular", os.path.join(data_dir, "sample.tsv"), name="scales", version="2024.1")
    entry = store.available()[0]
    assert entry == {"name": "scales", "version": "2024.1", "licence": "user-supplied file", "source": "sample.tsv",
                     "concept_count": 12, "name_count": entry["name_count"], "shipped": False, "warnings": []}
    again = OntologyStore(str(tmp_path / "cache"))  # a second process sees the same cache
    assert again.search("ecog 2", ["scales"])[0]["code"] == "ECOG2"
    store.import_files("tabular", os.path.join(data_dir, "sample.tsv"), name="scales", version="2024.2")
    assert [item["version"] for item in again.available()] == ["2024.2"]
    builds = [entry for entry in os.listdir(tmp_path / "cache" / "scales") if not entry.endswith(".json")]
    assert len(builds) == 2  # the new build and the previous one (kept for readers still using it)
    store.remove("scales")
    assert store.available() == []


def test_store_picks_up_a_build_made_by_another_process(tmp_path, data_dir, monkeypatch):
    import ontologies.store as store_module

    monkeypatch.setattr(store_module, "REFRESH_INTERVAL", 0.0)
    reader = OntologyStore(str(tmp_path / "cache"))
    writer = OntologyStore(str(tmp_path / "cache"))
    csv = tmp_path / "terms.csv"
    csv.write_text("code,name\nA1,Fever\n")
    writer.import_files("tabular", str(csv), name="mini", version="1")
    assert reader.search("fever", ["mini"])[0]["code"] == "A1"
    csv.write_text("code,name\nB7,Fever\n")
    writer.import_files("tabular", str(csv), name="mini", version="2")
    assert reader.search("fever", ["mini"])[0]["code"] == "B7"


def test_concurrent_imports_leave_one_consistent_active_build(tmp_path):
    store = OntologyStore(str(tmp_path / "cache"))
    files = []
    for version in range(4):
        path = tmp_path / f"v{version}.csv"
        path.write_text(f"code,name\nA{version},Fever\n")
        files.append(str(path))
    threads = [threading.Thread(target=store.import_files, args=("tabular", path),
                                kwargs={"name": "mini", "version": str(i)}) for i, path in enumerate(files)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entry = store.available()[0]
    assert store.search("fever", ["mini"])[0]["code"] == f"A{entry['version']}"
    assert not [name for name in os.listdir(tmp_path / "cache" / "mini") if name.startswith(".tmp-")]


def test_ensure_shipped_is_idempotent(shipped_store):
    assert shipped_store.ensure_shipped() == []
    names = {item["name"] for item in shipped_store.available()}
    assert names == {"icd10cm", "hpo", "drugs", "consult_segments", "cholec80_phases"}


def test_cached_load_is_equivalent_to_fresh_store(shipped_store):
    fresh = OntologyStore(shipped_store.cache_dir)
    assert fresh.search("type 2 diabetes", ["icd10cm"], limit=3) == \
        shipped_store.search("type 2 diabetes", ["icd10cm"], limit=3)


def test_code_lookup_ignores_case_dots_and_separators(shipped_store):
    for text in ("E11.9", "e119", "E11 9", " e11.9 "):
        assert shipped_store.concept("icd10cm", text.strip())["code"] == "E11.9"
    assert shipped_store.search("E119", ["icd10cm"], limit=1)[0]["code"] == "E11.9"
    assert shipped_store.concept("hpo", "hp_0001250")["code"] == "HP:0001250"
    assert shipped_store.concept("hpo", "HP:0002279")["code"] == "HP:0001250"  # an alt_id
    assert shipped_store.concept("icd10cm", "Q99.999") is None


def test_hierarchy(shipped_store):
    concept = shipped_store.concept("icd10cm", "E11.9")
    assert [item["code"] for item in concept["ancestors"]] == ["E11", "E08-E13", "4"]
    assert [item["code"] for item in concept["path"]] == ["4", "E08-E13", "E11"]
    assert "E11.9" in [item["code"] for item in shipped_store.concept("icd10cm", "E11")["children"]]
    microcephaly = shipped_store.concept("hpo", "HP:0000252")
    assert len(microcephaly["parents"]) >= 1
    assert "HP:0000118" in [item["code"] for item in microcephaly["ancestors"]]
    assert microcephaly["path"][0]["code"] == "HP:0000001"


def test_search_results_carry_the_display_path(shipped_store):
    result = shipped_store.search("type 2 diabetes", ["icd10cm"], limit=1)[0]
    assert result["path"] == ["Endocrine, nutritional and metabolic diseases (E00-E89)",
                              "Diabetes mellitus (E08-E13)", "Type 2 diabetes mellitus"]
    assert set(result) == {"terminology", "code", "name", "matched", "score", "billable", "path"}


def test_fixture_formats_are_searchable(fixture_store):
    assert fixture_store.search("htn", ["umls"], limit=1)[0]["code"] == "C0020538"
    assert fixture_store.search("heart attack", ["snomedct"], limit=1)[0]["code"] == "22298006"
    assert fixture_store.search("glucophage", ["rxnorm"], limit=1)[0]["code"] == "151827"
    assert fixture_store.search("hba1c", ["loinc"], limit=1)[0]["code"] == "4548-4"
    assert fixture_store.search("small head circumference", ["hpo_excerpt"], limit=1)[0]["code"] == "HP:0000252"
    assert fixture_store.search("t2dm", ["mondo_excerpt"], limit=1)[0]["code"] == "MONDO:0005148"
    assert fixture_store.search("bed sore", ["wounds"], limit=1)[0]["code"] == "W01"
    brands = fixture_store.search("lipitor", ["rxnorm"], semantic_type="bn")
    assert [item["code"] for item in brands][:1] == ["153165"]
    assert fixture_store.concept("rxnorm", "153165")["path"][0]["code"] == "83367"
