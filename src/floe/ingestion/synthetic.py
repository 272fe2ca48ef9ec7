"""A ``synthetic`` source of floe.yaml, as the settings of floe's generators."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from floe.spec.ingestion import BurstRate, SyntheticSource

if TYPE_CHECKING:
    import pyarrow as pa

    from floe.synthetic import BatchReport, EcommerceConfig, SaasConfig


@dataclass(frozen=True)
class GeneratedBatch:
    """The tables of one batch, in the order they are written, and the generator's report."""

    batch_number: int
    tables: Mapping[str, pa.Table]
    report: BatchReport


def generator_config(source: SyntheticSource) -> EcommerceConfig | SaasConfig:
    """The generator configuration a source declares; every field of the source is used."""
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
    common: dict[str, Any] = {"rate": rate, "start": source.start, "interval": source.interval, "defects": defects}
    if source.dataset == "ecommerce":
        return EcommerceConfig(**common)
    return SaasConfig(**common)


def generate(source: SyntheticSource, batch_number: int) -> GeneratedBatch:
    """Batch ``batch_number`` of the source: the same rows every time it is asked for."""
    from floe.synthetic import EcommerceConfig, generate_ecommerce_batch, generate_saas_batch

    config = generator_config(source)
    tables: Mapping[str, pa.Table]
    report: BatchReport
    if isinstance(config, EcommerceConfig):
        batch = generate_ecommerce_batch(seed=source.seed, batch_number=batch_number, config=config)
        tables, report = batch.tables, batch.report
    else:
        saas = generate_saas_batch(seed=source.seed, batch_number=batch_number, config=config)
        tables, report = saas.tables, saas.report
    ordered = {name: tables[name] for name in source.tables}
    return GeneratedBatch(batch_number, ordered, report)
