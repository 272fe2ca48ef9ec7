"""``ingestion:`` in floe.yaml — where raw data comes from before dbt sees it.

Each source lands its tables in an Iceberg namespace (``bronze`` by default); floe exposes
them to dbt as the source of the same name. The one source kind so far is ``synthetic``:
floe's own generators (:mod:`floe.synthetic`), which drive the live demo. The generators'
batches are a pure function of (seed, batch number, these settings, the batch's time window),
so a retried batch produces the very rows it produced before. On the virtual clock the window
is arithmetic; on the wall clock it is chosen when the batch first lands and recorded with it
(:mod:`floe.ingestion.clock`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from floe.spec.base import Identifier, StrictModel
from floe.spec.durations import Duration

# The columns each data set may carry nulls in (the generator's nullable defect targets). A
# unit test keeps these equal to floe.synthetic's, which validation cannot import cheaply.
NULLABLE_COLUMNS: dict[str, frozenset[str]] = {
    "ecommerce": frozenset({"customers.email", "orders.customer_id", "orders.region"}),
    "saas": frozenset({"organizations.industry", "users.email", "events.user_id"}),
}
# Tables of each data set, in the order a batch writes them.
DATASET_TABLES: dict[str, tuple[str, ...]] = {
    "ecommerce": ("products", "customers", "orders", "order_items"),
    "saas": ("organizations", "users", "subscriptions", "events"),
}
Rate01 = Annotated[float, Field(ge=0.0, le=1.0)]
DEFAULT_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEFAULT_INTERVAL = timedelta(minutes=5)
DEFAULT_BACKFILL = timedelta(days=7)


class BurstRate(StrictModel):
    """The same number of rows every batch."""

    type: Literal["burst"] = Field(description="Rate kind.")
    rows: int = Field(
        default=1000, ge=0, le=999_999_999,
        description="Orders (ecommerce) or events (saas) per batch.",
    )


class RealisticRate(StrictModel):
    """Rows per batch follow the day: morning peak, lunch dip, evening surge, quieter weekends."""

    type: Literal["realistic"] = Field(description="Rate kind.")
    per_hour: float = Field(
        default=12_000.0, ge=0.0, le=1e9,
        description="Mean orders (ecommerce) or events (saas) per hour, averaged over a week.",
    )


Rate = Annotated[BurstRate | RealisticRate, Field(discriminator="type")]


class DefectsSpec(StrictModel):
    """Data-quality defects to inject, so the dbt layer's cleaning is exercised and provable."""

    null_rates: dict[str, Rate01] = Field(
        default_factory=dict,
        description="'table.column' → share of values set to null. Allowed columns: ecommerce "
        "customers.email, orders.customer_id, orders.region; saas organizations.industry, "
        "users.email, events.user_id.",
    )
    duplicate_rate: Rate01 = Field(
        default=0.0, description="Share of rows that get one exact copy in the same batch."
    )
    late_rate: Rate01 = Field(
        default=0.0, description="Share of timestamped rows whose event time is backdated before the batch."
    )
    late_min: Duration = Field(default=timedelta(hours=1), description="Least backdating of a late row.")
    late_max: Duration = Field(default=timedelta(days=3), description="Most backdating of a late row.")

    @model_validator(mode="after")
    def _ordered(self) -> DefectsSpec:
        if self.late_min <= timedelta(0):
            raise ValueError("late_min must be more than zero")
        if self.late_max < self.late_min:
            raise ValueError("late_max must not be less than late_min")
        return self


class RetentionSpec(StrictModel):
    """How much Iceberg history to keep, so a demo running for days does not fill the disk."""

    max_snapshot_age: Duration = Field(
        default=timedelta(hours=1),
        description="Snapshots older than this are expired after each batch (their unreferenced files deleted).",
    )
    min_snapshots_to_keep: int = Field(
        default=10, ge=1, le=100_000, description="Newest snapshots always kept, whatever their age."
    )
    keep_runs: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="Orchestrator runs to keep: after each batch, older finished runs (and their event "
        "logs) are deleted. Unset keeps every run.",
    )


