"""The term matcher's saved form: a worker that finds it reads it instead of tokenising ~200k phrases, and gets the
same spans; a damaged, foreign or stale file is rebuilt, never trusted."""
import json
import os
import zipfile

import pytest

from annotators.notes.term_matcher import (TermMatcher, cached_matcher, compile_phrases, load_compiled,
                                           save_compiled)

CONCEPT = {"terminology": "icd10cm", "code": "R07.9", "name": "Chest pain, unspecified"}
PHRASES = {
    "PROBLEM": [("chest pain", CONCEPT), ("Chest  pain", CONCEPT), "shortness of breath", ("troponin leak", None)],
    "TEST": ["troponin", "ECG"],
    "MEDICATION": [("aspirin", {"terminology": "drugs", "code": "1191", "name": "aspirin"}), "troponin"],
    "EMPTY": [],
}
TEXT = "CHEST PAIN and shortness  of breath; ECG normal, troponin negative. Aspirin given. Troponin leak noted."


def test_saved_and_loaded_matcher_matches_exactly_like_the_built_one(tmp_path):
    built = TermMatcher(PHRASES)
    save_compiled(compile_phrases(PHRASES), str(tmp_path / "m"))
    loaded = TermMatcher(compiled=load_compiled(str(tmp_path / "m")))
    assert loaded.match(TEXT) == built.match(TEXT)
    spans = {s["text"]: s for s in loaded.match(TEXT)}
    assert spans["CHEST PAIN"]["concept"] == CONCEPT and spans["troponin"]["label"] == "TEST"  # first label wins
    assert spans["Aspirin"]["candidates"] == [{"terminology": "drugs", "code": "1191", "name": "aspirin",
                                               "score": 1.0}]
    assert len(loaded) == len(built)


def test_saved_form_is_plain_json_and_npz_without_pickle(tmp_path):
    save_compiled(compile_phrases(PHRASES), str(tmp_path / "m"))
    assert sorted(os.listdir(tmp_path)) == ["m.json", "m.npz"]
    with zipfile.ZipFile(tmp_path / "m.npz") as archive:
        for member in archive.namelist():
            assert b"'descr': '|O'" not in archive.read(member)[:128]
    assert json.loads((tmp_path / "m.json").read_text())["format"] == 1


def test_a_span_does_not_share_state_with_the_matcher(tmp_path):
    matcher = TermMatcher(PHRASES)
    first = matcher.match("chest pain")[0]
    first["concept"]["name"] = "changed by a caller"
    first["candidates"][0]["code"] = "X"
    assert matcher.match("chest pain")[0]["concept"] == CONCEPT


def test_cached_matcher_compiles_once_then_reads_the_file(tmp_path):
    calls = []

    def phrases():
        calls.append(1)
        return PHRASES

    first = cached_matcher(str(tmp_path), "key-a", phrases)
    second = cached_matcher(str(tmp_path), "key-a", phrases)
    assert len(calls) == 1 and second.match(TEXT) == first.match(TEXT)
    cached_matcher(str(tmp_path), "key-b", phrases)  # another configuration or terminology build
    assert len(calls) == 2


@pytest.mark.parametrize("damage", ["truncate_npz", "garbage_json", "other_format", "missing_npz", "bad_rows"])
def test_a_damaged_cache_is_rebuilt_not_trusted(tmp_path, damage):
    cached_matcher(str(tmp_path), "key", lambda: PHRASES)
    (saved,) = [name[:-5] for name in os.listdir(tmp_path) if name.endswith(".json")]
    npz, meta = tmp_path / f"{saved}.npz", tmp_path / f"{saved}.json"
    if damage == "truncate_npz":
        npz.write_bytes(npz.read_bytes()[:100])
    elif damage == "garbage_json":
        meta.write_text("{not json")
    elif damage == "other_format":
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "format": 99}))
    elif damage == "missing_npz":
        npz.unlink()
    else:
        strings = json.loads(meta.read_text())
        strings["concept_table"] = []  # rows point past the table
        meta.write_text(json.dumps(strings))
    with pytest.raises(ValueError, match="no usable term matcher cache"):
        load_compiled(str(tmp_path / saved))
    calls = []
    matcher = cached_matcher(str(tmp_path), "key", lambda: calls.append(1) or PHRASES)
    assert calls == [1] and matcher.match(TEXT) == TermMatcher(PHRASES).match(TEXT)
    load_compiled(str(tmp_path / saved))  # written again


