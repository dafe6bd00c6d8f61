"""The CLC legend filtered to what a collection's maps can contain, or to named classes.

A real pgstac holds land-cover items of two models that list different, overlapping classes
(``classification:classes`` of their landcover asset); the legend of their collection lists
exactly the union, in JSON and PNG, from the plain function and from a running tiler.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from psycopg_pool import ConnectionPool

from catalog_schemas import clc
from catalog_schemas.assets import LANDCOVER_ASSET
from catalog_schemas.collections import classification_classes, landcover_collection
from infra.postgres import libpq_env
from tests.servers import uvicorn_server
from tests.tiler.landcover_data import item_dict, load, write_cog
from tests.tiler.legends import served_classes, swatch_colours
from tiler.errors import CollectionNotFoundError, LegendFilterError
from tiler.legend import (
    CollectionClasses,
    LegendName,
    collection_grid_codes,
    legend,
    legend_png,
    legend_values,
    parse_clc_codes,
)
from tiler.timeseries import PGSTAC_OPTIONS

# clc-dynamicworld's 10 classes and a rule model's 7; 512, 311, 211 and 112 in both.
DYNAMICWORLD = (512, 311, 231, 411, 211, 324, 112, 333, 335, 523)
SPECTRAL = (112, 211, 311, 312, 512, 331, 332)
OTHER = (111, 121, 122, 123, 124, 131, 132)
UNION = sorted(set(DYNAMICWORLD) | set(SPECTRAL))  # 13 classes
ALL_CODES = [c.clc_code for c in clc.clc_classes()]


def _collection(collection_id: str, asset_classes: Iterable[int] | None = None) -> dict:
    """The landcover collection under another id; ``asset_classes`` in its item_assets."""
    doc = landcover_collection().to_dict()
    doc["id"] = collection_id
    if asset_classes is not None:
        doc["item_assets"][LANDCOVER_ASSET]["classification:classes"] = (
            classification_classes(asset_classes))
    return doc


def _item(cog: Path, item_id: str, collection_id: str, codes: Iterable[int] | None) -> dict:
    """A landcover item whose asset lists ``codes`` (None: no classification:classes)."""
    item = item_dict(cog, item_id, datetime(2024, 6, 1, 10, 46, 21, tzinfo=UTC))
    item["collection"] = collection_id
    asset = item["assets"][LANDCOVER_ASSET]
    if codes is not None:
        asset["classification:classes"] = classification_classes(codes)
    return item


def _without_landcover(item: dict) -> dict:
    item = copy.deepcopy(item)
    del item["assets"][LANDCOVER_ASSET]
    return item


@pytest.fixture(scope="module")
def dsn(module_pgstac_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    cog = write_cog(tmp_path_factory.mktemp("cogs") / "landcover.tif")
    collections = [landcover_collection().to_dict(), _collection("legacy"),
                   _collection("empty"), _collection("described", SPECTRAL),
                   _collection("undescribed", SPECTRAL)]
    items = [
        # Two dynamicworld items (one distinct list), one spectral item.
        _item(cog, "dw-1", "landcover", DYNAMICWORLD),
        _item(cog, "dw-2", "landcover", DYNAMICWORLD),
        _item(cog, "spectral-1", "landcover", SPECTRAL),
        # An item without a landcover asset contains no land cover.
        _without_landcover(_item(cog, "no-asset", "landcover", None)),
        # An older item that does not say: any of the 44.
        _item(cog, "old-1", "legacy", None),
        _item(cog, "dw-1", "legacy", DYNAMICWORLD),
        # pgstac stores what differs from item_assets (these collections list SPECTRAL
        # there): the same list (stored as nothing), another list of the same length (stored
        # element by element), none at all (stored as pgstac's "absent" marker).
        _item(cog, "same", "described", SPECTRAL),
        _item(cog, "other", "described", OTHER),
        _item(cog, "none", "undescribed", None),
    ]
    load(module_pgstac_dsn, collections, items)
    return module_pgstac_dsn


@pytest.fixture(scope="module")
def pool(dsn: str) -> Iterator[ConnectionPool]:
    # As the tiler's own pool (titiler-pgstac's connect_to_db): pgstac on the search path.
    with ConnectionPool(dsn, min_size=1, max_size=2, kwargs={"options": PGSTAC_OPTIONS},
                        open=True) as opened:
        yield opened


@pytest.fixture(scope="module")
def tiler(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {**libpq_env(dsn), "EARTHSIG_TILER_ASSET_ROOTS": str(tmp_path_factory.mktemp("root"))}
    with uvicorn_server("tiler.app:create_app", env, health_path="/healthz") as url:
        yield url


def grid_codes(clc_codes: Iterable[int]) -> frozenset[int]:
    return frozenset(clc.grid_code_of(c) for c in clc_codes)


def codes_of(body: dict) -> list[int]:
    return [int(e["code"]) for e in body["entries"]]


def by_grid_code(clc_codes: Iterable[int]) -> list[int]:
    """CLC codes in the legend's order (grid code)."""
    return sorted(clc_codes, key=clc.grid_code_of)


