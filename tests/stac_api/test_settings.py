"""Settings: upstream variables keep their names, ours carry EARTHSIG_API_, writes are refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stac_api.settings import PostgresSettings, ServeSettings, Settings

PG_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests here set the variables they read; a developer's shell must not change outcomes."""
    for name in (
        "STAC_FASTAPI_TITLE",
        "STAC_FASTAPI_LANDING_ID",
        "ENABLED_EXTENSIONS",
        "ENABLE_TRANSACTIONS_EXTENSIONS",
        "EARTHSIG_API_HOST",
        "EARTHSIG_API_PORT",
        "EARTHSIG_API_LOG_LEVEL",
        "HOST",
        "PORT",
        *PG_VARS,
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_name_earthsignature_and_stay_read_only() -> None:
    settings = Settings(_env_file=None)
    assert settings.stac_fastapi_title == "EarthSignature STAC API"
    assert settings.stac_fastapi_landing_id == "earthsignature"
    assert settings.enable_transactions_extensions is False
    assert settings.enabled_extensions is None  # None = every extension we compose


def test_upstream_variables_keep_their_upstream_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAC_FASTAPI_TITLE", "Land cover (staging)")
    monkeypatch.setenv("ENABLED_EXTENSIONS", "filter,sort,pagination")
    settings = Settings(_env_file=None)
    assert settings.stac_fastapi_title == "Land cover (staging)"
    assert list(settings.enabled_extensions or []) == ["filter", "sort", "pagination"]


WRITES_REFUSED = "not available until writes are authenticated"


def test_transactions_asked_by_env_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENABLE_TRANSACTIONS_EXTENSIONS", "true")
    with pytest.raises(ValidationError, match=WRITES_REFUSED):
        Settings(_env_file=None)


def test_transactions_asked_in_code_are_refused() -> None:
    with pytest.raises(ValidationError, match=WRITES_REFUSED):
        Settings(_env_file=None, enable_transactions_extensions=True)


def test_serve_settings_default_to_loopback() -> None:
    serve = ServeSettings(_env_file=None)
    assert (serve.host, serve.port, serve.log_level) == ("127.0.0.1", 8081, "info")


def test_serve_settings_read_only_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "80")
    monkeypatch.setenv("EARTHSIG_API_PORT", "9123")
    serve = ServeSettings(_env_file=None)
    assert (serve.host, serve.port) == ("127.0.0.1", 9123)


def test_serve_settings_reject_impossible_port() -> None:
    with pytest.raises(ValidationError):
        ServeSettings(_env_file=None, port=70000)


def test_database_comes_from_libpq_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    values = ("db.internal", "5433", "stac", "s3cr:t", "earthsig")
    for name, value in zip(PG_VARS, values, strict=True):
        monkeypatch.setenv(name, value)
    pg = PostgresSettings(_env_file=None)
    assert pg.connection_string == "postgresql://stac:s3cr%3At@db.internal:5433/earthsig"


def test_database_password_is_required_even_under_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    """Upstream quirk worth a test: without PGPASSWORD the API cannot start at all."""
    for name in PG_VARS:
        if name != "PGPASSWORD":
            monkeypatch.setenv(name, "5432" if name == "PGPORT" else "x")
    with pytest.raises(ValidationError, match="pgpassword"):
        PostgresSettings(_env_file=None)