class RetrySpec(StrictModel):
    """What happens when a batch fails to land (e.g. the catalog is briefly unreachable)."""

    max_retries: int = Field(default=3, ge=0, le=20, description="Retries after the first attempt.")
    delay: Duration = Field(default=timedelta(seconds=2), description="Wait before the first retry.")
    backoff: Literal["exponential", "linear", "constant"] = Field(
        default="exponential", description="How the wait grows between retries."
    )


class SyntheticSource(StrictModel):
    """Synthetic batches from floe's generators, appended to Iceberg tables."""

    type: Literal["synthetic"] = Field(description="Source kind.")
    name: Identifier = Field(description="Source name: the Dagster asset group of its tables.")
    dataset: Literal["ecommerce", "saas"] = Field(
        description="ecommerce: customers, products, orders, order_items. saas: organizations, "
        "users, subscriptions, events."
    )
    namespace: Identifier = Field(
        default="bronze",
        description="Iceberg namespace the tables land in; also the DuckDB schema and the dbt source name.",
    )
    seed: int = Field(default=42, ge=0, le=2**63 - 1, description="Seed: the same seed gives the same data.")
    rate: Rate = Field(default_factory=lambda: BurstRate(type="burst"), description="Rows per batch.")
    clock: Literal["virtual", "wall"] = Field(
        default="virtual",
        description="virtual: batch b covers [start + b*interval, start + (b+1)*interval), the same rows on "
        "every machine (tests, benchmarks). wall: a batch covers [end of the previous batch, now), so the "
        "data is as fresh as the last run; the first batch backfills `backfill` of history. Needs a "
        "realistic rate and the ecommerce data set.",
    )
    interval: Duration | None = Field(
        default=None,
        description="Virtual clock only: time one batch covers (default 5m).",
    )
    start: datetime | None = Field(
        default=None,
        description="Virtual clock only: its start (ISO 8601 with a time zone), the time of batch 0 "
        "(default 2026-01-01T00:00:00Z).",
    )
    backfill: Duration | None = Field(
        default=None,
        description="Wall clock only: history the first batch covers, ending now (default 7d); also the "
        "longest span one batch covers, so after a longer pause the next runs catch up.",
    )
    defects: DefectsSpec = Field(default_factory=DefectsSpec, description="Defects to inject (default none).")
    retention: RetentionSpec = Field(default_factory=RetentionSpec, description="Iceberg snapshot retention.")
    retry: RetrySpec = Field(default_factory=RetrySpec, description="Retries of a failed batch.")

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("start needs a time zone, e.g. 2026-01-01T00:00:00Z")
        return value

    @field_validator("interval")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(seconds=1):
            raise ValueError("interval must be at least 1s")
        return value

    @field_validator("backfill")
    @classmethod
    def _backfill_range(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(minutes=1) <= value <= timedelta(days=366):
            raise ValueError("backfill must be between 1m and 366d")
        return value

    @model_validator(mode="after")
    def _clock_fields(self) -> SyntheticSource:
        if self.clock == "virtual":
            if self.backfill is not None:
                raise ValueError("backfill applies to the wall clock only: set clock: wall, or remove backfill")
            return self
        misplaced = [name for name in ("start", "interval") if getattr(self, name) is not None]
        if misplaced:
            raise ValueError(f"{' and '.join(misplaced)} apply to the virtual clock only; the wall clock's batches "
                             "end at the time they land: remove them, or set clock: virtual")
        if self.dataset != "ecommerce":
            raise ValueError("clock: wall is supported for the ecommerce data set only; use clock: virtual")
        if isinstance(self.rate, BurstRate):
            raise ValueError("a burst rate lands the same count whatever time a batch covers, so it cannot "
                             "follow the wall clock: use rate type realistic, or set clock: virtual")
        return self

    @property
    def virtual_start(self) -> datetime:
        """The virtual clock's start (its default when not set)."""
        return self.start or DEFAULT_START

    @property
    def virtual_interval(self) -> timedelta:
        """The time one batch of the virtual clock covers (its default when not set)."""
        return self.interval or DEFAULT_INTERVAL

    @property
    def wall_backfill(self) -> timedelta:
        """The wall clock's backfill (its default when not set)."""
        return self.backfill or DEFAULT_BACKFILL

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables a batch of this source writes."""
        return DATASET_TABLES[self.dataset]


# One kind so far; a union with a discriminator on 'type' once a second kind exists.
IngestionSource = SyntheticSource
