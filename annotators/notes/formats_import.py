"""Readers for clinical notes: plain text (.txt and .zip of .txt), JSONL, CSV, and the annotated formats brat,
Label Studio JSON and BioC XML. Each reader returns `IngestedItem`s of kind "note"; labels carried by a file become
payloads (our schema) in `IngestedItem.annotations`.

A file is accepted or rejected whole: a bad record, a hostile archive entry or an oversize note rejects the file with
a message naming the part that is wrong (file, line, entry, task), never quoting note text.
"""
from __future__ import annotations

import csv
import io
import json
import re
import stat
import zipfile

import jsonschema

from annotators.base import MAX_RECORDS_PER_FILE, FormatError, IngestedItem, ItemRejected

from .schema import ASSERTIONS, PAYLOAD_SCHEMA, layer_of_label, semantic_errors

NOTE_KIND = "note"
DEFAULT_MAX_CHARS = 1_000_000
MAX_RECORDS = MAX_RECORDS_PER_FILE
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_TOTAL_BYTES = 256 * 1024 * 1024
_ALLOWED_CONTROLS = set("\t\n\r\f")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\x80-\x9f]")
_PAYLOAD_VALIDATOR = jsonschema.Draft202012Validator(PAYLOAD_SCHEMA)


def max_chars(config: dict | None) -> int:
    return int((config or {}).get("max_chars") or DEFAULT_MAX_CHARS)


