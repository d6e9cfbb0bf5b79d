"""Writers for the formats of peer tools: PubTator, IOB2 / BIOES (CoNLL-style), doccano JSONL, Prodigy JSONL and
the MedCATtrainer project export (WebAnno TSV3 is in formats_export_webanno). Each writes one item at a time.

Offsets: PubTator, Prodigy and MedCAT count code points (Python indices, as we do). doccano counts UTF-16 code
units: its annotator takes offsets from the browser's selection, where an emoji counts twice (doccano issues #2290,
#2484). WebAnno counts UTF-16 units too (Java), see its module.

What a format cannot carry is listed in CANNOT_CARRY (the round-trip benchmark and tests report against it).
"""
from __future__ import annotations

import bisect
import datetime as dt
import json
import re
from typing import BinaryIO, Callable, Iterable

from .formats_export import _EMPTY, Pairs, _nlp, _provenance

CANNOT_CARRY: dict[str, list[str]] = {
    "pubtator": ["line breaks (written as spaces: lines cannot hold them; offsets are kept)",
                 "assertion", "attributes (discontinuous fragments, notes, others)", "concept names and scores",
                 "relations between mentions (PubTator relations link concept ids, written only where both ends "
                 "have one)", "span and relation ids"],
    "iob2": ["overlapping and nested spans (the longest wins)", "relations", "assertion", "attributes",
             "concept ids", "spans that cover no token (whitespace only)", "the note's whitespace (tokens only)"],
    "webanno": ["assertion", "attributes (discontinuous fragments, notes, others)", "concept candidates, names and "
                "scores (one identifier per span)", "whitespace before the first token", "the final line break "
                "(INCEpTION's reader ends the text with one; ours drops it)", "span ends in whitespace (snapped to "
                "the tokens inside)"],
    "doccano": ["assertion", "attributes (discontinuous fragments, notes, others)", "concept ids"],
    "prodigy": ["assertion", "attributes (discontinuous fragments, notes, others)", "concept ids",
                "span ends in whitespace (snapped to the tokens inside)"],
    "medcat": ["concept terminology (a bare CUI: readers take UMLS, or SNOMED for digits), names and candidates",
               "discontinuous fragments"],
}
CANNOT_CARRY["bioes"] = CANNOT_CARRY["iob2"]

_WHOLE = re.compile(r"\S+")


def _spans(payload: dict | None) -> list[dict]:
    return sorted((payload or _EMPTY)["spans"], key=lambda s: (s["start"], -s["end"]))


def _relations(payload: dict | None) -> list[dict]:
    return list((payload or _EMPTY).get("relations") or [])


# ----------------------------------------------------------------------------------------------- tokenisation
class Tokens:
    """Non-blank tokens of a note: spaCy's tokenizer, cut again at every span boundary so that a span never starts
    or ends inside a token (no snapping, no sub-tokens), plus where a sentence may start (spaCy's sentencizer or a
    line break)."""

    def __init__(self, text: str, cuts: Iterable[int]):
        nlp = _nlp()
        nlp.max_length = max(nlp.max_length, len(text) + 1)  # a project may allow notes past spaCy's default
        doc = nlp(text)
        cuts = sorted(set(cuts))
        self.bounds: list[tuple[int, int]] = []
        for token in doc:
            for part in _WHOLE.finditer(token.text):
                start, end = token.idx + part.start(), token.idx + part.end()
                inner = cuts[bisect.bisect_right(cuts, start):bisect.bisect_left(cuts, end)]
                for a, b in zip([start, *inner], [*inner, end]):
                    self.bounds.append((a, b))
        self.starts = [a for a, _ in self.bounds]
        self.ends = [b for _, b in self.bounds]
        sentence_chars = {sent.start_char for sent in doc.sents}
        self.sentence_start = [i == 0 or a in sentence_chars or "\n" in text[self.ends[i - 1]:a]
                               for i, (a, _) in enumerate(self.bounds)]

    def locate(self, start: int, end: int) -> tuple[int, int] | None:
        """First and last token (inclusive) inside [start, end), or None when the span covers no token."""
        first = bisect.bisect_left(self.starts, start)
        last = bisect.bisect_right(self.ends, end) - 1
        return (first, last) if first <= last else None

    def sentences(self, blocked: Iterable[tuple[int, int]]) -> list[list[int]]:
        """Token indices grouped in sentences; no sentence break falls inside a (first, last) range of `blocked`."""
        no_break = [False] * (len(self.bounds) + 1)
        for first, last in blocked:
            for i in range(first + 1, last + 1):
                no_break[i] = True
        groups: list[list[int]] = []
        for i in range(len(self.bounds)):
            if not groups or (self.sentence_start[i] and not no_break[i]):
                groups.append([])
            groups[-1].append(i)
        return groups


