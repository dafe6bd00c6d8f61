"""One product through the chain: read, infer, write the COG, build the item, register.

Everything is written under a temporary folder of the asset store and moved into place only
when complete; the item is registered last, so a crash never leaves a half-published item.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from catalog_schemas import clc
from catalog_schemas.collections import LANDCOVER_ASSET, LANDCOVER_COLLECTION_ID
from catalog_schemas.items import Grid, landcover_item, landcover_item_id
from inference.backends import OnnxRuntimeBackend
from inference.repository import ModelRepository
from inference.settings import InferenceSettings
from inference.windows import ProgressLog, segment
from ingest.cog import write_cog
from ingest.product import ProductReader, load_item
from ingest.register import upsert_item
from ingest.settings import IngestSettings

log = logging.getLogger(__name__)


@dataclass
class ProcessResult:
    item_id: str
    product_id: str
    model: str
    timings_s: dict[str, float] = field(default_factory=dict)


@contextmanager
def _step(name: str, product: str, timings: dict[str, float]) -> Iterator[None]:
    t0 = time.perf_counter()
    log.info("%s: %s ...", product, name)
    yield
    timings[name] = time.perf_counter() - t0
    log.info("%s: %s done in %.2fs", product, name, timings[name])


def process_product(
    href: str,
    model_ref: str | None = None,
    *,
    ingest: IngestSettings | None = None,
    inference: InferenceSettings | None = None,
    dsn: str = "",
) -> ProcessResult:
    ingest = ingest or IngestSettings()
    inference = inference or InferenceSettings()
    timings: dict[str, float] = {}
    source = load_item(href)
    model = ModelRepository(inference.model_repository).resolve(
        model_ref or inference.default_model)
    spec = model.spec
    item_id = landcover_item_id(source.id, spec.name, spec.version)

    with _step("read+infer", source.id, timings), \
            ProductReader(source, spec.input_bands) as reader:
        backend = OnnxRuntimeBackend(model.onnx_path, threads=inference.ort_threads)
        grid = reader.grid
        seg = segment(reader.read, grid.height, grid.width, backend,
                      window_size=inference.window_size, batch_size=inference.batch_size,
                      progress=ProgressLog(f"{source.id}: infer"))

    final_dir = ingest.assets / LANDCOVER_COLLECTION_ID / item_id
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{item_id}.", dir=final_dir.parent))
    try:
        with _step("write-cog", source.id, timings):
            write_cog(seg.classes, staging / f"{LANDCOVER_ASSET}.tif", crs=grid.crs,
                      transform=grid.transform, nodata=clc.NODATA, categorical=True,
                      colormap=clc.colormap())
        _publish(staging, final_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    item = landcover_item(
        source=source, source_href=source.get_self_href() or href,
        model_name=spec.name, model_version=spec.version,
        landcover_href=str(final_dir / f"{LANDCOVER_ASSET}.tif"),
        grid=Grid(epsg=grid.crs.to_epsg(), shape=(grid.height, grid.width),
                  transform=tuple(grid.transform)[:6]),
    )
    with _step("register", source.id, timings):
        upsert_item(item, dsn)
    return ProcessResult(item_id=item.id, product_id=source.id, model=spec.ref,
                         timings_s=timings)


def _publish(staging: Path, final_dir: Path) -> None:
    """Swap the complete staging folder in place of any earlier output of the same item."""
    if final_dir.exists():
        old = final_dir.with_name(f".{final_dir.name}.old.{time.time_ns()}")
        final_dir.rename(old)
        staging.rename(final_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(final_dir)
