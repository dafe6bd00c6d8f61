"""What a collection's map holds around a view: for the web map's date control and its
"no data here" message.

For a view (a bbox) and the map's filters (a ``datetime``, the model filter the
ModelVersionsMiddleware adds), from the item footprints in pgstac:

- ``dates``: the acquisition days of the items in the view, whatever the date chosen (the
  control steps through them);
- ``in_view``: whether an item the map draws lies in the view;
- ``nearest``: else the closest such item: its bbox, and the distance (km, on the ellipsoid)
  and compass direction from the view's centre to the nearest point of its footprint.

Footprints, not pixels: a footprint in view may still be nodata at places (a cloud hole).
pgstac's own ``stac_search_to_where`` turns the filters into SQL, as the mosaic's searches do.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

BBox = tuple[float, float, float, float]
_DIRECTIONS = ("north", "north-east", "east", "south-east", "south", "south-west", "west",
               "north-west")

_ENVELOPE = "ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)"
_CENTRE = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)"
_DATES_SQL = f"""
SELECT DISTINCT to_char(datetime AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
FROM pgstac.items WHERE {{where}} AND ST_Intersects(geometry, {_ENVELOPE}) ORDER BY day
"""
_IN_VIEW_SQL = f"""
SELECT EXISTS (SELECT 1 FROM pgstac.items
               WHERE {{where}} AND ST_Intersects(geometry, {_ENVELOPE}))
"""
# The closest footprint by the index's planar distance, then measured on the ellipsoid.
_NEAREST_SQL = f"""
SELECT id, ST_XMin(geometry), ST_YMin(geometry), ST_XMax(geometry), ST_YMax(geometry),
       ST_Distance(p::geography, {_CENTRE}::geography),
       degrees(ST_Azimuth({_CENTRE}::geography, p::geography))
FROM (SELECT id, geometry, ST_ClosestPoint(geometry, {_CENTRE}) AS p
      FROM pgstac.items WHERE {{where}}
      ORDER BY geometry <-> {_CENTRE} LIMIT 1) AS closest
"""


class Nearest(BaseModel):
    item: str
    bbox: BBox
    distance_km: float
    direction: str  # from the view's centre: "south-west"…
    bearing: float  # degrees clockwise from north


class Coverage(BaseModel):
    in_view: bool
    dates: list[str]
    nearest: Nearest | None


def compass(bearing: float | None) -> str:
    """The 8-point compass direction of a bearing in degrees ("here" without one: the point
    is the centre itself)."""
    if bearing is None:
        return "here"
    return _DIRECTIONS[round((bearing % 360) / 45) % 8]


class CoverageQueryError(ValueError):
    """The filters are not a search pgstac understands (the client's mistake: a 400)."""


def check_datetime(text: str) -> str:
    """``text`` if it is an RFC 3339 instant or an interval of two (``..`` open);
    CoverageQueryError naming the form otherwise (pgstac would fail with a SQL error)."""
    parts = text.split("/")
    try:
        if len(parts) > 2 or all(p in ("", "..") for p in parts):
            raise ValueError(text)
        for part in parts:
            if part not in ("", ".."):
                dt.datetime.fromisoformat(part)
    except ValueError:
        raise CoverageQueryError(
            f"datetime {text!r} is not an RFC 3339 date-time or interval "
            "(e.g. 2024-07-01T00:00:00Z or ../2024-07-01T23:59:59Z)") from None
    return text


def _where(conn: Any, search: dict[str, Any]) -> sql.Composable:
    try:
        with conn.transaction():
            (where,) = conn.execute("SELECT pgstac.stac_search_to_where(%s::jsonb)",
                                    (json.dumps(search),)).fetchone()
    except (psycopg.DataError, psycopg.ProgrammingError, psycopg.InternalError) as error:
        raise CoverageQueryError(f"the filter is not understood: {error}") from None
    return sql.SQL(where)


def coverage(pool: ConnectionPool, collection: str, bbox: BBox, datetime: str | None = None,
             cql2_filter: dict[str, Any] | None = None) -> Coverage:
    """The dates, presence and nearest data of ``collection``'s map around ``bbox``."""
    west, south, east, north = bbox
    params = {"west": west, "south": south, "east": east, "north": north,
              "lon": (west + east) / 2, "lat": (south + north) / 2}
    any_date: dict[str, Any] = {"collections": [collection]}
    if cql2_filter is not None:
        any_date |= {"filter": cql2_filter, "filter-lang": "cql2-json"}
    drawn = any_date | ({"datetime": check_datetime(datetime)} if datetime else {})
    with pool.connection() as conn:
        dates_where = _where(conn, any_date)
        drawn_where = _where(conn, drawn)
        try:
            dates = [row[0] for row in
                     conn.execute(sql.SQL(_DATES_SQL).format(where=dates_where), params)]
            row = conn.execute(sql.SQL(_IN_VIEW_SQL).format(where=drawn_where),
                               params).fetchone()
            in_view = bool(row and row[0])
            found = None if in_view else conn.execute(
                sql.SQL(_NEAREST_SQL).format(where=drawn_where), params).fetchone()
        except (psycopg.DataError, psycopg.ProgrammingError) as error:
            # A filter pgstac translated but that fails on the rows (a bad cast, a property
            # of the wrong type): the client's filter, not the service.
            raise CoverageQueryError(f"the filter cannot be applied: {error}") from None
    nearest = None
    if found is not None:
        item, x0, y0, x1, y1, metres, bearing = found
        nearest = Nearest(item=item, bbox=(x0, y0, x1, y1), distance_km=round(metres / 1000, 1),
                          direction=compass(bearing), bearing=round(bearing or 0.0, 1))
    return Coverage(in_view=in_view, dates=dates, nearest=nearest)