def _cuts(spans: list[dict]) -> list[int]:
    return [x for s in spans for x in (s["start"], s["end"])]


def utf16_offsets(text: str) -> Callable[[int], int]:
    """Python index -> UTF-16 code units (JavaScript and Java strings), one table per text."""
    if all(ord(ch) <= 0xFFFF for ch in text):
        return lambda index: index
    table = [0] * (len(text) + 1)
    for i, ch in enumerate(text):
        table[i + 1] = table[i] + (2 if ord(ch) > 0xFFFF else 1)
    return table.__getitem__


# ---------------------------------------------------------------------------------------------------- PubTator
_LINE_BREAKS = re.compile(r"[\r\n\f\v\x1c-\x1e\x85\u2028\u2029]")
_CELL_BREAKS = re.compile(r"[\t\r\n\f\v\x1c-\x1e\x85\u2028\u2029]")


def _pubtator_title_end(text: str) -> int | None:
    """Where the title stops: PubTator offsets count title + one separator + abstract, so the first line break
    becomes that separator. A title that would end in blanks ends before them instead (readers strip lines, which
    would shift every abstract offset)."""
    match = _LINE_BREAKS.search(text)
    if match is None:
        return None
    cut = match.start()
    while cut > 0 and text[cut - 1].isspace():
        cut -= 1
    return cut


def pubtator_id(concept: dict) -> str:
    terminology, code = concept["terminology"], concept["code"]
    prefix = "MESH" if terminology.lower() == "mesh" else terminology
    return _CELL_BREAKS.sub(" ", f"{prefix}:{code}").replace("|", "/")


def pubtator_document(pmid: str, text: str, payload: dict | None) -> str:
    flat = _LINE_BREAKS.sub(" ", text)
    cut = _pubtator_title_end(text)
    title, abstract = (flat, "") if cut is None else (flat[:cut], flat[cut + 1:])
    lines = [f"{pmid}|t|{title}", f"{pmid}|a|{abstract}"]
    ids: dict[str, str] = {}
    for span in _spans(payload):
        concepts = ([span["concept"]] if span.get("concept") else []) + list(span.get("candidates") or [])
        column = "|".join(pubtator_id(c) for c in concepts) or "-"  # an empty last column would be stripped away
        ids[span["id"]] = column.split("|")[0]
        mention = _CELL_BREAKS.sub(" ", text[span["start"]:span["end"]])
        lines.append(f"{pmid}\t{span['start']}\t{span['end']}\t{mention}\t{_CELL_BREAKS.sub(' ', span['label'])}\t"
                     f"{column}")
    for relation in _relations(payload):
        head, tail = ids.get(relation["head"], "-"), ids.get(relation["tail"], "-")
        if head != "-" and tail != "-":
            lines.append(f"{pmid}\t{_CELL_BREAKS.sub(' ', relation['type'])}\t{head}\t{tail}")
    return "\n".join(lines) + "\n\n"


def write_pubtator(pairs: Pairs, config: dict, out: BinaryIO) -> None:
    """PubTator: `PMID|t|title`, `PMID|a|abstract`, one tab-separated line per mention (start, end, text, label,
    ids joined by |, or - for none), then `PMID<TAB>type<TAB>id1<TAB>id2` relation lines. The item id is the PMID."""
    for item, payload in pairs:
        out.write(pubtator_document(str(item.id), item.text or "", payload).encode("utf-8"))


# ------------------------------------------------------------------------------------------------ IOB2 / BIOES
def iob_sentences(text: str, payload: dict | None, scheme: str = "iob2") -> tuple[list[list[tuple[str, str]]], int]:
    """Sentences of (token, tag) and the number of spans left out: overlapping spans cannot be tagged, so the
    longest (then the earliest) wins, as spaCy's filter_spans decides."""
    spans = _spans(payload)
    tokens = Tokens(text, _cuts(spans))
    located = [(loc, span) for span in spans if (loc := tokens.locate(span["start"], span["end"]))]
    taken = [False] * len(tokens.bounds)
    kept = []
    for (first, last), span in sorted(located, key=lambda x: (x[0][0] - x[0][1], x[0][0])):
        if not any(taken[first:last + 1]):
            taken[first:last + 1] = [True] * (last - first + 1)
            kept.append((first, last, re.sub(r"\s", "_", span["label"])))
    tags = ["O"] * len(tokens.bounds)
    for first, last, label in kept:
        for i in range(first, last + 1):
            if scheme == "bioes":
                prefix = "S" if first == last else "B" if i == first else "E" if i == last else "I"
            else:
                prefix = "B" if i == first else "I"
            tags[i] = f"{prefix}-{label}"
    sentences = [[(text[tokens.starts[i]:tokens.ends[i]], tags[i]) for i in group]
                 for group in tokens.sentences((first, last) for first, last, _ in kept)]
    return sentences, len(spans) - len(kept)


