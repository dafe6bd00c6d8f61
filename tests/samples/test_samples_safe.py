"""Generated SAFE products: ESA's layout, metadata that carries the offsets, truth beside."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from catalog_schemas import cloudmask as cm
from infra.commands.samples import samples
from ingest.errors import InvalidProductError
from ingest.readers import load_product
from samples import generate_scene, make_sample_product
from samples.clouds import sun_position
from samples.product import truth_folder

DATE = dt.date(2024, 7, 1)


def _local(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == name]


@pytest.mark.parametrize(("level", "baseline", "offset"), [
    ("L2A", "05.10", "-1000"), ("L2A", "03.01", None), ("L1C", "04.00", "-1000"),
    ("L1C", "02.14", None)])
def test_safe_layout_and_metadata(level: str, baseline: str, offset: str | None,
                                  tmp_path: Path) -> None:
    safe = make_sample_product("T31TCJ", DATE, 64, tmp_path, level=level, layout="safe",
                               baseline=baseline)
    assert safe.name.startswith(f"S2A_MSI{level}_20240701T")
    assert f"_N{baseline.replace('.', '')}_" in safe.name and safe.suffix == ".SAFE"
    root = ET.fromstring((safe / f"MTD_MSIL{level[1:]}.xml").read_bytes())
    files = sorted(p.relative_to(safe).as_posix() for p in safe.rglob("*.jp2"))
    listed = sorted(e.text + ".jp2" for e in _local(root, "IMAGE_FILE"))
    assert files == listed  # the metadata lists exactly the image files
    if level == "L2A":
        assert {f.split("/")[3] for f in files} == {"R10m", "R20m"}
        assert any(f.endswith("_SCL_20m.jp2") for f in files)
        assert _local(root, "BOA_QUANTIFICATION_VALUE")[0].text == "10000"
    else:
        assert all(len(f.split("/")) == 4 for f in files)  # IMG_DATA/<tile>_<time>_B02.jp2
        assert _local(root, "QUANTIFICATION_VALUE")[0].text == "10000"
    offsets = _local(root, "BOA_ADD_OFFSET" if level == "L2A" else "RADIO_ADD_OFFSET")
    assert {e.text for e in offsets} == ({offset} if offset else set())
    assert (truth_folder(safe) / "truth_landcover.tif").is_file()


def test_jp2_bands_are_lossless_and_georeferenced(tmp_path: Path) -> None:
    scene = generate_scene("T32ULU", DATE, 90, cloud_cover=30)
    safe = make_sample_product("T32ULU", DATE, 90, tmp_path, layout="safe", cloud_cover=30)
    b08 = next(safe.glob("GRANULE/*/IMG_DATA/R10m/*_B08_10m.jp2"))
    scl = next(safe.glob("GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2"))
    with rasterio.open(b08) as src:
        assert src.crs.to_epsg() == 32632 and src.transform == scene.window(10).transform
        np.testing.assert_array_equal(src.read(1), scene.dn("B08"))
    with rasterio.open(scl) as src:
        np.testing.assert_array_equal(src.read(1), scene.scl())


def test_zip_holds_one_safe_folder(tmp_path: Path) -> None:
    archive = make_sample_product("T31TCJ", DATE, 32, tmp_path, layout="safe", as_zip=True)
    with zipfile.ZipFile(archive) as z:
        tops = {n.split("/")[0] for n in z.namelist()}
        assert tops == {archive.name.removesuffix(".zip") + ".SAFE"}
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
    assert not list(tmp_path.glob(".safe-*"))  # no temporary left behind


def test_cloud_truth_agrees_with_scl(tmp_path: Path) -> None:
    scene = generate_scene("T31TCJ", DATE, 256, cloud_cover=40)
    mask = scene.cloudmask()
    scl = np.repeat(np.repeat(scene.scl(), 2, 0), 2, 1)[:256, :256]
    assert {cm.CLEAR, cm.CLOUD, cm.THIN_CLOUD} <= set(np.unique(mask))
    # A 20 m SCL pixel is clear only if all its 10 m pixels are: clear SCL means clear truth.
    clear_scl = np.isin(scl, (4, 5, 6))
    assert np.isin(mask[clear_scl], (cm.CLEAR,)).all()
    assert (mask[scl == 9] != cm.CLEAR).any() and (scl[mask == cm.CLOUD] >= 8).all()


def test_cli_makes_every_layout(tmp_path: Path) -> None:
    runner = CliRunner()
    for args, suffix in ((["--layout", "safe", "--level", "L1C"], ".SAFE"),
                         (["--layout", "safe", "--zip", "--baseline", "03.00"], ".zip"),
                         ([], ".json")):
        result = runner.invoke(samples, ["make", "--size", "32", "--out", str(tmp_path), *args])
        assert result.exit_code == 0, result.output
        assert result.output.strip().endswith(suffix)
    result = runner.invoke(samples, ["make", "--size", "32", "--out", str(tmp_path),
                                     "--level", "L1C"])
    assert result.exit_code != 0 and "cog layout is L2A only" in result.output


@pytest.mark.parametrize("as_zip", [False, True])
def test_sun_angles_come_from_the_granule_metadata(tmp_path: Path, as_zip: bool) -> None:
    safe = make_sample_product("T32TLS", DATE, 32, tmp_path, level="L1C", layout="safe",
                               as_zip=as_zip)
    scene = generate_scene("T32TLS", DATE, 32)
    zenith, azimuth = sun_position(scene.grid.footprint.centroid.y, DATE)
    props = load_product(str(safe)).properties
    assert props["view:sun_elevation"] == pytest.approx(90 - zenith, abs=1e-6)
    assert props["view:sun_azimuth"] == pytest.approx(azimuth, abs=1e-6)
    assert 30 < props["view:sun_elevation"] < 70  # a July morning at 45 N


def test_bad_sun_angles_are_refused_by_file(tmp_path: Path) -> None:
    safe = make_sample_product("T32TLS", DATE, 32, tmp_path, level="L1C", layout="safe")
    tile = next(safe.glob("GRANULE/*/MTD_TL.xml"))
    text = tile.read_text()
    zenith = _local(ET.fromstring(text), "ZENITH_ANGLE")[0].text
    tile.write_text(text.replace(f">{zenith}<", ">95.0<"))
    with pytest.raises(InvalidProductError, match=r"MTD_TL.xml: sun angles out of range: zenith"):
        load_product(str(safe))
    tile.write_text(text.replace("<Mean_Sun_Angle>", "<Other>").replace(
        "</Mean_Sun_Angle>", "</Other>"))
    assert "view:sun_azimuth" not in load_product(str(safe)).properties  # absent: no shadows
