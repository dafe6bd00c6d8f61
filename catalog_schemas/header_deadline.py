"""The deadline on a request's headers: its setting, and the uvicorn protocol that applies it
named without importing uvicorn (the stack starts the services with it; the protocol itself is
catalog_schemas/slow_headers.py)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# uvicorn's ``--http`` for the services: its protocol with a deadline on request headers
# (catalog_schemas/slow_headers.py, which imports uvicorn; this name does not).
HEADER_TIMEOUT_PROTOCOL = "catalog_schemas.slow_headers:HeaderTimeoutProtocol"


class HeaderTimeoutSettings(BaseSettings):
    """The deadline on a request's headers, the same for every HTTP service."""

    model_config = SettingsConfigDict(env_prefix="EARTHSIG_", extra="ignore")

    header_timeout_s: float = Field(
        default=10.0, gt=0, description="Seconds a request's headers may take to arrive (from "
        "the connection's opening, or the request's first byte); a slower client's connection "
        "is closed. Read by every HTTP service (API, tiler).")
