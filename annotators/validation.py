"""JSON Schema validation of label configurations and payloads: compiled (fastjsonschema) for speed on large
payloads, jsonschema for the message, which names the place and the rule but never repeats a value (payload
strings are note text, i.e. PHI)."""
from __future__ import annotations

from typing import Any, Callable

import fastjsonschema
import jsonschema

_compiled: dict[int, tuple[dict, Callable | None]] = {}
_NEWER_KEYWORDS = {"prefixItems", "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$dynamicAnchor",
                   "dependentSchemas", "dependentRequired", "$defs", "minContains", "maxContains"}


def _keywords(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keywords(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keywords(value)


def _fast_validator(schema: dict) -> Callable | None:
    """fastjsonschema compiles a schema to Python code: ~20x faster than jsonschema on a 50,000-span payload,
    which keeps a large submit inside a request's time budget. Schemas it cannot compile use jsonschema only."""
    cached = _compiled.get(id(schema))
    if cached is None or cached[0] is not schema:
        compiled = None
        if not _NEWER_KEYWORDS & set(_keywords(schema)):  # it would ignore 2019-09/2020-12 keywords silently
            try:
                # no detailed exceptions: their messages are built eagerly (locals() per check); jsonschema
                # below names the problem when there is one
                compiled = fastjsonschema.compile(schema, detailed_exceptions=False)
            except Exception:  # noqa: BLE001 - an unsupported construct: the slow path stays correct
                compiled = None
        cached = _compiled[id(schema)] = (schema, compiled)
    return cached[1]


def validate(instance: Any, schema: dict, what: str) -> None:
    """Raise ValueError naming where `instance` breaks `schema` (never quoting the offending value)."""
    fast = _fast_validator(schema)
    if fast is not None:
        try:
            fast(instance)
            return
        except fastjsonschema.JsonSchemaException:
            pass  # jsonschema below names the first problem the way every other message does
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise ValueError(f"{what} invalid at {where}: {_safe_message(first)}")


def _safe_message(error: jsonschema.ValidationError) -> str:
    """What is wrong, without repeating the offending value: a payload's strings are note text (PHI)."""
    kind, expected, value = error.validator, error.validator_value, error.instance
    size = len(value) if isinstance(value, (list, str, dict)) else None
    if kind in ("maxItems", "maxProperties"):
        return f"has {size} entries; the limit is {expected} per item"
    if kind == "minItems":
        return f"has {size} entries; at least {expected} needed"
    if kind == "maxLength":
        return f"is {size} characters long; the limit is {expected}"
    if kind == "minLength":
        return f"is {size} characters long; at least {expected} needed"
    if kind == "type":
        return f"must be of type {expected}, not {type(value).__name__}"
    if kind in ("enum", "const"):
        return f"must be one of {list(expected) if kind == 'enum' else [expected]}"[:300]
    if kind == "pattern":
        return f"does not match the pattern {expected}"[:300]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        return f"must satisfy {kind} {expected}"
    if kind in ("required", "additionalProperties", "dependentRequired"):
        return error.message[:300]  # names properties of the schema or keys, not values
    return f"fails the schema's {kind!r} rule"
