"""Readers for brat (complete standoff + annotation.conf), BioC XML / JSON and PubTator, on the peers' own published
fixture files (tests/data/notes/peers/<peer>/, each folder with its SOURCE.md and licence) and on hostile variants
(issue 14, item 2)."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from annotators.base import FormatError, ItemInput, ItemRejected
from annotators.notes import formats, formats_bioc, formats_pubtator
from annotators.notes.formats_bioc import read_bioc, read_bioc_json
from annotators.notes.formats_brat import parse_annotation_conf, read_brat
from annotators.notes.formats_import import read_txt, read_zip
from annotators.notes.formats_pubtator import read_pubtator
from annotators.notes.schema import default_label_config

PEERS = Path(__file__).resolve().parent.parent / "data" / "notes" / "peers"
CONFIG = default_label_config()


def _read(relative: str) -> bytes:
    return (PEERS / relative).read_bytes()


def _brat(relative: str):
    return read_brat(_read(f"{relative}.txt"), _read(f"{relative}.ann"), relative, CONFIG)


def _spans(item) -> dict:
    return {s["id"]: s for s in item.annotations[0]["spans"]} if item.annotations else {}


def _relations(item) -> set:
    return {(r["type"], r["head"], r["tail"]) for r in item.annotations[0]["relations"]} if item.annotations else set()


def _zip(entries: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _surface(item) -> list:
    """What two readers of the same document must agree on: spans by offsets, label and concept code."""
    return sorted((s["start"], s["end"], s["label"], (s.get("concept") or {}).get("code"))
                  for s in (item.annotations[0]["spans"] if item.annotations else []))


# ======================================================================================================= brat
def test_brat_tutorial_events_with_nested_arguments_attributes_and_notes():
    """brat/tutorials/bio/000-introduction: the file that failed at its first event line."""
    item = _brat("brat/tutorials/bio/000-introduction")
    spans = _spans(item)
    assert {spans[t]["label"] for t in ("T1", "T6")} == {"Gene_expression"} and spans["T2"]["text"] == "IkB-alpha"
    # E2 Negative_regulation:T3 Cause:E1 Theme:E3 -> from its trigger to the triggers of E1 and E3
    assert _relations(item) == {("Theme", "T1", "T2"), ("Cause", "T3", "T1"), ("Theme", "T3", "T4"),
                                ("Theme", "T4", "T6"), ("Theme", "T6", "T5")}
    assert {r["id"] for r in item.annotations[0]["relations"]} >= {"E2-Cause", "E2-Theme"}
    assert spans["T3"]["attributes"]["Confidence"] == "Possible"
    assert spans["T1"]["attributes"]["Confidence"] == "Certain"
    assert spans["T1"]["attributes"]["note"].startswith("The \"suggest that\" applies")  # #1 on E1 -> its trigger


def test_brat_tutorial_zip_with_annotation_conf():
    """The whole brat/tutorials/bio folder zipped: annotation.conf is read (no longer skipped) into each item."""
    folder = PEERS / "brat" / "tutorials" / "bio"
    items = read_zip(_zip({f"bio/{p.name}": p.read_bytes() for p in folder.iterdir()}), "bio.zip", CONFIG)
    assert len(items) == 5
    conf = items[0].meta["brat_conf"]
    assert conf["entities"] == ["Protein", "Simple_chemical", "Complex", "Organism"]
    assert conf["events"] == ["Gene_expression", "Binding", "Positive_regulation", "Negative_regulation"]
    assert conf["relations"] == ["Part-of", "Member-of", "Equiv"]
    assert conf["attributes"] == {"Negation": [], "Confidence": ["Possible", "Likely", "Certain"]}
    assert all(i.meta["brat_conf"] == conf for i in items)
    by_name = {i.name.rsplit("/", 1)[-1]: i for i in items}
    attributes = _spans(by_name["100-attribute_annotation.txt"])  # A4 Negation E4 -> negated trigger T12
    assert attributes["T12"]["assertion"] == "negated" and attributes["T12"]["attributes"]["Confidence"] == "Likely"
    assert ("Theme2", "T9", "T3") in _relations(by_name["100-attribute_annotation.txt"])
    binding = _relations(by_name["080-event-annotation.txt"])  # E3 Binding:T9 Theme:T4 Theme2:T5 Theme3:T6
    assert {("Theme", "T9", "T4"), ("Theme2", "T9", "T5"), ("Theme3", "T9", "T6")} <= binding


def test_brat_notes_on_relations_and_events_land_on_head_and_trigger():
    """brat/tutorials/bio/110-note_annotation: #3 is on relation R1 (Part-of T7 -> T6), #2 on event E1 (trigger T5)."""
    spans = _spans(_brat("brat/tutorials/bio/110-note_annotation"))
    assert spans["T1"]["attributes"]["note"] == "Check: is this a Protein or a Complex?"
    assert spans["T5"]["attributes"]["note"] == "Single ternary binding event or two binary ones?"
    assert spans["T7"]["attributes"]["note"].startswith("Should this be annotated?")


