"""How much one search may ask for, checked before any parsing model or database sees it.

A search document (STAC API ``POST /search``, its GET parameters, the tiler's
``POST /searches/register``) costs in proportion to what it carries: a 200 000-vertex
``intersects`` polygon took 4.3 s of API CPU in stac-pydantic and shapely before pgstac was
asked, 50 000 ids became a 50 000-term ``IN``. Both services refuse the same things the same
way, so the check lives here: :func:`search_problem` walks the raw document (JSON as sent, or
GET strings) without building models, iteratively, so a deeply nested document cannot exhaust
the stack either.

A refusal is a :class:`LimitExceeded`: the limit's name, what is allowed and what was sent,
which the services answer as ``{code: "LimitExceeded", description, limit, allowed, sent}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

GEOMETRY_TYPES = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                            "MultiPolygon", "GeometryCollection"})
_RING_DEPTH = {"Polygon": 1, "MultiPolygon": 2}  # list depth at which a list is one ring


@dataclass(frozen=True)
class SearchLimits:
    """The most one search may carry (each a service setting)."""

    ids: int = 500
    collections: int = 100
    limit: int = 1000
    vertices: int = 10_000
    rings: int = 500
    cql2_nodes: int = 500
    cql2_depth: int = 20


@dataclass(frozen=True)
class LimitExceeded:
    """One limit a request went past: ``limit`` names it, ``sent`` is what came."""

    limit: str
    allowed: int
    sent: int
    what: str  # the request's part, for a person: "ids", "intersects", "filter"...
    setting: str = ""  # the variable that raises it, when the service names one

    @property
    def description(self) -> str:
        raise_it = f" (the operator sets it with {self.setting})" if self.setting else ""
        return (f"{self.what} carries {self.sent} {self.limit.replace('_', ' ')}: this service "
                f"accepts at most {self.allowed}{raise_it}.")

    def body(self) -> dict[str, Any]:
        """The JSON answer: our ``{code, description}`` plus the limit, machine-readable."""
        return {"code": "LimitExceeded", "description": self.description,
                "limit": self.limit, "allowed": self.allowed, "sent": self.sent}


def _listed(value: Any) -> int:
    """How many items a list parameter names (a JSON list, or GET's comma-separated string)."""
    if isinstance(value, str):
        return len([v for v in value.split(",") if v.strip()])
    return len(value) if isinstance(value, list) else 0


def _as_json(value: Any) -> Any:
    """GET parameters carry JSON as strings; anything unreadable is left to the service."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def geometry_size(geometry: Any) -> tuple[int, int]:
    """(vertices, rings) of a GeoJSON geometry; 0 for what is not one."""
    vertices = rings = 0
    stack: list[Any] = [geometry]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if kind == "GeometryCollection":
            stack.extend(node.get("geometries") or [])
            continue
        ring_depth = _RING_DEPTH.get(kind) if isinstance(kind, str) else None
        walk: list[tuple[Any, int]] = [(node.get("coordinates"), 0)]
        while walk:
            coords, depth = walk.pop()
            if not isinstance(coords, list):
                continue
            if ring_depth is not None and depth == ring_depth:
                rings += 1
            if coords and not isinstance(coords[0], list):
                vertices += 1  # a position: [x, y(, z)]
                continue
            if coords and isinstance(coords[0], list) and coords[0] \
                    and not isinstance(coords[0][0], list):
                # A ring or line: its positions counted by its length, not walked one by one
                # (a 20 000-vertex polygon: 10 ms -> 0.01 ms). A list mixing positions with
                # deeper lists is malformed GeoJSON, which the search model refuses; the body
                # limit bounds what parsing it costs.
                vertices += len(coords)
                continue
            walk.extend((c, depth + 1) for c in coords)
    return vertices, rings


def _cql2_json(value: Any) -> Any:
    """A filter as CQL2 JSON: as sent, or parsed from cql2-text (a parse error: left to the
    service, which says what is wrong with it)."""
    if isinstance(value, str):
        if value.lstrip().startswith("{"):
            return _as_json(value)
        import cql2  # the services' own CQL2 parser (stac-fastapi-pgstac, titiler-pgstac)

        try:
            return cql2.parse_text(value).to_json()
        except Exception:  # noqa: BLE001 - any parse failure is the service's to describe
            return None
    return value


def _cql2_nodes(expression: Any) -> Iterator[tuple[Any, int]]:
    """Every node of a CQL2 JSON expression with its depth (geometries are single nodes)."""
    stack: list[tuple[Any, int]] = [(expression, 1)]
    while stack:
        node, depth = stack.pop()
        yield node, depth
        if isinstance(node, dict):
            if node.get("type") in GEOMETRY_TYPES:
                continue
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _geometry_problem(geometry: Any, what: str, limits: SearchLimits,
                      settings: Mapping[str, str]) -> LimitExceeded | None:
    vertices, rings = geometry_size(geometry)
    if vertices > limits.vertices:
        return LimitExceeded("vertices", limits.vertices, vertices, what,
                             settings.get("vertices", ""))
    if rings > limits.rings:
        return LimitExceeded("rings", limits.rings, rings, what, settings.get("rings", ""))
    return None


def filter_problem(value: Any, limits: SearchLimits,
                   settings: Mapping[str, str] | None = None) -> LimitExceeded | None:
    """Why a CQL2 filter (JSON or text) is too large, or None."""
    settings = settings or {}
    expression = _cql2_json(value)
    if expression is None:
        return None
    nodes = depth = 0
    geometries: list[Any] = []
    for node, at in _cql2_nodes(expression):
        nodes += 1
        depth = max(depth, at)
        if isinstance(node, dict) and node.get("type") in GEOMETRY_TYPES:
            geometries.append(node)
    if nodes > limits.cql2_nodes:
        return LimitExceeded("cql2_nodes", limits.cql2_nodes, nodes, "filter",
                             settings.get("cql2_nodes", ""))
    if depth > limits.cql2_depth:
        return LimitExceeded("cql2_depth", limits.cql2_depth, depth, "filter",
                             settings.get("cql2_depth", ""))
    # All spatial literals of the filter together.
    return _geometry_problem({"type": "GeometryCollection", "geometries": geometries},
                             "filter's spatial literals", limits, settings)


def _limit(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None  # not a number: the service's validation answers it


def search_problem(search: Mapping[str, Any], limits: SearchLimits,
                   settings: Mapping[str, str] | None = None) -> LimitExceeded | None:
    """Why ``search`` (a POST body, or GET parameters as strings) asks too much, or None.

    ``settings`` maps a limit's name to the variable that sets it, for the description.
    """
    settings = settings or {}
    for name in ("ids", "collections"):
        count = _listed(search.get(name))
        allowed = getattr(limits, name)
        if count > allowed:
            return LimitExceeded(name, allowed, count, name, settings.get(name, ""))
    if search.get("intersects") is not None:
        problem = _geometry_problem(_as_json(search["intersects"]), "intersects", limits,
                                    settings)
        if problem:
            return problem
    if search.get("filter") is not None:
        return filter_problem(search["filter"], limits, settings)
    return None


# Where a capped page size is noted (scope key): ``(asked, served)``.
LIMIT_CAPPED = "earthsig.limit_capped"


def capped_limit(value: Any, limits: SearchLimits) -> int | None:
    """What ``limit`` asked, when it is more than a page may hold; else None.

    Such a request is served the maximum, not refused: STAC API Item Search and OGC API
    Features (``/req/core/fc-limit-response-1``) say a limit above the maximum is no error. The
    service states it instead (:func:`limit_warning`), so the cap is never silent.
    """
    asked = _limit(value)
    return asked if asked is not None and asked > limits.limit else None


def limit_warning(asked: int, served: int, setting: str = "") -> bytes:
    """The ``Warning`` header (code 299, persistent) of a response whose page was capped."""
    raise_it = f", set by {setting}" if setting else ""
    return (f'299 - "limit={asked} is more than the {served} items a page may hold{raise_it}: '
            f'{served} served a page; follow the next link for more"').encode()


def cap_query_limit(scope: MutableMapping[str, Any], limits: SearchLimits) -> None:
    """A GET search's ``limit`` lowered to the maximum in ``scope`` (and noted there)."""
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    asked = max((a for k, v in query if k == "limit" and (a := capped_limit(v, limits))),
                default=None)
    if asked is None:
        return
    query = [(k, str(limits.limit) if k == "limit" else v) for k, v in query]
    scope["query_string"] = urlencode(query).encode("latin-1")
    scope[LIMIT_CAPPED] = (asked, limits.limit)


# Where a checked body's JSON is handed on (scope key), so that no one parses it twice.
PARSED_BODY = "earthsig.parsed_body"


def search_body_check(searches: Callable[[str, str], bool], limits: SearchLimits,
                      settings: Mapping[str, str] | None = None
                      ) -> Callable[[MutableMapping[str, Any], bytes], LimitExceeded | None]:
    """The body check of :class:`catalog_schemas.client_guards.ClientGuardMiddleware`:
    the bodies of the requests ``searches(method, path)`` names are parsed once (orjson: a
    0.6 MB body of 50 000 ids in ~3 ms, a fifth of the standard library's time) and refused
    when they ask too much; their JSON is left in ``scope[PARSED_BODY]``. A body that is not
    JSON passes, for the service to describe."""

    def check(scope: MutableMapping[str, Any], body: bytes) -> LimitExceeded | None:
        if not searches(scope.get("method", ""), scope.get("path", "")):
            return None
        try:
            document = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            return None
        scope[PARSED_BODY] = document
        if not isinstance(document, dict):
            return None
        asked = capped_limit(document.get("limit"), limits)
        if asked is not None:
            document["limit"] = limits.limit  # the middleware hands on the body re-encoded
            scope[LIMIT_CAPPED] = (asked, limits.limit)
        return search_problem(document, limits, settings)

    return check


class SearchTooLarge(Exception):
    """A search past one of a service's limits; its handler answers ``problem.body()``."""

    def __init__(self, problem: LimitExceeded) -> None:
        super().__init__(problem.description)
        self.problem = problem


def statement_timeout_body(seconds: float, setting: str, advice: str) -> dict[str, Any]:
    """The 503 answer to a statement PostgreSQL cancelled after ``seconds``."""
    return {"code": "StatementTimeout",
            "description": f"The database gave up on this request after {seconds:g} s (the "
                           f"operator sets it with {setting}): {advice}",
            "limit": "statement_seconds", "allowed": seconds}
