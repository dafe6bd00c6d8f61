"""``make bench`` (readers): full-product read time per layout, and peak RSS window by window.

For each layout (earth-search COGs, SAFE folder, SAFE zip) of one generated product, the
``ProductReader`` reads B02, B03, B04, B08, B11 and B12 window by window over the whole 10 m
grid (20 m bands resampled, DN to reflectance, validity); the baseline, measured in the same
run, is plain rasterio reading the same band files window by window at their own resolution.

Peak RSS is measured in a fresh child process per (layout, size, mode), so one measurement
cannot inherit another's heap: after the imports the child resets the kernel's high-water mark
(``/proc/self/clear_refs``, Linux), reads, and reports the peak above its resident set before
the read. Modes ``plain`` and ``reader``. Two product sizes show whether the peak follows the
window or the product.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date
from pathlib import Path

import rasterio

from inference.windows import windows
from ingest.readers import band_asset, load_product, open_product
from ingest.readers.bands import absolute_href, gdal_path
from samples import make_sample_product

BANDS = ["B02", "B03", "B04", "B08", "B11", "B12"]
WINDOW = 512  # the inference window (EARTHSIG_INFERENCE_WINDOW_SIZE's default)
LAYOUTS = ("cog", "safe", "safe-zip")
# GDAL keeps decoded blocks in a cache of up to 5% of RAM by default; a cap separates what the
# cache holds from what the reader itself allocates.
CAPPED_CACHE_MB = 64


def make_products(size: int, root: Path) -> dict[str, str]:
    """One generated product in every layout; the zip is the SAFE folder stored, as ESA's."""
    day = date(2024, 7, 1)
    cog = make_sample_product("T31TCJ", day, size, root / "cog")
    safe = make_sample_product("T31TCJ", day, size, root / "safe", layout="safe")
    archive = root / "zip" / f"{safe.name.removesuffix('.SAFE')}.zip"
    archive.parent.mkdir(parents=True)
    # Stored like the generator's zips (JP2 is compressed already), built from the same folder
    # instead of generating the scene a third time.
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as out:
        for path in sorted(safe.rglob("*")):
            if path.is_file():
                out.write(path, f"{safe.name}/{path.relative_to(safe).as_posix()}")
    return {"cog": str(cog), "safe": str(safe), "safe-zip": str(archive)}


def band_files(href: str) -> list[str]:
    """What GDAL opens for each band of the product at ``href``."""
    item = load_product(href)
    return [gdal_path(absolute_href(band_asset(item, b).href, item.get_self_href()))
            for b in BANDS]


def read_plain(href: str) -> int:
    """Plain rasterio: each band file window by window on its own grid; returns pixels read."""
    pixels = 0
    for path in band_files(href):
        with rasterio.open(path) as src:
            for w in windows(src.height, src.width, WINDOW * 10 // int(src.res[0])):
                pixels += src.read(1, window=w).size
    return pixels


def read_reader(href: str) -> int:
    """The product reader over the whole 10 m grid; returns pixels read (all bands)."""
    pixels = 0
    with open_product(href, BANDS) as reader:
        grid = reader.grid
        for w in windows(grid.height, grid.width, WINDOW):
            reflectance, _ = reader.read(w)
            pixels += reflectance.size
    return pixels


def _memory_kib() -> dict[str, int]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text()
                  .splitlines())
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def child(mode: str, href: str) -> None:
    """Run in a fresh process: print the resident set before the read and its peak during it
    (KiB); the imports' own peak is forgotten first."""
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current VmRSS
    before = _memory_kib()["VmRSS"]
    {"plain": read_plain, "reader": read_reader}[mode](href)
    print(before, _memory_kib()["VmHWM"])


def peak_rss_mb(mode: str, href: str, cache_mb: int | None = None) -> tuple[float, float]:
    """(resident MB before the read, peak MB during it) of a fresh process reading ``href``,
    with GDAL's block cache capped at ``cache_mb`` when given."""
    env = dict(os.environ)
    if cache_mb is not None:
        env["GDAL_CACHEMAX"] = str(cache_mb)  # a plain number is megabytes
    out = subprocess.run([sys.executable, "-m", "tests.bench.readers", "--child", mode, href],
                         check=True, capture_output=True, text=True, env=env).stdout
    before, peak = out.split()[-2:]
    return int(before) / 1024, int(peak) / 1024


def timed(read, href: str) -> float:
    t0 = time.perf_counter()
    read(href)
    return time.perf_counter() - t0


def bench_times(products: dict[str, str], size: int) -> None:
    mpx = size * size / 1e6
    print(f"\n## Full-product read, {size} x {size} px, bands {', '.join(BANDS)}, "
          f"{WINDOW} px windows, {os.cpu_count()} cores\n")
    print("| layout | plain rasterio s | reader s | reader Mpx/s (10 m grid) | x plain |")
    print("|---|---:|---:|---:|---:|")
    for layout in LAYOUTS:
        href = products[layout]
        plain, reader = timed(read_plain, href), timed(read_reader, href)
        print(f"| {layout} | {plain:.2f} | {reader:.2f} | {mpx / reader:.1f} | "
              f"{reader / plain:.2f} |", flush=True)


def bench_rss(products_by_size: dict[int, dict[str, str]]) -> None:
    sizes = sorted(products_by_size)
    print(f"\n## Peak RSS reading window by window ({WINDOW} px windows), MB\n")
    print("| layout | size (px) | product MB | before the read | plain rasterio: peak, "
          f"growth | reader: peak, growth | growth x plain | reader growth, GDAL_CACHEMAX="
          f"{CAPPED_CACHE_MB} MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for layout in LAYOUTS:
        for size in sizes:
            href = products_by_size[size][layout]
            before, plain = peak_rss_mb("plain", href)
            _, reader = peak_rss_mb("reader", href)
            capped_before, capped = peak_rss_mb("reader", href, CAPPED_CACHE_MB)
            # What the bands would take decoded whole: uint16, 10 m and 20 m bands.
            whole = size * size * 2 * (4 + 2 / 4) / 2**20
            print(f"| {layout} | {size} | {whole:.0f} | {before:.0f} | {plain:.0f}, "
                  f"+{plain - before:.0f} | {reader:.0f}, +{reader - before:.0f} | "
                  f"{(reader - before) / max(plain - before, 1):.2f} | "
                  f"+{capped - capped_before:.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4096,
                        help="product size for the read times (10980 = a full tile)")
    parser.add_argument("--rss-sizes", default="1024,4096",
                        help="two or more product sizes for the peak RSS")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "HREF"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rss_sizes = [int(s) for s in args.rss_sizes.split(",")]
    Path(".earthsig").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="earthsig-bench-readers-", dir=".earthsig") as tmp:
        root = Path(tmp)
        products: dict[int, dict[str, str]] = {}
        for size in sorted({args.size, *rss_sizes}):
            t0 = time.perf_counter()
            products[size] = make_products(size, root / str(size))
            print(f"(generated {size} px in every layout in {time.perf_counter() - t0:.0f} s, "
                  "not counted)", flush=True)
        bench_times(products[args.size], args.size)
        bench_rss({size: products[size] for size in rss_sizes})
    gdal_cache = os.environ.get("GDAL_CACHEMAX", "GDAL's default, 5% of RAM")
    print(f"\n(GDAL_CACHEMAX: {gdal_cache}; rasterio {rasterio.__version__}, "
          f"GDAL {rasterio.__gdal_version__})")


if __name__ == "__main__":
    main()
