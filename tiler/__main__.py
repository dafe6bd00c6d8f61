"""``python -m tiler``: serve with settings from the environment."""

from tiler.app import serve

serve()
