"""PubTator (the BioCreative / NCBI-disease / BC5CDR / tmVar exchange format).

    PMID|t|title
    PMID|a|abstract
    PMID<TAB>start<TAB>end<TAB>mention<TAB>type<TAB>id(s)[<TAB>extra...]
    PMID<TAB>CID<TAB>D008750<TAB>D003866                      (a relation between concepts, BC5CDR)
    <blank line>

Offsets count characters of title + one separator + abstract. The note is `title + "\\n" + abstract`: the same
offsets, and an exporter can find the title again (a title has no line break; with a space it could not). One file
holds many documents: one note each. The FBK variant (`PMID<TAB>T1<TAB>type<TAB>start<TAB>end<TAB>mention`) is read
too.

Concept ids: "D003920", "MESH:D003920" -> MeSH, "OMIM:601107" -> OMIM, "C0011849" -> UMLS, digits -> NCBI Gene for
genes and NCBI Taxonomy for species; "D001|D002" (alternatives) or "D001+D002" (a composite) -> concept + candidates,
with the id column kept as written in `attributes["pubtator_id"]`; "-1" or empty -> none. A tmVar normalisation
("c|SUB|G|860|C") is one code. BC5CDR's composite mentions keep their individual mentions in
`attributes["individual_mentions"]`; other extra columns are kept as `PREFIX:code` candidates (tmVar's RSID) or as
`attributes["column7"]`...

Relation lines relate concepts, not mentions. Each becomes one relation of its type (e.g. CID) from the first mention
that carries the first id to the first mention that carries the second. Every relation line is also kept as written
in the item's meta (`pubtator_relations`, [[type, id1, id2], ...]), so none is lost when an id has no mention.
"""
from __future__ import annotations

import functools
import re

from annotators.base import DocumentErrors, FormatError, IngestedItem, ItemRejected

from .formats_import import MAX_RECORDS, MAX_ZIP_TOTAL_BYTES, _note, check_note, check_payload, decode_text
from .schema import layer_of_label

_HEADER = re.compile(r"^([^\t|]+)\|([ta])\|(.*)$")
_PREFIXED = re.compile(r"^([A-Za-z][A-Za-z0-9_ .\-]{0,63}):(\S{1,128})$")
_MESH = re.compile(r"^(?:D\d{6,9}|C\d{6})$")
_UMLS = re.compile(r"^C\d{7}$")
_DIGITS = re.compile(r"^\d{1,20}$")
_FBK_ID = re.compile(r"^T\d+$")
_ID_SEPARATORS = re.compile(r"[|+,;]")
_NO_ID = {"", "-", "-1", "none", "null", "n/a"}
_PREFIXES = {"mesh": "MeSH", "omim": "OMIM", "umls": "UMLS", "cui": "UMLS", "ncbigene": "NCBIGene",
             "ncbi gene": "NCBIGene", "gene": "NCBIGene", "ncbitaxon": "NCBITaxon", "ncbi taxonomy": "NCBITaxon",
             "taxonomy": "NCBITaxon", "chebi": "ChEBI", "rsid": "dbSNP", "rs": "dbSNP", "hgnc": "HGNC",
             "go": "GO", "cellosaurus": "Cellosaurus", "cvcl": "Cellosaurus"}
_GENE_LABELS = {"gene", "geneorgeneproduct", "protein", "gene_or_gene_product"}
_SPECIES_LABELS = {"species", "organism", "organismtaxon"}
_VARIANT_LABELS = {"mutation", "dnamutation", "proteinmutation", "snp", "variant", "sequencevariant",
                   "dnaallele", "proteinallele", "acidchange"}


def _one_id(token: str, label: str) -> dict | None:
    token = token.strip()
    if token.lower() in _NO_ID:
        return None
    match = _PREFIXED.match(token)
    if match:
        prefix, code = match.groups()
        return {"terminology": _PREFIXES.get(prefix.lower(), prefix), "code": code, "name": ""}
    if _MESH.match(token):
        return {"terminology": "MeSH", "code": token, "name": ""}
    if _UMLS.match(token):
        return {"terminology": "UMLS", "code": token, "name": ""}
    if token.startswith("rs") and _DIGITS.match(token[2:]):
        return {"terminology": "dbSNP", "code": token, "name": ""}
    if _DIGITS.match(token):
        kind = label.lower()
        if kind in _GENE_LABELS:
            return {"terminology": "NCBIGene", "code": token, "name": ""}
        if kind in _SPECIES_LABELS:
            return {"terminology": "NCBITaxon", "code": token, "name": ""}
    return None


