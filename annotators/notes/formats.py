"""Import/export registry of the notes modality, plus the Label Studio and BioC readers.

`importers()` and `exporters()` give the plugin its `Importer`/`Exporter` objects; `ingest(item, config)` picks a
reader from the upload's extension (or treats a posted JSON record like one JSONL line).
"""
from __future__ import annotations

import json
import re

from annotators.base import Exporter, FormatError, Importer, IngestedItem, ItemInput, ItemRejected, TEXT_FILE_LIMIT

from . import formats_export as export
from .formats_import import (
    MAX_RECORDS, MAX_ZIP_TOTAL_BYTES, _note, check_note, check_payload, decode_text, has_astral, read_brat,
    read_csv, read_jsonl, read_record, read_txt, read_zip, utf16_to_index,
)
from .schema import ASSERTIONS, layer_of_label

# --------------------------------------------------------------------------------------------- Label Studio
_MEDIA_KEYS = {"audio": "audio", "image": "image", "img": "image", "video": "video", "pdf": "PDF",
               "timeseries": "time-series", "ts": "time-series", "html": "HTML", "hypertext": "HTML"}
_MEDIA_RESULT_TYPES = {"rectanglelabels": "image", "polygonlabels": "image", "keypointlabels": "image",
                       "brushlabels": "image", "ellipselabels": "image", "rectangle": "image", "polygon": "image",
                       "videorectangle": "video", "timeserieslabels": "time-series", "hypertextlabels": "HTML",
                       "paragraphlabels": "dialogue"}


