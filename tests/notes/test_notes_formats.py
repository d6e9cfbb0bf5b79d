"""Importers and exporters of the notes modality, with bad inputs (security cases 5, 11, 14, 24). Exports are read
back with each format's own library (spaCy DocBin, bioc, seqeval, json) or a small independent reader."""
from __future__ import annotations

import dataclasses

import io
import json
import re
import stat
import zipfile

import pytest

from annotators.base import FormatError, ItemInput, ItemRejected, ItemView
from annotators.notes import formats
from annotators.notes.formats_export import exporters, label_studio_config
from annotators.notes.formats_import import read_brat, read_csv, read_jsonl, read_txt, read_zip
from annotators.notes.phi import PhiError
from annotators.notes.schema import PAYLOAD_SCHEMA, default_label_config

CONFIG = default_label_config()
TEXT = ("Pt John Smith has pneumonia of the left lower lobe.\r\nStarted ceftriaxone 1 g IV daily.\n"
        "No fever. \U0001F600 Mother had diabetes mellitus. Seen 3/4 at Mercy Hospital.")


def _span(sid, phrase, label, layer="entity", **extra):
    start = TEXT.index(phrase)
    return {"id": sid, "start": start, "end": start + len(phrase), "label": label, "layer": layer, "text": phrase,
            **extra}


PAYLOAD = {
    "spans": [
        _span("s1", "pneumonia", "PROBLEM", assertion="present",
              concept={"terminology": "icd10cm", "code": "J18.9", "name": "Pneumonia, unspecified organism"}),
        _span("s2", "left lower lobe", "ANATOMY"), _span("s3", "ceftriaxone", "MEDICATION"),
        _span("s4", "1 g", "DOSAGE"), _span("s5", "fever", "PROBLEM", assertion="negated"),
        _span("s6", "diabetes mellitus", "PROBLEM", assertion="family"),
        _span("s7", "diabetes", "PROBLEM", assertion="family"),  # overlaps s6
        _span("p1", "John Smith", "NAME", "phi"), _span("p2", "3/4", "DATE", "phi"),
    ],
    "relations": [{"id": "r1", "type": "location", "head": "s1", "tail": "s2"},
                  {"id": "r2", "type": "dosage", "head": "s3", "tail": "s4"}],
}
ITEM = ItemView(id=7, kind="note", text=TEXT, meta={"ward": "5B"})
OTHER = ItemView(id=8, kind="note", text="Second note. Chest pain resolved.", meta={})
OTHER_PAYLOAD = {"spans": [{"id": "a", "start": 13, "end": 23, "label": "PROBLEM", "layer": "entity"}], "relations": []}


def _export(name, pairs=None, **kwargs):
    buffer = io.BytesIO()
    exporters(**kwargs)[name].write(pairs or [(ITEM, PAYLOAD), (OTHER, OTHER_PAYLOAD)], CONFIG, buffer)
    return buffer.getvalue()


def _keys(spans, fields=("start", "end", "label", "layer")):
    return sorted(tuple(s.get(f) for f in fields) for s in spans)


def _zip(entries: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            if isinstance(name, zipfile.ZipInfo):
                archive.writestr(name, data)
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------- text
@pytest.mark.parametrize("data, encoding", [
    ("Fièvre et toux.".encode("utf-8"), "utf-8"),
    (b"\xef\xbb\xbf" + "Fièvre.".encode("utf-8"), "utf-8-sig"),
    ("\ufeffFièvre, 37.5 °C.".encode("utf-16-le"), "utf-16"),
    ("\ufeffFièvre.".encode("utf-16-be"), "utf-16"),
    ("Fièvre, café.".encode("latin-1"), "latin-1"),
    ("He said \u201cno pain\u201d.".encode("cp1252"), "cp1252"),
])
def test_txt_encodings(data, encoding):
    [item] = read_txt(data, "note.txt", CONFIG)
    assert item.meta["encoding"] == encoding and item.kind == "note"
    assert not item.text.startswith("\ufeff") and ("Fièvre" in item.text or "\u201cno pain\u201d" in item.text)


@pytest.mark.parametrize("data, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"text\x00with nul", "binary"),
    (b"\xff\xd8\xff\xe0\x10JFIF\x01\x02", "binary"),  # not UTF-8 and has control bytes
    (b"ok text \x1b[31m red", "control character"),
    (b"", "empty note"), (b"  \n\t ", "empty note"),
    (b"\xff\xfe" + b"\x00\xd8", "utf-16"),  # BOM but a lone surrogate
])
def test_txt_rejections(data, message):
    with pytest.raises(ItemRejected, match=message):
        read_txt(data, "bad.txt", CONFIG)


