"""The product metadata file of a generated SAFE product (``MTD_MSIL2A.xml``/``MTD_MSIL1C.xml``).

Element names and nesting follow ESA's Level-2A and Level-1C user product formats (PSD 14.x),
cut down to what readers use: product info and granule file list, special values,
quantification, per-band add-offsets (only from baseline 04.00, like real products), spectral
band ids, footprint and cloud cover; and the granule's ``MTD_TL.xml`` with the mean sun angles.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from samples.spectra import DN_NODATA, DN_SCALE

TILE_NAMESPACES = {
    "L2A": "https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-2A_Tile_Metadata.xsd",
    "L1C": "https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-1C_Tile_Metadata.xsd",
}
NAMESPACES = {
    "L2A": "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd",
    "L1C": "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd",
}
ALL_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
SATURATED = 65535


@dataclass(frozen=True)
class SafeDescription:
    level: str  # "L2A" or "L1C"
    product_uri: str  # name of the .SAFE folder
    baseline: str
    sensing: dt.datetime
    spacecraft: str  # "Sentinel-2A"
    orbit: int
    footprint: list[tuple[float, float]]  # (lon, lat) closed ring
    cloud_cover: float
    image_files: list[str]  # relative to the SAFE, without ".jp2", as ESA lists them
    dn_offset: int  # 0 or -1000


def _sub(parent: ET.Element, tag: str, text: object = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = str(text)
    return element


def metadata_xml(d: SafeDescription) -> bytes:
    root = ET.Element(f"n1:Level-{d.level[1:]}_User_Product",
                      {"xmlns:n1": NAMESPACES[d.level]})
    general = _sub(root, "n1:General_Info")
    _product_info(_sub(general, "Product_Info"), d)
    _image_characteristics(_sub(general, "Product_Image_Characteristics"), d)
    footprint = _sub(_sub(_sub(_sub(root, "n1:Geometric_Info"), "Product_Footprint"),
                          "Product_Footprint"), "Global_Footprint")
    _sub(footprint, "EXT_POS_LIST", " ".join(f"{lat:.10g} {lon:.10g}"
                                            for lon, lat in d.footprint))
    quality = _sub(root, "n1:Quality_Indicators_Info")
    _sub(quality, "Cloud_Coverage_Assessment", f"{d.cloud_cover:.6f}")
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _product_info(info: ET.Element, d: SafeDescription) -> None:
    stamp = d.sensing.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    _sub(info, "PRODUCT_START_TIME", stamp)
    _sub(info, "PRODUCT_STOP_TIME", stamp)
    _sub(info, "PRODUCT_URI", d.product_uri)
    _sub(info, "PROCESSING_LEVEL", f"Level-{d.level[1:]}")
    _sub(info, "PRODUCT_TYPE", f"S2MSI{d.level[1:]}")
    _sub(info, "PROCESSING_BASELINE", d.baseline)
    _sub(info, "GENERATION_TIME", (d.sensing + dt.timedelta(hours=3)).strftime(
        "%Y-%m-%dT%H:%M:%S.000000Z"))
    datatake = _sub(info, "Datatake", datatakeIdentifier=f"GS2_{d.sensing:%Y%m%dT%H%M%S}")
    _sub(datatake, "SPACECRAFT_NAME", d.spacecraft)
    _sub(datatake, "DATATAKE_TYPE", "INS-NOBS")
    _sub(datatake, "SENSING_ORBIT_NUMBER", d.orbit)
    _sub(datatake, "SENSING_ORBIT_DIRECTION", "DESCENDING")
    granules = _sub(_sub(info, "Product_Organisation"), "Granule_List")
    granule = _sub(granules, "Granule", imageFormat="JPEG2000")
    for name in d.image_files:
        _sub(granule, "IMAGE_FILE", name)


def _image_characteristics(chars: ET.Element, d: SafeDescription) -> None:
    for text, index in (("NODATA", DN_NODATA), ("SATURATED", SATURATED)):
        special = _sub(chars, "Special_Values")
        _sub(special, "SPECIAL_VALUE_TEXT", text)
        _sub(special, "SPECIAL_VALUE_INDEX", index)
    quantification = round(1 / DN_SCALE)
    if d.level == "L2A":
        values = _sub(chars, "QUANTIFICATION_VALUES_LIST")
        _sub(values, "BOA_QUANTIFICATION_VALUE", f"{quantification}", unit="none")
        _sub(values, "AOT_QUANTIFICATION_VALUE", "1000.0", unit="none")
        _sub(values, "WVP_QUANTIFICATION_VALUE", "1000.0", unit="cm")
        offsets = "BOA_ADD_OFFSET_VALUES_LIST", "BOA_ADD_OFFSET"
    else:
        _sub(chars, "QUANTIFICATION_VALUE", f"{quantification}", unit="none")
        offsets = "Radiometric_Offset_List", "RADIO_ADD_OFFSET"
    if d.dn_offset:
        listing = _sub(chars, offsets[0])
        for band_id in range(len(ALL_BANDS)):
            _sub(listing, offsets[1], d.dn_offset, band_id=str(band_id))
    spectral = _sub(chars, "Spectral_Information_List")
    for band_id, physical in enumerate(ALL_BANDS):
        _sub(spectral, "Spectral_Information", bandId=str(band_id), physicalBand=physical)


def tile_metadata_xml(level: str, granule: str, sensing: dt.datetime, epsg: int,
                      sun_zenith: float, sun_azimuth: float) -> bytes:
    """The granule's ``MTD_TL.xml``, cut down to its identity, CRS and mean sun angles."""
    root = ET.Element(f"n1:Level-{level[1:]}_Tile_ID", {"xmlns:n1": TILE_NAMESPACES[level]})
    general = _sub(root, "n1:General_Info")
    _sub(general, "TILE_ID", granule)
    _sub(general, "SENSING_TIME", sensing.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    geometric = _sub(root, "n1:Geometric_Info")
    _sub(_sub(geometric, "Tile_Geocoding"), "HORIZONTAL_CS_CODE", f"EPSG:{epsg}")
    sun = _sub(_sub(geometric, "Tile_Angles"), "Mean_Sun_Angle")
    _sub(sun, "ZENITH_ANGLE", f"{sun_zenith:.6f}", unit="deg")
    _sub(sun, "AZIMUTH_ANGLE", f"{sun_azimuth:.6f}", unit="deg")
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)