def test_brat_news_normalisation_forward_references_and_binary_attributes():
    """brat/tutorials/news/000-introduction: E1 names T4 and T6 before they are defined; N1 is a Wikipedia id."""
    item = _brat("brat/tutorials/news/000-introduction")
    spans = _spans(item)
    assert spans["T5"]["concept"] == {"terminology": "Wikipedia", "code": "64488", "name": "Carlos Salinas de Gortari"}
    assert spans["T4"]["attributes"] == {"Mention": "Name", "Individual": "true"}
    assert {("Beneficiary-Arg", "T3", "T4"), ("Recipient-Arg", "T3", "T6"), ("Family", "T4", "T5")} <= _relations(item)
    assert spans["T2"]["attributes"]["note"] == "100000000 USD"


def test_brat_equivalence_negated_event_and_discontinuous_span():
    """bioc/brat/example1 (the bioc library's brat test file): `*` Equiv, an event with Arg roles, A on an event."""
    item = _brat("bioc/brat/example1")
    spans = _spans(item)
    assert spans["T1"]["attributes"]["fragments"] == "33 40;41 42" and spans["T1"]["text"] == "protein 1"
    assert spans["T3"]["assertion"] == "negated" and spans["T3"]["attributes"]["event_type"] == "PPI"
    assert _relations(item) == {("PPI", "T1", "T2"), ("Arg1", "T3", "T1"), ("Arg2", "T3", "T2"), ("Equiv", "T1", "T2")}
    assert spans["T1"]["attributes"]["note"] == "this annotation is suspect"


def test_brat_bare_normalisation_ids_and_named_relation_roles():
    """bconv/brat/elliptic-coordination: `N3 Reference T3 672` (no DB: prefix); bconv also writes
    `R1 CID Chemical:T1 Disease:T2` (roles other than Arg1/Arg2)."""
    spans = _spans(_brat("bconv/brat/elliptic-coordination"))
    assert spans["T1"]["concept"]["terminology"] == "MESH" and spans["T1"]["attributes"]["fragments"] == "15 21;34 41"
    assert spans["T3"]["concept"] == {"terminology": "NCBIGene", "code": "672", "name": "BRCA1"}
    ann = "T1\tChemical 0 9\tLidocaine\nN1\tReference T1 D008012\tLidocaine\nT2\tDisease 18 34\tcardiac asystole\n" \
          "R1\tCID Chemical:T1 Disease:T2\n"
    item = read_brat(b"Lidocaine-induced cardiac asystole.", ann.encode(), "cdr", CONFIG)
    assert _relations(item) == {("CID", "T1", "T2")} and _spans(item)["T1"]["concept"]["terminology"] == "MeSH"


def test_inception_ncbi_disease_brat_zip():
    """inception/brat/NCBI-disease zipped as a user would (README, visual.conf and annotation.conf inside)."""
    folder = PEERS / "inception" / "brat" / "NCBI-disease"
    items = read_zip(_zip({f"NCBI-disease/{p.name}": p.read_bytes() for p in folder.iterdir()}), "ncbi.zip", CONFIG)
    assert len(items) == 5 and all(i.meta["brat_conf"]["entities"] == ["Disease"] for i in items)
    assert items[0].meta["brat_conf"]["attributes"]["Category"] == ["SpecificDisease", "Modifier", "DiseaseClass",
                                                                     "CompositeMention"]
    spans = [s for i in items for s in i.annotations[0]["spans"]]
    assert {s["label"] for s in spans} == {"Disease"} and all("Category" in s["attributes"] for s in spans)


def test_annotation_conf_nested_folders_and_older_section_names():
    conf = parse_annotation_conf(b"[spans]\nA\n!Abstract\n\tB|alias\n[relations]\n<OVERLAP> Arg1:A, Arg2:A, "
                                 b"<OVL-TYPE>:contain\nr1 Arg1:A, Arg2:B\n[attributes]\n"
                                 b"X Arg:<ENTITY>, Value:v1|v2\n", "c")
    assert conf == {"entities": ["A", "B"], "relations": ["r1"], "events": [], "attributes": {"X": ["v1", "v2"]}}
    data = _zip({"annotation.conf": "[entities]\nTop\n", "sub/annotation.conf": "[entities]\nInner\n",
                 "sub/deeper/a.txt": "Some text.", "sub/deeper/a.ann": "T1\tInner 0 4\tSome\n", "b.txt": "Other."})
    items = {i.name: i for i in read_zip(data, "n.zip", CONFIG)}
    assert items["n.zip/sub/deeper/a.txt"].meta["brat_conf"]["entities"] == ["Inner"]
    assert items["n.zip/b.txt"].meta["brat_conf"]["entities"] == ["Top"]


