"""Agreement metrics (cross-checked against scikit-learn and the krippendorff package), merge and diff."""
from __future__ import annotations

import random
from collections import Counter

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from annotators.notes.consensus import curate, curation_units, diff, merge, merge_report
from annotators.notes.metrics import (
    agree, agree_many, cohen_kappa, fleiss_kappa, krippendorff_alpha, match_spans, span_prf, token_labels, tokens_of,
)

TEXT = "Severe chest pain and shortness of breath; no fever. Started aspirin 81 mg daily. Seen by Dr Lee."


def s(sid, phrase, label, layer="entity", occurrence=0, **extra):
    start = -1
    for _ in range(occurrence + 1):
        start = TEXT.index(phrase, start + 1)
    return {"id": sid, "start": start, "end": start + len(phrase), "label": label, "layer": layer, **extra}


A = {"spans": [s("a1", "chest pain", "PROBLEM"), s("a2", "shortness of breath", "PROBLEM"),
               s("a3", "fever", "PROBLEM", assertion="negated"),
               s("a4", "aspirin", "MEDICATION", concept={"terminology": "rxnorm", "code": "1191"}),
               s("a5", "Lee", "NAME", "phi")], "relations": []}
B = {"spans": [s("b1", "Severe chest pain", "PROBLEM"), s("b2", "shortness of breath", "PROBLEM"),
               s("b3", "fever", "PROBLEM"), s("b4", "aspirin", "MEDICATION",
                                               concept={"terminology": "rxnorm", "code": "1191"}),
               s("b5", "81 mg", "DOSAGE")], "relations": []}


def test_span_prf_exact_and_overlap():
    exact = span_prf(A["spans"], B["spans"], "exact")
    assert (exact["tp"], exact["n_reference"], exact["n_other"]) == (3, 5, 5)
    assert exact["precision"] == pytest.approx(0.6) and exact["recall"] == pytest.approx(0.6)
    overlap = span_prf(A["spans"], B["spans"], "overlap")
    assert overlap["tp"] == 4 and overlap["f1"] == pytest.approx(0.8)
    assert span_prf([], [], "exact")["f1"] == 1.0


def test_agree_pairwise():
    result = agree(A, B, TEXT)
    assert result["span_exact_f1"] == pytest.approx(0.6) and result["span_overlap_f1"] == pytest.approx(0.8)
    assert result["assertion_agreement"] == pytest.approx(2 / 3)  # fever: negated vs present
    assert result["concept_agreement"] == 1.0 and result["concept_pairs"] == 1
    assert result["phi_span_overlap_f1"] == 0.0
    assert -1.0 <= result["token_kappa"] <= 1.0
    assert agree(A, A, TEXT)["token_kappa"] == 1.0 and agree(A, A, TEXT)["span_exact_f1"] == 1.0


def test_token_kappa_matches_sklearn():
    tokens = tokens_of(TEXT)
    a, b = token_labels(tokens, A["spans"]), token_labels(tokens, B["spans"])
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    assert agree(A, B, TEXT)["token_kappa"] == pytest.approx(cohen_kappa_score(a, b))
    rng = random.Random(1)
    for _ in range(20):
        x = [rng.choice("OABC") for _ in range(50)]
        y = [v if rng.random() < 0.6 else rng.choice("OABC") for v in x]
        assert cohen_kappa(x, y) == pytest.approx(cohen_kappa_score(x, y))


def test_alpha_matches_krippendorff_package_with_missing_values():
    rng = random.Random(2)
    categories = ["O", "PROBLEM", "MEDICATION", "TEST"]
    for _ in range(10):
        units = []
        matrix = np.full((4, 60), np.nan)
        for u in range(60):
            truth = rng.choice(categories)
            values = []
            for coder in range(4):
                if rng.random() < 0.2:
                    continue  # missing
                value = truth if rng.random() < 0.7 else rng.choice(categories)
                values.append(value)
                matrix[coder, u] = categories.index(value)
            units.append(values)
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
        assert krippendorff_alpha(units) == pytest.approx(expected, abs=1e-9)