def read_label_studio(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    """Label Studio JSON export (a task list, or one task): `data.text` plus "labels" results, "relation" results
    and per-region "choices" (from_name "assertion" sets the assertion)."""
    raw, _ = decode_text(data, name, {"max_chars": max(len(data), 1)})
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    tasks = [parsed] if isinstance(parsed, dict) else parsed
    if not isinstance(tasks, list) or not tasks:
        raise FormatError(f"{name}: expected a Label Studio task or a list of tasks")
    if len(tasks) > MAX_RECORDS:
        raise ItemRejected(f"{name}: {len(tasks)} tasks, more than the limit of {MAX_RECORDS}")
    items = []
    for number, task in enumerate(tasks, start=1):
        where = f"{name} task {number}"
        task_data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(task_data, dict):
            raise FormatError(f"{where}: no 'data' object")
        text = task_data.get("text")
        if not isinstance(text, str):
            kinds = sorted({kind for key, kind in _MEDIA_KEYS.items() if key in task_data})
            if kinds:
                raise ItemRejected(f"{where}: a Label Studio {'/'.join(kinds)} task; this project holds text notes")
            raise FormatError(f"{where}: no 'data.text' string")
        check_note(text, where, config)
        payloads = []
        for annotation in task.get("annotations") or task.get("completions") or []:
            if isinstance(annotation, dict) and not annotation.get("was_cancelled"):
                payload = _label_studio_payload(annotation.get("result") or [], text, where, config or {})
                if payload["spans"]:
                    payloads.append(payload)
        meta = {"source_format": "label_studio",
                **{k: v for k, v in task_data.items() if k != "text" and isinstance(v, (str, int, float, bool))}}
        if "id" in task:
            meta["label_studio_id"] = task["id"]
        items.append(_note(text, where, meta, payloads))
    return items


def _label_studio_payload(results: list, text: str, where: str, config: dict) -> dict:
    astral = has_astral(text)
    spans: list[dict] = []
    first_span_of: dict[str, str] = {}
    relations, per_region = [], []
    for index, result in enumerate(results):
        rtype = result.get("type") if isinstance(result, dict) else None
        if rtype in _MEDIA_RESULT_TYPES:
            raise ItemRejected(f"{where}: result of type {rtype!r} belongs to a {_MEDIA_RESULT_TYPES[rtype]} task")
        if rtype == "relation":
            relations.append(result)
        elif rtype == "labels":
            value = result.get("value") or {}
            start, end = value.get("start"), value.get("end")
            if not isinstance(start, int) or not isinstance(end, int):
                raise FormatError(f"{where} result {index + 1}: 'labels' without integer text offsets "
                                  "(an audio or time-series region?)")
            if astral:
                start, end = utf16_to_index(text, start), utf16_to_index(text, end)
            if not 0 <= start < end <= len(text):
                raise FormatError(f"{where} result {index + 1}: offsets {start}-{end} are outside the text")
            if "text" in value and text[start:end] != value["text"]:
                raise FormatError(f"{where} result {index + 1}: region text does not match the offsets")
            region_id = str(result.get("id") or f"r{index + 1}")
            labels = value.get("labels") or []
            for j, label in enumerate(labels):
                sid = region_id if len(labels) == 1 else f"{region_id}-{j + 1}"
                layer = "phi" if result.get("from_name") == "phi" else layer_of_label(str(label), config)
                spans.append({"id": sid, "start": start, "end": end, "label": str(label), "layer": layer,
                              "text": text[start:end], "attributes": {}})
                first_span_of.setdefault(region_id, sid)
        elif rtype in ("choices", "textarea") and result.get("id"):
            per_region.append(result)
    by_id = {s["id"]: s for s in spans}
    for result in per_region:  # per-region answers share the id of their region
        span = by_id.get(first_span_of.get(str(result["id"]), ""))
        value = result.get("value") or {}
        answer = ",".join(str(v) for v in value.get("choices") or value.get("text") or [])
        if span is None or not answer:
            continue
        if result.get("from_name") == "assertion" and answer in ASSERTIONS and span["layer"] == "entity":
            span["assertion"] = answer
        elif result.get("from_name") == "concept" and re.match(r"^[^:\s]+:\S+", answer):
            code, _, concept_name = answer.partition(" ")
            terminology, _, code = code.partition(":")
            span["concept"] = {"terminology": terminology, "code": code, "name": concept_name.strip()}
        else:
            span["attributes"][str(result.get("from_name") or "note")[:64]] = answer[:1000]
    payload_relations = []
    for result in relations:
        head, tail = first_span_of.get(str(result.get("from_id"))), first_span_of.get(str(result.get("to_id")))
        if head is None or tail is None:
            raise FormatError(f"{where}: a relation points at a region that is not in the annotation")
        rtype = (result.get("labels") or ["related"])[0]
        payload_relations.append({"id": f"rel{len(payload_relations) + 1}", "type": str(rtype), "head": head,
                                  "tail": tail})
    return check_payload({"spans": spans, "relations": payload_relations}, text, where)


# ------------------------------------------------------------------------------------------------------ BioC
def read_bioc(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    """BioC XML collection: one note per document (passages placed at their offsets), annotations and relations.
    Parsed with defusedxml: entity declarations (billion laughs) and external references (XXE) are refused."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    if len(data) > MAX_ZIP_TOTAL_BYTES:
        raise ItemRejected(f"{name}: larger than {MAX_ZIP_TOTAL_BYTES} bytes")
    try:
        root = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise FormatError(f"{name}: XML entity declarations and external references are not accepted") from None
    except ParseError as exc:
        raise FormatError(f"{name}: not well-formed XML ({exc})") from None
    if root.tag != "collection":
        raise FormatError(f"{name}: not a BioC collection (root element <{root.tag}>)")
    items = []
    for number, document in enumerate(root.findall("document"), start=1):
        if len(items) >= MAX_RECORDS:
            raise ItemRejected(f"{name}: more than {MAX_RECORDS} documents")
        where = f"{name} document {number}"
        text, spans, relations = "", [], []
        for passage in document.findall("passage"):
            offset = _int(passage.findtext("offset") or "0", where)
            passage_text = passage.findtext("text") or ""
            if passage_text:
                if offset < len(text):
                    raise FormatError(f"{where}: passage at offset {offset} overlaps the previous passage")
                text += "\n" * (offset - len(text)) + passage_text
            spans.extend(_bioc_annotation(a, where, config or {}) for a in passage.findall("annotation"))
            relations.extend(passage.findall("relation"))
        check_note(text, where, config)
        for span in spans:
            if span["end"] > len(text):
                raise FormatError(f"{where}: annotation {span['id']!r} ends at {span['end']}, beyond the text")
            if span.pop("_quoted", None) not in (None, text[span["start"]:span["end"]]):
                raise FormatError(f"{where}: annotation {span['id']!r} text does not match its location")
            span["text"] = text[span["start"]:span["end"]]
        relations.extend(document.findall("relation"))
        payload_relations = []
        for relation in relations:
            nodes = relation.findall("node")
            roles = {(n.get("role") or "").lower(): n.get("refid") for n in nodes}
            head = roles.get("head") or roles.get("arg1") or (nodes[0].get("refid") if nodes else None)
            tail = roles.get("tail") or roles.get("arg2") or (nodes[1].get("refid") if len(nodes) > 1 else None)
            infons = {i.get("key"): (i.text or "") for i in relation.findall("infon")}
            payload_relations.append({"id": relation.get("id") or f"R{len(payload_relations) + 1}",
                                      "type": infons.get("type") or "related", "head": head or "", "tail": tail or ""})
        annotations = [check_payload({"spans": spans, "relations": payload_relations}, text, where)] if spans else []
        meta = {"source_format": "bioc", "bioc_id": document.findtext("id") or ""}
        items.append(_note(text, document.findtext("id") or where, meta, annotations))
    if not items:
        raise ItemRejected(f"{name}: the collection holds no documents")
    return items


def _int(value: str, where: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise FormatError(f"{where}: offset {value[:20]!r} is not a number") from None


def _bioc_annotation(element, where: str, config: dict) -> dict:
    infons = {i.get("key") or "": (i.text or "") for i in element.findall("infon")}
    locations = [(_int(l.get("offset", ""), where), _int(l.get("length", ""), where)) for l in element.findall("location")]
    sid = element.get("id") or ""
    label = infons.pop("type", "") or infons.pop("label", "")
    if not locations or not label or not sid:
        raise FormatError(f"{where}: annotation {sid!r} lacks an id, a type infon or a location")
    start, end = min(o for o, _ in locations), max(o + n for o, n in locations)
    if start < 0 or end <= start:
        raise FormatError(f"{where}: annotation {sid!r} has an empty or negative location")
    span = {"id": sid, "start": start, "end": end, "label": label,
            "layer": infons.pop("layer", "") or layer_of_label(label, config), "attributes": {}}
    if span["layer"] not in ("entity", "phi"):
        raise FormatError(f"{where}: annotation {sid!r} has unknown layer {span['layer']!r}")
    if len(locations) == 1:
        span["_quoted"] = element.findtext("text")
    assertion = infons.pop("assertion", "")
    if assertion in ASSERTIONS and span["layer"] == "entity":
        span["assertion"] = assertion
    terminology, code = infons.pop("concept_terminology", ""), infons.pop("concept_code", "")
    concept_name = infons.pop("concept_name", "")
    identifier = infons.pop("identifier", "")
    if not code and ":" in identifier:
        terminology, code = identifier.split(":", 1)
    if terminology and code:
        span["concept"] = {"terminology": terminology, "code": code, "name": concept_name}
    span["attributes"] = {k[:64]: v[:1000] for k, v in infons.items() if k}
    return span


# --------------------------------------------------------------------------------------------------- registry
def _reader(function):
    def read(item: ItemInput, config: dict) -> list[IngestedItem]:
        if item.record is not None:
            return read_record(item.record, item.name or "record", config)
        if item.data is None and item.path is None:
            raise ItemRejected(f"{item.name or 'upload'}: no file content")
        return function(item.read(TEXT_FILE_LIMIT), item.name or "upload", config)
    return read


def importers() -> dict[str, Importer]:
    return {
        "txt": Importer("txt", (".txt",), _reader(read_txt)),
        "zip": Importer("zip", (".zip",), _reader(read_zip)),  # .txt notes, or brat .txt/.ann pairs
        "jsonl": Importer("jsonl", (".jsonl", ".ndjson"), _reader(read_jsonl)),
        "csv": Importer("csv", (".csv",), _reader(read_csv)),
        "label_studio": Importer("label_studio", (".json",), _reader(read_label_studio)),
        "bioc": Importer("bioc", (".xml", ".bioc"), _reader(read_bioc)),
    }


ACCEPTS = tuple(ext for importer in importers().values() for ext in importer.extensions)


def ingest(item: ItemInput, config: dict) -> list[IngestedItem]:
    """Pick the reader from the file extension; a posted JSON record reads like one JSONL line."""
    if item.record is not None:
        return read_record(item.record, item.name or "record", config)
    lowered = (item.name or "").lower()
    for importer in importers().values():
        if lowered.endswith(importer.extensions):
            return importer.read(item, config)
    raise ItemRejected(f"{item.name or 'upload'}: unsupported file type; accepted: {', '.join(ACCEPTS)}")


def exporters() -> dict[str, Exporter]:
    return export.exporters()


__all__ = ["ACCEPTS", "exporters", "importers", "ingest", "read_bioc", "read_brat", "read_csv", "read_jsonl",
           "read_label_studio", "read_txt", "read_zip"]
