"""Shared vocabulary of EarthSignature, the data contract: CLC taxonomy, the asset contract
(asset keys, file names, nodata values, colour-map names, schema URIs), STAC collections, item
builders and the project's own STAC extensions (``clc``, ``earthsig``) with their schemas, and
the SQL text with which every writer of items keeps a collection's extent and models summary
(:mod:`catalog_schemas.collection_refresh`).

Depends on pystac only (and jsonschema, which pystac's validation uses, for
:mod:`catalog_schemas.validation`), so the serving side (``stac_api``, ``tiler``) and the
pipeline (``ingest``, ``inference``) share meaning without importing each other. Nothing here
talks to a database or Redis (the SQL is text, run by its callers): the tile store's change
tokens are ``tile_generations``', text search's vocabulary is ``stac_api.text_search``'s.
"""
