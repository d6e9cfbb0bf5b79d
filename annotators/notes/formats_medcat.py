"""MedCATtrainer project exports: {"projects": [{"name", "documents": [{"name", "text", "annotations": [...],
"relations": [...]}]}]}, one note per document.

An annotation (`start`, `end`, `value`, `cui`, review flags, `meta_anns`) becomes a span when the reviewer kept it:
`correct` or `alternative` (an alternative concept was chosen), and not `deleted`, `killed` or `irrelevant`. Bare
annotations without flags (hand-made exports) count as kept. What was dropped is counted in meta["medcat_dropped"].
- concept: the CUI, terminology "UMLS" for a UMLS CUI (C0011849); "SNOMED" for a numeric concept id or when the
  project's name says SNOMED; else "UMLS". `pretty_name` is the concept's name.
- label: the export does not carry the concept's type; `type` (or the first of `types`) when present, else
  "CONCEPT" (the label-mapping step maps it to a project label).
- meta-annotations (`{"Status": {"value": ...}}` or `[{"name": "Status", "value": ...}]`) are kept as attributes
  and decide the assertion: Negated/Absent/False -> negated, Hypothetical/Future -> hypothetical,
  Historical/Past -> historical, Family -> family, Uncertain/Possible -> possible, Affirmed/Confirmed/True ->
  present. MedCAT's two-class "Status" model answers "Other" for everything not affirmed (negated, hypothetical,
  ...): that says "not present" without saying which, so it sets no assertion.
- `value` (the annotated text as MedCATtrainer saw it) is kept in attributes["value"] where it differs from the
  text at the offsets; MedCAT itself goes by the offsets.
- `comment` becomes attributes["note"]; relations (`start_entity`/`end_entity` annotation ids, `relation`) become
  relations; one whose end was dropped is dropped with it.
"""
from __future__ import annotations

import re

from annotators.base import FormatError, IngestedItem, ItemRejected

from .formats_import import MAX_RECORDS, _note, check_note, check_payload
from .formats_jsonl_peers import MAX_SPANS
from .schema import layer_of_label

_CUI = re.compile(r"^C\d{7}$")
_ASSERTION_META = {"status", "presence", "temporality", "time", "experiencer", "subject", "certainty", "assertion"}
_ASSERTION_VALUES = {
    "negated": "negated", "negation": "negated", "absent": "negated", "negative": "negated",
    "hypothetical": "hypothetical", "future": "hypothetical", "historical": "historical", "past": "historical",
    "history": "historical", "family": "family", "uncertain": "possible", "possible": "possible",
    "probable": "possible", "suspected": "possible", "affirmed": "present", "confirmed": "present",
    "present": "present",
}
# Yes/no meta-annotations: a flag named for an assertion sets it when true and says nothing when false; a
# presence-like one says present or negated.
_FLAGS = {"negation": "negated", "negated": "negated", "hypothetical": "hypothetical", "uncertainty": "possible",
          "uncertain": "possible", "historical": "historical", "family": "family"}
_PRIORITY = ("negated", "hypothetical", "possible", "family", "historical", "present")


def read_medcat(parsed: dict, name: str, config: dict | None = None) -> list[IngestedItem]:
    projects = parsed.get("projects")
    if not isinstance(projects, list) or not projects:
        raise FormatError(f"{name}: 'projects' is not a non-empty list (MedCATtrainer export)")
    items = []
    for p_number, project in enumerate(projects, start=1):
        if not isinstance(project, dict) or not isinstance(project.get("documents"), list):
            raise FormatError(f"{name} project {p_number}: no 'documents' list")
        project_name = str(project.get("name") or "")
        snomed = "snomed" in project_name.lower()
        for d_number, document in enumerate(project["documents"], start=1):
            if len(items) >= MAX_RECORDS:
                raise ItemRejected(f"{name}: more than {MAX_RECORDS} documents")
            where = f"{name} project {p_number} document {d_number}"
            items.append(_document(document, where, project, snomed, config or {}))
    if not items:
        raise ItemRejected(f"{name}: the export holds no documents")
    return items


