"""Agreement between annotators of clinical notes, consensus merging and differences.

Span metrics match spans one-to-one: exactly (same start, end, layer and label) or by overlap (same layer and
label, greedy by overlap length). Token metrics label each word/punctuation token with the label of the longest
span covering it ("O" if none) and compute Cohen's kappa (two annotators), Fleiss' kappa and Krippendorff's alpha
(nominal; many annotators, missing values allowed). Kappa and alpha range over [-1, 1]; when every token carries
the same label for everyone (no variation) they are 1.0 if all agree.
"""
from __future__ import annotations

import bisect
import heapq
import itertools
import re
from collections import Counter, defaultdict, deque
from typing import Iterable, Sequence

from annotators.agreement import AgreementReport, cohen_kappa, fleiss_kappa, krippendorff_alpha

__all__ = ["AgreementReport", "agree", "agree_many", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha",
           "match_spans", "span_prf", "token_labels", "tokens_of"]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_EMPTY = {"spans": [], "relations": []}


def tokens_of(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def token_labels(tokens: Sequence[tuple[int, int]], spans: Iterable[dict], label: str | None = None) -> list[str]:
    """Per token: the label of the longest span covering it, or "O". With `label`, a binary view (label vs O)."""
    out = ["O"] * len(tokens)
    ordered = sorted(spans, key=lambda s: s["end"] - s["start"])  # longest last, so it wins
    starts = [t[0] for t in tokens]
    for span in ordered:
        if label is not None and span["label"] != label:
            continue
        i = max(0, bisect.bisect_right(starts, span["start"]) - 1)
        while i < len(tokens) and tokens[i][0] < span["end"]:
            if tokens[i][1] > span["start"]:
                out[i] = span["label"]
            i += 1
    return out


# ---------------------------------------------------------------------------------------------------- spans
def _key(span: dict) -> tuple:
    return (span.get("layer", "entity"), span["start"], span["end"], span["label"])


def match_spans(a: Sequence[dict], b: Sequence[dict], mode: str = "exact") -> list[tuple[int, int]]:
    """One-to-one (index in a, index in b) pairs of matching spans.

    Overlap mode enumerates only the pairs that overlap (a sweep over start offsets per layer and label, expired
    spans leaving through a heap keyed by end), then pairs greedily by overlap length: O((n + m + k) log) for k
    overlapping pairs instead of comparing every span with every other."""
    if mode == "exact":
        free = defaultdict(deque)
        for j, span in enumerate(b):
            free[_key(span)].append(j)
        pairs = []
        for i, span in enumerate(a):
            queue = free.get(_key(span))
            if queue:
                pairs.append((i, queue.popleft()))
        return pairs
    candidates = list(_overlapping_pairs(a, b))
    candidates.sort()
    used_a, used_b, pairs = set(), set(), []
    for _neg, i, j in candidates:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def _overlapping_pairs(a: Sequence[dict], b: Sequence[dict]):
    """(-overlap, i, j) for every pair of same-layer, same-label spans that share at least one character."""
    groups: dict[tuple, list[tuple[int, int, int, int]]] = defaultdict(list)
    for side, spans in ((0, a), (1, b)):
        for index, s in enumerate(spans):
            if s["end"] > s["start"]:
                groups[(s.get("layer", "entity"), s["label"])].append((s["start"], s["end"], side, index))
    for events in groups.values():
        events.sort()
        active: tuple[dict, dict] = ({}, {})  # side -> {index: (start, end)}
        expiry: list[tuple[int, int, int]] = []  # (end, side, index)
        for start, end, side, index in events:
            while expiry and expiry[0][0] <= start:
                _end, s_side, s_index = heapq.heappop(expiry)
                active[s_side].pop(s_index, None)
            for other, (o_start, o_end) in active[1 - side].items():
                overlap = min(end, o_end) - max(start, o_start)
                if overlap > 0:
                    yield (-overlap, index, other) if side == 0 else (-overlap, other, index)
            active[side][index] = (start, end)
            heapq.heappush(expiry, (end, side, index))


def _prf(tp: int, n_ref: int, n_other: int) -> dict[str, float]:
    precision = tp / n_other if n_other else (1.0 if n_ref == 0 else 0.0)
    recall = tp / n_ref if n_ref else (1.0 if n_other == 0 else 0.0)
    f1 = 2 * tp / (n_ref + n_other) if n_ref + n_other else 1.0
    return {"precision": precision, "recall": recall, "f1": f1}


def span_prf(reference: Sequence[dict], other: Sequence[dict], mode: str = "exact") -> dict[str, float]:
    tp = len(match_spans(reference, other, mode))
    return {**_prf(tp, len(reference), len(other)), "tp": tp, "n_reference": len(reference), "n_other": len(other)}


def _matched_agreement(a: Sequence[dict], b: Sequence[dict]) -> tuple[float, int, float, int]:
    """(concept agreement, pairs with a concept, assertion agreement, entity pairs) over exact matches."""
    concept_same = concept_n = assertion_same = assertion_n = 0
    for i, j in match_spans(a, b, "exact"):
        x, y = a[i], b[j]
        if x.get("concept") or y.get("concept"):
            concept_n += 1
            concept_same += _concept_id(x) == _concept_id(y)
        if x.get("layer", "entity") == "entity":
            assertion_n += 1
            assertion_same += x.get("assertion", "present") == y.get("assertion", "present")
    return (concept_same / concept_n if concept_n else 1.0, concept_n,
            assertion_same / assertion_n if assertion_n else 1.0, assertion_n)


def _concept_id(span: dict) -> tuple | None:
    concept = span.get("concept")
    return (concept["terminology"], concept["code"]) if concept else None


def _relation_keys(payload: dict) -> set[tuple]:
    by_key = {s["id"]: _key(s) for s in payload["spans"]}
    return {(r["type"], by_key.get(r["head"]), by_key.get(r["tail"])) for r in payload.get("relations", [])}


def agree(a_payload: dict | None, b_payload: dict | None, text: str) -> dict[str, float]:
    """Pairwise agreement on one note (a is the reference for precision/recall)."""
    a, b = (a_payload or _EMPTY)["spans"], (b_payload or _EMPTY)["spans"]
    exact, overlap = span_prf(a, b, "exact"), span_prf(a, b, "overlap")
    tokens = tokens_of(text)
    labels_a, labels_b = token_labels(tokens, a), token_labels(tokens, b)
    concept, concept_n, assertion, assertion_n = _matched_agreement(a, b)
    result = {f"span_exact_{k}": float(exact[k]) for k in ("precision", "recall", "f1")}
    result.update({f"span_overlap_{k}": float(overlap[k]) for k in ("precision", "recall", "f1")})
    for layer in ("entity", "phi"):
        la, lb = [s for s in a if s.get("layer", "entity") == layer], [s for s in b if s.get("layer", "entity") == layer]
        result[f"{layer}_span_overlap_f1"] = span_prf(la, lb, "overlap")["f1"]
        result[f"{layer}_span_exact_f1"] = span_prf(la, lb, "exact")["f1"]
    rel_a, rel_b = _relation_keys(a_payload or _EMPTY), _relation_keys(b_payload or _EMPTY)
    result["relation_f1"] = _prf(len(rel_a & rel_b), len(rel_a), len(rel_b))["f1"]
    result.update({
        "token_kappa": cohen_kappa(labels_a, labels_b),
        "token_alpha": krippendorff_alpha(list(zip(labels_a, labels_b))),
        "concept_agreement": concept, "concept_pairs": float(concept_n),
        "assertion_agreement": assertion, "assertion_pairs": float(assertion_n),
    })
    return result


def agree_many(annotations: Sequence[tuple]) -> AgreementReport:
    """Project-level agreement over (item_id, text, annotator, payload) records: overall and per label.

    Span F1 is micro-averaged over every pair of annotators of every item; Fleiss' kappa and Krippendorff's alpha
    run over all tokens of all items (per label: the binary label-vs-rest view)."""
    by_item: dict = defaultdict(dict)
    texts = {}
    for item_id, text, annotator, payload in annotations:
        by_item[item_id][annotator] = (payload or _EMPTY)["spans"]  # the last payload of an annotator counts
        texts[item_id] = text
    labels = sorted({s["label"] for coders in by_item.values() for spans in coders.values() for s in spans})
    sums = defaultdict(lambda: [0, 0, 0])  # key -> [tp, n_a, n_b]
    pair_f1: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    units: dict[str | None, list[list[str]]] = defaultdict(list)
    concept_same = concept_n = assertion_same = assertion_n = 0
    n_pairs = 0
    for item_id, coders in by_item.items():
        tokens = tokens_of(texts[item_id] or "")
        names = sorted(coders)
        for scope in [None, *labels]:
            per_coder = [token_labels(tokens, coders[c], scope) for c in names]
            units[scope].extend(list(column) for column in zip(*per_coder))
        for x, y in itertools.combinations(names, 2):
            n_pairs += 1
            a, b = coders[x], coders[y]
            for scope in [None, *labels]:
                sa = [s for s in a if scope is None or s["label"] == scope]
                sb = [s for s in b if scope is None or s["label"] == scope]
                for mode in ("exact", "overlap"):
                    acc = sums[(scope, mode)]
                    acc[0] += len(match_spans(sa, sb, mode))
                    acc[1] += len(sa)
                    acc[2] += len(sb)
            acc = pair_f1[f"{x} vs {y}"]
            acc[0] += len(match_spans(a, b, "exact"))
            acc[1] += len(a)
            acc[2] += len(b)
            c_agree, c_n, a_agree, a_n = _matched_agreement(a, b)
            concept_same += c_agree * c_n
            concept_n += c_n
            assertion_same += a_agree * a_n
            assertion_n += a_n

    def block(scope: str | None) -> dict[str, float]:
        out = {f"span_{mode}_f1": _prf(*sums[(scope, mode)])["f1"] for mode in ("exact", "overlap")}
        unit_list = units[scope]
        out["fleiss_kappa"] = fleiss_kappa([Counter(u) for u in unit_list])
        out["krippendorff_alpha"] = krippendorff_alpha(unit_list)
        return out

    overall = block(None)
    overall.update({
        "concept_agreement": concept_same / concept_n if concept_n else 1.0,
        "assertion_agreement": assertion_same / assertion_n if assertion_n else 1.0,
        "n_items": len(by_item), "n_annotators": len({c for coders in by_item.values() for c in coders}),
        "n_pairs": n_pairs,
    })
    return AgreementReport(overall=overall, per_label={label: block(label) for label in labels},
                           per_pair={pair: {"span_exact_f1": _prf(*acc)["f1"]} for pair, acc in sorted(pair_f1.items())})