def test_brat_m_lines_multi_valued_and_other_note_types():
    ann = ("E1\tBind:T2 Theme:T1\nT1\tProtein 0 3\tp53\nT2\tBind 4 9\tbinds\nR1\tRel Arg1:T1 Arg2:T2\n"
           "M1\tSpeculation E1\nA2\tFlag T1 x\nA3\tFlag T1 y\nA4\tFlag T1 x\nA5\tConf R1 low\n#1\tLemma T1\tp-53\n")
    spans = _spans(read_brat(b"p53 binds", ann.encode(), "doc", CONFIG))
    assert spans["T2"]["assertion"] == "possible"
    assert spans["T1"]["attributes"] == {"Flag": "x|y", "Rel.Conf": "low", "Lemma": "p-53"}


@pytest.mark.parametrize("ann, message", [
    ("T1\tX 0 3\tabc\nR1\tr Arg1:T1 Arg2:T9\n", "line 2: refers to T9, which is not defined"),
    ("E1\tEv:T5 Theme:T1\nT1\tX 0 3\tabc\n", "line 1: event E1 has trigger 'T5'"),
    ("T1\tX 0 3\tabc\nT1\tX 0 3\tabc\n", "line 2: T1 is defined twice"),
    ("T1\tX zero 3\tabc\n", "line 1: not a brat text-bound annotation"),
    ("T1\tX 0 3\tabc\nR1\tr Arg1:T1 Arg2:T1 Arg3:T1\n", "exactly two arguments"),
    ("T1\tX 0 3\tabc\n*\tEquiv T1\n", "at least two members"),
    ("T1\tX 0 3\tabc\nA1\tNeg\n", "an attribute is"),
    ("T1\tX 0 3\tabc\nA1\tNeg T7\n", "refers to T7"),
    ("T1\tX 0 3\tabc\nN1\tReference T1\n", "a normalisation is"),
    ("T1\tX 0 3\tabc\n#1\tAnnotatorNotes\tnote\n", "a note is"),
    ("T1 X 0 3 abc\n", "line 1: not a brat standoff line"),
    ("T1\tX 0 30\tabc\n", "beyond the end of the text"),
    ("T1\tX 1 3\tabc\n", "span text does not match"),
    ("T1\tX 0 3\tabc\nE1\tEv:T1 Theme\n", "is not ROLE:ID"),
    (f"T1\t{'X' * 65} 0 3\tabc\n", "longer than 64"),
])
def test_brat_hostile_lines_name_the_line(ann, message):
    with pytest.raises(FormatError, match=message):
        read_brat(b"abc def", ann.encode(), "doc", CONFIG)


def test_brat_hostile_encodings_and_zip():
    with pytest.raises(ItemRejected, match="binary"):
        read_brat(b"abc", b"T1\tX 0 3\tabc\x00", "doc", CONFIG)
    item = read_brat("café au lait".encode("latin-1"), "T1\tX 0 4\tcafé\n".encode("utf-8"), "doc", CONFIG)
    assert _spans(item)["T1"]["text"] == "café"  # each file decoded on its own
    with pytest.raises(ItemRejected, match="has no matching .txt"):
        read_zip(_zip({"a.ann": "T1\tX 0 1\ta\n", "annotation.conf": "[entities]\nX\n"}), "z.zip", CONFIG)
    with pytest.raises(ItemRejected, match="not a file this project imports"):
        read_zip(_zip({"a.txt": "a", "data.bin": b"\x00"}), "z.zip", CONFIG)
    with pytest.raises(ItemRejected, match="binary"):
        read_zip(_zip({"a.txt": "a", "annotation.conf": b"\x00\x01"}), "z.zip", CONFIG)


# ======================================================================================================= BioC
@pytest.mark.parametrize("name", ["BC5CDR-example", "NCBIdevset-example", "tutorial-example",
                                  "no-sent-boundary-inside-entity"])
def test_bioc_xml_json_and_pubtator_of_the_same_documents_agree(name):
    """bconv/bioc_xml, bconv/bioc_json and bconv/pubtator hold the same corpus samples."""
    xml = read_bioc(_read(f"bconv/bioc_xml/{name}.xml"), name, CONFIG)
    as_json = formats.ingest(ItemInput(name=f"{name}.json", data=_read(f"bconv/bioc_json/{name}.json")), CONFIG)
    assert [i.meta["source_format"] for i in as_json] == ["bioc_json"] * len(xml)
    assert [(i.text, _surface(i)) for i in xml] == [(i.text, _surface(i)) for i in as_json]
    if name != "no-sent-boundary-inside-entity":
        pubtator = read_pubtator(_read(f"bconv/pubtator/{name}.txt"), name, CONFIG)
        # BioC's passages end with a newline the PubTator lines cannot carry; the offsets are the same
        assert [(i.text.rstrip("\n"), _surface(i)) for i in xml] == [(i.text, _surface(i)) for i in pubtator]


def test_bioc_text_in_sentences_not_in_passages():
    """bconv/bioc_xml/sentence-level: the case that was refused as an "empty note"."""
    [item] = read_bioc(_read("bconv/bioc_xml/sentence-level.xml"), "s.xml", CONFIG)
    assert item.text.startswith("Experimental tests of bivalve shell shape") and len(item.text) == 1488
    assert item.text[203:224] == "While their shells se" and item.text[1359:1372] == "Additionally,"
    [as_json] = formats.read_json(_read("bconv/bioc_json/sentence-level.json"), "s.json", CONFIG)
    assert as_json.text == item.text


