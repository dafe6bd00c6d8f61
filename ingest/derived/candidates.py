"""Active learning: the windows of a landcover item where the model is least sure, exported
for labelling in the folder format the trainer reads (``inference.patches``).

Selection (:func:`select_candidates`): the item's grid is cut into non-overlapping windows of
``size`` pixels; windows with less than ``min_valid`` of their pixels classified (clouds,
nodata) are skipped. A window's score is the mean confidence of its classified pixels, its
class the one predicted most. The K lowest-scoring windows are taken, at most
``ceil(K / classes)`` per class (the classes being the windows' classes), so that one class
the model is unsure of everywhere cannot fill the whole batch; if the caps leave places free,
the next lowest windows of any class fill them. The result is ordered by mean confidence.

Export (:func:`export_candidates`), per candidate ``<out>/<pid>/``:

    <pid>_B02.tif ... <pid>_B08.tif   uint16 DN = reflectance x 10000 (the trainer's bands)
    <pid>_reference_map.tif          CLC codes to correct; 0 = unlabelled (cloud, nodata)
    <pid>_prediction.tif             the model's CLC codes (kept as exported)
    <pid>_confidence.tif             uint8 0-100, 255 nodata
    <pid>_chip.tif                   the four bands in one GeoTIFF, for labelling tools
    <pid>.json                       the STAC label item (relative asset hrefs)

and ``<out>/candidates.json`` lists them. ``earthsig models finetune`` reads the folder as it
is once the reference maps are corrected. With ``publish`` each candidate also becomes an item
of the ``labels`` collection (its files published like any run of the asset store).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pystac
import rasterio
from rasterio.warp import transform_bounds, transform_geom
from rasterio.windows import Window
from rasterio.windows import transform as window_transform
from shapely.geometry import box, mapping

from catalog_schemas import clc
from catalog_schemas import labels as lb
from catalog_schemas.assets import (
    CHIP_ASSET,
    CONFIDENCE_ASSET,
    CONFIDENCE_NODATA,
    LANDCOVER_ASSET,
    PREDICTION_ASSET,
)
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from catalog_schemas.earthsig_extension import MODEL
from catalog_schemas.items import PublishedFile
from inference.patches import BANDS, DN_SCALE, REFERENCE, write_patch
from ingest.catalog import publisher
from ingest.catalog.register import CollectionDefinition
from ingest.derived.inputs import api_href
from ingest.errors import InvalidProductError
from ingest.outputs.atomic import atomic_file
from ingest.outputs.staging import describe
from ingest.readers import load_product, open_product
from ingest.settings import IngestSettings

INDEX_FILE = "candidates.json"


@dataclass(frozen=True)
class ScoredWindow:
    row: int
    col: int
    size: int
    mean_confidence: float  # 0-100 over the classified pixels
    dominant: int  # CLC code predicted most
    valid_fraction: float


def score_windows(classes: np.ndarray, confidence: np.ndarray, size: int, *,
                  min_valid: float = 0.9) -> list[ScoredWindow]:
    """Every full window of ``size`` px with enough classified pixels, scored."""
    if size < 1:
        raise ValueError(f"window size {size} must be at least one pixel")
    lut = np.asarray(clc.clc_code_by_grid_code(), np.int32)
    out = []
    for row in range(0, classes.shape[0] - size + 1, size):
        for col in range(0, classes.shape[1] - size + 1, size):
            cls = classes[row:row + size, col:col + size]
            valid = cls > 0
            share = float(valid.mean())
            if share < min_valid or not valid.any():
                continue
            conf = confidence[row:row + size, col:col + size][valid]
            codes, counts = np.unique(cls[valid], return_counts=True)
            out.append(ScoredWindow(row, col, size, float(conf.mean()),
                                    int(lut[codes[np.argmax(counts)]]), share))
    return out


def select_candidates(windows: list[ScoredWindow], k: int) -> list[ScoredWindow]:
    """The ``k`` least confident windows, at most ``ceil(k / classes)`` per dominant class
    while others remain; ordered by mean confidence (ties: position)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    ranked = sorted(windows, key=lambda w: (w.mean_confidence, w.row, w.col))
    classes = {w.dominant for w in ranked}
    cap = math.ceil(k / len(classes)) if classes else 0
    taken: list[ScoredWindow] = []
    per_class: Counter[int] = Counter()
    for w in ranked:
        if len(taken) == k:
            break
        if per_class[w.dominant] < cap:
            taken.append(w)
            per_class[w.dominant] += 1
    chosen = set(taken)
    taken += [w for w in ranked if w not in chosen][: k - len(taken)]
    return sorted(taken, key=lambda w: (w.mean_confidence, w.row, w.col))


@dataclass(frozen=True)
class Candidate:
    pid: str
    window: ScoredWindow
    folder: Path
    item: pystac.Item


def _read(href: str) -> tuple[np.ndarray, rasterio.Affine, rasterio.crs.CRS]:
    with rasterio.open(href) as src:
        return src.read(1), src.transform, src.crs


def _source_product(item: pystac.Item) -> str:
    link = next((ln for ln in item.links if ln.rel == "derived_from"
                 and str(ln.title or "").startswith("Sentinel-2 product")), None)
    if link is None:
        raise InvalidProductError(f"item {item.id} has no derived_from link to its "
                                  "Sentinel-2 product: no pixels to export")
    return link.href


