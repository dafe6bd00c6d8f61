"""What the tiler does once at start: objects loaded then are frozen out of the collector's
full collections (their pauses were the tile store's p99, docs/benchmarks.md)."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient

from tiler.app import create_app


def test_the_tiler_freezes_what_it_loaded_at_start(tiler_env: dict[str, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in tiler_env.items():
        monkeypatch.setenv(key, value)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        with TestClient(create_app()) as client:
            assert gc.get_freeze_count() > 10_000  # modules, models, colormaps...
            assert client.get("/healthz").status_code == 200
    finally:
        gc.unfreeze()
