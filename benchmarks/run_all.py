"""`make bench`: run every benchmarks/bench_*.py and print one JSON document with all their figures."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    results = {}
    for path in sorted(glob.glob(os.path.join(HERE, "bench_*.py"))):
        name = os.path.basename(path)[6:-3]
        proc = subprocess.run([sys.executable, path], capture_output=True, text=True, cwd=os.path.dirname(HERE))
        if proc.returncode != 0:
            results[name] = {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
            continue
        try:
            results[name] = json.loads(proc.stdout[proc.stdout.index("{"):])
        except ValueError:
            results[name] = {"error": "benchmark printed no JSON", "output": proc.stdout[-500:]}
    print(json.dumps(results, indent=2))
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
