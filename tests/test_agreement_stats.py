"""The shared agreement statistics (annotators/agreement.py) against the reference implementations, and the one
set of edge rules every modality now gets."""
from __future__ import annotations

import random
from collections import Counter

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from annotators.agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha, percent_agreement


def test_cohen_kappa_matches_scikit_learn():
    rng = random.Random(3)
    for _ in range(30):
        n = rng.randint(2, 60)
        a = [rng.choice("ABC") for _ in range(n)]
        b = [x if rng.random() < 0.7 else rng.choice("ABC") for x in a]
        if len(set(a) | set(b)) > 1:
            assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_alpha_matches_the_krippendorff_package_with_missing_values():
    rng = random.Random(5)
    for _ in range(20):
        coders, units = 3, 25
        matrix = np.full((coders, units), np.nan)
        values = []
        for u in range(units):
            given = []
            for c in range(coders):
                if rng.random() < 0.8:
                    matrix[c, u] = rng.choice([0, 1, 2])
                    given.append(int(matrix[c, u]))
            values.append(given)
        if sum(len(v) >= 2 for v in values) < 2 or len({x for v in values for x in v}) < 2:
            continue
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
        assert krippendorff_alpha(values) == pytest.approx(expected, abs=1e-9)


def test_fleiss_kappa_textbook_example_counts_or_ratings():
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    counts = [Counter({str(k): n for k, n in enumerate(row) if n}) for row in table]
    assert fleiss_kappa(counts) == pytest.approx(0.210, abs=1e-3)
    ratings = [[k for k, n in c.items() for _ in range(n)] for c in counts]
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=1e-3)


def test_one_set_of_edge_rules():
    assert cohen_kappa([], []) is None and fleiss_kappa([]) is None and krippendorff_alpha([]) is None
    assert fleiss_kappa([["a"], ["b"]]) is None and krippendorff_alpha([["a"], ["b"]]) is None  # no unit rated twice
    assert percent_agreement([], []) is None
    # no variation: agreement is perfect
    assert cohen_kappa(["a", "a"], ["a", "a"]) == 1.0
    assert fleiss_kappa([["O", "O", "O"], ["O", "O"]]) == 1.0 and krippendorff_alpha([["x", "x"], ["x", "x"]]) == 1.0
    with pytest.raises(ValueError):
        cohen_kappa(["a"], ["a", "b"])


def test_labels_and_notes_report_the_same_shape():
    from annotators.base import ItemView, registry

    item = ItemView(id=1, kind="text", text="chest pain since yesterday")
    other = ItemView(id=2, kind="text", text="renew my prescription")
    labels = registry.get("labels").agree_many(
        [(item, "a", {"labels": ["urgent"]}), (item, "b", {"labels": ["urgent"]}),
         (other, "a", {"labels": ["routine"]}), (other, "b", {"labels": ["admin"]})], {})
    assert labels.overall["percent_agreement"] == 0.5 and labels.per_pair["a vs b"]["items"] == 2
    assert labels.overall["fleiss_kappa"] == pytest.approx(
        fleiss_kappa([["urgent", "urgent"], ["routine", "admin"]]))
    span = {"id": "s", "start": 0, "end": 10, "label": "PROBLEM", "layer": "entity"}
    notes = registry.get("notes").agree_many([(item, "a", {"spans": [span]}), (item, "b", {"spans": [span]})], {})
    assert set(notes.as_dict()) == set(labels.as_dict()) == {"overall", "per_label", "per_pair"}
    assert notes.per_pair["a vs b"]["span_exact_f1"] == 1.0
