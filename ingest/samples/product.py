"""Writing a sample product: one COG per band, SCL and truth, then the STAC item JSON."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from catalog_schemas import clc
from ingest.cog import write_cog
from ingest.samples.scene import SampleScene, generate_scene
from ingest.samples.spectra import BANDS, DN_NODATA, Scl
from ingest.samples.stac import TRUTH_FILE, build_item


def make_sample_product(
    tile: str,
    date: dt.date,
    size: int,
    out_dir: Path,
    *,
    seed: int | None = None,
    cloud_cover: float = 0.0,
) -> Path:
    """Generate a sample L2A product of ``size`` x ``size`` 10 m pixels; return its item's path.

    The product covers the crop from the tile's upper-left corner. ``cloud_cover`` is the
    wanted cloud share in percent; the item's ``eo:cloud_cover`` is the share actually drawn.
    """
    scene = generate_scene(tile, date, size, seed=seed, cloud_cover=cloud_cover)
    folder = Path(out_dir) / scene.product_id
    scl = scene.scl()
    _write_rasters(scene, scl, folder)
    item = build_item(scene, scl)
    return _write_json(item.to_dict(include_self_link=False, transform_hrefs=False),
                       folder / f"{scene.product_id}.json")


def _write_rasters(scene: SampleScene, scl: np.ndarray, folder: Path) -> None:
    """One COG per band, SCL and truth; one band at a time to bound memory."""
    crs = scene.grid.crs
    tags = {"EARTHSIGNATURE_GENERATED": "true", "PRODUCT_ID": scene.product_id}
    for band in BANDS:
        write_cog(scene.dn(band.name), folder / band.file_name, crs=crs,
                  transform=scene.window(band.resolution).transform, nodata=DN_NODATA,
                  categorical=False, tags={**tags, "BAND": band.name})
    write_cog(scl, folder / "SCL.tif", crs=crs, transform=scene.window(20).transform,
              nodata=Scl.NO_DATA, categorical=True, tags={**tags, "BAND": "SCL"})
    write_cog(scene.truth(), folder / TRUTH_FILE, crs=crs, transform=scene.window(10).transform,
              nodata=clc.NODATA, categorical=True, colormap=clc.colormap(),
              tags={**tags, "CONTENT": "generated ground truth, CORINE Land Cover grid codes"})


def _write_json(document: dict, path: Path) -> Path:
    """Write atomically and last: a reader that finds the item finds a complete product."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".json", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2)
        tmp.chmod(0o644)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
