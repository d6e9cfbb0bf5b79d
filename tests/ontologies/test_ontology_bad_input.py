"""Malformed, truncated, mis-encoded and inconsistent files: a clear OntologyLoadError naming the file (basename
only) and the line, and nothing half-loaded."""
import gzip
import os
import shutil

import pytest

from ontologies import ConceptIndex, OntologyLoadError, OntologyStore, load_terminology

CSV_HEADER = "code,name,synonyms,parent\n"


def _write(folder, name, text, encoding="utf-8"):
    path = os.path.join(folder, name)
    with open(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)
    return path


def _error(fmt, paths, **kwargs) -> OntologyLoadError:
    with pytest.raises(OntologyLoadError) as caught:
        load_terminology(fmt, paths, **kwargs)
    return caught.value


def test_non_utf8_file_is_reported_with_line_then_decoded_when_declared(tmp_path):
    path = _write(tmp_path, "terms.csv", CSV_HEADER + "A1,Fever,,\nA2,Sjögren syndrome,,\n", encoding="latin-1")
    error = _error("tabular", path)
    assert error.file == "terms.csv" and error.line == 3
    assert "terms.csv line 3" in str(error) and "utf-8" in str(error) and str(tmp_path) not in str(error)
    term = load_terminology("tabular", path, encoding="latin-1")
    assert term.concepts["A2"].name == "Sjögren syndrome"


def test_utf16_needs_a_declared_encoding(tmp_path):
    path = _write(tmp_path, "terms.csv", CSV_HEADER + "A1,Fever,pyrexia,\n", encoding="utf-16")
    assert "NUL" in str(_error("tabular", path))
    assert load_terminology("tabular", path, encoding="utf-16").concepts["A1"].synonyms == ["pyrexia"]


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = _write(tmp_path, "terms.csv", "\ufeff" + CSV_HEADER + "A1,Fever,,\n")
    assert "A1" in load_terminology("tabular", path).concepts


def test_unknown_encoding_name(tmp_path):
    path = _write(tmp_path, "terms.csv", CSV_HEADER + "A1,Fever,,\n")
    assert "unknown encoding" in str(_error("tabular", path, encoding="klingon-8"))


def test_truncated_rrf_line(tmp_path, data_dir):
    with open(os.path.join(data_dir, "umls", "MRCONSO.RRF"), encoding="utf-8") as handle:
        lines = handle.readlines()
    path = _write(tmp_path, "MRCONSO.RRF", "".join(lines[:10]) + lines[10][:40])
    error = _error("umls", [path])
    assert error.file == "MRCONSO.RRF" and error.line == 11 and "fields" in str(error)


def test_truncated_obo_stanza_and_unterminated_quote(tmp_path, data_dir):
    with open(os.path.join(data_dir, "sample.obo"), encoding="utf-8") as handle:
        text = handle.read()
    cut = text.index("name: Ataxia")
    error = _error("obo", _write(tmp_path, "cut.obo", text[:cut]))
    assert error.file == "cut.obo" and "no name" in str(error)
    assert error.line == text[:cut].count("\n") - 1  # the line of the [Term] header of the cut stanza
    quote = text.index('synonym: "Cerebellar ataxia"')
    error = _error("obo", _write(tmp_path, "quote.obo", text[:quote + 20]))
    assert "unterminated" in str(error) and error.line == text[:quote].count("\n") + 1


def test_malformed_obo_line(tmp_path):
    path = _write(tmp_path, "bad.obo", "format-version: 1.2\n\n[Term]\nid: X:1\nname: thing\nthis line has no tag\n")
    error = _error("obo", path)
    assert error.line == 6 and "tag: value" in str(error)


