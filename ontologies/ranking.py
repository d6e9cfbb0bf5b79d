"""Ranking rules: how a matched name is scored, and which billable leaf stands for a non-billable category.

The rules are general coding conventions, not per-mention fixes:

1. Base score: 0.55 x character-trigram cosine + 0.45 x word coverage (share of the query's words found in the name,
   allowing plurals, typed prefixes and shared word stems).
2. +0.12 when the name says exactly what the query says (same content words; default markers aside).
3. -0.035 for each extra content word in the name: a bare mention should not get a more specific concept.
4. -0.08 when the name says "Other ..." and the query does not: "Other X" is a residual class a coder avoids for a
   bare mention of X.
5. +0.03 when a name with no extra words carries a default marker the query lacks (unspecified, NOS, without
   complications, site not specified, non-<etiology>), and +0.05 more for an exact "X NOS" name: an inclusion
   term "X NOS" is the tabular list's own pointer to the code for a bare X. Default markers never count as extra
   words, and in "X and Y" names only the conjunct that fits the query is checked for extra words.
6. -0.1 for "... in diseases classified elsewhere": manifestation codes cannot be listed first; -0.05 for context
   words the query lacks (newborn, pregnancy, congenital, postprocedural, ...), which need documented context.
7. For terminologies with billable flags (ICD-10-CM), a non-billable category passes its score to its default
   billable descendant (+0.02) and itself drops by 0.06. The default descendant is the one whose inclusion term is
   "<category name> NOS" if any, else the leaf reached by following children whose names say they are the default
   ("unspecified", "not specified", "without ...", "uncomplicated", "initial encounter"; never "Other ..." or
   "with ..."), ties going to codes ending in 9. Where no child says so, the category keeps its own place.
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
CONTEXT_PENALTY = 0.05
# Words that place a condition in a special context (newborn, pregnancy, congenital, after a procedure): such codes
# need that context documented, so they should not win for a bare mention.
CONTEXT_WORDS = frozenset({"newborn", "neonatal", "perinatal", "fetus", "fetal", "maternal", "pregnancy",
                           "puerperium", "childbirth", "congenital", "postprocedural", "intraoperative",
                           "history"})
ELSEWHERE_PENALTY = 0.1
# Words that relate one condition to another (checked on the raw words, so stopwords such as "due" and "of" count).
RELATION_WORDS = frozenset({"due", "with", "without", "of", "in", "to", "from", "by", "following", "after"})
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


def _is_marker(token: str) -> bool:
    # "nonrheumatic", "nontraumatic", "noninfective": a negated etiology is the default reading, like "unspecified".
    return token in DEFAULT_MARKERS or (token.startswith("non") and len(token) > 6)


def _extra_words(name_normalized: str, name_tokens: list[str], used: set[str], query: QueryTerms) -> int:
    """Name words the query did not ask for. In a plain "X and Y" name the code covers either condition, so only
    the conjunct that best fits the query counts ("Syncope and collapse" says nothing more than "syncope"); names
    that relate conditions ("... due to lung diseases and/or hypoxia") are not plain lists."""
    words = set(name_normalized.split())
    if " and " in name_normalized and "and" not in query.token_set and not RELATION_WORDS & words:
        return min(sum(1 for token in content_tokens(part) if token not in used and not _is_marker(token))
                   for part in name_normalized.split(" and "))
    return sum(1 for token in name_tokens if token not in used and not _is_marker(token))


def score_name(query: QueryTerms, name_normalized: str, cosine: float) -> float:
    """Rules 1-6 of the module docstring for one (normalised) name and its trigram cosine to the query."""
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
    extra = _extra_words(name_normalized, name_tokens, used, query)
    score -= EXTRA_WORD_PENALTY * min(extra, 5)
    exact = not extra and covered >= len(query.tokens) - 1e-9
    if exact:
        score += EXACT_BONUS
    if "other" in name_set and "other" not in query.token_set:
        score -= OTHER_PENALTY
    context = name_set & CONTEXT_WORDS
    if context and not context & query.token_set:
        score -= CONTEXT_PENALTY
    markers = {token for token in name_set if _is_marker(token)}
    if markers and not extra and not markers & query.token_set:
        score += DEFAULT_MARKER_BONUS
        if exact and "nos" in markers:
            score += NOS_EXACT_BONUS
    if "elsewhere" in name_set and "classified" in name_set:
        score -= ELSEWHERE_PENALTY
    return score


# ----- default billable descendant (rule 7) --------------------------------------------------------------------
def _key(text: str) -> frozenset[str]:
    """The content words of a name, NOS aside (the text may be raw or already normalised)."""
    return frozenset(content_tokens(normalize(text))) - {"nos"}


def _child_preference(name: str) -> float:
    """How plainly a child's (normalised) name says it is the default reading of its parent; > 0 is required."""
    tokens = set(name.split())
    score = 0.0
    if (name.startswith("unspecified") or name.endswith("unspecified") or "not specified" in name
            or "unspecified whether" in name):
        score += 2.0
    elif "unspecified" in tokens and "with unspecified" not in name:
        score += 1.0
    if "without" in tokens or "uncomplicated" in tokens:
        score += 1.5
    if "initial encounter" in name:
        score += 0.5  # 7th character A, the default for a newly reported injury
    if "other" in tokens:
        score -= 2.0
    if "with" in tokens and "whether with" not in name:
        score -= 1.0
    return score


def default_leaves(names: list[str], synonyms: list[list[str]], codes: list[str], children: list[list[int]],
                   billable: np.ndarray) -> np.ndarray:
    """For every non-billable concept below the top grouping levels, the billable descendant a coder would
    default to (-1 where there is none). `names` are normalised preferred names, `synonyms` the raw synonyms.

    Roots (chapters) and code ranges (blocks such as E08-E13) are groupings rather than conditions, so they get
    no default: "diabetes mellitus" must not be silently read as whichever diabetes category sorts first.
    """
    n = len(codes)
    parent_of = np.full(n, -1, dtype=np.int64)
    for parent, kids in enumerate(children):
        for kid in kids:
            if parent_of[kid] < 0:
                parent_of[kid] = parent
    # "X NOS" inclusion terms of billable codes, by the words of X.
    nos_leaves: dict[frozenset[str], list[int]] = {}
    for i in np.flatnonzero(billable == 1).tolist():
        for text in synonyms[i]:
            if "NOS" in text or "nos" in text.lower().split():
                nos_leaves.setdefault(_key(text), []).append(i)

    preference: dict[int, float] = {}
    result = np.full(n, -1, dtype=np.int32)
    for node in np.flatnonzero(billable == 0).tolist():
        if not children[node] or parent_of[node] < 0 or "-" in codes[node]:
            continue
        chosen = _nos_descendant(node, nos_leaves.get(_key(names[node]), []), parent_of)
        current = node
        while chosen < 0 and children[current]:
            kids = children[current]
            for kid in kids:
                if kid not in preference:
                    preference[kid] = _child_preference(names[kid])
            # Ties go to the code ending in 9 (ICD-10-CM's slot for "unspecified"), then to the first child.
            best = max(range(len(kids)), key=lambda k: (preference[kids[k]], codes[kids[k]].endswith("9"), -k))
            if preference[kids[best]] <= 0:
                break
            current = kids[best]
            if billable[current] == 1:
                chosen = current
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
