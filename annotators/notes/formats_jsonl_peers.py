"""JSONL records written by doccano and by Prodigy, read next to our own records (formats_import.read_jsonl routes
each line by its shape with `peer_reader`).

doccano (export and import files of its sequence-labeling, relation and intent projects):
- entities as `"label": [[start, end, "LOC"], ...]` (also `"entities"` in that form), or as
  `"entities": [{"id", "start_offset", "end_offset", "label"}]` with `"relations": [{"id", "from_id", "to_id",
  "type"}]`; strings in `label`/`labels` and the `cats` list are document categories, kept in
  meta["doccano_cats"] joined by "|".
- Offsets are UTF-16 code units: doccano's annotator (v-annotator) takes them from the browser's selection, where
  JavaScript counts a character outside the BMP (an emoji) twice. Texts without such characters are unaffected.
Prodigy (`prodigy db-out`):
- `spans` with character offsets (code points, Prodigy is Python) or only token ids (`token_start`/`token_end`,
  the end inclusive) into `tokens`; `relations` with `head_span`/`child_span` (or token ids `head`/`child`);
- only `answer: "accept"` carries annotations; a rejected or ignored example keeps its note without a payload and
  says so in meta["prodigy_answer"]. Examples of one input (`_input_hash`, e.g. the many binary decisions of
  ner.teach) become one note: `merge_prodigy` joins their accepted spans, one payload per annotator session.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from typing import Callable

from annotators.base import FormatError, IngestedItem

from .formats_import import _note, check_note, check_payload
from .schema import layer_of_label

MAX_SPANS = 100_000  # the payload schema's limit; a longer list is refused before it is walked
_PRODIGY_KEYS = ("answer", "_input_hash", "_task_hash", "_view_id", "tokens")
# A record holding none of these keys is none of the peers' (the checks below all need one of them).
_PEER_KEYS = frozenset({"spans", *_PRODIGY_KEYS, "entities", "cats", "label", "labels", "relations"})


class Utf16Offsets:
    """UTF-16 code-unit offsets -> Python indices for one text; bisect over the positions of astral characters."""

    def __init__(self, text: str):
        self.length = len(text)
        self.astral: list[int] = []
        if any(ord(ch) > 0xFFFF for ch in text):
            units = 0
            for ch in text:
                if ord(ch) > 0xFFFF:
                    self.astral.append(units)
                    units += 2
                else:
                    units += 1
        self.units = self.length + len(self.astral)

    def index(self, units: int) -> int | None:
        """None when the offset is outside the text or inside a surrogate pair."""
        if not 0 <= units <= self.units:
            return None
        before = bisect_left(self.astral, units)
        if before and self.astral[before - 1] == units - 1:
            return None
        return units - before


def peer_reader(record: dict) -> Callable[[dict, str, dict | None], IngestedItem] | None:
    """The reader of a doccano or Prodigy record; None for our own records (payload, or spans with layers)."""
    if "payload" in record or record.keys().isdisjoint(_PEER_KEYS):  # most records: text, name, meta
        return None
    spans = record.get("spans")
    if isinstance(spans, list) and all(isinstance(s, dict) and "layer" in s for s in spans):
        spans = None  # ours (an empty list included)
    if spans is not None or any(key in record for key in _PRODIGY_KEYS):
        return read_prodigy_record
    if "entities" in record or "cats" in record or any(
            isinstance(record.get(key), (list, dict)) for key in ("label", "labels")) or (
            isinstance(record.get("relations"), list) and any(
                isinstance(r, dict) and "from_id" in r for r in record["relations"])):
        return read_doccano_record
    return None


def _scalars(record: dict, skip: set[str]) -> dict:
    meta = {}
    if isinstance(record.get("meta"), dict):
        meta.update({k: v for k, v in record["meta"].items() if isinstance(v, (str, int, float, bool))})
    meta.update({k: v for k, v in record.items()
                 if k not in skip and not k.startswith("_") and isinstance(v, (str, int, float, bool))})
    return meta


def _text(record: dict, where: str, config: dict | None) -> str:
    text = record.get("text")
    if not isinstance(text, str):
        raise FormatError(f"{where}: no 'text' field (a string) in the record")
    return check_note(text, where, config)


def _offset(value, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise FormatError(f"{where}: offset {str(value)[:20]!r} is not an integer")
    return value


def _label(value, where: str) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
        raise FormatError(f"{where}: the label is missing or not a string")
    return str(value).strip()[:64]


def _unique(wanted: str, used: set[str], fallback: str) -> str:
    sid = wanted if wanted and len(wanted) <= 64 and wanted not in used else fallback
    while sid in used:
        sid += "_"
    used.add(sid)
    return sid


# ----------------------------------------------------------------------------------------------------- doccano
def read_doccano_record(record: dict, where: str, config: dict | None) -> IngestedItem:
    text = _text(record, where, config)
    offsets = Utf16Offsets(text)
    spans, by_entity, seen, used, cats = [], {}, {}, set(), []
    for key in ("entities", "label", "labels"):
        entries = record.get(key)
        if entries is None or (key != "entities" and isinstance(entries, str)):
            cats += [entries] if isinstance(entries, str) else []
            continue
        if not isinstance(entries, list):
            raise FormatError(f"{where}: '{key}' is not a list")
        if len(entries) > MAX_SPANS:
            raise FormatError(f"{where}: '{key}' holds {len(entries)} entries, more than {MAX_SPANS}")
        for number, entry in enumerate(entries, start=1):
            at = f"{where} {key}[{number}]"
            if isinstance(entry, str) and key != "entities":
                cats.append(entry)
                continue
            if isinstance(entry, list) and len(entry) == 3:
                (start, end, label), ident = entry, None
            elif isinstance(entry, dict):
                start, end, label = entry.get("start_offset"), entry.get("end_offset"), entry.get("label")
                ident = entry.get("id")
            else:
                raise FormatError(f"{at}: expected [start, end, label] or an object with start_offset, "
                                  "end_offset and label")
            first, last = offsets.index(_offset(start, at)), offsets.index(_offset(end, at))
            if first is None or last is None or first >= last:
                raise FormatError(f"{at}: offsets {start}-{end} are outside the text ({offsets.units} UTF-16 "
                                  "units) or empty")
            label = _label(label, at)
            sid = seen.get((first, last, label))
            if sid is None:
                sid = _unique(str(ident) if ident is not None else "", used, f"T{len(spans) + 1}")
                seen[(first, last, label)] = sid
                spans.append({"id": sid, "start": first, "end": last, "label": label,
                              "layer": layer_of_label(label, config or {})})
            if isinstance(ident, (str, int)):
                by_entity[ident] = sid
    relations = []
    for number, relation in enumerate(record.get("relations") or [], start=1):
        at = f"{where} relations[{number}]"
        if not isinstance(relation, dict):
            raise FormatError(f"{at}: expected an object with from_id, to_id and type")
        head, tail = (by_entity.get(relation.get(k)) if isinstance(relation.get(k), (str, int)) else None
                      for k in ("from_id", "to_id"))
        if head is None or tail is None:
            raise FormatError(f"{at}: from_id/to_id point at an entity that is not in the record")
        rid = _unique(f"R{relation['id']}" if isinstance(relation.get("id"), (str, int)) else "", used, f"R{number}")
        relations.append({"id": rid, "type": _label(relation.get("type"), at), "head": head, "tail": tail})
    cats += _categories(record.get("cats"), where)
    meta = {"source_format": "doccano", **_scalars(record, {"text", "label", "labels", "cats"})}
    if cats:
        meta["doccano_cats"] = "|".join(dict.fromkeys(str(c) for c in cats))
    payloads = [check_payload({"spans": spans, "relations": relations}, text, where)] if spans else []
    return _note(text, str(record.get("name") or record.get("id") or where), meta, payloads)


def _categories(cats, where: str) -> list[str]:
    if cats is None:
        return []
    if isinstance(cats, dict):  # spaCy-style {"label": score}
        return [str(k) for k, v in cats.items() if isinstance(v, (int, float)) and v >= 0.5]
    if isinstance(cats, list) and all(isinstance(c, (str, int)) for c in cats):
        return [str(c) for c in cats]
    raise FormatError(f"{where}: 'cats' is neither a list of labels nor an object of scores")


# ----------------------------------------------------------------------------------------------------- Prodigy
def read_prodigy_record(record: dict, where: str, config: dict | None) -> IngestedItem:
    text = _text(record, where, config)
    answer = record.get("answer")
    meta = {"source_format": "prodigy", **_scalars(record, {"text", "answer"})}
    if answer is not None:
        meta["prodigy_answer"] = str(answer)[:64]
    for key in ("_input_hash", "_session_id"):
        if isinstance(record.get(key), (str, int)):
            meta[f"prodigy{key}"] = record[key]
    name = str(record.get("name") or record.get("id") or where)
    if answer not in (None, "accept"):
        return _note(text, name, meta)
    tokens = _tokens(record.get("tokens"), where)
    spans: list[dict] = []
    by_extent: dict[tuple[int, int], list[dict]] = {}

    def add_span(entry, at: str, default_label: str | None = None) -> dict:
        if not isinstance(entry, dict):
            raise FormatError(f"{at}: a span must be an object")
        start, end = entry.get("start"), entry.get("end")
        if start is None or end is None:
            first, last = _token(tokens, entry.get("token_start"), at), _token(tokens, entry.get("token_end"), at)
            start, end = first[0], last[1]
        elif tokens and "token_start" in entry:
            _token(tokens, entry.get("token_start"), at), _token(tokens, entry.get("token_end"), at)
        start, end = _offset(start, at), _offset(end, at)
        if not 0 <= start < end <= len(text):
            raise FormatError(f"{at}: offsets {start}-{end} are outside the text ({len(text)} characters) or empty")
        if isinstance(entry.get("text"), str) and entry["text"] != text[start:end]:
            raise FormatError(f"{at}: span text does not match the record's text at {start}-{end}")
        raw_label = entry.get("label")
        label = _label(raw_label if raw_label is not None else default_label, at)
        same = [s for s in by_extent.get((start, end), ()) if s["label"] == label or raw_label is None]
        if same:
            return same[0]
        if len(spans) >= MAX_SPANS:
            raise FormatError(f"{where}: more than {MAX_SPANS} spans")
        span = {"id": f"T{len(spans) + 1}", "start": start, "end": end, "label": label,
                "layer": layer_of_label(label, config or {})}
        spans.append(span)
        by_extent.setdefault((start, end), []).append(span)
        return span

    for number, entry in enumerate(_list(record, "spans", where), start=1):
        add_span(entry, f"{where} spans[{number}]")
    relations = []
    for number, relation in enumerate(_list(record, "relations", where), start=1):
        at = f"{where} relations[{number}]"
        if not isinstance(relation, dict):
            raise FormatError(f"{at}: a relation must be an object")
        ends = []
        for side, token_key in (("head_span", "head"), ("child_span", "child")):
            entry = relation.get(side)
            if entry is None:
                token = _token(tokens, relation.get(token_key), at)
                entry = {"start": token[0], "end": token[1]}
            ends.append(add_span(entry, f"{at} {side}", "TOKEN"))
        relations.append({"id": f"R{number}", "type": _label(relation.get("label"), at), "head": ends[0]["id"],
                          "tail": ends[1]["id"]})
    payloads = [check_payload({"spans": spans, "relations": relations}, text, where)] if spans else []
    return _note(text, name, meta, payloads)


def bounded_list(value, where: str, key: str) -> list:
    """A list field of a peer's record: absent is empty; not a list, or longer than the schema allows, is refused."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise FormatError(f"{where}: '{key}' is not a list")
    if len(value) > MAX_SPANS:
        raise FormatError(f"{where}: '{key}' holds {len(value)} entries, more than {MAX_SPANS}")
    return value


