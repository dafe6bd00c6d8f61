"""Bad products through the whole pipeline: an error naming the product and the file, and
nothing registered or published (issue 3, item 7).

The readers' own tests check the messages of ``open_product``/``load_product``; here each bad
product goes through ``process_product`` against a real pgstac.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from inference.settings import InferenceSettings
from ingest.errors import InvalidProductError
from ingest.pgstac_db import pgstac_session
from ingest.pipeline import process_product
from ingest.samples import make_sample_product
from ingest.settings import IngestSettings

DAY, SIZE = date(2024, 7, 1), 128


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bad")
    return {
        "cog": make_sample_product("T31TCJ", DAY, SIZE, out / "cog", seed=3),
        "safe": make_sample_product("T31TCJ", DAY, SIZE, out / "safe", seed=3, layout="safe"),
    }


def _cog_copy(samples: dict[str, Path], tmp_path: Path) -> Path:
    item = samples["cog"]
    return Path(shutil.copytree(item.parent, tmp_path / item.parent.name)) / item.name


def _safe_copy(samples: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(samples["safe"], tmp_path / samples["safe"].name))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def _delete_cog_band(product: Path) -> str:
    (product.parent / "B08.tif").unlink()
    return r"S2A_31TCJ_20240701_0_L2A: cannot open band B08 \(\S+/B08\.tif\)"


def _truncate_cog(product: Path) -> str:
    _truncate(product.parent / "B04.tif")
    return r"S2A_31TCJ_20240701_0_L2A: band B04 .*\S+/B04\.tif"


def _delete_safe_band(product: Path) -> str:
    next(product.glob("GRANULE/*/IMG_DATA/R10m/*_B08_10m.jp2")).unlink()
    return r"S2A_MSIL2A_\S+: no asset for band B08"


def _truncate_jp2(product: Path) -> str:
    _truncate(next(product.glob("GRANULE/*/IMG_DATA/R10m/*_B04_10m.jp2")))
    return r"S2A_MSIL2A_\S+: band B04 .*_B04_10m\.jp2"


BREAKAGES: dict[str, tuple[str, Callable[[Path], str]]] = {
    "cog-missing-band-file": ("cog", _delete_cog_band),
    "cog-truncated": ("cog", _truncate_cog),
    "safe-missing-band": ("safe", _delete_safe_band),
    "safe-truncated-jp2": ("safe", _truncate_jp2),
}


def _run(href: str, home: Path, dsn: str) -> None:
    process_product(href, ingest=IngestSettings(_env_file=None, home=home),
                    inference=InferenceSettings(_env_file=None,
                                                model_repository=home / "models"),
                    dsn=dsn)


def _assert_nothing_registered(home: Path, dsn: str) -> None:
    with pgstac_session(dsn) as db:
        assert list(db.query("SELECT id FROM items")) == []
    assets = home / "assets"
    assert not assets.exists() or [p for p in assets.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_product_is_refused_by_name(breakage: str, samples: dict[str, Path],
                                           tmp_path: Path, pgstac_dsn: str) -> None:
    layout, breaks = BREAKAGES[breakage]
    product = (_cog_copy if layout == "cog" else _safe_copy)(samples, tmp_path / "p")
    message = breaks(product)
    with pytest.raises(InvalidProductError, match=message):
        _run(str(product), tmp_path / "home", pgstac_dsn)
    _assert_nothing_registered(tmp_path / "home", pgstac_dsn)


def test_a_zip_that_is_not_a_safe_is_refused(tmp_path: Path, pgstac_dsn: str) -> None:
    bad = tmp_path / "S2A_MSIL2A_20240701T105031_N0510_R051_T31TCJ.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("holiday/photo.jpg", b"\xff\xd8 not a product")
    with pytest.raises(InvalidProductError, match=rf"{bad.name}: a zip without a SAFE"):
        _run(str(bad), tmp_path / "home", pgstac_dsn)
    _assert_nothing_registered(tmp_path / "home", pgstac_dsn)


def test_the_intact_copies_do_go_through(samples: dict[str, Path], tmp_path: Path,
                                         pgstac_dsn: str) -> None:
    """The breakages above, not the copying, are what the pipeline refuses."""
    _run(str(_cog_copy(samples, tmp_path / "c")), tmp_path / "home", pgstac_dsn)
    _run(str(_safe_copy(samples, tmp_path / "s")), tmp_path / "home", pgstac_dsn)
    with pgstac_session(pgstac_dsn) as db:
        assert len(list(db.query("SELECT id FROM items"))) == 2
