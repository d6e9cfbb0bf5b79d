"""Dictionary matching of terminology phrases (spaCy's PhraseMatcher on token LOWER hashes), and its on-disk form.

A worker matches ~200k phrases. Feeding PhraseMatcher a list of 200k Docs held them all at once: ~1.2 GB that the
allocator never gave back, and ~20 s of tokenising at every worker start. Phrases are therefore turned into their
LOWER hash arrays one Doc at a time, concepts are shared rows instead of a dict per phrase, and the result is saved
as one uncompressed .npz + .json (never pickle) that the next worker reads in a few seconds.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

CACHE_FORMAT = 1
log = logging.getLogger("clinlabel.notes")


@dataclass
class CompiledPhrases:
    """What a TermMatcher is made of: per label the phrases' LOWER hash arrays, and the concepts of each phrase as
    rows of one shared table (a concept's variants share its row)."""
    label_order: list[str] = field(default_factory=list)
    keywords: dict[str, list[list[int]]] = field(default_factory=dict)
    concepts: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    concept_rows: list[tuple[str, str, str]] = field(default_factory=list)


def compile_phrases(phrases: dict[str, Iterable[str | tuple[str, dict]]], max_phrase_tokens: int = 12,
                    tokenizer=None) -> CompiledPhrases:
    from spacy.attrs import LOWER

    if tokenizer is None:
        import spacy

        tokenizer = spacy.blank("en").tokenizer
    compiled = CompiledPhrases()
    row_of: dict[tuple[str, str, str], int] = {}
    for label, entries in phrases.items():
        if label not in compiled.label_order:
            compiled.label_order.append(label)
        texts: dict[str, None] = {}
        for entry in entries:
            phrase, concept = (entry, None) if isinstance(entry, str) else (entry[0], entry[1])
            # A dictionary variant with a trailing comma ("alcohol,") would match the comma of a list.
            phrase = " ".join(phrase.split()).strip(" ,;:")
            if not phrase:
                continue
            texts[phrase] = None
            if concept:
                row = (str(concept["terminology"]), str(concept["code"]), str(concept["name"]))
                number = row_of.setdefault(row, len(row_of))
                if number == len(compiled.concept_rows):
                    compiled.concept_rows.append(row)
                compiled.concepts.setdefault((label, phrase.lower()), []).append(number)
        # One Doc at a time: only its hash array outlives it.
        compiled.keywords.setdefault(label, []).extend(
            doc.to_array(LOWER).tolist() for doc in tokenizer.pipe(texts) if 0 < len(doc) <= max_phrase_tokens)
    return compiled


class TermMatcher:
    """Case-insensitive phrase matching on a tokenizer-only English pipeline.

    `phrases` maps a label to phrases; a phrase is a string or a (string, concept) pair where concept is a dict
    {"terminology", "code", "name"}. Overlapping matches resolve to the longest (then the earliest); a phrase listed
    under several labels goes to the label listed first.
    """

    def __init__(self, phrases: dict[str, Iterable[str | tuple[str, dict]]] | None = None,
                 max_phrase_tokens: int = 12, compiled: CompiledPhrases | None = None) -> None:
        import spacy
        from spacy.matcher import PhraseMatcher

        self._nlp = spacy.blank("en")
        self._matcher = PhraseMatcher(self._nlp.vocab, attr="LOWER")
        if compiled is None:
            compiled = compile_phrases(phrases or {}, max_phrase_tokens, self._nlp.tokenizer)
        self._label_order = {label: n for n, label in enumerate(compiled.label_order)}
        for label in compiled.label_order:
            if compiled.keywords.get(label):
                self._matcher.add(label, compiled.keywords[label])
        self._concepts = compiled.concepts
        self._concept_rows = compiled.concept_rows

    def __len__(self) -> int:
        return len(self._matcher)

    def match(self, text: str, id_prefix: str = "t") -> list[dict]:
        """Entity-layer spans with `concept` (first known concept) and `candidates` (all) when phrases carried them."""
        from spacy.util import filter_spans

        doc = self._nlp.make_doc(text)
        spans = self._matcher(doc, as_spans=True)
        # filter_spans keeps the longest, then earliest; sort first so equal spans resolve by label order.
        spans = sorted(spans, key=lambda s: (s.start, -len(s), self._label_order.get(s.label_, 99)))
        result = []
        for i, span in enumerate(sorted(filter_spans(spans), key=lambda s: s.start_char)):
            rows = self._concepts.get((span.label_, " ".join(span.text.split()).lower()), [])
            concepts = [dict(zip(("terminology", "code", "name"), self._concept_rows[r])) for r in rows[:10]]
            result.append({
                "id": f"{id_prefix}{i + 1}", "start": span.start_char, "end": span.end_char, "label": span.label_,
                "layer": "entity", "text": span.text, "concept": dict(concepts[0]) if concepts else None,
                "candidates": [{**c, "score": 1.0} for c in concepts],
                "attributes": {"source": "terminology"},
            })
        return result


# ----- on disk ------------------------------------------------------------------------------------------------
def save_compiled(compiled: CompiledPhrases, path: str) -> None:
    """Write `path`.npz and `path`.json, each through a temporary file and a rename; the .json last (the marker)."""
    lengths, flat, owner = [], [], []
    for number, label in enumerate(compiled.label_order):
        for keyword in compiled.keywords.get(label, []):
            lengths.append(len(keyword))
            flat.extend(keyword)
            owner.append(number)
    keys = list(compiled.concepts)
    arrays = {
        "keyword_ptr": np.concatenate(([0], np.cumsum(lengths, dtype=np.int64))).astype(np.int64),
        "keyword_hash": np.asarray(flat, dtype=np.uint64), "keyword_label": np.asarray(owner, dtype=np.int32),
        "concept_rows_ptr": np.concatenate(([0], np.cumsum([len(compiled.concepts[k]) for k in keys],
                                                           dtype=np.int64))).astype(np.int64),
        "concept_rows": np.asarray([r for k in keys for r in compiled.concepts[k]], dtype=np.int32),
    }
    strings = {"format": CACHE_FORMAT, "label_order": compiled.label_order, "concept_keys": [list(k) for k in keys],
               "concept_table": [list(row) for row in compiled.concept_rows]}
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    for suffix, write in ((".npz", lambda fh: np.savez(fh, **arrays)),
                          (".json", lambda fh: fh.write(json.dumps(strings, separators=(",", ":")).encode()))):
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.replace(tmp, path + suffix)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def load_compiled(path: str) -> CompiledPhrases:
    """Phrases saved by `save_compiled`. Raises ValueError when the files are missing, damaged or of another format."""
    try:
        with open(path + ".json", "rb") as handle:
            strings = json.loads(handle.read())
        with np.load(path + ".npz", allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        if not isinstance(strings, dict) or strings.get("format") != CACHE_FORMAT:
            raise ValueError("of another format")
        compiled = CompiledPhrases(label_order=[str(label) for label in strings["label_order"]])
        bounds, flat = arrays["keyword_ptr"].tolist(), arrays["keyword_hash"].tolist()
        for n, number in enumerate(arrays["keyword_label"].tolist()):
            compiled.keywords.setdefault(compiled.label_order[number], []).append(flat[bounds[n]:bounds[n + 1]])
        compiled.concept_rows = [(str(t), str(c), str(name)) for t, c, name in strings["concept_table"]]
        rows, rows_ptr = arrays["concept_rows"].tolist(), arrays["concept_rows_ptr"].tolist()
        if len(rows_ptr) != len(strings["concept_keys"]) + 1 or (rows and max(rows) >= len(compiled.concept_rows)):
            raise ValueError("inconsistent")
        for n, (label, phrase) in enumerate(strings["concept_keys"]):
            compiled.concepts[(str(label), str(phrase))] = rows[rows_ptr[n]:rows_ptr[n + 1]]
    except (OSError, ValueError, KeyError, IndexError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"no usable term matcher cache ({type(exc).__name__})") from exc
    return compiled


def cached_matcher(cache_dir: str, key: str, phrases: Callable[[], dict], keep: int = 6) -> TermMatcher:
    """The matcher for `key` from `cache_dir`, compiled from `phrases()` and saved there when it is not (or is
    damaged). A cache that cannot be written costs the next worker the compile, nothing else."""
    path = _cache_path(cache_dir, key)
    try:
        compiled = load_compiled(path)
    except ValueError:
        compiled = compile_phrases(phrases())
        try:
            save_compiled(compiled, path)
            _prune(cache_dir, keep)
        except OSError as exc:
            log.warning("term matcher cache not written (%s)", type(exc).__name__)
    return TermMatcher(compiled=compiled)


def is_cached(cache_dir: str, key: str) -> bool:
    """Whether a matcher for `key` was saved (not whether it is intact: loading it checks that)."""
    path = _cache_path(cache_dir, key)
    return os.path.isfile(path + ".json") and os.path.isfile(path + ".npz")


def _cache_path(cache_dir: str, key: str) -> str:
    return os.path.join(cache_dir, hashlib.sha256(key.encode()).hexdigest()[:32])


def _prune(cache_dir: str, keep: int) -> None:
    """Only the newest `keep` matchers stay (each label configuration x terminology build has one)."""
    entries = os.listdir(cache_dir)
    for entry in entries:  # left by a process killed while writing
        path = os.path.join(cache_dir, entry)
        with contextlib.suppress(OSError):
            if entry.startswith(".tmp-") and time.time() - os.path.getmtime(path) > 3600:
                os.unlink(path)
    saved = sorted((entry for entry in entries if entry.endswith(".json") and not entry.startswith(".")),
                   key=lambda entry: os.path.getmtime(os.path.join(cache_dir, entry)), reverse=True)
    for entry in saved[keep:]:
        for suffix in (".json", ".npz"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(cache_dir, entry[:-5] + suffix))
