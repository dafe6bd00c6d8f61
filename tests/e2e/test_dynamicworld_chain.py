"""The real model on real pixels through the real chain: BigEarthNet's T33UUP product (20 real
L2A patches stitched on the tile grid), queued with ``earthsig process --wait``, run by a real
RQ worker with the service's default model (clc-dynamicworld), registered in pgstac and read
back through the STAC API with pystac-client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio
from pystac_client import Client

from catalog_schemas import clc
from evaluation import patch_scores
from inference import dynamicworld as dw
from infra.postgres import libpq_env
from samples.bigearthnet import DEFAULT_ROOT
from samples.bigearthnet_product import build_product, patch_window, region_patches
from tests.models import built
from tests.servers import uvicorn_server
from tests.workers import stop_workers

ROOT = Path(__file__).parents[2] / DEFAULT_ROOT


def test_worker_publishes_the_real_models_land_cover(tmp_path: Path, pgstac_dsn: str,
                                                     redis_url: str) -> None:
    product = build_product(tmp_path / "real", root=ROOT)
    home = tmp_path / "home"
    env = {**os.environ, **libpq_env(pgstac_dsn), "EARTHSIG_REDIS_URL": redis_url,
           "EARTHSIG_HOME": str(home),
           "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(built(home / "m", "clc-dynamicworld")),
           # The service's own default, which the suite otherwise pins to clc-spectral.
           "EARTHSIG_INFERENCE_DEFAULT_MODEL": "clc-dynamicworld",
           "EARTHSIG_INFERENCE_ORT_THREADS": "0"}
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "infra", "worker", "--name", "dw-worker"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        done = subprocess.run([sys.executable, "-m", "infra", "process", str(product),
                               "--wait"], env=env, capture_output=True, text=True, timeout=540)
        assert done.returncode == 0, done.stderr + (tmp_path / "worker.log").read_text()
        item_id = done.stdout.strip().splitlines()[-1]
        with uvicorn_server("stac_api.app:create_app", env) as api:
            item = Client.open(api).get_collection("landcover").get_item(item_id)
    finally:
        stop_workers([worker])
        log.close()
    assert item is not None and item_id.endswith("_clc-dynamicworld_v1")
    props = item.properties
    assert props["earthsig:model"] == f"{dw.NAME}:1"
    # Provenance: the weights' licence, attribution and citation travel with every item.
    assert props["earthsig:model_license"] == "Apache-2.0"
    assert props["earthsig:model_attribution"] == dw.ATTRIBUTION
    assert dw.DOI in props["earthsig:model_citation"]
    assert "top-of-atmosphere reflectance emulated" in props["processing:lineage"]
    classes = item.assets["landcover"].extra_fields["classification:classes"]
    assert {c["name"] for c in classes} == {f"clc-{c}" for c in dw.output_codes()}
    with rasterio.open(item.assets["landcover"].href) as src:
        grid, transform = src.read(1), src.transform
    with rasterio.open(item.assets["confidence"].href) as src:
        confidence = src.read(1)
    assert set(np.unique(grid)) <= {0, *(clc.grid_code_of(c) for c in dw.output_codes())}
    # The winning probability of nine classes (Dynamic World's are soft: median 47 % here).
    assert np.median(confidence[grid > 0]) > 30 and confidence[grid > 0].max() <= 100
    # Real pixels, real answers, scored as `earthsig models eval --bigearthnet` scores them
    # (measured: F1 0.91 at CLC level 1 and 0.76 at level 2; always-311 gets 0.51 and 0.45).
    patches = region_patches(ROOT)
    truths = [patch_scores.PatchTruth(f"{p.x}_{p.y}", frozenset(p.clc_codes)) for p in patches]
    to_clc = np.asarray(clc.clc_code_by_grid_code(), np.int32)
    predictions = {t.id: to_clc[grid[patch_window(p, transform)]]
                   for t, p in zip(truths, patches, strict=True)}
    model = patch_scores.evaluate("clc-dynamicworld", predictions, truths)
    constant = patch_scores.constant_class_baseline(truths)
    assert model.f1(1).mean >= 0.85 and model.f1(2).mean >= 0.70
    assert model.f1(1).mean - constant.f1(1).mean > 0.2
    assert model.f1(2).mean - constant.f1(2).mean > 0.2
    assert model.hit_rate(1).mean == 1.0
    found = {int(c) for c in props["clc:classes"]}
    assert {311, 211, 112} <= found and 523 not in found  # June, inland Bavaria
