"""Exports to the peers' formats (issue 14, item 4): PubTator, WebAnno TSV 3.3, IOB2 / BIOES, doccano JSONL,
Prodigy JSONL and the MedCATtrainer project export.

(a) Each export is read by the peer's own library where one is installed here: bioc's PubTator reader
(`bioc.pubtator`), seqeval (strict IOB2 / IOBES schemes) and spaCy (a Doc rebuilt from Prodigy's tokens). Where
the peer's reader is Java or a web server (INCEpTION, doccano, MedCATtrainer), a small reader written here from the
format's published definition reads it: INCEpTION's "WebAnno TSV 3.3 File format" user guide (plus the text
rebuilding rule of its Tsv3XDeserializer), doccano's relation-extraction JSONL, and the export schema documented in
MedCATtrainer's `retrieve_project_data`.
(b) Our importer reads each export back; what comes back is compared with what went out (peer_corpus.loss) and
only what the format cannot carry (formats_export_peers.CANNOT_CARRY) may be missing.

Corpus: tests/notes/peer_corpus.py (overlapping, nested, crossing and discontinuous spans, relations, attributes,
concept ids with candidates, PHI, CRLF, tab, accents, CJK, emoji).
"""
from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from annotators.base import ItemView
from annotators.notes import formats
from annotators.notes.formats_export import exporters
from annotators.notes.formats_export_peers import CANNOT_CARRY, iob_sentences
from annotators.notes.formats_import import utf16_to_index
from annotators.notes.schema import default_label_config
from peer_corpus import corpus, export

CONFIG = default_label_config()
CORPUS = corpus()
PEER_FORMATS = ("pubtator", "webanno", "iob2", "bioes", "doccano", "prodigy", "medcat")


def _spans(payload):
    return (payload or {"spans": []})["spans"]


def _relations(payload):
    return (payload or {}).get("relations") or []


def _extents(spans, fields=("start", "end", "label")):
    return sorted(tuple(s[f] for f in fields) for s in spans)


# ----------------------------------------------------------------------------------------------- all formats
def test_peer_exporters_are_registered():
    available = formats.exporters()
    assert set(PEER_FORMATS) <= set(available)
    assert set(PEER_FORMATS) <= set(CANNOT_CARRY)


@pytest.mark.parametrize("fmt", PEER_FORMATS)
def test_exporters_stream_one_note_at_a_time(fmt):
    """Each note is written before the next one is pulled from the (lazy) pairs."""
    out = io.BytesIO()
    written_before = []

    def pairs():
        for pair in CORPUS:
            written_before.append(out.tell())
            yield pair

    exporters()[fmt].write(pairs(), CONFIG, out)
    assert len(written_before) == len(CORPUS)
    assert all(a < b for a, b in zip(written_before, written_before[1:] + [out.tell()]))


@pytest.mark.parametrize("fmt", PEER_FORMATS)
def test_exporters_take_notes_without_annotations(fmt):
    plain = [(ItemView(id=1, kind="note", text="Nothing to see.\n", meta={}), None),
             (ItemView(id=2, kind="note", text="Still nothing.", meta={}), {"spans": [], "relations": []})]
    assert export(fmt, plain)


# -------------------------------------------------------------------------------------------------- PubTator
def test_pubtator_read_by_bioc():
    """bioc's own PubTator reader: title and abstract joined by one character (it uses a line break, the NCBI
    corpora a space), every mention's offsets point at its text; line breaks inside the note became spaces."""
    from bioc import pubtator

    docs = pubtator.loads(export("pubtator").decode("utf-8"))
    assert [doc.pmid for doc in docs] == [str(item.id) for item, _ in CORPUS]
    for (item, payload), doc in zip(CORPUS, docs):
        flat = re.sub(r"[\r\n]", " ", item.text).rstrip()  # bioc strips each line
        assert doc.text.replace("\n", " ") == flat
        assert _extents(_spans(payload)) == sorted((a.start, a.end, a.type) for a in doc.annotations)
        for annotation in doc.annotations:
            assert flat[annotation.start:annotation.end] == annotation.text
    first = {a.start: a.id for a in docs[0].annotations}
    assert first[CORPUS[0][0].text.index("type 2")] == "MESH:D003924|UMLS:C0011860"
    assert first[CORPUS[0][0].text.index("Jane")] == "-"
    # relations link concept ids: only metformin -> type 2 diabetes has ids at both ends
    assert [(r.type, r.id1, r.id2) for r in docs[0].relations] == [("treats", "RxNorm:6809", "MESH:D003924")]


