"""Label Studio JSON exports (a list of tasks, or one task; the older `completions` key too; JSON-MIN records).

A task's `data.text` is the note. Each annotation that was not cancelled becomes a payload: "labels" regions are
spans (offsets in UTF-16 code units: Label Studio is JavaScript), "relation" results relations (one per relation
label). Predictions become payloads only when the task has no annotation, and the item's meta says so
(meta["label_studio_from"] = "predictions"). Results that carry a region's id are per-region answers: "choices"
from a control named "assertion" set the span's assertion, a "concept" text area (our own export) the concept,
other choices `attributes[<control name>]` (values joined by "|"), other text areas `attributes["note"]`.
Results of the whole task (choices, text areas, ratings, numbers without a region) go to
meta["label_studio_<control name>"]. Tasks of other media (image, audio, video, HTML) are refused by name.
"""
from __future__ import annotations

import json
import re

from annotators.base import FormatError, IngestedItem, ItemRejected

from .formats_import import MAX_RECORDS, _note, check_note, check_payload, decode_text
from .formats_jsonl_peers import Utf16Offsets, bounded_list
from .schema import ASSERTIONS, layer_of_label

_MEDIA_KEYS = {"audio": "audio", "image": "image", "img": "image", "video": "video", "pdf": "PDF",
               "timeseries": "time-series", "ts": "time-series", "html": "HTML", "hypertext": "HTML"}
_MEDIA_RESULT_TYPES = {"rectanglelabels": "image", "polygonlabels": "image", "keypointlabels": "image",
                       "brushlabels": "image", "ellipselabels": "image", "rectangle": "image", "polygon": "image",
                       "videorectangle": "video", "timeserieslabels": "time-series", "hypertextlabels": "HTML",
                       "paragraphlabels": "dialogue"}
_ANSWER_TYPES = ("choices", "textarea", "rating", "number", "datetime", "taxonomy")


def read_label_studio(data: bytes, name: str, config: dict | None = None, parsed=None) -> list[IngestedItem]:
    if parsed is None:
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
    return [_task(task, f"{name} task {number}", config or {}) for number, task in enumerate(tasks, start=1)]


def _from_json_min(task: dict) -> dict:
    """A JSON-MIN record (one per annotation, its results flattened next to the data fields) as a task."""
    data, result = {}, []
    for key, value in task.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) and "start" in v for v in value):
            for number, region in enumerate(value, start=1):
                labels = region.get("labels") or next(
                    (v for k, v in region.items() if k.endswith("labels") and isinstance(v, list)), [])
                result.append({"id": f"{key}-{number}", "from_name": key, "type": "labels", "value": {
                    **{k: region[k] for k in ("start", "end", "text") if k in region}, "labels": labels}})
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            data[key] = "|".join(value)  # a choices answer
        elif key != "id":
            data[key] = value
    return {"id": task.get("id"), "data": data, "annotations": [{"result": result}]}


def _task(task, where: str, config: dict) -> IngestedItem:
    if isinstance(task, dict) and "data" not in task and isinstance(task.get("text"), str):
        task = _from_json_min(task)
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
    meta = {"source_format": "label_studio",
            **{k: v for k, v in task_data.items() if k != "text" and isinstance(v, (str, int, float, bool))}}
    if isinstance(task.get("id"), (str, int)):
        meta["label_studio_id"] = task["id"]
    offsets = Utf16Offsets(text)
    annotations = [a for a in _list(task.get("annotations") or task.get("completions"), where, "annotations")
                   if not (isinstance(a, dict) and a.get("was_cancelled"))]
    source = annotations
    if not annotations and task.get("predictions"):
        source = _list(task["predictions"], where, "predictions")
        meta["label_studio_from"] = "predictions"
    payloads = []
    for number, annotation in enumerate(source, start=1):
        if not isinstance(annotation, dict):
            raise FormatError(f"{where}: annotation {number} is not an object")
        results = _list(annotation.get("result"), f"{where} annotation {number}", "result")
        payload = _payload(results, text, offsets, f"{where} annotation {number}", config, meta)
        if payload["spans"]:
            payloads.append(payload)
    return _note(text, where, meta, payloads)


_list = bounded_list


def _answer(value: dict) -> str:
    for key in ("choices", "text", "taxonomy", "rating", "number", "datetime"):
        found = value.get(key)
        if isinstance(found, list):
            parts = ["/".join(map(str, f)) if isinstance(f, list) else str(f) for f in found]
            return ("\n" if key == "text" else "|").join(parts)
        if isinstance(found, (str, int, float)) and not isinstance(found, bool):
            return str(found)
    return ""