def make_iob_writer(scheme: str) -> Callable:
    def write(pairs: Pairs, config: dict, out: BinaryIO) -> None:
        """`token TAG` per line, a blank line between sentences, `-DOCSTART- O` before each note."""
        for item, payload in pairs:
            lines = ["-DOCSTART- O", ""]
            for sentence in iob_sentences(item.text or "", payload, scheme)[0]:
                lines.extend(f"{token} {tag}" for token, tag in sentence)
                lines.append("")
            out.write(("\n".join(lines) + "\n").encode("utf-8"))
    return write


# ----------------------------------------------------------------------------------------------------- doccano
def doccano_record(item, payload: dict | None) -> dict:
    """doccano's sequence-labeling-with-relations JSONL: integer entity and relation ids, UTF-16 offsets."""
    numbers: dict[str, int] = {}
    entities = []
    utf16 = utf16_offsets(item.text or "")
    for number, span in enumerate(_spans(payload), start=1):
        numbers[span["id"]] = number
        entities.append({"id": number, "label": span["label"], "start_offset": utf16(span["start"]),
                         "end_offset": utf16(span["end"])})
    relations = [{"id": number, "from_id": numbers[r["head"]], "to_id": numbers[r["tail"]], "type": r["type"]}
                 for number, r in enumerate(_relations(payload), start=1)
                 if r["head"] in numbers and r["tail"] in numbers]
    return {"id": item.id, "text": item.text or "", "entities": entities, "relations": relations, "Comments": []}


def write_doccano(pairs: Pairs, config: dict, out: BinaryIO) -> None:
    for item, payload in pairs:
        out.write((json.dumps(doccano_record(item, payload), ensure_ascii=False) + "\n").encode("utf-8"))


# ----------------------------------------------------------------------------------------------------- Prodigy
def prodigy_task(item, payload: dict | None) -> dict:
    """A Prodigy task as `spans.manual` / `rel.manual` save it: tokens (with `ws`, whitespace runs as tokens of
    their own, so that the tokens rebuild the text), spans with inclusive token_end, relations whose head and child
    are the last token of their span, and "answer": "accept"."""
    text = item.text or ""
    spans = _spans(payload)
    tokens = Tokens(text, _cuts(spans))
    records, index_of = [], {}
    cursor = 0
    for start, end in tokens.bounds:
        gap = text[cursor:start]
        if gap:
            if records and gap[0] == " ":
                records[-1]["ws"], gap = True, gap[1:]
            if gap:
                records.append({"text": gap, "start": start - len(gap), "end": start,
                                "id": len(records), "ws": False})
        index_of[start] = len(records)
        records.append({"text": text[start:end], "start": start, "end": end, "id": len(records), "ws": False})
        cursor = end
    if cursor < len(text):
        gap = text[cursor:]
        if records and gap[0] == " ":
            records[-1]["ws"], gap = True, gap[1:]
        if gap:
            records.append({"text": gap, "start": len(text) - len(gap), "end": len(text), "id": len(records),
                            "ws": False})
    out_spans, by_id = [], {}
    for span in spans:
        located = tokens.locate(span["start"], span["end"])
        if located is None:
            continue
        first, last = located
        record = {"start": tokens.starts[first], "end": tokens.ends[last],
                  "token_start": index_of[tokens.starts[first]], "token_end": index_of[tokens.starts[last]],
                  "label": span["label"]}
        out_spans.append(record)
        by_id[span["id"]] = record
    relations = [{"head": by_id[r["head"]]["token_end"], "child": by_id[r["tail"]]["token_end"],
                  "head_span": by_id[r["head"]], "child_span": by_id[r["tail"]], "label": r["type"]}
                 for r in _relations(payload) if r["head"] in by_id and r["tail"] in by_id]
    return {"text": text, "tokens": records, "spans": out_spans, "relations": relations, "answer": "accept",
            "meta": {"clinlabel_item_id": item.id}}


