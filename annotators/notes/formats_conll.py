"""CoNLL-style token-per-line files: CoNLL 2003, IOB1, IOB2, BIOES/IOBES and BILOU tags, in any column.

One token per line, fields separated by tabs (when the file has any) or by runs of spaces; a blank line ends a
sentence; a `-DOCSTART-` line starts a document, and each document becomes one note (a file without one is one
note). The note text is rebuilt from the tokens: tokens joined by one space, sentences by a line break, and every
span is placed on that rebuilt text. The original spacing is not in the format, so it cannot be restored.

Which column holds the tags: the caller may say; otherwise the last column whose values are all tags (`O`, `B-X`,
`I-X`, `E-X`, `S-X`, `L-X`, `U-X`, `B_X`) and not all `O`, so that a CoNLL 2003 file (token, POS, chunk, NER)
gives the named entities and not the chunks, and a conlleval file (token, POS, gold, prediction) the prediction.
Suffix-style tags (`X-B`, `X-I`) are read when no column has prefix-style tags. The token column is the first, or
the second when the first only numbers the tokens (GermEval-style). Lines starting with `#` that do not fit the
columns are comments.

Chunks are decoded the way conlleval and seqeval do (so IOB1's `I-` opening a chunk and mixed schemes work): a chunk
ends at an E/S tag, before a B/S/O tag, or where the type changes; it starts at a B/S tag, at an I/E tag after
O/E/S, or where the type changes.
"""
from __future__ import annotations

import re
from collections import Counter

from annotators.base import FormatError, IngestedItem, ItemRejected

from .formats_import import MAX_RECORDS, _note, check_note, check_payload, decode_text
from .schema import layer_of_label

_PREFIX_TAG = re.compile(r"^(?:O|[BIESLU]-.+|[BI]_.+)$")
_SUFFIX_TAG = re.compile(r"^(?:O|.+-[BIESLU])$")
_SCHEME = {"B": "B", "I": "I", "E": "E", "S": "S", "L": "E", "U": "S"}  # BILOU's L/U are BIOES's E/S
MAX_LINES = 20_000_000  # about 200 MB of tokens: far more than MAX_RECORDS notes of useful size


def read_conll(data: bytes, name: str, config: dict | None = None,
               tag_column: int | None = None) -> list[IngestedItem]:
    text, _ = decode_text(data, name, {"max_chars": max(len(data), 1)})
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise ItemRejected(f"{name}: {len(lines)} lines, more than the limit of {MAX_LINES}")
    tabbed = "\t" in text
    documents = _documents(lines, tabbed, name)
    rows = [row for document in documents for sentence in document for row in sentence]
    if not rows:
        raise ItemRejected(f"{name}: no token lines")
    width = Counter(len(fields) for fields, _, hashed in rows if not hashed).most_common(1)
    width = width[0][0] if width else Counter(len(fields) for fields, _, _ in rows).most_common(1)[0][0]
    if width < 2:
        raise FormatError(f"{name}: one column only; a CoNLL file needs a token and a tag column")
    token_col = 1 if width >= 3 and all(f[0].isdigit() for f, _, h in rows if not h and len(f) == width) else 0
    tag_col, suffix = _tag_column(rows, width, token_col, tag_column, name)
    pattern = _SUFFIX_TAG if suffix else _PREFIX_TAG
    items = []
    for number, document in enumerate(documents, start=1):
        # A `#` line is a comment unless it has the columns and a tag (a hashtag token).
        sentences = [[(f, n) for f, n, hashed in sentence
                      if not hashed or (len(f) == width and pattern.match(f[tag_col]))] for sentence in document]
        sentences = [s for s in sentences if s]
        if not sentences:
            continue
        if len(items) >= MAX_RECORDS:
            raise ItemRejected(f"{name}: more than {MAX_RECORDS} documents")
        where = f"{name} document {number}" if len(documents) > 1 else name
        items.append(_document_item(sentences, where, name, width, token_col, tag_col, suffix, config or {}))
        items[-1].meta.update({"tag_column": tag_col + 1, **({"document": number} if len(documents) > 1 else {})})
    if not items:
        raise ItemRejected(f"{name}: no token lines")
    return items


