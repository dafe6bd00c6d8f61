"""One product through the chain: read, infer, mask clouds, write assets, register.

The files and the item are published by ``ingest.catalog.publisher``: written into a staging
folder and committed as a run only when complete, the item registered last, so a crash never
leaves a half-published item.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import numpy as np
import pystac
from affine import Affine
from rasterio.windows import Window

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from catalog_schemas.assets import CONFIDENCE_NODATA, LANDCOVER_ASSET
from catalog_schemas.assets import LANDCOVER_FILES as FILES
from catalog_schemas.collections import LANDCOVER_COLLECTION_ID
from catalog_schemas.items import (
    Grid,
    ModelInfo,
    PublishedFile,
    landcover_item,
    landcover_item_id,
)
from inference.repository import ModelRepository, ResolvedModel
from inference.run import run_model
from inference.settings import InferenceSettings
from inference.spec import ModelSpec
from inference.windows import ProgressLog, WindowReader
from ingest.catalog.publisher import StoredRun, register_run, store_run
from ingest.catalog.pyramid_update import update_pyramid_quietly
from ingest.catalog.register import landcover_definition
from ingest.catalog.seed import seed_item
from ingest.clouds.cloudmask import obscured
from ingest.clouds.cloudmask_toa import is_l1c
from ingest.clouds.haze import haze_lineage, haze_removed
from ingest.clouds.maskers import masker_for
from ingest.clouds.toa_emulation import emulation_lineage, path_reflectance, toa_emulated
from ingest.errors import InvalidProductError
from ingest.outputs.coastline import REFINEMENT as COASTLINE_REFINEMENT
from ingest.outputs.coastline import SOURCE as COASTLINE_SOURCE
from ingest.outputs.coastline import refine_water
from ingest.outputs.cog import write_cog
from ingest.outputs.quicklook import write_thumbnail
from ingest.outputs.stats import landcover_stats
from ingest.outputs.store import asset_store
from ingest.outputs.vectors import vectorise, write_polygons
from ingest.readers import load_product, open_product
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)

# Threads writing a product's files: the workers' two cores (each COG write also compresses
# on GDAL's own threads).
ASSET_THREADS = 2


@dataclass
class ProcessResult:
    item_id: str
    product_id: str
    model: str
    timings_s: dict[str, float] = field(default_factory=dict)


@dataclass
class _Outputs:
    classes: np.ndarray
    confidence: np.ndarray
    cloudmask: np.ndarray | None
    grid: Grid
    crs: object
    transform: Affine
    lineage_notes: tuple[str, ...] = ()  # how the cloud mask was made..., for the item
    from_toa: bool = False  # the cloud mask came from s2cloudless (L1C)


@contextmanager
def _step(name: str, product: str, timings: dict[str, float]) -> Iterator[None]:
    t0 = time.perf_counter()
    log.info("%s: %s ...", product, name)
    yield
    timings[name] = time.perf_counter() - t0
    log.info("%s: %s done in %.2fs", product, name, timings[name])


@dataclass
class Prepared(StoredRun):
    """A product processed and its files committed as a run, its item not yet registered.

    Plain data (JSON-able), so a later stage on another host can register it.
    """

    product_id: str
    model: str
    timings_s: dict[str, float] = field(default_factory=dict)


def process_product(
    href: str,
    model_ref: str | None = None,
    *,
    ingest: IngestSettings | None = None,
    inference: InferenceSettings | None = None,
    dsn: str = "",
) -> ProcessResult:
    """The whole chain in this process: prepare, then register (or discard the run)."""
    ingest = ingest or IngestSettings()
    prepared = prepare_product(href, model_ref, ingest=ingest, inference=inference)
    try:
        return register_prepared(prepared, ingest=ingest, dsn=dsn)
    except BaseException:
        # Nobody will retry here: the earlier item, if any, keeps pointing at its own run.
        asset_store(ingest).discard(prepared.run)
        raise


def prepare_product(
    product: str | pystac.Item,
    model_ref: str | None = None,
    *,
    ingest: IngestSettings | None = None,
    inference: InferenceSettings | None = None,
    href: str | None = None,
) -> Prepared:
    """Read, infer, mask, compute statistics, write the files and commit them as a run; build
    the item.

    ``product``: its href, or its item as the fetch stage parsed it (not parsed again), read
    from ``href``.
    """
    ingest = ingest or IngestSettings()
    inference = inference or InferenceSettings()
    timings: dict[str, float] = {}
    if isinstance(product, pystac.Item):
        source = product
        href = source.get_self_href() or href
        if href is None:
            raise ValueError(f"{source.id}: an item without a self link needs its href")
    else:
        source, href = load_product(product), product
    model = ModelRepository.from_settings(inference).resolve(
        model_ref or inference.default_model)
    spec = model.spec
    item_id = landcover_item_id(source.id, spec.name, spec.version)

    out = _segment(source, model, inference, ingest, timings)

    statistics: dict[str, object] = {}

    def write(staging: Path) -> dict[str, str]:
        statistics.update(_write_assets(out, source, staging, timings, ingest))
        return {key: name for key, name in FILES.items() if (staging / name).exists()}

    def build(files: dict[str, PublishedFile]) -> pystac.Item:
        return landcover_item(
            source=source, source_href=source.get_self_href() or href,
            model=ModelInfo(spec.name, spec.version, href=str(model.mlm_path),
                            software=software_versions(inference, masked_from_toa=out.from_toa),
                            classes=reachable_classes(spec),
                            **{k: spec.hyperparameters.get(k)
                               for k in ("license", "attribution", "citation")}),
            files=files, grid=out.grid, statistics=statistics, lineage_notes=out.lineage_notes,
        )

    stored = store_run(LANDCOVER_COLLECTION_ID, item_id, write, build, ingest=ingest,
                       timings=timings)
    return Prepared(item=stored.item, run=stored.run, item_path=stored.item_path,
                    product_id=source.id, model=spec.ref, timings_s=timings)


def register_prepared(prepared: Prepared, *, ingest: IngestSettings | None = None,
                      dsn: str = "") -> ProcessResult:
    """Register the item (the last step) and drop the item's earlier runs, then update the
    low-zoom pyramid over it and draw its tiles ahead; none of it when a newer run of it was
    registered already (ours is discarded)."""
    ingest = ingest or IngestSettings()
    timings = dict(prepared.timings_s)
    registered = register_run(prepared, landcover_definition(), ingest=ingest, dsn=dsn,
                              timings=timings)
    if registered:
        draw_after_registration(prepared.item, prepared.product_id, ingest, timings)
    return ProcessResult(item_id=prepared.item["id"], product_id=prepared.product_id,
                         model=prepared.model, timings_s=timings)


def draw_after_registration(item: dict[str, Any], product_id: str, ingest: IngestSettings,
                            timings: dict[str, float]) -> None:
    """A registered land-cover item's low-zoom pyramid redrawn and its tiles drawn ahead, when
    the settings name a tiler (each a warning at worst, never the product's failure)."""
    if not ingest.seed_tiler_url:
        return
    # The pyramid first: a few seconds, and the product shows on the map at zooms 0-7;
    # seeding (up to its budget) only makes the first views of zooms 8+ faster.
    if ingest.low_zoom_pyramid and not ingest.asset_store_url:
        with _step("pyramid", product_id, timings):
            update_pyramid_quietly(item, ingest.seed_tiler_url, ingest.assets)
    with _step("seed", product_id, timings):
        seed_item(item, ingest.seed_tiler_url, ingest.seed_item_zooms,
                  ingest.seed_mosaic_zooms, ingest.seed_budget_s)


def _statistics(out: _Outputs, source: pystac.Item) -> dict[str, object]:
    mask = out.cloudmask if out.cloudmask is not None else np.where(
        out.classes > 0, cm.CLEAR, cm.NODATA).astype(np.uint8)
    statistics = landcover_stats(out.classes, mask).properties()
    if out.cloudmask is None:  # no SCL: the provider's figure is the best we have
        statistics.pop("eo:cloud_cover")
        if "eo:cloud_cover" in source.properties:
            statistics["eo:cloud_cover"] = source.properties["eo:cloud_cover"]
    return statistics


def software_versions(inference: InferenceSettings, *, masked_from_toa: bool = False
                      ) -> dict[str, str]:
    """What made the pixels, for ``processing:software``: the model's runtime as the settings
    chose it (ONNX Runtime in process, or a Triton server through tritonclient), the raster
    stack, and s2cloudless's LightGBM for L1C cloud masks."""
    import rasterio
    import rio_cogeo

    software = {"gdal": rasterio.__gdal_version__, "rasterio": rasterio.__version__,
                "rio-cogeo": rio_cogeo.__version__}
    if inference.backend == "triton":
        software["tritonclient"] = version("tritonclient")
    else:
        software["onnxruntime"] = version("onnxruntime")
    if masked_from_toa:
        software.update(s2cloudless=version("s2cloudless"), lightgbm=version("lightgbm"))
    return software


def _segment(source: pystac.Item, model: ResolvedModel, inference: InferenceSettings,
             ingest: IngestSettings, timings: dict[str, float]) -> _Outputs:
    bands = model.spec.input_bands
    masker = masker_for(source, window_size=inference.window_size,
                        toa_resolution_m=ingest.l1c_cloud_resolution_m)
    with open_product(source, bands) as reader:
        grid = reader.grid
        window_reader: WindowReader = reader.read
        wants_toa = takes_toa(model.spec)
        # Before the model: a mask made from the top-of-atmosphere bands gives each band's
        # haze in the same pass, which comes off what a model made for surface reflectance
        # reads.
        with _step("cloudmask", source.id, timings):
            mask = masker.cloud_mask(reader)
        notes = mask.lineage
        if mask.haze is not None and ingest.l1c_haze_removal and not wants_toa:
            window_reader = haze_removed(reader.read, [mask.haze.get(b, 0.0) for b in bands])
            notes = (*notes, haze_lineage(mask.haze, bands))
        if wants_toa and not is_l1c(source):
            # A model trained on L1C reads an L2A product with the atmosphere put back.
            path = path_reflectance(bands)
            window_reader = toa_emulated(window_reader, path)
            notes = (*notes, emulation_lineage(bands, path))
        read = _TimedReader(window_reader)
        # Land cover under clouds and shadows is hidden below: windows where nothing would be
        # kept are not run (the mask's keep decides skipping only; kept pixels never change).
        keep = mask.keep if mask.values is not None else None
        with _step("read+infer", source.id, timings):
            seg = run_model(read, grid.height, grid.width, model, inference, keep=keep,
                            progress=ProgressLog(f"{source.id}: infer"))
        # Reading runs one chunk ahead of the model, overlapped: its own time is summed as it
        # happens and reported beside the stage's wall time, which contains it.
        timings["read (within read+infer)"] = read.seconds
        timings["model (within read+infer)"] = seg.counts.model_s
    classes, confidence = seg.classes, seg.confidence
    cloud = mask.over(classes, clc.NODATA, seg.unrun)
    if cloud is not None:
        # Land cover is unknown under clouds and shadows: nodata there, so mosaics show an
        # older clear product beneath instead of a cloud classified as snow.
        hidden = obscured(cloud) | (cloud == cm.NODATA)
        classes[hidden] = 0
    if COASTLINE_REFINEMENT in model.spec.hyperparameters.get("refinements", {}):
        # After hiding (pixel by pixel, so the same pixels): the count is of published pixels,
        # the same whether or not windows under cloud were run.
        with _step("coastline", source.id, timings):
            marine = refine_water(classes, model.spec.hyperparameters, grid.crs,
                                  grid.transform)
        notes = (*notes, f"water at sea ({marine} px) from {COASTLINE_SOURCE}")
    confidence[classes == 0] = CONFIDENCE_NODATA
    epsg = grid.crs.to_epsg()
    if epsg is None:
        raise InvalidProductError(f"{source.id}: CRS {grid.crs} has no EPSG code")
    return _Outputs(classes, confidence, cloud,
                    Grid(epsg=epsg, shape=(grid.height, grid.width),
                         transform=tuple(grid.transform)[:6]),
                    grid.crs, grid.transform, notes, mask.from_toa)


def reachable_classes(spec: ModelSpec) -> tuple[int, ...]:
    """The CLC codes the model can write: its MLM's ``reachable_classes`` where it says (a
    model may carry channels it never wins, or that only a refinement writes), else every
    output channel's."""
    return tuple(int(c) for c in spec.hyperparameters.get("reachable_classes",
                                                           spec.output_classes))


def takes_toa(spec: ModelSpec) -> bool:
    """The model was trained on top-of-atmosphere (L1C) reflectance (its MLM says so)."""
    return spec.input_units.startswith("top-of-atmosphere")


class _TimedReader:
    """A window reader that sums the time spent reading (for the stage timings)."""

    def __init__(self, read: WindowReader) -> None:
        self.read, self.seconds = read, 0.0

    def __call__(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        t0 = time.perf_counter()
        try:
            return self.read(window)
        finally:
            self.seconds += time.perf_counter() - t0


def _write_assets(out: _Outputs, source: pystac.Item, staging: Path,
                  timings: dict[str, float], ingest: IngestSettings) -> dict[str, object]:
    """Statistics, the three COGs, the polygons and the quicklook, overlapped; the statistics.

    The tasks only read the arrays and each writes its own file; GDAL (compression, overviews,
    sieve, polygonise) and most of NumPy release the GIL, so two threads keep both cores busy
    where the tasks one after another left one idle (overviews and vectorising are serial).
    Each task's own time is reported beside the stage's wall time, which contains it.
    """
    common: dict[str, Any] = {"crs": out.crs, "transform": out.transform}  # keywords
    # Longest first (vectorising, then the confidence COG, the noisiest to compress), so
    # the short tasks fill the other thread's gaps instead of trailing at the end.
    tasks: dict[str, Callable[[], object]] = {
        "vectorise": lambda: write_polygons(
            vectorise(out.classes, transform=out.transform, crs=out.crs,
                      min_area_m2=ingest.polygon_min_area_m2), staging / FILES["polygons"]),
        "write-cog confidence": lambda: write_cog(
            out.confidence, staging / FILES["confidence"], nodata=CONFIDENCE_NODATA,
            categorical=False, **common),
        "write-cog landcover": lambda: write_cog(
            out.classes, staging / FILES[LANDCOVER_ASSET], nodata=clc.NODATA,
            categorical=True, colormap=clc.colormap(), **common),
        "statistics": lambda: _statistics(out, source),
        "quicklook": lambda: write_thumbnail(out.classes, staging / FILES["thumbnail"]),
    }
    if out.cloudmask is not None:
        cloudmask = out.cloudmask
        tasks["write-cog cloudmask"] = lambda: write_cog(
            cloudmask, staging / FILES["cloudmask"], nodata=cm.NODATA, categorical=True,
            colormap=cm.colormap(), **common)
    with _step("write assets", source.id, timings), \
            ThreadPoolExecutor(ASSET_THREADS, thread_name_prefix="assets") as pool:
        futures = {name: pool.submit(_timed, task) for name, task in tasks.items()}
    # Failures in the files' order (the landcover COG first: the one named when the disk is
    # full), whichever thread failed first.
    order = ["write-cog landcover", "write-cog confidence", "write-cog cloudmask",
             "vectorise", "quicklook", "statistics"]
    results = {name: futures[name].result() for name in order if name in futures}
    for name, (_, seconds) in results.items():
        timings[f"{name} (within write assets)"] = seconds
    return cast(dict[str, object], results["statistics"][0])


def _timed(task: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    return task(), time.perf_counter() - t0
