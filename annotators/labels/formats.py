"""Import (text files, JSONL, CSV) and export (JSONL, CSV) for whole-item labels."""
from __future__ import annotations

import csv
import io
import json
from typing import Any, BinaryIO, Iterable

from annotators.base import FormatError, IngestedItem, ItemInput, ItemRejected, MAX_RECORDS_PER_FILE, TEXT_FILE_LIMIT
from annotators.csv_cells import safe_writer

MAX_TEXT = 1_000_000


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (BOM optional) or UTF-16 with a BOM; binary content is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ItemRejected(f"{name}: not valid UTF-16 text") from None
    if b"\x00" in data[:8192]:
        raise ItemRejected(f"{name}: binary content, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ItemRejected(f"{name}: not UTF-8 text (invalid byte at offset {exc.start}); re-save it as UTF-8") from None


def check_text(text: Any, where: str) -> str:
    if not isinstance(text, str):
        raise ItemRejected(f"{where}: 'text' must be a string")
    if not text.strip():
        raise ItemRejected(f"{where}: text is empty")
    if len(text) > MAX_TEXT:
        raise ItemRejected(f"{where}: text has {len(text)} characters; the limit is {MAX_TEXT}")
    return text


def record_to_item(record: Any, where: str, label_names: set[str]) -> IngestedItem:
    if not isinstance(record, dict):
        raise ItemRejected(f"{where}: a record must be a JSON object with a 'text' field")
    if "text" not in record:
        raise ItemRejected(f"{where}: missing 'text' field")
    text = check_text(record["text"], where)
    meta = record.get("meta", {})
    if not isinstance(meta, dict):
        raise ItemRejected(f"{where}: 'meta' must be an object")
    extra = {k: v for k, v in record.items() if k not in {"text", "meta", "label", "labels", "name"}}
    meta = {**extra, **meta}
    annotations = []
    labels = record.get("labels", [record["label"]] if "label" in record else None)
    if labels is not None:
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ItemRejected(f"{where}: 'labels' must be a list of label names")
        unknown = set(labels) - label_names
        if unknown:
            raise ItemRejected(f"{where}: unknown label(s) {sorted(unknown)}; the project has {sorted(label_names)}")
        annotations.append({"labels": labels})
    name = record.get("name") if isinstance(record.get("name"), str) else ""
    return IngestedItem(kind="text", text=text, meta=meta, name=name[:255], annotations=annotations)


def read_jsonl(item: ItemInput, label_config: dict) -> list[IngestedItem]:
    names = {label["name"] for label in label_config.get("labels", [])}
    text = decode_text(item.read(TEXT_FILE_LIMIT), item.name)
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(out) >= MAX_RECORDS_PER_FILE:
            raise ItemRejected(f"{item.name}: more than {MAX_RECORDS_PER_FILE:,} records; split the file")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{item.name} line {number}: invalid JSON ({exc.msg})") from None
        ingested = record_to_item(record, f"{item.name} line {number}", names)
        ingested.name = ingested.name or f"{item.name}#{number}"
        out.append(ingested)
    if not out:
        raise ItemRejected(f"{item.name}: no records")
    return out


def read_csv(item: ItemInput, label_config: dict) -> list[IngestedItem]:
    names = {label["name"] for label in label_config.get("labels", [])}
    text = decode_text(item.read(TEXT_FILE_LIMIT), item.name)
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "text" not in reader.fieldnames:
        raise FormatError(f"{item.name}: no 'text' column (columns: {', '.join(reader.fieldnames or [])})")
    out = []
    try:
        for row in reader:
            if len(out) >= MAX_RECORDS_PER_FILE:
                raise ItemRejected(f"{item.name}: more than {MAX_RECORDS_PER_FILE:,} rows; split the file")
            record = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
            if "label" in record:
                record["labels"] = [x for x in record.pop("label").split("|") if x]
            record.setdefault("text", "")
            ingested = record_to_item(record, f"{item.name} line {reader.line_num}", names)
            ingested.name = ingested.name or f"{item.name}#{reader.line_num}"
            out.append(ingested)
    except csv.Error as exc:
        raise FormatError(f"{item.name} line {reader.line_num}: {exc}") from None
    if not out:
        raise ItemRejected(f"{item.name}: no rows")
    return out


def read_txt(item: ItemInput, label_config: dict) -> list[IngestedItem]:
    text = check_text(decode_text(item.read(TEXT_FILE_LIMIT), item.name), item.name)
    return [IngestedItem(kind="text", text=text, name=item.name)]


def write_jsonl(pairs: Iterable, label_config: dict, fh: BinaryIO) -> None:
    for view, payload in pairs:
        record = {"id": view.id, "text": view.text, "labels": (payload or {}).get("labels", []), "meta": view.meta}
        fh.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))


def write_csv(pairs: Iterable, label_config: dict, fh: BinaryIO) -> None:
    wrapper = io.TextIOWrapper(fh, encoding="utf-8", newline="")
    writer = safe_writer(wrapper, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(["id", "text", "labels"])
    for view, payload in pairs:
        writer.writerow([view.id, view.text, "|".join((payload or {}).get("labels", []))])
    wrapper.flush()
    wrapper.detach()
