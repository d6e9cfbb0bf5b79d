"""Readers of peers' formats (issue 14, item 2): CoNLL/IOB/BIOES, WebAnno TSV 3, doccano and Prodigy JSONL, spaCy
DocBin, MedCATtrainer exports and Label Studio JSON. Each is run on the peer's own published files (under
tests/data/notes/peers/<peer>/, with SOURCE.md and the licence) and checked against the peer's own reading where one
exists (seqeval's chunking, INCEpTION's CAS in reference.xmi, spaCy), then on hostile variants, which must fail
with a FormatError or ItemRejected naming the place, never with another exception."""
from __future__ import annotations

import collections
import io
import json
import zlib
from pathlib import Path

import pytest

from annotators.base import FormatError, ItemInput, ItemRejected
from annotators.notes import formats, formats_conll, formats_spacy, formats_webanno
from annotators.notes.formats_conll import read_conll
from annotators.notes.formats_import import index_to_utf16, read_jsonl
from annotators.notes.formats_medcat import read_medcat
from annotators.notes.formats_spacy import read_docbin
from annotators.notes.formats_webanno import read_webanno
from annotators.notes.schema import default_label_config

PEERS = Path(__file__).resolve().parents[1] / "data" / "notes" / "peers"
CONFIG = default_label_config()
HOSTILE = (FormatError, ItemRejected)


def _peer(path: str) -> bytes:
    return (PEERS / path).read_bytes()


def _spans(item) -> list[dict]:
    return item.annotations[0]["spans"] if item.annotations else []


def _relations(item) -> list[dict]:
    return item.annotations[0]["relations"] if item.annotations else []


def _ingest(name: str, data: bytes):
    return formats.ingest(ItemInput(name=name, data=data), CONFIG)


# ------------------------------------------------------------------------------------------------------- CoNLL
def _columns(data: bytes, token_col: int, tag_col: int) -> list[list[list[tuple[str, str]]]]:
    """The fixture read plainly: documents of sentences of (token, tag)."""
    text = data.decode("utf-8")
    tabbed = "\t" in text
    documents, sentence = [[]], []
    for line in text.splitlines():
        if line.startswith("-DOCSTART-") or not line.strip():
            if sentence:
                documents[-1].append(sentence)
            sentence = []
            if line.startswith("-DOCSTART-") and documents[-1]:
                documents.append([])
            continue
        if line.startswith("#\t"):
            continue
        fields = line.split("\t") if tabbed else line.split()
        sentence.append((fields[token_col], fields[tag_col]))
    if sentence:
        documents[-1].append(sentence)
    return [d for d in documents if d]


@pytest.mark.parametrize("path, token_col, tag_col, asked, suffix", [
    ("conll-allennlp/conll2003.txt", 0, 3, None, False),  # IOB1, two -DOCSTART- documents, chunk column ignored
    ("conll-seqeval/ground_truth.txt", 0, 3, None, False),  # conlleval layout: the prediction column by default
    ("conll-seqeval/ground_truth.txt", 0, 2, 2, False),  # ... the gold column when asked
    ("conll-seqeval/ground_truth_inv.txt", 0, 3, None, True),  # suffix-style tags (NP-B)
    ("conll-spacy/ner-token-per-line.iob", 0, 1, None, False),  # tab-separated, one sentence, no blank line
    ("conll-flair/NER-de-test.tsv", 1, 2, None, False),  # GermEval: comment line, index column, outer NER column
    ("conll-flair/fashion-eng.testa", 0, 3, None, False),
    ("conll-flair/column_with_whitespaces-eng.train", 0, 1, None, False),  # the tag is not the last column
])
def test_conll_fixtures_chunk_like_seqeval(path, token_col, tag_col, asked, suffix):
    from seqeval.metrics.sequence_labeling import get_entities

    data = _peer(path)
    items = read_conll(data, path, CONFIG, tag_column=asked)
    documents = _columns(data, token_col, tag_col)
    assert len(items) == len(documents)
    for item, sentences in zip(items, documents):
        assert item.meta["tag_column"] == tag_col + 1
        assert item.text == "\n".join(" ".join(token for token, _ in sentence) for sentence in sentences)
        expected, offset = [], 0
        for sentence in sentences:
            starts = []
            for token, _ in sentence:
                starts.append(offset)
                offset += len(token) + 1
            for label, first, last in get_entities([tag for _, tag in sentence], suffix=suffix):
                expected.append((label, starts[first], starts[last] + len(sentence[last][0])))
        assert [(s["label"], s["start"], s["end"]) for s in _spans(item)] == expected


def test_conll_fixture_contents_and_dispatch():
    first, second = read_conll(_peer("conll-allennlp/conll2003.txt"), "c.txt", CONFIG)
    assert first.text == "U.N. official Ekeus heads for Baghdad ." and second.meta["document"] == 2
    assert [(s["label"], s["text"]) for s in _spans(first)] == [("ORG", "U.N."), ("PER", "Ekeus"), ("LOC", "Baghdad")]
    [spacy_doc] = _ingest("ner.iob", _peer("conll-spacy/ner-token-per-line.iob"))
    assert ("PERSON", "Sebastian Thrun") in [(s["label"], s["text"]) for s in _spans(spacy_doc)]
    assert "“ I can tell you" in spacy_doc.text
    [germeval] = _ingest("NER-de-test.tsv", _peer("conll-flair/NER-de-test.tsv"))  # .tsv, not WebAnno: CoNLL
    assert germeval.text.startswith("1951 bis 1953") and [s["text"] for s in _spans(germeval)] == ["Kolpingwerkes"]


