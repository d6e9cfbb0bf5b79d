"""CoNLL-2003 BIO export, written without a spaCy Doc per note.

The output is what spaCy's blank English pipeline (tokenizer + sentencizer) gives: tokens, sentence breaks from the
sentencizer or a line break, entity spans snapped to tokens (char_span "expand") and, where they overlap, the longest
kept (spacy.util.filter_spans). A Doc, its Token objects and the sentencizer cost ~0.4 ms a note (43 s for 100,000
notes on 2 cores, the top of the profile); this writer gets the same tokens from spaCy's tokenizer piece by piece:

- spaCy cuts a text into runs of whitespace and non-whitespace and tokenizes each run on its own (a single space
  after a run only marks the token before it), so a note is cut into keys, each a run plus all the whitespace after
  it; the tokens of a key are asked of spaCy once and cached, and so is the key's output for each of the 8 states
  the sentencizer and the line-break rule can be in when the key begins;
- plain ASCII words, each followed by one space, make one key (most of a note): such a word is always one token, no
  punctuation and no sentence boundary, unless it is one of the tokenizer's exceptions ("cannot", "dont"); a note
  holding one of those is cut with a pattern that leaves them out. The output of such a key is one str.replace;
- one spaCy rule reaches across runs: special cases that contain affixes (emoticons such as ":)", "e.g.") are
  matched again over the whole Doc, and a match across a space, though it changes nothing itself, can win over a
  shorter match inside a run. Where two neighbouring keys could form such a match, the note is tokenized whole.

tests/notes/test_notes_export_conll.py compares this writer with the Doc-based one on varied and hostile texts.
"""
from __future__ import annotations

import bisect
import re
from itertools import accumulate
from operator import itemgetter
from typing import Any, BinaryIO, Callable, Iterable

HEADER = "-DOCSTART- -X- -X- O\n\n"
_O = " -X- _ O\n"
# The state when a key begins, a bit each: a sentence-final mark is pending (sentencizer), a line break was seen
# since the last token written, the note has written a token. A plain word starts a sentence in states 3, 5 and 7.
_SEEN_PERIOD, _AFTER_NEWLINE, _NONEMPTY = 4, 2, 1
_BREAK_BEFORE_WORD = (False, False, False, True, False, True, False, True)
# Token kinds: a word; punctuation that is no sentence-final mark; a sentence-final mark; whitespace; whitespace
# holding a line break.
_WORD, _PUNCT, _FINAL, _SPACE, _NEWLINE = range(5)
_CACHE_LIMIT = 50_000  # entries per cache: memory stays bounded whatever the number or variety of notes
# Keys: plain words each followed by one space (the key ends where whitespace ends), else a run and all the
# whitespace after it. A words match holding two spaces in a row, or starting with one (only at the start of a
# text), is no plain run: _several_words checks.
_KEYS = r"[A-Za-z ]+ (?=\S|\Z)|\S+\s*|\s+"

Tokens = tuple  # (offsets in the key, texts, kinds)
# Sort keys of _tag_tokens' aligned spans (count, -first key, -first token, first key, first token, ...)
_LONGEST_FIRST = itemgetter(0, 1, 2)
_EARLIEST = itemgetter(3, 4)


def _several_words(key: str) -> bool:
    """A key of several plain words, each followed by one space. Only the words branch of the key pattern makes a
    key with a space followed by more text (else spaces come last), so this is all there is to check."""
    return " " in key[:-1] and not key[-2].isspace() and key[0] != " " and "  " not in key


def _plain_word(text: str) -> bool:
    return text.isascii() and text.isalpha()


