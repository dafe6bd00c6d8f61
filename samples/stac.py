"""The STAC item of a sample product, shaped like an item of earth-search v1's sentinel-2-l2a."""

from __future__ import annotations

import datetime as dt
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pystac
from pystac.extensions.classification import Classification, ClassificationExtension
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.grid import GridExtension
from pystac.extensions.mgrs import MgrsExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension

from catalog_schemas import clc
from catalog_schemas import cloudmask as cm
from catalog_schemas.collections import classification_classes
from catalog_schemas.schema_uris import PROCESSING_SCHEMA
from samples.scene import SampleScene
from samples.spectra import (
    BANDS,
    CLOUD_SCL,
    DN_NODATA,
    DN_SCALE,
    Scl,
    SpectralBand,
    dn_offset,
)

PROCESSING_BASELINE = "05.10"  # the default; any baseline may be generated
PRODUCT_TYPE = "S2MSI2A"

TRUTH_FILE = "truth_landcover.tif"
TRUTH_ASSET = "truth"
TRUTH_CLOUD_FILE = "truth_cloudmask.tif"
TRUTH_CLOUD_ASSET = "truth_cloudmask"
SCL_ASSET = "scl"

EXTENSION_URIS = (
    PROCESSING_SCHEMA,
    "https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json",
)


def build_item(scene: SampleScene, scl: np.ndarray,
               baseline: str = PROCESSING_BASELINE) -> pystac.Item:
    """The item of ``scene``, whose scene classification is ``scl``; asset hrefs relative."""
    footprint = scene.footprint()
    item = pystac.Item(
        id=scene.product_id,
        geometry=_rounded(footprint.__geo_interface__),
        bbox=[round(v, 8) for v in footprint.bounds],
        datetime=acquisition_time(scene),
        properties={},
    )
    item.common_metadata.platform = scene.platform
    item.common_metadata.constellation = "sentinel-2"
    item.common_metadata.instruments = ["msi"]
    EOExtension.ext(item, add_if_missing=True).cloud_cover = _cloud_percentage(scl)
    ProjectionExtension.ext(item, add_if_missing=True).code = scene.grid.crs
    MgrsExtension.ext(item, add_if_missing=True).apply(
        latitude_band=scene.grid.latitude_band, grid_square=scene.grid.grid_square,
        utm_zone=scene.grid.utm_zone)
    GridExtension.ext(item, add_if_missing=True).code = scene.grid.grid_code
    item.properties.update(_s2_properties(scene, scl, baseline))
    item.stac_extensions.extend(EXTENSION_URIS)
    for band in BANDS:
        item.add_asset(band.asset, _band_asset(scene, band, dn_offset(baseline)))
    item.add_asset(SCL_ASSET, _scl_asset(scene))
    item.add_asset(TRUTH_ASSET, _truth_asset(scene))
    item.add_asset(TRUTH_CLOUD_ASSET, truth_cloud_asset(scene))
    # Asset-level extensions must be declared on the item too.
    RasterExtension.add_to(item)
    ClassificationExtension.add_to(item)
    return item


def acquisition_time(scene: SampleScene) -> dt.datetime:
    """Late morning local solar time, as Sentinel-2 passes (10:56 UTC over 31TCJ)."""
    longitude = scene.grid.footprint.centroid.x
    seconds = 11 * 3600 - longitude * 240 + np.random.default_rng(
        scene.streams["datetime"]).uniform(-30, 30)
    midnight = dt.datetime.combine(scene.date, dt.time(), tzinfo=dt.UTC)
    return midnight + dt.timedelta(microseconds=round(seconds * 1e3) * 1000)


def _s2_properties(scene: SampleScene, scl: np.ndarray, baseline: str) -> dict:
    return {
        "s2:processing_baseline": baseline,
        "s2:product_type": PRODUCT_TYPE,
        **_scl_percentages(scl),
        "processing:software": {"earthsignature": _software_version()},
        "earthsignature:generated": True,
        "earthsignature:seed": scene.seed,
        # Only where set: every product generated before stays byte for byte as it was.
        **({} if scene.landscape_seed is None
           else {"earthsignature:landscape_seed": scene.landscape_seed}),
    }


