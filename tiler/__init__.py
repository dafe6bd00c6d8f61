"""EarthSignature tiler: XYZ tiles of the land-cover COGs, straight from pgstac.

A thin composition of titiler.core (single COGs) and titiler-pgstac (STAC items, collection
mosaics, registered searches) with the CORINE Land Cover colormap registered as ``clc``.
"""
