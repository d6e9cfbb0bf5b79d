"""ConceptIndex: one terminology's names, codes and hierarchy in flat arrays, with character-trigram TF-IDF
retrieval, saved as JSON + an uncompressed .npz (never pickle) so that loading is a few file reads.

Names are stored sorted by their normalised form, so prefix search is a bisection, and the trigram postings are a
CSC matrix (trigram -> names) so a query touches only the names sharing its trigrams.
"""
from __future__ import annotations

import contextlib
import gc
import json
import math
import os
from bisect import bisect_left

import numpy as np

from .model import Terminology
from .ranking import default_leaves
from .text import normalize, normalize_code, query_trigrams
from .vectors import tfidf_postings

INDEX_FORMAT = 2
# Postings read in full per query; rarer trigrams are read first. Names that share none of those trigrams cannot
# reach a useful cosine, so the remaining (common) trigrams are only looked up for the candidates already found.
POSTING_BUDGET = 10_000
# Above RELATIVE_CUT_FROM postings, only names reaching CANDIDATE_SHARE of the best partial cosine stay candidates,
# and at most MAX_CANDIDATE_POSTINGS postings (one per name and shared trigram) are kept.
RELATIVE_CUT_FROM = 1_000
MAX_CANDIDATE_POSTINGS = 5_000
CANDIDATE_SHARE = 0.4
_ARRAYS = ("name_concept", "preferred_name", "concept_names_ptr", "concept_names", "parent_ptr", "parent_idx",
           "child_ptr", "child_idx", "billable", "default_leaf", "semtype_ptr", "semtype_idx", "post_ptr",
           "post_name", "post_weight", "idf", "code_order")


@contextlib.contextmanager
def paused_gc():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _csr_lists(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(item) for item in lists), dtype=np.int64, count=len(lists))
    ptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    flat = np.fromiter((value for item in lists for value in item), dtype=np.int32, count=int(ptr[-1]))
    return ptr, flat


