"""Generated Sentinel-2 L2A sample products with ground truth. NOT real Sentinel-2 data.

Nothing can be downloaded here, so tests and demos need products that look and read like real
ones. ``make_sample_product`` writes one into ``out_dir/<product id>/``, laid out like an item of
earth-search v1's ``sentinel-2-l2a`` collection: one COG per band (``B02.tif`` ... ``SCL.tif``;
B02-B08, B11, B12 - the nine bands Dynamic World reads - each at its native 10 or 20 m)
and a STAC item JSON with relative asset hrefs and the usual ``eo``/``proj``/``raster``/``mgrs``/
``grid``/``s2`` fields. Beside the bands, ``truth_landcover.tif`` holds the land cover the pixels
were drawn from (CORINE Land Cover grid codes) as the item's ``truth`` asset. Every item carries
``earthsignature:generated: true``.

What is real: the tiling grid (the tile's UTM CRS, upper-left corner and footprint, from
``samples.s2grid``), the file layout, the DN encoding of processing baseline 05.10
(``DN = reflectance * 10000 + 1000``, scale 0.0001, offset -0.1, nodata 0) and the SCL class
values. What is made up: everything the pixels show.

- Land cover: a two-level Voronoi mosaic in coordinates bent by smooth noise (so that edges wander
  like natural boundaries). Large cells (~2 km) are landscapes - farmland, forest, town, lake,
  mountain - and small cells (~560 m, the scale of CLC's 25 ha minimum mapping unit) are parcels
  drawn from their landscape's class mix; neighbouring parcels of one class merge into regions of
  roughly 50-400 px. Two blobs, one of water (512) and one of broad-leaved forest (311), are
  always added: each keeps a disk of 152 px across (less only below ~500 px) so that tests
  always find interior pixels of both. Labels are drawn on the 20 m grid, so every 20 m pixel
  is pure.
- Reflectance: a per-class summer signature (``SIGNATURES``: B02, B03, B04, B08, B11, B12; the
  red edge B05-B07 derived from its red and NIR by ``spectra.red_edge``, rising like leaves'
  for vegetation, a straight line from red to NIR for the rest; ``SPECTRA`` holds all nine),
  scaled per parcel by a brightness factor (+-10 %) and a per-band factor (+-2 %), times
  per-pixel Gaussian noise (2.5 %). The signatures keep brightness, NDWI and NDVI well clear of
  the thresholds of the spectral reference model (see ``tests/samples/test_samples.py``).
- Clouds (``cloud_cover`` > 0, in percent): smooth noise thresholded to the wanted share,
  blended over the surface with a soft edge; SCL 9, 8 and 10 by decreasing opacity. Thick clouds
  cast shadows (SCL 3, surface darkened) displaced away from the sun. The truth stays the land
  cover under clouds and shadows: it says what is on the ground, and users mask with SCL.

A product is a pure function of (tile, date, size, seed, cloud_cover) and, where given, of its
crop's place on the tile (``origin_m``, on the 60 m grid; default the upper-left corner), its
landscape's own seed (``landscape_seed``: the same land cover on every date) and ``lowland`` (no
mountain landscape, hence no glacier or snow): the seed defaults to one derived from tile and
date, and separate random streams keep land cover and band noise the same whatever the cloud
cover. ``samples.demo`` places the demo's products on Toulouse that way.

The package, by job: ``spectra`` (bands, SCL classes, class signatures, the DN encoding),
``noise`` (value noise, the domain warp, the Voronoi seed grid), ``landcover`` (landscapes,
parcels and anchor blobs), ``clouds`` (cloud opacity and shadows), ``arrays`` (10 m <-> 20 m
helpers), ``identity`` (default seed, platform, product id), ``scene`` (``generate_scene``: the
arrays), ``stac`` (the STAC item) and ``product`` (``make_sample_product``: the files).
"""

from samples.identity import default_seed, platform_of, product_id_of
from samples.product import make_sample_product
from samples.scene import MAX_SIZE, SampleScene, generate_scene
from samples.spectra import (
    BAND_NAMES,
    BANDS,
    BASE_RESOLUTION,
    CLASS_SCL,
    CLASSES,
    CLOUD_SCL,
    DN_NODATA,
    DN_OFFSET,
    DN_SCALE,
    PIXEL_NOISE,
    RED_EDGE_BANDS,
    REGION_BAND_JITTER,
    REGION_BRIGHTNESS,
    SIGNATURE_BANDS,
    SIGNATURES,
    SPECTRA,
    Scl,
    SpectralBand,
    red_edge,
    reflectance_from_dn,
)
from samples.stac import SCL_ASSET, TRUTH_ASSET, TRUTH_FILE

__all__ = [
    "BAND_NAMES",
    "BANDS",
    "BASE_RESOLUTION",
    "CLASS_SCL",
    "CLASSES",
    "CLOUD_SCL",
    "DN_NODATA",
    "DN_OFFSET",
    "DN_SCALE",
    "MAX_SIZE",
    "PIXEL_NOISE",
    "RED_EDGE_BANDS",
    "REGION_BAND_JITTER",
    "REGION_BRIGHTNESS",
    "SCL_ASSET",
    "SIGNATURES",
    "SIGNATURE_BANDS",
    "SPECTRA",
    "TRUTH_ASSET",
    "TRUTH_FILE",
    "SampleScene",
    "Scl",
    "SpectralBand",
    "default_seed",
    "generate_scene",
    "make_sample_product",
    "platform_of",
    "product_id_of",
    "red_edge",
    "reflectance_from_dn",
]
