"""The configuration reference (docs/configuration.md), generated from the settings classes.

``python -m infra.config_reference > docs/configuration.md``. Every field of every settings
class a service reads becomes a row: its variable name(s), default and description. Fields
without a description in their class (upstream's, mostly) take theirs from
``infra/deploy/variables.py``; a field with neither stops the generation, so a variable
cannot be added without documentation, and a test compares the committed page with this
output, so the page cannot drift.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from infra.deploy import variables as notes


class UndocumentedError(RuntimeError):
    """Settings fields with no description anywhere."""


@dataclass(frozen=True)
class Section:
    title: str
    cls: type[BaseSettings]
    read_by: str


def sections() -> list[Section]:
    """The settings classes of every service, in the order the page lists them."""
    import stac_api.settings as api
    import tiler.settings as tiler
    from catalog_schemas.header_deadline import HeaderTimeoutSettings
    from inference.settings import InferenceSettings
    from infra.grpc_api.settings import GrpcSettings
    from infra.settings import StackSettings
    from ingest.settings import IngestSettings

    return [
        Section("Pipeline (`ingest.settings.IngestSettings`)", IngestSettings,
                "workers, scheduler, `earthsig` commands"),
        Section("Model service (`inference.settings.InferenceSettings`)", InferenceSettings,
                "workers (infer stage), `earthsig models|triton`, the enqueuer"),
        Section("Local stack (`infra.settings.StackSettings`)", StackSettings,
                "`earthsig stack|demo` and every command that finds the local stack"),
        Section("STAC API: listening (`stac_api.settings.ServeSettings`)", api.ServeSettings,
                "`python -m stac_api`"),
        Section("STAC API: writes (`stac_api.settings.AuthSettings`)", api.AuthSettings,
                "the STAC API when transactions are enabled"),
        Section("STAC API: search (`stac_api.settings.SearchSettings`)", api.SearchSettings,
                "the STAC API"),
        Section("STAC API: what one client may ask (`stac_api.settings.LimitSettings`)",
                api.LimitSettings, "the STAC API (docs/reliability.md, \"Hostile clients\")"),
        Section("STAC API: tile store (`stac_api.settings.TileStoreSettings`)",
                api.TileStoreSettings, "the STAC API"),
        Section("STAC API: low-zoom pyramid after writes "
                "(`stac_api.settings.PyramidQueueSettings`)",
                api.PyramidQueueSettings, "the STAC API"),
        Section("STAC API: tiler links (`stac_api.settings.TilerLinkSettings`)",
                api.TilerLinkSettings, "the STAC API"),
        Section("STAC API: asset URLs (`stac_api.settings.AssetUrlSettings`)",
                api.AssetUrlSettings, "the STAC API"),
        Section("STAC API: stac-fastapi-pgstac (`stac_api.settings.Settings`)", api.Settings,
                "the STAC API (upstream names, EarthSignature defaults)"),
        Section("STAC API: database (stac-fastapi-pgstac `PostgresSettings`)",
                api.PostgresSettings, "the STAC API (asyncpg pool; all five PG* required)"),
        Section("Tiler (`tiler.settings.TilerSettings`)", tiler.TilerSettings,
                "`python -m tiler`"),
        Section("Tiler: database (`tiler.settings.DatabaseSettings`)", tiler.DatabaseSettings,
                "the tiler (psycopg pool)"),
        Section("gRPC service (`infra.grpc_api.settings.GrpcSettings`)", GrpcSettings,
                "`earthsig serve grpc`, `earthsig grpc-certs` (docs/grpc.md); the catalog "
                "from PG*, the asset store from the pipeline's settings"),
        Section("HTTP services: slow headers "
                "(`catalog_schemas.header_deadline.HeaderTimeoutSettings`)",
                HeaderTimeoutSettings, "the STAC API and the tiler, started with "
                "`--http catalog_schemas.slow_headers:HeaderTimeoutProtocol`"),
    ]


def env_names(cls: type[BaseSettings], name: str, field: FieldInfo) -> list[str]:
    """The variables that set ``field``, as pydantic-settings resolves them."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [c for c in alias.choices if isinstance(c, str)]
    if isinstance(alias, str):
        return [alias]
    prefix = cls.model_config.get("env_prefix", "")
    return [f"{prefix}{name}".upper()]


