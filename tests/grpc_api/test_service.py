"""The original API kept (issue 24): a pilot's client, generated from the published protos,
against ``earthsig serve grpc`` on mutual TLS over a catalog the pipeline published."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import rasterio
import shapely
from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp
from rasterio.warp import transform as warp_points
from rasterio.warp import transform_geom

from catalog_schemas import cloudmask as cm
from infra.grpc_api.geobuf import decode, encode
from infra.postgres import libpq_env
from tests.grpc_api.conftest import MAX_PIXELS, READER, WRITER, Service, https_client
from tests.grpc_api.pilot_client import Stubs, channel
from tests.servers import uvicorn_server


def _stamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _sensed(item: dict) -> datetime:
    return datetime.fromisoformat(item["properties"]["datetime"].replace("Z", "+00:00"))


def _area(item: dict, fraction: float = 0.4) -> shapely.Geometry:
    """A box in the middle of the item's footprint, ``fraction`` of its side."""
    x0, y0, x1, y1 = item["bbox"]
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * fraction / 2, \
        (y1 - y0) * fraction / 2
    return shapely.box(cx - hx, cy - hy, cx + hx, cy + hy)


def _list(service: Service, stubs: Stubs, client: str = READER, v2: bool = False,
          **fields: Any) -> list[Any]:
    with channel(service.address, service.certs, client) as ch:
        stub = (stubs.v2_grpc if v2 else stubs.v1_grpc).DatabaseProductServiceStub(ch)
        return list(stub.ListSegmentation(stubs.v1.ListSegmentationRequest(**fields),
                                          timeout=60))