def _documents(lines: list[str], tabbed: bool, name: str) -> list[list[list[tuple[list[str], int, bool]]]]:
    """Documents of sentences of (fields, line number, starts with '#')."""
    documents: list[list] = [[]]
    sentence: list = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("-DOCSTART-"):
            if sentence:
                documents[-1].append(sentence)
            sentence = []
            if documents[-1]:
                documents.append([])
            continue
        if not stripped:
            if sentence:
                documents[-1].append(sentence)
            sentence = []
            continue
        fields = [f.strip() for f in line.rstrip("\t").split("\t")] if tabbed else stripped.split()
        sentence.append((fields, number, stripped.startswith("#")))
    if sentence:
        documents[-1].append(sentence)
    return [d for d in documents if d] or [[]]


def _tag_column(rows, width: int, token_col: int, asked: int | None, name: str) -> tuple[int, bool]:
    values = [f for f, _, hashed in rows if not hashed and len(f) == width] or [f for f, _, _ in rows]
    if asked is not None:
        column = asked if asked >= 0 else width + asked
        if not 0 <= column < width or column == token_col:
            raise FormatError(f"{name}: tag column {asked} is not one of the {width} columns besides the token")
        for suffix, pattern in ((False, _PREFIX_TAG), (True, _SUFFIX_TAG)):
            if all(pattern.match(f[column]) for f in values):
                return column, suffix
        bad = next(n for f, n, h in rows if not h and len(f) == width and not _PREFIX_TAG.match(f[column]))
        raise FormatError(f"{name} line {bad}: column {column + 1} does not hold an IOB/BIOES tag")
    for suffix, pattern in ((False, _PREFIX_TAG), (True, _SUFFIX_TAG)):
        found = [c for c in range(width) if c != token_col and all(pattern.match(f[c]) for f in values)]
        if found:  # the last tag column that tags anything (GermEval's nested column is mostly all O)
            tagging = [c for c in found if any(f[c] != "O" for f in values)]
            return (tagging or found)[-1], suffix
    raise FormatError(f"{name}: no column holds IOB/BIOES tags only (O, B-X, I-X, E-X, S-X) in every token line")


def _split_tag(tag: str, suffix: bool) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    if suffix:
        label, _, prefix = tag.rpartition("-")
    else:
        prefix, label = tag[0], tag[2:]
    return _SCHEME[prefix], label


def chunks(tags: list[tuple[str, str]]) -> list[tuple[str, int, int]]:
    """(label, first token, last token) for (prefix, label) tags, decoded as conlleval does."""
    found, begin = [], None
    prev_p, prev_t = "O", ""
    for index, (p, t) in enumerate([*tags, ("O", "")]):
        ends = (prev_p in "ES" or (prev_p in "BI" and p in "BSO") or (prev_p != "O" and prev_t != t))
        if begin is not None and ends:
            found.append((prev_t, begin, index - 1))
            begin = None
        if p in "BS" or (prev_p in "ESO" and p in "IE") or (p != "O" and prev_t != t):
            begin = index
        prev_p, prev_t = p, t
    return found


def _document_item(sentences, where: str, name: str, width: int, token_col: int, tag_col: int, suffix: bool,
                   config: dict) -> IngestedItem:
    pieces: list[str] = []
    spans: list[dict] = []
    offset = 0
    for sentence in sentences:
        starts, tags = [], []
        for fields, number in sentence:
            if len(fields) != width:
                raise FormatError(f"{name} line {number}: {len(fields)} columns, the file's token lines have {width}")
            token = fields[token_col]
            if not token:
                raise FormatError(f"{name} line {number}: empty token")
            if pieces and starts:
                pieces.append(" ")
                offset += 1
            elif pieces:
                pieces.append("\n")
                offset += 1
            starts.append(offset)
            pieces.append(token)
            offset += len(token)
            tags.append(_split_tag(fields[tag_col], suffix))
        ends = [s + len(fields[token_col]) for s, (fields, _) in zip(starts, sentence)]
        for label, first, last in chunks(tags):
            label = label.strip()[:64]
            if not label:
                raise FormatError(f"{name} line {sentence[first][1]}: a tag without a type")
            spans.append({"id": f"T{len(spans) + 1}", "start": starts[first], "end": ends[last], "label": label,
                          "layer": layer_of_label(label, config)})
    text = "".join(pieces)
    check_note(text, where, config)
    payloads = [check_payload({"spans": spans, "relations": []}, text, where)] if spans else []
    return _note(text, where, {"source_format": "conll"}, payloads)
