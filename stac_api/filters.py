"""CQL2 filters as pgstac 0.10 needs them: parsed once, combined, and two spellings fixed.

Two ways pgstac answers standard CQL2 badly, both fixed here rather than rejected:

- the CQL2 spec names the array operator ``a_containedby``; pgstac only knows
  ``a_contained_by`` and answers the spec's name with a 500 ("Operator Not Supported");
- pgstac compares arrays as text, and cql2-text reads ``(311)`` as ``[311.0]``, whose text
  ``311.0`` matches neither ``"311"`` nor ``311``: an integral number in an array literal is
  written as the integer it is, so ``a_contains(clc:classes, (311))`` finds class 311.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from cql2 import Expr
from stac_fastapi.types.errors import InvalidQueryParameter

ARRAY_OPS = {"a_equals", "a_contains", "a_containedby", "a_contained_by", "a_overlaps"}
PGSTAC_SPELLING = {"a_containedby": "a_contained_by"}


class InvalidFilter(InvalidQueryParameter):
    """A filter that is not CQL2, or that pgstac cannot evaluate."""


# cql2 0.6's Expr.validate() compiles the CQL2 JSON schema on every call: ~70-120 ms of CPU on
# these machines, most of a search's time (docs/benchmarks.md, "Catalog at scale"). Whether a
# CQL2-JSON document is valid depends on the document alone, so the answer is remembered per
# document; the same filters come back all the time (a category, the next page of a search).
VALIDATED_CACHE_SIZE = 4096


@lru_cache(maxsize=VALIDATED_CACHE_SIZE)
def _validate_json(document: str) -> None:
    # Raises on an invalid document: lru_cache keeps no exception, so those are checked anew.
    Expr(orjson.loads(document)).validate()


def validate(expr: Expr) -> dict[str, Any]:
    """``expr`` as CQL2-JSON, once cql2 has validated it (the check is cached per document)."""
    parsed: dict[str, Any] = expr.to_json()
    _validate_json(orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS).decode())
    return parsed


def parse(expression: str | dict[str, Any], lang: str | None = None) -> dict[str, Any]:
    """CQL2-JSON of a cql2-text string, a cql2-json string or an already-parsed dict."""
    try:
        if isinstance(expression, str) and lang != "cql2-json":
            expr = Expr(expression)
        else:
            data = orjson.loads(expression) if isinstance(expression, str) else expression
            expr = Expr(data)
        # cql2 parses a bare word as a property; validate() rejects a filter that is not boolean.
        parsed = validate(expr)
    except Exception as e:  # cql2 raises bare Exceptions (and ValueError) on every bad input
        raise InvalidFilter(f"Invalid {lang or 'cql2'} filter: {e}") from e
    return parsed


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def normalise(node: Any) -> Any:
    """``node`` with pgstac's operator spellings and array literals it can match."""
    if isinstance(node, list):
        return [normalise(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: normalise(v) for k, v in node.items()}
    op = str(out.get("op", "")).lower()
    if op in ARRAY_OPS:
        out["op"] = PGSTAC_SPELLING.get(op, op)
        out["args"] = [
            [_integral(v) for v in arg] if isinstance(arg, list) else arg
            for arg in out.get("args", [])
        ]
    return out


def properties(node: Any) -> set[str]:
    """Every property a CQL2-JSON expression names (``{"property": name}``)."""
    if isinstance(node, list):
        return set().union(*(properties(n) for n in node))
    if not isinstance(node, dict):
        return set()
    named = {node["property"]} if isinstance(node.get("property"), str) else set()
    return named.union(*(properties(v) for v in node.values()))


def combine(*filters: dict[str, Any] | None) -> dict[str, Any] | None:
    """The AND of the filters given (``None`` ones skipped)."""
    present = [f for f in filters if f]
    if len(present) <= 1:
        return present[0] if present else None
    return {"op": "and", "args": present}
