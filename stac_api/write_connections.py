"""Each write through the transactions extension is one database transaction that leaves its
collection's document true to its items, as the pipeline's registrations do.

stac-fastapi-pgstac's clients (``TransactionsClient``, ``BulkTransactionsClient``) take every
connection they write on from ``app.state.get_connection(request, "w")``, one per request, and
let that hook be replaced (``connect_to_db(get_conn=...)``). :func:`connection` is ours: a
write connection holds one transaction that

1. takes the registration lock (``catalog_schemas.collection_refresh``): API writes and the
   pipeline's registrations and ``retire`` follow each other, as pgstac's partition creation
   and constraint tightening need (two writers at once deadlock or fail);
2. runs the client's write;
3. refreshes the collection the request's path names (item create, update, patch, delete, bulk
   items; collection update, patch, delete), with the SQL the pipeline runs: its extent, and
   its ``earthsig:model`` summary if it summarises its models (it has the summary, or a
   refresh marked it so);

and commits, or rolls all of it back if any step fails. So the model version of an item only
the API wrote is on the default map, and TileJSON bounds follow API writes. The tile store is
told afterwards, by :class:`stac_api.tile_invalidation.TileInvalidationMiddleware`, once the
handler has returned: after the commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from asyncpg import Connection
from fastapi import Request
from stac_fastapi.pgstac.db import get_connection

from catalog_schemas.collection_refresh import (
    REGISTRATION_XACT_LOCK,
    ParamStyle,
    refresh_queries,
)


async def refresh_collection(conn: Connection, collection_id: str) -> None:
    """Refresh ``collection_id``'s extent, and its models summary where it has one."""
    for sql, params in refresh_queries(collection_id, models=False, style=ParamStyle.NUMERIC):
        await conn.execute(sql, *params)


@asynccontextmanager
async def connection(request: Request, readwrite: Literal["r", "w"] = "r"
                     ) -> AsyncIterator[Connection]:
    """Upstream's connection for reads; for writes, one locked transaction that refreshes the
    collection the request names after the write."""
    async with get_connection(request, readwrite) as conn:
        if readwrite != "w":
            yield conn
            return
        async with conn.transaction():
            await conn.execute(REGISTRATION_XACT_LOCK)
            yield conn
            collection_id = request.path_params.get("collection_id")
            if collection_id is not None:
                await refresh_collection(conn, collection_id)
