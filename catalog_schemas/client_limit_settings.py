"""The settings of what one client may ask, the same in the STAC API and the tiler.

Each service's settings class derives from :class:`ClientLimitSettings` with its own prefix
(``EARTHSIG_API_``, ``EARTHSIG_TILER_``) and adds its own budgets (docs/configuration.md).
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings

from catalog_schemas.request_limits import SearchLimits


class ClientLimitSettings(BaseSettings):
    """Sizes and times of one request, and the factor a known API key multiplies budgets by."""

    # A search at every limit below is ~0.5 MB of JSON; a larger body is refused unread.
    max_body_bytes: int = Field(default=2**20, ge=1024,
                                description="Largest request body (bytes); larger is a 413.")
    body_timeout_s: float = Field(
        default=10.0, gt=0, description="Seconds a request's whole body may take to arrive; "
        "a slower client gets 408 and its connection is closed.")
    max_ids: int = Field(default=500, ge=1, description="Most `ids` one search may name.")
    max_collections: int = Field(default=100, ge=1,
                                 description="Most `collections` one search may name.")
    max_limit: int = Field(default=1000, ge=1, description="Largest `limit` (page size) "
                           "accepted; more is a 400, not silently less.")
    max_vertices: int = Field(default=10_000, ge=4, description="Most vertices of a search's "
                              "`intersects` geometry, and of its filter's geometries together.")
    max_rings: int = Field(default=500, ge=1, description="Most polygon rings (outer and "
                           "holes) of `intersects`, and of a filter's geometries together.")
    max_cql2_nodes: int = Field(default=500, ge=1, description="Most nodes (operators, "
                                "properties, values) of a CQL2 filter.")
    max_cql2_depth: int = Field(default=20, ge=1, description="Deepest nesting of a CQL2 "
                                "filter.")
    statement_timeout_s: float = Field(
        default=10.0, ge=0, description="Seconds one database statement of a read (a search, "
        "a mosaic's item query) may run; longer is cancelled and answered 503 (0: no limit).")
    rate_limit_url: str = Field(
        default="", validation_alias=AliasChoices("EARTHSIG_RATE_LIMIT_URL"),
        description="Redis holding the per-client request budgets (`EARTHSIG_RATE_LIMIT_URL`, "
        "one for every API and tiler process; the stack sets it); empty: each process counts "
        "on its own.")
    rate_repeat_delay_s: float = Field(
        default=1.0, ge=0, description="Seconds a client that asks again before its "
        "`Retry-After` waits for the next 429 (at most until then): a flood on one connection "
        "is slowed to one request a second instead of costing a 429 each time (0: answer at "
        "once).")
    rate_key_factor: int = Field(default=10, ge=1, description="Clients sending a known API "
                                 "key get this many times every budget.")

    def search_limits(self) -> SearchLimits:
        return SearchLimits(ids=self.max_ids, collections=self.max_collections,
                            limit=self.max_limit, vertices=self.max_vertices,
                            rings=self.max_rings, cql2_nodes=self.max_cql2_nodes,
                            cql2_depth=self.max_cql2_depth)

    def limit_settings(self, prefix: str) -> dict[str, str]:
        """Limit name -> the variable that sets it, named in refusals."""
        names = {name: f"{prefix}MAX_{name.upper()}" for name in (
            "ids", "collections", "limit", "vertices", "rings", "cql2_nodes", "cql2_depth")}
        return names | {"body_bytes": f"{prefix}MAX_BODY_BYTES",
                        "body_seconds": f"{prefix}BODY_TIMEOUT_S",
                        "statement_seconds": f"{prefix}STATEMENT_TIMEOUT_S"}