def concepts_from_ids(raw: str, label: str, fallback: str = "PubTator") -> tuple[list[dict], bool]:
    """Concepts named by an id field ("D001|D002", "MESH:D001", "OMIM:1+OMIM:2", "672"), and whether the field
    needs keeping as written (several ids, or a code we could not place). Shared with the BioC reader."""
    concepts, keep = _concepts_cached(raw, label, fallback)
    return [dict(c) for c in concepts], keep  # copies: a corpus names the same concept thousands of times


@functools.lru_cache(maxsize=65536)
def _concepts_cached(raw: str, label: str, fallback: str) -> tuple[tuple[dict, ...], bool]:
    concepts, keep = _concepts(raw, label, fallback)
    return tuple(concepts), keep


def _concepts(raw: str, label: str, fallback: str) -> tuple[list[dict], bool]:
    raw = raw.strip()
    if raw.lower() in _NO_ID:
        return [], False
    tokens = [t for t in _ID_SEPARATORS.split(raw) if t.strip()]
    concepts = [_one_id(t, label) for t in tokens]
    if tokens and all(concepts):
        unique = list({(c["terminology"], c["code"]): c for c in concepts}.values())
        return unique[:51], len(tokens) > 1
    if len(raw) > 128:
        return [], True
    terminology = "tmVar" if label.lower() in _VARIANT_LABELS else fallback
    return [{"terminology": terminology, "code": raw, "name": ""}], False


def apply_concepts(span: dict, concepts: list[dict]) -> None:
    if concepts:
        span["concept"] = concepts[0]
        if len(concepts) > 1:
            span["candidates"] = concepts[1:51]


