"""From several versions of a note to one: majority merge that reports its conflicts instead of hiding them,
span-by-span curation units for the review screen, and differences in words.

All of it is linear in the number of spans (dictionaries keyed by position), so a 50,000-span note merges in
well under a second.
"""
from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from typing import Sequence

_EMPTY = {"spans": [], "relations": []}


def _key(span: dict) -> tuple:
    return (span.get("layer", "entity"), span["start"], span["end"], span["label"])


def _position(span: dict) -> tuple:
    return (span.get("layer", "entity"), span["start"], span["end"])


def _concept_id(span: dict) -> tuple | None:
    concept = span.get("concept")
    return (concept["terminology"], concept["code"]) if concept else None


def _vote(values: list, n: int) -> tuple[object, bool]:
    """(winner, tied): the value a strict majority of the n voters gave, else the most common one, flagged."""
    counts = Counter(values)
    best = max(counts.values())
    leaders = sorted((v for v, c in counts.items() if c == best), key=repr)  # order of versions never decides
    return leaders[0], 2 * best <= n or len(leaders) > 1


def _relation_keys(payload: dict) -> list[tuple]:
    keys_by_id = {s["id"]: _key(s) for s in payload["spans"]}
    out = []
    for rel in payload.get("relations", []):
        head, tail = keys_by_id.get(rel["head"]), keys_by_id.get(rel["tail"])
        if head and tail:
            out.append((rel["type"], head, tail))
    return out


def merge_report(payloads: Sequence[dict]) -> tuple[dict, list[dict]]:
    """Majority vote of spans (layer, start, end, label), their assertion and concept, and relations.

    A span is kept with a strict majority of versions. Nothing is decided by who annotated first: a tie is a
    conflict, listed for a person to resolve. PHI spans on a tie are kept in the payload (masking too much is the
    safe error) and still listed. Auto-consensus must only use a merge whose conflict list is empty."""
    payloads = [p or _EMPTY for p in payloads]
    n = len(payloads)
    votes: dict[tuple, list[dict]] = defaultdict(list)
    for payload in payloads:
        seen = set()
        for span in payload["spans"]:
            key = _key(span)
            if key not in seen:
                seen.add(key)
                votes[key].append(span)
    kept, conflicts, id_for_key = [], [], {}
    for key in sorted(votes, key=lambda k: (k[1], k[2], k[0], k[3])):
        voters = votes[key]
        layer, start, end, label = key
        tie = 2 * len(voters) == n
        if 2 * len(voters) < n or (tie and layer != "phi"):
            if tie:
                conflicts.append({"kind": "span_tie", "layer": layer, "start": start, "end": end, "label": label})
            continue
        if tie:
            conflicts.append({"kind": "span_tie", "layer": layer, "start": start, "end": end, "label": label})
        first = voters[0]
        span = {k: v for k, v in first.items() if k not in ("id", "assertion", "concept", "score")}
        span["id"] = id_for_key[key] = f"m{len(kept) + 1}"
        if layer == "entity":
            span["assertion"], tied = _vote([s.get("assertion", "present") for s in voters], len(voters))
            if tied:
                conflicts.append({"kind": "assertion_tie", "layer": layer, "start": start, "end": end})
        concept_ids = [_concept_id(s) for s in voters]
        if any(concept_ids):
            winner, tied = _vote(concept_ids, len(voters))
            if tied:
                conflicts.append({"kind": "concept_tie", "layer": layer, "start": start, "end": end})
            if winner is not None:
                span["concept"] = next(s["concept"] for s in voters if _concept_id(s) == winner)
        kept.append(span)
    relation_votes: Counter = Counter()
    for payload in payloads:
        relation_votes.update(set(_relation_keys(payload)))
    relations = []
    for (kind, head, tail), count in relation_votes.items():
        if head not in id_for_key or tail not in id_for_key:
            continue
        if 2 * count == n:
            conflicts.append({"kind": "relation_tie", "type": kind, "head": list(head), "tail": list(tail)})
        elif 2 * count > n:
            relations.append({"id": f"mr{len(relations) + 1}", "type": kind, "head": id_for_key[head],
                              "tail": id_for_key[tail]})
    return {"spans": kept, "relations": relations}, conflicts


def merge(payloads: Sequence[dict]) -> dict:
    return merge_report(payloads)[0]


# ------------------------------------------------------------------------------------------------ curation
def _option_key(spans: list[dict]) -> tuple:
    return tuple(sorted((s["label"], s.get("assertion", "present"), str(_concept_id(s))) for s in spans))


