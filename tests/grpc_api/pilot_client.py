"""A pilot's client: Python stubs generated, at test time, from the published .proto files
(``infra/grpc_api/protos``) by grpcio-tools, exactly as a pilot would generate them. Their
modules are the contract's own (``snapearth.api.v1``, ``geobufproto``), not the server's copy,
so this process never loads the server's generated modules."""

from __future__ import annotations

import importlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import grpc

PROTOS = Path(__file__).resolve().parents[2] / "infra" / "grpc_api" / "protos"


@dataclass(frozen=True)
class Stubs:
    v1: ModuleType  # snapearth.api.v1.segmentation_pb2
    v1_db: ModuleType  # snapearth.api.v1.database_pb2
    v1_grpc: ModuleType
    v2: ModuleType
    v2_grpc: ModuleType
    geobuf: ModuleType


def generate(out: Path) -> Stubs:
    """Compile the published protos into ``out`` (in a child process, as a build step would)
    and import them."""
    from importlib import resources

    include = resources.files("grpc_tools") / "_proto"
    files = [str(p.relative_to(PROTOS)) for p in sorted(PROTOS.rglob("*.proto"))]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}", f"-I{include}",
                    f"--python_out={out}", f"--grpc_python_out={out}", *files], check=True)
    sys.path.insert(0, str(out))
    load = importlib.import_module
    return Stubs(load("snapearth.api.v1.segmentation_pb2"), load("snapearth.api.v1.database_pb2"),
                 load("snapearth.api.v1.database_pb2_grpc"),
                 load("snapearth.api.v2.segmentation_pb2"),
                 load("snapearth.api.v2.database_pb2_grpc"), load("geobufproto.geobuf_pb2"))


def channel(address: str, certs: Path, client: str | None, ca: Path | None = None
            ) -> grpc.Channel:
    """A mutual-TLS channel as ``client`` (its certificate from ``certs``; None: none)."""
    root = (ca or certs / "ca.crt").read_bytes()
    if client is None:
        credentials = grpc.ssl_channel_credentials(root_certificates=root)
    else:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=root, private_key=(certs / f"{client}.key").read_bytes(),
            certificate_chain=(certs / f"{client}.crt").read_bytes())
    return grpc.secure_channel(address, credentials)