def read_pubtator(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    """A PubTator file: one note per document (see the module docstring)."""
    if len(data) > MAX_ZIP_TOTAL_BYTES:
        raise ItemRejected(f"{name}: larger than {MAX_ZIP_TOTAL_BYTES} bytes")
    content, _ = decode_text(data, name, {"max_chars": max(len(data), 1)})
    items: list[IngestedItem] = []
    errors: list[str] = []  # per document: the file is refused, or its valid documents kept (DocumentErrors)
    document: _Document | None = None

    def close(doc: _Document) -> None:
        if doc.error:
            errors.append(doc.error)
            return
        try:
            items.append(doc.finish(config))
        except (FormatError, ItemRejected) as exc:
            errors.append(str(exc) if f"document {doc.pmid[:40]}" in str(exc) else f"{exc} (document {doc.pmid[:40]})")

    for number, line in enumerate(content.split("\n"), start=1):  # not splitlines(): U+2028 may sit in a title
        line = line.removesuffix("\r")
        if not line.strip():
            if document is not None:
                close(document)
                document = None
            continue
        header = _HEADER.match(line)
        if header:
            pmid, part, value = header.groups()
            if document is not None and (document.pmid != pmid or part in document.parts or document.mentions):
                close(document)  # a missing blank line between two documents
                document = None
            if document is None:
                if len(items) + len(errors) >= MAX_RECORDS:
                    raise ItemRejected(f"{name}: more than {MAX_RECORDS} documents")
                document = _Document(pmid, name, number)
            document.parts[part] = value
            continue
        columns = line.split("\t")
        if document is None:
            raise FormatError(f"{name} line {number}: an annotation line before any 'PMID|t|' title line")
        if columns[0] != document.pmid:
            raise FormatError(f"{name} line {number}: document id {columns[0][:40]!r} differs from the "
                              f"document above ({document.pmid[:40]!r}); is a blank line missing?")
        try:
            document.add(columns, number)
        except FormatError as exc:
            document.error = document.error or f"{exc} (document {document.pmid[:40]})"
    if document is not None:
        close(document)
    if errors:
        raise DocumentErrors(name, items, errors)
    if not items:
        raise ItemRejected(f"{name}: no PubTator documents ('PMID|t|title' lines)")
    return items


class _Document:
    def __init__(self, pmid: str, name: str, line: int):
        self.pmid, self.name, self.line = pmid, name, line
        self.error: str | None = None
        self.parts: dict[str, str] = {}
        self.mentions: list[tuple[int, list[str]]] = []
        self.relation_lines: list[tuple[int, list[str]]] = []

    def add(self, columns: list[str], number: int) -> None:
        if len(columns) >= 5 and columns[1].isdigit() and columns[2].isdigit():
            self.mentions.append((number, columns))
        elif len(columns) == 6 and _FBK_ID.match(columns[1]) and columns[3].isdigit() and columns[4].isdigit():
            # FBK variant: PMID, T1, type, start, end, mention -> the usual column order
            self.mentions.append((number, [columns[0], columns[3], columns[4], columns[5], columns[2], ""]))
        elif len(columns) >= 3 and columns[1] and not columns[1].isdigit():
            self.relation_lines.append((number, columns))  # (tmVar also writes 3-column ones, with one id)
        else:
            raise FormatError(f"{self.name} line {number}: not a PubTator line (expected a mention 'PMID start end "
                              "mention type id' or a relation 'PMID type id1 id2', tab-separated)")

    def finish(self, config: dict | None) -> IngestedItem:
        where = f"{self.name} document {self.pmid[:40]}"
        if "t" not in self.parts and "a" not in self.parts:
            raise FormatError(f"{self.name} line {self.line}: document without a title or abstract line")
        text = self.parts.get("t", "")
        if "a" in self.parts:
            text += "\n" + self.parts["a"]
        check_note(text, where, config)
        spans, by_id, mismatched = [], {}, []
        for number, columns in self.mentions:
            start, end = int(columns[1]), int(columns[2])
            if not start < end <= len(text):
                raise FormatError(f"{self.name} line {number}: offsets {start}-{end} are outside the document "
                                  f"({len(text)} characters) or empty")
            if text[start:end] != columns[3]:
                mismatched.append(number)
            label = columns[4].strip() or "ENTITY"
            if len(label) > 64:
                raise FormatError(f"{self.name} line {number}: type longer than 64 characters")
            sid = f"T{len(spans) + 1}"
            span = {"id": sid, "start": start, "end": end, "label": label, "layer": layer_of_label(label, config or {}),
                    "text": text[start:end], "attributes": {}}
            if mismatched and mismatched[-1] == number:
                span["attributes"]["pubtator_mention"] = columns[3][:1000]
            raw = columns[5] if len(columns) > 5 else ""
            concepts, keep_raw = concepts_from_ids(raw, label)
            apply_concepts(span, concepts)
            if keep_raw:
                span["attributes"]["pubtator_id"] = raw.strip()[:1000]
            self._extra_columns(span, columns[6:], raw)
            # a relation line may name "MESH:D001" where the mention has "D001", or the other way round
            for key in [raw.strip(), *(t.strip() for t in _ID_SEPARATORS.split(raw)), *(c["code"] for c in concepts)]:
                by_id.setdefault(key, sid)
            spans.append(span)
        # Published corpora carry the odd mention string that differs from the text (NCBI-disease's training set
        # has one): the offsets win and the string is kept. Most of a document wrong means wrong offsets: refused.
        if len(mismatched) * 2 > len(self.mentions):
            raise FormatError(f"{self.name} line {mismatched[0]}: the mention does not match the text at its offsets "
                              f"({len(mismatched)} of the document's {len(self.mentions)} mentions do not)")
        relations, kept = [], []
        for number, columns in self.relation_lines:
            rtype, first = columns[1].strip(), columns[2].strip()
            second = columns[3].strip() if len(columns) > 3 else ""
            kept.append([c.strip() for c in columns[1:]])
            head, tail = _mention(by_id, first), _mention(by_id, second) if second else None
            if head and tail and len(rtype) <= 64:
                relations.append({"id": f"R{len(relations) + 1}", "type": rtype, "head": head, "tail": tail})
        meta = {"source_format": "pubtator", "pmid": self.pmid}
        if mismatched:
            meta["pubtator_mention_mismatches"] = len(mismatched)
        if kept:
            meta["pubtator_relations"] = kept
            meta["pubtator_relations_without_mentions"] = len(kept) - len(relations)
        payloads = [check_payload({"spans": spans, "relations": relations}, text, where)] if spans else []
        return _note(text, self.pmid, meta, payloads)

    @staticmethod
    def _extra_columns(span: dict, extra: list[str], raw: str) -> None:
        for index, value in enumerate(extra, start=7):
            value = value.strip()
            if not value:
                continue
            if index == 7 and "|" in value and value.count("|") == raw.count("|"):
                span["attributes"]["individual_mentions"] = value[:1000]
                continue
            prefixed = [_PREFIXED.match(t) for t in value.split(";")]
            if all(prefixed) and len(span.get("candidates", [])) + len(prefixed) <= 50:
                for match in prefixed:
                    span.setdefault("candidates", []).append(
                        {"terminology": _PREFIXES.get(match.group(1).lower(), match.group(1)),
                         "code": match.group(2), "name": ""})
            else:
                span["attributes"][f"column{index}"] = value[:1000]


def _mention(by_id: dict[str, str], concept: str) -> str | None:
    """The first mention carrying a concept id, with or without its prefix ("MESH:D001" / "D001")."""
    found = by_id.get(concept)
    if found is None and ":" in concept:
        found = by_id.get(concept.split(":", 1)[1])
    return found
