"""Settings of the gRPC service (``earthsig serve grpc``), prefix ``EARTHSIG_GRPC_``."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GrpcSettings(BaseSettings):
    """Where the service listens, its certificates, who may write, and its limits."""

    model_config = SettingsConfigDict(env_prefix="EARTHSIG_GRPC_", env_file=".env",
                                      extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address the gRPC and HTTP ports bind.")
    port: int = Field(default=50051, ge=0, le=65535, description="The gRPC port.")
    http_port: int = Field(
        default=8085, ge=0, le=65535,
        description="The HTTP bindings (GET /v1/segmentation:list, :search) on the same "
                    "certificates; 0: not served.")
    home: Path = Field(default=Path(".earthsig"), validation_alias=AliasChoices("EARTHSIG_HOME"),
                       description="EarthSignature state folder (EARTHSIG_HOME).")
    certs_dir: Path | None = Field(
        default=None,
        description="Folder of server.crt, server.key and ca.crt (`earthsig grpc-certs init` "
                    "writes them there); default <home>/grpc. Each file can be set on its own "
                    "below.")
    server_cert: Path | None = Field(default=None, description="Server certificate (PEM); "
                                     "default <certs_dir>/server.crt.")
    server_key: Path | None = Field(default=None, description="Its private key (PEM); "
                                    "default <certs_dir>/server.key.")
    client_ca: Path | None = Field(
        default=None, description="CA that signs the clients' certificates (PEM): every "
        "certificate it signed may read; default <certs_dir>/ca.crt.")
    writers: Annotated[tuple[str, ...], BeforeValidator(_comma_list), NoDecode] = Field(
        default=(), description="Comma-separated common names (CN) of the client "
        "certificates allowed to call CreateProduct; every other client is read-only.")
    plaintext: bool = Field(
        default=False, description="Serve without TLS (read-only, nobody may write): only on "
        "a loopback host, for local experiments.")
    max_raster_pixels: int = Field(
        default=4_194_304, ge=1,
        description="Most pixels of one raster in a response (a full 10980 px tile is 120 M): "
                    "a larger one is refused with RESOURCE_EXHAUSTED naming this limit; ask "
                    "for a wkt crop or an overview_level instead.")
    max_results: int = Field(default=100, ge=1, description="Most products one call answers.")
    default_results: int = Field(default=10, ge=1,
                                 description="Products answered when n_results is 0.")
    max_polygons: int = Field(default=200_000, ge=1,
                              description="Most polygons of one API v2 response.")
    workers: int = Field(default=8, ge=1, description="Calls served at once.")

    @model_validator(mode="after")
    def _plaintext_on_loopback(self) -> GrpcSettings:
        if self.plaintext and not is_loopback(self.host):
            raise ValueError(f"EARTHSIG_GRPC_PLAINTEXT serves without TLS: only on a loopback "
                             f"host, not {self.host!r}")
        return self

    @property
    def certificates(self) -> Path:
        return self.certs_dir or self.home / "grpc"

    @property
    def cert_paths(self) -> tuple[Path, Path, Path]:
        """Server certificate, server key, client CA."""
        folder = self.certificates
        return (self.server_cert or folder / "server.crt",
                self.server_key or folder / "server.key",
                self.client_ca or folder / "ca.crt")

    @property
    def max_message_bytes(self) -> int:
        """The gRPC message size that fits two rasters at the limit (5 bytes a varint at most)
        and the rest of a response."""
        return 2 * 5 * self.max_raster_pixels + (4 << 20)