def test_truncated_owl_xml(tmp_path, data_dir):
    with open(os.path.join(data_dir, "sample.owl"), encoding="utf-8") as handle:
        text = handle.read()
    error = _error("owl", _write(tmp_path, "cut.owl", text[: len(text) // 2]))
    assert error.file == "cut.owl" and error.line and "malformed XML" in str(error)


def test_owl_entity_expansion_is_refused(tmp_path):
    bomb = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">&b;</rdf:RDF>')
    assert "unsafe XML" in str(_error("owl", _write(tmp_path, "bomb.owl", bomb)))


def test_truncated_csv_quote(tmp_path):
    path = _write(tmp_path, "terms.csv", CSV_HEADER + 'A1,Fever,,\nA2,"Pressure injury, stage')
    error = _error("tabular", path)
    assert error.file == "terms.csv" and error.line == 3


def test_short_row_is_a_truncated_line(tmp_path):
    error = _error("tabular", _write(tmp_path, "terms.tsv", "code\tname\tparent\nA1\tFever\t\nA2\tCough\n"))
    assert error.line == 3 and "expected 3 fields" in str(error)


def test_truncated_gzip(tmp_path):
    path = os.path.join(tmp_path, "terms.csv.gz")
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(CSV_HEADER + "".join(f"A{i},Term number {i},,\n" for i in range(3000)))
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
    assert "truncated" in str(_error("tabular", path))


def test_duplicate_codes(tmp_path, data_dir):
    error = _error("tabular", _write(tmp_path, "dup.csv", CSV_HEADER + "A1,Fever,,\nA2,Cough,,\nA1,Pyrexia,,\n"))
    assert error.line == 4 and "duplicate code A1" in str(error) and "line 2" in str(error)
    obo = "[Term]\nid: X:1\nname: one\n\n[Term]\nid: X:1\nname: again\n"
    error = _error("obo", _write(tmp_path, "dup.obo", obo))
    assert error.line == 6 and "duplicate id X:1" in str(error)
    folder = tmp_path / "snomed"
    shutil.copytree(os.path.join(data_dir, "snomed"), folder)
    concept_file = next(folder.glob("sct2_Concept_*"))
    with open(concept_file, "a", newline="") as handle:
        handle.write("38341003\t20240101\t1\t900000000000207008\t900000000000074008\r\n")
    error = _error("snomed", [str(folder)])
    assert error.file == concept_file.name and error.line == 23


def test_cycles_are_rejected_with_the_declaring_line(tmp_path):
    rows = "A,Top,,\nB,Middle,,A|C\nC,Bottom,,B\nD,Other,,A\n"
    error = _error("tabular", _write(tmp_path, "cycle.csv", CSV_HEADER + rows))
    assert "cycle in hierarchy" in str(error) and error.file == "cycle.csv" and error.line in (3, 4)
    assert "B" in str(error) and "C" in str(error)
    obo = "[Term]\nid: X:1\nname: one\nis_a: X:2\n\n[Term]\nid: X:2\nname: two\nis_a: X:1 ! one\n"
    error = _error("obo", _write(tmp_path, "cycle.obo", obo))
    assert "cycle" in str(error) and error.line in (4, 9)


def test_self_parent_is_ignored_not_a_cycle(tmp_path):
    term = load_terminology("tabular", _write(tmp_path, "self.csv", CSV_HEADER + "A,Top,,A\n"))
    assert term.concepts["A"].parents == []


def test_missing_required_columns(tmp_path, data_dir):
    error = _error("tabular", _write(tmp_path, "nocode.csv", "id,name\n1,Fever\n"))
    assert error.line == 1 and "code" in str(error)
    with open(os.path.join(data_dir, "loinc", "Loinc.csv"), encoding="utf-8") as handle:
        lines = handle.readlines()
    header = lines[0].replace('"LONG_COMMON_NAME",', "")
    error = _error("loinc", _write(tmp_path, "Loinc.csv", header + "".join(lines[1:3])))
    assert "LONG_COMMON_NAME" in str(error) and error.line == 1


def test_empty_and_missing_files(tmp_path):
    assert "empty" in str(_error("tabular", _write(tmp_path, "empty.csv", "")))
    assert "no concepts" in str(_error("tabular", _write(tmp_path, "header.csv", CSV_HEADER)))
    error = _error("tabular", os.path.join(tmp_path, "nowhere.csv"))
    assert "not found" in str(error) and str(tmp_path) not in str(error)


def test_bad_arguments():
    assert "unknown format" in str(_error("xml", ["a.xml"]))
    assert "needs the terminology's files" in str(_error("umls", None))
    assert "does not take option" in str(_error("cholec80_phases", None, colour="red"))


def test_failed_import_leaves_previous_version_active(tmp_path):
    store = OntologyStore(str(tmp_path / "cache"))
    good = _write(tmp_path, "terms.csv", CSV_HEADER + "A1,Fever,pyrexia,\nA2,Cough,,\n")
    store.import_files("tabular", good, name="mini", version="1")
    bad = _write(tmp_path, "terms2.csv", CSV_HEADER + "A1,Fever,,\nA1,Again,,\n")
    with pytest.raises(OntologyLoadError):
        store.import_files("tabular", bad, name="mini", version="2")
    assert [(item["name"], item["version"]) for item in store.available()] == [("mini", "1")]
    assert store.search("pyrexia", ["mini"])[0]["code"] == "A1"


def test_failure_while_writing_keeps_previous_build_and_no_temp_files(tmp_path, monkeypatch):
    store = OntologyStore(str(tmp_path / "cache"))
    store.import_files("tabular", _write(tmp_path, "v1.csv", CSV_HEADER + "A1,Fever,,\n"), name="mini", version="1")
    original_save = ConceptIndex.save

    def failing_save(self, directory):
        original_save(self, directory)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ConceptIndex, "save", failing_save)
    with pytest.raises(OSError):
        store.import_files("tabular", _write(tmp_path, "v2.csv", CSV_HEADER + "B1,Cough,,\n"), name="mini",
                           version="2")
    monkeypatch.undo()
    assert store.available()[0]["version"] == "1"
    assert store.search("fever", ["mini"])[0]["code"] == "A1"
    assert not [entry for entry in os.listdir(tmp_path / "cache" / "mini") if entry.startswith(".tmp-")]