def _document(document, where: str, project: dict, snomed: bool, config: dict) -> IngestedItem:
    if not isinstance(document, dict):
        raise FormatError(f"{where}: not an object")
    text = document.get("text")
    if not isinstance(text, str):
        raise FormatError(f"{where}: no 'text' string")
    check_note(text, where, config)
    annotations = document.get("annotations") or []
    if not isinstance(annotations, list) or len(annotations) > MAX_SPANS:
        raise FormatError(f"{where}: 'annotations' is not a list of at most {MAX_SPANS} annotations")
    spans, by_id, dropped_ids, dropped = [], {}, set(), 0
    for number, annotation in enumerate(annotations, start=1):
        at = f"{where} annotation {number}"
        if not isinstance(annotation, dict):
            raise FormatError(f"{at}: not an object")
        ident = annotation.get("id")
        ident = ident if isinstance(ident, (str, int)) and not isinstance(ident, bool) else None
        kept = not any(annotation.get(flag) for flag in ("deleted", "killed", "irrelevant")) and (
            not ("correct" in annotation or "alternative" in annotation)
            or bool(annotation.get("correct") or annotation.get("alternative")))
        if not kept:
            dropped += 1
            dropped_ids.add(ident)
            continue
        span = _span(annotation, text, at, f"A{number}" if ident is None else str(ident)[:64], snomed, config)
        if span["id"] in by_id.values():
            span["id"] = f"A{number}"
        spans.append(span)
        if ident is not None:
            by_id[ident] = span["id"]
    relations = []
    for number, relation in enumerate(document.get("relations") or [], start=1):
        at = f"{where} relation {number}"
        if not isinstance(relation, dict):
            raise FormatError(f"{at}: not an object")
        ends = [relation.get("start_entity"), relation.get("end_entity")]
        if any(end in dropped_ids for end in ends if isinstance(end, (str, int))):
            dropped += 1
            continue
        head, tail = (by_id.get(end) if isinstance(end, (str, int)) else None for end in ends)
        if head is None or tail is None:
            raise FormatError(f"{at}: start_entity/end_entity point at an annotation that is not in the document")
        kind = str(relation.get("relation") or "related").strip()[:64] or "related"
        relations.append({"id": f"R{number}", "type": kind, "head": head, "tail": tail})
    meta = {"source_format": "medcat", "medcat_project": str(project.get("name") or "")[:200]}
    if isinstance(document.get("id"), (str, int)):
        meta["medcat_document_id"] = document["id"]
    if dropped:
        meta["medcat_dropped"] = dropped
    payloads = [check_payload({"spans": spans, "relations": relations}, text, where)] if spans else []
    return _note(text, str(document.get("name") or where)[:255], meta, payloads)


def _span(annotation: dict, text: str, at: str, sid: str, snomed: bool, config: dict) -> dict:
    start, end = annotation.get("start"), annotation.get("end")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise FormatError(f"{at}: 'start' and 'end' must be integers")
    if not 0 <= start < end <= len(text):
        raise FormatError(f"{at}: offsets {start}-{end} are outside the text ({len(text)} characters) or empty")
    types = annotation.get("types")
    label = annotation.get("type") or (types[0] if isinstance(types, list) and types else "") or "CONCEPT"
    label = str(label).strip()[:64] or "CONCEPT"
    span = {"id": sid, "start": start, "end": end, "label": label, "layer": layer_of_label(label, config),
            "attributes": {}}
    cui = annotation.get("cui")
    # A span without a concept is written with its label as `cui` (MedCAT needs one): that is no concept id.
    if isinstance(cui, (str, int)) and str(cui).strip() and str(cui).strip() != label:
        code = str(cui).strip()[:128]
        terminology = "UMLS" if _CUI.match(code) else "SNOMED" if code.isdigit() or snomed else "UMLS"
        span["concept"] = {"terminology": terminology, "code": code,
                           "name": str(annotation.get("pretty_name") or "")[:1000]}
    found = []
    for meta_name, meta_value in _meta_annotations(annotation.get("meta_anns"), at):
        known = span["attributes"].get(meta_name[:64])
        if known is None or meta_value not in known.split("|"):  # a name given twice keeps both values
            span["attributes"][meta_name[:64]] = (f"{known}|{meta_value}" if known else meta_value)[:1000]
        assertion = _assertion(meta_name.lower(), meta_value.lower())
        if assertion:
            found.append(assertion)
    if found and span["layer"] == "entity":
        span["assertion"] = min(found, key=_PRIORITY.index)
    value = annotation.get("value")
    if isinstance(value, str) and value and value != text[start:end]:
        span["attributes"]["value"] = value[:1000]  # MedCAT goes by the offsets; its own fixtures differ at times
    if isinstance(annotation.get("comment"), str) and annotation["comment"].strip():
        span["attributes"]["note"] = annotation["comment"][:1000]
    return span


def _assertion(name: str, value: str) -> str | None:
    if value in ("true", "yes", "false", "no"):
        truth = value in ("true", "yes")
        if name in _FLAGS:
            return _FLAGS[name] if truth else None
        return ("present" if truth else "negated") if name in ("presence", "status", "assertion") else None
    return _ASSERTION_VALUES.get(value) if name in _ASSERTION_META else None


def _meta_annotations(meta_anns, at: str) -> list[tuple[str, str]]:
    if not meta_anns:
        return []
    if isinstance(meta_anns, dict):
        entries = [dict(v, name=v.get("name", k)) if isinstance(v, dict) else {"name": k, "value": v}
                   for k, v in meta_anns.items()]
    elif isinstance(meta_anns, list):
        entries = meta_anns
    else:
        raise FormatError(f"{at}: 'meta_anns' is neither an object nor a list")
    found = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), (str, int, float, bool)):
            raise FormatError(f"{at}: a meta-annotation lacks a name or a value")
        found.append((str(entry.get("name") or "meta"), str(entry["value"])))
    return found
