"""EarthSignature's public STAC API: a thin runtime over stac-fastapi-pgstac.

Importing this package does nothing: build the app with :func:`stac_api.app.create_app`
(``uvicorn --factory stac_api.app:create_app``) or run it with ``python -m stac_api``.
"""
