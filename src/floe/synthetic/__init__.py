"""Synthetic bronze data: vectorized, deterministic generators with defects counted exactly.

::

    from floe.synthetic import EcommerceConfig, Realistic, DefectConfig, generate_ecommerce_batch

    batch = generate_ecommerce_batch(seed=7, batch_number=0, config=EcommerceConfig(
        rate=Realistic(per_hour=12_000),
        defects=DefectConfig(null_rates={"orders.customer_id": 0.01}, duplicate_rate=0.005),
    ))
    batch.orders          # pyarrow.Table with the bronze contract's schema
    batch.report          # what the batch holds, every injected defect counted

Two data sets (:mod:`.ecommerce`, :mod:`.saas`), each a function of (seed, batch number,
config) alone; a batch covers one interval of a virtual clock (:mod:`.temporal`), or an
interval the caller gives (the e-commerce generator, for the wall clock); customers sign up on
one continuous clock and orders pick customers who signed up before them (:mod:`.signups`);
a batch's size is a burst or a realistic rate (:mod:`.rates`); defects are opt-in
(:mod:`.defects`); schemas are a contract (:mod:`.schemas`). The package imports numpy and pyarrow, so the rest of
floe imports it lazily, inside the functions that generate data.

Modules: ``ecommerce``/``saas`` (generators), ``temporal`` (clock and curves), ``signups``, ``rates``,
``defects``, ``report``, ``cleaning`` (reference cleaner for tests), ``schemas``,
``columns`` (numpy → Arrow), ``randomness`` (seeded streams, weighted sampling), ``people``
and ``vocabulary`` (names and weights), ``validation``, ``errors``.
"""

from __future__ import annotations

from floe.synthetic.cleaning import OrderTotals, drop_duplicates, order_totals
from floe.synthetic.defects import DefectConfig
from floe.synthetic.ecommerce import (
    EcommerceBatch,
    EcommerceConfig,
    EcommerceReport,
    expected_orders,
    generate_ecommerce_batch,
)
from floe.synthetic.errors import SyntheticConfigError
from floe.synthetic.rates import Burst, Rate, Realistic, expected_count
from floe.synthetic.report import BatchReport, TableReport
from floe.synthetic.saas import SaasBatch, SaasConfig, SaasReport, expected_events, generate_saas_batch
from floe.synthetic.schemas import ECOMMERCE_NULL_TARGETS, ECOMMERCE_SCHEMAS, SAAS_NULL_TARGETS, SAAS_SCHEMAS
from floe.synthetic.temporal import BatchInterval, TemporalPattern, batch_interval

__all__ = [
    "ECOMMERCE_NULL_TARGETS",
    "ECOMMERCE_SCHEMAS",
    "SAAS_NULL_TARGETS",
    "SAAS_SCHEMAS",
    "BatchInterval",
    "BatchReport",
    "Burst",
    "DefectConfig",
    "EcommerceBatch",
    "EcommerceConfig",
    "EcommerceReport",
    "OrderTotals",
    "Rate",
    "Realistic",
    "SaasBatch",
    "SaasConfig",
    "SaasReport",
    "SyntheticConfigError",
    "TableReport",
    "TemporalPattern",
    "batch_interval",
    "drop_duplicates",
    "expected_count",
    "expected_events",
    "expected_orders",
    "generate_ecommerce_batch",
    "generate_saas_batch",
    "order_totals",
]