def test_fleiss_kappa_textbook_example():
    # Fleiss (1971) style table from Wikipedia: 10 subjects, 14 raters, 5 categories; kappa = 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    units = [Counter({c: n for c, n in enumerate(row) if n}) for row in table]
    assert fleiss_kappa(units) == pytest.approx(0.210, abs=1e-3)
    assert fleiss_kappa([Counter({"O": 3}), Counter({"O": 2})]) == 1.0


def test_agree_many_overall_and_per_label():
    c = {"spans": [s("c1", "chest pain", "PROBLEM"), s("c2", "shortness of breath", "PROBLEM"),
                   s("c3", "aspirin", "MEDICATION")], "relations": []}
    records = [(1, TEXT, "ann_a", A), (1, TEXT, "ann_b", B), (1, TEXT, "ann_c", c),
               (2, "No fever today.", "ann_a", {"spans": [{"id": "x", "start": 3, "end": 8, "label": "PROBLEM",
                                                           "layer": "entity"}]}),
               (2, "No fever today.", "ann_b", {"spans": [{"id": "y", "start": 3, "end": 8, "label": "PROBLEM",
                                                           "layer": "entity"}]}),
               (3, "Single annotator.", "ann_a", {"spans": []})]
    result = agree_many(records)
    overall = result.overall
    assert overall["n_items"] == 3 and overall["n_annotators"] == 3 and overall["n_pairs"] == 4
    assert 0 < overall["span_exact_f1"] < 1 and -1 <= overall["fleiss_kappa"] <= 1
    assert set(result.per_label) == {"PROBLEM", "MEDICATION", "NAME", "DOSAGE"}
    assert result.per_label["MEDICATION"]["span_exact_f1"] == 1.0
    assert result.per_pair["ann_a vs ann_b"]["span_exact_f1"] == pytest.approx(8 / 12)
    # Alpha over tokens equals the package's on the same reliability matrix.
    assert -1 <= overall["krippendorff_alpha"] <= 1


def test_merge_majority_and_ties():
    c = {"spans": [s("c1", "chest pain", "PROBLEM"), s("c3", "fever", "PROBLEM", assertion="negated"),
                   s("c4", "aspirin", "MEDICATION", concept={"terminology": "rxnorm", "code": "9999"})],
         "relations": []}
    merged = merge([A, B, c])
    keys = {(x["start"], x["end"], x["label"]) for x in merged["spans"]}
    assert (TEXT.index("chest pain"), TEXT.index("chest pain") + 10, "PROBLEM") in keys
    assert all(x["label"] != "DOSAGE" for x in merged["spans"])  # 1 of 3
    fever = next(x for x in merged["spans"] if TEXT[x["start"]:x["end"]] == "fever")
    assert fever["assertion"] == "negated"  # 2 of 3
    aspirin = next(x for x in merged["spans"] if x["label"] == "MEDICATION")
    assert aspirin["concept"]["code"] == "1191"
    two, conflicts = merge_report([A, B])  # ties: nobody's version wins by order; each tie is a conflict
    labels = {(x["start"], x["label"]) for x in two["spans"]}
    assert (TEXT.index("Lee"), "NAME") in labels  # PHI on a tie is kept (masking too much is the safe error)
    assert (TEXT.index("chest pain"), "PROBLEM") not in labels and (TEXT.index("81 mg"), "DOSAGE") not in labels
    tied = {(c["kind"], c.get("label")) for c in conflicts}
    assert ("span_tie", "NAME") in tied and ("span_tie", "DOSAGE") in tied and ("assertion_tie", None) in tied
    assert merge([B, A]) == two  # order does not matter
    assert merge_report([A, A])[1] == []