def test_oversize_note_rejected_with_message():
    two_mb = ("Patient seen. " * 150_000).encode()  # ~2.1 million characters
    with pytest.raises(ItemRejected, match=r"characters, more than this project's limit of 1000000"):
        read_txt(two_mb, "huge.txt", CONFIG)
    [item] = read_txt(two_mb, "huge.txt", {**CONFIG, "max_chars": 3_000_000})
    assert len(item.text) == 2_100_000


def test_ingest_dispatch_and_unknown_extension():
    assert formats.ingest(ItemInput(name="a.TXT", data=b"hello"), CONFIG)[0].text == "hello"
    assert formats.ingest(ItemInput(name="rec", record={"text": "hi", "mrn_hidden": 1}), CONFIG)[0].text == "hi"
    with pytest.raises(ItemRejected, match="unsupported file type"):
        formats.ingest(ItemInput(name="a.docx", data=b"PK"), CONFIG)
    assert {"txt", "zip", "jsonl", "csv", "label_studio", "bioc", "bioc_json", "pubtator"} <= set(formats.importers())
    assert ".json" in formats.ACCEPTS and ".xml" in formats.ACCEPTS


# ------------------------------------------------------------------------------------------------------ zip
def test_zip_of_notes_and_brat_pairs():
    data = _zip({"notes/a.txt": b"First note.", "b.txt": "Zweite Notiz: Übelkeit".encode("utf-8"),
                 "c.txt": "Has fever.", "c.ann": "T1\tPROBLEM 4 9\tfever\nA1\tNegated T1\n",
                 "annotation.conf": "[entities]", "__MACOSX/._a.txt": b"\x00\x05", "folder/": b""})
    items = read_zip(data, "upload.zip", CONFIG)
    assert [i.text for i in items] == ["Zweite Notiz: Übelkeit", "Has fever.", "First note."]
    assert items[1].annotations[0]["spans"][0]["assertion"] == "negated"


@pytest.mark.parametrize("entry, message", [
    ("../evil.txt", "unsafe path"), ("/etc/passwd.txt", "unsafe path"), ("a/../../x.txt", "unsafe path"),
    ("C:/x.txt", "unsafe path"), ("..\\x.txt", "unsafe path"), ("image.png", "not a file this project imports"),
])
def test_zip_hostile_names(entry, message):
    with pytest.raises(ItemRejected, match=message):
        read_zip(_zip({"ok.txt": "fine", entry: "x"}), "up.zip", CONFIG)


def test_zip_symlink_bomb_entries_and_garbage():
    link = zipfile.ZipInfo("link.txt")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(ItemRejected, match="symbolic link"):
        read_zip(_zip({link: "/etc/passwd"}), "up.zip", CONFIG)
    bomb = _zip({"bomb.txt": b"a" * 5_000_000})  # ~5 kB compressed
    assert len(bomb) < 50_000
    with pytest.raises(ItemRejected, match="size limits"):
        read_zip(bomb, "bomb.zip", {"max_chars": 100_000})
    with pytest.raises(ItemRejected, match="size limits"):
        read_zip(bomb, "bomb.zip", CONFIG, max_total_bytes=1_000_000)
    many = _zip({f"n{i}.txt": "x" for i in range(30)})
    with pytest.raises(ItemRejected, match="entries"):
        read_zip(many, "many.zip", CONFIG, max_entries=20)
    with pytest.raises(ItemRejected, match="not a readable zip"):
        read_zip(b"PK\x03\x04garbage", "bad.zip", CONFIG)
    with pytest.raises(ItemRejected, match="no matching .txt"):
        read_zip(_zip({"x.ann": "T1\tA 0 1\tx", "y.txt": "y"}), "a.zip", CONFIG)


