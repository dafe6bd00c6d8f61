"""`AssetRoots`: which hrefs the tiler may open (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiler.errors import DatasetNotAllowedError
from tiler.paths import AssetRoots


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "assets"
    (root / "landcover" / "item").mkdir(parents=True)
    (root / "landcover" / "item" / "landcover.tif").write_bytes(b"")
    return root


def test_a_file_under_a_root_passes(store: Path) -> None:
    href = str(store / "landcover" / "item" / "landcover.tif")
    assert AssetRoots([str(store)]).check(href) == href


@pytest.mark.parametrize(
    "href",
    [
        "/etc/passwd",
        "{store}/../secret.tif",  # walks out of the root
        "{store}-evil/landcover.tif",  # a sibling whose name starts like the root
        "landcover/item/landcover.tif",  # relative: depends on the server's cwd
        "file://{store}/landcover/item/landcover.tif",
        "/vsicurl/https://elsewhere.test/c.tif",
        "https://elsewhere.test/c.tif",
        "GTIFF_DIR:1:{store}/landcover/item/landcover.tif",
    ],
)
def test_anything_else_is_refused(store: Path, href: str) -> None:
    with pytest.raises(DatasetNotAllowedError):
        AssetRoots([str(store)]).check(href.format(store=store))


def test_a_symlink_out_of_the_root_is_refused(store: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.tif"
    outside.write_bytes(b"")
    (store / "link.tif").symlink_to(outside)
    with pytest.raises(DatasetNotAllowedError):
        AssetRoots([str(store)]).check(str(store / "link.tif"))


def test_no_roots_allow_nothing(store: Path) -> None:
    assert not AssetRoots([]).allows(str(store / "landcover" / "item" / "landcover.tif"))


@pytest.mark.parametrize(
    ("href", "allowed"),
    [
        ("https://cogs.example.test/clc/a/landcover.tif", True),
        ("HTTPS://COGS.example.test/clc/a/landcover.tif?X-Amz-Signature=1", True),
        ("https://cogs.example.test/clc/../private/a.tif", False),
        ("https://cogs.example.test/clc/%2e%2e/private/a.tif", False),
        ("https://cogs.example.test/clcx/a.tif", False),
        ("https://cogs.example.test@evil.test/clc/a.tif", False),
        ("http://cogs.example.test/clc/a.tif", False),  # another scheme is another origin
        ("s3://bucket/clc/a.tif", True),
        ("s3://other-bucket/clc/a.tif", False),
    ],
)
def test_url_roots_are_prefixes(href: str, allowed: bool) -> None:
    roots = AssetRoots(["https://cogs.example.test/clc", "s3://bucket/clc/"])
    assert roots.allows(href) is allowed


@pytest.mark.parametrize("root", ["relative/assets", "file:///data", "ftp://host/x"])
def test_a_root_must_be_an_absolute_folder_or_a_url(root: str) -> None:
    with pytest.raises(ValueError, match="neither"):
        AssetRoots([root])
