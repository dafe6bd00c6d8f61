"""Which STAC API extensions we serve, on top of stac-fastapi-pgstac's defaults.

Upstream's defaults already give item search filter (CQL2 text and JSON), sort, fields, query and
token pagination, and collection search with free text. pgstac (0.10) also answers free-text
``q`` on item search, matching each item's ``properties.title``, ``description`` and ``keywords``
(an item without a ``description`` never matches), so we add free text to ``/search`` and to
``/collections/{id}/items`` as well.

``ENABLED_EXTENSIONS`` still selects among all of them by upstream key (``free_text`` included).
"""

from __future__ import annotations

from stac_fastapi.extensions.free_text import FreeTextConformanceClasses
from stac_fastapi.pgstac.extensions import FreeTextExtension
from stac_fastapi.pgstac.models.extensions import Extensions

from stac_api.settings import Settings

FREE_TEXT = "free_text"


def build_extensions(settings: Settings) -> Extensions:
    """Upstream's extension set for ``settings``, with free text added to item search."""
    return Extensions(
        search_map={
            FREE_TEXT: FreeTextExtension(conformance_classes=[FreeTextConformanceClasses.SEARCH])
        },
        item_collection_map={
            FREE_TEXT: FreeTextExtension(conformance_classes=[FreeTextConformanceClasses.ITEMS])
        },
        settings=settings,
    )