def test_pubtator_title_never_ends_in_blanks():
    """Readers strip each line: a title ending in blanks would shift every abstract offset, so the title stops
    before them and the blanks open the abstract."""
    from bioc import pubtator

    text = "Title with trailing blanks  \nAbstract: fever."
    payload = {"spans": [{"id": "a", "start": text.index("fever"), "end": text.index("fever") + 5,
                          "label": "PROBLEM", "layer": "entity"}], "relations": []}
    [doc] = pubtator.loads(export("pubtator", [(ItemView(id=5, kind="note", text=text, meta={}), payload)]).decode())
    assert doc.title == "Title with trailing blanks"
    [annotation] = doc.annotations
    assert doc.text[annotation.start:annotation.end] == "fever"


# ------------------------------------------------------------------------------------------------ IOB2 / BIOES
LOST_IN_IOB = {"s2", "s4", "s9"}  # nested in s1 / s3, crossing s8 (equal length: the earlier one wins)


def _conll_documents(data: str) -> list[list[list[tuple[str, str]]]]:
    documents = []
    for block in data.split("-DOCSTART- O\n")[1:]:
        sentences = [[tuple(line.rsplit(" ", 1)) for line in chunk.split("\n") if line]
                     for chunk in block.split("\n\n")]
        documents.append([s for s in sentences if s])
    return documents


@pytest.mark.parametrize("fmt, scheme_name", [("iob2", "IOB2"), ("bioes", "IOBES")])
def test_iob_read_by_seqeval(fmt, scheme_name):
    """seqeval's strict scheme parser (which drops any ill-formed chunk) and its lenient get_entities find the same
    entities, and they are the corpus spans minus the ones an IOB tagging cannot hold."""
    from seqeval.metrics.sequence_labeling import get_entities
    from seqeval.scheme import IOB2, IOBES, Entities

    scheme = {"IOB2": IOB2, "IOBES": IOBES}[scheme_name]
    documents = _conll_documents(export(fmt).decode("utf-8"))
    assert len(documents) == len(CORPUS)
    for (item, payload), sentences in zip(CORPUS, documents):
        tokens = [pair for sentence in sentences for pair in sentence]
        offsets, cursor = [], 0
        for token, _tag in tokens:
            cursor = item.text.index(token, cursor)
            offsets.append((cursor, cursor + len(token)))
            cursor += len(token)
        assert "".join(t for t, _ in tokens) == "".join(item.text.split())  # every non-blank character, once
        strict = Entities([[tag for _, tag in s] for s in sentences], scheme).entities
        found = set()
        base = 0
        for sentence, entities in zip(sentences, strict):
            found |= {(e.tag, offsets[base + e.start][0], offsets[base + e.end - 1][1]) for e in entities}
            base += len(sentence)
        lenient = {(label, offsets[s][0], offsets[e][1]) for label, s, e in get_entities([t for _, t in tokens])}
        expected = {(s["label"], s["start"], s["end"]) for s in _spans(payload) if s["id"] not in LOST_IN_IOB}
        assert found == lenient == expected


def test_iob_counts_what_it_leaves_out():
    item, payload = CORPUS[0]
    _, left_out = iob_sentences(item.text, payload)
    assert left_out == len(LOST_IN_IOB)


def test_iob_labels_with_blanks_stay_one_column():
    text = "Pain in the left knee."
    payload = {"spans": [{"id": "a", "start": 12, "end": 21, "label": "BODY PART", "layer": "entity"}]}
    lines = export("iob2", [(ItemView(id=1, kind="note", text=text, meta={}), payload)]).decode().splitlines()
    assert "left B-BODY_PART" in lines and "knee I-BODY_PART" in lines


