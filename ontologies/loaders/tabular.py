"""A simple user table: CSV or TSV with a header row.

Required columns: code, name. Optional: synonyms ('|'-separated), parent (or parents, '|'-separated),
semantic_type (or semantic_types, '|'-separated), billable (true/false/1/0/yes/no). Other columns are kept as
attributes. CSV uses standard quoting; TSV is read unquoted.
"""
from __future__ import annotations

import os

from ..errors import OntologyLoadError
from ..model import Concept, Terminology, TerminologyBuilder
from .reading import ProgressTracker, iter_lines, read_header_rows, single_path

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}
_KNOWN = {"code", "name", "synonyms", "parent", "parents", "semantic_type", "semantic_types", "billable"}


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split("|") if part.strip()]


def _delimiter(path: str, encoding: str | None) -> str:
    base = path.lower().removesuffix(".gz")
    if base.endswith((".tsv", ".tab")):
        return "\t"
    if base.endswith(".csv"):
        return ","
    for _, header in iter_lines(path, encoding):
        return "\t" if "\t" in header else ","
    raise OntologyLoadError("file is empty", path, 1)


def load(paths, name: str | None, version: str | None, tracker: ProgressTracker, encoding: str | None = None,
         licence: str | None = None, source: str | None = None) -> Terminology:
    path = single_path(paths)
    delimiter = _delimiter(path, encoding)
    stem = os.path.splitext(os.path.basename(path).removesuffix(".gz"))[0]
    builder = TerminologyBuilder(name or stem, version or "unversioned", source or os.path.basename(path),
                                 licence or "user-supplied file")
    rows = read_header_rows(path, delimiter, ("code", "name"), encoding, tracker, quoted=delimiter == ",")
    for line_no, row in rows:
        billable_text = (row.get("billable") or "").strip().lower()
        if billable_text not in _TRUE | _FALSE:
            raise OntologyLoadError(f"billable must be true/false, not {billable_text[:20]!r}", path, line_no)
        attributes: dict = {key: value for key, value in row.items() if key not in _KNOWN and value}
        if "billable" in row:
            attributes["billable"] = billable_text in _TRUE
        attributes["semantic_types"] = _split(row.get("semantic_types") or row.get("semantic_type"))
        parents = _split(row.get("parents") or row.get("parent"))
        builder.add(Concept(code=row["code"], name=row["name"].strip(), synonyms=_split(row.get("synonyms")),
                            parents=parents, attributes=attributes), (path, line_no))
    return builder.build()
