"""Benchmark of the ontologies package; prints one JSON object.

    .venv/bin/python benchmarks/bench_ontologies.py [--cache DIR] [--keep]

Measures, for ICD-10-CM + HPO + drugs: index build time (loading the packaged data and building the index) and
peak memory of the building process, number of indexed names, cached-load time, library-level search latency
p50/p95, entity-linking candidate latency p95 per mention, and top-1/top-5 accuracy on the coding benchmark list.
The build runs in a child process so that its peak RSS is its own. Targets: build <= 10 s and <= 300 MB,
cached load < 1 s, candidates p95 <= 2 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ontologies import ConceptIndex, OntologyStore, evaluate, load_benchmark, load_terminology  # noqa: E402

TERMINOLOGIES = ["icd10cm", "hpo", "drugs"]
BENCHMARK = os.path.join(ROOT, "tests", "data", "ontologies", "coding_benchmark.tsv")

_BUILD_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from ontologies import OntologyStore, load_terminology
from ontologies.index import ConceptIndex
store = OntologyStore({cache!r})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
steps = {{}}
start = time.perf_counter()
for name in {names!r}:
    t0 = time.perf_counter()
    terminology = load_terminology(name)
    t1 = time.perf_counter()
    store.add(terminology)
    del terminology
    steps[name] = {{"load_s": round(t1 - t0, 3), "index_and_save_s": round(time.perf_counter() - t1, 3)}}
total = time.perf_counter() - start
print(json.dumps({{"build_s": round(total, 3), "steps": steps,
                   "rss_after_imports_mb": round(before / 1024, 1),
                   "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}}))
"""


def _percentiles(samples_ms: list[float]) -> dict:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50_ms": pick(0.5), "p95_ms": pick(0.95), "max_ms": round(ordered[-1], 3), "n": len(ordered)}


def _timed(function, items, repeats: int) -> list[float]:
    """Milliseconds per item; the first pass only warms caches and is not counted."""
    for item in items:
        function(item)
    samples = []
    for _ in range(repeats):
        for item in items:
            start = time.perf_counter()
            function(item)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", help="cache directory (default: a temporary one, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary cache")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cache = args.cache or tempfile.mkdtemp(prefix="bench-ontologies-")
    try:
        child = subprocess.run([sys.executable, "-c", _BUILD_CHILD.format(root=ROOT, cache=cache, names=TERMINOLOGIES)],
                               capture_output=True, text=True, check=True)
        build = json.loads(child.stdout.strip().splitlines()[-1])

        start = time.perf_counter()
        store = OntologyStore(cache)
        indexes = store.load_all(TERMINOLOGIES)
        cached_load_s = time.perf_counter() - start
        names = sum(len(index.names) for index in indexes)
        concepts = sum(len(index.codes) for index in indexes)

        rows = load_benchmark(BENCHMARK)
        mentions = [row["mention"] for row in rows]
        own = {row["mention"]: [row["terminology"]] for row in rows}
        search_own = _timed(lambda m: store.search(m, own[m], limit=10), mentions, args.repeats)
        search_all = _timed(lambda m: store.search(m, TERMINOLOGIES, limit=10), mentions, args.repeats)
        candidates_icd = _timed(lambda m: store.candidates(m, ["icd10cm"], k=5), mentions, args.repeats)
        candidates_all = _timed(lambda m: store.candidates(m, TERMINOLOGIES, k=5), mentions, args.repeats)
        accuracy = evaluate(lambda m, t: store.search(m, t, limit=5), rows)

        # Tracemalloc view of the index build alone (Python + numpy allocations), on the largest terminology.
        terminology = load_terminology("icd10cm")
        tracemalloc.start()
        ConceptIndex.build(terminology)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        report = {
            "terminologies": TERMINOLOGIES,
            "build_s": build["build_s"],
            "build_steps": build["steps"],
            "build_peak_rss_mb": build["peak_rss_mb"],
            "build_rss_after_imports_mb": build["rss_after_imports_mb"],
            "icd10cm_index_build_traced_peak_mb": round(traced_peak / 2**20, 1),
            "concepts": concepts,
            "names": names,
            "cached_load_s": round(cached_load_s, 3),
            "search_latency_own_terminology": _percentiles(search_own),
            "search_latency_all_three": _percentiles(search_all),
            "candidates_latency_icd10cm": _percentiles(candidates_icd),
            "candidates_latency_all_three": _percentiles(candidates_all),
            "accuracy": {"n": accuracy["n"], "top1": round(accuracy["top1"], 4),
                         "top5": round(accuracy["top5"], 4),
                         "top5_misses": [miss["mention"] for miss in accuracy["misses"]]},
            "load_average_1m": round(os.getloadavg()[0], 2),
            "cpu_count": os.cpu_count(),
            "bench_process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        print(json.dumps(report))
    finally:
        if not args.cache and not args.keep:
            shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
