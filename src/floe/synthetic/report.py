"""Batch reports: what a batch holds, every injected defect counted exactly.

A report is computed from the same arrays the tables are built from, at generation time,
so tests and data-quality checks downstream can compare what they find in the tables with
what was put there: rows written, distinct rows, copies, nulls per column, late rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from floe.synthetic.randomness import BoolArray, Int64Array


@dataclass(frozen=True)
class TableReport:
    """What one table of a batch holds, defects counted exactly.

    Attributes:
        rows_written: Rows in the table as emitted, duplicate copies included.
        unique_rows: Distinct rows (``rows_written - duplicates_added``).
        duplicates_added: Exact copies appended by the duplicate defect.
        nulls_injected: Column → values nulled among the unique rows (only nulled columns).
        nulls_written: Column → null values in the table as emitted, copies included.
        late_rows: Unique rows whose timestamp was moved before the interval start.
        late_rows_written: Late rows in the table as emitted, copies included.
    """

    rows_written: int
    unique_rows: int
    duplicates_added: int = 0
    nulls_injected: Mapping[str, int] = field(default_factory=dict)
    nulls_written: Mapping[str, int] = field(default_factory=dict)
    late_rows: int = 0
    late_rows_written: int = 0

    @staticmethod
    def count(rows: int, duplicates: Int64Array, null_masks: Mapping[str, BoolArray],
              late: BoolArray | None) -> TableReport:
        """The report of ``rows`` unique rows followed by copies of the rows ``duplicates``."""
        nulls = {column: int(mask.sum()) for column, mask in null_masks.items()}
        late_rows = int(late.sum()) if late is not None else 0
        return TableReport(
            rows_written=rows + len(duplicates),
            unique_rows=rows,
            duplicates_added=len(duplicates),
            nulls_injected=MappingProxyType(nulls),
            nulls_written=MappingProxyType(
                {column: nulls[column] + int(mask[duplicates].sum()) for column, mask in null_masks.items()}),
            late_rows=late_rows,
            late_rows_written=late_rows + (int(late[duplicates].sum()) if late is not None else 0),
        )


@dataclass(frozen=True)
class BatchReport:
    """What one generated batch holds.

    Attributes:
        seed: The seed the batch was generated with.
        batch_number: The batch number (also each row's ``_batch_id``).
        interval_start: Start of the batch's virtual-clock interval (inclusive).
        interval_end: End of the interval (exclusive); each row's ``_generated_at``.
        tables: Table name → its :class:`TableReport`, in the order of the batch's tables.
    """

    seed: int
    batch_number: int
    interval_start: datetime
    interval_end: datetime
    tables: Mapping[str, TableReport]

    @property
    def rows_written(self) -> int:
        """Rows in all tables as emitted, duplicates included."""
        return sum(t.rows_written for t in self.tables.values())

    @property
    def duplicates_added(self) -> dict[str, int]:
        """Table → copies appended (tables without copies are left out)."""
        return {name: t.duplicates_added for name, t in self.tables.items() if t.duplicates_added}

    @property
    def nulls_injected(self) -> dict[str, int]:
        """``table.column`` → values nulled among the unique rows."""
        return {f"{name}.{column}": count for name, t in self.tables.items()
                for column, count in t.nulls_injected.items()}

    @property
    def late_rows(self) -> dict[str, int]:
        """Table → unique rows that arrived late (tables without late rows are left out)."""
        return {name: t.late_rows for name, t in self.tables.items() if t.late_rows}
