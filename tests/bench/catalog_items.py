"""The catalog bench's items: N landcover items of the pipeline's real shape over the MGRS tiles
that touch Europe's land and three years, each tile with its own class mix (``ItemFactory``),
and the constants the queries share (``CATEGORIES``, the time span)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pystac
import shapely
from pyogrio.raw import read

from catalog_schemas import clc, landcover_stats
from catalog_schemas.assets import LANDCOVER_FILES
from catalog_schemas.items import Grid, ModelInfo, PublishedFile, landcover_item
from ingest.discovery.aoi import load_aoi
from samples.s2grid import grid_file

START = datetime(2023, 1, 1, tzinfo=UTC)
YEARS = 3
SPAN = timedelta(days=365 * YEARS + 1)
CHUNK = 20_000  # items per COPY transaction; the unit of resuming
MODEL = ModelInfo("clc-spectral", "1", href="s3://earthsignature/models/clc-spectral/1/mlm.json",
                  software={"onnxruntime": "1.32.0", "gdal": "3.10.3"})
# What users ask for: common classes (most regions match), regional ones, rare ones.
CATEGORIES = ["Vineyards", "forest", "Olive groves", "Water bodies", "Pastures",
              "Rice fields", "Glaciers and perpetual snow", "Non-irrigated arable land"]
MEAN_CLASSES = 12  # CLC classes present in a 110 km tile, typically 10-20 of the 44


@dataclass(frozen=True)
class Tiles:
    """The MGRS tiles that touch Europe's land: ids, footprints (GeoJSON) and bboxes."""

    ids: list[str]
    geometries: list[dict[str, Any]]
    bboxes: np.ndarray  # (n, 4)
    mixes: np.ndarray  # (n, 44): each tile's typical class shares (a landscape)


def europe_tiles(seed: int = 7) -> Tiles:
    europe = load_aoi("europe")
    _meta, _fids, geometry, fields = read(grid_file(), columns=["id"], bbox=europe.bounds)
    shapes = shapely.from_wkb(geometry)
    keep = shapely.intersects(shapes, europe) & (shapely.area(shapes) < 10)  # no antimeridian
    ids = [str(i) for i in fields[0][keep]]
    shapes = shapes[keep]
    rng = np.random.default_rng(seed)
    n_classes = len(clc.clc_classes())
    mixes = np.zeros((len(ids), n_classes))
    for row in mixes:
        present = rng.choice(n_classes, size=rng.integers(MEAN_CLASSES - 6, MEAN_CLASSES + 8),
                             replace=False)
        row[present] = rng.dirichlet(np.full(len(present), 0.6))
    geoms = [_rounded(shapely.geometry.mapping(s)) for s in shapes]
    return Tiles(ids, geoms, shapely.bounds(shapes), mixes)


def _rounded(geometry: dict[str, Any]) -> dict[str, Any]:
    def walk(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return round(float(value), 6)
    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}


def template_item() -> dict[str, Any]:
    """One item built by the pipeline's own builder; generated items are variations of it."""
    source = pystac.Item(
        id="S2B_MSIL2A_20240615T103629_N0510_R008_T31TEJ_20240615T134208",
        geometry={"type": "Point", "coordinates": [3.5, 43.5]}, bbox=[3.5, 43.5, 3.5, 43.5],
        datetime=START, properties={
            "platform": "sentinel-2b", "constellation": "sentinel-2", "instruments": ["msi"],
            "mgrs:utm_zone": 31, "mgrs:latitude_band": "T", "mgrs:grid_square": "EJ",
            "grid:code": "MGRS-31TEJ", "s2:processing_baseline": "05.10"})
    names = LANDCOVER_FILES
    files = {key: PublishedFile(f"s3://earthsignature/landcover/ITEM/RUN/{name}", 1, "1220")
             for key, name in names.items()}
    grid = Grid(32631, (10980, 10980), (10.0, 0.0, 499980.0, 0.0, -10.0, 4900020.0))
    item = landcover_item(source=source, source_href="https://earth-search/ITEM", model=MODEL,
                          files=files, grid=grid, statistics={},
                          processed=START).to_dict(include_self_link=False)
    return item


