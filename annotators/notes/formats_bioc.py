"""BioC XML and BioC JSON (the `bioc` package's layout): one note per document.

Text: each passage's text sits at its offset; a passage without text contributes its sentences' texts at theirs.
Gaps are padded (newlines between passages, spaces between sentences) so every offset of the file stays right; a
document whose first passage starts past 0 (a collection numbered on) is shifted to start at 0, the shift kept in
`meta["bioc_offset"]`.

Offsets: characters by default, UTF-8 bytes where the collection or document declares it with an infon
(`offset_unit` = `bytes` / `characters`). Undeclared, the reading that makes the annotations' own <text> match
wins (characters, else bytes); so does INCEpTION's reading of annotation offsets relative to their passage or
sentence, for files written that way. Annotations whose <text> still differs are kept at their offsets and counted
in `meta["bioc_text_mismatches"]`.

Annotations at document, passage and sentence level. The label is the `type` infon, else `label` / `Type` /
`class` / `category` / `value`; none of them -> "ENTITY". A Java-style type (`custom.Span`,
`de.tudarmstadt...NamedEntity`, INCEpTION) next to a label/value infon: that infon gives the label, the type stays in
`attributes["type"]`.
Identifier infons (`identifier`, `MESH`, `NCBI Gene`, `cui`, ...) become the concept (several ids: + candidates);
the other infons become attributes (a key given twice joins its values with "|"). Several locations make one span over
their extent with `attributes["fragments"]`. An annotation without a location, or of length 0, is skipped and counted
(`meta["bioc_annotations_skipped"]`).

Relations: a role named head/arg1/source/subject/from picks the head, else the first node; every other node gives one
relation from the head. A relation without nodes that names concept ids in its infons (BC5CDR's CID) links the first
mentions of those concepts; relations that cannot be placed (one node, nodes naming relations) are counted
(`meta["bioc_relations_skipped"]`).
Relation infons other than the type are not kept: the payload's relations carry none.
"""
from __future__ import annotations

import bisect
import json

from annotators.base import FormatError, IngestedItem, ItemRejected

from .formats_import import MAX_RECORDS, MAX_ZIP_TOTAL_BYTES, _note, check_note, check_payload, decode_text
from .formats_bioc_nodes import _int, _json_infons, _json_node, _xml_node
from .formats_pubtator import apply_concepts, concepts_from_ids
from .schema import ASSERTIONS, LAYERS, layer_of_label

_LABEL_KEYS = ("type", "label", "Type", "Label", "class", "category", "value")
_ID_KEYS = {"identifier": "", "identifiers": "", "mesh": "MeSH", "ncbi gene": "NCBIGene", "ncbi_gene": "NCBIGene",
            "ncbi taxonomy": "NCBITaxon", "cui": "", "umls": "UMLS", "omim": "OMIM", "chebi": "ChEBI",
            "concept_id": "", "db_id": ""}
_UNIT_KEYS = ("offset_unit", "offset-unit", "offset_units", "offsets", "offset unit")
_HEAD_ROLES = ("head", "arg1", "source", "subject", "from", "governor")
_RELATION_TYPE_KEYS = ("type", "relation", "label", "Type", "relation_type")


