"""Cloud masks and the atmosphere: one masker interface (``maskers``) over the L2A mask from SCL
and the L1C mask (s2cloudless, snow, shadows); haze taken off L1C, the sky put back on L2A for
models trained on L1C."""