@pytest.mark.parametrize("tags", [
    ["B-PER", "I-PER", "E-PER", "O", "S-LOC", "B-ORG", "E-ORG"],  # BIOES
    ["B-PER", "L-PER", "U-LOC", "O", "B-ORG", "I-ORG", "L-ORG"],  # BILOU
    ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "O"],  # IOB1
    ["B_PER", "I_PER", "O", "B_LOC", "O", "O", "O"],  # underscore
    ["I-PER", "E-LOC", "S-ORG", "E-ORG", "I-X", "B-X", "B-X"],  # ill-formed mixes, decoded as seqeval does
])
def test_conll_schemes_agree_with_seqeval(tags):
    from seqeval.metrics.sequence_labeling import get_entities

    tokens = ["w%d" % i for i in range(len(tags))]
    data = "\n".join(f"{t}\t{tag}" for t, tag in zip(tokens, tags)).encode()
    [item] = read_conll(data, "s.bioes", CONFIG)
    normal = [t.replace("_", "-", 1).replace("L-", "E-").replace("U-", "S-") for t in tags]
    expected = [(label, " ".join(tokens[a:b + 1])) for label, a, b in get_entities(normal)]
    assert [(s["label"], s["text"]) for s in _spans(item)] == expected


@pytest.mark.parametrize("data, column, error, message", [
    (b"a NN x\nb NN y\n", None, FormatError, "no column holds IOB/BIOES tags"),
    (b"a\tB-X\nb\tO\tO\n", None, FormatError, "line 2: 3 columns, the file's token lines have 2"),
    (b"word\nother\n", None, FormatError, "one column only"),
    (b"\tB-X\nb\tO\n", None, FormatError, "line 1: empty token"),
    (b"a O\n\x00\x01 B-X\n", None, ItemRejected, "binary file"),
    (b"\xff\xfeb\x00a\x00", None, FormatError, "one column only"),  # UTF-16 by its BOM: one field
    (b"\n\n-DOCSTART- -X- -X- O\n\n", None, ItemRejected, "no token lines"),
    (b"a B-X\n", 5, FormatError, "tag column 5 is not one of the 2 columns"),
    (b"a NN B-X\nb NN O\n", 1, FormatError, "line 1: column 2 does not hold an IOB/BIOES tag"),
])
def test_conll_hostile(data, column, error, message):
    with pytest.raises(error, match=message):
        read_conll(data, "bad.conll", CONFIG, tag_column=column)


def test_conll_limits(monkeypatch):
    with pytest.raises(ItemRejected, match="more than this project's limit of 1000"):
        read_conll(b"word O\n" * 400, "big.conll", {**CONFIG, "max_chars": 1000})
    monkeypatch.setattr(formats_conll, "MAX_LINES", 100)
    with pytest.raises(ItemRejected, match="lines, more than the limit of 100"):
        read_conll(b"word O\n" * 101, "big.conll", CONFIG)
    monkeypatch.setattr(formats_conll, "MAX_RECORDS", 2)
    with pytest.raises(ItemRejected, match="more than 2 documents"):
        read_conll(b"-DOCSTART- O\n\na O\n" * 3, "docs.conll", CONFIG)
    latin = "café O\n".encode("latin-1")  # not UTF-8: read as Latin-1, as every text reader does
    assert read_conll(latin, "l.conll", CONFIG)[0].text == "café"


# ---------------------------------------------------------------------------------------------- WebAnno TSV 3
_XMI_IGNORED = {"Token", "Sentence", "DocumentMetaData", "Sofa", "View", "NULL", "TagsetDescription"}


def _xmi(case: str) -> tuple[str, collections.Counter]:
    """INCEpTION's own CAS for a suite case: the document text and the UTF-16 extents of its span annotations."""
    from defusedxml.ElementTree import fromstring

    root = fromstring(_peer(f"webanno-inception/{case}/reference.xmi"))
    text, found, tokens = "", [], []
    for element in root:
        local = element.tag.rsplit("}", 1)[-1]
        if local == "Sofa":
            text = element.get("sofaString")
        elif local == "Token":
            tokens.append((int(element.get("begin")), int(element.get("end"))))
        elif local not in _XMI_IGNORED and element.get("begin") is not None and element.get("Governor") is None:
            found.append((int(element.get("begin")), int(element.get("end"))))
    # TSV cannot address the space between tokens: INCEpTION's writer trims an annotation to the tokens it covers.
    extents = collections.Counter()
    for begin, end in found:
        if not any(b <= begin < e for b, e in tokens):
            begin = min((b for b, e in tokens if e > begin), default=begin)
        if not any(b < end <= e for b, e in tokens):
            end = max((e for b, e in tokens if b < end), default=end)
        if end > begin:
            extents[(begin, end)] += 1
    return text, extents