def test_bioc_everything_fixture_untyped_annotations_levels_and_offsets():
    """bioc/everything.xml and .json (the bioc library's own test file): annotations without a type infon at passage,
    sentence and document level; a second document numbered on from offset 27 with non-ASCII text."""
    for items in (read_bioc(_read("bioc/everything.xml"), "e.xml", CONFIG),
                  formats.read_json(_read("bioc/everything.json"), "e.json", CONFIG)):
        first, second = items
        spans = _spans(first)
        assert {s["label"] for s in spans.values()} == {"ENTITY"} and spans["5"]["text"] == "fg"
        assert spans["1"]["attributes"] == {"annotation-infon-key": "annotation-infon-value"}
        assert _relations(first) == {("related", "1", "2")}  # R1 (passage) and R2 (document) link the same pair
        assert first.meta["bioc_infons"] == {"document-infon-key": "document-infon-value"}
        assert second.text == "abcdefg测试Non-ASCII" and second.meta["bioc_offset"] == 27
        assert [(s["text"], s["start"]) for s in second.annotations[0]["spans"]] == [("bc", 1), ("测试", 7)]
        assert second.meta["bioc_relations_skipped"] == 1  # R3 has one node


def test_inception_bioc_fixtures():
    """inception/bioc and inception/bioc-suite: offsets relative to the sentence, Java type names, repeated infons,
    annotations whose <text> is a placeholder."""
    [item] = read_bioc(_read("inception/bioc/example-with-sentences.xml"), "s.xml", CONFIG)
    assert item.text == "Sentence 1.         Sentence 2." and item.meta["bioc_offset"] == 10
    assert [(s["text"], s["label"]) for s in item.annotations[0]["spans"]] == [("Sentence", "ENTITY"), ("1", "ENTITY")]
    assert item.meta["bioc_text_mismatches"] == 2 and _relations(item) == {("related", "S1", "S2")}
    [ref] = read_bioc(_read("inception/bioc/example-with-sentences-ref.xml"), "r.xml", CONFIG)
    assert [(s["label"], s["attributes"]) for s in ref.annotations[0]["spans"]] == [
        ("span-annotation-value", {"type": "custom.Span"})] * 2 and "bioc_text_mismatches" not in ref.meta
    assert _relations(ref) == {("relation-annotation-value", "1", "2")}
    [typed] = read_bioc(_read("inception/bioc-suite/annotation-with-single-feature-typed.xml"), "t.xml", CONFIG)
    assert _spans(typed)["1"]["label"] == "PER"
    multi_valued = _read("inception/bioc-suite/annotation-with-single-multi-valued-feature-typed.xml")
    [multi] = read_bioc(multi_valued, "m.xml", CONFIG)
    assert _spans(multi)["1"]["attributes"]["values"] == "PER|LOC"
    docs = read_bioc(_read("inception/bioc/example-with-multiple-documents.xml"), "d.xml", CONFIG)
    assert [d.text for d in docs] == ["Document 1 text.", "Document 2 text.", "Document 3 text."]
    assert len(read_bioc(_read("inception/bioc/example-with-incomplete-metadata.xml"), "i.xml", CONFIG)) == 3


def test_bc5cdr_bioc_and_pubtator_agree_and_cid_relations():
    """bc5cdr/CDR_sample.gold.head.BioC.xml and .PubTator: same 10 documents; CID relations link concepts, placed on
    the first mention of each; BioC splits composite mentions into discontinuous individual ones."""
    bioc_items = read_bioc(_read("bc5cdr/CDR_sample.gold.head.BioC.xml"), "cdr.xml", CONFIG)
    pubtator = read_pubtator(_read("bc5cdr/CDR_sample.gold.head.PubTator"), "cdr.PubTator", CONFIG)
    assert [i.name for i in bioc_items] == [i.name for i in pubtator] and len(pubtator) == 10

    def cid(item):
        spans = _spans(item)
        return {(r["type"], spans[r["head"]]["concept"]["code"], spans[r["tail"]]["concept"]["code"])
                for r in item.annotations[0]["relations"]}

    for b, p in zip(bioc_items, pubtator):
        whole = [s for s in b.annotations[0]["spans"] if s["attributes"].get("CompositeRole") != "IndividualMention"]
        assert _surface(type(b)(kind="note", annotations=[{"spans": whole}])) == _surface(p)
        assert cid(b) == cid(p) == {("CID", c, d) for c, d in (r[1:3] for r in p.meta["pubtator_relations"])}
    first = pubtator[0]
    assert first.text.split("\n")[0] == "Antihypertensive drugs and depression: a reappraisal."
    composite = next(s for i in pubtator for s in i.annotations[0]["spans"] if "individual_mentions" in s["attributes"])
    first_id, second_id = composite["attributes"]["pubtator_id"].split("|")
    assert composite["concept"]["code"] == first_id and composite["candidates"][0]["code"] == second_id
    assert len(composite["attributes"]["individual_mentions"].split("|")) == 2


