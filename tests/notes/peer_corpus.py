"""The round-trip corpus for the peers' formats (tests/notes/test_notes_export_peers.py, benchmarks/bench_roundtrip.py)
and the loss count of one export read back by our importer.

Four notes: overlapping, crossing, nested and discontinuous spans (attributes["fragments"]), relations, attributes
(a note, a multi-valued one), assertions, concept ids with candidates (MeSH, OMIM, UMLS, RxNorm, ICD-10-CM), PHI
spans, CRLF and tab, accents, CJK (a span inside a run of ideographs: no spaces to tokenise on), emoji (astral
characters: two UTF-16 units each; a ZWJ sequence), and one note without annotations.
"""
from __future__ import annotations

import io
from collections import Counter

from annotators.base import ItemInput, ItemView

NOTE_1 = ("Mrs Jane Doe, 67, seen on 03/04/2024 for chest and abdominal pain.\r\n"
          "History:\ttype 2 diabetes mellitus (on metformin 500 mg twice daily); left lower lobe pneumonia in 2019.\n"
          "No fever. Mother had breast cancer.\n")
NOTE_2 = ("Patiente : Hélène Dupré \U0001F469\u200D\u2695\uFE0F vue le 5 mars.\n"
          "Diagnostic : 糖尿病 (diabète) \U0001F637 fièvre \U0001F912 négative ; tête : céphalées sévères.\n")
NOTE_3 = "患者は頭痛を訴えた。発熱なし。"
NOTE_4 = "Follow-up in 2 weeks, no changes."


def _span(text: str, sid: str, phrase: str, label: str, layer: str = "entity", nth: int = 0, **extra) -> dict:
    start = -1
    for _ in range(nth + 1):
        start = text.index(phrase, start + 1)
    return {"id": sid, "start": start, "end": start + len(phrase), "label": label, "layer": layer, "text": phrase,
            **extra}


def _concept(terminology: str, code: str, name: str = "") -> dict:
    return {"terminology": terminology, "code": code, "name": name}


def _discontinuous(text: str, sid: str, first: str, second: str, label: str, **extra) -> dict:
    a = text.index(first)
    b = text.index(second, a + len(first))
    return {"id": sid, "start": a, "end": b + len(second), "label": label, "layer": "entity",
            "text": text[a:b + len(second)],
            "attributes": {"fragments": f"{a} {a + len(first)};{b} {b + len(second)}"}, **extra}


def corpus() -> list[tuple[ItemView, dict | None]]:
    t1, t2, t3 = NOTE_1, NOTE_2, NOTE_3
    payload_1 = {
        "spans": [
            _span(t1, "p1", "Jane Doe", "NAME", "phi"),
            _span(t1, "p2", "03/04/2024", "DATE", "phi"),
            _discontinuous(t1, "s1", "chest", "pain", "PROBLEM", assertion="present"),
            _span(t1, "s2", "abdominal pain", "PROBLEM"),  # inside s1's extent
            _span(t1, "s3", "type 2 diabetes mellitus", "PROBLEM",
                  concept=_concept("MeSH", "D003924", "Diabetes Mellitus, Type 2"),
                  candidates=[{**_concept("UMLS", "C0011860"), "score": 0.8}],
                  attributes={"severity": "moderate"}),
            _span(t1, "s4", "diabetes mellitus", "PROBLEM", concept=_concept("MeSH", "D003920"),
                  candidates=[_concept("OMIM", "222100")]),  # nested in s3
            _span(t1, "s5", "metformin", "MEDICATION", concept=_concept("RxNorm", "6809", "metformin"),
                  attributes={"note": "from the pharmacy list; checked"}),
            _span(t1, "s6", "500 mg", "DOSAGE"),
            _span(t1, "s7", "twice daily", "FREQUENCY"),
            _span(t1, "s8", "left lower lobe", "ANATOMY"),
            _span(t1, "s9", "lower lobe pneumonia", "PROBLEM", assertion="historical",  # crosses s8
                  concept=_concept("icd10cm", "J18.9", "Pneumonia, unspecified organism")),
            _span(t1, "s10", "fever", "PROBLEM", assertion="negated"),
            _span(t1, "s11", "breast cancer", "PROBLEM", assertion="family", concept=_concept("UMLS", "C0006142"),
                  attributes={"relative": "mother|aunt"}),
        ],
        "relations": [
            {"id": "r1", "type": "dosage", "head": "s5", "tail": "s6"},
            {"id": "r2", "type": "frequency", "head": "s5", "tail": "s7"},
            {"id": "r3", "type": "location", "head": "s9", "tail": "s8"},
            {"id": "r4", "type": "treats", "head": "s5", "tail": "s3"},  # both ends linked: PubTator can say it
        ],
    }
    payload_2 = {
        "spans": [
            _span(t2, "p1", "Hélène Dupré", "NAME", "phi"),
            _span(t2, "p2", "5 mars", "DATE", "phi"),
            _span(t2, "e1", "糖尿病", "PROBLEM", concept=_concept("MeSH", "D003920", "Diabetes Mellitus")),
            _span(t2, "e2", "diabète", "PROBLEM", assertion="possible"),
            _span(t2, "e3", "fièvre", "PROBLEM", assertion="negated"),
            _span(t2, "e4", "\U0001F912", "PROBLEM"),
            _span(t2, "e5", "tête", "ANATOMY"),
            _span(t2, "e6", "céphalées sévères", "PROBLEM", assertion="hypothetical", attributes={"grade": "2"}),
        ],
        "relations": [{"id": "r1", "type": "location", "head": "e6", "tail": "e5"}],
    }
    payload_3 = {
        "spans": [_span(t3, "c1", "頭痛", "PROBLEM", concept=_concept("MeSH", "D006261", "Headache")),
                  _span(t3, "c2", "発熱", "PROBLEM", assertion="negated")],
        "relations": [],
    }
    return [
        (ItemView(id=101, kind="note", text=t1, meta={"ward": "5B"}, name="note-1.txt"), payload_1),
        (ItemView(id=102, kind="note", text=t2, meta={}, name="note-2.txt"), payload_2),
        (ItemView(id=103, kind="note", text=t3, meta={}), payload_3),
        (ItemView(id=104, kind="note", text=NOTE_4, meta={}), None),
    ]