def test_zip_bomb_with_lying_header_is_caught_while_reading():
    data = bytearray(_zip({"small.txt": b"b" * 3_000_000}))
    # Rewrite the declared uncompressed size (central directory) to 10 bytes: the stream still inflates to 3 MB.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(ItemRejected):
        read_zip(bytes(data), "liar.zip", {"max_chars": 100_000})


# ------------------------------------------------------------------------------------------------ JSONL, CSV
def test_jsonl_records_meta_and_payloads():
    lines = [json.dumps({"id": "n1", "text": TEXT, "meta": {"site": "A"}, "payload": PAYLOAD}),
             "", json.dumps({"text": "Plain.", "department": "ED"})]
    items = read_jsonl("\n".join(lines).encode(), "in.jsonl", CONFIG)
    assert items[0].meta["site"] == "A" and items[0].meta["id"] == "n1"
    assert _keys(items[0].annotations[0]["spans"]) == _keys(PAYLOAD["spans"])
    assert items[1].meta["department"] == "ED" and items[1].annotations == []


@pytest.mark.parametrize("line, message", [
    ('{"note": "x"}', r"line 2: no 'text' field"), ("{not json", "line 2: not valid JSON"), ("[1, 2]", "line 2"),
    (json.dumps({"text": "short", "spans": [{"id": "a", "start": 0, "end": 50, "label": "X", "layer": "entity"}]}),
     "line 2: span 'a' offsets 0-50 are outside"),
    (json.dumps({"text": "short", "spans": [{"id": "a", "start": 0, "end": 2, "label": "X", "layer": "bad"}]}),
     "line 2: annotation invalid"),
])
def test_jsonl_errors_name_the_line(line, message):
    with pytest.raises(FormatError, match=message):
        read_jsonl(('{"text": "ok"}\n' + line).encode(), "in.jsonl", CONFIG)


def test_csv_text_column_and_metadata():
    big = "word " * 40_000  # a 200 kB field: over the csv module's default field limit
    data = "\ufeffNote_ID,TEXT,Ward\r\n1,\"Line one,\nline two\",5B\r\n2,\"" + big + "\",ICU\r\n"
    items = read_csv(data.encode("utf-8"), "notes.csv", CONFIG)
    assert items[0].text == "Line one,\nline two" and items[0].meta == {"source_format": "csv", "Note_ID": "1",
                                                                         "Ward": "5B"}
    assert len(items[1].text) == len(big)


def test_csv_errors():
    with pytest.raises(FormatError, match=r"no 'text' column in the header \(columns: 'id', 'note'\)"):
        read_csv(b"id,note\n1,hello\n", "x.csv", CONFIG)
    with pytest.raises(FormatError, match="line 3: 3 fields"):
        read_csv(b"id,text\n1,hello\n2,a,b\n", "x.csv", CONFIG)
    with pytest.raises(ItemRejected, match="line 2: empty note"):
        read_csv(b"id,text\n1,   \n", "x.csv", CONFIG)


# --------------------------------------------------------------------------------------------------------- brat
ANN = """T1\tPROBLEM 4 13\tpneumonia
T2\tANATOMY 21 25;26 30\tleft lobe
A1\tAssertion T1 possible
A2\tSeverity T1 severe
N1\tReference T1 icd10cm:J18.9\tPneumonia, unspecified organism
#1\tAnnotatorNotes T2\tcheck extent
R1\tlocation Arg1:T1 Arg2:T2
T3\tNAME 31 35\tJohn
E1\tTreatment:T1
"""