# ---------------------------------------------------------------------------------------------------- doccano
def test_doccano_jsonl_follows_doccanos_relation_format():
    """doccano's relation-extraction JSONL: integer ids, entities with start_offset / end_offset in UTF-16 code
    units (what its browser annotator counts: doccano issues #2290, #2484), relations from_id / to_id pointing at
    entity ids of the same record."""
    lines = export("doccano").decode("utf-8").splitlines()
    assert len(lines) == len(CORPUS)
    for line, (item, payload) in zip(lines, CORPUS):
        record = json.loads(line)
        assert record["id"] == item.id and record["text"] == item.text
        units = record["text"].encode("utf-16-le")
        entities = {e["id"]: e for e in record["entities"]}
        assert len(entities) == len(record["entities"]) and all(isinstance(i, int) for i in entities)
        found = {(units[2 * e["start_offset"]:2 * e["end_offset"]].decode("utf-16-le"), e["label"]): e
                 for e in entities.values()}
        assert sorted(found) == sorted((s["text"], s["label"]) for s in _spans(payload))
        start_of = {e["id"]: len(units[:2 * e["start_offset"]].decode("utf-16-le")) for e in entities.values()}
        by_id = {s["id"]: s for s in _spans(payload)}
        assert sorted((r["type"], start_of[r["from_id"]], start_of[r["to_id"]]) for r in record["relations"]) == \
            sorted((r["type"], by_id[r["head"]]["start"], by_id[r["tail"]]["start"]) for r in _relations(payload))
        assert all(isinstance(r["id"], int) for r in record["relations"])
    emoji_note = json.loads(lines[1])
    fever = next(e for e in emoji_note["entities"] if e["start_offset"] > CORPUS[1][0].text.index("fièvre"))
    assert fever["start_offset"] == CORPUS[1][0].text.index("fièvre") + 2  # 👩 and 😷 before it


# ---------------------------------------------------------------------------------------------------- Prodigy
def test_prodigy_tasks_rebuild_in_spacy():
    """spaCy builds a Doc from Prodigy's tokens (words + ws) that reproduces the note; every span is a token
    span of that Doc (token_end inclusive); relation head / child are the last token of their span."""
    import spacy
    from spacy.tokens import Doc

    vocab = spacy.blank("en").vocab
    lines = export("prodigy").decode("utf-8").splitlines()
    for line, (item, payload) in zip(lines, CORPUS):
        task = json.loads(line)
        assert task["answer"] == "accept" and task["meta"]["clinlabel_item_id"] == item.id
        doc = Doc(vocab, words=[t["text"] for t in task["tokens"]], spaces=[t["ws"] for t in task["tokens"]])
        assert doc.text == item.text
        assert [t["id"] for t in task["tokens"]] == list(range(len(doc)))
        assert all((token.idx, token.idx + len(token)) == (t["start"], t["end"]) for token, t in zip(doc, task["tokens"]))
        for span in task["spans"]:
            aligned = doc[span["token_start"]:span["token_end"] + 1]
            assert (aligned.start_char, aligned.end_char) == (span["start"], span["end"])
            assert doc.char_span(span["start"], span["end"]) is not None
        assert sorted((s["start"], s["end"], s["label"]) for s in task["spans"]) == _extents(_spans(payload))
        by_id = {s["id"]: s for s in _spans(payload)}
        for relation in task["relations"]:
            assert relation["head"] == relation["head_span"]["token_end"]
            assert relation["child"] == relation["child_span"]["token_end"]
        assert sorted((r["label"], r["head_span"]["start"], r["child_span"]["start"]) for r in task["relations"]) == \
            sorted((r["type"], by_id[r["head"]]["start"], by_id[r["tail"]]["start"]) for r in _relations(payload))


