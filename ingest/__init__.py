"""The monitor: sample products, product reading, the RQ pipeline, COG writing, registration."""