def _scl_percentages(scl: np.ndarray) -> dict[str, float]:
    """The ``s2:*_percentage`` properties that earth-search derives from the SCL."""
    share = np.bincount(scl.ravel(), minlength=len(Scl)) * (100.0 / scl.size)
    names = {
        "nodata_pixel": (Scl.NO_DATA,), "saturated_defective_pixel": (Scl.SATURATED_OR_DEFECTIVE,),
        "dark_features": (Scl.DARK_AREA_PIXELS,), "cloud_shadow": (Scl.CLOUD_SHADOWS,),
        "vegetation": (Scl.VEGETATION,), "not_vegetated": (Scl.NOT_VEGETATED,),
        "water": (Scl.WATER,), "unclassified": (Scl.UNCLASSIFIED,),
        "medium_proba_clouds": (Scl.CLOUD_MEDIUM_PROBABILITY,),
        "high_proba_clouds": (Scl.CLOUD_HIGH_PROBABILITY,), "thin_cirrus": (Scl.THIN_CIRRUS,),
        "snow_ice": (Scl.SNOW,),
    }
    return {f"s2:{name}_percentage": round(float(share[list(values)].sum()), 6)
            for name, values in names.items()}


def _cloud_percentage(scl: np.ndarray) -> float:
    """``eo:cloud_cover`` as earth-search computes it: medium, high and cirrus, in percent."""
    return round(float(np.isin(scl, CLOUD_SCL).mean() * 100.0), 6)


def _band_asset(scene: SampleScene, band: SpectralBand, offset: float) -> pystac.Asset:
    asset = _raster_asset(scene, band.file_name, band.resolution, ["data"], band.title)
    EOExtension.ext(asset).bands = [Band.create(
        name=band.name, common_name=band.common_name, center_wavelength=band.center_wavelength,
        full_width_half_max=band.full_width_half_max,
    )]
    RasterExtension.ext(asset).bands = [RasterBand.create(
        nodata=DN_NODATA, data_type=DataType.UINT16, bits_per_sample=15,
        spatial_resolution=band.resolution, scale=DN_SCALE, offset=offset,
    )]
    return asset


def _scl_asset(scene: SampleScene) -> pystac.Asset:
    asset = _raster_asset(scene, "SCL.tif", 20, ["data"], "Scene classification map (SCL)")
    RasterExtension.ext(asset).bands = [RasterBand.create(
        nodata=Scl.NO_DATA.value, data_type=DataType.UINT8, spatial_resolution=20)]
    ClassificationExtension.ext(asset).classes = [
        Classification.create(value=c.value, name=c.name.lower()) for c in Scl]
    return asset


def _truth_asset(scene: SampleScene) -> pystac.Asset:
    asset = _raster_asset(
        scene, TRUTH_FILE, 10, ["metadata"],
        "Generated ground truth: CORINE Land Cover grid codes the sample was drawn from "
        "(not real data)")
    RasterExtension.ext(asset).bands = [RasterBand.create(
        nodata=clc.NODATA, data_type=DataType.UINT8, spatial_resolution=10)]
    ClassificationExtension.ext(asset).classes = [
        Classification(dict(c)) for c in classification_classes()]
    return asset


def truth_cloud_asset(scene: SampleScene) -> pystac.Asset:
    asset = _raster_asset(
        scene, TRUTH_CLOUD_FILE, 10, ["metadata"],
        "Generated ground truth: the clouds and shadows drawn (cloud-mask values, not real data)")
    RasterExtension.ext(asset).bands = [RasterBand.create(
        nodata=cm.NODATA, data_type=DataType.UINT8, spatial_resolution=10)]
    ClassificationExtension.ext(asset).classes = [
        Classification.create(value=c.value, name=c.name) for c in cm.CLOUD_CLASSES]
    return asset


def _raster_asset(scene: SampleScene, file_name: str, resolution: int, roles: list[str],
                  title: str) -> pystac.Asset:
    window = scene.window(resolution)
    asset = pystac.Asset(href=f"./{file_name}", media_type=pystac.MediaType.COG, roles=roles,
                         title=title, extra_fields={"gsd": resolution})
    projection = ProjectionExtension.ext(asset)
    projection.shape = list(window.shape)
    projection.transform = list(window.transform)[:6]
    return asset


def _rounded(geometry: dict) -> dict:
    """GeoJSON with coordinates rounded to 1e-8 degree (about 1 mm)."""
    def walk(value: float | list | tuple) -> object:
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return round(float(value), 8)
    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}


def _software_version() -> str:
    try:
        return version("earthsignature")
    except PackageNotFoundError:
        return "unknown"
