"""Time series on three generated products of one tile, processed by the real pipeline.

The ground truth changes between dates in known ways: May and June share a landscape (seed 21),
June is 30 % clouded; July is another landscape (seed 22), clear. Expected answers come from the
generator's truth rasters and SCL bands, never from the code under test: the series at a point
is the truth class at that pixel per date (null under cloud), and the fractions in a polygon
are the truth's fractions over its clear pixels.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from pyproj import Transformer
from rasterio.enums import Resampling

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from inference.settings import InferenceSettings
from infra.cli import main as cli
from infra.postgres import libpq_env
from ingest.clouds.cloudmask import cloudmask_from_scl
from ingest.pipeline import process_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built
from tests.servers import uvicorn_server
from tests.tiler.test_web_map import MODULES, _chromium
from tiler.errors import NothingHereError
from tiler.paths import AssetRoots
from tiler.timeseries import (
    TimeseriesInputError,
    TimeseriesSettings,
    area_series,
    connect,
    point_series,
)

TILE = "T31TCJ"
SIZE = 512
# (date, seed, cloud cover %): May and June one landscape, July another.
ACQUISITIONS = [(date(2024, 5, 1), 21, 0.0), (date(2024, 6, 1), 21, 30.0),
                (date(2024, 7, 1), 22, 0.0)]
PROBE = Path(__file__).with_name("timeseries_probe.cjs")
CLOUD_NAMES = {c.value: c.name for c in cm.CLOUD_CLASSES} | {cm.NODATA: "nodata"}


@dataclass
class Truth:
    day: date
    item_id: str
    landcover: np.ndarray  # grid codes
    cloudmask: np.ndarray  # expected cloud-mask values (from the product's SCL)
    confidence_path: Path


@dataclass
class Catalog:
    dsn: str
    home: Path
    truths: list[Truth]
    transform: rasterio.Affine
    crs: str

    def lonlat(self, row: int, col: int) -> tuple[float, float]:
        x, y = self.transform * (col + 0.5, row + 0.5)
        lon, lat = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True).transform(x, y)
        return lon, lat

    def corner_lonlat(self, row: int, col: int) -> list[float]:
        x, y = self.transform * (col, row)
        return list(Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True).transform(x, y))


def _truth(product: Path, item: dict) -> Truth:
    with rasterio.open(product.parent / "truth_landcover.tif") as src:
        landcover = src.read(1)
    with rasterio.open(product.parent / "SCL.tif") as src:
        scl = src.read(1, out_shape=landcover.shape, resampling=Resampling.nearest)
    return Truth(date.fromisoformat(item["properties"]["datetime"][:10]), item["id"], landcover,
                 cloudmask_from_scl(scl), Path(item["assets"]["confidence"]["href"]))


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory, module_pgstac_dsn: str) -> Catalog:
    home = tmp_path_factory.mktemp("home")
    truths = []
    for day, seed, cloud in ACQUISITIONS:
        product = make_sample_product(TILE, day, SIZE, home / "samples", seed=seed,
                                      cloud_cover=cloud)
        done = process_product(
            str(product), ingest=IngestSettings(_env_file=None, home=home),
            inference=InferenceSettings(_env_file=None, model_repository=built(home / "models")),
            dsn=module_pgstac_dsn)
        truths.append(_truth(product, _item(module_pgstac_dsn, done.item_id)))
    with rasterio.open(product.parent / "truth_landcover.tif") as src:
        transform, crs = src.transform, src.crs.to_string()
    return Catalog(module_pgstac_dsn, home, truths, transform, crs)


def _item(dsn: str, item_id: str) -> dict:
    with connect(dsn) as conn:
        row = conn.execute("SELECT content_hydrate(items) FROM items WHERE id = %s",
                           (item_id,)).fetchone()
    assert row is not None, item_id
    return row[0]


@pytest.fixture(scope="module")
def roots(catalog: Catalog) -> AssetRoots:
    return AssetRoots([str(catalog.home / "assets")])


def _spot(catalog: Catalog, *, clouded_in_june: bool) -> tuple[int, int]:
    """A pixel whose class changes from May to July, clear in June or clouded in June."""
    may, june, july = catalog.truths
    changed = may.landcover != july.landcover
    june_state = (np.isin(june.cloudmask, cm.OBSCURED) if clouded_in_june
                  else june.cloudmask == cm.CLEAR)
    ok = changed & june_state & (may.cloudmask == cm.CLEAR) & (july.cloudmask == cm.CLEAR)
    ok[:8], ok[-8:], ok[:, :8], ok[:, -8:] = False, False, False, False  # off the edges
    rows, cols = np.nonzero(ok)
    assert rows.size, "the generated scenes lost their known change"
    return int(rows[rows.size // 2]), int(cols[rows.size // 2])


def _expected_point(catalog: Catalog, row: int, col: int) -> list[tuple]:
    expected = []
    for truth in catalog.truths:
        cloud = int(truth.cloudmask[row, col])
        hidden = cloud in cm.OBSCURED or cloud == cm.NODATA
        code = None if hidden else clc.by_grid_code(int(truth.landcover[row, col])).clc_code
        expected.append((truth.item_id, code, CLOUD_NAMES[cloud]))
    return expected


# -- the plain functions ---------------------------------------------------------------------


@pytest.mark.parametrize("clouded_in_june", [False, True])
def test_point_series_equals_the_truth_per_date(catalog: Catalog, roots: AssetRoots,
                                                clouded_in_june: bool) -> None:
    row, col = _spot(catalog, clouded_in_june=clouded_in_june)
    lon, lat = catalog.lonlat(row, col)
    with connect(catalog.dsn) as conn:
        found = point_series(conn, lon, lat, roots)
    assert found.count == 3
    got = [(o.item, o.clc_code, o.cloud) for o in found.series]
    assert got == _expected_point(catalog, row, col)
    assert got[0][1] != got[2][1]  # the class changed between May and July
    for obs, truth in zip(found.series, catalog.truths, strict=True):
        with rasterio.open(truth.confidence_path) as src:
            confidence = int(src.read(1)[row, col])
        assert obs.confidence == (None if obs.clc_code is None else confidence)
        if obs.clc_code is not None:
            assert obs.name == clc.by_clc_code(obs.clc_code).name
            assert obs.color == f"#{clc.by_clc_code(obs.clc_code).hex_color}"
            assert 0 <= obs.confidence <= 100


def test_point_series_honours_the_date_range(catalog: Catalog, roots: AssetRoots) -> None:
    row, col = _spot(catalog, clouded_in_june=False)
    lon, lat = catalog.lonlat(row, col)
    with connect(catalog.dsn) as conn:
        june_on = point_series(conn, lon, lat, roots, start="2024-06-01", end="2024-12-31")
        may_only = point_series(conn, lon, lat, roots, end="2024-05-01")  # whole last day
        none = point_series(conn, lon, lat, roots, start="2025-01-01")
    assert [o.item for o in june_on.series] == [t.item_id for t in catalog.truths[1:]]
    assert [o.item for o in may_only.series] == [catalog.truths[0].item_id]
    assert none.count == 0 and none.series == []


def _polygon(catalog: Catalog, r0: int, c0: int, r1: int, c1: int) -> dict:
    """Pixel rows r0..r1-1, cols c0..c1-1 as a lon/lat polygon along pixel edges."""
    ring = [catalog.corner_lonlat(r, c) for r, c in ((r0, c0), (r0, c1), (r1, c1), (r1, c0),
                                                     (r0, c0))]
    return {"type": "Polygon", "coordinates": [ring]}


def _expected_area(truth: Truth, r0: int, c0: int, r1: int, c1: int) -> dict:
    classes = truth.landcover[r0:r1, c0:c1]
    clouds = truth.cloudmask[r0:r1, c0:c1]
    valid = np.isin(clouds, (cm.CLEAR, cm.SNOW))
    codes, counts = np.unique(classes[valid], return_counts=True)
    return {
        "pixels": classes.size, "valid": int(valid.sum()),
        "clouded": int(np.isin(clouds, cm.OBSCURED).sum()),
        "fractions": {clc.by_grid_code(int(g)).clc_code: n / valid.sum()
                      for g, n in zip(codes, counts, strict=True)},
    }


def test_area_fractions_equal_the_truth_over_clear_pixels(catalog: Catalog,
                                                          roots: AssetRoots) -> None:
    box = (100, 120, 300, 340)  # 200 x 220 px = 4.4 km²
    geometry = _polygon(catalog, *box)
    with connect(catalog.dsn) as conn:
        found = area_series(conn, geometry, roots)
    assert found.count == 3 and found.area_km2 == pytest.approx(4.4, rel=0.01)
    for obs, truth in zip(found.series, catalog.truths, strict=True):
        expected = _expected_area(truth, *box)
        assert obs.item == truth.item_id
        assert (obs.pixels, obs.valid_pixels, obs.clouded_pixels) == (
            expected["pixels"], expected["valid"], expected["clouded"])
        assert obs.coverage == pytest.approx(expected["valid"] / expected["pixels"], abs=1e-6)
        got = {c.clc_code: c.fraction for c in obs.classes}
        assert got == pytest.approx(expected["fractions"], abs=1e-6)
    june = found.series[1]
    assert june.clouded_pixels > 0 and june.coverage < 1  # the clouds are excluded, reported
    assert found.series[0].coverage == 1.0


def test_bad_input_is_refused(catalog: Catalog, roots: AssetRoots) -> None:
    row, col = _spot(catalog, clouded_in_june=False)
    lon, lat = catalog.lonlat(row, col)
    small = TimeseriesSettings(max_area_km2=1.0)
    bowtie = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 0.01, lat + 0.01],
                                                  [lon + 0.01, lat], [lon, lat + 0.01],
                                                  [lon, lat]]]}
    with connect(catalog.dsn) as conn:
        with pytest.raises(NothingHereError, match="no item"):
            point_series(conn, 100.0, -40.0, roots)
        with pytest.raises(NothingHereError, match="does not exist"):
            point_series(conn, lon, lat, roots, collection="nope")
        with pytest.raises(TimeseriesInputError, match="after end"):
            point_series(conn, lon, lat, roots, start="2024-07-01", end="2024-06-01")
        with pytest.raises(TimeseriesInputError, match="not an ISO date"):
            point_series(conn, lon, lat, roots, start="June")
        with pytest.raises(TimeseriesInputError, match="invalid: Self-intersection"):
            area_series(conn, bowtie, roots)
        with pytest.raises(TimeseriesInputError, match="at most 1 km²"):
            area_series(conn, _polygon(catalog, 0, 0, 200, 200), roots, settings=small)
        with pytest.raises(TimeseriesInputError, match="Polygon or MultiPolygon"):
            area_series(conn, {"type": "Point", "coordinates": [lon, lat]}, roots)


# -- HTTP ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiler(catalog: Catalog) -> Iterator[str]:
    env = {**libpq_env(catalog.dsn), "EARTHSIG_HOME": str(catalog.home)}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        yield url


def test_http_point_json_and_csv(catalog: Catalog, tiler: str) -> None:
    row, col = _spot(catalog, clouded_in_june=True)
    lon, lat = catalog.lonlat(row, col)
    params = {"lon": lon, "lat": lat, "start": "2024-01-01", "end": "2024-12-31"}
    body = httpx.get(f"{tiler}/timeseries/point", params=params, timeout=60).json()
    expected = _expected_point(catalog, row, col)
    assert [(o["item"], o["clc_code"], o["cloud"]) for o in body["series"]] == expected
    assert body["start"] == "2024-01-01T00:00:00Z" and body["count"] == 3
    response = httpx.get(f"{tiler}/timeseries/point", params={**params, "format": "csv"},
                         timeout=60)
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["item"], int(r["clc_code"]) if r["clc_code"] else None, r["cloud"])
            for r in rows] == expected


def test_http_area_json_and_csv(catalog: Catalog, tiler: str) -> None:
    box = (40, 60, 140, 200)
    feature = {"type": "Feature", "properties": {}, "geometry": _polygon(catalog, *box)}
    body = httpx.post(f"{tiler}/timeseries/area", json={"geometry": feature}, timeout=60).json()
    response = httpx.post(f"{tiler}/timeseries/area", params={"format": "csv"},
                          json={"geometry": feature, "start": "2024-06-01"}, timeout=60)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["item"] for r in rows] == [t.item_id for t in catalog.truths[1:]]
    for obs, truth in zip(body["series"], catalog.truths, strict=True):
        expected = _expected_area(truth, *box)
        assert {c["clc_code"]: c["fraction"] for c in obs["classes"]} == pytest.approx(
            expected["fractions"], abs=1e-6)
    for row, truth in zip(rows, catalog.truths[1:], strict=True):
        expected = _expected_area(truth, *box)
        for code, fraction in expected["fractions"].items():
            assert float(row[f"fraction_{code}"]) == pytest.approx(fraction, abs=1e-6)
        assert int(row["valid_pixels"]) == expected["valid"]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "message"), [
    ("GET", "/timeseries/point", {"params": {"lon": 100, "lat": -40}}, 404, "no item"),
    ("GET", "/timeseries/point", {"params": {"lon": 1.0, "lat": 43.5, "start": "2024-07-01",
                                             "end": "2024-06-01"}}, 400, "after end"),
    ("GET", "/timeseries/point", {"params": {"lon": 200, "lat": 43.5}}, 422, "lon"),
    ("POST", "/timeseries/area", {"json": {"geometry": {"type": "Polygon", "coordinates": [[
        [0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}}, 400, "Self-intersection"),
    ("POST", "/timeseries/area", {"json": {"geometry": {"type": "Polygon", "coordinates": [[
        [0, 40], [3, 40], [3, 44], [0, 44], [0, 40]]]}}}, 400, "at most 100 km²"),
    ("POST", "/timeseries/area", {"json": {"geometry": {"type": "Polygon",
                                                        "coordinates": "x"}}}, 400,
     "not valid GeoJSON"),
])
def test_http_bad_input(tiler: str, method: str, path: str, kwargs: dict, status: int,
                        message: str) -> None:
    response = httpx.request(method, f"{tiler}{path}", timeout=60, **kwargs)
    assert response.status_code == status, response.text
    assert message in response.text


# -- CLI -------------------------------------------------------------------------------------


def test_cli_point_and_area(catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
                            tmp_path: Path) -> None:
    for key, value in libpq_env(catalog.dsn).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EARTHSIG_HOME", str(catalog.home))
    row, col = _spot(catalog, clouded_in_june=True)
    lon, lat = catalog.lonlat(row, col)
    result = CliRunner().invoke(cli, ["timeseries", "--lon", str(lon), "--lat", str(lat),
                                      "--from", "2024-01-01", "--to", "2024-12-31"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [(o["item"], o["clc_code"], o["cloud"]) for o in body["series"]] == _expected_point(
        catalog, row, col)
    geometry = tmp_path / "area.geojson"
    box = (200, 200, 260, 300)
    geometry.write_text(json.dumps(_polygon(catalog, *box)))
    result = CliRunner().invoke(cli, ["timeseries", "--geometry", str(geometry), "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [int(r["valid_pixels"]) for r in rows] == [
        _expected_area(t, *box)["valid"] for t in catalog.truths]
    bad = CliRunner().invoke(cli, ["timeseries", "--lon", str(lon), "--lat", str(lat),
                                   "--from", "2024-07-01", "--to", "2024-06-01"])
    assert bad.exit_code == 1 and "after end" in bad.output
    neither = CliRunner().invoke(cli, ["timeseries", "--lon", "1"])
    assert neither.exit_code == 2 and "--lon and --lat" in neither.output


# -- the web map -----------------------------------------------------------------------------


def test_clicking_the_map_draws_the_series_chart(catalog: Catalog, tiler: str,
                                                 tmp_path: Path) -> None:
    row, col = _spot(catalog, clouded_in_june=True)
    lon, lat = catalog.lonlat(row, col)
    config = {"url": tiler, "lat": lat, "lon": lon, "zoom": 15, "chromium": _chromium(),
              "profile": str(tmp_path / "profile"), "out": str(tmp_path)}
    log = tmp_path / "probe.log"
    with log.open("w") as stderr:
        done = subprocess.run(["node", str(PROBE), json.dumps(config)], stdout=subprocess.PIPE,
                              stderr=stderr, text=True, timeout=90,
                              env={**os.environ, "TILER_WEB_MODULES": str(MODULES)})
    assert done.returncode == 0, log.read_text()
    chart = json.loads(done.stdout)
    assert chart["errors"] == []
    assert chart["count"] == 3 and len(chart["points"]) == 3
    expected = _expected_point(catalog, row, col)
    # Each point is coloured by its class; a clouded acquisition is a hollow grey mark.
    assert [p["code"] for p in chart["points"]] == [
        str(code) if code is not None else "" for _, code, _ in expected]
    for point, (_, code, _) in zip(chart["points"], expected, strict=True):
        if code is not None:
            assert point["fill"].lower() == f"#{clc.by_clc_code(code).hex_color}".lower()
    xs = [p["x"] for p in chart["points"]]
    assert xs == sorted(xs) and len(set(xs)) == 3  # oldest left, one place per date
