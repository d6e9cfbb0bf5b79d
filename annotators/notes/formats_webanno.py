"""WebAnno TSV 3.x, INCEpTION's exchange format (the format is documented in INCEpTION's user guide, "WebAnno TSV
3.3 File format").

One file is one document. The header declares the layers (`#T_SP=` span, `#T_CH=` chain, `#T_RL=` relation) and
their features, each feature one column; the body has `#Text=` sentence lines and token lines
`sent-tok<TAB>begin-end<TAB>token<TAB>columns...`, with sub-tokens `1-2.1`. What becomes of each layer:
- span layers: one span per annotation. A multi-token or stacked annotation carries a disambiguation id (`PER[3]`)
  shared by its rows; stacked annotations are separated by `|`. Label: the `value` feature of NamedEntity, else the
  layer's first feature, else (no feature, or `*` = unset) the layer's short name. Other features become attributes;
  NamedEntity's `identifier` becomes the concept (a UMLS CUI, `MeSH:D003920`, or an IRI);
- slot features (`ROLE_...` + target column): one relation per link, from the host span to the filler, typed by the
  role (or the link feature's name when unset);
- chain layers (coreference): each link a span (label = referenceType), a relation from each link to the next
  (type = referenceRelation, or the layer's short name);
- relation layers: one relation per arc, from the governor (the source column: `1-3`, or `1-3[2_5]` naming the
  source and target disambiguation ids) to the annotation on the row, typed by the first feature or the layer's name.
Linguistic layers of DKPro (POS, lemma, stem, morphology, dependency, chunk) would put a span on every token; they
are skipped and listed in meta["webanno_skipped_layers"], as are relation layers between tokens (no span to join).
Zero-width annotations cannot be a span of ours; meta["webanno_zero_width_skipped"] counts them.

Offsets are UTF-16 code units (INCEpTION is Java). The text is rebuilt from the `#Text=` lines, each sentence placed
at its first token's offset; what lies between sentences is not in the format and becomes line breaks.
"""
from __future__ import annotations

import re

from annotators.base import FormatError, IngestedItem, ItemRejected

from .formats_import import _note, check_note, check_payload, decode_text, max_chars
from .formats_jsonl_peers import Utf16Offsets
from .formats_webanno_cells import _disambiguated, _escaped, _split, _unescape_value
from .schema import layer_of_label

_FORMAT = re.compile(r"^#FORMAT=WebAnno TSV 3(?:\.(\d+))?\s*$")
_ROW = re.compile(r"^(\d+-\d+(?:\.\d+)?)\t(\d+)-(\d+)\t")
_SOURCE = re.compile(r"^(\d+-\d+(?:\.\d+)?)(?:\[(\d+)_(\d+)\])?$")
_TARGET = re.compile(r"^(\d+-\d+(?:\.\d+)?)(?:\[(\d+)\])?$")
_CHAIN_LINK = re.compile(r"^(.*)->(\d+)-(\d+)$", re.S)
_TEXT_ESCAPE = re.compile(r"\\([\\tnfrb]|[\x00-\x07\x0e-\x1f])")
_JAVA_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[0-7]{1,3}|[\\tnfrb'\"])")
_TEXT_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "b": "\b", "'": "'", '"': '"'}
_LINGUISTIC = ("POS", "Lemma", "Stem", "MorphologicalFeatures", "Dependency", "Chunk", "Token", "Sentence")
_CUI = re.compile(r"^C\d{7}$")
MAX_ANNOTATIONS = 100_000


