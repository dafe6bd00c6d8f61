"""Products published as a STAC item with one COG per band (earth-search ``sentinel-2-l2a``)."""

from __future__ import annotations

import pystac

from ingest.errors import InvalidProductError


def stac_item(href: str) -> pystac.Item:
    """The STAC item at ``href`` (path or URL); its assets are read where they are."""
    try:
        item = pystac.Item.from_file(href)
    except FileNotFoundError:
        raise InvalidProductError(f"product item not found: {href}") from None
    except (ValueError, KeyError, TypeError, pystac.STACError) as exc:
        raise InvalidProductError(f"{href} is not a STAC item: {exc}") from exc
    except OSError as exc:  # urllib's HTTPError/URLError for a remote item
        raise InvalidProductError(f"product item unreadable: {href}: {exc}") from exc
    if item.datetime is None:
        raise InvalidProductError(f"{item.id}: item has no datetime")
    return item