def test_an_unwritable_cache_folder_still_gives_a_matcher(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    matcher = cached_matcher(str(blocked / "matchers"), "key", lambda: PHRASES)
    assert matcher.match("chest pain")[0]["label"] == "PROBLEM"


def test_only_the_newest_matchers_are_kept(tmp_path):
    for n in range(5):
        before = set(os.listdir(tmp_path))
        cached_matcher(str(tmp_path), f"key-{n}", lambda: PHRASES, keep=3)
        for name in set(os.listdir(tmp_path)) - before:
            os.utime(tmp_path / name, (1_000_000 + n, 1_000_000 + n))
    assert len([name for name in os.listdir(tmp_path) if name.endswith(".json")]) == 3
    assert len([name for name in os.listdir(tmp_path) if name.endswith(".npz")]) == 3
    calls = []
    cached_matcher(str(tmp_path), "key-4", lambda: calls.append(4) or PHRASES, keep=3)
    cached_matcher(str(tmp_path), "key-2", lambda: calls.append(2) or PHRASES, keep=3)
    cached_matcher(str(tmp_path), "key-0", lambda: calls.append(0) or PHRASES, keep=3)
    assert calls == [0]


def _local_problems(tmp_path, monkeypatch, rows: str):
    """A store with one small terminology and a list that grows by one each time the pipeline compiles phrases."""
    from annotators.notes import preannotate
    from ontologies import OntologyStore

    store = OntologyStore(str(tmp_path / "cache"))
    csv = tmp_path / "problems.csv"
    csv.write_text(rows)
    store.import_files("tabular", str(csv), name="local_problems", version="1")
    monkeypatch.setattr(preannotate, "_MATCHERS", {})
    compiled = []
    real_phrases = preannotate._phrases
    monkeypatch.setattr(preannotate, "_phrases", lambda *a: compiled.append(1) or real_phrases(*a))
    return store, csv, compiled


def test_the_pipeline_reuses_the_saved_matcher_and_a_rebuilt_terminology_invalidates_it(tmp_path, monkeypatch):
    from annotators.notes import preannotate

    store, csv, compiled = _local_problems(tmp_path, monkeypatch, "code,name\nP1,Wobbly knee syndrome\nP2,Purple toe\n")
    config = {"entity_labels": [{"name": "PROBLEM", "terminologies": ["local_problems"]}]}

    found = preannotate._matcher(config, store).match("Has wobbly knee syndrome.")
    assert [(s["text"], s["concept"]["code"]) for s in found] == [("wobbly knee syndrome", "P1")]
    preannotate._MATCHERS.clear()  # as a new worker process
    assert preannotate._matcher(config, store).match("Has wobbly knee syndrome.") == found
    assert compiled == [1]

    csv.write_text("code,name\nP1,Wobbly knee syndrome\nP3,Green ear\n")
    store.import_files("tabular", str(csv), name="local_problems", version="1")  # same version, new build
    preannotate._MATCHERS.clear()
    assert preannotate._matcher(config, store).match("Green ear, purple toe.")[0]["text"] == "Green ear"
    assert compiled == [1, 1]


def test_setup_prepares_the_default_matcher_once_so_a_worker_only_loads_it(tmp_path, monkeypatch):
    from annotators.notes import preannotate, schema

    store, _, compiled = _local_problems(tmp_path, monkeypatch, "code,name\nP1,Wobbly knee syndrome\n")
    default = {"entity_labels": [{"name": "PROBLEM", "terminologies": ["local_problems"]}]}
    monkeypatch.setattr(schema, "default_label_config", lambda: default)

    preannotate.prepare_default_matcher(store)
    preannotate._MATCHERS.clear()  # a second `flask setup`: the saved matcher is not even loaded
    preannotate.prepare_default_matcher(store)
    assert compiled == [1] and preannotate._MATCHERS == {}
    assert preannotate._matcher(default, store).match("Wobbly knee syndrome.")[0]["concept"]["code"] == "P1"
    assert compiled == [1]  # the worker read what setup compiled
