"""Links from the STAC API to the tiler: XYZ template and TileJSON per collection, web map.

The URL forms are the tiler's (titiler-pgstac collection mosaics), the same ones
``infra/endpoints.py`` writes to ``endpoints.json``. The tile parameters of a collection come
from its ``renders`` (the render extension), so a collection says itself how it is drawn: the
landcover collection's render gives ``assets=landcover&colormap_name=clc&resampling=nearest``.
A collection without renders gets no tile links. Rel types are the web-map-links extension's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

WEB_MAP_LINKS_SCHEMA = "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json"
TMS = "WebMercatorQuad"
# Render fields that are tiler query parameters, in the order the tiler URLs write them.
RENDER_PARAMETERS = ("assets", "expression", "nodata", "rescale", "colormap_name",
                     "resampling", "color_formula")


def tile_query(render: dict[str, Any]) -> str:
    """The tiler query string of a render, e.g. ``assets=landcover&colormap_name=clc&...``."""
    pairs: list[tuple[str, Any]] = []
    for name in RENDER_PARAMETERS:
        value = render.get(name)
        if value is None:
            continue
        if name == "rescale":  # [[min, max], ...] -> rescale=min,max per band
            pairs.extend(("rescale", f"{lo},{hi}") for lo, hi in value)
        elif isinstance(value, list):
            pairs.extend((name, v) for v in value)
        else:
            pairs.append((name, value))
    return urlencode(pairs, safe=",", quote_via=quote)


@dataclass(frozen=True)
class TilerLinks:
    """Link builder for one tiler base URL (no trailing slash) and web map URL."""

    tiler: str
    web_map: str

    def landing_links(self) -> list[dict[str, Any]]:
        return [
            {"rel": "related", "type": "text/html", "href": self.web_map,
             "title": "Web map of the land cover"},
            {"rel": "related", "type": "application/json", "href": f"{self.tiler}/",
             "title": "Map tiles (TiTiler)"},
        ]

    def collection_links(self, collection: dict[str, Any]) -> list[dict[str, Any]]:
        base = f"{self.tiler}/collections/{collection['id']}"
        found: list[dict[str, Any]] = []
        for key, render in (collection.get("renders") or {}).items():
            query = tile_query(render)
            title = render.get("title", key)
            found += [
                {"rel": "xyz", "type": "image/png", "title": title,
                 "href": f"{base}/tiles/{TMS}/{{z}}/{{x}}/{{y}}.png?{query}"},
                {"rel": "tilejson", "type": "application/json", "title": title,
                 "href": f"{base}/{TMS}/tilejson.json?{query}&tile_format=png"},
            ]
        if found:
            found.append({"rel": "related", "type": "text/html", "href": self.web_map,
                          "title": "Web map of the land cover"})
        return found

    def add_to_collection(self, collection: dict[str, Any]) -> None:
        """Add the tile links to ``collection`` and declare the extension they belong to."""
        tile_links = self.collection_links(collection)
        if not tile_links:
            return
        collection.setdefault("links", []).extend(tile_links)
        extensions = collection.setdefault("stac_extensions", [])
        if WEB_MAP_LINKS_SCHEMA not in extensions:
            extensions.append(WEB_MAP_LINKS_SCHEMA)
