"""Shared vocabulary of EarthSignature: CLC taxonomy, STAC collections and item builders.

Depends on pystac only, so the serving side (``stac_api``, ``tiler``) and the pipeline
(``ingest``, ``inference``) share meaning without importing each other.
"""
