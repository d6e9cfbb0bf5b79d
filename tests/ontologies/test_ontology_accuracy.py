"""Coding accuracy on tests/data/ontologies/coding_benchmark.tsv: the code a coder would choose for common
mentions must be in the top 5 for at least 95% of them (accuracy only; no timing)."""
import os

from ontologies import evaluate, load_benchmark


def test_benchmark_list_is_large_and_valid(shipped_store, data_dir):
    rows = load_benchmark(os.path.join(data_dir, "coding_benchmark.tsv"))
    assert len(rows) >= 100
    assert {row["terminology"] for row in rows} == {"icd10cm", "hpo"}
    for row in rows:
        concept = shipped_store.concept(row["terminology"], row["code"])
        assert concept is not None and concept["code"] == row["code"], row
        if row["terminology"] == "icd10cm":
            assert concept["billable"], row  # a coder's answer is always a billable code


def test_top5_accuracy_on_common_mentions(shipped_store, data_dir):
    rows = load_benchmark(os.path.join(data_dir, "coding_benchmark.tsv"))
    report = evaluate(lambda mention, terminologies: shipped_store.search(mention, terminologies, limit=5), rows)
    assert report["top5"] >= 0.95, report["misses"]
    assert report["top1"] >= 0.85, report["misses"]