def export_candidates(item: pystac.Item, k: int, out: Path, *, size: int = 64,
                      min_valid: float = 0.9, publish: bool = False,
                      ingest: IngestSettings | None = None, dsn: str = "") -> list[Candidate]:
    """Write the ``k`` candidates of the landcover ``item`` under ``out`` (see the module)."""
    for key in (LANDCOVER_ASSET, CONFIDENCE_ASSET):
        if key not in item.assets:
            raise InvalidProductError(f"item {item.id} has no {key!r} asset")
    classes, transform, crs = _read(item.assets[LANDCOVER_ASSET].href)
    confidence, _, _ = _read(item.assets[CONFIDENCE_ASSET].href)
    chosen = select_candidates(score_windows(classes, confidence, size, min_valid=min_valid), k)
    lut = np.asarray(clc.clc_code_by_grid_code(), np.uint16)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    found: list[Candidate] = []
    with open_product(load_product(_source_product(item)), list(BANDS)) as reader:
        if (reader.grid.height, reader.grid.width) != classes.shape:
            raise InvalidProductError(f"item {item.id}: land cover {classes.shape} is not on "
                                      f"its product's grid {reader.grid.height}x"
                                      f"{reader.grid.width}")
        for w in chosen:
            win = Window(w.col, w.row, size, size)
            reflectance, valid = reader.read(win)
            reflectance[:, ~valid] = 0.0  # DN 0: no data
            rows, cols = win.toslices()
            codes = lut[classes[rows, cols]]
            pid = lb.label_item_id(item.id, w.row, w.col)
            folder = out / pid
            geo = {"crs": crs, "transform": window_transform(win, transform)}
            write_patch(folder, pid, reflectance, codes, **geo)
            _write(folder / f"{pid}_prediction.tif", codes, geo)
            _write(folder / f"{pid}_confidence.tif", confidence[rows, cols], geo,
                   nodata=CONFIDENCE_NODATA)
            dn = np.clip(np.rint(reflectance * DN_SCALE), 0, 65535).astype(np.uint16)
            _write(folder / f"{pid}_chip.tif", dn, geo, nodata=0)
            files = {key: (folder / name) for key, name in _files(pid).items()}
            local = {key: PublishedFile(f"./{p.name}", *describe(p))
                     for key, p in files.items()}
            label = _label_item(item, w, codes, geo["transform"], crs, local)
            with atomic_file(folder / f"{pid}.json") as tmp:
                tmp.write_text(json.dumps(label.to_dict(include_self_link=False), indent=2))
            if publish:
                label = _publish(item, w, codes, geo["transform"], crs, files, ingest, dsn)
            found.append(Candidate(pid, w, folder, label))
    _write_index(out, item, found)
    return found


def _files(pid: str) -> dict[str, str]:
    names = {lb.LABELS_ASSET: f"{pid}_{REFERENCE}.tif",
             PREDICTION_ASSET: f"{pid}_prediction.tif",
             CONFIDENCE_ASSET: f"{pid}_confidence.tif", CHIP_ASSET: f"{pid}_chip.tif"}
    names.update({band: f"{pid}_{band}.tif" for band in BANDS})
    return names


def _label_item(item: pystac.Item, w: ScoredWindow, codes: np.ndarray,
                transform: rasterio.Affine, crs: rasterio.crs.CRS,
                files: dict[str, PublishedFile]) -> pystac.Item:
    x0, y0 = transform * (0, w.size)
    x1, y1 = transform * (w.size, 0)
    geometry = transform_geom(crs, "EPSG:4326", mapping(box(x0, y0, x1, y1)))
    bbox = list(transform_bounds(crs, "EPSG:4326", x0, y0, x1, y1))
    present = sorted(int(c) for c in np.unique(codes) if c)
    return lb.label_item(source=item, source_href=api_href(LANDCOVER_COLLECTION_ID, item.id),
                         row=w.row, col=w.col, size=w.size, geometry=geometry, bbox=bbox,
                         mean_confidence=w.mean_confidence, dominant=w.dominant,
                         classes=present, files=files)


def load_item(ref: str, dsn: str = "") -> pystac.Item:
    """A landcover item by the path of its JSON, else by its id in pgstac."""
    path = Path(ref)
    if path.suffix == ".json" and path.is_file():
        return pystac.Item.from_file(str(path))
    from ingest.derived.inputs import get_item

    return get_item(ref, dsn=dsn)


def _publish(item: pystac.Item, w: ScoredWindow, codes: np.ndarray,
             transform: rasterio.Affine, crs: rasterio.crs.CRS, files: dict[str, Path],
             ingest: IngestSettings | None, dsn: str) -> pystac.Item:
    import shutil

    def write(staging: Path) -> dict[str, str]:
        for path in files.values():
            shutil.copy2(path, staging / path.name)
        return {key: path.name for key, path in files.items()}

    return publisher.publish(CollectionDefinition(lb.labels_collection()),
                             lb.label_item_id(item.id, w.row, w.col), write,
                             lambda published: _label_item(item, w, codes, transform, crs,
                                                           published),
                             ingest=ingest, dsn=dsn)


def _write(path: Path, data: np.ndarray, geo: dict, nodata: int | None = None) -> None:
    data = data[np.newaxis] if data.ndim == 2 else data
    profile = {"driver": "GTiff", "height": data.shape[1], "width": data.shape[2],
               "count": data.shape[0], "dtype": data.dtype.name, "nodata": nodata,
               "compress": "deflate", **geo}
    with atomic_file(path) as tmp, rasterio.open(tmp, "w", **profile) as ds:
        ds.write(data)


def _write_index(out: Path, item: pystac.Item, found: list[Candidate]) -> None:
    doc = {"source_item": item.id, "model": item.properties.get(MODEL),
           "candidates": [{"pid": c.pid, **asdict(c.window)} for c in found]}
    with atomic_file(out / INDEX_FILE) as tmp:
        tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