def test_bioc_byte_offsets_declared_or_detected_cross_checked_with_the_bioc_library():
    """Written by the `bioc` package, read by ours: UTF-8 byte offsets (as PubTator Central writes them) declared
    by an `offset_unit` infon, or found by the annotations' <text>, and character offsets."""
    import bioc
    from bioc import biocjson

    title, abstract = "Fièvre et œdème.", "Patient • douleur thoracique, 38 °C."

    def collection(unit):
        measure = (lambda s: len(s.encode("utf-8"))) if unit == "byte" else len
        coll = bioc.BioCCollection()
        document = bioc.BioCDocument()
        document.id = "d1"
        for offset, text in ((0, title), (measure(title) + 1, abstract)):
            passage = bioc.BioCPassage()
            passage.offset, passage.text = offset, text
            document.add_passage(passage)
        word = "douleur"
        annotation = bioc.BioCAnnotation()
        annotation.id, annotation.text = "a1", word
        annotation.infons["type"] = "PROBLEM"
        start = document.passages[1].offset + measure(abstract[:abstract.index(word)])
        annotation.add_location(bioc.BioCLocation(start, measure(word)))
        document.passages[1].add_annotation(annotation)
        coll.add_document(document)
        return coll

    for unit in ("char", "byte"):
        for declared in (False, True):
            coll = collection(unit)
            if declared:
                coll.infons["offset_unit"] = "bytes" if unit == "byte" else "characters"
            for items in (read_bioc(bioc.biocxml.dumps(coll).encode(), "b.xml", CONFIG),
                          formats.read_json(biocjson.dumps(coll).encode(), "b.json", CONFIG)):
                [item] = items
                assert item.text == f"{title}\n{abstract}"
                assert [s["text"] for s in item.annotations[0]["spans"]] == ["douleur"], (unit, declared)


def test_bioc_written_by_the_bioc_library_sentences_relations_and_concepts():
    import bioc
    from bioc import biocjson

    coll = bioc.BioCCollection()
    document = bioc.BioCDocument()
    document.id = "doc-7"
    passage = bioc.BioCPassage()
    passage.offset = 0
    for offset, text in ((0, "Aspirin causes asthma."), (23, "BRCA1 mutation.")):
        sentence = bioc.BioCSentence()
        sentence.offset, sentence.text = offset, text
        passage.add_sentence(sentence)
    for aid, label, offset, length, infons in (("1", "Chemical", 0, 7, {"MESH": "D001241"}),
                                               ("2", "Disease", 15, 6, {"identifier": "MESH:D001249|OMIM:600807"}),
                                               ("3", "Gene", 23, 5, {"NCBI Gene": "672"})):
        annotation = bioc.BioCAnnotation()
        annotation.id = aid
        annotation.infons.update({"type": label, **infons})
        annotation.add_location(bioc.BioCLocation(offset, length))
        passage.sentences[0 if offset < 23 else 1].add_annotation(annotation)
    relation = bioc.BioCRelation()
    relation.id = "R1"
    relation.infons["type"] = "related_to"
    for refid, role in (("2", "Target"), ("1", "Source"), ("3", "Other")):
        relation.add_node(bioc.BioCNode(refid, role))
    passage.add_relation(relation)
    document.add_passage(passage)
    coll.add_document(document)
    for data, read in ((bioc.biocxml.dumps(coll), read_bioc), (biocjson.dumps(coll), read_bioc_json)):
        [item] = read(data.encode(), "lib", CONFIG)
        assert item.text == "Aspirin causes asthma. BRCA1 mutation."
        spans = _spans(item)
        assert spans["1"]["concept"] == {"terminology": "MeSH", "code": "D001241", "name": ""}
        assert spans["2"]["concept"]["code"] == "D001249" and spans["2"]["candidates"][0]["terminology"] == "OMIM"
        assert spans["3"]["concept"]["terminology"] == "NCBIGene"
        # the Source role is the head; each other node gives one relation from it
        assert _relations(item) == {("related_to", "1", "2"), ("related_to", "1", "3")}


def test_our_bioc_export_reads_back():
    text = "Has diabetes, no fever."
    payload = {"spans": [
        {"id": "s1", "start": 4, "end": 12, "label": "PROBLEM", "layer": "entity", "assertion": "present",
         "concept": {"terminology": "icd10cm", "code": "E11 9", "name": "Type 2 diabetes"},
         "attributes": {"source": "model"}},
        {"id": "s2", "start": 17, "end": 22, "label": "PROBLEM", "layer": "entity", "assertion": "negated"}],
        "relations": [{"id": "r1", "type": "related", "head": "s1", "tail": "s2"}]}
    from annotators.base import ItemView
    from annotators.notes.formats_export import exporters

    buffer = io.BytesIO()
    exporters()["bioc"].write([(ItemView(id=1, kind="note", text=text, meta={}), payload)], CONFIG, buffer)
    [item] = read_bioc(buffer.getvalue(), "x.xml", CONFIG)
    spans = _spans(item)
    assert spans["s1"]["concept"] == payload["spans"][0]["concept"] and "candidates" not in spans["s1"]
    assert spans["s1"]["attributes"] == {"source": "model"} and spans["s2"]["assertion"] == "negated"
    assert item.annotations[0]["relations"] == payload["relations"]


