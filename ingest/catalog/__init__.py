"""pgstac: registering items, queryables, tile invalidation and drawing tiles ahead."""
