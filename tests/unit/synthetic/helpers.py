"""Small helpers for the synthetic-data tests: byte-level comparison and column access."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa


def ipc_bytes(table: pa.Table) -> bytes:
    """The table serialized as an Arrow IPC stream: equal bytes mean identical tables."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def batch_bytes(tables: Mapping[str, pa.Table]) -> dict[str, bytes]:
    return {name: ipc_bytes(table) for name, table in tables.items()}


def ints(table: pa.Table, column: str) -> np.ndarray:
    """An integer column as numpy, nulls dropped."""
    return table.column(column).drop_null().to_numpy()


def micros(table: pa.Table, column: str) -> np.ndarray:
    """A timestamp column as int64 microseconds since the epoch, nulls dropped."""
    return table.column(column).drop_null().cast(pa.int64()).to_numpy()
