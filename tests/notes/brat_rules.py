"""brat's own checks of a document against its annotation.conf, written from nlplab/brat
server/src/verify_annotations.py (verify_annotation_types, verify_relations, verify_attributes, verify_entity_overlap)
and its configuration rules (attribute values listed in `Value:`): what brat reports as errors when it opens our export.
"""
from __future__ import annotations

import re

SECTIONS = ("entities", "relations", "events", "attributes")


def parse_conf(text: str) -> dict:
    conf = {"entities": set(), "events": set(), "relations": {}, "attributes": {}, "overlap": set()}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"\[(\w+)\]", line)
        if match:
            section = match.group(1)
            continue
        name, _, rest = raw.partition("\t")
        name = name.strip().lstrip("!")
        if section in ("entities", "events"):
            conf[section].add(name)
        elif section == "relations":
            args = dict(part.strip().split(":", 1) for part in rest.split(",") if ":" in part)
            if name == "<OVERLAP>":
                conf["overlap"].add(args.get("<OVL-TYPE>", ""))
            else:
                conf["relations"].setdefault(name, []).append(
                    (set(args.get("Arg1", "").split("|")), set(args.get("Arg2", "").split("|"))))
        elif section == "attributes":
            args = dict(part.strip().split(":", 1) for part in rest.split(",") if ":" in part)
            conf["attributes"][name] = (set(args.get("Arg", "").split("|")), set(args.get("Value", "").split("|")))
    return conf


def _type_matches(declared: set, actual: str, conf: dict) -> bool:
    return actual in declared or ("<ENTITY>" in declared and actual in conf["entities"]) or "<ANY>" in declared


def verify(ann: str, conf_text: str) -> list[str]:
    conf = parse_conf(conf_text)
    textbounds, issues = {}, []
    for line in ann.splitlines():
        ident, _, body = line.partition("\t")
        if ident.startswith("T"):
            kind, _, ranges = body.split("\t")[0].partition(" ")
            spans = [tuple(map(int, r.split())) for r in ranges.split(";")]
            textbounds[ident] = (kind, min(s for s, _ in spans), max(e for _, e in spans))
            if kind not in conf["entities"] | conf["events"]:
                issues.append(f"{ident}: {kind} is not a known textbound type")
    for line in ann.splitlines():
        ident, _, body = line.partition("\t")
        fields = body.split("\t")[0].split()
        if ident.startswith("R"):
            kind, arg1, arg2 = fields[0], fields[1].split(":")[1], fields[2].split(":")[1]
            if kind not in conf["relations"]:
                issues.append(f"{ident}: {kind} is not a known relation type")
                continue
            t1, t2 = textbounds[arg1][0], textbounds[arg2][0]
            if not any(_type_matches(a, t1, conf) and _type_matches(b, t2, conf) for a, b in conf["relations"][kind]):
                issues.append(f"{ident}: {kind} relation Arg1:{t1} Arg2:{t2} not allowed")
        elif ident.startswith(("A", "M")):
            kind, target, value = fields[0], fields[1], fields[2] if len(fields) > 2 else None
            declared = conf["attributes"].get(kind)
            if declared is None or not _type_matches(declared[0], textbounds[target][0], conf):
                issues.append(f"{target}: {textbounds[target][0]} cannot take a {kind} attribute")
            elif value is not None and value not in declared[1]:
                issues.append(f"{ident}: {value} is not a value of attribute {kind}")
    if "<ANY>" not in conf["overlap"]:
        bounds = sorted(textbounds.items(), key=lambda kv: kv[1][1])
        for i, (a, (_, s1, e1)) in enumerate(bounds):
            for b, (_, s2, e2) in bounds[i + 1:]:
                if s2 < e1 and e2 > s1:
                    issues.append(f"{a}: overlaps {b} and the configuration allows no overlap")
    return issues