# --- The plain functions, no server -------------------------------------------------------


def test_a_collection_can_contain_the_union_of_its_items_classes(pool: ConnectionPool) -> None:
    assert collection_grid_codes(pool, "landcover") == grid_codes(UNION)
    assert legend_values(LegendName.clc, collection="landcover", pool=pool) == grid_codes(UNION)


def test_an_item_without_classes_counts_as_all_44(pool: ConnectionPool) -> None:
    assert collection_grid_codes(pool, "legacy") == grid_codes(ALL_CODES)


def test_a_collection_without_items_can_contain_nothing(pool: ConnectionPool) -> None:
    assert collection_grid_codes(pool, "empty") == frozenset()
    assert legend(LegendName.clc, collection_grid_codes(pool, "empty")).entries == []


def test_classes_are_read_as_pgstac_hydrates_the_items(pool: ConnectionPool, dsn: str) -> None:
    served = served_classes(dsn, "described")
    assert len(served) == 2 and all(served)
    expected = {c["value"] for classes in served for c in classes}
    assert expected == grid_codes([*SPECTRAL, *OTHER])
    assert collection_grid_codes(pool, "described") == expected
    # An item without classes in a collection whose item_assets has some: pgstac serves none.
    assert served_classes(dsn, "undescribed") == [None]
    assert collection_grid_codes(pool, "undescribed") == grid_codes(ALL_CODES)


def test_classes_filter_alone_and_with_a_collection(pool: ConnectionPool) -> None:
    assert legend_values(LegendName.clc, classes="311, 512") == grid_codes([311, 512])
    both = legend_values(LegendName.clc, classes="311,312,121", collection="landcover",
                         pool=pool)
    assert both == grid_codes([311, 312])
    assert legend_values(LegendName.clc) is None
    assert len(legend(LegendName.clc, None).entries) == 44


@pytest.mark.parametrize(("text", "named"), [("311,999", "'999'"), ("31x", "'31x'"),
                                             ("311,-1", "'-1'"), ("3_11", "'3_11'"),
                                             ("41", "'41'")])
def test_a_bad_code_is_named(text: str, named: str) -> None:
    with pytest.raises(LegendFilterError, match=named):
        parse_clc_codes(text)


def test_an_unknown_collection_is_named(pool: ConnectionPool) -> None:
    with pytest.raises(CollectionNotFoundError, match="'nowhere'"):
        legend_values(LegendName.clc, collection="nowhere", pool=pool)


