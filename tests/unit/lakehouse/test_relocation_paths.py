"""The path arithmetic of relocation: which locations move, and where a table came from."""

from __future__ import annotations

from pathlib import Path

from floe.lakehouse.relocation import Relocation, _old_project, _old_root
from floe.lakehouse.rewrite import PathMap, _next_metadata_location


def test_locations_under_the_old_root_move_and_others_stay() -> None:
    paths = PathMap("/old/shop/.floe/lakehouse", "/new/shop/.floe/lakehouse")
    assert paths("/old/shop/.floe/lakehouse/bronze/orders/data/a.parquet") == \
        "/new/shop/.floe/lakehouse/bronze/orders/data/a.parquet"
    assert paths("file:///old/shop/.floe/lakehouse/x") == "file:///new/shop/.floe/lakehouse/x"
    assert paths("file:/old/shop/.floe/lakehouse/x") == "file:/new/shop/.floe/lakehouse/x"
    assert paths("/old/shop/.floe/lakehouse") == "/new/shop/.floe/lakehouse"
    # A sibling with the same prefix, another folder, object storage: unchanged, and not covered.
    for elsewhere in ("/old/shop/.floe/lakehouse2/t", "/data/lake/t", "s3://bucket/old/shop/.floe/lakehouse/t"):
        assert paths(elsewhere) == elsewhere
        assert not paths.covers(elsewhere)
    assert paths.covers("/old/shop/.floe/lakehouse/bronze")


def test_the_old_root_is_read_off_floes_table_layout() -> None:
    location = "/old/shop/.floe/lakehouse/bronze/orders/metadata/00003-abc.metadata.json"
    assert _old_root(location, "bronze", "orders") == "/old/shop/.floe/lakehouse"
    assert _old_root("file://" + location, "bronze", "orders") == "/old/shop/.floe/lakehouse"
    nested = "/w/a/b/t/metadata/00001-x.metadata.json"
    assert _old_root(nested, "a.b", "t") == "/w"
    # Another layout (a table created at a location of its own), or an object store: not floe's.
    assert _old_root("/w/custom/metadata/00001-x.metadata.json", "bronze", "orders") is None
    assert _old_root("s3://b/w/bronze/orders/metadata/00001-x.metadata.json", "bronze", "orders") is None


def test_the_message_names_the_old_project_folder() -> None:
    root = Path("/new/shop")
    assert _old_project("/old/shop/.floe/lakehouse", root / ".floe" / "lakehouse", root) == "/old/shop"
    assert _old_project("/old/lake", root / ".floe" / "lakehouse", root) == "/old/lake"
    assert _old_project("/old/shop", root, root) == "/old/shop"
    assert Relocation("/old/shop", "/new/shop/.floe/lakehouse", ("bronze.a",)).message == \
        "the project moved from /old/shop: relocated 1 table"


def test_the_new_metadata_file_is_the_next_version() -> None:
    new = _next_metadata_location("/n/t", "/o/t/metadata/00007-abc.metadata.json")
    assert new.startswith("/n/t/metadata/00008-") and new.endswith(".metadata.json")
    assert _next_metadata_location("/n/t", "/o/t/metadata/v1.gz.metadata.json").endswith(".gz.metadata.json")