def curation_units(payloads: Sequence[dict]) -> list[dict]:
    """One unit per span position (layer, start, end) any version marked. Its options are the distinct things the
    versions put there (a list of spans: usually one, none when a version left it out, several when a version
    stacked labels), each with the versions that chose it; `default` is the option a strict majority of versions
    chose, None when there is none (a person must choose)."""
    payloads = [p or _EMPTY for p in payloads]
    at: dict[tuple, list[list[dict]]] = {}
    for index, payload in enumerate(payloads):
        for span in payload["spans"]:
            at.setdefault(_position(span), [[] for _ in payloads])[index].append(span)
    units = []
    for position in sorted(at, key=lambda p: (p[1], p[2], p[0])):
        options: dict[tuple, dict] = {}
        for index, spans in enumerate(at[position]):
            option = options.setdefault(_option_key(spans), {"versions": [], "spans": [_public(s) for s in spans]})
            option["versions"].append(index)
        keys = list(options)
        default = next((i for i, key in enumerate(keys) if 2 * len(options[key]["versions"]) > len(payloads)), None)
        layer, start, end = position
        units.append({"id": f"{layer}:{start}:{end}", "layer": layer, "start": start, "end": end,
                      "options": list(options.values()), "agreed": len(keys) == 1, "default": default})
    return units


def _public(span: dict) -> dict:
    return {k: v for k, v in span.items() if k != "score"}


def curate(payloads: Sequence[dict], choices: dict[str, int]) -> dict:
    """The payload a reviewer assembled: for each unit the chosen option (else the majority's; a tied unit left
    unchosen keeps nothing); relations of any version whose two ends were kept as that version had them."""
    payloads = [p or _EMPTY for p in payloads]
    units = curation_units(payloads)
    known = {u["id"] for u in units}
    unknown = sorted(set(choices) - known)
    if unknown:
        raise ValueError(f"no such curation unit: {unknown[0]}")
    spans, id_for_key = [], {}
    for unit in units:
        pick = choices.get(unit["id"], unit["default"])
        if pick is None:
            continue
        if not isinstance(pick, int) or isinstance(pick, bool) or not 0 <= pick < len(unit["options"]):
            raise ValueError(f"choice for unit {unit['id']} must be an option index below {len(unit['options'])}")
        for span in unit["options"][pick]["spans"]:
            span = {**span, "id": f"c{len(spans) + 1}"}
            id_for_key[_key(span)] = span["id"]
            spans.append(span)
    relations, seen = [], set()
    for payload in payloads:
        for kind, head, tail in _relation_keys(payload):
            if head in id_for_key and tail in id_for_key and (kind, head, tail) not in seen:
                seen.add((kind, head, tail))
                relations.append({"id": f"cr{len(relations) + 1}", "type": kind, "head": id_for_key[head],
                                  "tail": id_for_key[tail]})
    return {"spans": spans, "relations": relations}


# ---------------------------------------------------------------------------------------------------- diff
def diff(payloads: Sequence[dict]) -> list[dict]:
    """Differences between every pair of payloads (by index): spans only in one, label/assertion/concept changes
    at the same offsets, relations only in one."""
    out = []
    payloads = [p or _EMPTY for p in payloads]
    for ia, ib in itertools.combinations(range(len(payloads)), 2):
        a, b = payloads[ia]["spans"], payloads[ib]["spans"]
        at = {_position(s): s for s in a}
        bt = {_position(s): s for s in b}
        for where in sorted(set(at) | set(bt), key=lambda k: (k[1], k[2], k[0])):
            x, y = at.get(where), bt.get(where)
            base = {"a": ia, "b": ib, "layer": where[0], "start": where[1], "end": where[2]}
            if x is None or y is None:
                present = x or y
                out.append({**base, "kind": "span_only_in", "in": ia if x else ib, "missing_from": ib if x else ia,
                            "label": present["label"], "span_id": present["id"]})
                continue
            if x["label"] != y["label"]:
                out.append({**base, "kind": "label_differs", "values": [x["label"], y["label"]]})
            if where[0] == "entity" and x.get("assertion", "present") != y.get("assertion", "present"):
                out.append({**base, "kind": "assertion_differs",
                            "values": [x.get("assertion", "present"), y.get("assertion", "present")]})
            if _concept_id(x) != _concept_id(y):
                out.append({**base, "kind": "concept_differs", "values": [x.get("concept"), y.get("concept")]})
        rel_a, rel_b = _relation_set(payloads[ia]), _relation_set(payloads[ib])
        for key in sorted(rel_a ^ rel_b, key=str):
            out.append({"a": ia, "b": ib, "kind": "relation_only_in", "in": ia if key in rel_a else ib,
                        "missing_from": ib if key in rel_a else ia, "type": key[0],
                        "head": list(key[1]) if key[1] else None, "tail": list(key[2]) if key[2] else None})
    return out


def _relation_set(payload: dict) -> set[tuple]:
    by_id = {s["id"]: (s["start"], s["end"], s["label"]) for s in payload["spans"]}
    return {(r["type"], by_id.get(r["head"]), by_id.get(r["tail"])) for r in payload.get("relations", [])}
