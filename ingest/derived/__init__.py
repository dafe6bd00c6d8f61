"""Products derived from land cover: changes between acquisitions (``landcover_change``),
labelling candidates (``candidates``), and finding their landcover inputs (``inputs``); they are
published by ``ingest.catalog.publisher``, as land cover is."""
