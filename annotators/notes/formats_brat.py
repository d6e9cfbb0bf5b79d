"""brat standoff (.txt + .ann) and brat's annotation.conf.

Every annotation kind of the standoff format is read (https://brat.nlplab.org/standoff.html):
- T text-bound: one span; a discontinuous one (`0 5;10 15`) spans its whole extent and keeps its fragments in
  `attributes["fragments"]`;
- R relations: one relation, head = first argument, tail = second;
- E events: the trigger is a span; each argument becomes a relation typed by its role (`Theme`, `Cause`, `Theme2`)
  from the trigger to the argument; an argument that is an event points at that event's trigger. Relation ids are
  `<event id>-<role>`, so the arguments of one event stay recognisable when events share a trigger;
- A/M attributes on entities and events (an event's go on its trigger): negation/speculation flags become the
  span's assertion, other binary ones "true", valued ones their value; a name given twice joins its values with "|".
  Attributes on a relation land on its head span as `<relation type>.<name>` (the payload's relations carry none);
- N normalisations: the first becomes the span's concept, later ones its candidates;
- # notes: AnnotatorNotes become `attributes["note"]`, other note types (`Lemma`, ...) `attributes[<type>]`; a note
  on a relation or event lands on its head or trigger span;
- `*` equivalences: one relation of the group's type from the first member to each other member.
Lines may come in any order: definitions (T, E) are read in a first pass, references resolved in a second.
"""
from __future__ import annotations

import re

from annotators.base import FormatError, IngestedItem

from .formats_import import _FLAG_ASSERTIONS, _note, check_note, check_payload, decode_text
from .formats_pubtator import concepts_from_ids
from .schema import layer_of_label

_ID = re.compile(r"^[TERAMN#*]\d*$")
_RANGE = re.compile(r"^\d+ \d+(?:;\d+ \d+)*$")
_ASSERTION_NAMES = {"assertion", "status", "negation", "negated", "uncertain", "uncertainty", "speculated",
                    "speculation", "hedged"}
_CONF_SECTIONS = ("entities", "relations", "events", "attributes")
_CONF_CAP = 2000  # declared names per section; a real configuration has tens


def read_brat(txt_bytes: bytes, ann_bytes: bytes, name: str, config: dict | None = None,
              conf: dict | None = None) -> IngestedItem:
    """One brat document: the .txt becomes the note, the .ann its payload. `conf` (a parsed annotation.conf) is
    carried in the item's meta so the label-mapping step can offer the declared names."""
    text, encoding = decode_text(txt_bytes, name, config)
    check_note(text, name, config)
    ann_text, _ = decode_text(ann_bytes, f"{name}.ann", {"max_chars": max(len(ann_bytes), 1)})
    payload = _Standoff(text, f"{name}.ann", config or {}).read(ann_text)
    meta = {"source_format": "brat", "encoding": encoding}
    if conf:
        meta["brat_conf"] = conf
    return _note(text, name, meta, [check_payload(payload, text, name)] if payload["spans"] else [])