class _Tokenizer:
    """spaCy's English tokenizer asked once per distinct key, the key patterns, and the caches."""

    def __init__(self):
        from spacy.attrs import ORTH
        from spacy.tokenizer import Tokenizer

        from .formats_export import _nlp

        nlp = _nlp()
        spacy_tokenizer = self.tokenizer = nlp.tokenizer
        self.final = set(nlp.get_pipe("sentencizer").punct_chars)
        rules = spacy_tokenizer.rules
        # Neighbouring tokens of the special cases the tokenizer matches again over the whole Doc (those with
        # affixes, as spaCy selects them), each case cut by the affix rules alone, as spaCy's matcher sees it.
        bare = Tokenizer(nlp.vocab, rules={}, prefix_search=spacy_tokenizer.prefix_search,
                         suffix_search=spacy_tokenizer.suffix_search,
                         infix_finditer=spacy_tokenizer.infix_finditer, token_match=spacy_tokenizer.token_match,
                         url_match=spacy_tokenizer.url_match)
        self.pairs: set[tuple[str, str]] = set()
        for case in rules:
            if getattr(spacy_tokenizer, "faster_heuristics", True) and not (
                    spacy_tokenizer.find_prefix(case) or spacy_tokenizer.find_infix(case)
                    or spacy_tokenizer.find_suffix(case) or " " in case):
                continue
            parts = [t.text for t in bare(case)]
            self.pairs.update(zip(parts, parts[1:]))
        self.cut_before_letter: set[str] = set()  # pieces of special cases followed by a letter
        self.cut_after_letter: set[str] = set()  # pieces of special cases after a letter
        for pieces in rules.values():
            orths = [piece[ORTH] for piece in pieces]
            for a, b in zip(orths, orths[1:]):
                if a and b and a[-1].isalpha() and b[0].isalpha():
                    self.cut_before_letter.add(a)
                    self.cut_after_letter.add(b)
        self.left_set = {a for a, _ in self.pairs}
        self.right_set = {b for _, b in self.pairs}
        self.lefts: dict[str, list[str]] = {}  # by last character
        self.rights: dict[str, list[str]] = {}  # by first character
        for left, right in self.pairs:
            self.lefts.setdefault(left[-1], []).append(left)
            self.rights.setdefault(right[0], []).append(right)
        # Words that may not join a plain run: special cases cut into several tokens, and (none in spaCy 3.8's
        # English) words a cross-key special case could join to the next word, since the loops check such
        # matches only between keys.
        self.exceptions = frozenset({k for k in rules if k.isascii() and k.isalpha() and len(rules[k]) > 1}
                                    | {a for a, b in self.pairs if _plain_word(a) and _plain_word(b)})
        self.keys = re.compile(_KEYS)
        words = "|".join(sorted(self.exceptions, key=len, reverse=True)) or "(?!)"
        self.keys_guarded = re.compile(rf"(?:(?!(?:{words}) )[A-Za-z]+ )+(?=\S|\Z)|\S+\s*|\s+")
        self.tokens: dict[str, Tokens] = {}
        self.rendered: list[dict[str, tuple]] = [{} for _ in range(8)]

    def split(self, text: str) -> list[str]:
        if self.exceptions.isdisjoint(text.split()):
            return self.keys.findall(text)
        return self.keys_guarded.findall(text)

    def doc_tokens(self, text: str) -> Tokens:
        doc = self.tokenizer(text)
        return (tuple(t.idx for t in doc), tuple(t.text for t in doc), tuple(self._kind(t) for t in doc))

    def key_tokens(self, key: str) -> Tokens:
        """The tokens of a key that is not several plain words (a single word among them)."""
        tokens = self.tokens.get(key)
        if tokens is None:
            if len(self.tokens) >= _CACHE_LIMIT:
                self.tokens.clear()
            tokens = self.tokens[key] = self.doc_tokens(key)
        return tokens

    def _kind(self, token) -> int:
        if token.is_space:
            return _NEWLINE if "\n" in token.text else _SPACE
        if token.text in self.final:
            return _FINAL
        return _PUNCT if token.is_punct else _WORD

    def edges(self, key: str) -> tuple[tuple | None, tuple | None]:
        """How a special case matched across keys could end at the start of this key (no plain run) and begin at
        its end: the tokens it could end with (prefixes of the key) and begin with (suffixes of the key before its
        one trailing space; after more whitespace a whitespace token stands between). Text, not our tokens: the
        matcher sees the affix-split tokens before special cases merge them."""
        # Between two letters no affix rule cuts; only special cases do ("cannot": "can" "not"), so a token that
        # would end (begin) between two letters must be a piece a special case cuts there.
        heads = tuple(r for r in self.rights.get(key[0], ()) if key.startswith(r) and (
            not (r[-1].isalpha() and key[len(r):len(r) + 1].isalpha()) or r in self.cut_before_letter))
        tails: tuple = ()
        if len(key) > 1 and key[-1] == " " and not key[-2].isspace():
            body = key[:-1]
            tails = tuple(x for x in self.lefts.get(body[-1], ()) if body.endswith(x) and (
                len(x) == len(body) or not (body[-len(x) - 1].isalpha() and x[0].isalpha())
                or x in self.cut_after_letter))
        return heads or None, tails or None

    def crosses(self, tails: tuple, heads: tuple) -> bool:
        return any((x, y) in self.pairs for x in tails for y in heads)

    def render(self, key: str, state: int) -> tuple[str, int, tuple | None, tuple | None]:
        """(lines, state after, edges) of a key that is not several plain words, none of its tokens in an
        entity."""
        parts: list[str] = []
        after = _tokens_out(self.key_tokens(key), None, state, parts)
        out = ("".join(parts), after, *self.edges(key))
        cache = self.rendered[state]
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = out
        return out