# ----------------------------------------------------------------------------------------------------- MedCAT
def test_medcat_export_follows_medcattrainers_schema():
    """The schema MedCATtrainer documents for its export (and MedCAT's supervised training reads): projects ->
    documents (text) -> annotations (cui, value == text[start:end], flags, meta_anns keyed by task) and relations
    between annotation ids; meta_anno_defs list every task value used."""
    data = json.loads(export("medcat"))
    [project] = data["projects"]
    documents = project["documents"]
    assert [d["id"] for d in documents] == [item.id for item, _ in CORPUS]
    defs = {d["name"]: set(d["values"]) for d in project["meta_anno_defs"]}
    seen_ids = set()
    for document, (item, payload) in zip(documents, CORPUS):
        assert document["text"] == item.text
        annotations = {a["id"]: a for a in document["annotations"]}
        assert not seen_ids & set(annotations)
        seen_ids |= set(annotations)
        for annotation in annotations.values():
            assert document["text"][annotation["start"]:annotation["end"]] == annotation["value"]
            assert annotation["correct"] and not annotation["deleted"] and not annotation["killed"]
            for task, meta in annotation["meta_anns"].items():
                assert meta["name"] == task and meta["value"] in defs[task]
        expected = sorted((s["start"], s["end"], (s.get("concept") or {}).get("code") or s["label"], [s["label"]])
                          for s in _spans(payload))
        assert sorted((a["start"], a["end"], a["cui"], a["types"]) for a in annotations.values()) == expected
        for relation in document["relations"]:
            start, end = annotations[relation["start_entity"]], annotations[relation["end_entity"]]
            assert (relation["start_entity_start_idx"], relation["end_entity_end_idx"]) == (start["start"], end["end"])
        assert len(document["relations"]) == len(_relations(payload))
    fever = next(a for a in documents[0]["annotations"] if a["value"] == "fever")
    assert fever["meta_anns"]["Presence"]["value"] == "False"
    metformin = next(a for a in documents[0]["annotations"] if a["value"] == "metformin")
    assert metformin["comment"] == "from the pharmacy list; checked" and metformin["cui"] == "6809"
    assert set(project["relation_anno_defs"]) == {"dosage", "frequency", "location", "treats"}


# ---------------------------------------------------------------------------------------------------- WebAnno
_STACK = re.compile(r"(?<!\\)\|")
_VALUE_UNESCAPE = re.compile(r"\\(->|[\\\[\]|_;*tn])")
_TEXT_UNESCAPE = re.compile(r"\\([\\tnfrb]|[\x00-\x07\x0e-\x1f])")


def _unescape_value(value: str) -> str:
    return _VALUE_UNESCAPE.sub(lambda m: {"t": "\t", "n": "\n"}.get(m.group(1), m.group(1)), value)