_SUITE = sorted(p.name for p in (PEERS / "webanno-inception").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", _SUITE)
def test_webanno_suite_matches_inceptions_cas(case):
    [item] = read_webanno(_peer(f"webanno-inception/{case}/reference.tsv"), f"{case}/reference.tsv", CONFIG)
    sofa, extents = _xmi(case)
    # Text between sentences is not in TSV: ours has line breaks where the document had other white space.
    assert len(item.text) == len(sofa) and all(a == b or (a == "\n" and b.isspace()) for a, b in zip(item.text, sofa))
    ours = collections.Counter((index_to_utf16(item.text, s["start"]), index_to_utf16(item.text, s["end"]))
                               for s in _spans(item))
    assert ours == extents


def test_webanno_labels_relations_and_escapes():
    def read(case):
        return read_webanno(_peer(f"webanno-inception/{case}/reference.tsv"), case, CONFIG)[0]

    stacked = read("testMultiTokenStackedSpanWithFeatureValue")
    assert sorted((s["label"], s["text"]) for s in _spans(stacked)) == [("LOCATION", "This is a test ."),
                                                                       ("PERSON", "This is a test .")]
    relation = read("testSingleStackedNonTokenRelationWithoutFeatureValue")  # source 1-1[1_3]
    by_id = {s["id"]: s for s in _spans(relation)}
    [arc] = _relations(relation)
    assert arc["type"] == "Relation" and (by_id[arc["head"]]["text"], by_id[arc["tail"]]["text"]) == ("This", ".")
    arcs = read("testStackedNonMultiTokenRelationWithMultipleFeatureValues")
    assert sorted(r["type"] for r in _relations(arcs)) == ["false", "true"]
    escaped = read("testTokenBoundedSpanWithSpecialSymbolsValue")
    assert {s["label"] for s in _spans(escaped)} == {"#*'\"`´\t:;{}|[ ]()\\§$%?=&_"}
    assert {s["label"] for s in _spans(read("testTokenBoundedStackedLookAlike"))} == {f"NOTSTACKED[{i}]"
                                                                                      for i in range(5)}
    emoji = read("testSentenceWithEmoji")
    assert emoji.text == "I like it \U0001F60A ." and [s["text"] for s in _spans(emoji)] == ["\U0001F60A"]
    assert read("testSentenceWithLineBreak").text == "This is\na test ."
    subtokens = read("testSubMultiTokenSpanWithFeatureValue")
    assert ("8", "aaa bbb") in [(s["label"], s["text"]) for s in _spans(subtokens)]
    assert subtokens.meta["webanno_zero_width_skipped"] == 3
    slots = read("testSimpleSlotFeature")
    names = {s["id"]: s["text"] for s in _spans(slots)}
    assert sorted((r["type"], names[r["head"]], names[r["tail"]]) for r in _relations(slots)) == [
        ("p1", "This", "is"), ("p2", "This", "a")]
    chain = read("testStackedChain")
    names = {s["id"]: s["text"] for s in _spans(chain)}
    assert sorted((names[r["head"]], names[r["tail"]]) for r in _relations(chain)) == [
        ("This", "is"), ("a", "is"), ("is", "This"), ("is", "a")]
    [example] = _ingest("example2.tsv", _peer("webanno-inception/example2.tsv"))
    assert example.meta["webanno_skipped_layers"] == "Dependency|POS"
    assert example.meta["source_format"] == "webanno_tsv3"
    assert ("PER", "Ms. Haag") in [(s["label"], s["text"]) for s in _spans(example)] and _relations(example) == []


_TSV_HEAD = ("#FORMAT=WebAnno TSV 3.3\n#T_SP=de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity|identifier|value\n"
             "#T_RL=webanno.custom.Relation|value|BT_de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity\n\n\n")


def test_webanno_named_entity_identifiers_become_concepts():
    body = ("#Text=Has diabetes and gout .\n1-1\t0-3\tHas\t_\t_\t_\t_\t\n"
            "1-2\t4-12\tdiabetes\tC0011849\tPROBLEM\t_\t_\t\n"
            "1-3\t13-16\tand\t_\t_\t_\t_\t\n1-4\t17-21\tgout\tMeSH:D006073\tPROBLEM\tcomorbid\t1-2\t\n"
            "1-5\t22-23\t.\t_\t_\t_\t_\t\n")
    [item] = read_webanno((_TSV_HEAD + body).encode(), "n.tsv", CONFIG)
    concepts = [(s["label"], s["concept"]["terminology"], s["concept"]["code"]) for s in _spans(item)]
    assert concepts == [("PROBLEM", "UMLS", "C0011849"), ("PROBLEM", "MeSH", "D006073")]
    assert [(r["type"], r["head"], r["tail"]) for r in _relations(item)] == [("comorbid", "T1", "T2")]


@pytest.mark.parametrize("body, error, message", [
    ("#Text=Hi .\n1-1\t0-2\tHi\t*\t*\t_\t_\t\n1-2\t3-9\t.\t_\t_\t_\t_\t\n", FormatError,
     r"line 8: token offsets 3-9 run past its sentence's text"),
    ("#Text=Hi .\n1-1\t2-0\tHi\t*\t*\t_\t_\t\n", FormatError, "line 7: token ends .0. before it starts .2."),
    ("#Text=Hi .\n1-1\t0-2\tHi\t*\t*\t_\t_\t\n1-2\t3-4\t.\t_\t_\tx\t1-9\t\n", FormatError,
     "line 8: refers to token 1-9, which is not in the file"),
    ("#Text=Hi .\n1-1\t0-2\tHi\t_\t_\t_\t_\t\n1-2\t3-4\t.\t*\t*\tx\t1-1\t\n", FormatError,
     "line 8: refers to token 1-1, which has no annotation of the target layer"),
    ("#Text=Hi .\n1-1\t0-2\tHi\t*[4]\t*[4]\t_\t_\t\n1-2\t3-4\t.\t*\t*\tx\t1-1[9_0]\t\n", FormatError,
     r"refers to annotation \[9\] at 1-1"),
    ("#Text=Hi .\n1-1\t0-2\tHi\t*\t*\n", FormatError, "line 7: 5 columns; the header declares 7"),
    ("#Text=Hi .\n1-1\t0-2\tHo\t*\t*\t_\t_\t\n", FormatError, "line 7: token 1-1 does not match"),
    ("1-1\t0-2\tHi\t*\t*\t_\t_\t\n", FormatError, "line 6: a token line before any #Text="),
    ("#Text=\U0001F600 x\n1-1\t1-2\t?\t*\t*\t_\t_\t\n", FormatError, "inside a character"),
    ("#Text=Hi\n1-1\t0-2\tHi\t_\t_\t_\t_\t\n#Text=Ho\n2-1\t99999999-99999901\tHo\t_\t_\t_\t_\t\n", ItemRejected,
     "beyond this project's note size limit"),
    ("#Text=Hi\n1-1\t0-2\tHi\t_\t_\t_\t_\t\n#Text=Ho\n2-1\t1-3\tHo\t_\t_\t_\t_\t\n", FormatError,
     "line 9: the sentence starts at 1, inside the text before it"),
    ("#Text=Hi\nx-y\t0-2\tHi\t_\t_\t_\t_\t\n", FormatError, "line 7: not a token line"),
    ("", ItemRejected, "no sentences"),
])
def test_webanno_hostile(body, error, message):
    with pytest.raises(error, match=message):
        read_webanno((_TSV_HEAD + body).encode(), "bad.tsv", CONFIG)


def test_webanno_header_and_limits(monkeypatch):
    with pytest.raises(FormatError, match="line 1: not WebAnno TSV 3"):
        formats.read_tsv(b"#FORMAT=WebAnno TSV 2\n\n#text=x\n", "old.tsv", CONFIG)
    monkeypatch.setattr(formats_webanno, "MAX_ANNOTATIONS", 3)
    rows = "".join(f"1-{i + 1}\t{2 * i}-{2 * i + 1}\tx\tE\tE\t_\t_\t\n" for i in range(5))
    with pytest.raises(ItemRejected, match="more than 3 annotations"):
        read_webanno((_TSV_HEAD + "#Text=" + "x " * 4 + "x\n" + rows).encode(), "many.tsv", CONFIG)


# ------------------------------------------------------------------------------------------------------ doccano
def test_doccano_fixtures():
    [google] = read_jsonl(_peer("doccano/tests__data__relation_extraction__example.jsonl"), "re.jsonl", CONFIG)
    names = {s["id"]: (s["label"], s["text"]) for s in _spans(google)}
    assert names["0"] == ("ORG", "Google") and names["1"] == ("DATE", "September 4, 1998")
    assert [(r["type"], names[r["head"]][1], names[r["tail"]][1]) for r in _relations(google)] == [
        ("foundedAt", "Google", "September 4, 1998"), ("foundedBy", "Google", "Larry Page"),
        ("foundedBy", "Google", "Sergey Brin")]
    assert google.meta["source_format"] == "doccano"
    [overlap] = read_jsonl(_peer("doccano/tests__data__sequence_labeling__example_overlapping.jsonl"), "o", CONFIG)
    assert [(s["label"], s["text"]) for s in _spans(overlap)] == [("LOC", "e")] and overlap.meta["wikiPageID"] == 1
    flights = read_jsonl(_peer("doccano/pipeline__examples__intent_detection__example.jsonl"), "i.jsonl", CONFIG)
    assert [s["text"] for s in _spans(flights[0])] == ["Find a flight from Memphis", "Tacoma"]
    assert [i.meta["doccano_cats"] for i in flights] == ["flight", "airport"]
    classes = read_jsonl(_peer("doccano/tests__data__text_classification__example.jsonl"), "t.jsonl", CONFIG)
    assert [i.meta.get("doccano_cats") for i in classes] == ["positive", "positive|negative", None]
    assert all(i.annotations == [] for i in classes)


@pytest.mark.parametrize("path, line", [("doccano/tests__data__sequence_labeling__example.jsonl", 3),
                                        ("doccano/tests__data__intent__example.jsonl", 5)])
def test_doccano_own_invalid_lines_reject_the_file_naming_the_line(path, line):
    data = _peer(path)
    with pytest.raises(FormatError, match=f"line {line}: no 'text' field"):
        read_jsonl(data, "d.jsonl", CONFIG)
    valid = b"\n".join(data.splitlines()[:line - 1])
    items = read_jsonl(valid, "d.jsonl", CONFIG)
    assert len(items) == line - 1 and items[0].annotations[0]["spans"][0]["label"] == "LOC"


def test_doccano_offsets_are_utf16_code_units():
    text = "Pain \U0001F615 since Monday, no fever"
    start = len("Pain \U0001F615 since ".encode("utf-16-le")) // 2
    record = {"text": text, "entities": [{"id": 7, "start_offset": start, "end_offset": start + 6, "label": "DATE"}],
              "relations": []}
    [item] = read_jsonl(json.dumps(record).encode(), "e.jsonl", CONFIG)
    assert _spans(item)[0]["text"] == "Monday"
    record["entities"][0].update(start_offset=6, end_offset=8)  # inside the emoji's surrogate pair
    with pytest.raises(FormatError, match=r"entities\[1\]: offsets 6-8 are outside the text"):
        read_jsonl(json.dumps(record).encode(), "e.jsonl", CONFIG)


@pytest.mark.parametrize("record, message", [
    ({"text": "abc", "label": [[0, 9, "X"]]}, r"line 1 label\[1\]: offsets 0-9 are outside the text"),
    ({"text": "abc", "label": [[2, 1, "X"]]}, "offsets 2-1 are outside the text"),
    ({"text": "abc", "label": [["0", 1, "X"]]}, "offset '0' is not an integer"),
    ({"text": "abc", "label": [[0, 1]]}, r"expected \[start, end, label\]"),
    ({"text": "abc", "label": [[0, 1, None]]}, "the label is missing"),
    ({"text": "abc", "entities": "X"}, "'entities' is not a list"),
    ({"text": "abc", "entities": [{"id": 1, "start_offset": 0, "end_offset": 1, "label": "X"}],
      "relations": [{"id": 1, "from_id": 1, "to_id": 5, "type": "r"}]}, "point at an entity that is not in"),
    ({"text": "abc", "entities": [{"id": [1], "start_offset": 0, "end_offset": 1, "label": "X"}],
      "relations": [{"from_id": [1], "to_id": {}, "type": "r"}]}, "point at an entity that is not in"),
    ({"text": "abc", "cats": [{"a": 1}]}, "'cats' is neither"),
    ({"text": 5, "label": []}, "no 'text' field"),
    ({"text": "abc", "label": [0] * 1_000_001}, "holds 1000001 entries, more than 100000"),
])
def test_doccano_hostile(record, message):
    with pytest.raises(FormatError, match=message):
        read_jsonl(json.dumps(record).encode(), "bad.jsonl", CONFIG)


def test_our_own_jsonl_records_are_not_taken_for_peers():
    ours = [{"text": "Has fever.", "label": "triage", "spans": [
        {"id": "s1", "start": 4, "end": 9, "label": "PROBLEM", "layer": "entity"}]},
        {"text": "Plain.", "spans": []}, {"text": "Meta only.", "department": "ED"}]
    items = read_jsonl("\n".join(map(json.dumps, ours)).encode(), "o.jsonl", CONFIG)
    assert [i.meta["source_format"] for i in items] == ["jsonl"] * 3 and items[0].meta["label"] == "triage"
    assert _spans(items[0])[0]["id"] == "s1" and items[1].annotations == [{"spans": [], "relations": []}]


# ------------------------------------------------------------------------------------------------------ Prodigy
def _records(path: str) -> list[dict]:
    return [json.loads(line) for line in _peer(path).splitlines()]


def test_prodigy_ner_manual_fixture():
    path = "prodigy/annotated_news_headlines-first40.jsonl"
    items = read_jsonl(_peer(path), "news.jsonl", CONFIG)
    records = _records(path)
    assert len(items) == 40
    for item, record in zip(items, records):
        tokens = {t["id"]: t for t in record["tokens"]}
        expected = [(s["label"], tokens[s["token_start"]]["start"], tokens[s["token_end"]]["end"])
                    for s in record.get("spans", [])]
        assert [(s["label"], s["start"], s["end"]) for s in _spans(item)] == expected
        assert item.meta["prodigy_answer"] == "accept" and item.meta["source"] == "The New York Times"
    [ignored] = read_jsonl(_peer("prodigy/annotated_news_headlines-line337-ignore.jsonl"), "i.jsonl", CONFIG)
    assert ignored.annotations == [] and ignored.meta["prodigy_answer"] == "ignore"


def test_prodigy_binary_decisions_merge_per_input_and_keep_only_accepts():
    path = "prodigy/annotated_reddit-PRODUCT-first60.jsonl"
    records = _records(path)
    items = read_jsonl(_peer(path), "reddit.jsonl", CONFIG)
    by_hash = collections.defaultdict(list)
    for record in records:
        by_hash[record["_input_hash"]].append(record)
    assert len(items) == len(by_hash)
    for item in items:
        group = by_hash[item.meta["prodigy_input_hash"]]
        accepted = {(s["start"], s["end"], s["label"]) for r in group if r["answer"] == "accept" for s in r["spans"]}
        assert {(s["start"], s["end"], s["label"]) for s in _spans(item)} == accepted
        answers = collections.Counter(r["answer"] for r in group)
        assert item.meta["prodigy_answer"] == (group[0]["answer"] if len(group) == 1 else
                                               "|".join(f"{a}:{n}" for a, n in sorted(answers.items())))
    assert any(i.annotations == [] for i in items) and any(i.annotations for i in items)


def test_prodigy_relations_and_unanswered_spans():
    path = "prodigy/rel_component-annotations-first12.jsonl"
    for item, record in zip(read_jsonl(_peer(path), "rel.jsonl", CONFIG), _records(path)):
        spans = {s["id"]: s for s in _spans(item)}
        got = [(r["type"], spans[r["head"]]["start"], spans[r["tail"]]["end"]) for r in _relations(item)]
        assert got == [(r["label"], r["head_span"]["start"], r["child_span"]["end"]) for r in record["relations"]]
        assert len(spans) == len(record["spans"])
    [first, *_] = read_jsonl(_peer("prodigy/bio_events-first20.jsonl"), "bio.jsonl", CONFIG)
    assert [s["text"] for s in _spans(first)][:2] == ["bcr", "abl"] and "prodigy_answer" not in first.meta


_TOKENS = [{"text": "Has", "start": 0, "end": 3, "id": 0}, {"text": "fever", "start": 4, "end": 9, "id": 1}]


@pytest.mark.parametrize("record, message", [
    ({"text": "Has fever", "tokens": _TOKENS, "spans": [{"token_start": 1, "token_end": 7, "label": "X"}],
      "answer": "accept"}, r"spans\[1\]: token id '7' points at no token"),
    ({"text": "Has fever", "spans": [{"start": 4, "end": 90, "label": "X"}]}, "offsets 4-90 are outside"),
    ({"text": "Has fever", "spans": [{"start": 5, "end": 4, "label": "X"}]}, "offsets 5-4 are outside"),
    ({"text": "Has fever", "spans": [{"start": 4, "end": 9, "label": "X", "text": "cough"}]}, "text does not match"),
    ({"text": "Has fever", "spans": [{"start": 4, "end": 9}]}, "the label is missing"),
    ({"text": "Has fever", "spans": "all"}, "'spans' is not a list"),
    ({"text": "Has fever", "spans": [], "relations": [{"head": 3, "child": 1, "label": "r"}], "tokens": _TOKENS,
      "answer": "accept"}, "relations\\[1\\]: token id '3' points at no token"),
    ({"text": "Has fever", "tokens": [{"id": [0], "start": 0, "end": 3}], "spans": []}, "the token id is not"),
    ({"text": "Has fever", "spans": [{"start": 0, "end": 1, "label": "X"}] * 100_001}, "more than 100000"),
])
def test_prodigy_hostile(record, message):
    with pytest.raises(FormatError, match=message):
        read_jsonl(json.dumps(record).encode(), "bad.jsonl", CONFIG)


def test_jsonl_peers_read_thousands_of_records_whole():
    """2,000 doccano and 2,000 Prodigy records with 30 spans each, all read."""
    words = " ".join(f"word{i}" for i in range(60))
    starts = [words.index(f"word{i} ") for i in range(0, 60, 2)]
    doccano = json.dumps({"text": words, "label": [[s, s + 5, "PROBLEM"] for s in starts]})
    prodigy = json.dumps({"text": words, "spans": [{"start": s, "end": s + 5, "label": "PROBLEM"} for s in starts],
                          "answer": "accept"})
    data = ("\n".join([doccano] * 2000 + [prodigy] * 2000)).encode()
    items = read_jsonl(data, "fast.jsonl", CONFIG)  # the rate is benchmarks/bench_import.py's to report
    assert len(items) == 4000 and all(len(_spans(i)) == 30 for i in items)


# ---------------------------------------------------------------------------------------------------- spaCy
def _docbin(docs) -> bytes:
    from spacy.tokens import DocBin

    docbin = DocBin(store_user_data=True)
    for doc in docs:
        docbin.add(doc)
    return docbin.to_bytes()


def test_spacy_docbin_ents_and_overlapping_span_groups():
    import spacy
    from spacy.tokens import Span

    nlp = spacy.blank("en")
    doc = nlp.make_doc("Started metformin 500 mg for type 2 diabetes \U0001F600 today.")
    doc.ents = [Span(doc, 1, 2, label="DRUG", kb_id="C0025598"), Span(doc, 5, 8, label="PROBLEM")]
    doc.spans["sc"] = [Span(doc, 1, 4, label="MEDICATION"), Span(doc, 5, 8, label="PROBLEM"),
                       Span(doc, 6, 8, label="PROBLEM")]
    doc.spans["phi"] = [Span(doc, 9, 10, label="DATE")]
    doc.cats = {"diabetes": 0.9, "cardio": 0.1}
    [item] = _ingest("notes.spacy", _docbin([doc]))
    got = sorted((s["text"], s["label"], s["layer"], s["attributes"].get("span_group")) for s in _spans(item))
    assert got == [("2 diabetes", "PROBLEM", "entity", "sc"), ("metformin", "DRUG", "entity", None),
                   ("metformin 500 mg", "MEDICATION", "entity", "sc"), ("today", "DATE", "phi", "phi"),
                   ("type 2 diabetes", "PROBLEM", "entity", "sc")]
    drug = next(s for s in _spans(item) if s["label"] == "DRUG")
    assert drug["concept"] == {"terminology": "UMLS", "code": "C0025598", "name": ""}
    assert item.meta["spacy_cats"] == "diabetes" and item.text == doc.text


def test_spacy_docbin_written_by_our_exporter_reads_back():
    import test_notes_formats as ours

    items = read_docbin(ours._export("spacy"), "export.spacy", CONFIG)
    keys = ("start", "end", "label", "layer", "assertion")
    assert ours._keys(_spans(items[0]), keys) == ours._keys(ours.PAYLOAD["spans"], keys)
    concept = next(s["concept"] for s in _spans(items[0]) if s["id"] == "s1")
    assert concept == {"terminology": "icd10cm", "code": "J18.9", "name": ""}
    assert items[1].meta["clinlabel_item_id"] == 8


def test_spacy_hostile(monkeypatch):
    import msgpack

    import spacy

    with pytest.raises(FormatError, match="not zlib-compressed"):
        read_docbin(b"garbage", "g.spacy", CONFIG)
    with pytest.raises(FormatError, match="truncated or empty"):
        read_docbin(_docbin([spacy.blank("en").make_doc("Some text here.")])[:40], "t.spacy", CONFIG)
    with pytest.raises(FormatError, match="not a readable spaCy DocBin"):
        read_docbin(zlib.compress(msgpack.packb({"attrs": 5})), "m.spacy", CONFIG)
    with pytest.raises(ItemRejected, match="decompresses past 100000 bytes"):
        read_docbin(zlib.compress(b"\0" * 1_000_000), "bomb.spacy", CONFIG, max_inflated=100_000)
    monkeypatch.setattr(formats_spacy, "MAX_RECORDS", 1)
    two = _docbin([spacy.blank("en").make_doc(t) for t in ("One.", "Two.")])
    with pytest.raises(ItemRejected, match="2 documents, more than the limit of 1"):
        read_docbin(two, "two.spacy", CONFIG)


# ----------------------------------------------------------------------------------------------------- MedCAT
def test_medcat_trainer_export_fixture():
    path = "medcat/medcat_trainer_export-4docs.json"
    export = json.loads(_peer(path))
    items = _ingest("MedCAT_Export.json", _peer(path))
    assert [i.name for i in items] == [d["name"] for d in export["projects"][0]["documents"]]
    for item, document in zip(items, export["projects"][0]["documents"]):
        kept = [a for a in document["annotations"] if a["correct"] and not (a["deleted"] or a["killed"])]
        assert [(s["start"], s["end"], s["concept"]["code"]) for s in _spans(item)] == [
            (a["start"], a["end"], a["cui"]) for a in kept]
        assert item.meta.get("medcat_dropped", 0) == len(document["annotations"]) - len(kept)
        for span, annotation in zip(_spans(item), kept):
            statuses = list(dict.fromkeys(m["value"] for m in annotation["meta_anns"]))
            assert span["attributes"]["Status"] == "|".join(statuses) and span["label"] == "CONCEPT"
            # "Other" (not affirmed) does not say negated, hypothetical or other: no assertion from it
            assert span.get("assertion") == ("present" if "Confirmed" in statuses else None)
    assert any(any(ord(c) > 127 for c in i.text) for i in items)


def test_medcat_relations_snomed_and_bare_exports():
    path = "medcat/medcat_trainer_export_relations-doc1.json"
    [item] = read_medcat(json.loads(_peer(path)), "rel.json", CONFIG)
    [relation] = json.loads(_peer(path))["projects"][0]["documents"][0]["relations"]
    assert _relations(item) == [{"id": "R1", "type": relation["relation"], "head": str(relation["start_entity"]),
                                 "tail": str(relation["end_entity"])}]
    assert {s["concept"]["terminology"] for s in _spans(item)} == {"SNOMED"}
    fake = read_medcat(json.loads(_peer("medcat/medcat_trainer_export_FAKE_CONCEPTS.json")), "f.json", CONFIG)
    second_csv = next(s for s in _spans(fake[0]) if s["concept"]["code"] == "C0000239")
    assert second_csv["text"] == "second CSV " and second_csv["attributes"]["value"] == "second CSV"
    supervised = read_medcat(json.loads(_peer("medcat/supervised_mct_export.json")), "s.json", CONFIG)
    assert sum(len(_spans(i)) for i in supervised) == 14


def test_medcat_meta_annotations_decide_the_assertion():
    text = "No chest pain. Mother had diabetes. Possible gout. Prior stroke."
    at = {w: text.index(w) for w in ("chest pain", "diabetes", "gout", "stroke")}

    def annotation(ident, word, meta, **flags):
        return {"id": ident, "cui": "C0000001", "start": at[word], "end": at[word] + len(word), "value": word,
                "correct": True, "deleted": False, "killed": False, "meta_anns": meta, **flags}

    document = {"name": "d1", "text": text, "annotations": [
        annotation(1, "chest pain", {"Presence": {"value": "False"}}, comment="checked"),
        annotation(2, "diabetes", [{"name": "Experiencer", "value": "Family"}, {"name": "Presence", "value": "True"}]),
        annotation(3, "gout", {"Certainty": {"value": "Uncertain"}}),
        annotation(4, "stroke", {"Temporality": {"value": "Historical"}, "Negation": {"value": "False"}}),
        annotation(5, "stroke", {}, deleted=True)],
        "relations": [{"start_entity": 4, "end_entity": 5, "relation": "dup"},
                      {"start_entity": 2, "end_entity": 1, "relation": "r"}]}
    [item] = read_medcat({"projects": [{"name": "UMLS project", "documents": [document]}]}, "m.json", CONFIG)
    assert [s.get("assertion") for s in _spans(item)] == ["negated", "family", "possible", "historical"]
    assert _spans(item)[0]["attributes"] == {"Presence": "False", "note": "checked"}
    assert [(r["head"], r["tail"]) for r in _relations(item)] == [("2", "1")] and item.meta["medcat_dropped"] == 2


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["annotations"][0].update(end=999), "annotation 1: offsets 5-999 are outside"),
    (lambda d: d["annotations"][0].update(start=7, end=6), "offsets 7-6 are outside"),
    (lambda d: d["annotations"][0].update(start="5"), "'start' and 'end' must be integers"),
    (lambda d: d.update(relations=[{"start_entity": 1, "end_entity": 42, "relation": "r"}]), "relation 1: start_"),
    (lambda d: d["annotations"][0].update(meta_anns="Negated"), "'meta_anns' is neither"),
    (lambda d: d["annotations"][0].update(meta_anns=[{"name": "Status"}]), "lacks a name or a value"),
    (lambda d: d.update(annotations=[0] * 1_000_000), "not a list of at most 100000"),
    (lambda d: d.update(text=None), "document 1: no 'text' string"),
    (lambda d: d["annotations"].append("x"), "annotation 2: not an object"),
])
def test_medcat_hostile(mutate, message):
    document = {"name": "d", "text": "Some fever here.", "annotations": [
        {"id": 1, "cui": "C0015967", "start": 5, "end": 10, "correct": True}]}
    mutate(document)
    with pytest.raises(FormatError, match=message):
        read_json_bytes({"projects": [{"name": "p", "documents": [document]}]})


