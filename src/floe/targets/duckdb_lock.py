"""A DuckDB file that another process has open: DuckDB's lock error, said so a user can act on it.

DuckDB lets one process write a database file, or several read it, never both. When another
program has the warehouse open (a DuckDB shell, a notebook, Cube, a BI tool, a second floe
outside floe's own project lock), opening it fails with ``IOException: Could not set lock on
file ...``, and DuckDB's message often names that program and its PID. floe's own writers take
turns through the project lock (``floe.project_lock``); this is about everyone else.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from floe.errors import FloeError

_LOCK_MESSAGE = "Could not set lock on file"
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class WarehouseLockedError(FloeError):
    """Another process has the DuckDB warehouse file open, so floe cannot open it now."""

    def __init__(self, database: Path, pid: int | None, program: str | None) -> None:
        self.database = database
        self.pid = pid
        self.program = program
        holder = f"{Path(program).name} (pid {pid})" if pid is not None and program else "another process"
        check = f"'ps -fp {pid}' shows it; " if pid is not None else ""
        super().__init__(
            f"the warehouse {database} is locked by {holder}: DuckDB lets one process write a file, "
            "or several read it, not both",
            hint=f"{check}close the program that has it open (a DuckDB shell, a notebook, Cube, a BI tool), "
                 "then run again",
        )


def is_lock_error(error: BaseException) -> bool:
    """Whether ``error`` is DuckDB refusing a file another process has open."""
    return type(error).__name__ == "IOException" and _LOCK_MESSAGE in str(error)


def lock_error(error: BaseException, database: Path) -> WarehouseLockedError | None:
    """DuckDB's lock error on ``database`` as a :class:`WarehouseLockedError` (None for anything else)."""
    if not is_lock_error(error):
        return None
    found = _HOLDER.search(str(error))
    return WarehouseLockedError(database, int(found["pid"]) if found else None, found["program"] if found else None)


@contextlib.contextmanager
def explained_lock_errors(database: Path) -> Iterator[None]:
    """Turn DuckDB's lock error on ``database`` inside the block into a :class:`WarehouseLockedError`."""
    try:
        yield
    except Exception as error:
        translated = lock_error(error, database)
        if translated is None:
            raise
        raise translated from error
