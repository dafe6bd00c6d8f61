"""Windows wholly under cloud are not run, and nothing published changes: the land cover,
confidence, cloud mask, statistics and lineage of a partly cloudy product are the same as when
every window runs (an L2A product masked by its SCL; an L1C one masked by s2cloudless, whose
mask takes nodata from the land cover)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio

from inference.settings import InferenceSettings
from inference.windows import WindowCounts
from ingest import pipeline
from ingest.pipeline import prepare_product
from ingest.settings import IngestSettings
from samples import make_sample_product
from tests.models import built

RASTERS = ("landcover", "confidence", "cloudmask")
VOLATILE = {"created", "updated", "datetime", "processing:datetime", "earthsig:run"}


def _prepare(product: Path, home: Path, repository: Path, model: str) -> dict:
    return prepare_product(
        str(product), model, ingest=IngestSettings(_env_file=None, home=home),
        inference=InferenceSettings(_env_file=None, model_repository=repository,
                                    window_size=64, window_overlap=16)).item


def _read(item: dict, key: str) -> np.ndarray:
    with rasterio.open(item["assets"][key]["href"]) as src:
        return src.read()


@pytest.mark.parametrize(("model", "level", "layout"), [
    ("clc-spectral", "L2A", "cog"),
    ("clc-dynamicworld", "L1C", "safe"),
])
def test_skipping_cloudy_windows_publishes_the_same(model: str, level: str, layout: str,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    repository = built(tmp_path / "models", model)
    product = make_sample_product("T32TLS", date(2024, 7, 1), 320, tmp_path / "s", seed=11,
                                  level=level, layout=layout, cloud_cover=55)
    with caplog.at_level(logging.INFO, logger="inference.windows"):
        skipping = _prepare(product, tmp_path / "skip", repository, model)
    [counts] = [r.window_counts for r in caplog.records if hasattr(r, "window_counts")]
    assert isinstance(counts, WindowCounts)
    assert counts.skipped_hidden > 0 and counts.run > 0  # partly cloudy: both kinds

    run_model = pipeline.run_model
    monkeypatch.setattr(pipeline, "run_model",
                        lambda *a, keep=None, **k: run_model(*a, keep=None, **k))
    every = _prepare(product, tmp_path / "every", repository, model)

    for key in RASTERS:
        np.testing.assert_array_equal(_read(skipping, key), _read(every, key), err_msg=key)
    props = {k: v for k, v in skipping["properties"].items() if k not in VOLATILE}
    assert props == {k: v for k, v in every["properties"].items() if k not in VOLATILE}
