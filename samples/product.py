"""Writing a sample product in any layout, with its ground truth beside it.

Layouts: ``cog`` (earth-search-like STAC item with one COG per band, L2A only) and ``safe``
(ESA's SAFE with JP2 bands, L2A or L1C, as a folder or a zip). Any processing baseline: from
04.00 the DNs carry the -1000 offset and the metadata says so, before it they do not. The
ground truth - land cover (CLC grid codes) and cloud mask, both at 10 m - is written beside
every product: inside the COG product's folder (as item assets), in ``<product>.truth/`` next
to a SAFE product.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from ingest.outputs.atomic import atomic_file
from ingest.outputs.cog import write_cog
from samples.changes import Conversion
from samples.safe import write_safe
from samples.scene import SampleScene, generate_scene
from samples.spectra import BANDS, DN_NODATA, Scl, dn_offset
from samples.stac import PROCESSING_BASELINE, TRUTH_CLOUD_FILE, TRUTH_FILE, build_item

LEVELS = ("L2A", "L1C")
LAYOUTS = ("cog", "safe")


def make_sample_product(
    tile: str,
    date: dt.date,
    size: int,
    out_dir: Path,
    *,
    seed: int | None = None,
    cloud_cover: float = 0.0,
    level: str = "L2A",
    layout: str = "cog",
    baseline: str = PROCESSING_BASELINE,
    as_zip: bool = False,
    conversions: tuple[Conversion, ...] = (),
    origin_m: tuple[float, float] = (0.0, 0.0),
    landscape_seed: int | None = None,
    lowland: bool = False,
) -> Path:
    """Generate a sample product of ``size`` x ``size`` 10 m pixels; return what a reader
    opens: the item JSON (``cog``), the ``.SAFE`` folder or the ``.zip`` (``safe``).

    The product covers the crop from the tile's upper-left corner, or ``origin_m`` (east,
    south) metres from it. ``cloud_cover`` is the wanted cloud share in percent; the metadata's
    cloud cover is the share actually drawn. ``conversions`` plant known land-cover changes
    (``samples.changes``); ``landscape_seed`` and ``lowland``: see ``generate_scene``.
    """
    _check_options(level, layout, baseline, as_zip)
    scene = generate_scene(tile, date, size, seed=seed, cloud_cover=cloud_cover,
                           conversions=conversions, origin_m=origin_m,
                           landscape_seed=landscape_seed, lowland=lowland)
    scl = scene.scl()
    if layout == "safe":
        product = write_safe(scene, scl, Path(out_dir), level=level, baseline=baseline,
                             cloud_cover=_cloud_share(scl), as_zip=as_zip)
        _write_truth(scene, truth_folder(product))
        return product
    folder = Path(out_dir) / scene.product_id
    _write_bands(scene, scl, folder, baseline)
    _write_truth(scene, folder)
    item = build_item(scene, scl, baseline)
    return _write_json(item.to_dict(include_self_link=False, transform_hrefs=False),
                       folder / f"{scene.product_id}.json")


def truth_folder(product: Path) -> Path:
    """Where the ground truth of a product lies: its own folder (COG), or beside it (SAFE)."""
    if product.suffix == ".json":
        return product.parent
    return product.parent / f"{product.name.removesuffix('.zip').removesuffix('.SAFE')}.truth"


def _check_options(level: str, layout: str, baseline: str, as_zip: bool) -> None:
    if level not in LEVELS:
        raise ValueError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    if layout == "cog" and (level != "L2A" or as_zip):
        raise ValueError("the cog layout is L2A only and never zipped (earth-search's)")
    if len(baseline) != 5 or baseline[2] != "." or not baseline.replace(".", "").isdigit():
        raise ValueError(f"processing baseline {baseline!r} is not like '05.10'")


def _cloud_share(scl: np.ndarray) -> float:
    cloudy = np.isin(scl, (Scl.CLOUD_MEDIUM_PROBABILITY, Scl.CLOUD_HIGH_PROBABILITY,
                           Scl.THIN_CIRRUS))
    return round(float(cloudy.mean() * 100.0), 6)


def _write_bands(scene: SampleScene, scl: np.ndarray, folder: Path, baseline: str) -> None:
    """One COG per band and SCL; one band at a time to bound memory."""
    crs = scene.grid.crs
    tags = {"EARTHSIGNATURE_GENERATED": "true", "PRODUCT_ID": scene.product_id}
    for band in BANDS:
        write_cog(scene.dn(band.name, offset=dn_offset(baseline)), folder / band.file_name,
                  crs=crs, transform=scene.window(band.resolution).transform, nodata=DN_NODATA,
                  categorical=False, tags={**tags, "BAND": band.name})
    write_cog(scl, folder / "SCL.tif", crs=crs, transform=scene.window(20).transform,
              nodata=Scl.NO_DATA, categorical=True, tags={**tags, "BAND": "SCL"})


def _write_truth(scene: SampleScene, folder: Path) -> None:
    crs, transform = scene.grid.crs, scene.window(10).transform
    tags = {"EARTHSIGNATURE_GENERATED": "true", "PRODUCT_ID": scene.product_id}
    write_cog(scene.truth(), folder / TRUTH_FILE, crs=crs, transform=transform,
              nodata=clc.NODATA, categorical=True, colormap=clc.colormap(),
              tags={**tags, "CONTENT": "generated ground truth, CORINE Land Cover grid codes"})
    write_cog(scene.cloudmask(), folder / TRUTH_CLOUD_FILE, crs=crs, transform=transform,
              nodata=cm.NODATA, categorical=True, colormap=cm.colormap(),
              tags={**tags, "CONTENT": "generated ground truth, cloud-mask values"})


def _write_json(document: dict, path: Path) -> Path:
    """Write atomically and last: a reader that finds the item finds a complete product."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
