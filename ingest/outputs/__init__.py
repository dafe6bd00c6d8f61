"""What a product becomes on disk: COGs, polygons, the quicklook, statistics, the coastline
refinement, the staging folder they are written in and the asset store they are committed to."""
