"""The published .proto files are the contract: the committed modules are what they compile to,
and the numbers pilots' clients depend on stay put."""

from __future__ import annotations

from pathlib import Path

from infra.grpc_api.build_protos import GENERATED, compile_protos


def test_the_committed_modules_are_compiled_from_the_published_protos(tmp_path: Path) -> None:
    fresh = {p.relative_to(tmp_path): p.read_text() for p in compile_protos(tmp_path)}
    committed = {p.relative_to(GENERATED): p.read_text()
                  for p in sorted(GENERATED.rglob("*")) if p.suffix in (".py", ".pyi")}
    assert fresh.keys() == committed.keys()
    stale = [str(name) for name in fresh if fresh[name] != committed[name]]
    assert stale == [], "run `python -m infra.grpc_api.build_protos` and commit"


def test_the_contract_numbers_stay(tmp_path: Path) -> None:
    """Renumbering a field breaks every client generated before: these are fixed."""
    text = (GENERATED.parent / "protos" / "snapearth" / "api" / "v1" / "segmentation.proto"
            ).read_text()
    for line in ("int32 height = 1;", "int32 width = 2;", "repeated uint32 data = 3;",
                 "string wkt = 1;", "google.protobuf.Timestamp start_date = 2;",
                 "google.protobuf.Timestamp end_date = 3;", "repeated string product_ids = 4;",
                 "repeated string categories = 5;", "int32 n_results = 6;",
                 "string query = 1;", "int32 n_results = 2;",
                 "google.protobuf.FileDescriptorSet descriptor_set = 3;",
                 "Raster segmentation = 2;", "Raster cloud_mask = 3;",
                 "string product_id = 4;", "string quicklook = 5;"):
        assert line in text, line
