"""A ``synthetic`` source of floe.yaml, as the settings of floe's generators."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from floe.ingestion.clock import BatchWindow, virtual_window
from floe.spec.ingestion import BurstRate, SyntheticSource

if TYPE_CHECKING:
    import pyarrow as pa

    from floe.synthetic import BatchReport, EcommerceConfig, SaasConfig


@dataclass(frozen=True)
class GeneratedBatch:
    """The tables of one batch, in the order they are written, the generator's report, and
    the window the batch covers (with the report's counts)."""

    batch_number: int
    tables: Mapping[str, pa.Table]
    report: BatchReport
    window: BatchWindow


def generator_config(source: SyntheticSource, origin: datetime | None = None) -> EcommerceConfig | SaasConfig:
    """The generator configuration a source declares; every field of the source is used.

    ``origin`` is the clock's origin when the caller gives the batches' windows (the wall
    clock's first batch start); the virtual clock's start otherwise.
    """
    from floe.synthetic import Burst, DefectConfig, EcommerceConfig, Realistic, SaasConfig

    rate = Burst(count=source.rate.rows) if isinstance(source.rate, BurstRate) else Realistic(
        per_hour=source.rate.per_hour)
    defects = DefectConfig(
        null_rates=dict(source.defects.null_rates),
        duplicate_rate=source.defects.duplicate_rate,
        late_rate=source.defects.late_rate,
        late_min=source.defects.late_min,
        late_max=source.defects.late_max,
    )
    common: dict[str, Any] = {"rate": rate, "start": origin or source.virtual_start,
                              "interval": source.virtual_interval, "defects": defects}
    if source.dataset == "ecommerce":
        return EcommerceConfig(**common)
    return SaasConfig(**common)


def generate(source: SyntheticSource, batch_number: int, window: BatchWindow | None = None) -> GeneratedBatch:
    """Batch ``batch_number`` of the source, covering ``window`` (the virtual clock's when not
    given; the wall clock's must be given, see :func:`floe.ingestion.clock.plan_window`): the
    same rows every time it is asked for with the same window."""
    from floe.synthetic import BatchInterval, EcommerceConfig, generate_ecommerce_batch, generate_saas_batch
    from floe.synthetic.temporal import to_micros

    if window is None:
        if source.clock == "wall":
            raise ValueError("a wall-clock batch needs its window: floe.ingestion.clock.plan_window")
        window = virtual_window(source, batch_number)
    config = generator_config(source, window.origin)
    tables: Mapping[str, pa.Table]
    report: BatchReport
    if isinstance(config, EcommerceConfig):
        interval = BatchInterval(to_micros(window.start), to_micros(window.end)) if window.clock == "wall" else None
        batch = generate_ecommerce_batch(seed=source.seed, batch_number=batch_number, config=config,
                                         interval=interval)
        tables, report = batch.tables, batch.report
    else:
        saas = generate_saas_batch(seed=source.seed, batch_number=batch_number, config=config)
        tables, report = saas.tables, saas.report
    ordered = {name: tables[name] for name in source.tables}
    return GeneratedBatch(batch_number, ordered, report, window.with_report(report))
