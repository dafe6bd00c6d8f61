"""docs/configuration.md is what the settings classes say, and every variable is described."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra import config_reference as ref
from infra.deploy import variables

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
PACKAGES = ("infra", "ingest", "inference", "stac_api", "tiler")
PG = {"PGUSER": "u", "PGPASSWORD": "p", "PGHOST": "h", "PGPORT": "5432", "PGDATABASE": "d"}
# Upstream refuses an origin regex beside the default `*` origin.
COMPANIONS = {"CORS_ORIGIN_REGEX": {"CORS_ORIGINS": "http://example.org"}}


def test_committed_page_is_the_generated_one() -> None:
    assert DOC.read_text() == ref.generate(), (
        "docs/configuration.md is stale: python -m infra.config_reference > "
        "docs/configuration.md")


def test_every_settings_class_of_every_service_is_listed() -> None:
    listed = {s.cls for s in ref.sections()}
    for package in PACKAGES:
        module = importlib.import_module(f"{package}.settings")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseSettings) and cls.__module__ == module.__name__:
                assert cls in listed, f"{cls.__qualname__} of {module.__name__} not documented"
    from stac_api.settings import PostgresSettings  # upstream's, used as it is

    assert PostgresSettings in listed


def test_a_field_without_description_stops_the_generation() -> None:
    class Undocumented(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="EARTHSIG_PROBE_")
        described: int = Field(default=1, description="fine")
        silent: int = 2

    with pytest.raises(ref.UndocumentedError, match="EARTHSIG_PROBE_SILENT"):
        ref.rows(ref.Section("probe", Undocumented, "nobody"))


def test_no_stale_field_notes() -> None:
    wanted = {names[0] for s in ref.sections() for name, f in s.cls.model_fields.items()
              if not f.description for names in [ref.env_names(s.cls, name, f)]}
    assert set(variables.FIELD_NOTES) == wanted


# String settings with a pattern: probed with a value they accept.
PATTERNED_PROBES = {"EARTHSIG_SEED_ITEM_ZOOMS": "3-4", "EARTHSIG_SEED_MOSAIC_ZOOMS": "5-6"}


def _string_fields() -> list[tuple[ref.Section, str, str]]:
    found = []
    for section in ref.sections():
        for name, field in section.cls.model_fields.items():
            if field.annotation in (str, str | None):
                for env in ref.env_names(section.cls, name, field):
                    found.append((section, name, env))
    return found


@pytest.mark.parametrize(("section", "name", "env"), _string_fields(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_documented_name_is_the_one_pydantic_reads(section: ref.Section, name: str, env: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**PG, **COMPANIONS.get(env, {})}.items():
        monkeypatch.setenv(key, value)
    probe = PATTERNED_PROBES.get(env, "probe-value")
    monkeypatch.setenv(env, probe)
    settings = section.cls(_env_file=None)
    assert getattr(settings, name) == probe


def test_defaults_are_rendered_as_the_environment_writes_them() -> None:
    page = ref.generate()
    assert "| `EARTHSIG_TILER_HOME`, `EARTHSIG_HOME` | `.earthsig` |" in page
    assert "| `EARTHSIG_RETRY_INTERVALS_S` | `[10, 60, 300]` |" in page
    # a path inside the package is shown relative to the install, not this checkout
    assert "`tiler/web/node_modules`" in page and str(DOC.parents[1]) not in page
    assert "| `PGPASSWORD` | **required** |" in page  # the STAC API's