def test_the_cache_keeps_a_collection_for_its_ttl(dsn: str, pool: ConnectionPool,
                                                  tmp_path: Path) -> None:
    load(dsn, [_collection("growing")], [_item(write_cog(tmp_path / "a.tif"), "a", "growing",
                                               SPECTRAL)])
    kept, fresh = CollectionClasses(ttl=3600), CollectionClasses(ttl=0)
    assert kept.get(pool, "growing") == fresh.get(pool, "growing") == grid_codes(SPECTRAL)
    load(dsn, [], [_item(write_cog(tmp_path / "b.tif"), "b", "growing", DYNAMICWORLD)])
    assert kept.get(pool, "growing") == grid_codes(SPECTRAL)
    assert fresh.get(pool, "growing") == grid_codes(UNION)
    with pytest.raises(CollectionNotFoundError):
        kept.get(pool, "not-yet")
    load(dsn, [_collection("not-yet")])
    assert kept.get(pool, "not-yet") == frozenset()  # an unknown collection is not kept


def test_png_rows_are_the_filtered_classes() -> None:
    kept = grid_codes(SPECTRAL)
    assert swatch_colours(legend_png(LegendName.clc, kept)) == [
        clc.by_clc_code(c).rgb for c in by_grid_code(SPECTRAL)]
    assert swatch_colours(legend_png(LegendName.clc, frozenset())) == []


# --- Over HTTP ---------------------------------------------------------------------------


def test_json_legend_of_a_collection_is_the_union(tiler: str) -> None:
    response = httpx.get(f"{tiler}/legends/clc", params={"collection": "landcover"})
    assert response.status_code == 200, response.text
    assert codes_of(response.json()) == by_grid_code(UNION)
    assert response.json()["title"] == "CORINE Land Cover"
    # It changes with the catalog: kept by proxies only as long as by the tiler.
    assert response.headers["cache-control"] == "public, max-age=60"


def test_png_legend_of_a_collection_is_the_union(tiler: str) -> None:
    response = httpx.get(f"{tiler}/legends/clc.png", params={"collection": "landcover"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert swatch_colours(response.content) == [clc.by_clc_code(c).rgb
                                                for c in by_grid_code(UNION)]
    assert response.content == legend_png(LegendName.clc, grid_codes(UNION))


def test_without_parameters_all_44(tiler: str) -> None:
    response = httpx.get(f"{tiler}/legends/clc")
    assert codes_of(response.json()) == ALL_CODES
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert len(swatch_colours(httpx.get(f"{tiler}/legends/clc.png").content)) == 44


@pytest.mark.parametrize("suffix", ["", ".png"])
def test_classes_filter_over_http(tiler: str, suffix: str) -> None:
    url = f"{tiler}/legends/clc{suffix}"
    alone = httpx.get(url, params={"classes": "512,311"})
    both = httpx.get(url, params={"classes": "512,311,121", "collection": "landcover"})
    assert alone.status_code == both.status_code == 200
    if suffix:
        assert swatch_colours(alone.content) == swatch_colours(both.content) == [
            clc.by_clc_code(311).rgb, clc.by_clc_code(512).rgb]
    else:
        assert codes_of(alone.json()) == codes_of(both.json()) == [311, 512]


@pytest.mark.parametrize("suffix", ["", ".png"])
@pytest.mark.parametrize(("params", "status", "named"), [
    ({"collection": "nowhere"}, 404, "nowhere"),
    ({"classes": "311,999"}, 400, "999"),
    ({"classes": "3a1"}, 400, "3a1"),
    ({"classes": ""}, 400, "classes"),
    ({"classes": "311", "collection": "nowhere"}, 404, "nowhere"),
])
def test_errors_name_what_is_wrong(tiler: str, suffix: str, params: dict, status: int,
                                   named: str) -> None:
    response = httpx.get(f"{tiler}/legends/clc{suffix}", params=params)
    assert response.status_code == status
    assert named in response.json()["detail"]
    assert "max-age" not in response.headers.get("cache-control", "")


def test_filters_apply_to_the_clc_legend_only(tiler: str) -> None:
    response = httpx.get(f"{tiler}/legends/cloudmask", params={"collection": "landcover"})
    assert response.status_code == 400 and "clc" in response.json()["detail"]