def test_read_brat():
    item = read_brat(b"Has pneumonia of the left lobe John", ANN.encode(), "doc1", CONFIG)
    payload = item.annotations[0]
    by_id = {s["id"]: s for s in payload["spans"]}
    assert by_id["T1"]["assertion"] == "possible" and by_id["T1"]["attributes"]["Severity"] == "severe"
    assert by_id["T1"]["concept"] == {"terminology": "icd10cm", "code": "J18.9",
                                      "name": "Pneumonia, unspecified organism"}
    assert (by_id["T2"]["start"], by_id["T2"]["end"], by_id["T2"]["attributes"]["fragments"]) == (21, 30, "21 25;26 30")
    assert by_id["T3"]["layer"] == "phi" and payload["relations"] == [
        {"id": "R1", "type": "location", "head": "T1", "tail": "T2"}]


@pytest.mark.parametrize("ann, message", [
    ("T1\tPROBLEM 0 3\tHas\nT2\tPROBLEM 4 400\tpneumonia\n", r"doc\.ann line 2: offsets 4-400 are beyond the end"),
    ("T1\tPROBLEM 0 3\tXYZ\n", "line 1: span text does not match"),
    ("R1\tlocation Arg1:T1 Arg2:T9\n", "line 1: refers to T1"),
    ("garbage line\n", "line 1: not a brat standoff line"),
])
def test_brat_errors(ann, message):
    with pytest.raises(FormatError, match=message):
        read_brat(b"Has pneumonia", ann.encode(), "doc", CONFIG)


# ------------------------------------------------------------------------------------------------ Label Studio
def test_label_studio_import():
    text = "Smile \U0001F600 then fever and cough."
    start = len("Smile \U0001F600 then ".encode("utf-16-le")) // 2  # JavaScript offsets
    tasks = [{"id": 11, "data": {"text": text, "source": "ward"}, "annotations": [{"result": [
        {"id": "a1", "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": start, "end": start + 5, "text": "fever", "labels": ["PROBLEM"]}},
        {"id": "a2", "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": start + 10, "end": start + 15, "text": "cough", "labels": ["PROBLEM"]}},
        {"id": "a1", "from_name": "assertion", "to_name": "text", "type": "choices", "value": {"choices": ["negated"]}},
        {"from_id": "a1", "to_id": "a2", "type": "relation", "labels": ["related"]},
    ]}, {"was_cancelled": True, "result": []}]}]
    [item] = formats.read_label_studio(json.dumps(tasks).encode(), "ls.json", CONFIG)
    spans = item.annotations[0]["spans"]
    assert [text[s["start"]:s["end"]] for s in spans] == ["fever", "cough"] and spans[0]["assertion"] == "negated"
    assert item.meta["label_studio_id"] == 11 and item.meta["source"] == "ward"
    assert len(item.annotations) == 1 and item.annotations[0]["relations"][0]["head"] == "a1"


