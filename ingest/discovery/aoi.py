"""Areas of interest for discovery: the shipped Europe outline, or any GeoJSON file.

``europe.geojson`` (in ``ingest/data``) is built by ``build_europe`` from Natural Earth's
1:110m countries (public domain), which ship as ``naturalearth_lowres`` in pyogrio's test
fixtures: the countries with ``continent == 'Europe'``, clipped to ``CLIP_BOX`` so that
overseas territories (French Guiana), Asian Russia beyond the Urals and the high Arctic
islands fall away, merged and simplified. Rebuild it with
``python -m ingest.discovery.aoi ingest/data/europe.geojson``.
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path

import shapely
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry

from ingest.errors import IngestError

CLIP_BOX = (-25.0, 34.0, 60.0, 72.0)  # lon/lat: Azores to the Urals, Crete to North Cape
SIMPLIFY_DEG = 0.02
FIXTURE = "tests/fixtures/naturalearth_lowres/naturalearth_lowres.shp"
SOURCE = ("Natural Earth 1:110m Admin 0 Countries (public domain), via pyogrio's test fixture "
          "naturalearth_lowres")


class AoiError(IngestError):
    """An area of interest that cannot be read or is not a polygon."""


def load_aoi(name_or_path: str) -> BaseGeometry:
    """``europe`` (shipped) or the path of a GeoJSON file (geometry, Feature or collection)."""
    if name_or_path == "europe":
        text = files("ingest").joinpath("data/europe.geojson").read_text(encoding="utf-8")
        where = "the shipped europe.geojson"
    else:
        try:
            text = Path(name_or_path).read_text(encoding="utf-8")
        except OSError as exc:
            raise AoiError(f"AOI {name_or_path}: {exc.strerror or exc}") from exc
        where = name_or_path
    try:
        return _geometry(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AoiError(f"AOI {where} is not a GeoJSON polygon: {exc}") from exc


def _geometry(document: dict) -> BaseGeometry:
    kind = document.get("type")
    if kind == "FeatureCollection":
        parts = [_geometry(f) for f in document["features"]]
        geometry = shapely.union_all(parts)
    elif kind == "Feature":
        geometry = shape(document["geometry"])
    else:
        geometry = shape(document)
    if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
        raise ValueError(f"a {geometry.geom_type}, not an area")
    return geometry


def build_europe(out: Path) -> BaseGeometry:
    """Write ``europe.geojson`` from pyogrio's Natural Earth fixture; return the outline."""
    import pyogrio

    shp = Path(pyogrio.__file__).parent / FIXTURE
    _meta, _fids, geometry, fields = pyogrio.raw.read(shp, columns=["continent"])
    europe = [shapely.from_wkb(g) for g, c in zip(geometry, fields[0], strict=True)
              if c == "Europe"]
    outline = shapely.union_all(europe).intersection(box(*CLIP_BOX))
    outline = shapely.set_precision(outline.simplify(SIMPLIFY_DEG), 1e-4)
    document = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "Europe", "source": SOURCE,
                                          "clip_box": list(CLIP_BOX)},
        "geometry": mapping(outline)}]}
    out.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
    return outline


if __name__ == "__main__":
    build_europe(Path(sys.argv[1]))