def read_json_bytes(obj):
    return formats.read_json(json.dumps(obj).encode(), "export.json", CONFIG)


def test_medcat_projects_shape():
    with pytest.raises(FormatError, match="'projects' is not a non-empty list"):
        read_json_bytes({"projects": []})
    with pytest.raises(FormatError, match="project 1: no 'documents' list"):
        read_json_bytes({"projects": [{"name": "p"}]})


# ------------------------------------------------------------------------------------------------ Label Studio
def test_label_studio_converter_fixture():
    task = json.loads(_peer("labelstudio-converter/completions-348.json"))
    [item] = _ingest("project-1.json", _peer("labelstudio-converter/completions-348.json"))
    regions = task["completions"][0]["result"]
    assert [(s["id"], s["label"], s["text"]) for s in _spans(item)] == [
        (r["id"], r["value"]["labels"][0], r["value"]["text"]) for r in regions]
    assert item.meta["label_studio_id"] == 348 and "label_studio_from" not in item.meta


def _region(rid, text, phrase, labels, from_name="label"):
    start = len(text[:text.index(phrase)].encode("utf-16-le")) // 2  # JavaScript offsets
    return {"id": rid, "from_name": from_name, "to_name": "text", "type": "labels",
            "value": {"start": start, "end": start + len(phrase.encode("utf-16-le")) // 2, "text": phrase,
                      "labels": labels}}


