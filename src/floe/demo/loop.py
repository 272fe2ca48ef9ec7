"""Land batches one pipeline run at a time and measure how the warehouse grows.

The loop is given the function that runs the pipeline (``floe.orchestration.runner.run_pipeline``
from the CLI) and the project lock to hold for each batch: the demo sits below orchestration in
floe's layers (see ARCHITECTURE.md). A batch that fails, that finds the project busy, or whose
marts cannot be read (another program has the warehouse open) is reported, and the loop goes on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from floe.contract.project import CompiledProject
from floe.demo.marts import WarehouseSnapshot, read_snapshot
from floe.errors import FloeError
from floe.ingestion.clock import BatchWindow


class RunResult(Protocol):
    """What the loop reads of a pipeline run's outcome."""

    run_id: str
    success: bool
    duration_s: float
    errors: list[str]


@dataclass(frozen=True)
class BatchGrowth:
    """One pipeline run of the demo and what it changed.

    ``index`` counts the loop's runs (1, 2, ...); the batch numbers that landed are in
    :attr:`landed`. ``run_id`` is empty when the batch did not start (the project was busy,
    the run could not be planned); ``before``/``after`` are None when the warehouse could not
    be read then (``notes`` says why): the batch's own outcome stands either way.
    """

    index: int
    run_id: str
    success: bool
    duration_s: float
    before: WarehouseSnapshot | None
    after: WarehouseSnapshot | None
    errors: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def started(self) -> bool:
        """Whether a pipeline run happened for this batch."""
        return bool(self.run_id)

    @property
    def measured(self) -> bool:
        """Whether the warehouse was read before and after, so the growth is known."""
        return self.before is not None and self.after is not None

    @property
    def new_orders(self) -> int:
        """Orders the marts gained (0 when not measured)."""
        return self.after.orders - self.before.orders if self.before and self.after else 0

    @property
    def landed(self) -> dict[str, BatchWindow]:
        """Source name → the batch this run landed (its number, window and defect counts);
        empty when nothing landed or the tables could not be read before and after."""
        if self.before is None or self.after is None:
            return {}
        before = self.before.batches
        return {name: window for name, window in self.after.batches.items()
                if name not in before or before[name].number != window.number}

    @property
    def new_bronze_rows(self) -> dict[str, int]:
        """Rows each bronze table gained (empty when not measured)."""
        if self.before is None or self.after is None:
            return {}
        before = self.before.bronze_rows
        return {table: rows - before.get(table, 0) for table, rows in self.after.bronze_rows.items()}


def run_batches(
    compiled: CompiledProject,
    count: int,
    run: Callable[[CompiledProject], RunResult],
    *,
    interval_s: float = 0.0,
    on_batch: Callable[[BatchGrowth], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    writer_lock: Callable[[int], AbstractContextManager[object]] = lambda number: contextlib.nullcontext(),
) -> list[BatchGrowth]:
    """Run the pipeline ``count`` times (each run lands the next batch and builds the marts).

    A failed run is reported and the loop goes on: the marts keep the data they had, and the
    next run retries the batch that did not land. ``run`` runs the pipeline once;
    ``writer_lock(n)`` holds the project for batch ``n`` (its run and the reads around it), and
    may raise a FloeError (the project is busy), which fails that batch only.
    """
    results: list[BatchGrowth] = []
    before: WarehouseSnapshot | None = None
    for index in range(count):
        if index and interval_s > 0:
            sleep(interval_s)
        growth = _batch(compiled, index + 1, run, writer_lock, before)
        results.append(growth)
        if on_batch is not None:
            on_batch(growth)
        before = growth.after
    return results


def _batch(compiled: CompiledProject, number: int, run: Callable[[CompiledProject], RunResult],
           writer_lock: Callable[[int], AbstractContextManager[object]],
           before: WarehouseSnapshot | None) -> BatchGrowth:
    started = time.perf_counter()
    notes: list[str] = []
    try:
        with writer_lock(number):
            if before is None:
                before = _measure(compiled, notes)
            outcome = run(compiled)
            after = _measure(compiled, notes)
    except FloeError as error:  # nothing ran: the project was busy, or the run could not be planned
        return BatchGrowth(number, "", False, time.perf_counter() - started, before, None, [str(error)], notes)
    return BatchGrowth(number, outcome.run_id, outcome.success, outcome.duration_s, before, after,
                       outcome.errors, notes)


def _measure(compiled: CompiledProject, notes: list[str]) -> WarehouseSnapshot | None:
    """The warehouse now; None (and a note) when another program has it open."""
    try:
        return read_snapshot(compiled)
    except FloeError as error:
        note = f"marts not measured: {error.message}"
        if note not in notes:
            notes.append(note)
        return None
