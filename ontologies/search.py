"""The query pipeline over one or more ConceptIndex objects: validation, learned aliases, exact and prefix codes,
abbreviation readings, trigram retrieval, re-ranking (see ranking.py) and filters."""
from __future__ import annotations

import math
import re
from typing import Sequence

from .abbreviations import default_abbreviations, expand_query
from .errors import QueryError
from .index import ConceptIndex
from .ranking import LEAF_BONUS, NON_BILLABLE_PENALTY, QueryTerms, score_name
from .text import normalize, normalize_mention, query_trigrams

MAX_QUERY_LENGTH = 500
# Scores above any name match (name scores stay below ~1.2), so learned aliases and typed codes come first.
ALIAS_SCORE = 3.0
EXACT_CODE_SCORE = 2.0
CODE_PREFIX_SCORE = 1.5
# Name matches scoring below this share too little with the query to be worth showing.
MIN_SCORE = 0.2
# Names retrieved with less than this share of the best trigram cosine are not re-ranked.
COSINE_SHARE = 0.6
# Readings with abbreviations spelled out are trusted slightly less than the words as typed.
EXPANSION_WEIGHT = 0.98
_CODE_LIKE = re.compile(r"^[A-Za-z]{0,4}[:_]?[0-9][0-9A-Za-z.:_-]{0,15}$")


def validate_query(query) -> str:
    if not isinstance(query, str):
        raise QueryError("the query must be text")
    text = query.strip()
    if not text:
        raise QueryError("the query is empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    return text


class _Hits:
    """Best score and matched text per (index, concept)."""

    def __init__(self) -> None:
        self.best: dict[tuple[int, int], list] = {}

    def offer(self, index_pos: int, concept: int, score: float, matched: str) -> None:
        key = (index_pos, concept)
        current = self.best.get(key)
        if current is None or score > current[0]:
            self.best[key] = [score, matched]


def _name_cosine(index: ConceptIndex, query_weights: dict[int, float], name: str) -> float:
    """Exact trigram cosine between the query and one name (same weighting as the index build)."""
    counts = query_trigrams(normalize(name))
    vector = {t: (1.0 + math.log(c)) * float(index.idf[t]) for t, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return sum(query_weights.get(t, 0.0) * v for t, v in vector.items()) / norm


def _query_weights(index: ConceptIndex, normalized: str) -> dict[int, float]:
    counts = query_trigrams(normalized)
    vector = {t: (1.0 + math.log(c)) * float(index.idf[t]) for t, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {t: v / norm for t, v in vector.items()}


def _match_names(hits: _Hits, index_pos: int, index: ConceptIndex, variant: str, weight: float, pool: int,
                 prefix_pool: int) -> None:
    terms = QueryTerms(variant)
    name_ids, cosines = index.retrieve(variant, pool)
    if cosines.size:
        # Word-level scoring is the costly part; names far below the best cosine cannot climb to the top.
        close = cosines >= COSINE_SHARE * cosines[0]
        name_ids, cosines = name_ids[close], cosines[close]
    seen = set()
    for name_id, cosine in zip(name_ids.tolist(), cosines.tolist()):
        seen.add(name_id)
        name = index.names[name_id]
        score = score_name(terms, normalize(name), cosine) * weight
        hits.offer(index_pos, int(index.name_concept[name_id]), score, name)
    prefixed = [i for i in index.names_starting_with(variant, prefix_pool) if i not in seen] if prefix_pool else []
    if prefixed:
        query_weights = _query_weights(index, variant)
        for name_id in prefixed:
            name = index.names[name_id]
            cosine = _name_cosine(index, query_weights, name)
            hits.offer(index_pos, int(index.name_concept[name_id]), score_name(terms, normalize(name), cosine) * weight,
                       name)


def _prefer_billable_leaves(hits: _Hits, index_pos: int, index: ConceptIndex) -> None:
    """Ranking rule 7: a non-billable category hands its score to its default billable descendant."""
    for (pos, concept), (score, matched) in list(hits.best.items()):
        if pos != index_pos or index.billable[concept] != 0:
            continue
        if score >= CODE_PREFIX_SCORE:
            continue  # a typed code or a learned alias means exactly this concept
        leaf = int(index.default_leaf[concept])
        if leaf >= 0:
            hits.offer(index_pos, leaf, score + LEAF_BONUS, matched)
        hits.best[(pos, concept)][0] = score - NON_BILLABLE_PENALTY


def run_search(indexes: Sequence[ConceptIndex], query, limit: int = 10, billable_only: bool = False,
               semantic_type: str | None = None, aliases: dict | None = None, with_path: bool = True,
               pool: int = 30, prefix_pool: int = 5, abbreviations: dict | None = None) -> list[dict]:
    """Searches the given indexes and returns up to `limit` result dicts, best first.

    `aliases` maps normalize_mention(text) -> [(terminology, code), ...] learned from earlier annotations; those
    concepts come first. `billable_only` applies to terminologies that have billable flags (others are unaffected).
    """
    text = validate_query(query)
    if limit <= 0 or not indexes:
        return []
    hits = _Hits()
    position_of = {index.name: pos for pos, index in enumerate(indexes)}
    for rank, (terminology, code) in enumerate((aliases or {}).get(normalize_mention(text), [])):
        pos = position_of.get(terminology)
        concept = indexes[pos].find_code(code) if pos is not None else None
        if concept is not None:
            hits.offer(pos, concept, ALIAS_SCORE - 0.001 * rank, text)

    code_like = bool(_CODE_LIKE.match(text))
    normalized = normalize(text)
    variants = [(normalized, 1.0)] if normalized else []
    variants += [(variant, EXPANSION_WEIGHT) for variant in expand_query(normalized, abbreviations)] \
        if normalized else []
    for pos, index in enumerate(indexes):
        concept = index.find_code(text) if len(text) <= 40 else None
        if concept is not None:
            hits.offer(pos, concept, EXACT_CODE_SCORE, index.codes[concept])
        if code_like:
            for concept in index.codes_starting_with(text, limit):
                code = index.codes[concept]
                hits.offer(pos, concept, CODE_PREFIX_SCORE - 0.01 * len(code), code)
        for variant, weight in variants:
            _match_names(hits, pos, index, variant, weight, pool, prefix_pool)
        if index.has_billable:
            _prefer_billable_leaves(hits, pos, index)

    wanted_type = semantic_type.casefold() if semantic_type else None
    ranked = []
    for (pos, concept), (score, matched) in hits.best.items():
        if score < MIN_SCORE:
            continue
        index = indexes[pos]
        billable = index.is_billable(concept)
        if billable_only and billable is False:
            continue
        if wanted_type and wanted_type not in (st.casefold() for st in index.semantic_types(concept)):
            continue
        ranked.append((-score, not billable, index.codes[concept], pos, concept, matched))
    ranked.sort()
    results = []
    for negative_score, _, code, pos, concept, matched in ranked[:limit]:
        index = indexes[pos]
        result = {"terminology": index.name, "code": code, "name": index.concept_name(concept), "matched": matched,
                  "score": round(-negative_score, 4), "billable": index.is_billable(concept)}
        if with_path:
            result["path"] = [index.concept_name(i) for i in index.path(concept)]
        results.append(result)
    return results


def expansions_for(query: str) -> list[str]:
    """The abbreviation readings the search will also try (for explaining results in a UI)."""
    return expand_query(normalize(validate_query(query)), default_abbreviations())
