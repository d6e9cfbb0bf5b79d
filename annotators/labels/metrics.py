"""Agreement for whole-item labels: Cohen's kappa per pair, Fleiss' kappa, Krippendorff's alpha, per-label kappa."""
from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from typing import Sequence


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's kappa of two raters over the same items (1.0 when both agree on a single category)."""
    if len(a) != len(b) or not a:
        raise ValueError("cohen_kappa needs two equally long, non-empty rating lists")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[c] * cb[c] for c in set(ca) | set(cb)) / (n * n)
    if expected == 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


def fleiss_kappa(ratings: Sequence[Sequence[str]]) -> float:
    """Fleiss' kappa; `ratings[i]` are the categories the raters gave item i (same number of raters per item)."""
    rows = [list(r) for r in ratings if r]
    if not rows:
        raise ValueError("fleiss_kappa needs at least one rated item")
    m = len(rows[0])
    if m < 2 or any(len(r) != m for r in rows):
        raise ValueError("fleiss_kappa needs the same number (>= 2) of ratings per item")
    categories = sorted({c for r in rows for c in r})
    n = len(rows)
    totals = Counter()
    p_items = []
    for r in rows:
        counts = Counter(r)
        totals.update(counts)
        p_items.append((sum(v * v for v in counts.values()) - m) / (m * (m - 1)))
    p_bar = sum(p_items) / n
    p_e = sum((totals[c] / (n * m)) ** 2 for c in categories)
    if p_e == 1.0:
        return 1.0
    return (p_bar - p_e) / (1 - p_e)


def krippendorff_alpha_nominal(units: dict[object, list[str]]) -> float | None:
    """Krippendorff's alpha (nominal) from unit -> values given by any raters; units with < 2 values are ignored."""
    pairable = {u: v for u, v in units.items() if len(v) >= 2}
    if not pairable:
        return None
    coincidence: dict[tuple[str, str], float] = defaultdict(float)
    for values in pairable.values():
        m = len(values)
        for i, x in enumerate(values):
            for j, y in enumerate(values):
                if i != j:
                    coincidence[(x, y)] += 1 / (m - 1)
    marginals: Counter = Counter()
    for (x, _), w in coincidence.items():
        marginals[x] += w
    total = sum(marginals.values())
    observed = sum(w for (x, y), w in coincidence.items() if x != y)
    expected = sum(marginals[x] * marginals[y] for x in marginals for y in marginals if x != y) / (total - 1)
    if expected == 0:
        return 1.0
    return 1 - observed / expected


def primary_label(payload: dict) -> str:
    labels = sorted(payload.get("labels") or [])
    return "|".join(labels) if labels else "(none)"


def agreement_report(annotations: Sequence[tuple[object, str, dict]]) -> dict:
    """Project-level agreement over (item, annotator, payload) triples."""
    by_item: dict[object, dict[str, str]] = defaultdict(dict)
    for item, annotator, payload in annotations:
        key = getattr(item, "id", item)
        by_item[key][annotator] = primary_label(payload)
    annotators = sorted({a for ratings in by_item.values() for a in ratings})
    pairs = []
    for x, y in combinations(annotators, 2):
        shared = [r for r in by_item.values() if x in r and y in r]
        if shared:
            pairs.append({"a": x, "b": y, "items": len(shared),
                          "cohen_kappa": cohen_kappa([r[x] for r in shared], [r[y] for r in shared]),
                          "percent_agreement": sum(r[x] == r[y] for r in shared) / len(shared)})
    labels = sorted({v for r in by_item.values() for v in r.values()})
    per_label = {}
    for label in labels:
        binary = {u: ["yes" if v == label else "no" for v in r.values()] for u, r in by_item.items()}
        per_label[label] = {"krippendorff_alpha": krippendorff_alpha_nominal(binary),
                            "count": sum(v == label for r in by_item.values() for v in r.values())}
    multi = [list(r.values()) for r in by_item.values() if len(r) >= 2]
    counts = Counter(len(r) for r in multi)
    fleiss = None
    if counts:
        m = counts.most_common(1)[0][0]
        same = [r for r in multi if len(r) == m]
        fleiss = fleiss_kappa(same) if same else None
    kappas = [p["cohen_kappa"] for p in pairs]
    return {
        "items": len(by_item), "items_multiply_annotated": len(multi), "annotators": annotators,
        "metrics": {
            "cohen_kappa_mean": sum(kappas) / len(kappas) if kappas else None,
            "fleiss_kappa": fleiss,
            "krippendorff_alpha": krippendorff_alpha_nominal({u: list(r.values()) for u, r in by_item.items()}),
            "percent_agreement": (sum(p["percent_agreement"] * p["items"] for p in pairs)
                                  / sum(p["items"] for p in pairs)) if pairs else None,
        },
        "pairs": pairs, "per_label": per_label,
    }


def pair_agreement(a: dict, b: dict) -> dict[str, float]:
    sa, sb = set(a.get("labels") or []), set(b.get("labels") or [])
    union = sa | sb
    jaccard = len(sa & sb) / len(union) if union else 1.0
    return {"agreement": jaccard, "exact_match": float(sa == sb)}


def majority(payloads: Sequence[dict], multi_label: bool) -> dict:
    votes = Counter(label for p in payloads for label in set(p.get("labels") or []))
    if not votes:
        return {"labels": []}
    if multi_label:
        need = len(payloads) / 2
        return {"labels": sorted(label for label, n in votes.items() if n > need)}
    top = max(votes.values())
    return {"labels": [sorted(label for label, n in votes.items() if n == top)[0]]}
