"""The images built and the compose stack run under Podman, a product through it end to end.

The five images are built (podman layer cache: only what changed) on the debootstrap base,
and compose.yaml runs with compose.podman.yaml over it (infra/deploy/podman.py): the one-shots
migrate an empty database of the host's PostgreSQL, write the model repository and the gRPC
service's CA and certificate into the stack's volumes, then the API, tiler, three workers,
scheduler, dashboard and gRPC service start and pass their own health checks. A generated
product, served over HTTP from the host, is processed by the containerised workers
(``earthsig process --wait`` run in a worker container), found through the containerised API
with pystac-client, drawn by the containerised tiler in the colours of the published COG's
own colour table, and listed by the containerised gRPC service on mutual TLS (a client
certificate issued in the stack's volume) with the COGs' pixels. Everything of the project
is removed after.

``make test-containers`` runs it (docs/deployment.md, "Podman"): about 15 minutes from a cold
cache (the builds), 3 with the images built, too long for ``make test``, so the suite runs it
only with ``EARTHSIG_CONTAINERS_TEST=1``, which that target sets. It needs root (apt: podman,
runc, debootstrap; rootful podman) and PyPI, Debian and npm for the builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pystac
import pytest
import rasterio
from pyproj import Transformer
from pystac_client import Client
from shapely import from_wkt as shapely_wkt
from shapely.geometry import shape

from catalog_schemas import clc, cloudmask
from infra.deploy import podman
from infra.grpc_api.generated.snapearth.api.v1 import database_pb2_grpc
from infra.grpc_api.generated.snapearth.api.v1 import segmentation_pb2 as v1
from infra.postgres import dsn_for, libpq_env
from infra.stack import StackState
from samples import make_sample_product
from tests.grpc_api.pilot_client import channel
from tests.servers import STATIC_ROOT_VAR, free_port, uvicorn_server
from tests.spots import Spot, interior_spot
from tests.tiles import decode_png, rgba_at, tile_of, tile_url

# The JSON report of image sizes and start-up times (docs/deployment.md records it).
REPORT_VAR = "EARTHSIG_CONTAINERS_REPORT"

pytestmark = [
    pytest.mark.skipif(os.environ.get("EARTHSIG_CONTAINERS_TEST") != "1",
                       reason="builds the images and runs the compose stack: "
                       "`make test-containers`"),
    # The first test waits for the builds: from a cold cache, past the suite's 600 s.
    pytest.mark.timeout(1800),
]


@dataclass
class Running:
    stack: podman.ComposeStack
    product: pystac.Item
    product_dir: Path
    item_id: str
    api: str
    tiler: str
    grpc: str  # host:port of the gRPC service
    grpc_certs: Path  # ca.crt and the client PILOT's certificate, out of the stack's volume


@pytest.fixture(scope="module")
def images() -> dict[str, float]:
    return podman.build_all(podman.BASE_IMAGE)


@pytest.fixture(scope="module")
def empty_database(stack: StackState) -> Iterator[dict[str, str]]:
    """libpq variables of a new, empty database of the host's PostgreSQL (the containerised
    `migrate` installs pgstac in it); dropped after."""
    assert stack.postgres is not None
    env = libpq_env(stack.postgres.dsn)
    name = f"earthsig_containers_{uuid.uuid4().hex[:10]}"
    admin = dsn_for(env["PGHOST"], int(env["PGPORT"]), "postgres", env["PGUSER"],
                    env["PGPASSWORD"])
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**env, "PGDATABASE": name}
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _variables(database: dict[str, str], redis_url: str, env_file: Path,
               ports: dict[str, int]) -> dict[str, str]:
    return {
        **podman.host_variables(database, redis_url),
        "EARTHSIG_API_PUBLISHED_PORT": str(ports["api"]),
        "EARTHSIG_TILER_PUBLISHED_PORT": str(ports["tiler"]),
        "EARTHSIG_DASHBOARD_PUBLISHED_PORT": str(ports["dashboard"]),
        "EARTHSIG_GRPC_PUBLISHED_PORT": str(ports["grpc"]),
        "EARTHSIG_GRPC_HTTP_PUBLISHED_PORT": str(ports["grpc_http"]),
        "EARTHSIG_API_TILER_URL": f"http://127.0.0.1:{ports['tiler']}",
        "EARTHSIG_ENV_FILE": str(env_file),
        # One worker per pool: two cores here.
        "EARTHSIG_FETCH_WORKERS": "1", "EARTHSIG_INFER_WORKERS": "1",
        "EARTHSIG_PUBLISH_WORKERS": "1",
    }


@pytest.fixture(scope="module")
def running(images: dict[str, float], empty_database: dict[str, str], module_redis_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    home = tmp_path_factory.mktemp("containers")
    env_file = home / "earthsig.env"
    # The suite's fast rule model, whose classes on generated products are known (conftest).
    env_file.write_text("EARTHSIG_INFERENCE_DEFAULT_MODEL="
                        f"{os.environ['EARTHSIG_INFERENCE_DEFAULT_MODEL']}\n")
    ports = {name: free_port() for name in ("api", "tiler", "dashboard", "grpc", "grpc_http")}
    stack = podman.ComposeStack(f"earthsig-e2e-{uuid.uuid4().hex[:8]}",
                                _variables(empty_database, module_redis_url, env_file, ports))
    served = home / "served"
    path = make_sample_product("T31TCJ", date(2024, 7, 1), 1024, served, seed=11)
    try:
        startup = podman.up(stack)
        _report(images, startup)
        with uvicorn_server("tests.servers:static_app", {STATIC_ROOT_VAR: str(served)}) as base:
            href = f"{base}/{path.relative_to(served).as_posix()}"
            [worker] = [c for c, s in stack.containers().items() if s == "worker-fetch"]
            done = podman.podman("exec", worker, "earthsig", "process", href, "--wait",
                                 "--timeout", "300", check=False)
            assert done.returncode == 0, done.stderr + "".join(
                stack.logs(c) for c, s in stack.containers().items() if s.startswith("worker"))
        certs = _client_certificates(stack, home / "grpc-certs")
        yield Running(stack, pystac.Item.from_file(str(path)), path.parent,
                      done.stdout.strip().splitlines()[-1],
                      f"http://127.0.0.1:{ports['api']}", f"http://127.0.0.1:{ports['tiler']}",
                      f"127.0.0.1:{ports['grpc']}", certs)
    finally:
        podman.down(stack)
    assert not stack.containers(), "containers left behind"


PILOT = "e2e-pilot"


def _client_certificates(stack: podman.ComposeStack, folder: Path) -> Path:
    """A client certificate issued by the stack's CA in its certificate volume, taken out as
    docs/deployment.md ("gRPC") tells a user to: tar on stdout of a one-off container."""
    script = (f"earthsig grpc-certs client {PILOT} >&2 && "
              f"tar -C /var/lib/earthsig/grpc -c ca.crt {PILOT}.crt {PILOT}.key")
    done = subprocess.run(
        ["podman", "run", "--rm", "--network", "none",
         "-v", f"{stack.project}_grpccerts:/var/lib/earthsig/grpc",
         "-e", "EARTHSIG_GRPC_CERTS_DIR=/var/lib/earthsig/grpc",
         podman.image_name("grpc"), "sh", "-c", script],
        env=podman.podman_env(), capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    folder.mkdir()
    subprocess.run(["tar", "-C", str(folder), "-x"], input=done.stdout, check=True)
    return folder


def _report(images: dict[str, float], startup: dict[str, float]) -> None:
    sizes = {s.image: s.bytes for s in podman.image_sizes()}
    report = {"build_s": images, "image_bytes": sizes, "startup_s": startup}
    print(json.dumps(report, indent=1))
    if os.environ.get(REPORT_VAR):
        Path(os.environ[REPORT_VAR]).write_text(json.dumps(report, indent=1))


def test_every_service_started_healthy(running: Running) -> None:
    services = set(running.stack.containers().values())
    assert services == set(podman.ONE_SHOTS) | set(podman.LONG_RUNNING)


def test_the_containerised_api_finds_the_processed_product(running: Running) -> None:
    client = Client.open(running.api)
    found = list(client.search(collections=["landcover"], bbox=running.product.bbox,
                               datetime="2024-07-01/2024-07-02").items())
    assert [i.id for i in found] == [running.item_id]
    item = found[0]
    assert shape(item.geometry).equals_exact(shape(running.product.geometry), 1e-9)
    assert item.datetime == running.product.datetime
    assert set(item.assets) == {"landcover", "confidence", "cloudmask", "polygons", "thumbnail"}
    assert not list(client.search(bbox=[10, 50, 11, 51]).items())
    # Published into the stack's assets volume; the API links it through the tiler, which
    # serves it from the same volume.
    landcover = item.assets["landcover"]
    assert landcover.href.startswith(f"{running.tiler}/assets/landcover/")
    body = httpx.get(landcover.href, timeout=60).content
    assert len(body) == landcover.extra_fields["file:size"]
    assert hashlib.sha256(body).hexdigest() == landcover.extra_fields["file:checksum"][4:]


def _cog_colour(cog: str, spot: Spot) -> tuple[int, ...]:
    """The colour the COG's own colour table gives its pixel at ``spot`` (read over HTTP)."""
    with rasterio.open(cog) as src:
        x, y = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True).transform(
            spot.lon, spot.lat)
        row, col = src.index(x, y)
        value = int(src.read(1, window=((row, row + 1), (col, col + 1)))[0, 0])
        return tuple(src.colormap(1)[value])


