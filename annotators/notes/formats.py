"""Import/export registry of the notes modality. The readers live in their own modules (formats_import: text,
zip, JSONL with doccano/Prodigy records, CSV; formats_brat, formats_bioc, formats_pubtator, formats_conll,
formats_webanno, formats_spacy, formats_medcat, formats_labelstudio); this module picks one per upload.

`importers()` and `exporters()` give the plugin its `Importer`/`Exporter` objects; `ingest(item, config)` picks a
reader from the upload's extension (or treats a posted JSON record like one JSONL line), and by content where two
formats share an extension (.json, .tsv, .txt).
"""
from __future__ import annotations

import json

from annotators.base import Exporter, FormatError, Importer, IngestedItem, ItemInput, ItemRejected, TEXT_FILE_LIMIT

from . import formats_export as export
from .formats_import import decode_text, read_brat, read_csv, read_jsonl, read_record, read_txt, read_zip
from .formats_bioc import is_bioc_json, read_bioc, read_bioc_json
from .formats_pubtator import read_pubtator
from .formats_labelstudio import read_label_studio


# ------------------------------------------------------------------------------------------------------ .json
def read_json(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    """A .json upload: a MedCATtrainer export ({"projects": ...}), BioC JSON (documents with passages) or,
    by default, a Label Studio export."""
    raw, _ = decode_text(data, name, {"max_chars": max(len(data), 1)})
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(parsed, dict) and isinstance(parsed.get("projects"), list):
        from .formats_medcat import read_medcat

        return read_medcat(parsed, name, config)
    if is_bioc_json(parsed):
        return read_bioc_json(data, name, config, parsed=parsed)
    return read_label_studio(data, name, config, parsed=parsed)


# ------------------------------------------------------------------------------------------------------- .tsv
def read_tsv(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    """A .tsv upload: WebAnno TSV 3 when it says so on its first line, else a CoNLL-style token-per-line file."""
    from .formats_conll import read_conll
    from .formats_webanno import is_webanno, read_webanno

    return read_webanno(data, name, config) if is_webanno(data) else read_conll(data, name, config)


def _read_conll(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    from .formats_conll import read_conll

    return read_conll(data, name, config)


def _read_docbin(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    from .formats_spacy import read_docbin  # imports spaCy: only when a .spacy file arrives

    return read_docbin(data, name, config)


# --------------------------------------------------------------------------------------------------- registry
_RAW_READERS = None


def reader_for(name: str):
    """The reader (bytes, name, config) for a file inside an archive, by extension; None for .zip (no archive in an
    archive) and unknown types. INCEpTION and doccano export one file per document in a zip."""
    global _RAW_READERS
    if _RAW_READERS is None:
        _RAW_READERS = [((".bioc.json",), read_bioc_json), ((".json",), read_json), ((".jsonl", ".ndjson"), read_jsonl),
                        ((".xml", ".bioc"), read_bioc), ((".pubtator",), read_pubtator), ((".tsv",), read_tsv),
                        ((".conll", ".conll03", ".iob", ".bio", ".bioes"), _read_conll), ((".spacy",), _read_docbin),
                        ((".csv",), read_csv)]
    lowered = name.lower()
    return next((function for extensions, function in _RAW_READERS if lowered.endswith(extensions)), None)


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
        "zip": Importer("zip", (".zip",), _reader(read_zip)),  # .txt notes, brat pairs, or files of other formats
        "jsonl": Importer("jsonl", (".jsonl", ".ndjson"), _reader(read_jsonl)),
        "csv": Importer("csv", (".csv",), _reader(read_csv)),
        "bioc_json": Importer("bioc_json", (".bioc.json",), _reader(read_bioc_json)),
        "label_studio": Importer("label_studio", (".json",), _reader(read_json)),  # or MedCAT, BioC JSON: by content
        "bioc": Importer("bioc", (".xml", ".bioc"), _reader(read_bioc)),
        "pubtator": Importer("pubtator", (".pubtator",), _reader(read_pubtator)),  # also sniffed in .txt
        "conll": Importer("conll", (".conll", ".conll03", ".iob", ".bio", ".bioes"), _reader(_read_conll)),
        "tsv": Importer("tsv", (".tsv",), _reader(read_tsv)),  # WebAnno TSV 3, or CoNLL-style columns
        "spacy": Importer("spacy", (".spacy",), _reader(_read_docbin)),
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


__all__ = ["ACCEPTS", "exporters", "importers", "ingest", "read_bioc", "read_bioc_json", "read_brat", "read_csv",
           "read_json", "read_jsonl", "read_label_studio", "read_pubtator", "read_tsv", "read_txt", "read_zip"]
