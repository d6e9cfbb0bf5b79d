"""LOINC (user-supplied, free with attribution): the Loinc.csv table of the LOINC release.

Name = LONG_COMMON_NAME; synonyms = SHORTNAME, CONSUMER_NAME and DisplayName where present (RELATEDNAMES2 is left
out: it lists loose keywords such as "Bld; WB; Whole blood", which make fuzzy search noisy). The LOINC class
(CHEM, HEM/BC, ...) is the semantic type. Deprecated codes are skipped unless asked for. Loinc.csv has no
hierarchy; the multiaxial hierarchy ships as a separate file and is not read.
"""
from __future__ import annotations

import re

from ..model import Concept, Terminology, TerminologyBuilder
from .reading import ProgressTracker, read_header_rows, single_path

LICENCE = "LOINC licence: free to use with the LOINC copyright notice (https://loinc.org/license/)"
REQUIRED = ("LOINC_NUM", "COMPONENT", "LONG_COMMON_NAME")
SYNONYM_COLUMNS = ("shortname", "consumer_name", "displayname")
ATTRIBUTE_COLUMNS = ("component", "property", "time_aspct", "system", "scale_typ", "method_typ", "class", "status",
                     "example_units")


def load(paths, name: str | None, version: str | None, tracker: ProgressTracker, encoding: str | None = None,
         include_deprecated: bool = False) -> Terminology:
    path = single_path(paths)
    release = re.search(r"(\d+\.\d+)", path)
    builder = TerminologyBuilder(name or "loinc", version or (release.group(1) if release else "unversioned"),
                                 "LOINC table (Loinc.csv)", LICENCE)
    for line_no, row in read_header_rows(path, ",", REQUIRED, encoding, tracker, quoted=True):
        status = (row.get("status") or "").upper()
        if status == "DEPRECATED" and not include_deprecated:
            continue
        attributes = {key: row[key] for key in ATTRIBUTE_COLUMNS if row.get(key)}
        attributes["semantic_types"] = [row["class"]] if row.get("class") else []
        name_text = row["long_common_name"].strip() or row["component"].strip()
        builder.add(Concept(code=row["loinc_num"], name=name_text,
                            synonyms=[row[key] for key in SYNONYM_COLUMNS if row.get(key)],
                            attributes=attributes), (path, line_no))
    return builder.build()
