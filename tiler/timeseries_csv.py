"""The time series as CSV, one row per acquisition (the HTTP ``format=csv`` and
``earthsig timeseries --csv``)."""

from __future__ import annotations

import csv
import io

from tiler.timeseries import AreaSeries, PointObservation, PointSeries


def point_csv(found: PointSeries) -> str:
    out = io.StringIO()
    fields = list(PointObservation.model_fields)
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in found.series:
        writer.writerow(row.model_dump())
    return out.getvalue()


def area_csv(found: AreaSeries) -> str:
    """One row per acquisition; a ``fraction_<code>`` column per class seen in any of them."""
    codes = sorted({c.clc_code for row in found.series for c in row.classes})
    fields = ["item", "datetime", "model", "pixels", "valid_pixels", "clouded_pixels",
              "nodata_pixels", "coverage", *(f"fraction_{c}" for c in codes)]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in found.series:
        shares = {c.clc_code: c.fraction for c in row.classes}
        writer.writerow({**row.model_dump(exclude={"classes"}),
                         **{f"fraction_{c}": shares.get(c, 0.0) for c in codes}})
    return out.getvalue()
