"""Schema URIs of the official STAC extensions our documents declare without a pystac class
that adds them (pystac's own extensions add their URIs themselves)."""

from __future__ import annotations

PROCESSING_SCHEMA = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
# The MLM extension: the model documents of inference (items link to them, derived_from).
MLM_SCHEMA = "https://stac-extensions.github.io/mlm/v1.5.0/schema.json"
