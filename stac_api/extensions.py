"""Which STAC API extensions we serve, on top of stac-fastapi-pgstac's defaults.

Upstream's defaults already give item search filter (CQL2 text and JSON), sort, fields, query and
token pagination, and collection search with free text. pgstac (0.10) also answers free-text
``q`` on item search, matching each item's ``properties.title``, ``description`` and ``keywords``
(an item without a ``description`` never matches), so we add free text to ``/search`` and to
``/collections/{id}/items`` as well, and our own ``categories`` / ``min_fraction`` parameters
(:class:`CategoriesExtension`, translated to CQL2 by the client).

Sort also declares its v1.0.0 conformance class: pystac-client (0.9) recognises only
``v1.0.*/item-search#sort`` and warns that a server declaring v1.1.0 alone cannot sort; the
``sortby`` parameter and its semantics are the same in both versions.

``ENABLED_EXTENSIONS`` still selects among all of them by upstream key (``free_text`` and
``categories`` included).
"""

# No `from __future__ import annotations`: FastAPI reads the request models' annotations at
# runtime, and string annotations referring to module constants do not resolve there.
from typing import Annotated

import attr
from fastapi import FastAPI, Query
from pydantic import BaseModel, Field
from stac_fastapi.extensions.free_text import FreeTextConformanceClasses
from stac_fastapi.extensions.sort import SearchSortExtension, SortConformanceClasses
from stac_fastapi.pgstac.extensions import FreeTextExtension
from stac_fastapi.pgstac.models.extensions import Extensions
from stac_fastapi.types.extension import ApiExtension
from stac_fastapi.types.search import APIRequest

from stac_api.categories import split_categories
from stac_api.settings import Settings

FREE_TEXT = "free_text"
CATEGORIES = "categories"
SORT = "sort"
SORT_V1_0 = "https://api.stacspec.org/v1.0.0/item-search#sort"

CATEGORIES_HELP = (
    "Land-cover categories, any of which an item must hold: CLC codes at any level (311; 31 "
    "= Forests; 3 = Forest and semi natural areas) or legend names (Vineyards, forest, Wetlands)."
)
MIN_FRACTION_HELP = (
    "With categories: one of their classes must cover at least this share (0-1] of the item's "
    "valid pixels, e.g. 0.2 for 20 %."
)


def _categories(
    val: Annotated[str | None, Query(description=CATEGORIES_HELP,
                                     openapi_examples={"vineyards": {"value": "221"},
                                                       "any forest": {"value": "Forests"}})] = None,
) -> list[str] | None:
    return split_categories(val) if val else None


@attr.s
class CategoriesGetRequest(APIRequest):
    """``categories`` and ``min_fraction`` on GET."""

    categories: list[str] | None = attr.ib(default=None, converter=_categories)
    min_fraction: Annotated[float | None, Query(gt=0, le=1, description=MIN_FRACTION_HELP)] = (
        attr.ib(default=None)
    )


class CategoriesPostRequest(BaseModel):
    """``categories`` and ``min_fraction`` in a POST body."""

    categories: list[str | int] | None = Field(default=None, description=CATEGORIES_HELP)
    min_fraction: float | None = Field(default=None, gt=0, le=1, description=MIN_FRACTION_HELP)


@attr.s
class CategoriesExtension(ApiExtension):
    """EarthSignature's land-cover category search; adds parameters, no route."""

    GET: type[APIRequest] = CategoriesGetRequest
    POST: type[BaseModel] = CategoriesPostRequest

    def register(self, app: FastAPI) -> None:
        """Nothing to mount: the parameters join the search request models."""


def build_extensions(settings: Settings) -> Extensions:
    """Upstream's extension set for ``settings``, plus free text and categories on item search."""
    return Extensions(
        search_map={
            FREE_TEXT: FreeTextExtension(conformance_classes=[FreeTextConformanceClasses.SEARCH]),
            CATEGORIES: CategoriesExtension(),
            SORT: SearchSortExtension(conformance_classes=[
                SORT_V1_0,
                SortConformanceClasses.ITEM_SEARCH_SORT,
                SortConformanceClasses.ITEM_SEARCH_SORTABLES,
            ]),
        },
        item_collection_map={
            FREE_TEXT: FreeTextExtension(conformance_classes=[FreeTextConformanceClasses.ITEMS]),
            CATEGORIES: CategoriesExtension(),
        },
        settings=settings,
    )