class ItemFactory:
    """Item ``i`` of ``n``, deterministic; items come in time order (as a catalog grows)."""

    def __init__(self, n: int, tiles: Tiles, seed: int = 11) -> None:
        self.n, self.tiles, self.seed = n, tiles, seed
        self.template = template_item()
        self.codes = [c.clc_code for c in clc.clc_classes()]

    def time_of(self, i: int) -> datetime:
        return START + SPAN * (i / self.n)

    def chunk(self, start: int, stop: int) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng([self.seed, start])
        count = stop - start
        tile_ix = rng.integers(0, len(self.tiles.ids), count)
        offsets = rng.uniform(0, 1, count)
        clouds = np.round(100 * rng.beta(0.6, 1.6, count), 3)
        platforms = rng.choice(["sentinel-2a", "sentinel-2b", "sentinel-2c"], count)
        orbits = rng.integers(1, 144, count)
        noise = rng.gamma(2.0, 0.5, (count, len(self.codes)))
        for k in range(count):
            yield self._item(start + k, int(tile_ix[k]), float(offsets[k]), float(clouds[k]),
                             str(platforms[k]), int(orbits[k]), noise[k])

    def _item(self, i: int, tile: int, offset: float, cloud: float, platform: str,
              orbit: int, noise: np.ndarray) -> dict[str, Any]:
        t = START + SPAN * ((i + offset) / self.n)
        t = t.replace(hour=10, minute=int(offset * 59), second=int(offset * 3599) % 60)
        tile_id = self.tiles.ids[tile]
        stamp = t.strftime("%Y%m%dT%H%M%S")
        product = (f"S2{platform[-1].upper()}_MSIL2A_{stamp}_N0510_R{orbit:03d}_T{tile_id}_"
                   f"{stamp[:9]}{(t + timedelta(hours=3)).strftime('%H%M%S')}")
        item_id = f"{product}_{MODEL.name}_v{MODEL.version}"
        shares = self.tiles.mixes[tile] * noise
        shares[shares < 0.002] = 0.0
        total = shares.sum() or 1.0
        present = np.flatnonzero(shares)
        item = dict(self.template)
        item["id"] = item_id
        item["geometry"] = self.tiles.geometries[tile]
        item["bbox"] = [round(float(v), 6) for v in self.tiles.bboxes[tile]]
        props = dict(self.template["properties"])
        props.update({
            "datetime": t.isoformat().replace("+00:00", "Z"),
            "title": f"Land cover of {product}",
            "description": (f"CORINE land cover of Sentinel-2 product {product} by model "
                            f"{MODEL.name} version {MODEL.version}"),
            "platform": platform,
            "earthsig:source_product": product,
            "processing:lineage": f"Segmented from Sentinel-2 product {product} with "
                                  f"{MODEL.ref}",
            "processing:datetime": (t + timedelta(hours=5)).isoformat().replace("+00:00", "Z"),
            "mgrs:utm_zone": int(tile_id[:2]), "mgrs:latitude_band": tile_id[2],
            "mgrs:grid_square": tile_id[3:], "grid:code": f"MGRS-{tile_id}",
            "proj:code": f"EPSG:{32600 + int(tile_id[:2])}",
            "eo:cloud_cover": cloud,
            landcover_stats.CLASSES: [str(self.codes[j]) for j in present],
            landcover_stats.VALID_FRACTION: round(1.0 - cloud / 100.0, 6),
        })
        props.update({landcover_stats.fraction_key(self.codes[j]):
                      round(float(shares[j] / total), 6) for j in present})
        item["properties"] = props
        run = f"{t:%Y%m%dT%H%M%S}Z"
        digest = hashlib.sha256(item_id.encode()).hexdigest()
        assets = {}
        for key, asset in self.template["assets"].items():
            asset = dict(asset)
            asset["href"] = asset["href"].replace("ITEM", item_id).replace("RUN", run)
            asset["file:checksum"] = "1220" + digest
            asset["file:size"] = 50_000 + int(digest[:6], 16)
            assets[key] = asset
        item["assets"] = assets
        links = copy.deepcopy(self.template["links"])
        links[0]["href"] = f"https://earth-search.aws.element84.com/v1/collections/" \
                           f"sentinel-2-l2a/items/{product}"
        links[0]["title"] = f"Sentinel-2 product {product}"
        item["links"] = links
        return item


# -- the database ---------------------------------------------------------------------------
