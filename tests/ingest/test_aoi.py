"""The shipped Europe AOI and AOI files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shapely.geometry import Point

from ingest.discovery.aoi import AoiError, build_europe, load_aoi


def test_europe_covers_europe_only() -> None:
    europe = load_aoi("europe")
    for lon, lat in ((1.44, 43.6), (13.4, 52.5), (-8.6, 41.15), (24.9, 60.2), (37.6, 55.75)):
        assert europe.contains(Point(lon, lat)), (lon, lat)  # Toulouse ... Moscow
    for lon, lat in ((-53.0, 4.0), (82.9, 55.0), (15.6, 78.2), (-17.0, 28.3)):
        assert not europe.contains(Point(lon, lat)), (lon, lat)  # Guiana, Novosibirsk, ...


def test_shipped_file_is_what_the_builder_makes(tmp_path: Path) -> None:
    rebuilt = build_europe(tmp_path / "europe.geojson")
    assert rebuilt.equals(load_aoi("europe"))


def test_aoi_file_and_bad_files(tmp_path: Path) -> None:
    square = {"type": "Polygon", "coordinates": [[[0, 40], [1, 40], [1, 41], [0, 41], [0, 40]]]}
    good = tmp_path / "aoi.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": square}]}))
    assert load_aoi(str(good)).bounds == (0, 40, 1, 41)
    line = tmp_path / "line.geojson"
    line.write_text(json.dumps({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}))
    with pytest.raises(AoiError, match="line.geojson is not a GeoJSON polygon"):
        load_aoi(str(line))
    with pytest.raises(AoiError, match="missing.geojson"):
        load_aoi(str(tmp_path / "missing.geojson"))
