"""Settings: upstream variables keep their names, ours carry EARTHSIG_API_."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from stac_api.settings import (
    AuthSettings,
    PostgresSettings,
    ServeSettings,
    Settings,
    TilerLinkSettings,
)

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
        "EARTHSIG_API_KEYS",
        "EARTHSIG_API_KEYS_FILE",
        "EARTHSIG_API_KEY_HEADER",
        "EARTHSIG_API_TILER_URL",
        "EARTHSIG_API_WEB_MAP_URL",
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


def test_transactions_keep_the_upstream_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether writes may be served is decided with the keys, in ``create_app``."""
    monkeypatch.setenv("ENABLE_TRANSACTIONS_EXTENSIONS", "true")
    assert Settings(_env_file=None).enable_transactions_extensions is True


def test_api_keys_come_from_the_variable_and_the_secret_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "api-keys"
    secret.write_text("# rotated 2024-07\nfile-key-1\n\n  file-key-2  # ops team\n")
    monkeypatch.setenv("EARTHSIG_API_KEYS", "env-key-1, env-key-2,")
    monkeypatch.setenv("EARTHSIG_API_KEYS_FILE", str(secret))
    auth = AuthSettings(_env_file=None)
    assert auth.api_keys() == {"env-key-1", "env-key-2", "file-key-1", "file-key-2"}
    assert auth.key_header == "X-API-Key"
    assert "env-key-1" not in repr(auth)  # secrets stay out of logs and tracebacks


def test_no_keys_by_default() -> None:
    assert AuthSettings(_env_file=None).api_keys() == frozenset()


def test_tiler_links_are_off_without_a_tiler_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TilerLinkSettings(_env_file=None).tiler_url is None
    monkeypatch.setenv("EARTHSIG_API_TILER_URL", "https://tiles.example.org")
    assert TilerLinkSettings(_env_file=None).tiler_url == "https://tiles.example.org"


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
