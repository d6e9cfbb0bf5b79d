"""A note's own abbreviation definitions ("non-ST elevation myocardial infarction (NSTEMI)"): the Schwartz & Hearst
(2003) test of a short form against its long form, and the spans a definition gives the short form's later
occurrences. Shared by the entity pipeline (preannotate.py) and the abbreviation senses (abbrev_senses.py)."""
from __future__ import annotations

import re

# "(NSTEMI)", and as Schwartz & Hearst allow, a short form first in a list: "(HEM, n = 7)"
_SHORT_FORM = re.compile(r"[ \t]*\([ \t]*([A-Za-z][A-Za-z0-9/\-]{1,9})[ \t]*(?:[,;][^()\n]{0,40})?\)")


def abbreviates(short: str, long: str) -> bool:
    """Schwartz & Hearst (2003): the short form's letters and digits occur in order in the long form, its first one
    at the start of a word of the long form. The short form has a capital and is shorter than the long form."""
    chars = [c.lower() for c in short if c.isalnum()]
    if len(chars) < 2 or not any(c.isupper() for c in short) or len(short) >= len(long):
        return False
    text = long.lower()
    li = len(text) - 1
    for si in range(len(chars) - 1, -1, -1):
        while li >= 0 and (text[li] != chars[si] or (si == 0 and li > 0 and text[li - 1].isalnum())):
            li -= 1
        if li < 0:
            return False
        li -= 1
    return True


def long_form_before(window: str, short: str) -> bool:
    """Whether the words just before a parenthesised `short` (the end of `window`) are a long form it abbreviates,
    within the window Schwartz & Hearst allow: min(|A| + 5, 2|A|) words."""
    words = list(re.finditer(r"[A-Za-z0-9]+", window))[-min(len(short) + 5, 2 * len(short)):]
    return any(abbreviates(short, window[w.start():]) for w in words)


def _long_form(text: str, short: str, entity: dict) -> bool:
    """Whether `short` abbreviates the entity, or the entity with up to a few words before it ("levodopa-induced
    dyskinesia (LID)" where the entity is "dyskinesia"): the window Schwartz & Hearst allow, min(|A| + 5, 2|A|)."""
    if abbreviates(short, entity["text"]):
        return True
    words = list(re.finditer(r"[A-Za-z0-9]+", text[max(0, entity["start"] - 120):entity["start"]]))
    base = max(0, entity["start"] - 120)
    for n in range(1, min(len(short) + 5, 2 * len(short)) + 1):
        if n > len(words):
            return False
        if abbreviates(short, text[base + words[-n].start():entity["end"]]):
            return True
    return False


def _table_sense(span: dict, short: str) -> bool:
    """A span that is `short` matched through the abbreviation table (no concept of its own)."""
    return span["text"] == short and span.get("concept") is None and \
        span.get("attributes", {}).get("source") == "terminology"


def defined_abbreviations(text: str, entities: list[dict], id_prefix: str = "d") -> tuple[list[dict], dict, set]:
    """Notes define abbreviations of their own ("non-ST elevation myocardial infarction (NSTEMI)"): the short form in
    the parentheses and its later occurrences (same case, whole word) are spans of the long form's label and
    concept, where they overlap no other span. The document's own definition outranks the abbreviation table: a
    short form defined here replaces its table-sense spans, and one defined as something no vocabulary names
    ("cyclophosphamide (CP)" with an unknown long form) drops them. Returns the new spans, {span id: long form} for
    linking, and the ids of the table-sense spans to drop."""
    spans: list[dict] = []
    long_forms: dict[str, str] = {}
    drop: set = set()
    ends = {s["end"]: s for s in entities if s.get("layer", "entity") == "entity"}
    for m in _SHORT_FORM.finditer(text):
        short, entity = m.group(1), ends.get(m.start())
        if entity is None or entity["text"] == short or not _long_form(text, short, entity):
            entity = None
            if not long_form_before(text[max(0, m.start() - 120):m.start()], short):
                continue  # not a definition: "(n=12)", "(see above)"
        drop.update(s["id"] for s in entities if _table_sense(s, short) and s["start"] >= m.start(1))
        if entity is None:
            continue
        taken = [(s["start"], s["end"]) for s in entities + spans if s["id"] not in drop]
        for occurrence in re.finditer(rf"(?<![\w-]){re.escape(short)}(?![\w-])", text[m.start(1):]):
            start, end = m.start(1) + occurrence.start(), m.start(1) + occurrence.end()
            if any(a < end and start < b for a, b in taken):
                continue
            span = {"id": f"{id_prefix}{len(spans) + 1}", "start": start, "end": end, "label": entity["label"],
                    "layer": "entity", "text": short, "concept": entity.get("concept"),
                    "candidates": list(entity.get("candidates") or []), "attributes": {"source": "abbreviation"}}
            spans.append(span)
            taken.append((start, end))
            long_forms[span["id"]] = entity["text"]
    return spans, long_forms, drop
