"""What a product becomes on disk: COGs, polygons, the quicklook, statistics, the coastline
refinement, and the asset store they are published to."""