# ------------------------------------------------------------------------------------------------------- decoding
def decode_text(data: bytes, where: str, config: dict | None = None) -> tuple[str, str]:
    """Bytes -> (text, encoding). BOMs decide first (UTF-8, UTF-16, UTF-32); then strict UTF-8; Latin-1 (or
    Windows-1252 when its printable 0x80-0x9F range is used) only for bytes without NUL or control bytes."""
    limit = max_chars(config)
    if len(data) > 4 * limit + 4:
        raise ItemRejected(f"{where}: {len(data)} bytes is more than a note of at most {limit} characters can take")
    boms = [(b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
            (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")]
    encoding = next((enc for bom, enc in boms if data.startswith(bom)), None)
    if encoding:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            raise ItemRejected(f"{where}: starts with a {encoding} byte-order mark but is not valid {encoding}") from None
    else:
        if b"\x00" in data:
            raise ItemRejected(f"{where}: binary file (contains NUL bytes), not a text note")
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            if re.search(rb"[\x01-\x08\x0b\x0e-\x1f\x7f]", data):
                raise ItemRejected(f"{where}: binary file (not UTF-8 and contains control bytes)") from None
            encoding = "cp1252" if re.search(rb"[\x80-\x9f]", data) else "latin-1"
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                raise ItemRejected(f"{where}: binary file (neither UTF-8 nor Latin-1 text)") from None
    bad = _CONTROL.search(text)
    if bad:
        raise ItemRejected(f"{where}: binary or corrupt text (control character U+{ord(bad.group()):04X} "
                           f"at character {bad.start()})")
    return text, encoding


def check_note(text: str, where: str, config: dict | None) -> str:
    if not text.strip():
        raise ItemRejected(f"{where}: empty note")
    limit = max_chars(config)
    if len(text) > limit:
        raise ItemRejected(f"{where}: note has {len(text)} characters, more than this project's limit of {limit}")
    return text


def _note(text: str, name: str, meta: dict, annotations: list[dict] | None = None) -> IngestedItem:
    return IngestedItem(kind=NOTE_KIND, text=text, meta=meta, name=name, annotations=annotations or [])


def check_payload(payload: dict, text: str, where: str) -> dict:
    """Schema + offset checks for a payload that came with a file; fills missing span texts from the note."""
    error = next(iter(_PAYLOAD_VALIDATOR.iter_errors(payload)), None)
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise FormatError(f"{where}: annotation invalid at {path}: {error.message[:200]}")
    for span in payload["spans"]:
        if span["end"] > len(text) or span["start"] >= span["end"]:
            raise FormatError(f"{where}: span {span['id']!r} offsets {span['start']}-{span['end']} are outside the "
                              f"note ({len(text)} characters)")
        span.setdefault("text", text[span["start"]:span["end"]])
    problems = [p for p in semantic_errors(payload, {"entity_labels": [], "phi_labels": []}, text)
                if "unknown in the" not in p and "unknown type" not in p and "cannot link" not in p]
    if problems:
        raise FormatError(f"{where}: {problems[0]}")
    return payload


# ----------------------------------------------------------------------------------------------- plain formats
def read_txt(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    text, encoding = decode_text(data, name, config)
    return [_note(check_note(text, name, config), name, {"source_format": "txt", "encoding": encoding})]


def _safe_entry_name(entry: zipfile.ZipInfo, archive: str) -> str:
    name = entry.filename
    if ("\x00" in name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name)
            or any(part in ("..", "") for part in re.split(r"[\\/]", name.rstrip("/")))):
        raise ItemRejected(f"{archive}: entry {name!r} has an unsafe path (absolute or with '..')")
    if stat.S_ISLNK(entry.external_attr >> 16):
        raise ItemRejected(f"{archive}: entry {name!r} is a symbolic link")
    if entry.flag_bits & 0x1:
        raise ItemRejected(f"{archive}: entry {name!r} is encrypted")
    return name


def read_zip(data: bytes, name: str, config: dict | None = None, max_entries: int = MAX_ZIP_ENTRIES,
             max_total_bytes: int = MAX_ZIP_TOTAL_BYTES) -> list[IngestedItem]:
    """A .zip of .txt notes, or of brat .txt/.ann pairs. Read in memory with hard caps; nothing touches disk."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise ItemRejected(f"{name}: not a readable zip archive") from None
    if len(entries) > max_entries:
        raise ItemRejected(f"{name}: {len(entries)} entries, more than the limit of {max_entries}")
    per_entry = 4 * max_chars(config) + 4
    files: dict[str, bytes] = {}
    total = 0
    for entry in entries:
        entry_name = _safe_entry_name(entry, name)
        base = entry_name.rsplit("/", 1)[-1]
        if entry.is_dir() or entry_name.startswith("__MACOSX/") or base.startswith(".") or base.endswith(".conf"):
            continue  # folders, macOS resource forks, brat's annotation.conf / visual.conf
        if not base.lower().endswith((".txt", ".ann")):
            raise ItemRejected(f"{name}: entry {entry_name!r} is not a .txt note (or brat .ann)")
        if entry.file_size > per_entry or total + entry.file_size > max_total_bytes:
            raise ItemRejected(f"{name}: entry {entry_name!r} would exceed the size limits")
        try:  # the declared size may lie (zip bomb): read at most one byte past the cap
            with archive.open(entry) as handle:
                content = handle.read(min(per_entry, max_total_bytes - total) + 1)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError):
            raise ItemRejected(f"{name}: entry {entry_name!r} cannot be read (corrupt or unsupported)") from None
        total += len(content)
        if len(content) > per_entry or total > max_total_bytes:
            raise ItemRejected(f"{name}: entry {entry_name!r} decompresses past the size limits")
        files[entry_name] = content
    items = []
    for entry_name in sorted(files):
        if entry_name.lower().endswith(".ann"):
            if entry_name[:-4] + ".txt" not in files:
                raise ItemRejected(f"{name}: brat file {entry_name!r} has no matching .txt")
            continue
        ann = files.get(entry_name[:-4] + ".ann")
        where = f"{name}/{entry_name}"
        if ann is not None:
            items.append(read_brat(files[entry_name], ann, where, config))
        else:
            items.extend(read_txt(files[entry_name], where, config))
    if not items:
        raise ItemRejected(f"{name}: the archive holds no .txt notes")
    return items


_RESERVED_FIELDS = {"text", "spans", "relations", "payload", "annotations", "meta"}


def _record_to_item(record: dict, where: str, config: dict | None) -> IngestedItem:
    text = record.get("text")
    if not isinstance(text, str):
        raise FormatError(f"{where}: no 'text' field (a string) in the record")
    check_note(text, where, config)
    meta = {"source_format": "jsonl"}
    if isinstance(record.get("meta"), dict):
        meta.update(record["meta"])
    meta.update({k: v for k, v in record.items() if k not in _RESERVED_FIELDS and isinstance(v, (str, int, float, bool))})
    annotations = []
    if isinstance(record.get("payload"), dict):
        annotations.append(check_payload(record["payload"], text, where))
    elif isinstance(record.get("spans"), list):
        annotations.append(check_payload({"spans": record["spans"], "relations": record.get("relations", [])},
                                         text, where))
    return _note(text, str(record.get("name") or record.get("id") or where), meta, annotations)


def read_record(record: dict, name: str, config: dict | None = None) -> list[IngestedItem]:
    """One JSON record posted directly (same fields as a JSONL line)."""
    if not isinstance(record, dict):
        raise FormatError(f"{name}: a record must be a JSON object")
    return [_record_to_item(record, name, config)]


def read_jsonl(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    text, _ = decode_text(data, name, {"max_chars": max(len(data), 1)})
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(items) >= MAX_RECORDS:
            raise ItemRejected(f"{name}: more than {MAX_RECORDS} records")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{name} line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise FormatError(f"{name} line {number}: expected a JSON object")
        items.append(_record_to_item(record, f"{name} line {number}", config))
    if not items:
        raise ItemRejected(f"{name}: no records")
    return items


def read_csv(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    text, _ = decode_text(data, name, {"max_chars": max(len(data), 1)})
    # The csv module refuses fields over 128 kB by default; a note may be as long as the project allows.
    csv.field_size_limit(max(csv.field_size_limit(), max_chars(config) + 1))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header:
            raise FormatError(f"{name}: empty CSV (no header row)")
        columns = [h.strip() for h in header]
        lowered = [c.lower() for c in columns]
        if "text" not in lowered:
            shown = ", ".join(repr(c) for c in columns[:20])
            raise FormatError(f"{name}: no 'text' column in the header (columns: {shown})")
        text_index = lowered.index("text")
        items = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            where = f"{name} line {reader.line_num}"
            if len(row) != len(columns):
                raise FormatError(f"{where}: {len(row)} fields, the header has {len(columns)}")
            if len(items) >= MAX_RECORDS:
                raise ItemRejected(f"{name}: more than {MAX_RECORDS} rows")
            note = check_note(row[text_index], where, config)
            meta = {"source_format": "csv", **{c: v for i, (c, v) in enumerate(zip(columns, row)) if i != text_index}}
            items.append(_note(note, where, meta))
    except csv.Error as exc:
        raise FormatError(f"{name} line {reader.line_num}: malformed CSV ({exc})") from None
    if not items:
        raise ItemRejected(f"{name}: no rows")
    return items


# --------------------------------------------------------------------------------------------------------- brat
_BRAT_TEXTBOUND = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t(.*)$")
_BRAT_ATTRIBUTE = re.compile(r"^([AM]\d+)\t(\S+) (T\d+)(?: (\S+))?$")
_BRAT_RELATION = re.compile(r"^(R\d+)\t(\S+) Arg1:(T\d+) Arg2:(T\d+)\s*$")
_BRAT_NORMALIZATION = re.compile(r"^(N\d+)\t\S+ (T\d+) ([^:\s]+):(\S+)(?:\t(.*))?$")
_BRAT_NOTE = re.compile(r"^(#\d+)\t\S+ (T\d+)\t(.*)$")
_FLAG_ASSERTIONS = {"negation": "negated", "negated": "negated", "uncertain": "possible", "speculated": "possible",
                    **{a: a for a in ASSERTIONS}}


def read_brat(txt_bytes: bytes, ann_bytes: bytes, name: str, config: dict | None = None) -> IngestedItem:
    """One brat document: the .txt becomes the note, the .ann its annotation payload (T, R, A/M, N and # lines).
    A discontinuous span becomes one span over its whole extent, with its fragments in `attributes`."""
    text, encoding = decode_text(txt_bytes, name, config)
    check_note(text, name, config)
    ann_text, _ = decode_text(ann_bytes, f"{name}.ann", {"max_chars": max(len(ann_bytes), 1)})
    spans: dict[str, dict] = {}
    relations = []
    for number, line in enumerate(ann_text.splitlines(), start=1):
        where = f"{name}.ann line {number}"
        if not line.strip() or line[0] in "E*":  # events and equivalences have no counterpart in our payload
            continue
        if match := _BRAT_TEXTBOUND.match(line):
            sid, label, ranges, quoted = match.groups()
            fragments = [tuple(int(x) for x in r.split()) for r in ranges.split(";")]
            start, end = min(f[0] for f in fragments), max(f[1] for f in fragments)
            if end > len(text) or any(s >= e for s, e in fragments):
                raise FormatError(f"{where}: offsets {start}-{end} are beyond the end of the text "
                                  f"({len(text)} characters) or empty")
            if len(fragments) == 1 and text[start:end] != quoted:
                raise FormatError(f"{where}: span text does not match the .txt at {start}-{end}")
            span = {"id": sid, "start": start, "end": end, "label": label,
                    "layer": layer_of_label(label, config or {}), "text": text[start:end], "attributes": {}}
            if len(fragments) > 1:
                span["attributes"]["fragments"] = ";".join(f"{s} {e}" for s, e in fragments)
            spans[sid] = span
        elif match := _BRAT_ATTRIBUTE.match(line):
            _aid, attr, target, value = match.groups()
            span = _brat_target(spans, target, where)
            assertion = _FLAG_ASSERTIONS.get((value or attr).lower()) if attr.lower() in (
                "assertion", "status", "negation", "negated", "uncertain", "speculated") or value is None else None
            if assertion and span["layer"] == "entity":
                span["assertion"] = assertion
            else:
                span["attributes"][attr] = value or "true"
        elif match := _BRAT_RELATION.match(line):
            rid, rtype, head, tail = match.groups()
            _brat_target(spans, head, where), _brat_target(spans, tail, where)
            relations.append({"id": rid, "type": rtype, "head": head, "tail": tail})
        elif match := _BRAT_NORMALIZATION.match(line):
            _nid, target, terminology, code, concept_name = match.groups()
            concept = {"terminology": terminology, "code": code, "name": concept_name or ""}
            _brat_target(spans, target, where)["concept"] = concept
        elif match := _BRAT_NOTE.match(line):
            _brat_target(spans, match.group(2), where)["attributes"]["note"] = match.group(3)[:1000]
        else:
            raise FormatError(f"{where}: not a brat standoff line")
    payload = check_payload({"spans": list(spans.values()), "relations": relations}, text, name)
    return _note(text, name, {"source_format": "brat", "encoding": encoding}, [payload] if spans else [])


def _brat_target(spans: dict[str, dict], target: str, where: str) -> dict:
    if target not in spans:
        raise FormatError(f"{where}: refers to {target}, which is not defined above")
    return spans[target]


# ------------------------------------------------------------------------------------------ UTF-16 code units
def has_astral(text: str) -> bool:
    """Characters outside the BMP count twice in JavaScript (Label Studio) offsets, once in Python."""
    return any(ord(ch) > 0xFFFF for ch in text)


def utf16_to_index(text: str, units: int) -> int:
    count = 0
    for index, ch in enumerate(text):
        if count >= units:
            return index
        count += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def index_to_utf16(text: str, index: int) -> int:
    return index + sum(1 for ch in text[:index] if ord(ch) > 0xFFFF)
