"""The service's work, whatever the transport (gRPC or the HTTP bindings): queries answered as
response messages, one per product, and CreateProduct.

Every check that can refuse a call (the request, the sizes of all its rasters) runs before the
first response is produced, so a stream is either answered whole or refused with its reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from infra.grpc_api.create import segmentation_of
from infra.grpc_api.generated.snapearth.api.v1 import database_pb2
from infra.grpc_api.generated.snapearth.api.v1 import segmentation_pb2 as v1
from infra.grpc_api.generated.snapearth.api.v2 import segmentation_pb2 as v2
from infra.grpc_api.polygons import item_polygons
from infra.grpc_api.queries import Found, ListQuery, TextQuery, list_products, search_products
from infra.grpc_api.rasters import plan_reads, read
from infra.grpc_api.responses import v1_response, v2_response
from infra.grpc_api.settings import GrpcSettings
from ingest.catalog.external import publish_segmentation
from ingest.settings import IngestSettings
from stac_api.app import asset_urls
from stac_api.asset_urls import AssetUrls
from stac_api.settings import AssetUrlSettings, TilerLinkSettings
from tiler.paths import AssetRoots

log = logging.getLogger(__name__)


@dataclass
class Segmentations:
    """The catalog at ``dsn`` (empty: the PG* variables) and the asset store, as the old API."""

    settings: GrpcSettings
    ingest: IngestSettings
    dsn: str = ""

    @classmethod
    def from_environment(cls, settings: GrpcSettings | None = None) -> Segmentations:
        return cls(settings or GrpcSettings(), IngestSettings())

    def __post_init__(self) -> None:
        self.urls: AssetUrls | None = asset_urls(AssetUrlSettings(),
                                                 TilerLinkSettings().tiler_url)
        self.roots = AssetRoots([self.ingest.asset_store_url or str(self.ingest.assets)])

    def find(self, query: ListQuery | TextQuery) -> Found:
        if isinstance(query, ListQuery):
            return list_products(query, self.settings, self.dsn)
        return search_products(query, self.settings, self.dsn)

    def rasters(self, query: ListQuery | TextQuery) -> Iterator[v1.SegmentationResponse]:
        """API v1: each product's rasters (refused whole before the first when one is over
        the limit)."""
        t0 = time.perf_counter()
        found = self.find(query)
        plans = [p for p in plan_reads(found.items, found.area, found.overview_level,
                                       self.settings.max_raster_pixels) if p.window]
        log.info("grpc v1: %d products, %d pixels each at most, planned in %.2fs", len(plans),
                 max((p.pixels for p in plans), default=0), time.perf_counter() - t0)
        return (v1_response(p.item, read(p, found.area), self.urls) for p in plans)

    def polygons(self, query: ListQuery | TextQuery) -> Iterator[v2.SegmentationResponse]:
        """API v2: each product's polygons, clipped to the request's area."""
        found = self.find(query)
        # Read (and size-checked) before the first answer, for the same all-or-nothing.
        answers = [(item, item_polygons(item, found.area, self.roots,
                                        self.settings.max_polygons))
                   for item in found.items]
        log.info("grpc v2: %d products, %d polygons", len(answers),
                 sum(len(p["features"]) for _, p in answers if p))
        return (v2_response(item, polygons, self.urls) for item, polygons in answers)

    def create(self, request: database_pb2.CreateProductRequest
               ) -> database_pb2.CreateProductResponse:
        """Register the request's segmentation; the new item's id."""
        segmentation = segmentation_of(request, self.settings.max_raster_pixels)
        item = publish_segmentation(segmentation, ingest=self.ingest, dsn=self.dsn)
        return database_pb2.CreateProductResponse(item_id=item.id)
