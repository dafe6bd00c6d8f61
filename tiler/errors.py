"""The tiler's own errors and the status-code map the app registers."""

from __future__ import annotations

from pydantic import ValidationError
from starlette import status
from titiler.core.errors import DEFAULT_STATUS_CODES, TilerError
from titiler.mosaic.errors import MOSAIC_STATUS_CODES
from titiler.pgstac.errors import PGSTAC_STATUS_CODES


class TilerServiceError(TilerError):
    """Base of the errors raised by this package (not by titiler or rio-tiler)."""


class DatasetNotAllowedError(TilerServiceError):
    """A `/cog` url outside the configured locations."""


TILER_STATUS_CODES: dict[type[Exception], int] = {
    DatasetNotAllowedError: status.HTTP_403_FORBIDDEN,
}


def status_codes() -> dict[type[Exception], int]:
    """Upstream maps (titiler, mosaic, pgstac) plus ours; a later map wins on a shared key."""
    return {
        **DEFAULT_STATUS_CODES,
        **MOSAIC_STATUS_CODES,
        **PGSTAC_STATUS_CODES,
        # pydantic errors from query models are the client's fault, as titiler-pgstac maps them.
        ValidationError: status.HTTP_422_UNPROCESSABLE_CONTENT,
        **TILER_STATUS_CODES,
    }