@pytest.mark.parametrize("clc_code", [512, 311])
def test_the_containerised_tiler_draws_the_cog_in_its_colours(running: Running,
                                                              clc_code: int) -> None:
    spot = interior_spot(running.product_dir / "truth_landcover.tif",
                         clc.grid_code_of(clc_code), margin=40)
    [item] = Client.open(running.api).search(ids=[running.item_id]).items()
    cog = item.assets["landcover"].href
    tile = tile_of(spot, 14)
    url = tile_url(f"{running.tiler}/collections/landcover/items/{running.item_id}/tiles/"
                   "WebMercatorQuad/{z}/{x}/{y}.png", tile)
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, response.text
    drawn = rgba_at(decode_png(response.content), tile, spot)
    assert drawn == _cog_colour(cog, spot) == (*clc.by_clc_code(clc_code).rgb, 255)


def test_the_containerised_grpc_service_lists_the_product_with_the_cog_s_pixels(
        running: Running) -> None:
    """ListSegmentation on mutual TLS, with a client certificate of the stack's own CA: the
    processed product, its rasters the published COGs' pixels."""
    [item] = Client.open(running.api).search(ids=[running.item_id]).items()
    product = item.properties["earthsig:source_product"]
    with channel(running.grpc, running.grpc_certs, PILOT) as ch:
        stub = database_pb2_grpc.DatabaseProductServiceStub(ch)
        found = list(stub.ListSegmentation(v1.ListSegmentationRequest(product_ids=[product]),
                                           timeout=120))
    assert [(r.item_id, r.product_id) for r in found] == [(running.item_id, product)]
    response = found[0]
    assert shapely_wkt(response.wkt).equals_exact(shape(item.geometry), 1e-9)
    expected = {}
    for asset in ("landcover", "cloudmask"):
        with rasterio.open(item.assets[asset].href) as src:
            assert response.crs == src.crs.to_string()
            assert list(response.transform) == pytest.approx(list(src.transform)[:6])
            expected[asset] = src.read(1)
    for raster, values in ((response.segmentation, expected["landcover"]),
                           (response.cloud_mask, np.isin(expected["cloudmask"],
                                                         cloudmask.OBSCURED))):
        assert (raster.height, raster.width) == values.shape
        assert np.array_equal(np.asarray(raster.data).reshape(values.shape), values)
    assert len(set(response.segmentation.data)) > 1  # a real map, not one fill value