def write_prodigy(pairs: Pairs, config: dict, out: BinaryIO) -> None:
    for item, payload in pairs:
        out.write((json.dumps(prodigy_task(item, payload), ensure_ascii=False) + "\n").encode("utf-8"))


# ------------------------------------------------------------------------------------------------------ MedCAT
# Our assertions as MedCAT meta-annotation (task, value): the tasks and values of MedCAT's published meta models,
# plus "Possible" (meta tasks are defined per project; the export declares every value it uses in meta_anno_defs).
MEDCAT_ASSERTIONS = {"present": ("Presence", "True"), "negated": ("Presence", "False"),
                     "hypothetical": ("Presence", "Hypothetical"), "possible": ("Presence", "Possible"),
                     "historical": ("Temporality", "Past"), "family": ("Experiencer", "Family")}
_NOT_META = ("note", "fragments")


def write_medcat(pairs: Pairs, config: dict, out: BinaryIO) -> None:
    """A MedCATtrainer project export ("download" with text): one project, one document per note, annotations with
    cui (the concept code; the label where a span has no concept), value, start, end and the review flags, our
    assertion and attributes as meta_anns (keyed by task name, as MedCATtrainer writes them), notes as comment, and
    document relations. The label rides in `types` (as in MedCAT's entity output; MedCATtrainer and MedCAT's
    training ignore keys they do not know). Streamed: meta_anno_defs, known only at the end, are written last."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    out.write(b'{"projects": [{"name": "Clinlabel export", "id": 1, "cuis": "", "documents": [')
    tasks: dict[str, set[str]] = {}
    relation_types: set[str] = set()
    number = 0
    for index, (item, payload) in enumerate(pairs):
        text = item.text or ""
        provenance = _provenance(item)
        user = str(provenance.get("by") or provenance.get("model_version") or provenance.get("origin") or "clinlabel")
        by_people = provenance.get("origin") not in ("model", "import")
        annotations, numbers = [], {}
        for span in _spans(payload):
            number += 1
            numbers[span["id"]] = number
            meta = {}
            if span.get("assertion") in MEDCAT_ASSERTIONS:
                task, value = MEDCAT_ASSERTIONS[span["assertion"]]
                meta[task] = value
            meta.update({k: v for k, v in (span.get("attributes") or {}).items() if k not in _NOT_META})
            for task, value in meta.items():
                tasks.setdefault(task, set()).add(value)
            concept = span.get("concept") or {}
            annotation = {
                "id": number, "user": user, "cui": concept.get("code") or span["label"], "types": [span["label"]],
                "value": text[span["start"]:span["end"]], "start": span["start"], "end": span["end"],
                "validated": bool(by_people or provenance.get("reviewed")), "correct": True, "deleted": False,
                "alternative": False, "killed": False, "irrelevant": False, "create_time": now, "last_modified": now,
                "manually_created": by_people, "acc": float(span.get("score", 1.0)),
                "meta_anns": {task: {"name": task, "value": value, "acc": 1.0, "validated": True}
                              for task, value in meta.items()}}
            if (span.get("attributes") or {}).get("note"):
                annotation["comment"] = span["attributes"]["note"]
            annotations.append(annotation)
        by_number = {a["id"]: a for a in annotations}
        relations = []
        for relation in _relations(payload):
            if relation["head"] not in numbers or relation["tail"] not in numbers:
                continue
            head, tail = by_number[numbers[relation["head"]]], by_number[numbers[relation["tail"]]]
            relation_types.add(relation["type"])
            relations.append({
                "start_entity": head["id"], "start_entity_cui": head["cui"], "start_entity_value": head["value"],
                "start_entity_start_idx": head["start"], "start_entity_end_idx": head["end"],
                "end_entity": tail["id"], "end_entity_cui": tail["cui"], "end_entity_value": tail["value"],
                "end_entity_start_idx": tail["start"], "end_entity_end_idx": tail["end"],
                "user": user, "relation": relation["type"], "validated": True})
        document = {"id": item.id, "name": getattr(item, "name", "") or str(item.id), "text": text,
                    "last_modified": now, "annotations": annotations, "relations": relations}
        out.write((", " if index else "").encode() + json.dumps(document, ensure_ascii=False).encode("utf-8"))
    tail = {"meta_anno_defs": [{"name": t, "values": sorted(v)} for t, v in sorted(tasks.items())],
            "relation_anno_defs": sorted(relation_types)}
    out.write(b"], " + json.dumps(tail, ensure_ascii=False)[1:].encode("utf-8") + b"]}")
