"""OBO 1.2/1.4 flat-file loader (HPO, GO, MONDO, DOID ... any OBO Foundry ontology).

A small streaming parser instead of obonet: it keeps line numbers for every error, needs no networkx graph, and
reads HPO's 10 MB file in a fraction of obonet's time. Only [Term] stanzas become concepts; obsolete terms are
skipped (their ids still count for duplicate detection).

The header gives the terminology its name (`ontology: mondo`), version (`data-version`, or owl:versionInfo) and
licence (`license:`, a dc/dcterms licence property_value, or a Creative Commons link in a `remark:`). Per term the
attributes keep what a coder and the pre-annotator need: `subsets`, `xrefs`, `icd10cm` (the ICD-10-CM codes among
the xrefs), `synonym_scopes` (text -> EXACT / RELATED / NARROW / BROAD, BROAD ones included although they are not
search names) and `abbreviations` (synonyms typed as abbreviation or acronym).
"""
from __future__ import annotations

import os
import re

from ..errors import OntologyLoadError
from ..model import Concept, Terminology, TerminologyBuilder
from .reading import ProgressTracker, iter_lines, single_path

# Synonym scopes kept by default: BROAD synonyms name a wider class and would mislead a coder.
DEFAULT_SCOPES = ("EXACT", "RELATED", "NARROW")
SKIPPED_SYNONYM_TYPES = ("obsolete_synonym",)
# Synonym types that mark a short form: MONDO's ABBREVIATION, HPO's abbreviation, OMO's abbreviation and acronym.
ABBREVIATION_TYPES = frozenset({"abbreviation", "acronym", "omo:0003000", "omo:0003012"})
LICENCE_PROPERTIES = frozenset({"license", "terms:license", "dc:license", "dcterms:license", "dc:rights",
                                "http://purl.org/dc/terms/license", "http://purl.org/dc/elements/1.1/license"})
