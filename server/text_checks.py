"""Control characters in user input (a leaf module): NUL cannot be stored by PostgreSQL, and invisible controls
make look-alike names and broken exports. Findings name the place ("items[3].meta.patient"), never the value."""
from __future__ import annotations

import re

# C0 controls except tab, newline and carriage return; DEL; C1 controls.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _where(root: str, path: list) -> str:
    out = root
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{str(part)[:40]}"
    return out


def describe(ch: str) -> str:
    return "a NUL byte" if ch == "\x00" else f"a control character (U+{ord(ch):04X})"


def find_control(value, root: str = "body", max_depth: int | None = None) -> str | None:
    """A message for the first string (or key) holding a control character (or nesting past `max_depth`)."""
    stack = [(value, [])]
    while stack:
        node, where = stack.pop()
        if max_depth is not None and len(where) > max_depth:
            return f"{root} is nested deeper than {max_depth} levels"
        if isinstance(node, str):
            found = CONTROL.search(node)
            if found:
                return f"{_where(root, where)} contains {describe(found.group())}; remove it"
        elif isinstance(node, dict):
            for key, child in node.items():
                found = CONTROL.search(key) if isinstance(key, str) else None
                if found:
                    return f"a key in {_where(root, where)} contains {describe(found.group())}"
                stack.append((child, [*where, key]))
        elif isinstance(node, list):
            stack.extend((child, [*where, i]) for i, child in enumerate(node))
    return None


# Characters that make two identifiers look alike or reorder what is displayed: zero-width and joiners, bidi
# embeddings/overrides/isolates and marks, soft hyphen, word joiner and invisible operators, variation selectors,
# Hangul fillers, the BOM.
INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                       "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")


def identifier_key(name: str) -> str:
    """The form two identifiers are compared in: `ADMIN`, ` admin ` and full-width `ａｄｍｉｎ` are one name."""
    import unicodedata

    return unicodedata.normalize("NFKC", name).casefold().strip()


def identifier_problem(name: str, what: str) -> str | None:
    """Why `name` cannot be an identifier (a username, a label name), or None. Never quotes the name."""
    if not isinstance(name, str) or not name.strip():
        return f"{what} must not be empty"
    found = INVISIBLE.search(name) or CONTROL.search(name)
    if found:
        return f"{what} contains an invisible or direction-changing character (U+{ord(found.group()):04X})"
    if name != name.strip():
        return f"{what} must not start or end with a space"
    return None


_IDENTIFIER_KEYS = {"name", "id", "value", "hotkey"}


def label_config_problem(config) -> str | None:
    """Identifiers in a label configuration (names, and strings listed in arrays) must be visible and distinct
    after normalisation: `urgent` and `urgent\\u200b` or `Urgent` would be two labels that look like one."""
    stack = [(config, "label_config")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and key in _IDENTIFIER_KEYS:
                    problem = identifier_problem(value, f"{where}.{key}")
                    if problem:
                        return problem
                elif isinstance(value, (dict, list)):
                    stack.append((value, f"{where}.{key}"))
        elif isinstance(node, list):
            seen: dict[str, int] = {}
            for index, value in enumerate(node):
                name = value if isinstance(value, str) else value.get("name") if isinstance(value, dict) else None
                if isinstance(value, str):
                    problem = identifier_problem(value, f"{where}[{index}]")
                    if problem:
                        return problem
                if isinstance(name, str):
                    key = identifier_key(name)
                    if key in seen:
                        return (f"names must be unique: {where}[{index}] and {where}[{seen[key]}] are the same name "
                                "once case, width and spacing are ignored")
                    seen[key] = index
                if isinstance(value, (dict, list)):
                    stack.append((value, f"{where}[{index}]"))
    return None
