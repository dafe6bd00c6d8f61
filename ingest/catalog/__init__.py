"""The catalog: publishing items (their files into the asset store, the item into pgstac), the
collections and queryables, tile invalidation and drawing tiles ahead."""
