"""A module-scoped tiler over one landcover item, for modules that send many requests to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from catalog_schemas.collections import landcover_collection
from infra.postgres import libpq_env
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import item_dict, load, write_cog

ITEM_ID = "S2A_MSIL2A_20240601T104621_N0510_R051_T31TCJ_clc-v1"


@dataclass(frozen=True)
class ServedTiler:
    """A running tiler, the asset root it may read, its one COG and a registered search."""

    url: str
    root: Path
    cog: Path
    search_id: str


def serve_one_item(dsn: str, root: Path, env: dict[str, str] | None = None
                   ) -> Iterator[ServedTiler]:
    """Load the collection and one item whose COG is in ``root``; run a tiler reading ``root``."""
    cog = write_cog(root / "landcover.tif")
    item = item_dict(cog, ITEM_ID, datetime(2024, 6, 1, 10, 46, 21, tzinfo=UTC))
    load(dsn, [landcover_collection().to_dict()], [item])
    server_env = {**libpq_env(dsn), "EARTHSIG_TILER_ASSET_ROOTS": str(root), **(env or {})}
    with uvicorn_server("tiler.app:create_app", server_env, health_path="/healthz") as url:
        registered = httpx.post(f"{url}/searches/register",
                                json={"collections": ["landcover"]}, timeout=30)
        registered.raise_for_status()
        yield ServedTiler(url, root, cog, registered.json()["id"])
