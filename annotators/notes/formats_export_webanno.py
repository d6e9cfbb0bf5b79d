"""WebAnno TSV 3.3 writer (INCEpTION's exchange format), one .tsv per note in a zip.

Spans go to INCEpTION's stock NamedEntity layer (`value` = our label, `identifier` = "terminology:code" of the
concept); relations to a custom relation layer `webanno.custom.Relation` (feature `label`) declared only in files
that have relations, because INCEpTION refuses a file whose header names a layer its project lacks.

Tokens come from formats_export_peers.Tokens: spaCy's tokenizer cut again at every span boundary, so no span needs
sub-tokens or snapping. Sentences never break inside a span. Offsets are UTF-16 code units (Java strings), as the
format prescribes. Each sentence's #Text runs up to the next sentence's first token, so INCEpTION's reader (which
rebuilds the document from the #Text lines) gets the note's whitespace back; only blanks before the first token
are lost (it pads them with spaces).
"""
from __future__ import annotations

import re
import zipfile
from typing import BinaryIO

from .formats_export import Pairs
from .formats_export_peers import Tokens, _cuts, _relations, _spans, utf16_offsets

NAMED_ENTITY = "de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity"
RELATION_LAYER = "webanno.custom.Relation"

_VALUE_ESCAPES = {"\\": "\\\\", "[": "\\[", "]": "\\]", "|": "\\|", "_": "\\_", "->": "\\->", ";": "\\;",
                  "\t": "\\t", "\n": "\\n", "*": "\\*"}
_VALUE_PATTERN = re.compile(r"->|[\\\[\]|_;\t\n*]")
# Text (#Text lines and token forms): C0 controls other than \b..\r are written as a backslash before the raw
# character (INCEpTION's Escaping.escapeText); \t \n \f \r \b as Java escapes; the backslash doubled.
_TEXT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", "\b": "\\b", "\\": "\\\\"}
_TEXT_PATTERN = re.compile(r"[\x00-\x07\x0e-\x1f\t\n\f\r\b\\]")


def escape_value(value: str) -> str:
    return _VALUE_PATTERN.sub(lambda m: _VALUE_ESCAPES[m.group()], value)


def escape_text(value: str) -> str:
    return _TEXT_PATTERN.sub(lambda m: _TEXT_ESCAPES.get(m.group(), "\\" + m.group()), value)


def webanno_document(text: str, payload: dict | None) -> str:
    spans = _spans(payload)
    tokens = Tokens(text, _cuts(spans))
    placed = [(loc, span) for span in spans if (loc := tokens.locate(span["start"], span["end"]))]
    cover: list[list[int]] = [[] for _ in tokens.bounds]
    for k, ((first, last), _span) in enumerate(placed):
        for i in range(first, last + 1):
            cover[i].append(k)
    # A disambiguation id for every span that is multi-token or stacked with another one somewhere.
    ids, next_id = {}, 1
    for k, ((first, last), _span) in enumerate(placed):
        if last > first or any(len(cover[i]) > 1 for i in range(first, last + 1)):
            ids[k], next_id = next_id, next_id + 1
    sentences = tokens.sentences(loc for loc, _ in placed)
    address = {}
    for number, group in enumerate(sentences, start=1):
        for position, i in enumerate(group, start=1):
            address[i] = f"{number}-{position}"
    index_of = {span["id"]: k for k, (_loc, span) in enumerate(placed)}
    arcs: dict[int, list[str]] = {}  # the dependent's first token -> [(type, governor reference)]
    refs: dict[int, list[str]] = {}
    for relation in _relations(payload):
        gov, dep = index_of.get(relation["head"]), index_of.get(relation["tail"])
        if gov is None or dep is None:
            continue
        gov_token, dep_token = placed[gov][0][0], placed[dep][0][0]
        reference = address[gov_token]
        if gov in ids or dep in ids:
            reference += f"[{ids.get(gov, 0)}_{ids.get(dep, 0)}]"
        arcs.setdefault(dep_token, []).append(escape_value(relation["type"]))
        refs.setdefault(dep_token, []).append(reference)
    header = ["#FORMAT=WebAnno TSV 3.3", f"#T_SP={NAMED_ENTITY}|identifier|value"]
    if arcs:
        header.append(f"#T_RL={RELATION_LAYER}|label|BT_{NAMED_ENTITY}")
    lines = header + ["", ""]
    utf16 = utf16_offsets(text)

    def stacked(i: int, value) -> str:
        return "|".join(value(placed[k][1]) + (f"[{ids[k]}]" if k in ids else "") for k in cover[i]) or "_"

    def identifier(span: dict) -> str:
        concept = span.get("concept")
        return escape_value(f"{concept['terminology']}:{concept['code']}") if concept else "*"

    for number, group in enumerate(sentences, start=1):
        begin = tokens.starts[group[0]]
        if number < len(sentences):
            sentence_text = text[begin:tokens.starts[sentences[number][0]]]
        else:  # the reader ends the last sentence with a line break of its own
            sentence_text = text[begin:-1] if text.endswith("\n") else text[begin:]
        if number > 1:
            lines.append("")
        lines.extend("#Text=" + escape_text(part) for part in sentence_text.split("\n"))
        for i in group:
            start, end = tokens.bounds[i]
            row = [address[i], f"{utf16(start)}-{utf16(end)}", escape_text(text[start:end]),
                   stacked(i, identifier), stacked(i, lambda s: escape_value(s["label"]))]
            if arcs:
                row += ["|".join(arcs.get(i, [])) or "_", "|".join(refs.get(i, [])) or "_"]
            lines.append("\t".join(row) + "\t")
    return "\n".join(lines) + "\n"


def write_webanno(pairs: Pairs, config: dict, out: BinaryIO) -> None:
    """A zip of `<item id>.tsv` files, one WebAnno TSV 3.3 document each (INCEpTION imports one file per
    document)."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item, payload in pairs:
            archive.writestr(f"{item.id}.tsv", webanno_document(item.text or "", payload).encode("utf-8"))