def test_label_studio_predictions_choices_textareas_relations():
    text = "\U0001F600 Ibuprofen 400 mg for knee pain."
    result = [_region("a", text, "Ibuprofen", ["MEDICATION"]), _region("b", text, "400 mg", ["DOSAGE"]),
              _region("c", text, "knee pain", ["PROBLEM", "Finding"]),
              {"id": "a", "from_name": "route", "to_name": "text", "type": "choices", "value": {"choices": ["oral"]}},
              {"id": "c", "from_name": "comment", "to_name": "text", "type": "textarea",
               "value": {"text": ["left knee", "since June"]}},
              {"id": "doc1", "from_name": "sentiment", "to_name": "text", "type": "choices",
               "value": {"choices": ["Neutral", "Worried"]}},
              {"from_id": "a", "to_id": "b", "type": "relation", "labels": ["dosage", "has"]}]
    tasks = [{"id": 1, "data": {"text": text}, "predictions": [{"model_version": "v1", "result": result}]},
             {"id": 2, "data": {"text": text}, "annotations": [{"result": result[:1]}],
              "predictions": [{"result": result}]}]
    first, second = formats.read_json(json.dumps(tasks).encode(), "ls.json", CONFIG)
    spans = {s["id"]: s for s in _spans(first)}
    assert first.meta["label_studio_from"] == "predictions"
    assert first.meta["label_studio_sentiment"] == "Neutral|Worried"
    assert [spans[k]["text"] for k in ("a", "b", "c-1", "c-2")] == ["Ibuprofen", "400 mg", "knee pain", "knee pain"]
    assert spans["a"]["attributes"] == {"route": "oral"} and spans["c-1"]["attributes"] == {
        "note": "left knee\nsince June"}
    assert [(r["type"], r["head"], r["tail"]) for r in _relations(first)] == [("dosage", "a", "b"), ("has", "a", "b")]
    assert "label_studio_from" not in second.meta and [s["id"] for s in _spans(second)] == ["a"]