def _root() -> Path:
    return Path(__file__).resolve().parent.parent


def render_default(field: FieldInfo) -> str:
    """The default as an operator would write it in the environment."""
    if field.default_factory is not None:
        if field.default_factory in (dict, list, set, tuple):
            return f"`{json.dumps(field.default_factory())}`"
        doc = (field.default_factory.__doc__ or "computed").strip().splitlines()[0]
        return f"computed: {doc}"
    value = field.default
    if value is PydanticUndefined:
        return "**required**"
    return _value(value)


def _value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, Path):
        if value.is_absolute() and value.is_relative_to(_root()):
            value = value.relative_to(_root())  # a path inside the installed package
        return f"`{value}`"
    if isinstance(value, type):
        return f"`{value.__module__}.{value.__qualname__}`"
    if isinstance(value, tuple | list):
        if not value:
            return "empty"
        if any(isinstance(v, SecretStr) for v in value):
            return "(secret)"
        return f"`{json.dumps(list(value))}`"
    if hasattr(value, "model_dump"):
        return f"`{json.dumps(value.model_dump())}`"
    return f"`{value}`" if str(value) else '`""`'


def rows(section: Section) -> list[tuple[str, str, str]]:
    """(variables, default, description) per field of the section's class."""
    out, missing = [], []
    for name, field in section.cls.model_fields.items():
        names = env_names(section.cls, name, field)
        text = field.description or notes.FIELD_NOTES.get(names[0])
        if not text:
            missing.append(f"{section.cls.__module__}.{section.cls.__name__}.{name} "
                           f"({names[0]})")
            continue
        out.append((", ".join(f"`{n}`" for n in names), render_default(field),
                    _escape(" ".join(text.split()))))
    if missing:
        raise UndocumentedError("no description for " + "; ".join(missing) + ": give the "
                                "field a description, or add it to infra/deploy/variables.py")
    return out


def _escape(text: str) -> str:
    # Descriptions say <home>/assets: Markdown would take <home> for an HTML tag (code spans,
    # between backticks, are literal and stay as they are).
    parts = text.split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;").replace(">", "&gt;")
                    for i, p in enumerate(parts))


def _table(header: tuple[str, ...], body: Sequence[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
              for row in body]
    return lines


def settings_variables() -> set[str]:
    """Every variable some settings class reads."""
    return {n for s in sections() for name, field in s.cls.model_fields.items()
            for n in env_names(s.cls, name, field)}


def documented_variables() -> set[str]:
    """Every variable the page documents (settings classes, upstream, compose)."""
    return settings_variables() | set(notes.UPSTREAM) | set(notes.COMPOSE)


def generate() -> str:
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m infra.config_reference > docs/configuration.md` from",
        "     the settings classes; edit them (or infra/deploy/variables.py), not this page. -->",
        "",
        notes.INTRO.strip(),
        "",
    ]
    for section in sections():
        lines += [f"## {section.title}", "", f"Read by: {section.read_by}.", ""]
        lines += _table(("variable", "default", "what it does"), rows(section)) + [""]
    lines += ["## Upstream variables we rely on", "", notes.UPSTREAM_INTRO.strip(), ""]
    lines += _table(("variable", "read by", "what it does"),
                    [(f"`{k}`", by, text) for k, (by, text) in notes.UPSTREAM.items()])
    lines += ["", "## Deployment (compose) variables", "", notes.COMPOSE_INTRO.strip(),
              ""]
    lines += _table(("variable", "default", "what it does"),
                    [(f"`{k}`", f"`{d}`" if d else "**required**", text)
                     for k, (d, text) in notes.COMPOSE.items()])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(generate())