class ConceptIndex:
    def __init__(self, meta: dict, strings: dict, arrays: dict[str, np.ndarray], directory: str | None = None,
                 attributes: list | None = None):
        self.meta = meta
        self.name = meta["name"]
        self.version = meta["version"]
        self.codes: list[str] = strings["codes"]
        # Codes as compared (normalize_code), stored so that loading needs no per-code work.
        self.code_keys: list[str] = strings["code_keys"]
        self.names: list[str] = strings["names"]
        self.alt_codes: list = strings.get("alt_codes", [])
        self.directory = directory
        self._attributes = attributes
        self._code_map: dict[str, int] | None = None
        self._code_order: list[int] | None = None
        for key in _ARRAYS:
            setattr(self, key, arrays[key])
        self.semantic_type_names: list[str] = meta.get("semantic_types", [])
        self.has_billable = bool(meta.get("has_billable"))

    # ----- building -------------------------------------------------------------------------------------------
    @classmethod
    def build(cls, terminology: Terminology) -> "ConceptIndex":
        # Building allocates a few hundred thousand small objects next to a large live heap (the loaded
        # terminology); pausing the cyclic collector avoids repeated full scans that cost more than the work.
        with paused_gc():
            return cls._build(terminology)

    @classmethod
    def _build(cls, terminology: Terminology) -> "ConceptIndex":
        concepts = list(terminology.concepts.values())
        position = {concept.code: i for i, concept in enumerate(concepts)}
        display: list[str] = []
        normalized: list[str] = []
        owner: list[int] = []
        first_name: list[int] = []
        preferred_normalized: list[str] = []
        for i, concept in enumerate(concepts):
            first_name.append(len(display))
            seen: set[str] = set()
            for j, text in enumerate([concept.name, *concept.synonyms]):
                key = normalize(text)
                if not j:
                    preferred_normalized.append(key)
                elif key in seen or not key:
                    continue
                seen.add(key)
                display.append(text)
                normalized.append(key)
                owner.append(i)
        order = sorted(range(len(normalized)), key=normalized.__getitem__)
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        names = [display[j] for j in order]
        name_concept = np.asarray(owner, dtype=np.int32)[order]
        del display, owner

        arrays: dict[str, np.ndarray] = {"name_concept": name_concept,
                                         "preferred_name": rank[np.asarray(first_name, dtype=np.int64)]}
        by_concept = np.argsort(name_concept, kind="stable").astype(np.int32)
        arrays["concept_names"] = by_concept
        arrays["concept_names_ptr"] = np.concatenate(
            ([0], np.cumsum(np.bincount(name_concept, minlength=len(concepts))))).astype(np.int64)
        arrays.update(tfidf_postings([normalized[j] for j in order]))
        del normalized, order

        parents = [[position[p] for p in concept.parents if p in position] for concept in concepts]
        arrays["parent_ptr"], arrays["parent_idx"] = _csr_lists(parents)
        children: list[list[int]] = [[] for _ in concepts]
        for child, parent_list in enumerate(parents):
            for parent in parent_list:
                children[parent].append(child)
        arrays["child_ptr"], arrays["child_idx"] = _csr_lists(children)

        flags = [concept.attributes.get("billable") for concept in concepts]
        billable = np.array([-1 if flag is None else int(bool(flag)) for flag in flags], dtype=np.int8)
        arrays["billable"] = billable
        has_billable = bool((billable >= 0).any())
        arrays["default_leaf"] = (default_leaves(preferred_normalized, [c.synonyms for c in concepts],
                                                 [c.code for c in concepts], children, billable)
                                  if has_billable else np.full(len(concepts), -1, dtype=np.int32))

        vocabulary: dict[str, int] = {}
        semtypes = [[vocabulary.setdefault(st, len(vocabulary)) for st in concept.semantic_types]
                    for concept in concepts]
        arrays["semtype_ptr"], arrays["semtype_idx"] = _csr_lists(semtypes)

        alt_codes = [[alt, i] for i, concept in enumerate(concepts) for alt in concept.attributes.get("alt_ids", [])]
        code_keys = [normalize_code(concept.code) for concept in concepts]
        arrays["code_order"] = np.asarray(sorted(range(len(code_keys)), key=code_keys.__getitem__), dtype=np.int32)
        meta = {"format": INDEX_FORMAT, "name": terminology.name, "version": terminology.version,
                "source": terminology.source, "licence": terminology.licence, "concept_count": len(concepts),
                "name_count": len(names), "warnings": terminology.warnings, "semantic_types": list(vocabulary),
                "has_billable": has_billable}
        attributes = [concept.attributes for concept in concepts]
        strings = {"codes": [c.code for c in concepts], "code_keys": code_keys, "names": names, "alt_codes": alt_codes}
        return cls(meta, strings, arrays, attributes=attributes)

    # ----- persistence ----------------------------------------------------------------------------------------
    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "strings.json"), "w", encoding="utf-8") as handle:
            json.dump({"codes": self.codes, "code_keys": self.code_keys, "names": self.names,
                       "alt_codes": self.alt_codes}, handle, ensure_ascii=False)
        with open(os.path.join(directory, "attributes.json"), "w", encoding="utf-8") as handle:
            json.dump(self.attributes(), handle, ensure_ascii=False, default=str)
        np.savez(os.path.join(directory, "arrays.npz"), **{key: getattr(self, key) for key in _ARRAYS})
        # meta.json last: its presence marks a complete index directory.
        with open(os.path.join(directory, "meta.json"), "w", encoding="utf-8") as handle:
            json.dump(self.meta, handle, ensure_ascii=False, indent=1)

    @classmethod
    def load(cls, directory: str) -> "ConceptIndex":
        with open(os.path.join(directory, "meta.json"), encoding="utf-8") as handle:
            meta = json.load(handle)
        if meta.get("format") != INDEX_FORMAT:
            raise ValueError(f"index format {meta.get('format')} is not {INDEX_FORMAT}; rebuild it")
        with open(os.path.join(directory, "strings.json"), encoding="utf-8") as handle:
            strings = json.load(handle)
        with np.load(os.path.join(directory, "arrays.npz"), allow_pickle=False) as data:
            arrays = {key: data[key] for key in _ARRAYS}
        return cls(meta, strings, arrays, directory=directory)

    def attributes(self) -> list[dict]:
        """Per-concept attribute dicts, read from disk on first use (only concept detail views need them)."""
        if self._attributes is None:
            with open(os.path.join(self.directory, "attributes.json"), encoding="utf-8") as handle:
                self._attributes = json.load(handle)
        return self._attributes

    # ----- codes ----------------------------------------------------------------------------------------------
    def _codes(self) -> dict[str, int]:
        if self._code_map is None:
            code_map = {normalize_code(alt): i for alt, i in self.alt_codes}
            code_map.update(zip(self.code_keys, range(len(self.code_keys))))
            self._code_map = code_map
        return self._code_map

    def find_code(self, text: str) -> int | None:
        """Exact code match ignoring case, dots and separators ("e119" finds E11.9); alt ids count too."""
        key = normalize_code(text)
        return self._codes().get(key) if key else None

    def codes_starting_with(self, text: str, limit: int) -> list[int]:
        """Concepts whose code starts with the text (compared as in find_code), in code order."""
        key = normalize_code(text)
        if not key:
            return []
        if self._code_order is None:
            self._code_order = self.code_order.tolist()
        order, keys = self._code_order, self.code_keys
        found = []
        for position in range(bisect_left(order, key, key=keys.__getitem__), len(order)):
            if len(found) >= limit or not keys[order[position]].startswith(key):
                break
            found.append(order[position])
        return found

    # ----- names ----------------------------------------------------------------------------------------------
    def concept_name(self, concept: int) -> str:
        return self.names[self.preferred_name[concept]]

    def concept_synonyms(self, concept: int) -> list[str]:
        ids = self.concept_names[self.concept_names_ptr[concept]:self.concept_names_ptr[concept + 1]]
        preferred = self.preferred_name[concept]
        return [self.names[i] for i in ids if i != preferred]

    def names_starting_with(self, normalized_query: str, limit: int) -> list[int]:
        """Names whose normalised form starts with the query (bisection over the sorted names)."""
        start = bisect_left(self.names, normalized_query, key=normalize)
        found = []
        for i in range(start, min(start + limit, len(self.names))):
            if not normalize(self.names[i]).startswith(normalized_query):
                break
            found.append(i)
        return found

    def retrieve(self, normalized_query: str, top_n: int) -> tuple[np.ndarray, np.ndarray]:
        """Names with the highest trigram TF-IDF cosine to the query: (name ids, cosines), best first."""
        counts = query_trigrams(normalized_query)
        trigrams = np.fromiter(counts, dtype=np.int64, count=len(counts))
        weights = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64) * self.idf[trigrams]
        norm = float(np.sqrt((weights * weights).sum()))
        if norm == 0.0:
            return np.zeros(0, dtype=np.int32), np.zeros(0)
        weights /= norm
        starts, ends = self.post_ptr[trigrams], self.post_ptr[trigrams + 1]
        order = np.argsort(ends - starts, kind="stable")
        read = np.cumsum((ends - starts)[order])
        n_exact = max(1, int(np.searchsorted(read, POSTING_BUDGET, side="right")))
        exact, deferred = order[:n_exact], order[n_exact:]
        ids = np.concatenate([self.post_name[starts[k]:ends[k]] for k in exact])
        values = np.concatenate([self.post_weight[starts[k]:ends[k]] * weights[k] for k in exact])
        scores = np.bincount(ids, weights=values, minlength=len(self.names))
        if ids.size > RELATIVE_CUT_FROM:
            # Keep names whose partial cosine (rare trigrams only) is within reach of the best one: a relative cut
            # is two cheap passes; the exact top-k partition is only needed when very many names are that close.
            gathered = scores[ids]
            close = gathered >= CANDIDATE_SHARE * gathered.max()
            ids, gathered = ids[close], gathered[close]
            if ids.size > MAX_CANDIDATE_POSTINGS:
                cut = ids.size - MAX_CANDIDATE_POSTINGS
                ids = ids[gathered >= np.partition(gathered, cut)[cut]]
        candidates = np.unique(ids)
        cosine = scores[candidates]
        for k in deferred:
            postings = self.post_name[starts[k]:ends[k]]
            hit = np.minimum(np.searchsorted(postings, candidates), postings.size - 1)
            present = postings[hit] == candidates
            cosine[present] += self.post_weight[starts[k] + hit[present]] * weights[k]
        if cosine.size > top_n:
            keep = np.argpartition(-cosine, top_n)[:top_n]
            candidates, cosine = candidates[keep], cosine[keep]
        best = np.argsort(-cosine, kind="stable")
        return candidates[best].astype(np.int32), cosine[best]

    # ----- hierarchy ------------------------------------------------------------------------------------------
    def parents(self, concept: int) -> list[int]:
        return self.parent_idx[self.parent_ptr[concept]:self.parent_ptr[concept + 1]].tolist()

    def children(self, concept: int) -> list[int]:
        return self.child_idx[self.child_ptr[concept]:self.child_ptr[concept + 1]].tolist()

    def path(self, concept: int) -> list[int]:
        """Root -> parent along first parents (the display path); the concept itself is not included."""
        chain: list[int] = []
        current = concept
        while len(chain) < 64:
            start = self.parent_ptr[current]
            if start == self.parent_ptr[current + 1]:
                break
            current = int(self.parent_idx[start])
            chain.append(current)
        return chain[::-1]

    def ancestors(self, concept: int) -> list[int]:
        """Every ancestor through every parent, nearest first."""
        seen: dict[int, None] = {}
        frontier = self.parents(concept)
        while frontier:
            next_frontier = []
            for parent in frontier:
                if parent not in seen:
                    seen[parent] = None
                    next_frontier.extend(self.parents(parent))
            frontier = next_frontier
        return list(seen)

    def semantic_types(self, concept: int) -> list[str]:
        ids = self.semtype_idx[self.semtype_ptr[concept]:self.semtype_ptr[concept + 1]]
        return [self.semantic_type_names[i] for i in ids]

    def is_billable(self, concept: int) -> bool | None:
        value = int(self.billable[concept])
        return None if value < 0 else bool(value)
