"""Compile the published .proto files into the committed Python modules under ``generated/``.

``python -m infra.grpc_api.build_protos`` (grpcio-tools, a dev dependency). The .proto files in
``protos/`` are the contract; the generated modules are committed so that the service's install
needs only grpcio and protobuf at run time. tests/infra/test_grpc_protos.py fails when the
committed modules differ from what this produces.

protoc writes imports by proto path (``from snapearth.api.v1 import ...``), which would make
``snapearth`` and ``geobufproto`` top-level Python packages; they are rewritten to live under
this package. The descriptors keep their proto paths and package names, so the wire format and
the service names (``snapearth.api.v1.DatabaseProductService``) are the contract's.
"""

from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTOS = HERE / "protos"
GENERATED = HERE / "generated"
PACKAGE = "infra.grpc_api.generated"
# Top-level proto packages of the contract: their imports are rewritten under PACKAGE.
PROTO_ROOTS = ("snapearth", "geobufproto")


def proto_files(root: Path = PROTOS) -> list[Path]:
    return sorted(root.rglob("*.proto"))


def _rewrite(text: str) -> str:
    roots = "|".join(PROTO_ROOTS)
    text = re.sub(rf"^from ({roots})(\.[\w.]+)? import", lambda m: (
        f"from {PACKAGE}.{m.group(1)}{m.group(2) or ''} import"), text, flags=re.M)
    return re.sub(rf"^import ({roots})\.([\w.]+)", rf"import {PACKAGE}.\1.\2", text,
                  flags=re.M)


def compile_protos(out: Path, protos: Path = PROTOS) -> list[Path]:
    """Generate the message and service modules (with .pyi stubs) into ``out``; their paths."""
    from grpc_tools import protoc

    include = str(resources.files("grpc_tools") / "_proto")
    out.mkdir(parents=True, exist_ok=True)
    files = [str(p.relative_to(protos)) for p in proto_files(protos)]
    code = protoc.main(["grpc_tools.protoc", f"-I{protos}", f"-I{include}",
                        f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}",
                        *files])
    if code != 0:
        raise RuntimeError(f"protoc failed ({code}) on {files}")
    written = sorted(p for p in out.rglob("*") if p.suffix in (".py", ".pyi"))
    for path in written:
        path.write_text(_rewrite(path.read_text(encoding="utf-8")), encoding="utf-8")
    folders = {out} | {parent for p in written for parent in p.parents
                       if parent.is_relative_to(out)}
    for folder in folders:
        init = folder / "__init__.py"
        if not init.exists():
            init.write_text("", encoding="utf-8")
    return sorted(p for p in out.rglob("*") if p.suffix in (".py", ".pyi"))


def main() -> None:
    for path in compile_protos(GENERATED):
        print(path.relative_to(HERE), file=sys.stderr)


if __name__ == "__main__":
    main()
