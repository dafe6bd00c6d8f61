"""The tiler's own errors and the status-code map the app registers."""

from __future__ import annotations

from pydantic import ValidationError
from rio_tiler.errors import PointOutsideBounds
from starlette import status
from titiler.core.errors import DEFAULT_STATUS_CODES, TilerError
from titiler.mosaic.errors import MOSAIC_STATUS_CODES
from titiler.pgstac.errors import PGSTAC_STATUS_CODES


class TilerServiceError(TilerError):
    """Base of the errors raised by this package (not by titiler or rio-tiler)."""


class DatasetNotAllowedError(TilerServiceError):
    """An href (``url=`` or an item's asset) outside the configured asset roots."""


class AssetMissingError(TilerServiceError):
    """An allowed local href naming no file (GDAL's open error would be a 500)."""


class ZoomNotServedError(TilerServiceError):
    """A mosaic tile below the lowest zoom the mosaic is drawn at."""


class NothingHereError(TilerServiceError):
    """No item has a valid pixel at the queried point."""


class WebMapNotInstalledError(TilerServiceError):
    """The web map's npm packages are missing (``make install`` was not run)."""


class CollectionNotFoundError(TilerServiceError):
    """A ``collection=`` naming no collection in pgstac."""


class LegendFilterError(TilerServiceError):
    """A legend filter that is malformed, names an unknown class, or does not apply."""


class VectorAreaError(TilerServiceError):
    """A polygons request whose area is malformed or too large to answer at once."""


TILER_STATUS_CODES: dict[type[Exception], int] = {
    DatasetNotAllowedError: status.HTTP_403_FORBIDDEN,
    AssetMissingError: status.HTTP_404_NOT_FOUND,
    ZoomNotServedError: status.HTTP_400_BAD_REQUEST,
    NothingHereError: status.HTTP_404_NOT_FOUND,
    WebMapNotInstalledError: status.HTTP_503_SERVICE_UNAVAILABLE,
    CollectionNotFoundError: status.HTTP_404_NOT_FOUND,
    LegendFilterError: status.HTTP_400_BAD_REQUEST,
    VectorAreaError: status.HTTP_400_BAD_REQUEST,
}


def status_codes() -> dict[type[Exception], int]:
    """Upstream maps (titiler, mosaic, pgstac) plus ours; a later map wins on a shared key."""
    return {
        **DEFAULT_STATUS_CODES,
        **MOSAIC_STATUS_CODES,
        **PGSTAC_STATUS_CODES,
        # pydantic errors from query models are the client's fault, as titiler-pgstac maps them.
        ValidationError: status.HTTP_422_UNPROCESSABLE_CONTENT,
        # A point outside an item is the request's doing, as a tile outside it is (404).
        PointOutsideBounds: status.HTTP_404_NOT_FOUND,
        **TILER_STATUS_CODES,
    }