def _unescape_text(value: str) -> str:
    return _TEXT_UNESCAPE.sub(lambda m: {"t": "\t", "n": "\n", "f": "\f", "r": "\r", "b": "\b"}.get(
        m.group(1), m.group(1)), value)


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def read_tsv3(data: str) -> tuple[str, list[tuple], list[tuple]]:
    """A WebAnno TSV 3.3 reader written from INCEpTION's user guide: header (#FORMAT, #T_SP / #T_RL column
    declarations, two blank lines), sentences (#Text lines, joined with line breaks; the document text is rebuilt
    from them the way INCEpTION's Tsv3XDeserializer does: a sentence's trailing break is dropped when the next
    sentence starts right there, blanks pad a gap), token rows (id, UTF-16 begin-end, form, one column per
    feature), stacked values split at unescaped |, [n] disambiguation ids joining multi-token annotations,
    relations on the dependent's row with the governor's address and [governor_dependent] ids.
    Returns (text, spans as (start, end, value, identifier), relations as (label, governor span, dependent span))
    with offsets in code points."""
    lines = data.split("\n")
    assert lines[0] == "#FORMAT=WebAnno TSV 3.3" and data.endswith("\n")
    columns, row = [], 1
    while lines[row].startswith("#T_"):
        kind, declaration = lines[row][3:5], lines[row][6:]
        layer, *features = declaration.split("|")
        columns += [(kind, layer, feature) for feature in features]
        row += 1
    assert lines[row] == "" and lines[row + 1] == ""
    text, pending = "", []
    annotations: dict = {}  # key -> {"begin", "end", feature: value}
    at_unit: dict = {}  # (address, stack index or id) -> key
    arcs = []
    for line in lines[row + 2:-1]:
        if line.startswith("#Text="):
            pending.append(_unescape_text(line[6:]))
            continue
        if not line:
            continue
        fields = line.split("\t")
        assert fields[-1] == "" and len(fields) == 3 + len(columns) + 1
        address, (begin, end) = fields[0], map(int, fields[1].split("-"))
        if pending:
            if _utf16_len(text) > begin:
                assert _utf16_len(text) == begin + 1 and text.endswith("\n")
                text = text[:-1]
            text += " " * (begin - _utf16_len(text)) + "\n".join(pending) + "\n"
            pending = []
        assert _unescape_text(fields[2]) == text[utf16_to_index(text, begin):utf16_to_index(text, end)]
        relation_values: list[list[str]] = []
        for (kind, layer, feature), raw in zip(columns, fields[3:-1]):
            if raw == "_":
                continue
            for stack, value in enumerate(_STACK.split(raw)):
                if kind == "RL":
                    relation_values.append([feature, value])
                    continue
                match = re.fullmatch(r"(.*?)(?:\[(\d+)\])?", value)
                value, number = match.group(1), match.group(2)
                key = ("id", int(number)) if number else ("unit", address, stack)
                annotation = annotations.setdefault(key, {"begin": begin, "end": end})
                annotation["end"] = end
                annotation[feature] = None if value == "*" else _unescape_value(value)
                at_unit[(address, int(number) if number else 0)] = key
                at_unit.setdefault((address, "stack", stack), key)
        labels = [v for f, v in relation_values if not f.startswith("BT_")]
        refs = [v for f, v in relation_values if f.startswith("BT_")]
        arcs += [(address, label, ref) for label, ref in zip(labels, refs)]

    def resolve(address: str, number: int):  # the governor may sit on a later row
        return at_unit[(address, number)] if number else at_unit[(address, "stack", 0)]

    resolved = []
    for address, label, ref in arcs:
        match = re.fullmatch(r"(\d+-\d+)(?:\[(\d+)_(\d+)\])?", ref)
        governor, gov_id, dep_id = match.group(1), int(match.group(2) or 0), int(match.group(3) or 0)
        resolved.append((_unescape_value(label), resolve(governor, gov_id), resolve(address, dep_id)))

    def extent(key):
        a = annotations[key]
        return (utf16_to_index(text, a["begin"]), utf16_to_index(text, a["end"]))

    spans = [(*extent(k), a.get("value"), a.get("identifier")) for k, a in annotations.items()]
    relations = [(label, (*extent(g), annotations[g]["value"]), (*extent(d), annotations[d]["value"]))
                 for label, g, d in resolved]
    return text, spans, relations