def _tokens_out(tokens: Tokens, tags: list[str] | None, state: int, parts: list[str]) -> int:
    """Appends the lines of some tokens to `parts` and returns the state after them. The sentencizer: a word
    after a sentence-final mark starts a sentence (whitespace after the mark takes that start, so only a line
    break ends the sentence then); the former writer: whitespace is not written, a line break ends a sentence."""
    seen, newline, nonempty = state & _SEEN_PERIOD, state & _AFTER_NEWLINE, state & _NONEMPTY
    for i, (text, kind) in enumerate(zip(tokens[1], tokens[2])):
        if kind >= _SPACE:
            seen = 0
            if kind == _NEWLINE:
                newline = _AFTER_NEWLINE
            continue
        starts = seen and kind == _WORD
        if starts:
            seen = 0
        elif kind == _FINAL:
            seen = _SEEN_PERIOD
        if nonempty and (starts or newline):
            parts.append("\n")
        newline, nonempty = 0, _NONEMPTY
        parts.append(f"{text} -X- _ {tags[i] if tags else 'O'}\n")
    return seen | newline | nonempty


def _tag_tokens(keys: list[str], tokens_of: Callable[[str], Tokens], starts: list[int], length: int,
                spans: list[dict], several: Callable[[str], bool] = _several_words) -> dict[int, list[str]]:
    """BIO tags of the keys entity spans touch, {key index: a tag per token}: Doc.char_span(alignment_mode=
    "expand") and spacy.util.filter_spans over (key, token) positions instead of a Doc's token indices. In a key
    of several words (`several`), word n follows n spaces, and a space is the trailing space of the word before
    it."""
    known: dict[int, tuple] = {}

    def key_info(k: int) -> tuple:  # (several words, token count, token offsets, token texts)
        got = known.get(k)
        if got is None:
            key = keys[k]
            if several(key):
                got = known[k] = (True, key.count(" "), None, None)
            else:
                offsets, texts, _ = tokens_of(key)
                got = known[k] = (False, len(offsets), offsets, texts)
        return got

    # spaCy's token_by_char, inline below: the token whose text or trailing space holds an offset, and whether it
    # is on that space
    count_keys, aligned, find = len(keys), [], bisect.bisect_right
    for span in spans:
        start, end = span["start"], span["end"]
        if not (0 <= start < length and 0 < end <= length):
            continue  # char_span: no token there
        k1 = find(starts, start) - 1
        words, size, offsets, texts = known.get(k1) or key_info(k1)
        rel = start - starts[k1]
        if words:
            t1, past = keys[k1].count(" ", 0, rel), keys[k1][rel] == " "
        else:
            t1 = find(offsets, rel) - 1
            past = rel >= offsets[t1] + len(texts[t1])
        if past:  # the span begins with the next token
            t1 += 1
            if t1 == size:
                k1, t1 = k1 + 1, 0
                if k1 == count_keys:
                    continue
        k2 = find(starts, end - 1) - 1
        words, _, offsets, _ = known.get(k2) or key_info(k2)
        rel = end - 1 - starts[k2]
        t2 = keys[k2].count(" ", 0, rel) if words else find(offsets, rel) - 1
        if k1 == k2:
            count = t2 - t1 + 1
        elif k1 < k2:
            count = key_info(k1)[1] - t1 + sum(key_info(k)[1] for k in range(k1 + 1, k2)) + t2 + 1
        else:
            count = 0
        if count > 0:  # else an empty span
            aligned.append((count, -k1, -t1, k1, t1, k2, t2, span["label"]))
    # filter_spans: longest first, then the earliest (a stable sort for ties); a span whose first or last token
    # is taken is dropped. Spans that share no token (the usual case) are all kept: no need for the sort.
    ordered = sorted(aligned, key=_EARLIEST)
    taken: set[tuple[int, int]] | None = None
    if any((a[5], a[6]) >= (b[3], b[4]) for a, b in zip(ordered, ordered[1:])):
        ordered, taken = sorted(aligned, key=_LONGEST_FIRST, reverse=True), set()
    tags: dict[int, list[str]] = {}
    for _, _, _, k1, t1, k2, t2, label in ordered:
        if taken is not None:
            if (k1, t1) in taken or (k2, t2) in taken:
                continue
            taken.update((k, t) for k in range(k1, k2 + 1)
                         for t in range(t1 if k == k1 else 0, t2 + 1 if k == k2 else key_info(k)[1]))
        tag = "B-" + label
        for k in range(k1, k2 + 1):
            row = tags.get(k)
            if row is None:
                row = tags[k] = ["O"] * key_info(k)[1]
            for t in range(t1 if k == k1 else 0, t2 + 1 if k == k2 else len(row)):
                row[t] = tag
                tag = "I-" + label
    return tags