_ICD10CM_XREF = re.compile(r"^ICD-?10-?CM(?:_[0-9_]+)?:(.+)$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CC_LINK = re.compile(r"https?://creativecommons\.org/\S+")


def load(paths, name: str | None, version: str | None, tracker: ProgressTracker, encoding: str | None = None,
         relationships: tuple[str, ...] = (), synonym_scopes: tuple[str, ...] = DEFAULT_SCOPES,
         licence: str | None = None, source: str | None = None) -> Terminology:
    path = single_path(paths)
    builder = TerminologyBuilder(name or "", version or "", source or os.path.basename(path), licence or "")
    header = parse_obo(path, builder, tracker, encoding, relationships, synonym_scopes)
    term = builder.terminology
    term.name = name or header.get("ontology", "").replace("/", "-") or os.path.splitext(os.path.basename(path))[0]
    term.version = version or header.get("data-version", "") or header.get("date", "") or "unversioned"
    term.licence = licence or header.get("license", "as stated by the file's publisher (user-supplied file)")
    for concept in term.concepts.values():
        concept.terminology = term.name
    return builder.build()


def parse_obo(path: str, builder: TerminologyBuilder, tracker: ProgressTracker | None, encoding: str | None = None,
              relationships: tuple[str, ...] = (), synonym_scopes: tuple[str, ...] = DEFAULT_SCOPES) -> dict:
    """Feeds every live [Term] of an OBO file into `builder`; returns the header tags (data-version, ...)."""
    header: dict[str, str] = {}
    stanza: str | None = None
    start_line = 0
    tags: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    default_namespace = ""
    for line_no, text in iter_lines(path, encoding, tracker):
        line = text.strip()
        if not line or line.startswith("!"):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise OntologyLoadError("malformed stanza header", path, line_no)
            if stanza == "Term":
                _flush_term(path, builder, start_line, tags, seen, default_namespace, relationships, synonym_scopes)
            stanza, start_line, tags = line[1:-1].strip(), line_no, []
            continue
        tag, separator, value = line.partition(":")
        if not separator:
            raise OntologyLoadError("malformed line (expected 'tag: value')", path, line_no)
        tag, value = tag.strip(), value.strip()
        if stanza is None:
            _read_header_tag(header, tag, value)
            if tag == "default-namespace":
                default_namespace = value
        else:
            tags.append((line_no, tag, value))
    if stanza == "Term":
        _flush_term(path, builder, start_line, tags, seen, default_namespace, relationships, synonym_scopes)
    if stanza is None and not header:
        raise OntologyLoadError("not an OBO file (no header and no stanzas)", path, 1)
    return header


def _read_header_tag(header: dict, tag: str, value: str) -> None:
    if tag in ("data-version", "ontology", "date", "format-version"):
        header.setdefault(tag, _release(value) if tag == "data-version" else value)
    elif tag == "license":
        header["license"] = value.strip('" ')
    elif tag == "remark" and "license" not in header and _CC_LINK.search(value):
        header["license"] = _CC_LINK.search(value).group(0).rstrip(".")
    elif tag == "property_value":
        parts = value.split(None, 1)
        if len(parts) == 2 and parts[0] in ("owl:versionInfo", "versionInfo") and "data-version" not in header:
            header["data-version"] = parts[1].split('"')[1] if '"' in parts[1] else parts[1].split()[0]
        elif len(parts) == 2 and parts[0] in LICENCE_PROPERTIES:
            header["license"] = parts[1].split('"')[1] if '"' in parts[1] else parts[1].split()[0]


def _release(value: str) -> str:
    """The release in a data-version: "releases/2016-09-01" and
    "http://purl.obolibrary.org/obo/mondo/releases/2024-06-04/mondo.owl" both give the date."""
    segments = [part for part in value.split("/") if part]
    dated = [part for part in segments if _DATE.match(part)]
    if dated:
        return dated[-1]
    named = [part for part in segments if not part.endswith((".owl", ".obo", ".json"))]
    return (named or segments or [value])[-1]


def _flush_term(path, builder, start_line, tags, seen, default_namespace, relationships, synonym_scopes) -> None:
    values: dict[str, list[tuple[int, str]]] = {}
    for line_no, tag, value in tags:
        values.setdefault(tag, []).append((line_no, value))
    ids = values.get("id")
    if not ids:
        raise OntologyLoadError("[Term] stanza without an id (truncated file?)", path, start_line)
    code = _strip_comment(ids[0][1])
    if code in seen:
        raise OntologyLoadError(f"duplicate id {code} (first defined on line {seen[code]})", path, ids[0][0])
    seen[code] = ids[0][0]
    if any(value.lower().startswith("true") for _, value in values.get("is_obsolete", [])):
        return
    names = values.get("name")
    if not names or not names[0][1]:
        raise OntologyLoadError(f"term {code} has no name (truncated file?)", path, start_line)
    synonyms, scopes, abbreviations = [], {}, []
    for line_no, value in values.get("synonym", []):
        text, scope, synonym_type = _parse_synonym(value, path, line_no)
        if synonym_type in SKIPPED_SYNONYM_TYPES or not text.strip():
            continue
        scopes.setdefault(text.strip(), scope)
        if synonym_type.lower() in ABBREVIATION_TYPES:
            abbreviations.append(text.strip())
        if scope in synonym_scopes:
            synonyms.append(text)
    namespace = values.get("namespace", [(0, default_namespace)])[0][1]
    attributes: dict = {"semantic_types": [namespace] if namespace else []}
    if scopes:
        attributes["synonym_scopes"] = scopes
    if abbreviations:
        attributes["abbreviations"] = abbreviations
    if "subset" in values:
        attributes["subsets"] = [_strip_comment(value) for _, value in values["subset"]]
    xrefs = [_xref(value) for _, value in values.get("xref", [])]
    if any(xrefs):
        attributes["xrefs"] = [xref for xref in xrefs if xref]
        icd10cm = [m.group(1).strip() for m in map(_ICD10CM_XREF.match, attributes["xrefs"]) if m]
        if icd10cm:
            attributes["icd10cm"] = list(dict.fromkeys(icd10cm))
    if "alt_id" in values:
        attributes["alt_ids"] = [_strip_comment(value) for _, value in values["alt_id"]]
    if "def" in values:
        definition = values["def"][0][1]
        if definition.startswith('"'):
            definition = _parse_quoted(definition, path, values["def"][0][0])[0]
        attributes["definition"] = definition
    builder.add(Concept(code=code, name=names[0][1], synonyms=synonyms, attributes=attributes), (path, start_line))
    for line_no, value in values.get("is_a", []):
        builder.add_parent(code, _strip_comment(value).split()[0], (path, line_no))
    for line_no, value in values.get("relationship", []):
        parts = _strip_comment(value).split()
        if len(parts) >= 2 and parts[0] in relationships:
            builder.add_parent(code, parts[1], (path, line_no))


def _xref(value: str) -> str:
    """'ICD10CM:E11 {source="MONDO:equivalentTo"} ! type 2 diabetes' -> 'ICD10CM:E11' (OBO 1.2's quoted
    description after the id goes too)."""
    words = _strip_comment(value).split('"', 1)[0].split()
    return words[0] if words else ""


def _strip_comment(value: str) -> str:
    value = value.split(" !", 1)[0]
    return value.split("{", 1)[0].strip()


def _parse_quoted(value: str, path: str, line_no: int) -> tuple[str, str]:
    """Splits '"text with \\" escapes" rest' into (text, rest); an unterminated quote is an error."""
    chars = []
    i = 1
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            chars.append(value[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(chars), value[i + 1:].strip()
        chars.append(ch)
        i += 1
    raise OntologyLoadError("unterminated quoted text (truncated line?)", path, line_no)


def _parse_synonym(value: str, path: str, line_no: int) -> tuple[str, str, str]:
    if not value.startswith('"'):
        raise OntologyLoadError("synonym must start with a quoted text", path, line_no)
    text, rest = _parse_quoted(value, path, line_no)
    words = rest.split("[", 1)[0].split()
    scope = words[0].upper() if words else "RELATED"
    synonym_type = words[1] if len(words) > 1 else ""
    return text, scope, synonym_type
