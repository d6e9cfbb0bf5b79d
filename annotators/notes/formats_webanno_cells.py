"""WebAnno TSV 3 cells: backslash escapes in feature values, separators that are not escaped, and the `[n]`
suffix that tells stacked and multi-token annotations apart."""
from __future__ import annotations

import re

_DISAMBIGUATED = re.compile(r"^(.*)\[(\d+)\]$", re.S)
_VALUE_ESCAPES = {"\\": "\\", "[": "[", "]": "]", "|": "|", "_": "_", "->": "->", ";": ";", "t": "\t", "n": "\n",
                  "*": "*"}
_VALUE_ESCAPE = re.compile(r"\\(->|[\\\[\]|_;tn*])")


def _unescape_value(raw: str) -> str:
    return _VALUE_ESCAPE.sub(lambda m: _VALUE_ESCAPES[m.group(1)], raw) if "\\" in raw else raw


def _split(raw: str, separator: str) -> list[str]:
    """Split at separators that are not escaped by a backslash."""
    if "\\" not in raw:
        return raw.split(separator)
    parts, current, index = [], [], 0
    while index < len(raw):
        char = raw[index]
        if char == "\\" and index + 1 < len(raw):
            current.append(raw[index:index + 2])
            index += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _escaped(raw: str, position: int) -> bool:
    run = len(raw[:position]) - len(raw[:position].rstrip("\\"))
    return run % 2 == 1


def _disambiguated(raw: str) -> tuple[str, int]:
    match = _DISAMBIGUATED.match(raw)
    if match and not _escaped(raw, match.start(2) - 1):
        return match.group(1), int(match.group(2))
    return raw, 0
