"""Chance-corrected agreement statistics, once for every modality: Cohen's kappa (two raters), Fleiss' kappa and
Krippendorff's alpha (nominal; any number of raters, missing ratings allowed).

One set of edge rules everywhere:
- nothing to compare (no items, or no unit rated twice) -> None: undefined, never a made-up 0 or 1;
- no variation at all (every rating the same category, so chance agreement is 1) -> 1.0 when the raters agree
  completely, else 0.0.
Cross-checked against scikit-learn (`cohen_kappa_score`), the `krippendorff` package and Fleiss (1971) in tests.
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence


@dataclass(frozen=True)
class MetricSpec:
    """A metric a modality reports: its name, which direction is better, and its range (None: unbounded)."""

    name: str
    higher_is_better: bool = True
    range: tuple[float | None, float | None] = (0.0, 1.0)
    description: str = ""


@dataclass
class AgreementReport:
    """What `agree_many` returns for every modality: project-wide metrics, the same metrics per label, and per
    pair of annotators ("a vs b" -> metrics)."""

    overall: dict = field(default_factory=dict)
    per_label: dict[str, dict] = field(default_factory=dict)
    per_pair: dict[str, dict] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"overall": self.overall, "per_label": self.per_label, "per_pair": self.per_pair}


def pairwise_report(annotations: Iterable[tuple], agree, keys: Sequence[str]) -> AgreementReport:
    """Per annotator pair, the mean of each metric `agree(a, b)` returns over the items both annotated; overall,
    the mean over every pair and item (`mean_<key>`). For modalities whose agreement is a pairwise measure."""
    by_item: dict = {}
    for item, annotator, payload in annotations:
        by_item.setdefault(getattr(item, "id", item), {})[annotator] = payload
    annotators = sorted({a for r in by_item.values() for a in r})
    per_pair, pooled = {}, {}
    for x, y in itertools.combinations(annotators, 2):
        results = [agree(r[x], r[y]) for r in by_item.values() if x in r and y in r]
        if not results:
            continue
        pair = {"items": len(results)}
        for key in keys:
            values = [r[key] for r in results if key in r]
            if values:
                pair[key] = round(sum(values) / len(values), 4)
                pooled.setdefault(key, []).extend(values)
        per_pair[f"{x} vs {y}"] = pair
    overall = {"items": len(by_item), "annotators": len(annotators),
               **{f"mean_{k}": round(sum(v) / len(v), 4) for k, v in pooled.items() if v}}
    return AgreementReport(overall=overall, per_pair=per_pair)


def cohen_kappa(a: Sequence, b: Sequence) -> float | None:
    """Cohen's kappa of two raters over the same units."""
    if len(a) != len(b):
        raise ValueError("cohen_kappa needs two equally long rating lists")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[c] * count_b[c] for c in count_a) / (n * n)
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(units: Iterable[Mapping[str, int] | Sequence]) -> float | None:
    """Fleiss' kappa; each unit is either its ratings (a list of categories) or category counts. Units may have
    different numbers of raters (each needs >= 2; others are left out)."""
    per_unit, totals, ratings = [], Counter(), 0
    for unit in units:
        counts = Counter(unit)  # counts (a mapping) or the ratings themselves
        m = sum(counts.values())
        if m < 2:
            continue
        per_unit.append((sum(c * c for c in counts.values()) - m) / (m * (m - 1)))
        totals.update(counts)
        ratings += m
    if not per_unit:
        return None
    observed = sum(per_unit) / len(per_unit)
    expected = sum((count / ratings) ** 2 for count in totals.values())
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


def krippendorff_alpha(units: Iterable[Sequence]) -> float | None:
    """Nominal alpha; each unit lists the values the coders who coded it gave (missing ones left out)."""
    coincidence: Counter = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for c, k in itertools.permutations(values, 2):
            coincidence[(c, k)] += 1.0 / (m - 1)
    if not coincidence:
        return None
    marginals: Counter = Counter()
    for (c, _k), value in coincidence.items():
        marginals[c] += value
    n = sum(marginals.values())
    disagree = sum(v for (c, k), v in coincidence.items() if c != k)
    expected = sum(marginals[c] * marginals[k] for c in marginals for k in marginals if c != k)
    if expected == 0:
        return 1.0 if disagree == 0 else 0.0
    return 1.0 - (n - 1) * disagree / expected


def percent_agreement(a: Sequence, b: Sequence) -> float | None:
    if len(a) != len(b):
        raise ValueError("percent_agreement needs two equally long rating lists")
    return sum(x == y for x, y in zip(a, b)) / len(a) if a else None