def _by_keys(tk: _Tokenizer, text: str, spans: list[dict], parts: list[str]) -> int | None:
    """Writes a note key by key into `parts`; None (and `parts` to be dropped) where a cross-key special case may
    apply. Keys outside entities come from the cache (or one str.replace); keys in entities are written with their
    tags."""
    keys = tk.split(text)
    tags = _tag_tokens(keys, tk.key_tokens, [0, *accumulate(map(len, keys))], len(text), spans) if spans else {}
    rendered, right_set, left_set, crosses = tk.rendered, tk.right_set, tk.left_set, tk.crosses
    append = parts.append
    # tails: how a cross-key special case could begin at the end of the previous key; for several plain words the
    # key itself, its last word looked at only when the next key could end such a case
    state, tails, done = 0, None, 0
    for stop in [*sorted(tags), len(keys)]:
        for key in keys[done:stop]:
            hit = rendered[state].get(key)
            # _several_words, inline (the hottest line): one str.replace, not cached (such runs rarely repeat)
            if hit is None and " " in key[:-1] and not key[-2].isspace() and key[0] != " " and "  " not in key:
                append("\n" + key.replace(" ", _O) if _BREAK_BEFORE_WORD[state] else key.replace(" ", _O))
                state = _NONEMPTY
                if tails is not None:
                    first = key[:key.find(" ")]
                    if first in right_set and crosses(_tails(tails, left_set), (first,)):
                        return None
                tails = key
                continue
            out, state, heads, next_tails = hit or tk.render(key, state)
            if heads is not None and tails is not None and crosses(_tails(tails, left_set), heads):
                return None
            append(out)
            tails = next_tails
        if stop == len(keys):
            break
        key, row = keys[stop], tags[stop]  # a key in an entity: its lines with tags (tags leave the state as is)
        if _several_words(key):
            first = key[:key.find(" ")]
            heads, next_tails, after = ((first,) if first in right_set else None), key, _NONEMPTY
            append(("\n" if _BREAK_BEFORE_WORD[state] else "") + "".join(
                [word + _O if tag == "O" else f"{word} -X- _ {tag}\n" for word, tag in zip(key[:-1].split(" "), row)]))
        else:
            _, after, heads, next_tails = rendered[state].get(key) or tk.render(key, state)
            lines: list[str] = []
            _tokens_out(tk.key_tokens(key), row, state, lines)
            append("".join(lines))
        if heads is not None and tails is not None and crosses(_tails(tails, left_set), heads):
            return None
        state, tails, done = after, next_tails, stop + 1
    return state


def _tails(tails: tuple | str, left_set: set[str]) -> tuple:
    if isinstance(tails, str):  # several plain words: the last one
        last = tails[tails.rfind(" ", 0, -1) + 1:-1]
        return (last,) if last in left_set else ()
    return tails


def conll_document(text: str, payload: dict | None, tk: _Tokenizer | None = None) -> str:
    """One note: the -DOCSTART- line, then a line per token and a blank line after each sentence."""
    tk = tk or _tokenizer()
    spans = [s for s in (payload or {}).get("spans") or () if s.get("layer", "entity") == "entity"]
    parts = [HEADER]
    state = _by_keys(tk, text, spans, parts)
    if state is None:  # the whole note through spaCy's tokenizer
        tokens = tk.doc_tokens(text)
        parts = [HEADER]
        tags = (_tag_tokens([text], lambda _: tokens, [0, len(text)], len(text), spans, lambda _: False)
                if spans and text else {})  # the whole note as one key, its tokens not cached
        state = _tokens_out(tokens, tags.get(0), 0, parts)
    if state & _NONEMPTY:
        parts.append("\n")
    return "".join(parts)


_shared: _Tokenizer | None = None


def _tokenizer() -> _Tokenizer:
    global _shared
    if _shared is None:
        _shared = _Tokenizer()
    return _shared


def write_conll(pairs: Iterable[tuple[Any, dict | None]], config: dict, out: BinaryIO) -> None:
    tk = _tokenizer()
    for item, payload in pairs:
        out.write(conll_document(item.text or "", payload, tk).encode("utf-8"))