def _refusal(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def _expected(href: str, response_raster: Any, transform: list[float], crs: str,
              area: shapely.Geometry | None) -> np.ndarray:
    """The COG's pixel under each response pixel's centre; 0 where the centre is outside the
    area: the truth, from the file, however the server chose its window."""
    rows, cols = response_raster.height, response_raster.width
    a, b, c, d, e, f = transform
    cc, rr = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
    xs, ys = a * cc + b * rr + c, d * cc + e * rr + f
    with rasterio.open(href) as src:
        assert src.crs.to_string() == crs
        data = src.read(1)
        r, col = rasterio.transform.rowcol(src.transform, xs.ravel(), ys.ravel())
    values = data[np.asarray(r), np.asarray(col)].reshape(rows, cols)
    if area is not None:
        local = shapely.geometry.shape(transform_geom("EPSG:4326", crs,
                                                      shapely.geometry.mapping(area)))
        inside = shapely.contains_xy(local, xs, ys)
        values = np.where(inside, values, 0)
    return values


def _pixels(raster: Any) -> np.ndarray:
    return np.asarray(raster.data, dtype=np.int64).reshape(raster.height, raster.width)


def test_list_by_area_dates_and_categories(service: Service, stubs: Stubs) -> None:
    first, second = service.items
    area = _area(first)
    present = first["properties"]["clc:classes"][0]
    sensed = _sensed(first)
    found = _list(service, stubs, wkt=area.wkt, start_date=_stamp(sensed - timedelta(days=1)),
                  end_date=_stamp(sensed + timedelta(days=1)), categories=[present],
                  n_results=5)
    assert [r.item_id for r in found] == [first["id"]]
    response = found[0]
    assert response.product_id == first["properties"]["earthsig:source_product"]
    assert shapely.from_wkt(response.wkt).equals_exact(
        shapely.geometry.shape(first["geometry"]), 1e-9)
    assert response.quicklook.endswith("thumbnail.png")
    seg = response.segmentation
    assert 0 < seg.height * seg.width <= MAX_PIXELS
    expected = _expected(first["assets"]["landcover"]["href"], seg, list(response.transform),
                         response.crs, area)
    assert np.array_equal(_pixels(seg), expected)
    assert (expected > 0).mean() > 0.5  # the crop is mostly inside: the values are real
    cloud = _expected(first["assets"]["cloudmask"]["href"], response.cloud_mask,
                      list(response.transform), response.crs, area)
    assert np.array_equal(_pixels(response.cloud_mask), np.isin(cloud, cm.OBSCURED))

    absent = next(c for c in ("523", "Vineyards", "335")
                  if c not in first["properties"]["clc:classes"])
    assert _list(service, stubs, wkt=area.wkt, categories=[absent]) == []
    later = _stamp(sensed + timedelta(days=1))
    assert _list(service, stubs, wkt=area.wkt, start_date=later) == []


def test_list_by_products_and_n_results(service: Service, stubs: Stubs) -> None:
    first, second = service.items
    small = shapely.union_all([_area(first, 0.1), _area(second, 0.1)])
    both = _list(service, stubs, wkt=small.wkt)
    assert [r.item_id for r in both] == [second["id"], first["id"]]  # newest first
    assert [r.item_id for r in _list(service, stubs, wkt=small.wkt, n_results=1)] == [
        second["id"]]
    product = first["properties"]["earthsig:source_product"]
    assert [r.product_id for r in _list(service, stubs, wkt=small.wkt,
                                        product_ids=[product])] == [product]


def test_a_raster_over_the_limit_is_refused_with_the_limit_named(service: Service,
                                                                 stubs: Stubs) -> None:
    product = service.items[0]["properties"]["earthsig:source_product"]
    error = _refusal(lambda: _list(service, stubs, product_ids=[product]))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "EARTHSIG_GRPC_MAX_RASTER_PIXELS" in error.details()
    assert str(MAX_PIXELS) in error.details() and "384 x 384" in error.details()
    assert "wkt" in error.details()


@pytest.mark.parametrize(("fields", "named"), [
    ({"wkt": "POLYGON((3 43, 4 43, 4"}, "wkt"),
    ({"wkt": "POINT(3 43)"}, "wkt"),
    ({"wkt": "POLYGON((300 43, 301 43, 301 44, 300 43))"}, "wkt"),
    ({"wkt": "POLYGON((0 40, 5 40, 5 45, 0 40))", "categories": ["no such class"]},
     "categories"),
    ({"wkt": "POLYGON((0 40, 5 40, 5 45, 0 40))",
      "start_date": Timestamp(seconds=1_800_000_000), "end_date": Timestamp(seconds=1)},
     "start_date"),
    ({"categories": ["311"]}, "wkt"),
    ({"wkt": "POLYGON((0 40, 5 40, 5 45, 0 40))", "n_results": -1}, "n_results"),
    ({"product_ids": ["S2A\x00"]}, "product_ids"),
    ({"wkt": "POLYGON((0 40, 5 40, 5 45, 0 40))", "overview_level": 99}, "overview_level"),
])
def test_malformed_requests_are_invalid_arguments(service: Service, stubs: Stubs,
                                                  fields: dict, named: str) -> None:
    error = _refusal(lambda: _list(service, stubs, **fields))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert named in error.details()


def test_search_by_text(service: Service, stubs: Stubs) -> None:
    first, second = service.items
    area = shapely.union_all([_area(first, 0.2), _area(second, 0.2)])
    with channel(service.address, service.certs, READER) as ch:
        stub = stubs.v1_grpc.DatabaseProductServiceStub(ch)
        found = list(stub.SearchSegmentation(stubs.v1.SearchSegmentationRequest(
            query="products of 2024-07-21", wkt=area.wkt), timeout=60))
        assert [r.item_id for r in found] == [second["id"]]
        error = _refusal(lambda: list(stub.SearchSegmentation(
            stubs.v1.SearchSegmentationRequest(query=""), timeout=60)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_v2_answers_polygons_clipped_to_the_area(service: Service, stubs: Stubs) -> None:
    first = service.items[0]
    area = _area(first)
    [response] = _list(service, stubs, v2=True, wkt=area.wkt, product_ids=[
        first["properties"]["earthsig:source_product"]])
    assert response.item_id == first["id"]
    collection = decode(response.polygons)
    features = collection["features"]
    assert features
    shapes = [shapely.geometry.shape(f["geometry"]) for f in features]
    assert all(area.buffer(1e-6).contains(s) for s in shapes)  # geobuf keeps 6 decimals
    assert {str(f["properties"]["clc_code"]) for f in features} <= set(
        first["properties"]["clc:classes"])
    # The polygons cover the crop where the land cover has a class: most of it.
    assert shapely.union_all(shapes).area > 0.5 * area.area


def _external_product(stubs: Stubs, product_id: str) -> tuple[Any, np.ndarray, np.ndarray]:
    rows, cols, x0, y0 = 200, 250, 410_000.0, 4_810_000.0
    classes = (np.arange(rows * cols).reshape(rows, cols) // 997 % 44 + 1).astype(np.uint8)
    cloud = np.zeros((rows, cols), np.uint8)
    cloud[:50, :60] = 1
    transform = [10.0, 0.0, x0, 0.0, -10.0, y0]
    corners = [(x0, y0), (x0 + 10 * cols, y0), (x0 + 10 * cols, y0 - 10 * rows),
               (x0, y0 - 10 * rows)]
    lons, lats = warp_points("EPSG:32631", "EPSG:4326", *zip(*corners, strict=True))
    ring = [*zip(lons, lats, strict=True), (lons[0], lats[0])]
    feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
               "properties": {"product_id": product_id, "datetime": "2024-08-01T10:30:00Z",
                              "proj:epsg": 32631, "proj:transform": transform,
                              "platform": "sentinel-2x"}}
    request = stubs.v1_db.CreateProductRequest(
        data=encode(feature, data_cls=stubs.geobuf.Data),
        segmentation=stubs.v1.Raster(height=rows, width=cols, data=classes.ravel().tolist()),
        cloud_mask=stubs.v1.Raster(height=rows, width=cols, data=cloud.ravel().tolist()))
    return request, classes, cloud


def test_create_product_by_a_writer_only(service: Service, stubs: Stubs) -> None:
    product = "S2X_MSIL2A_20240801T103000_EXTERNAL_T31TCJ"
    request, classes, cloud = _external_product(stubs, product)
    with channel(service.address, service.certs, READER) as ch:
        error = _refusal(lambda: stubs.v1_grpc.DatabaseProductServiceStub(ch).CreateProduct(
            request, timeout=60))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert READER in error.details() and "EARTHSIG_GRPC_WRITERS" in error.details()
    assert _list(service, stubs, product_ids=[product]) == []

    with channel(service.address, service.certs, WRITER) as ch:
        created = stubs.v1_grpc.DatabaseProductServiceStub(ch).CreateProduct(request,
                                                                            timeout=120)
    assert created.item_id == f"{product}_external_v1"
    [found] = _list(service, stubs, product_ids=[product])
    assert found.item_id == created.item_id and found.crs == "EPSG:32631"
    assert np.array_equal(_pixels(found.segmentation), classes)
    assert np.array_equal(_pixels(found.cloud_mask), cloud)
    # The STAC API serves it, its COGs hold the raster.
    with uvicorn_server("stac_api.app:create_app", libpq_env(service.dsn),
                        health_path="/_mgmt/health") as api:
        item = httpx.get(f"{api}/collections/landcover/items/{created.item_id}").json()
    assert item["properties"]["earthsig:source_product"] == product
    assert item["properties"]["datetime"] == "2024-08-01T10:30:00Z"
    with rasterio.open(_path(service, item["assets"]["landcover"]["href"])) as src:
        assert np.array_equal(src.read(1), classes)
    with rasterio.open(_path(service, item["assets"]["cloudmask"]["href"])) as src:
        assert np.array_equal(src.read(1) == cm.CLOUD, cloud == 1)


def _path(service: Service, href: str) -> str:
    """A store path, or the tiler's /assets/ URL the API may answer, as the file."""
    marker = "/assets/"
    return href if href.startswith("/") else str(service.home / "assets" /
                                                 href.split(marker, 1)[1])


def test_create_product_refuses_a_bad_raster(service: Service, stubs: Stubs) -> None:
    request, _, _ = _external_product(stubs, "S2X_BAD")
    del request.segmentation.data[-1]
    with channel(service.address, service.certs, WRITER) as ch:
        error = _refusal(lambda: stubs.v1_grpc.DatabaseProductServiceStub(ch).CreateProduct(
            request, timeout=60))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "segmentation" in error.details()


@pytest.mark.parametrize("who", ["no certificate", "another CA's client"])
def test_clients_without_a_certificate_of_our_ca_are_refused(service: Service, stubs: Stubs,
                                                              who: str) -> None:
    area = _area(service.items[0])
    if who == "no certificate":
        ch = channel(service.address, service.certs, None)
    else:
        ch = channel(service.address, service.certs / "stranger", "intruder",
                     ca=service.certs / "ca.crt")
    with ch:
        stub = stubs.v1_grpc.DatabaseProductServiceStub(ch)
        error = _refusal(lambda: list(stub.ListSegmentation(
            stubs.v1.ListSegmentationRequest(wkt=area.wkt), timeout=30)))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_http_bindings_answer_the_same_json(service: Service, stubs: Stubs) -> None:
    first = service.items[0]
    area = _area(first, 0.2)
    expected = [MessageToDict(r) for r in _list(service, stubs, wkt=area.wkt, n_results=3)]
    with https_client(service.certs) as client:
        answer = client.get(f"{service.http}/v1/segmentation:list",
                            params={"wkt": area.wkt, "n_results": 3})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        results = [json.loads(line)["result"] for line in answer.text.splitlines()]
        assert results == expected and len(results) == 1
        search = client.get(f"{service.http}/v1/segmentation:search",
                            params={"query": "products of 2024-07-21",
                                    "wkt": _area(service.items[1], 0.2).wkt})
        assert [json.loads(x)["result"]["itemId"] for x in search.text.splitlines()] == [
            service.items[1]["id"]]
        bad = client.get(f"{service.http}/v1/segmentation:list", params={"wkt": "POLYGON(("})
        assert bad.status_code == 400 and bad.json()["code"] == "INVALID_ARGUMENT"
        assert "wkt" in bad.json()["description"]
        big = client.get(f"{service.http}/v1/segmentation:list",
                         params={"product_ids": first["properties"]["earthsig:source_product"]})
        assert big.status_code == 413 and big.json()["code"] == "RESOURCE_EXHAUSTED"
        assert "EARTHSIG_GRPC_MAX_RASTER_PIXELS" in big.json()["description"]
        v2 = client.get(f"{service.http}/v2/segmentation:list", params={"wkt": area.wkt})
        assert json.loads(v2.text.splitlines()[0])["result"]["polygons"]["featureCollection"]
    with https_client(service.certs, None) as anonymous, pytest.raises(httpx.TransportError):
        anonymous.get(f"{service.http}/v1/segmentation:list", params={"wkt": area.wkt})


def test_sensing_times_are_in_the_answer(service: Service, stubs: Stubs) -> None:
    first = service.items[0]
    [response] = _list(service, stubs, wkt=_area(first, 0.1).wkt, product_ids=[
        first["properties"]["earthsig:source_product"]])
    assert response.datetime.ToDatetime(tzinfo=UTC) == _sensed(first)
