"""A collection's extent and models summary, computed from its items: the SQL every writer of
items runs after its write (the pipeline's registrations, ``retire``, the STAC API's
transactions), so the collection document says the same whoever wrote last.

Text only, for two drivers: the pipeline runs it with psycopg (pypgstac, ``%(name)s``
parameters), the STAC API with asyncpg (``$1``); :func:`refresh_queries` renders it for either.

- **extent**: from pgstac's partition statistics, as pgstac's ``collection_extent`` computes
  it (pgstac only computes it), over the partitions that hold items: pgstac keeps an emptied
  partition's last footprint, which ``collection_extent`` would go on counting. The statistics
  are brought up to date in a statement of their own first (``collection_extent(id, true)``):
  pgstac then tightens the emptied partitions' constraints (ALTER TABLE), which it cannot do
  inside a statement that reads the partitions too ("cannot ALTER TABLE ... being used by
  active queries"). A collection with no items left keeps its last extent, as pgstac's own
  ``update_collection_extents`` does: STAC requires one.
- **models** (``summaries.earthsig:model``): the distinct ``earthsig:model`` values of its
  items, sorted. With none left the summary is removed (STAC forbids an empty one; readers
  take its absence as no model, as ``tiler.model_versions`` does). Refreshed for the
  collections that summarise their models: those a writer says do (the pipeline's
  ``CollectionDefinition.summarise_models``), those that already have the summary (how the
  STAC API tells, knowing no definitions), and those marked in pgstac's ``private`` column
  (``earthsig:summarise_models``, set by every refresh of the summary, unseen by API clients,
  kept by collection writes): so an emptied collection lists its models again with its next
  item, whoever writes it. Other collections keep their summaries as they are.

Writers hold the registration lock (:data:`REGISTRATION_LOCK`, a PostgreSQL advisory lock)
around the write and its refresh: pgstac creates partitions and tightens their constraints
under locks that two writers taking them in turn deadlock on.
"""

from __future__ import annotations

from enum import Enum
from string import Template
from typing import Any

# One key for every writer: the pipeline's session lock and the API's transaction lock conflict.
_LOCK_KEY = "hashtext('earthsig:register')"
REGISTRATION_LOCK = f"SELECT pg_advisory_lock({_LOCK_KEY})"
REGISTRATION_UNLOCK = f"SELECT pg_advisory_unlock({_LOCK_KEY})"
# Released with the transaction that takes it.
REGISTRATION_XACT_LOCK = f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"

# pgstac's partition statistics (dates, footprint) brought up to date from the items.
PARTITION_STATISTICS = Template("SELECT collection_extent(${id}, true) IS NOT NULL")

REFRESH_COLLECTION = Template("""
WITH stats AS (
    SELECT st_extent(spatial) AS box, min(lower(dtrange)) AS earliest,
           max(upper(edtrange)) AS latest
      FROM partition_stats
     WHERE collection = ${id} AND lower(dtrange) IS NOT NULL  -- partitions holding items
), x AS (
    SELECT CASE WHEN stats.earliest IS NOT NULL THEN jsonb_build_object(
               'spatial', jsonb_build_object('bbox', to_jsonb(array[array[
                   st_xmin(stats.box), st_ymin(stats.box),
                   st_xmax(stats.box), st_ymax(stats.box)]])),
               'temporal', jsonb_build_object('interval', to_jsonb(array[array[
                   stats.earliest, stats.latest]])))
           END AS extent,
           CASE WHEN ${models}
                  OR s.content->'summaries' ? 'earthsig:model'
                  OR coalesce(s.private @> '{"earthsig:summarise_models": true}', false) THEN
               (SELECT coalesce(jsonb_agg(DISTINCT i.content->'properties'->'earthsig:model'),
                                '[]'::jsonb)
                  FROM items i
                 WHERE i.collection = s.id AND i.content->'properties' ? 'earthsig:model')
           END AS models
      FROM collections s, stats
     WHERE s.id = ${id}
)
UPDATE collections AS c SET
    content = c.content
        || CASE WHEN x.extent IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('extent', x.extent) END
        || CASE WHEN x.models IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('summaries',
                         (coalesce(c.content->'summaries', '{}'::jsonb) - 'earthsig:model')
                         || CASE WHEN x.models = '[]'::jsonb THEN '{}'::jsonb
                                 ELSE jsonb_build_object('earthsig:model', x.models) END) END,
    private = CASE WHEN x.models IS NULL THEN c.private
                   ELSE coalesce(c.private, '{}'::jsonb) || '{"earthsig:summarise_models": true}'
              END
FROM x
WHERE c.id = ${id}
RETURNING c.id
""")

# In the order they run, each with the parameters it takes.
REFRESH_STATEMENTS: tuple[tuple[Template, tuple[str, ...]], ...] = (
    (PARTITION_STATISTICS, ("id",)),
    (REFRESH_COLLECTION, ("id", "models")),
)
# Typed for asyncpg, which otherwise infers a parameter's type from where it first appears.
_TYPES = {"id": "text", "models": "boolean"}


class ParamStyle(Enum):
    """How a driver takes parameters (the DB-API names)."""

    PYFORMAT = "pyformat"  # psycopg: %(name)s, a mapping
    NUMERIC = "numeric"  # asyncpg: $1, a sequence


def refresh_queries(collection_id: str, *, models: bool, style: ParamStyle
                    ) -> list[tuple[str, Any]]:
    """The statements refreshing ``collection_id``'s document, in order, with their parameters
    for ``style``; ``models`` refreshes its models summary even where it has none yet."""
    values: dict[str, Any] = {"id": collection_id, "models": models}
    queries: list[tuple[str, Any]] = []
    for template, names in REFRESH_STATEMENTS:
        if style is ParamStyle.PYFORMAT:
            sql = template.substitute({name: f"%({name})s" for name in names})
            queries.append((sql, {name: values[name] for name in names}))
        else:
            sql = template.substitute({name: f"${n}::{_TYPES[name]}"
                                       for n, name in enumerate(names, 1)})
            queries.append((sql, [values[name] for name in names]))
    return queries
