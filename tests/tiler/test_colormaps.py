"""The ``clc`` colormap registry and the query dependency over it (no server needed)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from rio_tiler.colormap import apply_cmap
from rio_tiler.colormap import cmap as stock_colormaps
from rio_tiler.models import ImageData
from titiler.core.resources.enums import ImageType
from titiler.core.utils import render_image

from catalog_schemas.clc import colormap
from tiler.colormaps import as_lookup_table, colormap_params, colormaps, render_with_lookup_table


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()

    @app.get("/cmap")
    def cmap(value=Depends(colormap_params())) -> dict | None:  # noqa: B008
        # Stock colormaps hold numpy integers; JSON wants plain ones.
        return None if value is None else {str(k): [int(c) for c in v] for k, v in value.items()}

    return TestClient(app)


def test_registry_has_clc_and_the_stock_colormaps() -> None:
    registry = colormaps()
    assert registry.get("clc") == colormap()
    assert {"viridis", "greens"} <= set(registry.list())


def test_rio_tilers_global_registry_is_left_alone() -> None:
    colormaps()
    assert "clc" not in stock_colormaps.list()


def test_clc_makes_nodata_transparent_and_classes_opaque() -> None:
    cmap = colormaps().get("clc")
    assert cmap[0][3] == 0
    assert all(cmap[code][3] == 255 for code in range(1, 45))


def test_colormap_name_clc_resolves(client: TestClient) -> None:
    response = client.get("/cmap", params={"colormap_name": "clc"})
    assert response.status_code == 200
    assert response.json()["41"] == [128, 242, 230, 255]


def test_stock_names_still_resolve(client: TestClient) -> None:
    assert len(client.get("/cmap", params={"colormap_name": "viridis"}).json()) == 256


def test_explicit_json_colormap_is_parsed(client: TestClient) -> None:
    explicit = json.dumps({"41": "#ff0000", "23": [0, 0, 255, 255]})
    body = client.get("/cmap", params={"colormap": explicit}).json()
    assert body == {"41": [255, 0, 0, 255], "23": [0, 0, 255, 255]}


def test_no_colormap_is_none(client: TestClient) -> None:
    assert client.get("/cmap").json() is None


def test_unknown_name_is_422(client: TestClient) -> None:
    assert client.get("/cmap", params={"colormap_name": "not-a-colormap"}).status_code == 422


def test_malformed_json_is_400(client: TestClient) -> None:
    assert client.get("/cmap", params={"colormap": "{not json"}).status_code == 400


def test_clc_change_paints_a_transition_in_its_new_class_colour() -> None:
    import numpy as np
    from rio_tiler.colormap import apply_cmap

    from catalog_schemas import landcover_change as changes
    from catalog_schemas.clc import by_clc_code as by_code

    forest, burnt = by_code(311), by_code(334)
    change = np.array([[[0, changes.encode(forest.grid_code, burnt.grid_code),
                         changes.encode(forest.grid_code, forest.grid_code)]]], np.uint16)
    rgb, alpha = apply_cmap(change, colormaps().get(changes.CHANGE_COLORMAP_NAME))
    assert alpha[0, 0] == 0  # nodata: transparent
    assert tuple(rgb[:, 0, 1]) == burnt.rgb and alpha[0, 1] == 255
    assert tuple(rgb[:, 0, 2]) == changes.UNCHANGED_RGBA[:3]


def _class_tile(dtype: str) -> np.ndarray:
    """[1, 64, 64] of every CLC code, nodata, and values no map knows (45-255)."""
    return (np.arange(64 * 64).reshape(1, 64, 64) % 256).astype(dtype)


def test_lookup_table_colours_exactly_as_the_class_by_class_path() -> None:
    data = _class_tile("uint8")
    table = as_lookup_table(colormap(), data.dtype)
    assert len(table) == 256 and table[200] == (0, 0, 0, 0) and table[41] == colormap()[41]
    fast, slow = apply_cmap(data, table), apply_cmap(data, colormap())
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])
    assert (slow[1][data[0] > 44] == 0).all() and (slow[1][data[0] == 1] == 255).all()


@pytest.mark.parametrize("cmap", [None, {1: (1, 2, 3, 255), 300: (4, 5, 6, 255)},
                                  [((0, 10), (1, 2, 3, 255))]])
def test_lookup_table_leaves_other_maps_alone(cmap) -> None:
    assert as_lookup_table(cmap, np.dtype("uint8")) is cmap


def test_lookup_table_only_for_uint8_data() -> None:
    # The table path would cast uint16 300 to 44 and colour it; the class path leaves it clear.
    assert as_lookup_table(colormap(), np.dtype("uint16")) is not None
    assert len(as_lookup_table(colormap(), np.dtype("uint16"))) == len(colormap())


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_rendered_png_equals_titilers_render(dtype: str) -> None:
    data = _class_tile(dtype)
    if dtype == "uint16":
        data[0, :8] += 256  # values the uint8 table would wrap onto classes
    image = ImageData(np.ma.MaskedArray(data, mask=data == 0))
    ours, _ = render_with_lookup_table(image, colormap=colormap(), output_format=ImageType.png)
    upstream, _ = render_image(image, colormap=colormap(), output_format=ImageType.png)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(ours))),
                                  np.asarray(Image.open(io.BytesIO(upstream))))