@pytest.mark.parametrize("result, message", [
    ([{"id": "a", "type": "labels", "value": {"start": 3, "end": 99, "labels": ["X"]}}], "offsets 3-99 are outside"),
    ([{"id": "a", "type": "labels", "value": {"start": 3, "end": 1, "labels": ["X"]}}], "offsets 3-1 are outside"),
    ([{"id": "a", "type": "labels", "value": {"start": 0, "end": 2, "labels": ["X"]}},
      {"from_id": "a", "to_id": "zz", "type": "relation"}], "a relation points at a region that is not"),
    ([[1, 2]], "result 1: not an object"),
    ([{"type": "choices", "value": {}}] * 100_001, "holds 100001 entries"),
    ("labels", "'result' is not a list"),
])
def test_label_studio_hostile(result, message):
    task = {"data": {"text": "Has fever."}, "annotations": [{"result": result}]}
    with pytest.raises(FormatError, match=message):
        formats.read_label_studio(json.dumps([task]).encode(), "ls.json", CONFIG)


def test_label_studio_task_count_limit():
    with pytest.raises(ItemRejected, match="1000000 tasks, more than the limit of 100000"):
        formats.read_label_studio(json.dumps([{}] * 1_000_000).encode(), "ls.json", CONFIG)


# ---------------------------------------------------------------------------------------------------- upload
def test_peer_files_upload_through_the_api_with_labels_added(admin):
    status, project = admin.post("/projects", {"name": "Peers", "modality": "notes"})
    assert status == 201, project
    files = [("re.jsonl", _peer("doccano/tests__data__relation_extraction__example.jsonl")),
             ("news.jsonl", b"\n".join(_peer("prodigy/annotated_news_headlines-first40.jsonl").splitlines()[:3])),
             ("conll2003.conll", _peer("conll-allennlp/conll2003.txt")),
             ("example2.tsv", _peer("webanno-inception/example2.tsv")),
             ("export.json", _peer("medcat/medcat_trainer_export_FAKE_CONCEPTS.json")),
             ("project-1.json", _peer("labelstudio-converter/completions-348.json"))]
    data = {"files": [(io.BytesIO(content), name) for name, content in files],
            "label_plan": json.dumps({"unknown": "add"})}
    resp = admin.client.post(f"/api/v1/projects/{project['id']}/items", data=data, content_type="multipart/form-data",
                             headers={"Authorization": f"Bearer {admin.token}"})
    body = resp.get_json()
    assert resp.status_code == 201, body
    assert len(body["created"]) == 1 + 3 + 2 + 1 + 3 + 1 and body["failed"] == []
    added = set(body["labels"]["added"]["labels"])
    assert {"ORG", "PERSON", "PER", "LOC", "INGREDIENT", "CONCEPT"} <= added
    assert {"foundedAt", "foundedBy"} <= set(body["labels"]["added"]["relations"])


