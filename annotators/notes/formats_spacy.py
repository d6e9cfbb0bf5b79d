"""spaCy DocBin (.spacy) files, read with spaCy itself.

Each Doc becomes a note (its text, whitespace included). `doc.ents` and every span group of `doc.spans` become
spans; a span of a group carries the group's key in attributes["span_group"] (keys joined by "|" when the same
span sits in several groups, or in `ents` too). Overlapping spans of groups are kept as they are. A span group
named "phi" (our own export writes one) puts its spans on the PHI layer. `kb_id` becomes the concept (our export
writes "terminology:code"; a UMLS CUI alone works too), a span's `id` becomes its id when it is unique, and the
assertions our export keeps in `doc.user_data["clinlabel_assertions"]` are restored. Document categories
(`doc.cats` with a score of at least 0.5) go to meta["spacy_cats"].

DocBin is zlib-compressed msgpack: the data is decompressed once with a cap before spaCy sees it, so a small file
that inflates to gigabytes is refused; msgpack carries no code (no pickle).
"""
from __future__ import annotations

import re
import zlib

from annotators.base import FormatError, IngestedItem, ItemRejected

from .formats_import import MAX_RECORDS, MAX_ZIP_TOTAL_BYTES, _note, check_note, check_payload
from .schema import ASSERTIONS, layer_of_label

_CUI = re.compile(r"^C\d{7}$")


def read_docbin(data: bytes, name: str, config: dict | None = None,
                max_inflated: int = MAX_ZIP_TOTAL_BYTES) -> list[IngestedItem]:
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    try:
        inflater = zlib.decompressobj()
        inflated = len(inflater.decompress(data, max_inflated + 1))
    except zlib.error:
        raise FormatError(f"{name}: not a spaCy DocBin (not zlib-compressed data)") from None
    if inflated > max_inflated:
        raise ItemRejected(f"{name}: decompresses past {max_inflated} bytes")
    if not inflater.eof:
        raise FormatError(f"{name}: not a spaCy DocBin (truncated or empty)")
    try:
        docbin = DocBin(store_user_data=True).from_bytes(data)
        if len(docbin) > MAX_RECORDS:
            raise ItemRejected(f"{name}: {len(docbin)} documents, more than the limit of {MAX_RECORDS}")
        docs = list(docbin.get_docs(Vocab()))
    except ItemRejected:
        raise
    except Exception as exc:  # spaCy raises ValueError, KeyError, AssertionError... on damaged data
        raise FormatError(f"{name}: not a readable spaCy DocBin ({type(exc).__name__})") from None
    if not docs:
        raise ItemRejected(f"{name}: the DocBin holds no documents")
    return [_doc_item(doc, f"{name} document {number}" if len(docs) > 1 else name, number, config or {})
            for number, doc in enumerate(docs, start=1)]


def _doc_item(doc, where: str, number: int, config: dict) -> IngestedItem:
    text = doc.text
    check_note(text, where, config)
    assertions = doc.user_data.get("clinlabel_assertions")
    assertions = assertions if isinstance(assertions, dict) else {}
    spans: list[dict] = []
    by_key: dict[tuple, dict] = {}
    used: set[str] = set()
    groups = [("", doc.ents)] + [(str(key), group) for key, group in doc.spans.items()]
    for group_name, group in groups:
        for span in group:
            label = (span.label_ or group_name or "ENTITY").strip()[:64]
            key = (span.start_char, span.end_char, label)
            found = by_key.get(key)
            if found is None:
                if span.start_char >= span.end_char:
                    continue
                found = by_key[key] = _span(span, label, group_name, len(spans) + 1, used, config)
                assertion = assertions.get(span.id_) if span.id_ else None
                if assertion in ASSERTIONS and found["layer"] == "entity":
                    found["assertion"] = assertion
                spans.append(found)
            if group_name:
                known = found["attributes"].get("span_group", "")
                if group_name not in known.split("|"):
                    found["attributes"]["span_group"] = f"{known}|{group_name}" if known else group_name
            if group_name == "phi":
                found["layer"] = "phi"
                found.pop("assertion", None)
    meta = {"source_format": "spacy", "spacy_doc": number}
    cats = [label for label, score in doc.cats.items() if isinstance(score, (int, float)) and score >= 0.5]
    if cats:
        meta["spacy_cats"] = "|".join(cats)
    item_id = doc.user_data.get("clinlabel_item_id")
    if isinstance(item_id, (int, str)):
        meta["clinlabel_item_id"] = item_id
    payloads = [check_payload({"spans": spans, "relations": []}, text, where)] if spans else []
    return _note(text, where, meta, payloads)


def _span(span, label: str, group_name: str, number: int, used: set[str], config: dict) -> dict:
    wanted = span.id_ if span.id_ and len(span.id_) <= 64 and span.id_ not in used else f"T{number}"
    while wanted in used:
        wanted += "_"
    used.add(wanted)
    out = {"id": wanted, "start": span.start_char, "end": span.end_char, "label": label,
           "layer": layer_of_label(label, config), "attributes": {}}
    kb_id = span.kb_id_
    if kb_id:
        terminology, _, code = kb_id.partition(":")
        if code and terminology and len(terminology) <= 64 and len(code) <= 128 and "/" not in terminology:
            out["concept"] = {"terminology": terminology, "code": code, "name": ""}
        elif _CUI.match(kb_id):
            out["concept"] = {"terminology": "UMLS", "code": kb_id, "name": ""}
        else:
            out["attributes"]["kb_id"] = kb_id[:1000]
    return out