_DOC = ("<collection><source/><date/><key/><document><id>d</id><passage><offset>0</offset><text>Has fever.</text>"
        "{extra}</passage></document></collection>")


@pytest.mark.parametrize("extra, error, message", [
    ('<annotation id="a"><location offset="-1" length="3"/></annotation>', FormatError, "negative offset"),
    ('<annotation id="a"><location offset="x" length="3"/></annotation>', FormatError, "is not a number"),
    ('<annotation id="a"><location offset="4" length="30"/></annotation>', FormatError, "beyond the text"),
    ('<annotation id="a"><location offset="4" length="5"/></annotation><annotation id="a">'
     '<location offset="0" length="3"/></annotation>', FormatError, "'a' is used twice"),
    ('<annotation id="a"><location offset="4" length="5"/></annotation><relation id="r"><node refid="a"/>'
     '<node refid="zz"/></relation>', FormatError, "points at 'zz'"),
    ('<annotation id="a"><infon key="type">' + "L" * 70 + '</infon><location offset="4" length="5"/></annotation>',
     FormatError, "longer than 64"),
])
def test_bioc_hostile_variants(extra, error, message):
    with pytest.raises(error, match=message):
        read_bioc(_DOC.format(extra=extra).encode(), "h.xml", CONFIG)


def test_bioc_hostile_structure_and_json():
    overlap = ("<collection><document><id>d</id><passage><offset>0</offset><text>Has fever.</text></passage>"
               "<passage><offset>3</offset><text>No.</text></passage></document></collection>")
    with pytest.raises(FormatError, match="overlaps"):
        read_bioc(overlap.encode(), "o.xml", CONFIG)
    with pytest.raises(ItemRejected, match="empty note"):
        read_bioc(b"<collection><document><id>d</id><passage><offset>0</offset></passage></document></collection>",
                  "e.xml", CONFIG)
    with pytest.raises(ItemRejected, match="no documents"):
        read_bioc(b"<collection><source/></collection>", "e.xml", CONFIG)
    skipped = _DOC.format(extra='<annotation id="a"/><annotation id="b"><location offset="1" length="0"/></annotation>')
    [item] = read_bioc(skipped.encode(), "s.xml", CONFIG)
    assert item.annotations == [] and item.meta["bioc_annotations_skipped"] == 2
    for bad, message in (({"documents": {"id": 1}}, "'documents' must be a list"),
                         ({"documents": [{"passages": [{"offset": "x", "text": "a"}]}]}, "is not a number"),
                         ({"documents": [{"passages": [{"offset": 0, "text": 5}]}]}, "'text' must be a string"),
                         ({"documents": [{"passages": "no"}]}, "'passages' must be a list of objects"),
                         ({"documents": [{"passages": [{"offset": 0, "text": "ab", "annotations": [
                             {"id": "a", "infons": [], "locations": [{"offset": 0, "length": 1}]}]}]}]},
                          "'infons' must be an object")):
        with pytest.raises(FormatError, match=message):
            formats.read_json(json.dumps(bad).encode(), "bad.json", CONFIG)


def test_bioc_too_many_documents(monkeypatch):
    monkeypatch.setattr(formats_bioc, "MAX_RECORDS", 2)
    three = "<collection>" + "<document><id>d</id><passage><offset>0</offset><text>x</text></passage></document>" * 3
    with pytest.raises(ItemRejected, match="more than 2 documents"):
        read_bioc((three + "</collection>").encode(), "m.xml", CONFIG)
    with pytest.raises(ItemRejected, match="more than 2 documents"):
        read_bioc_json(json.dumps({"documents": [{"passages": [{"offset": 0, "text": "x"}]}] * 3}).encode(), "m",
                       CONFIG)


# =================================================================================================== PubTator
def test_pubtator_tutorial_example_and_fbk_variant():
    """bconv/pubtator/tutorial-example.txt and bconv/pubtator_fbk/tutorial-example.txt (T ids in column 2)."""
    [item] = read_pubtator(_read("bconv/pubtator/tutorial-example.txt"), "t.txt", CONFIG)
    assert item.meta == {"source_format": "pubtator", "pmid": "12098649"} and item.name == "12098649"
    spans = item.annotations[0]["spans"]
    assert (spans[0]["text"], spans[0]["label"], spans[0]["concept"]) == (
        "estrogen receptor 1", "Gene", {"terminology": "NCBIGene", "code": "2099", "name": ""})
    assert spans[1]["concept"] == {"terminology": "MeSH", "code": "D009103", "name": ""}
    [fbk] = read_pubtator(_read("bconv/pubtator_fbk/tutorial-example.txt"), "f.txt", CONFIG)
    assert fbk.text == item.text and [s[:3] for s in _surface(fbk)] == [s[:3] for s in _surface(item)]


