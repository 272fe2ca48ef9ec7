"""DuckDB's lock error, as floe says it (a real lock held by another process: tests/integration/test_one_writer.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from floe.errors import FloeError
from floe.targets.duckdb_lock import WarehouseLockedError, explained_lock_errors, lock_error

# DuckDB's own wording (1.x), as it raises it when another process has the file open for writing.
MESSAGE = ('IO Error: Could not set lock on file "{path}": Conflicting lock is held in '
           "/usr/local/bin/duckdb (PID 51234) by user ada. See also https://duckdb.org/docs/connect/concurrency")


def test_the_holder_and_the_file_are_named(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    with pytest.raises(WarehouseLockedError) as raised, explained_lock_errors(database):
        raise duckdb.IOException(MESSAGE.format(path=database))
    error = raised.value
    assert isinstance(error, FloeError)
    assert (error.pid, error.program) == (51234, "/usr/local/bin/duckdb")
    assert f"the warehouse {database} is locked by duckdb (pid 51234)" in str(error)
    assert "ps -fp 51234" in str(error)
    assert isinstance(error.__cause__, duckdb.IOException)


def test_a_lock_error_without_a_pid_still_reads(tmp_path: Path) -> None:
    error = lock_error(duckdb.IOException(f'IO Error: Could not set lock on file "{tmp_path}/w.duckdb"'),
                       tmp_path / "w.duckdb")
    assert error is not None and error.pid is None
    assert "is locked by another process" in str(error)


def test_other_errors_pass_through(tmp_path: Path) -> None:
    assert lock_error(duckdb.IOException("IO Error: No files found"), tmp_path) is None
    with pytest.raises(duckdb.CatalogException), explained_lock_errors(tmp_path / "w.duckdb"):
        raise duckdb.CatalogException("Catalog Error: Table with name x does not exist!")
