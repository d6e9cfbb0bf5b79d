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
