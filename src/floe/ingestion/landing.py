"""Land one batch of a source in its Iceberg tables: idempotent, retried, maintained.

A batch is identified by its number (the id written to each table's snapshot summary is the
number as a string). Tables are written in the source's order and a batch is complete when
the last one holds it, so the next batch number is read from that table: after a crash
half-way through a batch, the same number comes up again, the tables that already hold it
skip it, and the rest receive it. Nothing is ever appended twice.

The batch's time window (:mod:`floe.ingestion.clock`) is recorded in the same commit as each
table's append, so a retry regenerates the rows of the window the first attempt chose, even
on the wall clock. The last table is appended even when the batch has no rows for it: its
commit is what marks the batch complete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from floe.errors import FloeError
from floe.ingestion.clock import BatchWindow, plan_window
from floe.ingestion.synthetic import generate
from floe.spec.ingestion import RetrySpec, SyntheticSource

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from floe.lakehouse import AppendResult
    from floe.synthetic import BatchReport

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableLanding:
    """What one table received."""

    table: str
    rows: int
    skipped: bool
    metadata_location: str | None


@dataclass(frozen=True)
class BatchLanding:
    """What landing one batch did, table by table."""

    source: str
    batch_number: int
    tables: list[TableLanding]
    report: BatchReport
    attempts: int
    duration_s: float
    errors: list[str] = field(default_factory=list)
    window: BatchWindow | None = None

    @property
    def rows(self) -> int:
        """Rows appended by this landing (0 when every table already held the batch)."""
        return sum(table.rows for table in self.tables)

    @property
    def already_present(self) -> bool:
        """True when every table already held this batch: a retry that added nothing."""
        return all(table.skipped for table in self.tables)


def table_identifier(source: SyntheticSource, table: str) -> str:
    """``bronze.orders``: the Iceberg table, the DuckDB view and the dbt source table."""
    return f"{source.namespace}.{table}"


def next_batch_number(catalog: Catalog, source: SyntheticSource) -> int:
    """The first batch the source's last table does not hold (0 for a new source)."""
    from pyiceberg.exceptions import NoSuchTableError

    from floe.lakehouse.tables import table_batch_ids

    try:
        table = catalog.load_table(table_identifier(source, source.tables[-1]))
    except NoSuchTableError:
        return 0
    numbers = [int(batch) for batch in table_batch_ids(table) if batch.isdigit()]
    return max(numbers) + 1 if numbers else 0


SpanFactory = Callable[[str, Mapping[str, Any]], AbstractContextManager[Any]]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _no_span(_name: str, _attributes: Mapping[str, Any]) -> AbstractContextManager[Any]:
    return nullcontext()


def land_batch(catalog: Catalog, source: SyntheticSource, batch_number: int, *,
               span: SpanFactory = _no_span, now: Clock = _utc_now) -> BatchLanding:
    """Generate batch ``batch_number`` and append it to every table that lacks it, then apply
    the source's retention to each table. Safe to call again with the same number.

    ``span`` opens a tracing span around each append (see :mod:`floe.observability`);
    ``now`` is the wall clock a new wall-clock batch ends at.
    """
    from floe.lakehouse import RetentionPolicy, append_batch, maintain_table

    started = time.perf_counter()
    window = plan_window(catalog, source, batch_number, now())
    batch = generate(source, batch_number, window)
    policy = RetentionPolicy(max_snapshot_age=source.retention.max_snapshot_age,
                             min_snapshots_to_keep=source.retention.min_snapshots_to_keep)
    landed: list[TableLanding] = []
    last = list(batch.tables)[-1]
    for name, data in batch.tables.items():
        identifier = table_identifier(source, name)
        if data.num_rows == 0 and name != last and _exists(catalog, identifier):
            # Later batches carry no products: an empty append would only add a snapshot.
            landed.append(TableLanding(identifier, 0, True, None))
            continue
        with span("floe.iceberg.append", {"floe.table": identifier, "floe.batch": batch_number}) as current:
            result: AppendResult = append_batch(catalog, identifier, data, str(batch_number),
                                                properties=batch.window.properties(), summary=batch.window.summary())
            maintain_table(catalog, identifier, policy)
            if current is not None:
                current.set_attribute("floe.rows", result.rows)
                current.set_attribute("floe.skipped", result.skipped)
        landed.append(TableLanding(identifier, result.rows, result.skipped, result.metadata_location))
    return BatchLanding(source.name, batch_number, landed, batch.report, 1, time.perf_counter() - started,
                        window=batch.window)


def retry_delays(retry: RetrySpec) -> list[float]:
    """Seconds to wait before each retry."""
    base = retry.delay.total_seconds()
    if retry.backoff == "exponential":
        return [base * 2**attempt for attempt in range(retry.max_retries)]
    if retry.backoff == "linear":
        return [base * (attempt + 1) for attempt in range(retry.max_retries)]
    return [base] * retry.max_retries


def land_with_retry(
    open_catalog: Callable[[], Catalog],
    source: SyntheticSource,
    batch_number: int | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, float, BaseException], None] | None = None,
    span: SpanFactory = _no_span,
    now: Clock = _utc_now,
) -> BatchLanding:
    """Land the next batch (or ``batch_number``), retrying failures with the source's backoff.

    The catalog is reopened for every attempt, so a connection that broke is not reused.
    Because landing is idempotent, a retry completes exactly what the failed attempt left.

    Raises:
        FloeError: the last attempt's error, saying how many attempts were made.
    """
    started = time.perf_counter()
    delays = retry_delays(source.retry)
    errors: list[str] = []
    for attempt in range(len(delays) + 1):
        try:
            catalog = open_catalog()
            number = next_batch_number(catalog, source) if batch_number is None else batch_number
            landing = land_batch(catalog, source, number, span=span, now=now)
        except (FloeError, OSError) as exc:
            message = exc.message if isinstance(exc, FloeError) else str(exc)
            errors.append(message)
            if attempt == len(delays):
                raise FloeError(
                    f"source '{source.name}': batch failed after {attempt + 1} attempt(s): {message}",
                    hint=getattr(exc, "hint", None) or "check the catalog and storage with 'floe preflight'",
                ) from exc
            logger.warning("source %s: attempt %d failed (%s); retrying in %.1f s",
                           source.name, attempt + 1, message, delays[attempt])
            if on_retry is not None:
                on_retry(attempt + 1, delays[attempt], exc)
            sleep(delays[attempt])
            continue
        return BatchLanding(landing.source, landing.batch_number, landing.tables, landing.report,
                            attempt + 1, time.perf_counter() - started, errors, landing.window)
    raise AssertionError("unreachable")  # pragma: no cover


def _exists(catalog: Catalog, identifier: str) -> bool:
    return bool(catalog.table_exists(identifier))