def _list(record: dict, key: str, where: str) -> list:
    return bounded_list(record.get(key), where, key)


def _tokens(tokens, where: str) -> dict:
    if tokens is None:
        return {}
    if not isinstance(tokens, list) or len(tokens) > 10 * MAX_SPANS:
        raise FormatError(f"{where}: 'tokens' is not a list of tokens")
    found = {}
    for position, token in enumerate(tokens):
        if not isinstance(token, dict):
            raise FormatError(f"{where} tokens[{position + 1}]: a token must be an object")
        ident = token.get("id", position)
        if not isinstance(ident, (str, int)):
            raise FormatError(f"{where} tokens[{position + 1}]: the token id is not a number")
        found[ident] = (token.get("start"), token.get("end"))
    return found


def _token(tokens: dict, ident, at: str) -> tuple[int, int]:
    if not isinstance(ident, (str, int)) or isinstance(ident, bool) or ident not in tokens:
        raise FormatError(f"{at}: token id {str(ident)[:20]!r} points at no token of the record")
    return tokens[ident]


def merge_prodigy(items: list[IngestedItem]) -> list[IngestedItem]:
    """Examples of one input become one note: accepted spans of one session are merged into one payload."""
    if not any(item.meta.get("source_format") == "prodigy" for item in items):
        return items
    merged: list[IngestedItem] = []
    first_of: dict[tuple, IngestedItem] = {}
    sessions: dict[int, dict] = {}
    answers: dict[int, Counter] = {}
    for item in items:
        key = item.meta.get("prodigy_input_hash")
        if item.meta.get("source_format") != "prodigy" or key is None:
            merged.append(item)
            continue
        host = first_of.setdefault((key, item.text), item)
        counts = answers.setdefault(id(host), Counter())
        counts[item.meta.get("prodigy_answer", "accept")] += 1
        by_session = sessions.setdefault(id(host), {})
        if host is item:
            merged.append(item)
            item.annotations, payloads = [], item.annotations
        else:
            payloads = item.annotations
        for payload in payloads:
            target = by_session.get(item.meta.get("prodigy_session_id"))
            if target is None:
                by_session[item.meta.get("prodigy_session_id")] = payload
                host.annotations.append(payload)
            else:
                _merge_payload(target, payload)
    for item in merged:
        if id(item) in answers and sum(answers[id(item)].values()) > 1:
            item.meta["prodigy_answer"] = "|".join(f"{a}:{n}" for a, n in sorted(answers[id(item)].items()))
    return merged


def _merge_payload(target: dict, extra: dict) -> None:
    known = {(s["start"], s["end"], s["label"]): s["id"] for s in target["spans"]}
    renamed = {}
    for span in extra["spans"]:
        key = (span["start"], span["end"], span["label"])
        if key not in known:
            known[key] = f"T{len(target['spans']) + 1}"
            target["spans"].append({**span, "id": known[key]})
        renamed[span["id"]] = known[key]
    for relation in extra.get("relations", []):
        target.setdefault("relations", []).append({**relation, "id": f"R{len(target['relations']) + 1}",
                                                   "head": renamed[relation["head"]],
                                                   "tail": renamed[relation["tail"]]})
