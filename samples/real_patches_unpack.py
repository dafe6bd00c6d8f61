"""Unpack the real BigEarthNet patches from the three packages that carry them
(``make real-patches``, part of ``make install``; infra/make/realpatches.mk): only the patches,
the metadata rows they need and each package's licence, into ``.earthsig/testdata/real-patches``.
``samples.real_patches`` loads what this writes.

    python -m samples.real_patches_unpack --configilm WHEEL --common WHEEL \
        --gdf-builder SDIST [DEST]
"""

from __future__ import annotations

import argparse
import bz2
import csv
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import lmdb

from samples import bigearthnet
from samples.real_patches import (
    _METADATA_FIELDS,
    BENV1,
    BENV1_LMDB,
    COMMON,
    COMMON_DIR,
    CONFIGILM_DIR,
    DATA_ATTRIBUTION,
    DATA_LICENCE,
    DEFAULT_ROOT,
    GDF_BUILDER,
    GDF_DIR,
    METADATA_CSV,
    SOURCES,
    SOURCES_FILE,
    RealPatch,
    RealPatchDataError,
    _benv2_metadata,
    load_patches,
)


def extract(configilm_wheel: Path, common_wheel: Path, gdf_sdist: Path,
            dest: Path = DEFAULT_ROOT) -> list[RealPatch]:
    """Unpack the patches, the metadata rows they need and each package's licence into
    ``dest``; return the loaded (deduplicated) patches."""
    dest = Path(dest)
    for sub in (CONFIGILM_DIR, "bigearthnet-common", "bigearthnet-gdf-builder"):
        shutil.rmtree(dest / sub, ignore_errors=True)
    # configilm: BENv2 (with its licence) through samples.bigearthnet, then BENv1.
    bigearthnet.extract(configilm_wheel, dest / CONFIGILM_DIR)
    with zipfile.ZipFile(configilm_wheel) as archive:
        members = [m for m in archive.namelist() if m.startswith(f"{SOURCES[BENV1].inside}/")]
        if not members:
            raise RealPatchDataError(f"{configilm_wheel}: no {SOURCES[BENV1].inside} inside")
        archive.extractall(dest / CONFIGILM_DIR, members)
    # bigearthnet-common: the S2 example (not S1) and its licence; its tables are read below.
    common = dest / "bigearthnet-common"
    with zipfile.ZipFile(common_wheel) as archive:
        with archive.open(SOURCES[COMMON].inside) as raw, \
                tarfile.open(fileobj=io.BytesIO(raw.read()), mode="r:bz2") as tar:
            tar.extractall(common, filter="data")
        (common / "LICENSE").write_bytes(archive.read("LICENSE"))
        tables = {name: bz2.decompress(archive.read(f"bigearthnet_common/{name}.csv.bz2"))
                  .decode() for name in ("s1_s2_name_country_season",
                                         "patches_with_cloud_and_shadow",
                                         "patches_with_seasonal_snow")}
    # bigearthnet-gdf-builder: its test patches and its licence.
    gdf = dest / "bigearthnet-gdf-builder"
    top = SOURCES[GDF_BUILDER].inside.split("/")[0]
    with tarfile.open(gdf_sdist, mode="r:gz") as tar:
        inside = SOURCES[GDF_BUILDER].inside + "/"
        files = [m for m in tar.getmembers() if m.name.startswith(inside) and m.isfile()]
        for member in files:
            member.name = "tiny/" + member.name.removeprefix(inside)
        tar.extractall(gdf, files, filter="data")
        licence = tar.extractfile(f"{top}/LICENSE")
        (gdf / "LICENSE").write_bytes(licence.read() if licence else b"")
    _write_metadata(dest, tables)
    (dest / SOURCES_FILE).write_text(json.dumps({
        "data_licence": DATA_LICENCE, "attribution": DATA_ATTRIBUTION,
        "sources": {name: {"package": s.package, "archive": s.archive,
                           "code_licence": s.code_licence, "inside": s.inside}
                    for name, s in SOURCES.items()},
        "licence_files": [str(p.relative_to(dest)) for p in sorted(dest.rglob("LICENSE"))],
    }, indent=1) + "\n")
    return load_patches(dest)


def _v1_names(dest: Path) -> set[str]:
    names = {p.name for folder in (dest / COMMON_DIR, dest / GDF_DIR) for p in folder.iterdir()
             if p.is_dir()}
    env = lmdb.open(str(dest / BENV1_LMDB), readonly=True, lock=False, readahead=False)
    try:
        with env.begin() as txn:
            names |= {bytes(key).decode() for key in txn.cursor().iternext(values=False)}
    finally:
        env.close()
    frame = _benv2_metadata(bigearthnet.fixture_dir(dest / CONFIGILM_DIR))
    return names | set(frame["s2v1_name"])


def _write_metadata(dest: Path, tables: dict[str, str]) -> None:
    wanted = _v1_names(dest)
    cloudy = set(tables["patches_with_cloud_and_shadow"].split())
    snowy = set(tables["patches_with_seasonal_snow"].split())
    rows = []
    for row in csv.DictReader(io.StringIO(tables["s1_s2_name_country_season"])):
        if row["s2_name"] in wanted:
            rows.append({**row, "tile": row["s1_name"].split("_")[-3],
                         "cloud_or_shadow": row["s2_name"] in cloudy,
                         "seasonal_snow": row["s2_name"] in snowy})
    missing = wanted - {r["s2_name"] for r in rows}
    if missing:
        raise RealPatchDataError(f"not in bigearthnet-common's name table: {sorted(missing)}")
    with (dest / METADATA_CSV).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=_METADATA_FIELDS)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["s2_name"]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Unpack the real BigEarthNet patches of configilm, bigearthnet-common and "
                    "bigearthnet-gdf-builder")
    parser.add_argument("--configilm", type=Path, required=True, help="configilm 0.7.1 wheel")
    parser.add_argument("--common", type=Path, required=True,
                        help="bigearthnet-common 2.8.0 wheel")
    parser.add_argument("--gdf-builder", type=Path, required=True,
                        help="bigearthnet-gdf-builder 0.1.10 sdist")
    parser.add_argument("dest", type=Path, nargs="?", default=DEFAULT_ROOT)
    args = parser.parse_args()
    patches = extract(args.configilm, args.common, args.gdf_builder, args.dest)
    by_source: dict[str, int] = {}
    for p in patches:
        by_source[p.source] = by_source.get(p.source, 0) + 1
    print(f"{len(patches)} unique patches in {args.dest}: "
          + ", ".join(f"{s} {n}" for s, n in by_source.items()))


if __name__ == "__main__":
    main()