class _Standoff:
    def __init__(self, text: str, where: str, config: dict):
        self.text, self.where, self.config = text, where, config
        self.spans: dict[str, dict] = {}
        self.events: dict[str, str] = {}  # event id -> trigger span id
        self.relation_ends: dict[str, tuple[str, str]] = {}  # R id -> (head span id, relation type)
        self.relations: list[dict] = []
        self.relation_ids: set[str] = set()

    def fail(self, number: int, problem: str) -> FormatError:
        return FormatError(f"{self.where} line {number}: {problem}")

    def read(self, ann_text: str) -> dict:
        lines = []
        # split on \n only: str.splitlines() also breaks at U+2028 or a form feed inside a quoted span text
        for number, line in enumerate(ann_text.split("\n"), start=1):
            line = line.removesuffix("\r")
            if not line.strip():
                continue
            ident, tab, rest = line.partition("\t")
            if not tab or not _ID.match(ident) or not rest.strip():
                raise self.fail(number, "not a brat standoff line")
            lines.append((number, ident, rest))
        events = []
        for number, ident, rest in lines:  # pass 1: definitions, so that references may come before them
            if ident[0] == "T":
                self._textbound(number, ident, rest)
            elif ident[0] == "E":
                events.append((number, ident, rest))
                trigger = rest.split(None, 1)[0].partition(":")[2]
                if ident in self.events:
                    raise self.fail(number, f"{ident} is defined twice")
                self.events[ident] = trigger
        for number, ident, _rest in events:
            if self.events[ident] not in self.spans:
                raise self.fail(number, f"event {ident} has trigger {self.events[ident]!r}, which is not a text span")
        for number, ident, rest in lines:  # relations first: notes and attributes may target them
            if ident[0] == "R":
                self._relation(number, ident, rest)
        for number, ident, rest in events:
            self._event(number, ident, rest)
        for number, ident, rest in lines:
            kind = ident[0]
            if kind == "*":
                self._equivalence(number, rest)
            elif kind in "AM":
                self._attribute(number, rest)
            elif kind == "N":
                self._normalisation(number, rest)
            elif kind == "#":
                self._comment(number, rest)
        return {"spans": list(self.spans.values()), "relations": self.relations}

    # ------------------------------------------------------------------------------------------------ definitions
    def _textbound(self, number: int, ident: str, rest: str) -> None:
        head, tab, quoted = rest.partition("\t")
        label, _, ranges = head.partition(" ")
        if not label or not _RANGE.match(ranges.strip()):
            raise self.fail(number, "not a brat text-bound annotation (expected 'T1<TAB>Type start end<TAB>text')")
        if ident in self.spans:
            raise self.fail(number, f"{ident} is defined twice")
        fragments = [tuple(int(x) for x in r.split()) for r in ranges.strip().split(";")]
        start, end = min(f[0] for f in fragments), max(f[1] for f in fragments)
        if end > len(self.text) or any(s >= e for s, e in fragments):
            raise self.fail(number, f"offsets {start}-{end} are beyond the end of the text ({len(self.text)} "
                                    "characters) or empty")
        if tab and len(fragments) == 1 and self.text[start:end] != quoted:
            raise self.fail(number, f"span text does not match the .txt at {start}-{end}")
        if len(label) > 64:
            raise self.fail(number, "type name longer than 64 characters")
        span = {"id": ident, "start": start, "end": end, "label": label,
                "layer": layer_of_label(label, self.config), "text": self.text[start:end], "attributes": {}}
        # Fragments split only at line breaks (brat cannot draw a span across one) are one continuous span.
        if len(fragments) > 1 and any(self.text[a[1]:b[0]].strip("\r\n") for a, b in zip(fragments, fragments[1:])):
            span["attributes"]["fragments"] = ";".join(f"{s} {e}" for s, e in fragments)
        self.spans[ident] = span

    def _span(self, number: int, ref: str) -> str:
        """The span id an argument stands for: a text span itself, or an event's trigger."""
        if ref in self.spans:
            return ref
        if ref in self.events:
            return self.events[ref]
        raise self.fail(number, f"refers to {ref}, which is not defined in this file")

    def _add_relation(self, rid: str, rtype: str, head: str, tail: str, number: int) -> None:
        if len(rtype) > 64:
            raise self.fail(number, "relation or role name longer than 64 characters")
        base, counter = rid[:60], 1
        while rid in self.relation_ids:
            counter += 1
            rid = f"{base}~{counter}"
        self.relation_ids.add(rid)
        self.relations.append({"id": rid, "type": rtype, "head": head, "tail": tail})

    def _arguments(self, number: int, parts: list[str]) -> list[tuple[str, str]]:
        arguments = []
        for part in parts:
            role, colon, ref = part.partition(":")
            if not colon or not role or not ref:
                raise self.fail(number, f"argument {part[:40]!r} is not ROLE:ID")
            arguments.append((role, self._span(number, ref)))
        return arguments

    def _relation(self, number: int, ident: str, rest: str) -> None:
        rtype, *parts = rest.split()
        if len(parts) != 2:
            raise self.fail(number, "a relation needs exactly two arguments (Arg1:ID Arg2:ID)")
        (_, head), (_, tail) = self._arguments(number, parts)
        if ident in self.relation_ends:
            raise self.fail(number, f"{ident} is defined twice")
        self.relation_ends[ident] = (head, rtype)
        self._add_relation(ident, rtype, head, tail, number)

    def _event(self, number: int, ident: str, rest: str) -> None:
        typed, *parts = rest.split()
        event_type = typed.partition(":")[0]
        trigger = self.spans[self.events[ident]]
        if event_type and event_type != trigger["label"]:
            trigger["attributes"]["event_type"] = event_type[:1000]
        for role, target in self._arguments(number, parts):
            self._add_relation(f"{ident}-{role}", role, trigger["id"], target, number)

    def _equivalence(self, number: int, rest: str) -> None:
        rtype, *members = rest.split()
        if len(members) < 2:
            raise self.fail(number, "an equivalence needs at least two members")
        members = [self._span(number, m) for m in members]
        for index, member in enumerate(members[1:], start=1):
            self._add_relation(f"*{number}-{index}", rtype, members[0], member, number)

    # ----------------------------------------------------------------------------------------------- references
    def _target(self, number: int, ref: str) -> tuple[dict, str | None]:
        """(span, relation type) an attribute, normalisation or note attaches to."""
        if ref in self.relation_ends:
            head, rtype = self.relation_ends[ref]
            return self.spans[head], rtype
        return self.spans[self._span(number, ref)], None

    def _attribute(self, number: int, rest: str) -> None:
        parts = rest.split()
        if len(parts) not in (2, 3):
            raise self.fail(number, "an attribute is 'Name ID' or 'Name ID Value'")
        attr, ref, value = parts[0], parts[1], parts[2] if len(parts) == 3 else None
        span, rtype = self._target(number, ref)
        if rtype is None and span["layer"] == "entity" and "assertion" not in span and (
                attr.lower() in _ASSERTION_NAMES or value is None):
            assertion = _FLAG_ASSERTIONS.get((value or attr).lower())
            if assertion:
                span["assertion"] = assertion
                return
        key = (f"{rtype}.{attr}" if rtype else attr)[:64]
        value = value or "true"
        old = span["attributes"].get(key)
        if old is not None:  # the same attribute again: a multi-valued one
            value = old if value in old.split("|") else f"{old}|{value}"
        span["attributes"][key] = value[:1000]

    def _normalisation(self, number: int, rest: str) -> None:
        head, _, concept_name = rest.partition("\t")
        parts = head.split()
        if len(parts) != 3:
            raise self.fail(number, "a normalisation is 'Reference ID DB:code<TAB>name'")
        span, _rtype = self._target(number, parts[1])
        terminology, colon, code = parts[2].partition(":")
        if not colon or not terminology or not code:  # a bare id ("672", "D008012"), as some converters write
            found, _ = concepts_from_ids(parts[2], span["label"], fallback="brat")
            if not found:
                return
            terminology, code = found[0]["terminology"], found[0]["code"]
        if len(terminology) > 64 or len(code) > 128:
            raise self.fail(number, "terminology or code too long")
        concept = {"terminology": terminology, "code": code, "name": concept_name.strip()[:1000]}
        if not span.get("concept"):
            span["concept"] = concept
        elif len(span.setdefault("candidates", [])) < 50:
            span["candidates"].append(concept)

    def _comment(self, number: int, rest: str) -> None:
        head, _, note = rest.partition("\t")
        parts = head.split()
        if len(parts) != 2:
            raise self.fail(number, "a note is 'AnnotatorNotes ID<TAB>text'")
        kind, ref = parts
        span, _rtype = self._target(number, ref)
        key = "note" if kind == "AnnotatorNotes" else kind[:64]
        note = note.strip()
        old = span["attributes"].get(key)
        span["attributes"][key] = (f"{old}\n{note}" if old else note)[:1000]


