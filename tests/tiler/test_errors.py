"""Status codes the app registers, ours and upstream's."""

from __future__ import annotations

import pytest
from rio_tiler.errors import EmptyMosaicError, TileOutsideBounds
from titiler.pgstac.errors import MosaicNotFoundError

from tiler.errors import (
    DatasetNotAllowedError,
    NothingHereError,
    WebMapNotInstalledError,
    ZoomNotServedError,
    status_codes,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (DatasetNotAllowedError, 403),
        (ZoomNotServedError, 400),
        (NothingHereError, 404),
        (WebMapNotInstalledError, 503),
        (TileOutsideBounds, 404),
        (EmptyMosaicError, 204),
        (MosaicNotFoundError, 404),
    ],
)
def test_status_codes(error: type[Exception], code: int) -> None:
    assert status_codes()[error] == code
