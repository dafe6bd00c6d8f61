"""Text search: a sentence ("vineyards near Bordeaux in June 2025") read into a STAC search.

- :mod:`~stac_api.text_search.query`: reading the sentence (:func:`interpret`) into classes,
  places and dates, and the search body they stand for;
- :mod:`~stac_api.text_search.synonyms`: its land-cover words (legend names and the synonym
  table ``data/clc_synonyms.csv``);
- :mod:`~stac_api.text_search.gazetteer`: its places (GeoNames cities, ``data/regions.csv``);
- :mod:`~stac_api.text_search.route`: ``GET /search/text`` and the same search straight from
  pgstac (``earthsig search``).
"""

from stac_api.text_search.query import (
    DEFAULT_RADIUS_KM,
    MAX_QUERY_CHARS,
    Q_HELP,
    Interval,
    InvalidTextQuery,
    TextQuery,
    interpret,
)

__all__ = ["DEFAULT_RADIUS_KM", "MAX_QUERY_CHARS", "Q_HELP", "Interval", "InvalidTextQuery",
           "TextQuery", "interpret"]
