"""What the CLI prints is quiet and readable (issue 22, point 5): no third-party warnings on
normal commands, absolute links in ``--json``, aligned tables, durations rounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.commands.table import table
from infra.logs import durations
from infra.postgres import libpq_env
from tests.models import built
from tests.stac_api.sample_catalog import PRODUCTS, landcover_item, load_catalog


def _earthsig(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra", *args], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def env(tmp_path: Path, pgstac_dsn: str) -> dict[str, str]:
    load_catalog(pgstac_dsn, [landcover_item(p) for p in PRODUCTS])
    # A home of its own: no stack.json, so nothing but these variables points anywhere.
    return {**os.environ, **libpq_env(pgstac_dsn), "EARTHSIG_HOME": str(tmp_path)}


def test_search_prints_no_warning(env: dict[str, str]) -> None:
    done = _earthsig(env, "search", "forest")
    assert done.returncode == 0, done.stderr
    # stac_fastapi's "Using default values for stac_fastapi_title..." came on every search.
    assert done.stderr.splitlines() == [f"{len(done.stdout.splitlines()) - 1} items"]


def test_search_json_links_are_absolute(env: dict[str, str]) -> None:
    done = _earthsig({**env, "EARTHSIG_STAC_API_URL": "http://stac.example:8081"}, "search",
                     "forest", "--json", "--limit", "1")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    links = {link["rel"]: link["href"] for link in found["links"]}
    assert links["root"] == "http://stac.example:8081/"
    assert links["self"] == ("http://stac.example:8081/search/text?q=forest&limit=1"
                             "&radius_km=25.0")
    assert links["next"].startswith("http://stac.example:8081/search/text?q=forest&limit=1"
                                    "&radius_km=25.0&token=next%3A")
    hrefs = [link["href"] for f in found["features"] for link in f.get("links", [])]
    assert all(h.startswith("http://stac.example:8081/") for h in hrefs), hrefs
    assert done.stderr.strip() == ""


def test_models_list_columns_line_up(tmp_path: Path) -> None:
    repository = built(tmp_path / "m", "clc-spectral", "cloud-scl")
    done = _earthsig({**os.environ, "EARTHSIG_HOME": str(tmp_path),
                      "EARTHSIG_INFERENCE_MODEL_REPOSITORY": str(repository)},
                     "models", "list")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert [r.split()[0] for r in rows] == ["clc-spectral", "cloud-scl"]
    starts = [header.index(title) for title in ("VERSIONS", "OUTPUT", "BANDS", "DESCRIPTION")]
    for row in rows:
        for start in starts:  # every column's cells start where its title does
            assert row[start - 2:start] == "  " and row[start] != " ", (row, start)
    assert done.stderr == ""


def test_table_pads_every_column_but_the_last() -> None:
    assert table(["A", "BB"], [["long name", "x"], ["y", "zzz"]]) == [
        "A          BB",
        "long name  x",
        "y          zzz",
    ]


def test_durations_are_rounded_to_tenths() -> None:
    timings = {"fetch": 1.2345678901234567, "infer": 3.4499999, "commit run": 0.04}
    assert durations(timings) == "fetch 1.2 s, infer 3.4 s, commit run 0.0 s"
