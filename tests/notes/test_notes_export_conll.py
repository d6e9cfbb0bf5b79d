"""The CoNLL writer (annotators/notes/formats_export_conll.py) gives, byte for byte, what the former writer gave with
a spaCy Doc per note (blank English tokenizer + sentencizer, char_span "expand", filter_spans), kept below as the
reference: on the test corpora, on texts built to hit each shortcut (plain word runs, the tokenizer's exceptions,
special cases matched across a space, whitespace runs) and on random hostile texts with random spans."""
from __future__ import annotations

import glob
import io
import json
import os
import random

import pytest

from annotators.base import ItemView
from annotators.notes.formats_export_conll import _by_keys, _tokenizer, conll_document, write_conll

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_reference_nlp = None


def reference(text: str, payload: dict | None) -> str:
    """The Doc-based writer this module replaced (conll_sentences + write_conll, as they were)."""
    global _reference_nlp
    import spacy
    from spacy.util import filter_spans

    if _reference_nlp is None:
        _reference_nlp = spacy.blank("en")
        _reference_nlp.add_pipe("sentencizer")
    doc = _reference_nlp(text)
    spans = [doc.char_span(s["start"], s["end"], label=s["label"], alignment_mode="expand")
             for s in (payload or {"spans": []})["spans"] if s.get("layer", "entity") == "entity"]
    tags = ["O"] * len(doc)
    for span in filter_spans([s for s in spans if s is not None and len(s)]):
        for i in range(span.start, span.end):
            tags[i] = ("B-" if i == span.start else "I-") + span.label_
    sentences, current, after_newline = [], [], False
    for token in doc:
        if token.is_space:
            after_newline = after_newline or "\n" in token.text
            continue
        if current and (token.is_sent_start or after_newline):
            sentences.append(current)
            current = []
        after_newline = "\n" in token.whitespace_
        current.append((token.text, tags[token.i]))
    if current:
        sentences.append(current)
    lines = ["-DOCSTART- -X- -X- O", ""]
    for sentence in sentences:
        lines.extend(f"{token} -X- _ {tag}" for token, tag in sentence)
        lines.append("")
    return "\n".join(lines) + "\n"


def _spans(text: str, rng: random.Random, count: int) -> list[dict]:
    spans = []
    for k in range(count if text else 0):
        start = rng.randrange(len(text))
        spans.append({"id": f"s{k}", "start": start, "end": rng.randint(start + 1, min(len(text), start + 25)),
                      "label": rng.choice(["PROBLEM", "TEST"]), "layer": rng.choice(["entity", "entity", "phi"])})
    return spans


def _corpus() -> list[tuple[str, dict]]:
    docs = []
    for name in ("ner_synthetic.jsonl", "phi_gold.jsonl"):
        for line in open(os.path.join(HERE, "data", "notes", name), encoding="utf-8"):
            record = json.loads(line)
            spans = [{"layer": "entity", "id": str(i), **s} for i, s in enumerate(record.get("spans") or [])]
            docs.append((record["text"], {"spans": spans}))
    for path in glob.glob(os.path.join(HERE, "data", "notes", "peers", "**", "*.PubTator"), recursive=True):
        for block in open(path, encoding="utf-8").read().split("\n\n"):
            lines = block.strip().split("\n")
            if len(lines) >= 2 and "|t|" in lines[0] and "|a|" in lines[1]:
                text = lines[0].split("|t|", 1)[1] + " " + lines[1].split("|a|", 1)[1]
                docs.append((text, {"spans": _spans(text, random.Random(len(docs)), 6)}))
    return docs


def test_the_corpora_are_written_as_before():
    docs = _corpus()
    assert len(docs) > 100
    for text, payload in docs:
        assert conll_document(text, payload) == reference(text, payload), text[:80]


SHORTCUTS = [
    "",
    "   ",
    "Plain words only ",
    "Plain words only",
    "  leading spaces then words and a full stop. Then more.",
    "Trailing space after the last sentence. ",
    "Two  spaces between  words and three   here.\n\nA blank line, a tab\there, CRLF\r\nend.",
    "Patient cannot walk and dont know; gonna try. Cannot CANNOT cAnNoT.",
    "Line one\nline two \n line three\u00a0with a no-break space and\u2028a line separator.",
    "Allergies: (none). BP 120/80 (sitting) .  Dr. Smith vs. Mr. Jones, e.g. at 10a.m. daily.",
    "Emoticons :) ) and :( ( and (: :P and ; ) and o.O and <3 3 and 'em and 'cause you know.",
    "Smile:) )done :-) ) x :) ) y ( :)patient ) ) :D D ;) )",
    "Numbers 3.5mg, 12/03/2024, 5-10 units, $20, 50% and x-ray follow-up.",
    "Unicode: caf\u00e9 na\u00efve \U0001F600 \u0939\u093f\u0928\u094d\u0926\u0940\u0964 \u4e2d\u6587\u3002 end.",
    "?!... Wait!! What?? Yes... no.",
]