@pytest.mark.parametrize("task, error, message", [
    ({"data": {"audio": "/data/upload/1/rec.wav"}}, ItemRejected, "a Label Studio audio task"),
    ({"data": {"image": "s3://bucket/x.png"}}, ItemRejected, "image task"),
    ({"data": {"text": "hi"}, "annotations": [{"result": [{"type": "rectanglelabels", "value": {}}]}]}, ItemRejected,
     "belongs to a image task"),
    ({"data": {"text": "hi"}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": 0.5, "end": 1.5, "labels": ["X"]}}]}]}, FormatError, "integer text offsets"),
    ({"data": {"text": "hi"}, "annotations": [{"result": [
        {"type": "labels", "value": {"start": 0, "end": 2, "text": "no", "labels": ["X"]}}]}]}, FormatError,
     "does not match"),
    ({"data": {"other": 1}}, FormatError, "no 'data.text'"),
])
def test_label_studio_rejections(task, error, message):
    with pytest.raises(error, match=message):
        formats.read_label_studio(json.dumps([task]).encode(), "ls.json", CONFIG)


# ------------------------------------------------------------------------------------------------------- BioC
BIOC = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE collection SYSTEM "BioC.dtd">
<collection><source>test</source><date>2024</date><key>k</key>
<document><id>d1</id>
<passage><offset>0</offset><text>Title line</text></passage>
<passage><offset>11</offset><text>Has diabetes.</text>
<annotation id="a1"><infon key="type">PROBLEM</infon><infon key="identifier">MESH:D003920</infon>
<location offset="15" length="8"/><text>diabetes</text></annotation></passage></document>
</collection>"""


def test_bioc_import():
    [item] = formats.read_bioc(BIOC.encode(), "c.xml", CONFIG)
    assert item.text == "Title line\nHas diabetes."
    span = item.annotations[0]["spans"][0]
    assert item.text[span["start"]:span["end"]] == "diabetes" and span["concept"]["code"] == "D003920"


@pytest.mark.parametrize("xml", [
    '<?xml version="1.0"?><!DOCTYPE c [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><collection>&xxe;</collection>',
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]><collection>&lol3;</collection>',
    '<?xml version="1.0"?><!DOCTYPE c [<!ENTITY % ext SYSTEM "http://127.0.0.1/x.dtd"> %ext;]><collection/>',
])
def test_bioc_rejects_entities(xml):
    with pytest.raises(FormatError, match="entity declarations"):
        formats.read_bioc(xml.encode(), "evil.xml", CONFIG)


def test_bioc_other_errors():
    with pytest.raises(FormatError, match="not well-formed"):
        formats.read_bioc(b"<collection><document>", "x.xml", CONFIG)
    with pytest.raises(FormatError, match="not a BioC collection"):
        formats.read_bioc(b"<html/>", "x.xml", CONFIG)
    bad = BIOC.replace('offset="15" length="8"', 'offset="15" length="80"')
    with pytest.raises(FormatError, match="beyond the text"):
        formats.read_bioc(bad.encode(), "x.xml", CONFIG)


# ---------------------------------------------------------------------------------------------------- exports
def test_export_jsonl_round_trip():
    data = _export("jsonl")
    assert json.loads(data.decode().splitlines()[0])["payload"] == PAYLOAD
    items = formats.ingest(ItemInput(name="e.jsonl", data=data), CONFIG)
    assert items[0].text == TEXT and items[0].annotations[0] == PAYLOAD


def test_export_docbin_read_by_spacy():
    import spacy
    from spacy.tokens import DocBin

    docs = list(DocBin().from_bytes(_export("spacy")).get_docs(spacy.blank("en").vocab))
    doc = docs[0]
    assert doc.text == TEXT and doc.user_data["clinlabel_item_id"] == 7
    entity_spans = [s for s in PAYLOAD["spans"] if s["layer"] == "entity"]
    assert sorted((s.start_char, s.end_char, s.label_) for s in doc.spans["sc"]) == \
        sorted((s["start"], s["end"], s["label"]) for s in entity_spans)
    ents = {(e.start_char, e.end_char, e.label_) for e in doc.ents}
    assert (TEXT.index("diabetes"), TEXT.index("diabetes") + 8, "PROBLEM") not in ents  # overlapping: sc only
    assert (TEXT.index("pneumonia"), TEXT.index("pneumonia") + 9, "PROBLEM") in ents and len(ents) == 5
    pneumonia = next(s for s in doc.spans["sc"] if s.label_ == "PROBLEM")
    assert pneumonia.kb_id_ == "icd10cm:J18.9" and pneumonia.id_ == "s1"
    assert doc.user_data["clinlabel_assertions"]["s5"] == "negated"
    assert [s.text for s in doc.spans["phi"]] == ["John Smith", "3/4"]


def _read_brat_zip(data: bytes) -> dict:
    """A small independent brat reader: {doc: (text, [(id, label, [(s, e)], quoted)], relations, attributes)}."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.endswith(".ann"):
                text = archive.read(name[:-4] + ".txt").decode("utf-8")
                entities, relations, attributes = [], [], []
                for line in archive.read(name).decode("utf-8").splitlines():
                    fields = line.split("\t")
                    if line.startswith("T"):
                        label, ranges = fields[1].split(" ", 1)
                        frags = [tuple(map(int, r.split())) for r in ranges.split(";")]
                        entities.append((fields[0], label, frags, fields[2]))
                    elif line.startswith("R"):
                        relations.append(fields[1].split())
                    elif line.startswith("A"):
                        attributes.append(fields[1].split())
                out[name[:-4]] = (text, entities, relations, attributes)
    return out


def test_export_brat_read_back():
    docs = _read_brat_zip(_export("brat"))
    text, entities, relations, attributes = docs["7"]
    assert text == TEXT
    for _tid, label, frags, quoted in entities:
        assert " ".join(text[s:e] for s, e in frags) == quoted
    spans = {(min(f[0] for f in fr), max(f[1] for f in fr), label) for _t, label, fr, _q in entities}
    assert spans == {(s["start"], s["end"], s["label"]) for s in PAYLOAD["spans"]}
    assert ["location", "Arg1:T1", "Arg2:T3"] in relations or len(relations) == 2
    assert ["Assertion", next(t for t, label, fr, q in entities if q == "fever"), "negated"] in attributes
    with zipfile.ZipFile(io.BytesIO(_export("brat"))) as archive:
        assert "[entities]" in archive.read("annotation.conf").decode()
    round_trip = read_zip(_export("brat"), "b.zip", CONFIG)
    assert _keys(round_trip[0].annotations[0]["spans"], ("start", "end", "label", "layer", "assertion")) == \
        _keys(PAYLOAD["spans"], ("start", "end", "label", "layer", "assertion"))


def test_export_conll_read_with_seqeval():
    from seqeval.metrics.sequence_labeling import get_entities

    lines = _export("conll").decode("utf-8").split("\n")
    assert lines.count("-DOCSTART- -X- -X- O") == 2
    docs, current = [], None
    for line in lines:
        if line.startswith("-DOCSTART-"):
            current = []
            docs.append(current)
        elif line:
            token, _x, _y, tag = line.split(" ")
            current.append((token, tag))
    tokens, tags = zip(*docs[0])
    assert [t for t in tokens if t.strip()] == list(tokens)  # no whitespace tokens
    offsets, cursor = [], 0
    for token in tokens:
        cursor = TEXT.index(token, cursor)
        offsets.append((cursor, cursor + len(token)))
        cursor += len(token)
    found = {(label, offsets[s][0], offsets[e][1]) for label, s, e in get_entities(list(tags))}
    expected = {(s["label"], s["start"], s["end"]) for s in PAYLOAD["spans"] if s["layer"] == "entity" and s["id"] != "s7"}
    assert found == expected
    assert lines[13] == "" and lines[14].startswith("Started")  # a blank line separates sentences


def test_export_bioc_read_by_bioc_library():
    import bioc

    collection = bioc.biocxml.loads(_export("bioc").decode("utf-8"))
    document = collection.documents[0]
    text = document.passages[0].text
    assert text == TEXT  # the CR survived the XML round trip
    annotations = {a.id: a for a in document.passages[0].annotations}
    for span in PAYLOAD["spans"]:
        annotation = annotations[span["id"]]
        location = annotation.locations[0]
        assert (location.offset, location.offset + location.length) == (span["start"], span["end"])
        assert annotation.infons["type"] == span["label"] and annotation.text == span["text"]
    assert annotations["s1"].infons["concept_code"] == "J18.9" and annotations["s5"].infons["assertion"] == "negated"
    relation = document.passages[0].relations[0]
    assert relation.infons["type"] == "location" and [n.refid for n in relation.nodes] == ["s1", "s2"]
    round_trip = formats.read_bioc(_export("bioc"), "b.xml", CONFIG)
    assert _keys(round_trip[0].annotations[0]["spans"], ("start", "end", "label", "layer", "assertion")) == \
        _keys(PAYLOAD["spans"], ("start", "end", "label", "layer", "assertion"))


HUMAN = {"origin": "reviewer", "gold": True, "reviewed": True, "by": "rev1"}
REVIEWED = [(dataclasses.replace(ITEM, provenance=HUMAN), PAYLOAD),
            (dataclasses.replace(OTHER, provenance=HUMAN), OTHER_PAYLOAD)]


def test_export_label_studio_model_drafts_are_predictions():
    draft = dataclasses.replace(ITEM, provenance={"origin": "model", "model_version": "clinical@v3"})
    [task] = json.loads(_export("label_studio", [(draft, PAYLOAD)]))
    assert task["annotations"] == [] and task["predictions"][0]["model_version"] == "clinical@v3"
    assert {r["origin"] for r in task["predictions"][0]["result"] if r["type"] == "labels"} == {"prediction"}
    [task] = json.loads(_export("label_studio", REVIEWED[:1]))
    assert task["predictions"] == [] and task["annotations"][0]["ground_truth"] is True
    assert task["annotations"][0]["meta"]["clinlabel_provenance"]["by"] == "rev1"
    assert {r["origin"] for r in task["annotations"][0]["result"] if r["type"] == "labels"} == {"manual"}


def test_deidentified_export_masks_the_human_phi_layer_only():
    text = "Patient lives at Devon Dalton (person1@example.org). JVD noted. Seen by Ann Lee."
    rejected_by_people = text.index("JVD")
    added = text.index("Ann Lee")
    payload = {"spans": [{"id": "p1", "start": added, "end": added + 7, "label": "NAME", "layer": "phi"}],
               "relations": []}
    reviewed = ItemView(id=3, kind="note", text=text, meta={}, provenance=HUMAN)
    unreviewed = ItemView(id=4, kind="note", text=text, meta={})
    detector = _FakeDetector()
    detector.detect = lambda t: [{"start": rejected_by_people, "end": rejected_by_people + 3, "label": "NAME",
                                  "layer": "phi"}]
    data = _export("deid_mask", [(reviewed, payload), (unreviewed, {"spans": [], "relations": []})],
                   detector_factory=lambda: detector)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        human, model = archive.read("3.txt").decode(), archive.read("4.txt").decode()
    assert "JVD noted" in human and "Ann Lee" not in human  # people's decisions, not the model's
    assert "JVD" not in model  # nobody looked: the model's PHI, and the manifest says so
    assert manifest["phi_from_people"] == [3] and manifest["phi_from_model_no_human_review"] == [4]


def test_bioc_and_spacy_exports_carry_provenance():
    import bioc
    from spacy.tokens import DocBin

    collection = bioc.biocxml.loads(_export("bioc", REVIEWED[:1]).decode("utf-8"))
    infons = collection.documents[0].infons
    assert infons["clinlabel_origin"] == "reviewer" and infons["clinlabel_by"] == "rev1"
    import spacy

    docs = list(DocBin().from_bytes(_export("spacy", REVIEWED[:1])).get_docs(spacy.blank("en").vocab))
    assert docs[0].user_data["clinlabel_provenance"]["origin"] == "reviewer"


def test_export_label_studio_tasks():
    tasks = json.loads(_export("label_studio", REVIEWED))
    assert tasks[0]["data"]["text"] == TEXT
    units = TEXT.encode("utf-16-le")
    regions = [r for r in tasks[0]["annotations"][0]["result"] if r["type"] == "labels"]
    for region in regions:
        value = region["value"]
        assert units[2 * value["start"]:2 * value["end"]].decode("utf-16-le") == value["text"]
        assert region["from_name"] in ("label", "phi") and len(value["labels"]) == 1
    assert {r["from_name"] for r in regions if r["value"]["labels"] == ["NAME"]} == {"phi"}
    assert any(r["type"] == "relation" for r in tasks[0]["annotations"][0]["result"])
    round_trip = formats.read_label_studio(_export("label_studio", REVIEWED), "ls.json", CONFIG)
    got = round_trip[0].annotations[0]["spans"]
    assert _keys(got, ("start", "end", "label", "layer", "assertion")) == \
        _keys(PAYLOAD["spans"], ("start", "end", "label", "layer", "assertion"))
    assert next(s for s in got if s["label"] == "PROBLEM" and s.get("concept"))["concept"]["code"] == "J18.9"
    config_xml = label_studio_config(CONFIG)
    assert '<Labels name="phi"' in config_xml and 'value="PROBLEM"' in config_xml


class _FakeDetector:
    def __init__(self, fail_on=None):
        self.fail_on = fail_on

    def detect(self, text):
        if self.fail_on and self.fail_on in text:
            raise PhiError("PHI detection failed (ValueError)")
        return [{"start": m.start(), "end": m.end(), "label": "DATE", "layer": "phi"}
                for m in re.finditer(r"\d+/\d+", text)]


def test_deidentified_export_fails_closed():
    third = ItemView(id=9, kind="note", text="Crash here. Seen 5/6 by Jane Roe.", meta={})
    data = _export("deid_mask", [(ITEM, PAYLOAD), (third, None)], detector_factory=lambda: _FakeDetector("Crash"))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["7.txt", "manifest.json"]
        manifest = json.loads(archive.read("manifest.json"))
        clean = archive.read("7.txt").decode("utf-8")
    assert (manifest["mode"], manifest["exported"], manifest["failed_phi_detection"]) == ("mask", [7], [9])
    assert "John Smith" not in clean and "3/4" not in clean and "[NAME]" in clean and "[DATE]" in clean


def test_deidentified_surrogate_export_with_real_detector():
    data = _export("deid_surrogate", [(ITEM, {"spans": [], "relations": []})])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        clean = archive.read("7.txt").decode("utf-8")
    assert "John Smith" not in clean and "Mercy Hospital" not in clean and "pneumonia" in clean


def test_exporters_listed_and_payloads_valid():
    import jsonschema

    assert {"jsonl", "spacy", "brat", "conll", "bioc", "label_studio", "deid_mask",
            "deid_surrogate"} <= set(formats.exporters())  # the peers' formats: test_notes_export_peers.py
    jsonschema.validate(PAYLOAD, PAYLOAD_SCHEMA)


def test_the_brat_export_passes_brats_own_checks_whatever_the_spans_carry():
    """brat's verifier (its rules: tests/notes/brat_rules.py) reported one error per span when spans carried an
    attribute the exported annotation.conf did not declare; labels and relation types an import brought are
    declared too."""
    from annotators.notes.formats_export import brat_ann, brat_conf
    from brat_rules import verify

    spans = [dict(s, attributes={"source": "model", "confidence": "high"}) for s in PAYLOAD["spans"]]
    spans.append({**_span("d1", "pneumonia", "Disease"), "attributes": {"source": "import"}})  # not in the config
    payload = {"spans": spans, "relations": PAYLOAD["relations"] + [
        {"id": "r3", "type": "treats", "head": "s3", "tail": "d1"}]}
    other = {"spans": [dict(s, attributes={"source": "human"}) for s in OTHER_PAYLOAD["spans"]],
             "relations": OTHER_PAYLOAD.get("relations", [])}
    with zipfile.ZipFile(io.BytesIO(_export("brat", [(ITEM, payload), (OTHER, other)]))) as archive:
        conf = archive.read("annotation.conf").decode()
        issues = [issue for name in archive.namelist() if name.endswith(".ann")
                  for issue in verify(archive.read(name).decode(), conf)]
    assert issues == []
    assert "source\tArg:<ENTITY>, Value:human|import|model" in conf and "\nDisease\n" in conf
    # the check can fail: the project's configuration alone does not declare what these spans carry
    stale = verify(brat_ann(TEXT, payload), brat_conf(CONFIG))
    assert any("cannot take a source attribute" in i for i in stale)
    assert any("Disease is not a known textbound type" in i for i in stale)
    assert any("treats is not a known relation type" in i for i in stale)


def test_zip_of_other_formats_reads_each_entry_with_its_reader():
    """INCEpTION exports a project as a zip of one WebAnno TSV per document; doccano as JSONL in a zip."""
    from pathlib import Path

    peers = Path(__file__).parent.parent / "data" / "notes" / "peers"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("curation/example2.tsv", (peers / "webanno-inception" / "example2.tsv").read_bytes())
        archive.writestr("doccano/all.jsonl",
                         (peers / "doccano" / "tests__data__relation_extraction__example.jsonl").read_bytes())
        archive.writestr("notes/plain.txt", b"A plain note.")
    items = formats.read_zip(buffer.getvalue(), "export.zip", CONFIG)
    sources = [item.meta.get("source_format") for item in items]
    assert "webanno_tsv3" in sources and "doccano" in sources and "txt" in sources
    assert all(item.annotations for item in items if item.meta.get("source_format") != "txt")