def test_pubtator_ncbi_disease_quirks():
    """ncbi-disease/NCBIdevelopset_corpus.head.txt starts with a blank line and has an id column ' D008661'."""
    items = read_pubtator(_read("ncbi-disease/NCBIdevelopset_corpus.head.txt"), "dev.txt", CONFIG)
    assert len(items) == 8 and items[0].name == "8808605"
    first = items[0].annotations[0]["spans"][0]
    assert (first["label"], first["concept"]["code"]) == ("DiseaseClass", "D008661")
    spans = [s for i in items for s in i.annotations[0]["spans"]]
    assert {s["label"] for s in spans} == {"DiseaseClass", "SpecificDisease", "Modifier", "CompositeMention"}
    assert all("pubtator_mention" not in s["attributes"] for s in spans)


@pytest.mark.parametrize("raw, label, concepts, keep", [
    ("D003920", "Disease", [("MeSH", "D003920")], False),
    ("MESH:D003920", "Disease", [("MeSH", "D003920")], False),
    ("OMIM:601107", "Disease", [("OMIM", "601107")], False),
    ("C0011849", "Disease", [("UMLS", "C0011849")], False),
    ("C537849", "Disease", [("MeSH", "C537849")], False),  # a MeSH supplementary concept
    ("D001943|D010051", "Disease", [("MeSH", "D001943"), ("MeSH", "D010051")], True),
    ("OMIM:300322+OMIM:102600", "Disease", [("OMIM", "300322"), ("OMIM", "102600")], True),
    ("672", "Gene", [("NCBIGene", "672")], False), ("9606", "Species", [("NCBITaxon", "9606")], False),
    ("rs2234671", "SNP", [("dbSNP", "rs2234671")], False),
    ("c|SUB|G|860|C", "DNAMutation", [("tmVar", "c|SUB|G|860|C")], False),
    ("-1", "Chemical", [], False), ("", "Chemical", [], False), (" D008661", "Disease", [("MeSH", "D008661")], False),
])
def test_pubtator_concept_ids(raw, label, concepts, keep):
    found, keep_raw = formats_pubtator.concepts_from_ids(raw, label)
    assert [(c["terminology"], c["code"]) for c in found] == concepts and keep_raw == keep


def test_pubtator_a_slip_in_a_published_corpus_is_kept_not_refused():
    """ncbi-disease/NCBItrainset_corpus.10923035.txt: the mention on 711-761 differs from the text there."""
    [item] = read_pubtator(_read("ncbi-disease/NCBItrainset_corpus.10923035.txt"), "train.txt", CONFIG)
    assert item.meta["pubtator_mention_mismatches"] == 1
    slip = next(s for s in item.annotations[0]["spans"] if "pubtator_mention" in s["attributes"])
    assert (slip["start"], slip["end"]) == (711, 761) and slip["text"] == item.text[711:761]
    assert slip["attributes"]["pubtator_id"] == "D004829+D003294" and slip["candidates"][0]["code"] == "D003294"


def test_pubtator_tmvar_normalisations_and_short_relation_lines():
    """bioc/tmVar.Normalization.head.txt: tmVar codes like c|SUB|G|Ex2+860|C are one id; RSID columns become
    candidates; a 3-column relation line is kept in the meta."""
    items = read_pubtator(_read("bioc/tmVar.Normalization.head.txt"), "tmvar.txt", CONFIG)
    assert len(items) == 12
    span = items[0].annotations[0]["spans"][1]
    assert span["concept"] == {"terminology": "tmVar", "code": "c|SUB|G|Ex2+860|C", "name": ""}
    assert span["candidates"] == [{"terminology": "dbSNP", "code": "2234671", "name": ""}]
    assert items[0].meta == {"source_format": "pubtator", "pmid": "22051099"}
    three = b"1|t|Has fever.\n1\t4\t9\tfever\tDisease\tD005334\n1\tTranslation 7488T/C\tHis-to-Arg\n"
    [item] = read_pubtator(three, "t.txt", CONFIG)
    assert item.meta["pubtator_relations"] == [["Translation 7488T/C", "His-to-Arg"]]
    assert item.meta["pubtator_relations_without_mentions"] == 1 and item.annotations[0]["relations"] == []


def test_pubtator_in_a_txt_upload_and_by_extension():
    data = _read("bconv/pubtator/NCBIdevset-example.txt")
    assert len(read_txt(data, "corpus.txt", CONFIG)) == 9
    assert len(formats.ingest(ItemInput(name="corpus.PubTator", data=data), CONFIG)) == 9
    [note] = read_txt(b"Seen 12|t| not pubtator since it does not start the file", "n.txt", CONFIG)
    assert note.meta["source_format"] == "txt"


