"""The extension set: upstream's defaults plus free text and categories on item search."""

from __future__ import annotations

from stac_fastapi.extensions.free_text import FreeTextConformanceClasses
from stac_fastapi.pgstac.extensions import FreeTextExtension

from stac_api.extensions import build_extensions
from stac_api.settings import Settings


def test_item_search_gets_free_text_on_top_of_upstream_defaults() -> None:
    extensions = build_extensions(Settings(_env_file=None))
    assert {"query", "sort", "fields", "filter", "pagination", "free_text", "categories"} == set(
        extensions.search_map
    )
    assert "categories" in extensions.item_collection_map
    free_text = [e for e in extensions.search if isinstance(e, FreeTextExtension)]
    assert [e.conformance_classes for e in free_text] == [[FreeTextConformanceClasses.SEARCH]]
    items_free_text = [e for e in extensions.item_collection if isinstance(e, FreeTextExtension)]
    assert [e.conformance_classes for e in items_free_text] == [[FreeTextConformanceClasses.ITEMS]]


def test_collection_search_is_composed_and_transactions_only_on_demand() -> None:
    extensions = build_extensions(Settings(_env_file=None))
    assert extensions.collection_search is not None
    assert extensions.transaction == []
    assert extensions.catalog == []
    writes = build_extensions(Settings(_env_file=None, enable_transactions_extensions=True))
    assert len(writes.transaction) == 2  # items/collections and bulk items


def test_enabled_extensions_can_switch_free_text_off() -> None:
    settings = Settings(_env_file=None, enabled_extensions=["filter", "sort"])
    extensions = build_extensions(settings)
    assert not [e for e in extensions.search if isinstance(e, FreeTextExtension)]
    assert extensions.collection_search is None
