"""Tiler settings: defaults, env prefix, libpq variables; nothing built at import."""

from __future__ import annotations

from pathlib import Path

import pytest

import tiler.app
from tiler.settings import DatabaseSettings, TilerSettings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "CORS_ORIGINS", "ASSET_ROOTS", "HOME"):
        monkeypatch.delenv(f"EARTHSIG_TILER_{name}", raising=False)
    monkeypatch.delenv("EARTHSIG_HOME", raising=False)
    monkeypatch.delenv("EARTHSIG_ASSET_ROOT", raising=False)
    settings = TilerSettings(_env_file=None)
    assert (settings.host, settings.port) == ("127.0.0.1", 8082)
    assert settings.cors_origins == ["*"]
    # The pipeline's default asset store, absolute.
    assert settings.allowed_asset_roots == [str(Path(".earthsig/assets").resolve())]
    assert (settings.mosaic_minzoom, settings.mosaic_maxzoom) == (8, 16)


def test_asset_roots_follow_the_pipeline_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("EARTHSIG_TILER_ASSET_ROOTS", raising=False)
    monkeypatch.delenv("EARTHSIG_ASSET_ROOT", raising=False)
    monkeypatch.setenv("EARTHSIG_HOME", str(tmp_path))
    assert TilerSettings(_env_file=None).allowed_asset_roots == [str(tmp_path / "assets")]
    monkeypatch.setenv("EARTHSIG_ASSET_ROOT", str(tmp_path / "store"))
    assert TilerSettings(_env_file=None).allowed_asset_roots == [str(tmp_path / "store")]
    monkeypatch.setenv("EARTHSIG_TILER_ASSET_ROOTS", "/data/cogs,s3://bucket/clc/")
    assert TilerSettings(_env_file=None).allowed_asset_roots == ["/data/cogs", "s3://bucket/clc/"]


def test_env_prefix_and_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARTHSIG_TILER_HOST", "0.0.0.0")
    monkeypatch.setenv("EARTHSIG_TILER_PORT", "9000")
    monkeypatch.setenv("EARTHSIG_TILER_CORS_ORIGINS", "http://a.test, http://b.test")
    monkeypatch.setenv("EARTHSIG_TILER_ASSET_ROOTS", '["/data/cogs/"]')
    settings = TilerSettings(_env_file=None)
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.cors_origins == ["http://a.test", "http://b.test"]
    assert settings.asset_roots == ["/data/cogs/"]


def test_database_from_libpq_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for key, value in {
        "PGHOST": "db.test",
        "PGPORT": "5433",
        "PGUSER": "tiler",
        "PGPASSWORD": "s3cret",
        "PGDATABASE": "earthsig",
    }.items():
        monkeypatch.setenv(key, value)
    url = str(DatabaseSettings(_env_file=None).database_url)
    assert url == "postgresql://tiler:s3cret@db.test:5433/earthsig"


def test_database_password_may_be_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    # titiler-pgstac's PostgresSettings raises TypeError here (trust auth, .pgpass).
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGHOST", "db.test")
    monkeypatch.setenv("PGUSER", "tiler")
    monkeypatch.setenv("PGDATABASE", "earthsig")
    url = str(DatabaseSettings(_env_file=None).database_url)
    assert url.startswith("postgresql://tiler@db.test")


def test_importing_the_app_module_builds_nothing() -> None:
    assert not hasattr(tiler.app, "app")
    assert callable(tiler.app.create_app) and callable(tiler.app.serve)
