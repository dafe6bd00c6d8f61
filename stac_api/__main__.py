"""``python -m stac_api``: serve the STAC API as configured by the environment."""

from stac_api.server import serve

if __name__ == "__main__":
    serve()
