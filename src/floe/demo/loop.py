"""Land batches one pipeline run at a time and measure how the warehouse grows.

The loop is given the function that runs the pipeline (``floe.orchestration.runner.run_pipeline``
from the CLI): the demo sits below orchestration in floe's layers (see ARCHITECTURE.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from floe.contract.project import CompiledProject
from floe.demo.marts import WarehouseSnapshot, read_snapshot


class RunResult(Protocol):
    """What the loop reads of a pipeline run's outcome."""

    run_id: str
    success: bool
    duration_s: float
    errors: list[str]


@dataclass(frozen=True)
class BatchGrowth:
    """One pipeline run of the demo and what it changed."""

    index: int
    run_id: str
    success: bool
    duration_s: float
    before: WarehouseSnapshot
    after: WarehouseSnapshot
    errors: list[str]

    @property
    def new_orders(self) -> int:
        """Orders the marts gained."""
        return self.after.orders - self.before.orders

    @property
    def new_bronze_rows(self) -> dict[str, int]:
        """Rows each bronze table gained."""
        return {table: rows - self.before.bronze_rows.get(table, 0) for table, rows in self.after.bronze_rows.items()}


def run_batches(
    compiled: CompiledProject,
    count: int,
    run: Callable[[CompiledProject], RunResult],
    *,
    interval_s: float = 0.0,
    on_batch: Callable[[BatchGrowth], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[BatchGrowth]:
    """Run the pipeline ``count`` times (each run lands the next batch and builds the marts).

    A failed run is reported and the loop goes on: the marts keep the data they had, and the
    next run retries the batch that did not land. ``run`` runs the pipeline once.
    """
    results: list[BatchGrowth] = []
    before = read_snapshot(compiled)
    for index in range(count):
        if index and interval_s > 0:
            sleep(interval_s)
        outcome = run(compiled)
        after = read_snapshot(compiled)
        growth = BatchGrowth(index + 1, outcome.run_id, outcome.success, outcome.duration_s,
                             before, after, outcome.errors)
        results.append(growth)
        if on_batch is not None:
            on_batch(growth)
        before = after
    return results