def export(fmt: str, pairs=None, config: dict | None = None) -> bytes:
    from annotators.notes.formats_export import exporters
    from annotators.notes.schema import default_label_config

    buffer = io.BytesIO()
    exporters()[fmt].write(pairs or corpus(), config or default_label_config(), buffer)
    return buffer.getvalue()


def read_back(fmt: str, data: bytes, config: dict | None = None) -> list:
    """Our importer, as an upload of the exported file (name from the exporter's extension; WebAnno's is a zip of
    one .tsv per note, read as a whole like INCEpTION's own exports)."""
    from annotators.notes import formats
    from annotators.notes.formats_export import exporters
    from annotators.notes.schema import default_label_config

    config = config or default_label_config()
    return formats.ingest(ItemInput(name="export" + exporters()[fmt].extension, data=data), config)


# ------------------------------------------------------------------------------------------------- loss count
def _solid(text: str) -> list[int]:
    """Index of each character among the non-blank ones (-1 for blanks)."""
    out, n = [], 0
    for ch in text:
        out.append(-1 if ch.isspace() else n)
        n += 0 if ch.isspace() else 1
    return out


def _mapper(original: str, reread: str):
    """Span extents comparable across the two texts: offsets when the texts are equal, else (when only the
    whitespace differs) positions among non-blank characters; None when the texts differ otherwise."""
    if original == reread:
        return lambda s, e: (s, e)
    if "".join(original.split()) != "".join(reread.split()):
        return None

    def key(text):
        solid = _solid(text)

        def extent(s, e):
            inside = [solid[i] for i in range(s, e) if solid[i] >= 0]
            return (inside[0], inside[-1] + 1) if inside else (None, None)
        return extent
    return key(original), key(reread)


def _concepts(span: dict) -> list[tuple[str, str]]:
    found = [span["concept"]] if span.get("concept") else []
    return [(c["terminology"].casefold(), c["code"]) for c in found + list(span.get("candidates") or [])]


def _facts(span: dict) -> list[tuple[str, str]]:
    facts = [("assertion", span["assertion"])] if span.get("assertion") else []
    return facts + sorted((span.get("attributes") or {}).items())


def loss(pairs, items) -> dict:
    """What the round trip lost: spans (extent + label), relations (type + both ends), attributes (assertion and
    attribute key=value pairs of the spans that came back) and concept ids (primary and candidates, terminology
    compared case-insensitively) — with a count per kind of attribute, and how the text came back."""
    totals = Counter()
    lost = Counter()
    detail = Counter()
    text_state = Counter()
    if len(items) != len(pairs):
        return {"error": f"{len(items)} notes read back for {len(pairs)} exported"}
    for (item, payload), back in zip(pairs, items):
        spans = (payload or {"spans": []})["spans"]
        relations = (payload or {}).get("relations") or []
        reread = back.annotations[0] if back.annotations else {"spans": [], "relations": []}
        mapping = _mapper(item.text, back.text)
        text_state["exact" if item.text == back.text else "whitespace differs" if mapping else "differs"] += 1
        totals.update(spans=len(spans), relations=len(relations),
                      attributes=sum(len(_facts(s)) for s in spans), concepts=sum(len(_concepts(s)) for s in spans))
        if mapping is None:
            lost.update(spans=len(spans), relations=len(relations),
                        attributes=sum(len(_facts(s)) for s in spans), concepts=sum(len(_concepts(s)) for s in spans))
            continue
        ours, theirs = (mapping, mapping) if callable(mapping) else mapping
        available: dict[tuple, list[dict]] = {}
        for span in reread["spans"]:
            available.setdefault((*theirs(span["start"], span["end"]), span["label"]), []).append(span)
        match: dict[str, dict] = {}
        for span in spans:
            candidates = available.get((*ours(span["start"], span["end"]), span["label"])) or []
            # among equal extents, the one carrying the most of this span's facts
            best = max(candidates, default=None,
                       key=lambda c: len(set(_facts(span)) & set(_facts(c))) + len(set(_concepts(span)) & set(_concepts(c))))
            if best is None:
                lost["spans"] += 1
                lost["attributes"] += len(_facts(span))
                lost["concepts"] += len(_concepts(span))
                continue
            candidates.remove(best)
            match[span["id"]] = best
            for fact in set(_facts(span)) - set(_facts(best)):
                lost["attributes"] += 1
                detail[fact[0]] += 1
            missing = set(_concepts(span)) - set(_concepts(best))
            lost["concepts"] += len(missing)
        back_relations = Counter((r["type"], r["head"], r["tail"]) for r in reread.get("relations") or [])
        for relation in relations:
            head, tail = match.get(relation["head"]), match.get(relation["tail"])
            key = (relation["type"], head and head["id"], tail and tail["id"])
            if head and tail and back_relations[key] > 0:
                back_relations[key] -= 1
            else:
                lost["relations"] += 1
    return {"lost": {k: lost[k] for k in ("spans", "relations", "attributes", "concepts")},
            "of": {k: totals[k] for k in ("spans", "relations", "attributes", "concepts")},
            "attributes_lost_by_name": dict(sorted(detail.items())), "text": dict(text_state)}