# ------------------------------------------------------------------------------------------------ annotation.conf
def parse_annotation_conf(data: bytes, where: str) -> dict:
    """The names an annotation.conf declares: {"entities": [...], "relations": [...], "events": [...],
    "attributes": {name: [values]}} (a binary attribute has no values). Abstract types (`!Name`), macros
    (`<POG>=...`), special relations (`<OVERLAP>`) and separators are left out; `Name|alias` keeps `Name`."""
    text, _ = decode_text(data, where, {"max_chars": max(len(data), 1)})
    conf: dict = {"entities": [], "relations": [], "events": [], "attributes": {}}
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip().lower()
            section = "entities" if section == "spans" else section  # the older name of the section
            continue
        if section not in _CONF_SECTIONS or stripped.startswith(("!", "<")):
            continue
        first, _, rest = stripped.replace("\t", " ").partition(" ")
        type_name = first.split("|", 1)[0][:64]
        if not type_name or type_name == "ENTITY-NESTING":
            continue
        if section == "attributes":
            if len(conf["attributes"]) < _CONF_CAP:
                values = re.search(r"Value:([^,\s]+)", rest)
                conf["attributes"][type_name] = [v.partition(":")[0][:64] for v in values.group(1).split("|")
                                                 if v.partition(":")[0]][:_CONF_CAP] if values else []
        elif type_name not in conf[section] and len(conf[section]) < _CONF_CAP:
            conf[section].append(type_name)
    return conf
