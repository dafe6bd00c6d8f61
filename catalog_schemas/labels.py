"""Labelling candidates as STAC label items (label extension v1.0.1), collection ``labels``.

One item per candidate window of a landcover item: the window where the model is least sure.
Its ``labels`` asset is the raster a labeller corrects (CLC level-3 codes, 0 = unlabelled; at
export it holds the model's prediction), beside the image chip, the untouched prediction and
the confidence. ``label:properties`` is null (a raster label), ``label:type`` raster,
``label:tasks`` segmentation; a ``source`` link points at the landcover item.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pystac
from pystac.extensions.file import FileExtension
from pystac.extensions.label import LabelClasses, LabelExtension, LabelType

from catalog_schemas import clc
from catalog_schemas.assets import CHIP_ASSET, CONFIDENCE_ASSET, LABELS_ASSET, PREDICTION_ASSET
from catalog_schemas.collections import EUROPE_BBOX
from catalog_schemas.earthsig_extension import MODEL, EarthsigExtension
from catalog_schemas.items import SOFTWARE_VERSION, PublishedFile
from catalog_schemas.schema_uris import PROCESSING_SCHEMA

LABELS_COLLECTION_ID = "labels"

ASSETS: dict[str, tuple[str, str, list[str]]] = {
    # key: (title, media type, roles)
    LABELS_ASSET: ("Labels to correct: CLC level-3 codes, 0 = unlabelled (the prediction at "
                   "export)", pystac.MediaType.GEOTIFF, ["labels", "labels-raster"]),
    PREDICTION_ASSET: ("The model's prediction, CLC level-3 codes (kept unchanged)",
                   pystac.MediaType.GEOTIFF, ["data"]),
    CONFIDENCE_ASSET: ("The model's confidence, 0-100; 255 nodata", pystac.MediaType.GEOTIFF,
                   ["data", "quality"]),
    CHIP_ASSET: ("Image chip: B02, B03, B04, B08, DN = reflectance x 10000",
             pystac.MediaType.GEOTIFF, ["data"]),
}


def labels_collection() -> pystac.Collection:
    collection = pystac.Collection(
        id=LABELS_COLLECTION_ID,
        title="EarthSignature labelling candidates",
        description=("Windows of landcover items where the model is least confident, as "
                     "image chips with the prediction to correct (STAC label extension). "
                     "Corrected labels train `earthsig models finetune`."),
        extent=pystac.Extent(
            pystac.SpatialExtent([EUROPE_BBOX]),
            pystac.TemporalExtent([[datetime(2015, 6, 23, tzinfo=UTC), None]])),
        license="CC-BY-4.0",
        keywords=["land cover", "labels", "active learning", "CORINE"],
        providers=[pystac.Provider(name="EarthSignature",
                                   roles=[pystac.ProviderRole.PROCESSOR,
                                          pystac.ProviderRole.HOST])],
    )
    collection.extra_fields["item_assets"] = {
        key: {"title": title, "type": media, "roles": roles}
        for key, (title, media, roles) in ASSETS.items()}
    collection.stac_extensions.append(LabelExtension.get_schema_uri())
    return collection


def label_item_id(source_item: str, row: int, col: int) -> str:
    """Deterministic per window: exporting again replaces the candidate."""
    return f"{source_item}_r{row:05d}_c{col:05d}"


def label_item(*, source: pystac.Item, source_href: str, row: int, col: int, size: int,
               geometry: dict, bbox: list[float], mean_confidence: float, dominant: int,
               classes: list[int], files: dict[str, PublishedFile],
               processed: datetime | None = None) -> pystac.Item:
    """The label item of one candidate window of ``source`` (a landcover item)."""
    item = pystac.Item(id=label_item_id(source.id, row, col), geometry=geometry, bbox=bbox,
                       datetime=source.datetime, collection=LABELS_COLLECTION_ID,
                       properties={})
    item.properties["title"] = f"Labelling candidate of {source.id} at row {row}, col {col}"
    EarthsigExtension.ext(item).apply_label(
        source_item=source.id, model=source.properties.get(MODEL),
        mean_confidence=round(mean_confidence, 3), dominant_class=str(dominant),
        window=[row, col, size, size])
    item.properties.update({
        "processing:software": {"earthsignature": SOFTWARE_VERSION},
        "processing:datetime": (processed or datetime.now(UTC)).isoformat()
        .replace("+00:00", "Z"),
    })
    item.stac_extensions.append(PROCESSING_SCHEMA)
    LabelExtension.ext(item, add_if_missing=True).apply(
        label_description=("CORINE land cover, level-3 codes; the model's prediction until "
                           "a labeller corrects it"),
        label_type=LabelType.RASTER, label_properties=None,
        label_classes=[LabelClasses.create(classes=sorted(classes), name=None)],
        label_tasks=["segmentation"], label_methods=["automated"])
    # Required by the extension, null for raster labels; pystac drops a None it is given.
    item.properties["label:properties"] = None
    item.add_link(pystac.Link("source", source_href, pystac.MediaType.JSON,
                              title=f"Land cover {source.id}"))
    item.add_link(pystac.Link("derived_from", source_href, pystac.MediaType.JSON,
                              title=f"Land cover {source.id}"))
    for key, published in files.items():
        title, media, roles = ASSETS.get(key, (f"Band {key}, DN = reflectance x 10000",
                                               pystac.MediaType.GEOTIFF, ["data"]))
        asset = pystac.Asset(published.href, title=title, media_type=media, roles=roles)
        item.add_asset(key, asset)
        file_ext = FileExtension.ext(asset, add_if_missing=True)
        file_ext.size, file_ext.checksum = published.size, published.checksum
    return item


def legend_codes() -> list[int]:
    """Every CLC level-3 code a label may hold."""
    return [c.clc_code for c in clc.clc_classes()]