def _payload(results: list, text: str, offsets: Utf16Offsets, where: str, config: dict, meta: dict) -> dict:
    spans: list[dict] = []
    first_span_of: dict[str, str] = {}
    relations, answers = [], []
    for index, result in enumerate(results):
        if not isinstance(result, dict):
            raise FormatError(f"{where} result {index + 1}: not an object")
        rtype = result.get("type")
        if rtype in _MEDIA_RESULT_TYPES:
            raise ItemRejected(f"{where}: result of type {rtype!r} belongs to a {_MEDIA_RESULT_TYPES[rtype]} task")
        value = result.get("value") if isinstance(result.get("value"), dict) else {}
        if rtype == "relation":
            relations.append(result)
        elif rtype == "labels":
            start, end = value.get("start"), value.get("end")
            if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool):
                raise FormatError(f"{where} result {index + 1}: 'labels' without integer text offsets "
                                  "(an audio or time-series region?)")
            first, last = offsets.index(start), offsets.index(end)
            if first is None or last is None or first >= last:
                raise FormatError(f"{where} result {index + 1}: offsets {start}-{end} are outside the text")
            if "text" in value and text[first:last] != value["text"]:
                raise FormatError(f"{where} result {index + 1}: region text does not match the offsets")
            region = str(result.get("id") or f"r{index + 1}")[:60]
            labels = [str(label).strip()[:64] for label in value.get("labels") or [] if str(label).strip()]
            for j, label in enumerate(labels):
                sid = region if len(labels) == 1 else f"{region}-{j + 1}"
                layer = "phi" if result.get("from_name") == "phi" else layer_of_label(label, config)
                spans.append({"id": sid, "start": first, "end": last, "label": label, "layer": layer,
                              "attributes": {}})
                first_span_of.setdefault(region, sid)
        elif rtype in _ANSWER_TYPES:
            answers.append(result)
    by_id = {s["id"]: s for s in spans}
    for result in answers:
        value = result.get("value") if isinstance(result.get("value"), dict) else {}
        answer, control = _answer(value), str(result.get("from_name") or result.get("type"))
        span = by_id.get(first_span_of.get(str(result.get("id"))[:60], "")) if result.get("id") else None
        if not answer:
            continue
        if span is None:  # a question about the whole task
            key = "label_studio_" + re.sub(r"[^A-Za-z0-9_]+", "_", control)[:48]
            known = str(meta.get(key, ""))
            meta[key] = answer if not known or answer in known.split("|") else f"{known}|{answer}"
        elif control == "assertion" and answer in ASSERTIONS and span["layer"] == "entity":
            span["assertion"] = answer
        elif control == "concept" and re.match(r"^[^:\s]+:\S+", answer):
            found = []
            for line in answer.split("\n")[:51]:  # our export: the concept, then its candidates
                code, _, concept_name = line.strip().partition(" ")
                terminology, _, code = code.partition(":")
                if terminology and code:
                    found.append({"terminology": terminology[:64], "code": code[:128], "name": concept_name.strip()[:1000]})
            span["concept"] = found[0]
            if found[1:]:
                span["candidates"] = found[1:]
        elif control == "attributes" and result.get("type") == "textarea" and all(
                "=" in line for line in answer.split("\n")):
            for line in answer.split("\n"):  # our export: one "name=value" per line
                key, _, attribute = line.partition("=")
                if key.strip():
                    span["attributes"][key.strip()[:64]] = attribute.strip()[:1000]
        else:
            key = "note" if result.get("type") == "textarea" else control[:64]
            known = span["attributes"].get(key)
            span["attributes"][key] = (f"{known}|{answer}" if known else answer)[:1000]
    payload_relations = []
    for result in relations:
        head, tail = (first_span_of.get(str(result.get(key))[:60]) for key in ("from_id", "to_id"))
        if head is None or tail is None:
            raise FormatError(f"{where}: a relation points at a region that is not in the annotation")
        for label in result.get("labels") or ["related"]:
            payload_relations.append({"id": f"rel{len(payload_relations) + 1}", "type": str(label).strip()[:64]
                                      or "related", "head": head, "tail": tail})
    return check_payload({"spans": spans, "relations": payload_relations}, text, where)
