"""Agreement for whole-item labels: Cohen's kappa per pair, Fleiss' kappa, Krippendorff's alpha, per-label alpha
(the statistics themselves live in annotators/agreement.py, shared by every modality)."""
from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from typing import Sequence

from annotators.agreement import AgreementReport, cohen_kappa, fleiss_kappa, krippendorff_alpha, percent_agreement


def primary_label(payload: dict) -> str:
    labels = sorted(payload.get("labels") or [])
    return "|".join(labels) if labels else "(none)"


def agreement_report(annotations: Sequence[tuple[object, str, dict]]) -> AgreementReport:
    """Project-level agreement over (item, annotator, payload) triples."""
    by_item: dict[object, dict[str, str]] = defaultdict(dict)
    for item, annotator, payload in annotations:
        key = getattr(item, "id", item)
        by_item[key][annotator] = primary_label(payload)
    annotators = sorted({a for ratings in by_item.values() for a in ratings})
    per_pair = {}
    weighted = []
    for x, y in combinations(annotators, 2):
        shared = [r for r in by_item.values() if x in r and y in r]
        if shared:
            a, b = [r[x] for r in shared], [r[y] for r in shared]
            per_pair[f"{x} vs {y}"] = {"items": len(shared), "cohen_kappa": cohen_kappa(a, b),
                                       "percent_agreement": percent_agreement(a, b)}
            weighted.append((per_pair[f"{x} vs {y}"]["percent_agreement"], len(shared)))
    labels = sorted({v for r in by_item.values() for v in r.values()})
    per_label = {}
    for label in labels:
        binary = [["yes" if v == label else "no" for v in r.values()] for r in by_item.values()]
        per_label[label] = {"krippendorff_alpha": krippendorff_alpha(binary),
                            "count": sum(v == label for r in by_item.values() for v in r.values())}
    multi = [list(r.values()) for r in by_item.values() if len(r) >= 2]
    kappas = [p["cohen_kappa"] for p in per_pair.values() if p["cohen_kappa"] is not None]
    overall = {
        "items": len(by_item), "items_multiply_annotated": len(multi), "annotators": len(annotators),
        "cohen_kappa_mean": sum(kappas) / len(kappas) if kappas else None,
        "fleiss_kappa": fleiss_kappa(multi),
        "krippendorff_alpha": krippendorff_alpha(list(r.values()) for r in by_item.values()),
        "percent_agreement": sum(p * n for p, n in weighted) / sum(n for _, n in weighted) if weighted else None,
    }
    return AgreementReport(overall=overall, per_label=per_label, per_pair=per_pair)


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
