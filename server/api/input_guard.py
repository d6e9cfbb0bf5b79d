"""Checks every API request body and query string gets before anything reads it: no NUL or other control
characters in any string (PostgreSQL cannot store NUL, and invisible controls make look-alike names and break
exports), and JSON nested no deeper than MAX_DEPTH (a 100k-deep document would exhaust the parser's recursion).

Messages name the field ("items[3].meta.patient"), never its value: values may be PHI.
"""
from __future__ import annotations

import re

from flask import request

from server.errors import ApiError
from server.text_checks import CONTROL, describe, find_control

MAX_DEPTH = 64
# Raw control characters are invalid inside JSON strings (the parser refuses them), so they can only arrive
# escaped (\u0000) or, for DEL and C1, as raw bytes: a scan of the body finds candidates without walking a
# 50,000-span payload in Python; only a hit is walked, to name the field (an escaped backslash may be a false hit).
_CANDIDATE = re.compile(rb"\\[bf]|\\u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])|\x7f|\xc2[\x80-\x9f]")
# Each alternative of _CANDIDATE starts with one of these bytes: a body holding none of them (most do) needs no
# regex pass (a one-byte search runs at memchr speed).
_CANDIDATE_STARTS = (b"\\", b"\x7f", b"\xc2")
_NOT_BRACKETS_OR_QUOTES = bytes(c for c in range(256) if c not in b'[]{}"')
_STRING = re.compile(rb'"[^"]*"')
_INNERMOST = re.compile(rb"\[\]|\{\}")


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Nesting deeper than `limit`, decided on the raw bytes at C speed (the parsed body is never walked): strings
    and scalars are dropped, then innermost bracket pairs are removed once per level; anything left is deeper."""
    # Valid JSON (the body parsed): backslashes only occur inside strings, as escapes. Dropping the escaped
    # backslashes, then the escaped quotes (left to right, as the parser reads them), leaves quotes that only
    # delimit strings; keeping brackets and quotes (a C-speed translate) and dropping the strings leaves the
    # structure. Each step is a bytes operation: no regex runs over the whole body.
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in raw else raw
    structure = unescaped.translate(None, _NOT_BRACKETS_OR_QUOTES)
    if structure.count(b"[") + structure.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", structure)
    for _ in range(limit):
        brackets, removed = _INNERMOST.subn(b"", brackets)
        if not brackets or not removed:
            break
    return bool(brackets)


def check_strings(value) -> None:
    problem = find_control(value, max_depth=MAX_DEPTH)
    if problem:
        raise ApiError(400, problem)


def guard_request() -> None:
    for name, value in request.args.items(multi=True):
        if CONTROL.search(name) or CONTROL.search(value):
            raise ApiError(400, f"query parameter {name[:40]!r} contains a control character")
    if request.mimetype == "application/json" and request.content_length != 0:
        try:
            body = request.get_json(silent=True)  # cached: the route parses nothing twice
        except RecursionError:  # json's C parser stops at the interpreter's recursion limit
            raise ApiError(400, f"JSON body is nested deeper than {MAX_DEPTH} levels") from None
        raw = request.get_data(cache=True)
        if body is not None and too_deep(raw):
            raise ApiError(400, f"JSON body is nested deeper than {MAX_DEPTH} levels")
        if body is not None and any(start in raw for start in _CANDIDATE_STARTS) and _CANDIDATE.search(raw):
            check_strings(body)
    elif request.mimetype == "multipart/form-data":
        for name, value in request.form.items(multi=True):
            found = CONTROL.search(value) or CONTROL.search(name)
            if found:
                raise ApiError(400, f"form field {name[:40]!r} contains {describe(found.group())}")