# --------------------------------------------------------------------------------------------- wrong encodings
@pytest.mark.parametrize("name, data", [
    ("a.conll", b"word\tO\n\x00\x9f\tB-X\n"), ("a.tsv", b"#FORMAT=WebAnno TSV 3.3\n\n\n#Text=\x00\xff\n"),
    ("a.jsonl", b'{"text": "\x00\xff", "label": []}\n'), ("a.json", b'{"projects": [\x00\xfe]}'),
    ("a.spacy", b"\x78\x9c\x00\xff\xfe"), ("a.iob", "\ufeffword O\n".encode("utf-16-le")[:-1]),
])
def test_wrong_encodings_are_refused_by_name(name, data):
    with pytest.raises(HOSTILE, match=name.replace(".", r"\.")):
        _ingest(name, data)


def test_latin1_records_are_read_as_latin1():
    """Not UTF-8 and no control bytes: Latin-1, as for every text upload."""
    [item] = _ingest("d.jsonl", b'{"text": "caf\xe9 au lait", "label": [[0, 4, "DRINK"]]}')
    assert _spans(item)[0]["text"] == "café"


def test_label_studio_json_min_records():
    text = "Smile \U0001F600 then fever and cough."
    start = len("Smile \U0001F600 then ".encode("utf-16-le")) // 2
    records = [{"id": 3, "text": text, "ward": "5B", "label": [
        {"start": start, "end": start + 5, "text": "fever", "labels": ["PROBLEM"]},
        {"start": start + 10, "end": start + 15, "text": "cough", "labels": ["PROBLEM"]}],
        "triage": ["urgent", "adult"], "annotator": 1, "annotation_id": 9, "lead_time": 3.5}]
    [item] = formats.read_json(json.dumps(records).encode(), "min.json", CONFIG)
    assert [s["text"] for s in _spans(item)] == ["fever", "cough"]
    assert item.meta["triage"] == "urgent|adult" and item.meta["ward"] == "5B" and item.meta["label_studio_id"] == 3