def _webanno_files(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def test_webanno_tsv3_read_from_the_format_definition():
    files = _webanno_files(export("webanno"))
    assert sorted(files) == sorted(f"{item.id}.tsv" for item, _ in CORPUS)
    for item, payload in CORPUS:
        text, spans, relations = read_tsv3(files[f"{item.id}.tsv"])
        # INCEpTION's reader ends the document with a line break: a note without one gains it, nothing else moves
        assert text == (item.text if item.text.endswith("\n") else item.text + "\n")
        expected = sorted((s["start"], s["end"], s["label"],
                           f"{s['concept']['terminology']}:{s['concept']['code']}" if s.get("concept") else None)
                          for s in _spans(payload))
        assert sorted(spans) == expected
        by_id = {s["id"]: s for s in _spans(payload)}
        assert sorted(relations) == sorted(
            (r["type"], *[(by_id[x]["start"], by_id[x]["end"], by_id[x]["label"]) for x in (r["head"], r["tail"])])
            for r in _relations(payload))
    header = files["103.tsv"].split("\n")[:4]  # no relations: no custom relation layer INCEpTION might lack
    assert header == ["#FORMAT=WebAnno TSV 3.3",
                      "#T_SP=de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity|identifier|value", "", ""]


def test_webanno_offsets_are_utf16_units():
    rows = [line.split("\t") for line in _webanno_files(export("webanno"))["102.tsv"].splitlines() if "\t" in line]
    fever = next(r for r in rows if r[2] == "fièvre")
    text = CORPUS[1][0].text
    start = text.index("fièvre")
    astral = sum(1 for ch in text[:start] if ord(ch) > 0xFFFF)
    assert astral == 2 and fever[1] == f"{start + astral}-{start + astral + 6}"  # 👩 and 😷 count two units each


def test_webanno_escapes_reserved_characters():
    text = "Back\\slash [x] a|b_c *d* e->f; g\th\fi"
    labels = ["WEIRD|LABEL", "under_score", "star*", "arrow->", "semi;colon", "[bracket]"]
    words = ["Back\\slash", "[x]", "a|b_c", "*d*", "e->f", "g"]
    spans = [{"id": f"s{i}", "start": text.index(w), "end": text.index(w) + len(w), "label": label,
              "layer": "entity", "concept": {"terminology": "T|1", "code": "a_b->c"}}
             for i, (w, label) in enumerate(zip(words, labels))]
    payload = {"spans": spans, "relations": [{"id": "r", "type": "rel|x_y", "head": "s0", "tail": "s1"}]}
    data = export("webanno", [(ItemView(id=9, kind="note", text=text, meta={}), payload)])
    rebuilt, read_spans, relations = read_tsv3(_webanno_files(data)["9.tsv"])
    assert rebuilt == text + "\n"
    assert sorted(read_spans) == sorted((s["start"], s["end"], s["label"], "T|1:a_b->c") for s in spans)
    assert [r[0] for r in relations] == ["rel|x_y"]


def test_webanno_snaps_span_ends_in_whitespace():
    text = "The left knee hurts."
    payload = {"spans": [{"id": "a", "start": 3, "end": 14, "label": "ANATOMY", "layer": "entity"}]}  # " left knee "
    data = export("webanno", [(ItemView(id=3, kind="note", text=text, meta={}), payload)])
    _, spans, _ = read_tsv3(_webanno_files(data)["3.tsv"])
    assert spans == [(4, 13, "ANATOMY", None)]


# ------------------------------------------------------------------------------------ (b) our importer reads back
# What the corpus loses per format: only what the format cannot carry (CANNOT_CARRY). Corpus: 23 spans, 5
# relations, 13 attributes (8 assertions, fragments, a note, 3 others), 9 concept ids (7 primary, 2 candidates).
EXPECTED_LOSS = {
    # formats that carry everything: discontinuous fragments, candidates, notes and attributes included
    "jsonl": {"spans": 0, "relations": 0, "attributes": 0, "concepts": 0},
    "brat": {"spans": 0, "relations": 0, "attributes": 0, "concepts": 0},
    "bioc": {"spans": 0, "relations": 0, "attributes": 0, "concepts": 0},
    "label_studio": {"spans": 0, "relations": 0, "attributes": 0, "concepts": 0},
    # relations link concept ids: only metformin -> type 2 diabetes has ids at both ends
    "pubtator": {"spans": 0, "relations": 4, "attributes": 13, "concepts": 0},
    # one identifier per span: the two candidates are lost
    "webanno": {"spans": 0, "relations": 0, "attributes": 13, "concepts": 2},
    # s2, s4, s9 overlap longer spans; no relations, attributes or concept ids at all
    "iob2": {"spans": 3, "relations": 5, "attributes": 13, "concepts": 9},
    "bioes": {"spans": 3, "relations": 5, "attributes": 13, "concepts": 9},
    "doccano": {"spans": 0, "relations": 0, "attributes": 13, "concepts": 9},
    "prodigy": {"spans": 0, "relations": 0, "attributes": 13, "concepts": 9},
    # a bare CUI: only the UMLS one keeps its terminology (MeSH, RxNorm, ICD-10-CM read back as UMLS / SNOMED);
    # candidates and fragments have no place
    "medcat": {"spans": 0, "relations": 0, "attributes": 1, "concepts": 8},
}


@pytest.mark.parametrize("fmt", sorted(EXPECTED_LOSS))
def test_round_trip_through_our_importer_loses_only_what_the_format_cannot_carry(fmt):
    from peer_corpus import loss, read_back

    result = loss(CORPUS, read_back(fmt, export(fmt)))
    assert result["lost"] == EXPECTED_LOSS[fmt], result


def test_peer_exports_through_the_api(admin):
    """The export job writes each peer format for notes imported with their spans; the file reads back."""
    from peer_corpus import loss, read_back

    _, modalities = admin.get("/modalities")
    notes = next(m for m in modalities["items"] if m["name"] == "notes")
    assert set(PEER_FORMATS) <= set(notes["export_formats"])
    status, project = admin.post("/projects", {"name": "Peers", "modality": "notes",
                                               "label_config": notes["default_label_config"]})
    assert status == 201, project
    item, payload = CORPUS[1]  # accents, CJK and emoji; labels of the default configuration
    status, created = admin.post(f"/projects/{project['id']}/items",
                                 [{"text": item.text, "spans": payload["spans"], "relations": payload["relations"]}])
    assert status == 201, created
    for fmt in PEER_FORMATS:
        status, job = admin.post(f"/projects/{project['id']}/exports", {"format": fmt})
        assert status == 202, job
        _, job = admin.get(f"/jobs/{job['id']}")
        assert job["status"] == "succeeded", job
        resp = admin.client.get(f"/api/v1/exports/{job['id']}/file", headers=admin.headers())
        assert resp.status_code == 200, fmt
        result = loss([(item, payload)], read_back(fmt, resp.data))
        assert result["lost"]["spans"] == 0 and result["of"]["spans"] == len(payload["spans"]), (fmt, result)


@pytest.mark.parametrize("fmt", PEER_FORMATS)
def test_exporters_survive_odd_spans(fmt):
    """A span over blanks only (no token to carry it), one over the whole note, a label with a tab and a pipe, a
    relation to a span a token-based format has to leave out: every writer still writes a readable file."""
    text = "Pain   in\tthe knee |x| ok"
    spans = [{"id": "blank", "start": 4, "end": 7, "label": "PROBLEM", "layer": "entity"},
             {"id": "all", "start": 0, "end": len(text), "label": "ODD\tLABEL|X", "layer": "entity"},
             {"id": "knee", "start": text.index("knee"), "end": text.index("knee") + 4, "label": "ANATOMY",
              "layer": "entity", "concept": {"terminology": "SNOMED", "code": "72696002|x\ty"}}]
    payload = {"spans": spans, "relations": [{"id": "r", "type": "location", "head": "all", "tail": "blank"},
                                             {"id": "q", "type": "part", "head": "knee", "tail": "all"}]}
    data = export(fmt, [(ItemView(id=4, kind="note", text=text, meta={}), payload)])
    if fmt == "webanno":
        rebuilt, found, relations = read_tsv3(_webanno_files(data)["4.tsv"])
        assert rebuilt == text + "\n" and len(found) == 2 and [r[0] for r in relations] == ["part"]
    elif fmt in ("iob2", "bioes"):
        rows = [line.split(" ") for line in data.decode().splitlines() if line and not line.startswith("-DOCSTART")]
        assert all(len(row) == 2 for row in rows) and rows[0] == ["Pain", "B-ODD_LABEL|X"]
    elif fmt == "pubtator":
        from bioc import pubtator

        [doc] = pubtator.loads(data.decode())
        assert len(doc.annotations) == 3 and doc.annotations[0].type == "ODD LABEL|X"
    else:
        assert data.decode("utf-8")
