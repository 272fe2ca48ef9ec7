"""A demo project copied with ``cp -a`` and moved with ``mv``, then used: the real CLI end to end.

The copy must read and write only its own files (the original's tree is hashed before and
after); the moved project must keep working with its data intact.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _tree_hash(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file() and not path.is_symlink()}


def _warehouse(root: Path) -> tuple[dict[str, int], int]:
    """Bronze row counts and the orders in the marts, read-only."""
    from floe.contract.project import open_compiled_project
    from floe.demo.marts import read_snapshot

    snapshot = read_snapshot(open_compiled_project(root / ".floe" / "artifacts.json"))
    return snapshot.bronze_rows, snapshot.orders


def _names_only(root: Path, other: Path) -> None:
    """The catalog rows and the DuckDB views of ``root`` name its own files, none of ``other``."""
    import duckdb

    with sqlite3.connect(root / ".floe" / "catalog.db") as connection:
        locations = [row[0] for row in connection.execute("select metadata_location from iceberg_tables")]
    assert locations and all(location.startswith(f"{root}/") for location in locations), locations
    databases = list((root / ".floe").glob("*.duckdb"))
    assert databases
    for database in databases:
        with duckdb.connect(str(database), read_only=True) as connection:
            views = [row[0] for row in connection.execute(
                "select sql from duckdb_views() where not internal").fetchall()]
        assert views and not [sql for sql in views if f"{other}/" in sql], views


def test_a_copied_then_moved_demo_project_keeps_working_on_its_own_files(floe, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOE_PROJECT_DIR", raising=False)
    original = tmp_path / "shop"
    built = floe("demo", "--dir", str(original), "--batches", "1", cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    bronze, orders = _warehouse(original)
    assert bronze["bronze.orders"] > 0 and orders > 0

    # cp -a: the copy relocates to its own files; the original is not changed by a byte.
    copy = tmp_path / "shop-copy"
    subprocess.run(["cp", "-a", str(original), str(copy)], check=True, timeout=300)
    before = _tree_hash(original)
    ran = floe("run", "--select", "fqn:*", "--json", cwd=copy)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert f"the project moved from {original}: relocated " in ran.stderr
    assert "the project moved since the last compile" in ran.stderr  # dbt parsed the original: compiled again
    assert _warehouse(copy) == (bronze, orders), "the copy has the original's data"
    _names_only(copy, original)
    grown = floe("demo", "run", "--batches", "1", cwd=copy)
    assert grown.returncode == 0, grown.stderr[-3000:]
    assert "the project moved" not in grown.stderr, "relocated once"
    copy_bronze, copy_orders = _warehouse(copy)
    assert copy_bronze["bronze.orders"] > bronze["bronze.orders"] and copy_orders > orders
    assert _tree_hash(original) == before, "running in the copy changed the original's files"
    assert _warehouse(original) == (bronze, orders)

    # mv: every command works in the new place, with the data it had.
    moved = tmp_path / "elsewhere" / "renamed-shop"
    moved.parent.mkdir()
    subprocess.run(["mv", str(original), str(moved)], check=True, timeout=300)
    for command in (["validate"], ["compile"]):
        done = floe(*command, cwd=moved)
        assert done.returncode == 0, (command, done.stderr[-3000:])
    ran = floe("run", "--select", "fqn:*", "--json", cwd=moved)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert f"the project moved from {original}: relocated " in ran.stderr
    assert _warehouse(moved) == (bronze, orders), "the moved project keeps its data"
    _names_only(moved, original)
    demo = floe("demo", "--dir", str(moved), "--batches", "1", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr[-3000:]
    moved_bronze, moved_orders = _warehouse(moved)
    assert moved_bronze["bronze.orders"] > bronze["bronze.orders"] and moved_orders > orders
