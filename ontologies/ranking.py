"""Ranking rules: how a matched name is scored, and which billable leaf stands for a non-billable category.

The rules are general coding conventions, not per-mention fixes:

1. Base score: 0.55 x character-trigram cosine + 0.45 x word coverage (share of the query's words found in the name,
   allowing plurals, typed prefixes and shared word stems).
2. +0.12 when the name says exactly what the query says (same content words; default markers aside).
3. -0.035 for each extra content word in the name: a bare mention should not get a more specific concept.
4. -0.08 when the name says "Other ..." and the query does not: "Other X" is a residual class a coder avoids for a
   bare mention of X.
5. +0.03 when the name carries a default marker (unspecified, NOS, without complications, site not specified) the
   query lacks, and +0.05 more for an exact "X NOS" name: an inclusion term "X NOS" is the tabular list's own
   pointer to the code for a bare X.
6. -0.1 for "... in diseases classified elsewhere": manifestation codes cannot be listed first.
7. For terminologies with billable flags (ICD-10-CM), a non-billable category passes its score to its default
   billable descendant (+0.02) and itself drops by 0.06. The default descendant is the one whose inclusion term is
   "<category name> NOS" if any, else the child reached by preferring "unspecified"/"without ..." names, avoiding
   "Other ..." and "with ..." names, then codes ending in 9 and initial-encounter 7th characters.
"""
from __future__ import annotations

import numpy as np

from .text import content_tokens, normalize

DEFAULT_MARKERS = frozenset({"unspecified", "nos", "not", "specified", "without", "complication", "uncomplicated",
                             "site", "organism"})
EXACT_BONUS = 0.12
EXTRA_WORD_PENALTY = 0.035
OTHER_PENALTY = 0.08
DEFAULT_MARKER_BONUS = 0.03
NOS_EXACT_BONUS = 0.05
ELSEWHERE_PENALTY = 0.1
LEAF_BONUS = 0.02
NON_BILLABLE_PENALTY = 0.06


class QueryTerms:
    """A query variant prepared once for scoring many names."""

    __slots__ = ("normalized", "tokens", "token_set")

    def __init__(self, normalized: str):
        self.normalized = normalized
        self.tokens = content_tokens(normalized)
        self.token_set = frozenset(self.tokens)


def _word_match(query_token: str, name_token: str) -> float:
    if query_token == name_token:
        return 1.0
    if len(query_token) >= 3 and name_token.startswith(query_token):
        return 0.9  # the user is still typing, or wrote the start of a compound
    shared = 0
    for a, b in zip(query_token, name_token):
        if a != b:
            break
        shared += 1
    if shared >= 5 and shared >= 0.75 * min(len(query_token), len(name_token)):
        return 0.75  # same stem: diabetic / diabetes, hypertensive / hypertension
    return 0.0


def score_name(query: QueryTerms, name_normalized: str, cosine: float) -> float:
    name_tokens = content_tokens(name_normalized)
    if not query.tokens:
        return 0.55 * cosine
    name_set = set(name_tokens)
    used: set[str] = set()
    covered = 0.0
    for token in query.tokens:
        if token in name_set:
            covered += 1.0
            used.add(token)
            continue
        best, best_token = 0.0, None
        for candidate in name_set:
            value = _word_match(token, candidate)
            if value > best:
                best, best_token = value, candidate
        if best_token is not None:
            covered += best
            used.add(best_token)
    score = 0.55 * cosine + 0.45 * covered / len(query.tokens)
    extra = [token for token in name_tokens if token not in used and token not in DEFAULT_MARKERS]
    score -= EXTRA_WORD_PENALTY * min(len(extra), 5)
    exact = not extra and covered >= len(query.tokens) - 1e-9
    if exact:
        score += EXACT_BONUS
    if "other" in name_set and "other" not in query.token_set:
        score -= OTHER_PENALTY
    markers = name_set & DEFAULT_MARKERS
    if markers and not markers & query.token_set:
        score += DEFAULT_MARKER_BONUS
        if exact and "nos" in markers:
            score += NOS_EXACT_BONUS
    if "elsewhere" in name_set and "classified" in name_set:
        score -= ELSEWHERE_PENALTY
    return score


# ----- default billable descendant (rule 7) --------------------------------------------------------------------
def _key(text: str) -> frozenset[str]:
    return frozenset(content_tokens(normalize(text))) - {"nos"}


def _child_preference(texts: list[str], code: str) -> float:
    name = normalize(texts[0])
    tokens = set(name.split())
    score = 0.0
    if name.startswith("unspecified") or name.endswith("unspecified"):
        score += 2.0
    if "without" in tokens:
        score += 1.5
    if "other" in tokens:
        score -= 2.0
    if "with" in tokens:
        score -= 1.0
    compact = code.replace(".", "")
    if compact.endswith("9"):
        score += 0.5
    if len(compact) == 7 and compact.endswith("A"):
        score += 0.5  # 7th character A: initial encounter, the default for a newly reported injury
    return score


def default_leaves(concept_texts: list[list[str]], codes: list[str], children: list[list[int]],
                   billable: np.ndarray) -> np.ndarray:
    """For every non-billable concept with descendants, the billable descendant a coder would default to."""
    n = len(codes)
    parent_of = np.full(n, -1, dtype=np.int64)
    for parent, kids in enumerate(children):
        for kid in kids:
            if parent_of[kid] < 0:
                parent_of[kid] = parent
    # "X NOS" inclusion terms of billable codes, by the words of X.
    nos_leaves: dict[frozenset[str], list[int]] = {}
    for i in np.flatnonzero(billable == 1):
        for text in concept_texts[i][1:]:
            if "nos" in normalize(text).split():
                nos_leaves.setdefault(_key(text), []).append(int(i))

    result = np.full(n, -1, dtype=np.int32)
    for node in np.flatnonzero(billable == 0):
        node = int(node)
        if not children[node]:
            continue
        chosen = _nos_descendant(node, nos_leaves.get(_key(concept_texts[node][0]), []), parent_of)
        current = node
        while chosen < 0 and children[current]:
            kids = children[current]
            best = max(kids, key=lambda kid: (_child_preference(concept_texts[kid], codes[kid]), -kids.index(kid)))
            if billable[best] == 1:
                chosen = best
            current = best
        result[node] = chosen
    return result


def _nos_descendant(node: int, leaves: list[int], parent_of: np.ndarray) -> int:
    for leaf in leaves:
        current, steps = int(parent_of[leaf]), 0
        while current >= 0 and steps < 64:
            if current == node:
                return leaf
            current, steps = int(parent_of[current]), steps + 1
    return -1
