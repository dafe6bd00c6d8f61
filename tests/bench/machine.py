"""What machine a benchmark ran on: the same 2-core node kind has come with different CPUs
(AVX2 only, or AVX-512 with VNNI and bfloat16), which changes the model's speed 2-4x."""

from __future__ import annotations

import os
from pathlib import Path

FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def cpu_description() -> str:
    """``"AMD EPYC, 2 cores, avx2 avx512f ..."``: model name, cores and the vector features
    the runtimes choose their kernels by."""
    name, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    have = " ".join(f for f in FEATURES if f in flags) or "no AVX2"
    return f"{name}, {os.cpu_count()} cores, {have}"