@pytest.mark.parametrize("content, message", [
    ("1\t0\t3\tHas\tX\tD1\n", "line 1: an annotation line before any 'PMID|t|' title line"),
    ("1|t|Has fever.\n2\t0\t3\tHas\tX\tD1\n", "line 2: document id '2' differs"),
    ("1|t|Has fever.\n1\t0\t\n", "line 2: not a PubTator line"),
    ("1|t|Has fever.\n1\t4\t40\tfever\tX\tD1\n", "line 2: offsets 4-40 are outside the document"),
    ("1|t|Has fever.\n1\t0\t3\tXYZ\tX\tD1\n", "line 2: the mention does not match the text"),
    ("1|t|Has fever.\n1\t0\t3\tHas\t" + "X" * 70 + "\tD1\n", "line 2: type longer than 64"),
])
def test_pubtator_hostile_lines(content, message):
    with pytest.raises(FormatError, match=message):
        read_pubtator(content.encode(), "h.pubtator", CONFIG)


def test_pubtator_hostile_files(monkeypatch):
    with pytest.raises(ItemRejected, match="no PubTator documents"):
        read_pubtator(b"\n\n", "e.pubtator", CONFIG)
    with pytest.raises(FormatError, match="document 1: empty note$"):  # a bad document (others may be kept)
        read_pubtator(b"1|t|   \n", "e.pubtator", CONFIG)
    with pytest.raises(ItemRejected, match="binary"):
        read_pubtator(b"1|t|a\x00b\n", "e.pubtator", CONFIG)
    monkeypatch.setattr(formats_pubtator, "MAX_RECORDS", 2)
    with pytest.raises(ItemRejected, match="more than 2 documents"):
        read_pubtator(b"1|t|a\n\n2|t|b\n\n3|t|c\n", "m.pubtator", CONFIG)
    # documents without the blank line between them are still told apart by their title lines
    assert [i.text for i in read_pubtator(b"1|t|a\n1|a|b\n2|t|c\n", "x.pubtator", CONFIG)] == ["a\nb", "c"]


# ===================================================================================================== speed
def test_pubtator_and_bioc_large_files_read_whole():
    """2,000 documents with 30 mentions each read completely (the rate is benchmarks/bench_import.py's to report:
    speed is measured, not asserted)."""
    words = [f"word{i}" for i in range(60)]
    text = " ".join(words)
    mentions = [(text.index(w + " "), text.index(w + " ") + len(w)) for w in words[::2]]
    pubtator = "".join(f"{d}|t|{text}\n{d}|a|{text}\n" + "".join(
        f"{d}\t{s}\t{e}\t{text[s:e]}\tDisease\tD00{d % 9}\n" for s, e in mentions) + "\n" for d in range(2000))
    read = read_pubtator(pubtator.encode(), "big.pubtator", CONFIG)
    assert len(read) == 2000 and all(len(i.annotations[0]["spans"]) == 30 for i in read)
    documents = "".join(f"<document><id>{d}</id><passage><offset>0</offset><text>{text}</text>" + "".join(
        f'<annotation id="{n}"><infon key="type">Disease</infon><infon key="MESH">D00{d % 9}</infon>'
        f'<location offset="{s}" length="{e - s}"/><text>{text[s:e]}</text></annotation>'
        for n, (s, e) in enumerate(mentions)) + "</passage></document>" for d in range(2000))
    read = read_bioc(f"<collection>{documents}</collection>".encode(), "big.xml", CONFIG)
    assert len(read) == 2000 and all(len(i.annotations[0]["spans"]) == 30 for i in read)


# ======================================================================================================= API
def _post(api, path, files, form=None):
    data = {"files": [(io.BytesIO(content), name) for name, content in files], **(form or {})}
    resp = api.client.post(f"/api/v1{path}", headers={"Authorization": f"Bearer {api.token}"}, data=data,
                           content_type="multipart/form-data")
    return resp.status_code, resp.get_json()


def test_api_uploads_of_peer_files(admin):
    status, project = admin.post("/projects", {"name": "Peers", "modality": "notes"})
    assert status == 201, project
    pid = project["id"]
    folder = PEERS / "inception" / "brat" / "NCBI-disease"
    uploads = [
        ("ncbi.zip", _zip({p.name: p.read_bytes() for p in folder.iterdir()})),
        ("cdr.PubTator", _read("bc5cdr/CDR_sample.gold.head.PubTator")),
        ("sentences.xml", _read("bconv/bioc_xml/sentence-level.xml")),
        ("tutorial.json", _read("bconv/bioc_json/tutorial-example.json")),
    ]
    plan = {"labels": {"Disease": "PROBLEM", "Chemical": "MEDICATION"}, "unknown": "drop"}
    status, body = _post(admin, f"/projects/{pid}/items", uploads, {"label_plan": json.dumps(plan)})
    assert status == 201, body
    assert len(body["created"]) == 5 + 10 + 1 + 1
    assert body["labels"]["mapped"]["Disease→PROBLEM"] > 100
