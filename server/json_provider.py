"""Flask's JSON through orjson: every API request body is parsed and every response written here.

The standard library's encoder was ~3 % of an annotator request's CPU and most of a 50-item list's serialisation;
orjson does the same work in C several times faster. Output keeps what clients saw before: keys sorted, datetimes
(rare in replies: routes write ISO strings themselves) and other types orjson does not know handled by Flask's own
fallback. Input: a body orjson refuses (malformed, deeper than its 1,024 levels, or only stricter than the standard
parser) and one with an integer past 64 bits (which orjson would read as a float) are parsed by the standard
parser, so what the API accepts and the errors it gives are unchanged.
"""
from __future__ import annotations

import json
import re
import typing as t

import orjson
from flask.json.provider import DefaultJSONProvider

_LONG_DIGITS = re.compile(rb"[0-9]{19}")
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


class OrjsonProvider(DefaultJSONProvider):
    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        if kwargs:  # an explicit indent, cls, ... : the standard encoder honours them
            return super().dumps(obj, **kwargs)
        return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        if kwargs:
            return super().loads(s, **kwargs)
        try:
            value = orjson.loads(s)
        except orjson.JSONDecodeError:
            # Malformed, too deep (orjson stops at 1,024 levels) or only stricter than the standard parser: the
            # standard parser decides, so what is accepted and each error's message stay as they were.
            return json.loads(s)
        if _may_hold_big_integer(s):
            return json.loads(s)
        return value

    def response(self, *args: t.Any, **kwargs: t.Any):
        obj = self._prepare_response_obj(args, kwargs)
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)  # pretty-printed for a person
        return self._app.response_class(
            orjson.dumps(obj, default=self.default, option=_OPTIONS), mimetype=self.mimetype)


def _may_hold_big_integer(s: str | bytes) -> bool:
    """A run of 19+ digits (2**63 has 19) is a big integer or part of a string; re-parsing is rare."""
    return _LONG_DIGITS.search(s.encode() if isinstance(s, str) else s) is not None
