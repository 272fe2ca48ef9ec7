"""From numpy columns to an Arrow table of the contract's schema, defects applied on the way.

A generator fills a :class:`TableDraft` with numpy arrays (integers, microsecond timestamps,
money in cents, category codes) and marks nulls and late rows; :meth:`TableDraft.finish`
converts every column once, straight into the Arrow type its schema names, and appends the
duplicate rows as a second chunk (so the unique rows are never copied). A null is a validity
mask, never a Python object.

Money is built as ``decimal128(p, 2)`` directly from int64 cents (a decimal128 value is the
unscaled integer in 16 little-endian bytes), which avoids a float round trip and its
rounding errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from floe.synthetic.randomness import BoolArray, Int64Array
from floe.synthetic.report import TableReport

_NUMPY_TYPES = {pa.int64(): np.int64, pa.int32(): np.int32}


def labels(values: Sequence[str]) -> pa.Array:
    """The dictionary of a categorical column: its labels as an Arrow string array."""
    return pa.array(list(values), type=pa.string())


def money_array(cents: Int64Array, type_: pa.DataType, valid: BoolArray | None = None) -> pa.Array:
    """A decimal128 array whose values are ``cents / 10**scale`` (``type_.scale`` must be 2)."""
    if type_.scale != 2:
        raise ValueError(f"money_array builds scale-2 decimals, not {type_}")
    words = np.zeros((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    if len(cents) and cents.min() < 0:
        words[:, 1] = cents >> 63  # sign extension into the high word
    if valid is None:
        return pa.Array.from_buffers(type_, len(cents), [None, pa.py_buffer(words)], null_count=0)
    validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(type_, len(cents), [validity, pa.py_buffer(words)],
                                 null_count=int(len(valid) - valid.sum()))


@dataclass(frozen=True)
class _Column:
    kind: str  # values | categories | money | arrow | constant
    numbers: npt.NDArray[Any] | None = None  # values, codes or cents
    arrow: pa.Array | None = None  # the dictionary of categories, or the whole arrow column
    constant: int = 0


class TableDraft:
    """One table of a batch under construction: numpy columns, null masks, a late mask."""

    def __init__(self, schema: pa.Schema, rows: int) -> None:
        self.schema = schema
        self.rows = rows
        self._columns: dict[str, _Column] = {}
        self.null_masks: dict[str, BoolArray] = {}
        self.late: BoolArray | None = None

    def values(self, name: str, array: npt.NDArray[np.generic]) -> None:
        """An integer or timestamp column (timestamps as int64 microseconds since the epoch)."""
        self._put(name, _Column("values", numbers=array))

    def categories(self, name: str, codes: npt.NDArray[np.integer], dictionary: pa.Array) -> None:
        """A string column given as codes into ``dictionary``."""
        self._put(name, _Column("categories", numbers=codes, arrow=dictionary))

    def money(self, name: str, cents: Int64Array) -> None:
        """A decimal column given in cents."""
        self._put(name, _Column("money", numbers=cents))

    def arrow(self, name: str, array: pa.Array) -> None:
        """A column already built in Arrow (free text such as names and e-mail addresses)."""
        self._put(name, _Column("arrow", arrow=array))

    def constant(self, name: str, value: int) -> None:
        """The same integer in every row (``_batch_id``, ``_generated_at``)."""
        self._put(name, _Column("constant", constant=value))

    def set_nulls(self, name: str, mask: BoolArray | None) -> None:
        """Null the rows of ``mask`` in column ``name`` (None: leave the column whole)."""
        if mask is not None:
            self.null_masks[name] = mask

    def finish(self, duplicates: Int64Array | None = None) -> tuple[pa.Table, TableReport]:
        """The Arrow table (unique rows, then copies of rows ``duplicates``) and its report.

        The copies are a second chunk of every column, so the unique rows are never copied.
        """
        copies = np.empty(0, dtype=np.int64) if duplicates is None else duplicates
        missing = [f.name for f in self.schema if f.name not in self._columns]
        if missing:
            raise ValueError(f"table draft lacks columns {missing}")
        table = pa.Table.from_arrays([self._materialize(f) for f in self.schema], schema=self.schema)
        if len(copies):
            table = pa.concat_tables([table, table.take(pa.array(copies))])
        return table, TableReport.count(self.rows, copies, self.null_masks, self.late)

    def _put(self, name: str, column: _Column) -> None:
        if self.schema.get_field_index(name) < 0:
            raise ValueError(f"column {name!r} is not in the schema")
        self._columns[name] = column

    def _materialize(self, field: pa.Field) -> pa.Array:
        column = self._columns[field.name]
        mask = self.null_masks.get(field.name)
        if column.kind == "constant":
            return pa.array(np.full(self.rows, column.constant, dtype=np.int64), type=field.type)
        if column.kind == "arrow":
            assert column.arrow is not None
            if mask is None:
                return column.arrow
            return pc.if_else(pa.array(mask), pa.scalar(None, type=field.type), column.arrow)
        assert column.numbers is not None
        if column.kind == "categories":
            assert column.arrow is not None
            return column.arrow.take(pa.array(column.numbers, mask=mask))
        if column.kind == "money":
            return money_array(column.numbers, field.type, None if mask is None else ~mask)
        numpy_type = _NUMPY_TYPES.get(field.type, np.int64)
        return pa.array(np.asarray(column.numbers, dtype=numpy_type), type=field.type, mask=mask)
