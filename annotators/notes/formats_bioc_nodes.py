"""BioC XML and JSON, parsed into the same plain dicts (document, passage, sentence nodes with their infons,
annotations and relations), so that formats_bioc builds notes from either layout in one way."""
from __future__ import annotations

import json

from annotators.base import FormatError


def _xml_node(element, where: str) -> dict:
    """A document, passage or sentence as a plain dict (one pass over its children)."""
    node: dict = {"infons": [], "annotations": [], "relations": [], "passages": [], "sentences": [], "text": None,
                  "offset": 0, "id": ""}
    for child in element:
        tag = child.tag
        if tag == "infon":
            node["infons"].append((child.get("key") or "", child.text or ""))
        elif tag == "offset":
            node["offset"] = _int(child.text, where)
        elif tag == "text":
            node["text"] = child.text or ""
        elif tag == "id":
            node["id"] = (child.text or "").strip()
        elif tag == "passage":
            node["passages"].append(_xml_node(child, where))
        elif tag == "sentence":
            node["sentences"].append(_xml_node(child, where))
        elif tag == "annotation":
            node["annotations"].append({
                "id": child.get("id") or "", "infons": _xml_infons(child),
                "locations": [(_int(l.get("offset"), where), _int(l.get("length"), where))
                              for l in child.iter("location")],
                "text": child.findtext("text")})
        elif tag == "relation":
            node["relations"].append({
                "id": child.get("id") or "", "infons": _xml_infons(child),
                "nodes": [(n.get("refid") or "", n.get("role") or "") for n in child.iter("node")]})
    return node


def _xml_infons(element) -> list[tuple[str, str]]:
    return [(i.get("key") or "", i.text or "") for i in element.iter("infon")]


def _json_list(node: dict, key: str, where: str) -> list:
    value = node.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or (value and set(map(type, value)) != {dict}):
        raise FormatError(f"{where}: '{key}' must be a list of objects")
    return value


def _json_infons(value, where: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise FormatError(f"{where}: 'infons' must be an object")
    return [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in value.items() if v is not None]


def _json_node(node, where: str) -> dict:
    if not isinstance(node, dict):
        raise FormatError(f"{where}: expected a JSON object")
    text = node.get("text")
    if text is not None and not isinstance(text, str):
        raise FormatError(f"{where}: 'text' must be a string")
    annotations = []
    for annotation in _json_list(node, "annotations", where):
        quoted = annotation.get("text")
        annotations.append({
            "id": str(annotation.get("id") or ""), "infons": _json_infons(annotation.get("infons"), where),
            "locations": [(_int(loc.get("offset"), where), _int(loc.get("length"), where))
                          for loc in _json_list(annotation, "locations", where)],
            "text": quoted if isinstance(quoted, str) else None})
    relations = [{"id": str(r.get("id") or ""), "infons": _json_infons(r.get("infons"), where),
                  "nodes": [(str(n.get("refid") or ""), str(n.get("role") or ""))
                            for n in _json_list(r, "nodes", where)]}
                 for r in _json_list(node, "relations", where)]
    return {"id": str(node.get("id") or node.get("_id") or "").strip(),
            "infons": _json_infons(node.get("infons"), where),
            "offset": _int(node.get("offset", 0), where), "text": text, "annotations": annotations,
            "relations": relations, "passages": [_json_node(p, where) for p in _json_list(node, "passages", where)],
            "sentences": [_json_node(s, where) for s in _json_list(node, "sentences", where)]}


def _int(value, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise FormatError(f"{where}: offset or length {str(value)[:20]!r} is not a number") from None
