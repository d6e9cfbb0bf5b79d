"""Readers for clinical notes: plain text (.txt and .zip of .txt or of brat pairs), JSONL and CSV, plus the helpers
the annotated formats share (brat, BioC and PubTator live in their own modules). Each reader returns
`IngestedItem`s of kind "note"; labels carried by a file become payloads (our schema) in `IngestedItem.annotations`.

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

import fastjsonschema
import jsonschema

from annotators.base import MAX_RECORDS_PER_FILE, DocumentErrors, FormatError, IngestedItem, ItemRejected
from annotators.validation import _fast_validator

from .schema import ASSERTIONS, PAYLOAD_SCHEMA, semantic_errors

NOTE_KIND = "note"
DEFAULT_MAX_CHARS = 1_000_000
MAX_RECORDS = MAX_RECORDS_PER_FILE
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_TOTAL_BYTES = 256 * 1024 * 1024
_ALLOWED_CONTROLS = set("\t\n\r\f")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\x80-\x9f]")
# Files a brat corpus folder holds next to its documents: display and tool settings, a README, a licence.
_ZIP_SIDE_FILE = re.compile(r"^(?:(?!annotation\.conf$).*\.conf|(?:readme|licen[cs]e|notice|copying)(?:\.md)?)$",
                            re.IGNORECASE)
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
    """A note; its annotations must have gone through `check_payload` (every reader's contract)."""
    return IngestedItem(kind=NOTE_KIND, text=text, meta=meta, name=name, annotations=annotations or [],
                        schema_checked=True)


def _payload_valid(payload: dict) -> bool:
    """The compiled schema (fastjsonschema, ~20x faster): a 10,000-document import checks 300,000 spans."""
    fast = _fast_validator(PAYLOAD_SCHEMA)
    if fast is None:
        return False
    try:
        fast(payload)
    except fastjsonschema.JsonSchemaException:
        return False  # jsonschema then names the problem
    return True


def check_payload(payload: dict, text: str, where: str) -> dict:
    """Schema + offset checks for a payload that came with a file; fills missing span texts from the note."""
    error = None if _payload_valid(payload) else next(iter(_PAYLOAD_VALIDATOR.iter_errors(payload)), None)
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
_PUBTATOR_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*[^\t|\s]+\|[ta]\|")


def read_txt(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    """A plain note, unless the file is PubTator (`PMID|t|title` first): a note would hardly start that way."""
    if _PUBTATOR_START.match(data[:1024]):
        from .formats_pubtator import read_pubtator

        return read_pubtator(data, name, config)
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
    """A .zip of .txt notes, or of brat .txt/.ann pairs; a brat annotation.conf goes (parsed) into the meta of the
    notes of its folder and those below (`brat_conf`). Read in memory with hard caps; nothing touches disk."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise ItemRejected(f"{name}: not a readable zip archive") from None
    if len(entries) > max_entries:
        raise ItemRejected(f"{name}: {len(entries)} entries, more than the limit of {max_entries}")
    from .formats import reader_for  # (formats imports this module)

    per_entry = 4 * max_chars(config) + 4
    files: dict[str, bytes] = {}
    total = 0
    for entry in entries:
        entry_name = _safe_entry_name(entry, name)
        base = entry_name.rsplit("/", 1)[-1]
        if entry.is_dir() or entry_name.startswith("__MACOSX/") or base.startswith(".") or _ZIP_SIDE_FILE.match(base):
            continue  # folders, macOS resource forks, brat's visual.conf / tools.conf, a corpus's README or LICENSE
        if base != "annotation.conf" and not base.lower().endswith((".txt", ".ann")) and not reader_for(base):
            raise ItemRejected(f"{name}: entry {entry_name!r} is not a file this project imports (a .txt note, a brat "
                               ".ann, or a file of an annotation format such as .tsv, .json, .xml, .jsonl, .conll)")
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
    from .formats_brat import parse_annotation_conf, read_brat as read_brat_pair

    confs = {entry_name[:-len("annotation.conf")]: parse_annotation_conf(files.pop(entry_name), f"{name}/{entry_name}")
             for entry_name in [e for e in files if e.rsplit("/", 1)[-1] == "annotation.conf"]}
    items = []
    for entry_name in sorted(files):
        if entry_name.lower().endswith(".ann"):
            if entry_name[:-4] + ".txt" not in files:
                raise ItemRejected(f"{name}: brat file {entry_name!r} has no matching .txt")
            continue
        where = f"{name}/{entry_name}"
        if not entry_name.lower().endswith(".txt"):
            items.extend(reader_for(entry_name)(files[entry_name], where, config))
            continue
        ann = files.get(entry_name[:-4] + ".ann")
        conf = _brat_conf_for(confs, entry_name)
        if ann is not None:
            items.append(read_brat_pair(files[entry_name], ann, where, config, conf))
        else:
            for item in read_txt(files[entry_name], where, config):
                if conf:
                    item.meta["brat_conf"] = conf
                items.append(item)
    if not items:
        raise ItemRejected(f"{name}: the archive holds no notes")
    return items


def _brat_conf_for(confs: dict[str, dict], entry_name: str) -> dict | None:
    """brat applies the annotation.conf of a document's folder, else of the nearest folder above it."""
    folder = entry_name.rsplit("/", 1)[0] + "/" if "/" in entry_name else ""
    while True:
        if folder in confs:
            return confs[folder]
        if not folder:
            return None
        folder = folder[:-1].rsplit("/", 1)[0] + "/" if "/" in folder[:-1] else ""


_RESERVED_FIELDS = {"text", "spans", "relations", "payload", "annotations", "meta"}


_peer_reader = None


def _record_to_item(record: dict, where: str, config: dict | None) -> IngestedItem:
    global _peer_reader
    if _peer_reader is None:  # imported once, on first use (doccano and Prodigy records share the .jsonl extension)
        from .formats_jsonl_peers import peer_reader as _peer_reader

    peer = _peer_reader(record)
    if peer is not None:
        return peer(record, where, config)
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
    items, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(items) + len(errors) >= MAX_RECORDS:
            raise ItemRejected(f"{name}: more than {MAX_RECORDS} records")
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FormatError(f"{name} line {number}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise FormatError(f"{name} line {number}: expected a JSON object")
            items.append(_record_to_item(record, f"{name} line {number}", config))
        except (FormatError, ItemRejected) as exc:  # every bad line is named, not only the first
            errors.append(str(exc))
    from .formats_jsonl_peers import merge_prodigy

    if errors:
        raise DocumentErrors(name, merge_prodigy(items) if items else [], errors)
    if not items:
        raise ItemRejected(f"{name}: no records")
    return merge_prodigy(items)


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
# Flags (binary attributes, or values of an assertion-like attribute) that name an assertion; brat and MedCAT use them.
_FLAG_ASSERTIONS = {"negation": "negated", "negated": "negated", "uncertain": "possible", "speculated": "possible",
                    "speculation": "possible", "hedged": "possible", **{a: a for a in ASSERTIONS}}


def read_brat(txt_bytes: bytes, ann_bytes: bytes, name: str, config: dict | None = None,
              conf: dict | None = None) -> IngestedItem:
    """One brat .txt/.ann pair (the reader lives in formats_brat; importable from here as before)."""
    from .formats_brat import read_brat as read

    return read(txt_bytes, ann_bytes, name, config, conf)


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