def is_webanno(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf")[:32].startswith(b"#FORMAT=WebAnno TSV")


class _Layer:
    """A declared layer and its columns, in header order: ("feature", name), ("role", link feature, target layer)
    followed by ("target",), and for a relation layer a last ("source",) column."""

    def __init__(self, kind: str, name: str, parts: list[str]):
        self.kind, self.name, self.short = kind, name, name.rsplit(".", 1)[-1] or name
        self.skipped = name.startswith("de.tudarmstadt.ukp.dkpro.core.api.") and self.short.startswith(_LINGUISTIC)
        self.base = ""
        if kind == "RL":
            self.base = parts[-1][3:] if parts and parts[-1].startswith("BT_") else ""
            parts = parts[:-1]
        self.columns: list[tuple] = []
        index = 0
        while index < len(parts):
            part = parts[index]
            if part.startswith("ROLE_") and kind == "SP":
                feature = part.split(":", 1)[-1].split("_", 1)[0]
                self.columns += [("role", feature, parts[index + 1] if index + 1 < len(parts) else ""), ("target",)]
                index += 2
                continue
            if part:
                self.columns.append(("feature", part))
            index += 1
        if kind == "CH" and len(self.columns) != 2:
            self.columns = [("feature", "referenceType"), ("feature", "referenceRelation")]
        if kind == "SP" and not self.columns:
            self.columns = [("feature", "")]  # a span layer without features still has a column: `*` marks one
        if kind == "RL":
            self.columns.append(("source",))
        self.features = [c[1] for c in self.columns if c[0] == "feature"]
        self.width = len(self.columns)


def read_webanno(data: bytes, name: str, config: dict | None = None) -> list[IngestedItem]:
    text, _ = decode_text(data, name, {"max_chars": max(len(data), 1)})
    lines = text.split("\n")
    match = _FORMAT.match(lines[0].lstrip("\ufeff").rstrip("\r"))
    if not match:
        raise FormatError(f"{name} line 1: not WebAnno TSV 3 (the file must start with '#FORMAT=WebAnno TSV 3.x')")
    minor = int(match.group(1) or 0)
    layers, body = [], 1
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if line.startswith(("#T_SP=", "#T_CH=", "#T_RL=")):
            parts = line[6:].split("|")
            layers.append(_Layer(line[3:5], parts[0], parts[1:]))
        elif line.strip():
            body = number
            break
    else:
        raise ItemRejected(f"{name}: no sentences")
    kept = {layer.name for layer in layers if layer.kind != "RL" and not layer.skipped}
    for layer in layers:  # arcs between tokens, or between annotations of a skipped layer, have no spans to join
        layer.skipped = layer.skipped or (layer.kind == "RL" and layer.base not in kept)
    reader = _Reader(name, layers, minor, config or {})
    reader.read(lines[body - 1:], body)
    return [reader.item()]


class _Reader:
    def __init__(self, name: str, layers: list[_Layer], minor: int, config: dict):
        self.name, self.layers, self.minor, self.config = name, layers, minor, config
        self.width = 3 + sum(layer.width for layer in layers)
        self.pieces: list[str] = []
        self.length16 = 0
        self.rows: dict[str, tuple[int, int, int, str]] = {}  # row id -> (begin16, end16, line, token)
        self.spans: dict[tuple, dict] = {}  # (layer index, id or row/stack) -> {"rows", "begin", "end", ...}
        self.at_row: dict[str, list[tuple]] = {}
        self.links: list[tuple] = []  # (line, kind, ...) resolved once every span is known
        self.skipped_zero = 0

    def fail(self, number: int, problem: str) -> FormatError:
        return FormatError(f"{self.name} line {number}: {problem}")

    # ------------------------------------------------------------------------------------------------ body
    def read(self, lines: list[str], first: int) -> None:
        sentence: list[str] = []
        pending: list[tuple[int, list[str]]] = []
        for number, line in enumerate(lines, start=first):
            line = line.rstrip("\r")
            if line.startswith("#Text="):
                if pending:
                    self.sentence(sentence, pending)
                    sentence, pending = [], []
                sentence.append(self.unescape_text(line[6:]))
            elif line.startswith("#"):
                continue  # #Sentence.id and comments
            elif line.strip():
                if not sentence:
                    raise self.fail(number, "a token line before any #Text= sentence line")
                pending.append((number, line.split("\t")))
        if pending:
            self.sentence(sentence, pending)
        if not self.rows:
            raise ItemRejected(f"{self.name}: no token lines")

    def unescape_text(self, raw: str) -> str:
        if "\\" not in raw:
            return raw
        if self.minor <= 1:
            return _JAVA_ESCAPE.sub(lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "u" else (
                chr(int(m.group(1), 8)) if m.group(1)[0].isdigit() else _TEXT_ESCAPES[m.group(1)]), raw)
        return _TEXT_ESCAPE.sub(lambda m: _TEXT_ESCAPES.get(m.group(1), m.group(1)), raw)

    def sentence(self, lines: list[str], rows: list[tuple[int, list[str]]]) -> None:
        text = "\n".join(lines)
        number, fields = rows[0]
        begin = self.offsets(number, fields)[0]
        if begin < self.length16:
            raise self.fail(number, f"the sentence starts at {begin}, inside the text before it")
        if begin - self.length16 > max_chars(self.config):
            raise ItemRejected(f"{self.name} line {number}: offset {begin} is beyond this project's note size limit")
        self.pieces.append(("\n" if self.pieces else " ") * (begin - self.length16))
        self.pieces.append(text)
        self.length16 = begin + len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
        if self.length16 > 2 * max_chars(self.config):
            raise ItemRejected(f"{self.name} line {number}: the text is longer than this project's note size limit")
        for number, fields in rows:
            self.row(number, fields)

    def offsets(self, number: int, fields: list[str]) -> tuple[int, int]:
        match = _ROW.match("\t".join(fields[:3]) + "\t")
        if not match:
            raise self.fail(number, "not a token line (`sentence-token<TAB>begin-end<TAB>token`)")
        return int(match.group(2)), int(match.group(3))

    def row(self, number: int, fields: list[str]) -> None:
        if len(fields) == self.width + 1 and fields[-1] == "":
            fields = fields[:-1]
        if len(fields) != self.width:
            raise self.fail(number, f"{len(fields)} columns; the header declares {self.width}")
        row_id = fields[0]
        begin, end = self.offsets(number, fields)
        if end < begin:
            raise self.fail(number, f"token ends ({end}) before it starts ({begin})")
        if end > self.length16:
            raise self.fail(number, f"token offsets {begin}-{end} run past its sentence's text")
        if row_id in self.rows:
            raise self.fail(number, f"token id {row_id} is used twice")
        self.rows[row_id] = (begin, end, number, fields[2])
        column = 3
        for index, layer in enumerate(self.layers):
            cells = fields[column:column + layer.width]
            column += layer.width
            if not layer.skipped and any(cell != "_" for cell in cells):
                getattr(self, f"cells_{layer.kind}")(index, layer, cells, row_id, number)

    def occurrence(self, key: tuple, row_id: str, layer_index: int) -> dict:
        begin, end, _, _ = self.rows[row_id]
        span = self.spans.get(key)
        if span is None:
            if len(self.spans) >= MAX_ANNOTATIONS:
                raise ItemRejected(f"{self.name}: more than {MAX_ANNOTATIONS} annotations")
            span = self.spans[key] = {"layer": layer_index, "begin": begin, "end": end, "rows": [], "values": {}}
        span["begin"], span["end"] = min(span["begin"], begin), max(span["end"], end)
        span["rows"].append(row_id)
        self.at_row.setdefault(row_id, []).append(key)
        return span

    def cells_SP(self, index: int, layer: _Layer, cells: list[str], row_id: str, number: int) -> None:
        columns = [_split(cell, "|") for cell in cells]
        lead = next(c for c, cell in enumerate(cells) if cell != "_")
        for stack, raw in enumerate(columns[lead]):
            _, ident = _disambiguated(raw)
            span = self.occurrence((index, ident) if ident else (index, row_id, stack), row_id, index)
            for position, column in enumerate(layer.columns):
                entries = columns[position]
                value = _disambiguated(entries[stack])[0] if stack < len(entries) else "_"
                if column[0] == "feature" and value not in ("*", "_"):
                    span["values"].setdefault(column[1], _unescape_value(value))
                elif column[0] == "role":
                    targets = columns[position + 1]
                    target_cell = _disambiguated(targets[stack])[0] if stack < len(targets) else "_"
                    if target_cell in ("*", "_"):
                        continue
                    roles = _split(value, ";")
                    for link, target in enumerate(_split(targets[stack], ";")):
                        role = roles[link] if link < len(roles) else "*"
                        role = column[1] if role in ("*", "_", "") else _unescape_value(role)
                        self.links.append((number, "slot", span, role, target, column[2]))

    def cells_CH(self, index: int, layer: _Layer, cells: list[str], row_id: str, number: int) -> None:
        kinds, relations = (cells if layer.features[0] == "referenceType" else cells[::-1])
        kinds, relations = _split(kinds, "|"), _split(relations, "|")
        for stack, raw in enumerate(relations):
            match = _CHAIN_LINK.match(raw)
            if not match or _escaped(raw, match.end(1)):
                raise self.fail(number, f"chain link {stack + 1} is not `relation->chain-link`")
            chain, link = int(match.group(2)), int(match.group(3))
            span = self.occurrence((index, "chain", chain, link), row_id, index)
            kind = _disambiguated(kinds[stack])[0] if stack < len(kinds) else "*"
            if kind not in ("*", "_"):
                span["values"].setdefault("referenceType", _unescape_value(kind))
            if match.group(1) not in ("*", "_", ""):
                span["values"].setdefault("referenceRelation", _unescape_value(match.group(1)))
            span["chain"] = (chain, link)

    def cells_RL(self, index: int, layer: _Layer, cells: list[str], row_id: str, number: int) -> None:
        values = _split(cells[0], "|") if len(cells) > 1 else []
        sources = _split(cells[-1], "|")
        base = next(i for i, other in enumerate(self.layers) if other.name == layer.base and other.kind != "RL")
        for stack, source in enumerate(sources):
            raw = values[stack] if stack < len(values) else "*"
            kind = layer.short if raw in ("*", "_", "") else _unescape_value(raw)
            self.links.append((number, "arc", base, kind, source, row_id))

    # ----------------------------------------------------------------------------------------------- output
    def resolve(self, number: int, row_id: str, ident: int, layer_index: int | None) -> dict:
        if row_id not in self.rows:
            raise self.fail(number, f"refers to token {row_id}, which is not in the file")
        if ident:
            for key in ((layer_index, ident),) if layer_index is not None else [
                    (i, ident) for i in range(len(self.layers))]:
                if key in self.spans:
                    return self.spans[key]
            raise self.fail(number, f"refers to annotation [{ident}] at {row_id}, which is not in the file")
        for key in self.at_row.get(row_id, ()):
            if layer_index is None or key[0] == layer_index:
                return self.spans[key]
        raise self.fail(number, f"refers to token {row_id}, which has no annotation of the target layer")

    def item(self) -> IngestedItem:
        text = "".join(self.pieces)
        check_note(text, self.name, self.config)
        offsets = Utf16Offsets(text)

        def index(units: int, number: int) -> int:
            found = offsets.index(units)
            if found is None:
                raise self.fail(number, f"offset {units} falls inside a character (UTF-16 surrogate pair)")
            return found

        for row_id, (begin, end, number, token) in self.rows.items():
            shown = text[index(begin, number):index(end, number)]
            if shown != token and shown != _unescape_value(token) and shown != self.unescape_text(token):
                raise self.fail(number, f"token {row_id} does not match the #Text= line at {begin}-{end}")
        spans, ids = [], {}
        for key, found in self.spans.items():
            if found["begin"] == found["end"]:
                self.skipped_zero += 1
                continue
            layer = self.layers[found["layer"]]
            span = self._span(layer, found, len(spans) + 1)
            span["start"], span["end"] = (index(found["begin"], self.rows[found["rows"][0]][2]),
                                          index(found["end"], self.rows[found["rows"][-1]][2]))
            ids[id(found)] = span["id"]
            spans.append(span)
        relations = self._relations(ids)
        meta = {"source_format": "webanno_tsv3", "webanno_version": f"3.{self.minor}"}
        skipped = sorted({layer.short for layer in self.layers if layer.skipped})
        if skipped:
            meta["webanno_skipped_layers"] = "|".join(skipped)
        if self.skipped_zero:
            meta["webanno_zero_width_skipped"] = self.skipped_zero
        payloads = [check_payload({"spans": spans, "relations": relations}, text, self.name)] if spans else []
        return _note(text, self.name, meta, payloads)

    def _span(self, layer: _Layer, found: dict, number: int) -> dict:
        values = dict(found["values"])
        if layer.kind == "CH":
            label = values.pop("referenceType", "") or layer.short
            values.pop("referenceRelation", None)
        elif layer.short == "NamedEntity":
            label = values.pop("value", "") or layer.short
        else:
            first = next((f for f in layer.features if f), "")
            label = values.pop(first, "") or layer.short
        span = {"id": f"T{number}", "label": label.strip()[:64] or layer.short[:64],
                "layer": layer_of_label(label, self.config), "attributes": {}}
        identifier = values.pop("identifier", "") if layer.short == "NamedEntity" else ""
        if _CUI.match(identifier):
            span["concept"] = {"terminology": "UMLS", "code": identifier, "name": ""}
        elif re.match(r"^[A-Za-z][\w.-]{0,63}:\S{1,128}$", identifier) and "//" not in identifier:
            terminology, code = identifier.split(":", 1)
            span["concept"] = {"terminology": terminology, "code": code, "name": ""}
        elif identifier and len(identifier) <= 128:
            span["concept"] = {"terminology": "IRI", "code": identifier, "name": ""}
        elif identifier:
            values["identifier"] = identifier
        span["attributes"] = {k[:64]: v[:1000] for k, v in values.items()}
        return span

    def _relations(self, ids: dict[int, str]) -> list[dict]:
        relations = []

        def add(kind: str, head: dict, tail: dict) -> None:
            if id(head) in ids and id(tail) in ids:  # a zero-width end was not kept
                relations.append({"id": f"R{len(relations) + 1}", "type": kind.strip()[:64] or "related",
                                  "head": ids[id(head)], "tail": ids[id(tail)]})

        for number, kind, *rest in self.links:
            if kind == "slot":
                span, role, target, target_layer = rest
                match = _TARGET.match(target)
                if not match:
                    raise self.fail(number, "a slot target is not a token reference such as 1-2 or 1-2[3]")
                layer_index = next((i for i, l in enumerate(self.layers) if l.name == target_layer), None)
                add(role, span, self.resolve(number, match.group(1), int(match.group(2) or 0), layer_index))
            else:
                base, relation_type, source, row_id = rest
                match = _SOURCE.match(source)
                if not match:
                    raise self.fail(number, "a relation source is not a token reference such as 1-2 or 1-2[3_4]")
                head = self.resolve(number, match.group(1), int(match.group(2) or 0), base)
                add(relation_type, head, self.resolve(number, row_id, int(match.group(3) or 0), base))
        chains: dict[tuple, dict] = {}
        for key, found in self.spans.items():
            if "chain" in found:
                chains[(found["layer"], *found["chain"])] = found
        for (layer_index, chain, link), found in sorted(chains.items()):
            following = chains.get((layer_index, chain, link + 1))
            if following is not None:
                kind = found["values"].get("referenceRelation") or self.layers[layer_index].short
                add(kind, found, following)
        return relations