@pytest.mark.parametrize("text", SHORTCUTS)
def test_shortcut_texts_are_written_as_before(text):
    rng = random.Random(text)
    for payload in (None, {"spans": []}, {"spans": _spans(text, rng, 8)}):
        assert conll_document(text, payload) == reference(text, payload)


def test_spans_snap_and_overlap_as_before():
    text = "Chest pain and shortness of breath since Monday.\nNo fever."
    at = text.index
    spans = [
        {"id": "a", "start": at("pain") + 1, "end": at("pain") + 3, "label": "PROBLEM", "layer": "entity"},
        {"id": "b", "start": at("Chest"), "end": at("breath") + 6, "label": "PROBLEM", "layer": "entity"},
        {"id": "c", "start": at("shortness"), "end": at("breath") + 6, "label": "PROBLEM", "layer": "entity"},
        {"id": "d", "start": at(" and"), "end": at(" and") + 1, "label": "TEST", "layer": "entity"},  # a space
        {"id": "e", "start": at("Monday") + 6, "end": at("No") + 1, "label": "TEST", "layer": "entity"},
        {"id": "f", "start": len(text) - 1, "end": len(text), "label": "TEST", "layer": "entity"},
        {"id": "g", "start": len(text), "end": len(text) + 3, "label": "TEST", "layer": "entity"},  # past the end
        {"id": "h", "start": at("fever"), "end": at("fever") + 5, "label": "NAME", "layer": "phi"},
    ]
    for cut in range(len(spans) + 1):
        payload = {"spans": spans[:cut] + spans[cut:][::-1]}
        assert conll_document(text, payload) == reference(text, payload)


def test_random_hostile_texts_are_written_as_before():
    rng = random.Random(15)
    pieces = list("abcXYZ  .!?,;:'\"()-/\n\t\r<3=D*_") + [
        "\u00a0", "Dr.", "Dr", "cannot", "Cannot", "dont", "U.S.", "e.g.", "3.5", "mg", "http://x.org/a?b=1",
        ":)", "'s", "\u2014", "...", "\n\n", "  ", "\u00e9", "\U0001F600", "a.m.", "12/03/2024", "x-ray", "\u2028",
        "\u0964", "\u3002", "patient ", "denies ", "pain. ", "O", "o", "P", "or", "em", "cause", "He", "10a.m",
        "^_^", "-_-", "(-:", "=D", "xD", "c'mon", "can't", "gonna", "y'all", "o.O", ":-)", "8)", "(:", ":P", ";)",
        "Mrs.", "vs.", "etc.", "Jan.", "'em", "'cause"]
    for _ in range(1500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 50)))
        payload = {"spans": _spans(text, rng, rng.randint(0, 6))}
        assert conll_document(text, payload) == reference(text, payload), repr(text)


def test_a_special_case_across_a_space_sends_the_note_to_the_whole_tokenizer():
    """":) )": the Doc-wide pass matches ") )" across the space, which takes ")" from the ":)" inside the first
    run; the key-by-key pass gives up on such a note (and the whole-note tokenization gives spaCy's answer)."""
    tk = _tokenizer()
    text = "Smile:) )done"
    assert _by_keys(tk, text, [], [""]) is None
    assert "Smile -X- _ O\n: -X- _ O\n) -X- _ O\n" in conll_document(text, None) == reference(text, None)
    assert _by_keys(tk, "Plain words. And more.", [], [""]) is not None


def test_write_conll_streams_one_note_at_a_time():
    written = []

    class Sink(io.BytesIO):
        def write(self, data):
            written.append(data)
            return super().write(data)

    def pairs():
        for i in range(3):
            yield ItemView(id=i, kind="note", text=f"Note {i}. Chest pain."), None
            assert len(written) == i + 1  # the note was written before the next is asked for

    write_conll(pairs(), {}, Sink())
    assert len(written) == 3