# ---------------------------------------------------------------------------------------------------- parsing
def read_bioc(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    """BioC XML. Entity declarations (billion laughs) and external references (XXE) are refused by defusedxml.
    A file in an ASCII-compatible encoding without any `<!ENTITY` cannot declare an entity, so it is parsed by the
    standard library's C parser (which never loads an external DTD): 1.6x faster on a large collection."""
    from xml.etree.ElementTree import fromstring as plain_fromstring

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    if len(data) > MAX_ZIP_TOTAL_BYTES:
        raise ItemRejected(f"{name}: larger than {MAX_ZIP_TOTAL_BYTES} bytes")
    try:
        if b"\x00" not in data[:4] and b"<!ENTITY" not in data:
            root = plain_fromstring(data)
        else:
            root = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise FormatError(f"{name}: XML entity declarations and external references are not accepted") from None
    except ParseError as exc:
        raise FormatError(f"{name}: not well-formed XML ({exc})") from None
    if root.tag != "collection":
        raise FormatError(f"{name}: not a BioC collection (root element <{root.tag}>)")
    infons = [(i.get("key") or "", i.text or "") for i in root.findall("infon")]
    documents = []
    for number, element in enumerate(root.iterfind("document"), start=1):
        if number > MAX_RECORDS:
            raise ItemRejected(f"{name}: more than {MAX_RECORDS} documents")
        documents.append(_xml_node(element, f"{name} document {number}"))
    meta = {"source_format": "bioc", "bioc_source": (root.findtext("source") or "")[:200]}
    return _items(documents, infons, name, config, meta)


def is_bioc_json(parsed) -> bool:
    """A BioC JSON collection, document, or list of documents (Label Studio tasks have `data`, not `passages`)."""
    if isinstance(parsed, dict):
        return "documents" in parsed or "passages" in parsed
    return isinstance(parsed, list) and bool(parsed) and isinstance(parsed[0], dict) and "passages" in parsed[0]


def read_bioc_json(data: bytes, name: str, config: dict | None = None, parsed=None) -> list[IngestedItem]:
    """BioC JSON: a collection {"documents": [...]}, one document {"passages": [...]}, or a list of documents."""
    if parsed is None:
        if len(data) > MAX_ZIP_TOTAL_BYTES:
            raise ItemRejected(f"{name}: larger than {MAX_ZIP_TOTAL_BYTES} bytes")
        raw, _ = decode_text(data, name, {"max_chars": max(len(data), 1)})
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    infons, source = [], ""
    if isinstance(parsed, dict) and "documents" in parsed:
        infons, source = _json_infons(parsed.get("infons"), name), str(parsed.get("source") or "")
        docs = parsed["documents"]
    else:
        docs = [parsed] if isinstance(parsed, dict) else parsed
    if not isinstance(docs, list):
        raise FormatError(f"{name}: 'documents' must be a list")
    if len(docs) > MAX_RECORDS:
        raise ItemRejected(f"{name}: more than {MAX_RECORDS} documents")
    documents = [_json_node(doc, f"{name} document {n}") for n, doc in enumerate(docs, start=1)]
    return _items(documents, infons, name, config, {"source_format": "bioc_json", "bioc_source": source[:200]})


# ----------------------------------------------------------------------------------------------------- notes
def _declared_unit(infons: list[tuple[str, str]]) -> str | None:
    for key, value in infons:
        if key.lower() in _UNIT_KEYS:
            value = value.lower()
            if "byte" in value or "utf-8" in value or "utf8" in value:
                return "byte"
            if "char" in value or "unicode" in value or "code point" in value:
                return "char"
    return None


def _items(documents: list[dict], infons: list, name: str, config: dict | None, meta: dict) -> list[IngestedItem]:
    if not documents:
        raise ItemRejected(f"{name}: the collection holds no documents")
    unit = _declared_unit(infons)
    return [_Document(document, f"{name} document {document['id'][:60] or number}", config or {}).item(unit, meta)
            for number, document in enumerate(documents, start=1)]


class _Document:
    def __init__(self, document: dict, where: str, config: dict):
        self.document, self.where, self.config = document, where, config
        # (offset, text, separator before it) of the pieces of text; annotations with their container's offset
        self.segments: list[tuple[int, str, str]] = []
        self.annotations: list[tuple[int, dict]] = [(0, a) for a in document["annotations"]]
        self.relations: list[dict] = list(document["relations"])
        for passage in sorted(document["passages"], key=lambda p: p["offset"]):
            if passage["text"]:
                self.segments.append((passage["offset"], passage["text"], "\n"))
            sentences = sorted(passage["sentences"], key=lambda s: s["offset"])
            for index, sentence in enumerate(sentences):
                if not passage["text"] and sentence["text"]:
                    self.segments.append((sentence["offset"], sentence["text"], " " if index else "\n"))
                self.annotations += [(sentence["offset"], a) for a in sentence["annotations"]]
                self.relations += sentence["relations"]
            self.annotations += [(passage["offset"], a) for a in passage["annotations"]]
            self.relations += passage["relations"]
        self.base = min((s[0] for s in self.segments), default=0)
        self.skipped_ids: set[str] = set()
        self.layers: dict[str, str] = {}

    def _text(self, unit: str) -> tuple[str, list[int], dict[int, int] | None]:
        """The note text, region starts/ends (sorted, alternating) and, for bytes, byte -> character offsets."""
        parts, regions, length, chars = [], [], 0, 0
        for offset, text, separator in self.segments:
            offset -= self.base
            if offset < length:
                raise FormatError(f"{self.where}: a passage or sentence at offset {offset + self.base} overlaps the "
                                  "one before it")
            parts.append(separator * (offset - length) if length or offset else "")
            chars += offset - length
            size = len(text.encode("utf-8")) if unit == "byte" else len(text)
            regions += [chars, chars + len(text)]
            parts.append(text)
            length, chars = offset + size, chars + len(text)
        text = "".join(parts)
        if unit != "byte":
            return text, regions, None
        positions, position = {}, 0
        for index, char in enumerate(text):
            positions[position] = index
            position += 1 if char < "\x80" else len(char.encode("utf-8"))
        positions[position] = len(text)
        return text, regions, positions

    def _locate(self, reading: tuple, text: str, regions: list[int], positions, container: int, annotation: dict):
        """(fragments in characters or None if a location falls outside, quote matches, inside one region)."""
        relative = reading[1]
        fragments = []
        for offset, length in annotation["locations"]:
            start = offset + (container if relative else 0) - self.base
            end = start + length
            if positions is not None:
                start, end = positions.get(start, -1), positions.get(end, -1)
            if start < 0 or end > len(text) or end <= start:
                return None, False, False
            fragments.append((start, end))
        start, end = min(f[0] for f in fragments), max(f[1] for f in fragments)
        quoted = annotation["text"]
        quote_ok = len(fragments) == 1 and quoted is not None and text[start:end] == quoted
        index = bisect.bisect_right(regions, start)
        inside = index % 2 == 1 and end <= regions[index]
        return fragments, quote_ok, inside

    def item(self, collection_unit: str | None, base_meta: dict) -> IngestedItem:
        annotations, skipped = [], 0
        for container, annotation in self.annotations:
            if any(o < 0 or n < 0 for o, n in annotation["locations"]):
                raise FormatError(f"{self.where}: annotation {annotation['id'][:64]!r} has a negative offset or length")
            if not annotation["locations"] or all(n == 0 for _, n in annotation["locations"]):
                skipped += 1
                self.skipped_ids.add(annotation["id"])
                continue
            annotations.append((container, annotation))
        unit = _declared_unit(self.document["infons"]) or collection_unit
        units = [unit] if unit else ["char", "byte"]
        has_relative = any(container != 0 for container, _ in annotations)
        quotes = sum(a["text"] is not None and len(a["locations"]) == 1 for _, a in annotations)
        best, error = None, None
        readings = [(u, r) for u in units for r in ((False, True) if has_relative else (False,))]
        built_for: dict[str, tuple] = {}
        for reading in readings:
            if reading[0] not in built_for:
                try:
                    built_for[reading[0]] = self._text(reading[0])
                except FormatError as exc:  # passages overlap when read in this unit
                    built_for[reading[0]], error = None, error or exc
            built = built_for[reading[0]]
            if built is None or (reading[0] == "byte" and best is not None and built[0].isascii()):
                continue  # bytes are characters in an ASCII text: nothing new to try
            placed = [self._locate(reading, *built, c, a) for c, a in annotations]
            score = (sum(q for _, q, _ in placed), sum(i for _, _, i in placed),
                     sum(f is not None for f, _, _ in placed))
            if best is None or score > best[0]:
                best = (score, built, placed)
            if score[2] == len(annotations) and score[0] == quotes:
                break  # every annotation lands and every quote matches: no other reading can do better
        if best is None:
            raise error
        _score, (text, _regions, _positions), placed = best
        check_note(text, self.where, self.config)
        spans, mismatches = [], 0
        for (_container, annotation), (fragments, quote_ok, _inside) in zip(annotations, placed):
            if fragments is None:
                raise FormatError(f"{self.where}: annotation {annotation['id'][:64]!r} lies beyond the text "
                                  f"({len(text)} characters) or is empty")
            mismatches += len(fragments) == 1 and annotation["text"] is not None and not quote_ok
            spans.append(self._span(annotation, fragments, text, len(spans)))
        ids = [s["id"] for s in spans]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise FormatError(f"{self.where}: annotation id {duplicate[:64]!r} is used twice")
        relations, relations_skipped = self._relations(spans)
        meta = {**base_meta, "bioc_id": self.document["id"][:200]}
        infons = {k[:64]: v[:1000] for k, v in self.document["infons"][:100] if k}
        if infons:
            meta["bioc_infons"] = infons
        if self.base:
            meta["bioc_offset"] = self.base
        for key, count in (("bioc_text_mismatches", mismatches), ("bioc_annotations_skipped", skipped),
                           ("bioc_relations_skipped", relations_skipped)):
            if count:
                meta[key] = count
        payloads = [check_payload({"spans": spans, "relations": relations}, text, self.where)] if spans else []
        return _note(text, self.document["id"][:200] or self.where, meta, payloads)

    def _layer(self, label: str) -> str:
        layer = self.layers.get(label)
        if layer is None:
            layer = self.layers[label] = layer_of_label(label, self.config)
        return layer

    def _span(self, annotation: dict, fragments: list[tuple[int, int]], text: str, index: int) -> dict:
        infons: dict[str, str] = {}
        for key, value in annotation["infons"]:
            if key:
                infons[key] = f"{infons[key]}|{value}" if key in infons and value not in infons[key].split("|") \
                    else value
        java_type = infons.get("type", "")
        detail = next((k for k in ("label", "value") if infons.get(k, "").strip()), None)
        if detail and "." in java_type and " " not in java_type:  # INCEpTION: custom.Span + its label feature
            label = infons.pop(detail)
        else:
            key = next((k for k in _LABEL_KEYS if infons.get(k, "").strip()), None)
            label = infons.pop(key) if key else ""
        label = label.strip() or "ENTITY"
        sid = annotation["id"] or f"a{index + 1}"
        if len(label) > 64 or len(sid) > 64:
            raise FormatError(f"{self.where}: annotation {sid[:64]!r} has an id or label longer than 64 characters")
        start, end = min(f[0] for f in fragments), max(f[1] for f in fragments)
        layer = infons.pop("layer") if infons.get("layer") in LAYERS else self._layer(label)
        span = {"id": sid, "start": start, "end": end, "label": label, "layer": layer, "text": text[start:end]}
        if infons.get("assertion") in ASSERTIONS and layer == "entity":
            span["assertion"] = infons.pop("assertion")
        terminology, code = infons.pop("concept_terminology", ""), infons.pop("concept_code", "")
        concept_name = infons.pop("concept_name", "")
        concepts = []
        if terminology and code:  # our own export, which also writes identifier = terminology:code
            concepts.append({"terminology": terminology, "code": code, "name": concept_name[:1000]})
            if infons.get("identifier") == f"{terminology}:{code}":
                del infons["identifier"]
        for key in list(infons):
            prefix = _ID_KEYS.get(key.lower())
            if prefix is None:
                continue
            raw = infons.pop(key)
            found, keep_raw = concepts_from_ids(raw, label)
            if prefix:  # the key names the terminology: "MESH" -> "D003920" needs no prefix
                found = [{**c, "terminology": prefix} if c["terminology"] in ("PubTator", "tmVar") or ":" not in raw
                         else c for c in found]
            if concepts:
                seen = {(x["terminology"], x["code"]) for x in concepts}
                found = [c for c in found if (c["terminology"], c["code"]) not in seen]
            concepts += found
            if keep_raw or not found:
                infons[key] = raw
        apply_concepts(span, concepts[:51])
        attributes = {k[:64]: v[:1000] for k, v in infons.items()}
        if len(fragments) > 1:
            attributes["fragments"] = ";".join(f"{s} {e}" for s, e in sorted(fragments))
        span["attributes"] = attributes
        return span

    def _relations(self, spans: list[dict]) -> tuple[list[dict], int]:
        known = {s["id"] for s in spans}
        by_code: dict[str, str] = {}
        for span in spans:
            for concept in [span.get("concept") or {}] + span.get("candidates", []):
                if concept:
                    by_code.setdefault(concept["code"], span["id"])
                    by_code.setdefault(f"{concept['terminology']}:{concept['code']}", span["id"])
        relations, skipped, used = [], 0, set()
        for number, relation in enumerate(self.relations, start=1):
            infons = dict(relation["infons"])
            rtype = next((infons[k] for k in _RELATION_TYPE_KEYS if infons.get(k, "").strip()), "related").strip()
            if "." in rtype and " " not in rtype and infons.get("label", "").strip():
                rtype = infons["label"].strip()  # INCEpTION: custom.Relation + its label
            rid = relation["id"] or f"R{number}"
            nodes = relation["nodes"]
            if nodes:
                missing = next((refid for refid, _ in nodes if refid not in known), None)
                if missing is not None:
                    if missing in self.skipped_ids or any(r["id"] == missing for r in self.relations):
                        skipped += 1  # it links a skipped annotation, or relations: no place in the payload
                        continue
                    raise FormatError(f"{self.where}: relation {rid[:64]!r} points at {missing[:64]!r}, which is "
                                      "not an annotation of this document")
                head = next((n for n in nodes if n[1].lower() in _HEAD_ROLES), nodes[0])
                ends = [(head[0], refid) for refid, _role in nodes if (refid, _role) != head]
            else:  # BC5CDR: <infon key="Chemical">D008750</infon><infon key="Disease">D003866</infon>
                codes = [by_code.get(v) or by_code.get(v.split("|", 1)[-1]) for k, v in relation["infons"]
                         if k not in _RELATION_TYPE_KEYS]
                codes = [c for c in codes if c]
                ends = [(codes[0], codes[1])] if len(codes) >= 2 else []
            if not ends or len(rtype) > 64:
                skipped += 1
                continue
            for index, (head_id, tail_id) in enumerate(ends, start=1):
                new_id = rid[:64] if len(ends) == 1 else f"{rid[:56]}-{index}"
                while new_id in used:
                    new_id = f"{new_id[:56]}~{len(used)}"
                used.add(new_id)
                relations.append({"id": new_id, "type": rtype[:64], "head": head_id, "tail": tail_id})
        return relations, skipped