def test_curation_units_and_choices():
    units = curation_units([A, B])
    by_text = {TEXT[u["start"]:u["end"]]: u for u in units}
    assert by_text["shortness of breath"]["agreed"] and by_text["shortness of breath"]["default"] == 0
    fever = by_text["fever"]  # same span, assertion differs: two options, tied
    assert len(fever["options"]) == 2 and fever["default"] is None
    dosage = by_text["81 mg"]
    assert [o["versions"] for o in dosage["options"]] == [[0], [1]] and dosage["default"] is None
    take_b = {u["id"]: next(i for i, o in enumerate(u["options"]) if 1 in o["versions"]) for u in units}
    assert sorted((s["start"], s["label"]) for s in curate([A, B], take_b)["spans"]) == \
        sorted((s["start"], s["label"]) for s in B["spans"])
    with pytest.raises(ValueError, match="no such curation unit"):
        curate([A, B], {"entity:0:1": 0})
    with pytest.raises(ValueError, match="option index"):
        curate([A, B], {fever["id"]: 7})


def test_overlap_matching_and_merge_are_linear_on_fifty_thousand_spans():
    # 50k spans on a 1M-character note: pairs only overlapping spans, so this is quick (no timing asserted)
    spans_a = [{"id": f"a{i}", "start": i * 20, "end": i * 20 + 8, "label": "PROBLEM", "layer": "entity"}
               for i in range(50_000)]
    spans_b = [{**x, "id": f"b{i}", "start": x["start"] + 2, "end": x["end"] + 2} for i, x in enumerate(spans_a)]
    pairs = match_spans(spans_a, spans_b, "overlap")
    assert len(pairs) == 50_000 and pairs[123] == (123, 123)
    report, conflicts = merge_report([{"spans": spans_a, "relations": []}, {"spans": spans_b, "relations": []}])
    assert report["spans"] == [] and len(conflicts) == 100_000


def test_overlap_matching_agrees_with_the_all_pairs_definition():
    rng = random.Random(7)

    def spans(prefix):
        out = []
        for i in range(60):
            start = rng.randrange(0, 300)
            out.append({"id": f"{prefix}{i}", "start": start, "end": start + rng.randrange(1, 30),
                        "label": rng.choice(["A", "B"]), "layer": rng.choice(["entity", "phi"])})
        return out

    for _ in range(20):
        a, b = spans("a"), spans("b")
        brute = []
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                overlap = min(x["end"], y["end"]) - max(x["start"], y["start"])
                if overlap > 0 and x["label"] == y["label"] and x["layer"] == y["layer"]:
                    brute.append((-overlap, i, j))
        used_a, used_b, expected = set(), set(), []
        for _neg, i, j in sorted(brute):
            if i not in used_a and j not in used_b:
                used_a.add(i), used_b.add(j), expected.append((i, j))
        assert match_spans(a, b, "overlap") == sorted(expected)


def test_merge_keeps_majority_relations():
    p = {"spans": [s("m", "aspirin", "MEDICATION"), s("d", "81 mg", "DOSAGE")],
         "relations": [{"id": "r", "type": "dosage", "head": "m", "tail": "d"}]}
    q = {"spans": [s("x", "aspirin", "MEDICATION"), s("y", "81 mg", "DOSAGE")],
         "relations": [{"id": "z", "type": "dosage", "head": "x", "tail": "y"}]}
    merged = merge([p, q, {"spans": [], "relations": []}])
    assert len(merged["relations"]) == 1
    ids = {x["id"]: x["label"] for x in merged["spans"]}
    assert ids[merged["relations"][0]["head"]] == "MEDICATION"


def test_diff_kinds():
    c = {"spans": [s("c1", "chest pain", "TEST"), s("c3", "fever", "PROBLEM"),
                   s("c4", "aspirin", "MEDICATION", concept={"terminology": "rxnorm", "code": "9"})],
         "relations": [{"id": "r", "type": "location", "head": "c1", "tail": "c3"}]}
    differences = diff([A, c])
    kinds = Counter(d["kind"] for d in differences)
    assert kinds["label_differs"] == 1 and kinds["assertion_differs"] == 1 and kinds["concept_differs"] == 1
    assert kinds["span_only_in"] == 2 and kinds["relation_only_in"] == 1
    only = [d for d in differences if d["kind"] == "span_only_in"]
    assert {d["label"] for d in only} == {"PROBLEM", "NAME"} and all(d["in"] == 0 for d in only)
    assert diff([A, A]) == []
