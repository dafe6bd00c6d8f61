"""Status codes the app registers, ours and upstream's, and the `/cog` url guard."""

from __future__ import annotations

import pytest
from rio_tiler.errors import EmptyMosaicError, TileOutsideBounds
from titiler.pgstac.errors import MosaicNotFoundError

from tiler.errors import DatasetNotAllowedError, status_codes
from tiler.factories import cog_url_dependency


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (DatasetNotAllowedError, 403),
        (TileOutsideBounds, 404),
        (EmptyMosaicError, 204),
        (MosaicNotFoundError, 404),
    ],
)
def test_status_codes(error: type[Exception], code: int) -> None:
    assert status_codes()[error] == code


def test_cog_urls_are_open_without_prefixes() -> None:
    assert cog_url_dependency([])("/anything/at/all.tif") == "/anything/at/all.tif"


@pytest.mark.parametrize("url", ["/data/cogs/a.tif", "s3://bucket/clc/b.tif"])
def test_cog_urls_inside_prefixes_pass(url: str) -> None:
    assert cog_url_dependency(["/data/cogs/", "s3://bucket/clc/"])(url) == url


@pytest.mark.parametrize(
    "url", ["/etc/passwd", "/data/cogs/../secrets.tif", "https://elsewhere.test/c.tif"]
)
def test_cog_urls_outside_prefixes_are_refused(url: str) -> None:
    with pytest.raises(DatasetNotAllowedError):
        cog_url_dependency(["/data/cogs/"])(url)
