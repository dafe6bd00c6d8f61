"""One item of each kind the builders make (landcover, change, label), from fixed inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import pystac

from catalog_schemas import labels, landcover_change
from catalog_schemas.assets import LANDCOVER_FILES
from catalog_schemas.items import Grid, ModelInfo, PublishedFile, landcover_item

WHEN = datetime(2025, 6, 1, 10, 56, tzinfo=UTC)
PROCESSED = datetime(2025, 6, 2, tzinfo=UTC)
GRID = Grid(32631, (100, 100), (10.0, 0.0, 499980.0, 0.0, -10.0, 4900020.0))
BBOX = [2.99, 44.2, 3.01, 44.21]
GEOMETRY = {"type": "Polygon", "coordinates": [[[2.99, 44.2], [3.01, 44.2], [3.01, 44.21],
                                                 [2.99, 44.21], [2.99, 44.2]]]}
STATISTICS = {"clc:classes": ["211", "311"], "clc:valid_fraction": 0.9,
              "eo:cloud_cover": 10.0, "clc:fraction_211": 0.25, "clc:fraction_311": 0.75}


def _published(name: str) -> PublishedFile:
    return PublishedFile(f"s3://earthsignature/landcover/ITEM/RUN/{name}", 1, "1220" + "0" * 64)


def source_item() -> pystac.Item:
    return pystac.Item("S2B_MSIL2A_20250601T105619_N0511_R094_T31TEJ_20250601T120000", GEOMETRY,
                       BBOX, WHEN, {"platform": "sentinel-2b", "constellation": "sentinel-2",
                                    "mgrs:utm_zone": 31, "grid:code": "MGRS-31TEJ"})


def landcover(pretrained: bool = True) -> pystac.Item:
    terms = ({"license": "CC-BY-4.0", "attribution": "Someone", "citation": "Someone (2025)"}
             if pretrained else {})
    model = ModelInfo("clc-unet", "1", **terms)
    return landcover_item(source=source_item(), source_href="https://earth-search/ITEM",
                          model=model, grid=GRID, statistics=dict(STATISTICS),
                          files={k: _published(n) for k, n in LANDCOVER_FILES.items()},
                          processed=PROCESSED)


def change() -> pystac.Item:
    before, after = landcover(), landcover()
    after.id = after.id.replace("20250601", "20250701")
    inputs = landcover_change.ChangeInputs("31TEJ", "pair", [before], [after], "clc-unet:1")
    transitions = [landcover_change.Transition(311, 334, 40, 0.4),
                   landcover_change.Transition(211, 211, 60, 0.6)]
    return landcover_change.change_item(
        inputs=inputs, start=WHEN, end=datetime(2025, 7, 1, tzinfo=UTC), grid=GRID,
        files={landcover_change.CHANGE_ASSET: _published("change.tif"),
               landcover_change.SUMMARY_ASSET: _published("summary.csv")},
        transitions=transitions, valid_area_ha=1.0,
        item_hrefs={i.id: f"../landcover/{i.id}" for i in (before, after)}, processed=PROCESSED)


def label() -> pystac.Item:
    return labels.label_item(source=landcover(), source_href="../landcover/ITEM", row=0, col=64,
                             size=64, geometry=GEOMETRY, bbox=BBOX, mean_confidence=41.23456,
                             dominant=311, classes=[211, 311],
                             files={labels.LABELS_ASSET: _published("labels.tif")},
                             processed=PROCESSED)


def all_items() -> dict[str, pystac.Item]:
    return {"landcover": landcover(), "landcover-own-model": landcover(pretrained=False),
            "change": change(), "label": label()}
