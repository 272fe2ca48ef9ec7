"""Invalid configurations fail early with a floe error that names the field and says what to do."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from floe.errors import FloeError
from floe.synthetic import (
    Burst,
    DefectConfig,
    EcommerceConfig,
    Realistic,
    SaasConfig,
    SyntheticConfigError,
    TemporalPattern,
    generate_ecommerce_batch,
)


@pytest.mark.parametrize(
    ("build", "field", "problem"),
    [
        (lambda: DefectConfig(duplicate_rate=1.5), "DefectConfig.duplicate_rate", "not a probability in [0, 1]"),
        (lambda: DefectConfig(late_rate=-0.1), "DefectConfig.late_rate", "not a probability"),
        (lambda: DefectConfig(null_rates={"orders.region": float("nan")}), "DefectConfig.null_rates['orders.region']",
         "not a probability"),
        (lambda: DefectConfig(null_rates={"orders.region": True}), "DefectConfig.null_rates", "not a probability"),
        (lambda: DefectConfig(late_min=timedelta(0)), "DefectConfig.late_min", "not positive"),
        (lambda: DefectConfig(late_min=timedelta(days=2), late_max=timedelta(days=1)), "DefectConfig.late_max",
         "less than late_min"),
        (lambda: EcommerceConfig(defects=DefectConfig(null_rates={"orders.order_id": 0.1})),
         "EcommerceConfig.defects.null_rates['orders.order_id']", "non-nullable"),
        (lambda: EcommerceConfig(defects=DefectConfig(null_rates={"orders.status": 0.1})),
         "EcommerceConfig.defects.null_rates['orders.status']", "non-nullable"),
        (lambda: EcommerceConfig(defects=DefectConfig(null_rates={"orders.colour": 0.1})),
         "EcommerceConfig.defects.null_rates['orders.colour']", "no such column"),
        (lambda: EcommerceConfig(defects=DefectConfig(null_rates={"region": 0.1})),
         "EcommerceConfig.defects.null_rates['region']", "no such column"),
        (lambda: SaasConfig(defects=DefectConfig(null_rates={"orders.customer_id": 0.1})),
         "SaasConfig.defects.null_rates['orders.customer_id']", "no such column"),
        (lambda: Burst(count=-1), "Burst.count", "not a non-negative integer"),
        (lambda: Realistic(per_hour=-5.0), "Realistic.per_hour", "not a finite rate"),
        (lambda: EcommerceConfig(signups_per_order=0), "EcommerceConfig.signups_per_order", "not a number in"),
        (lambda: EcommerceConfig(catalog_size=-3), "EcommerceConfig.catalog_size", "not an integer in"),
        (lambda: EcommerceConfig(max_items_per_order=100), "EcommerceConfig.max_items_per_order",
         "not an integer in [1, 99]"),
        (lambda: EcommerceConfig(rate=Burst(count=10**9)), "EcommerceConfig.rate.count", "not an integer in"),
        (lambda: EcommerceConfig(start=datetime(2026, 1, 1)), "EcommerceConfig.start", "not a timezone-aware"),
        (lambda: EcommerceConfig(interval=timedelta(0)), "EcommerceConfig.interval", "not a positive timedelta"),
        (lambda: EcommerceConfig(rate=1000), "EcommerceConfig.rate", "is not a rate"),  # type: ignore[arg-type]
        (lambda: SaasConfig(users_per_batch=-1), "SaasConfig.users_per_batch", "not an integer in"),
        (lambda: TemporalPattern(hourly=(1.0,) * 23), "TemporalPattern.hourly", "expected 24 values"),
        (lambda: TemporalPattern(weekdays=(0.0,) * 7), "TemporalPattern.weekdays", "not all zero"),
        (lambda: TemporalPattern(growth_per_year=-1.0), "TemporalPattern.growth_per_year", "above -1"),
        (lambda: generate_ecommerce_batch(seed=-1, batch_number=0), "seed", "not an integer in"),
        (lambda: generate_ecommerce_batch(seed=1, batch_number=-1), "batch_number", "not an integer in"),
        (lambda: generate_ecommerce_batch(seed=1, batch_number=90_000_000), "batch_number", "not an integer in"),
        (lambda: generate_ecommerce_batch(seed=1, batch_number=0, config=EcommerceConfig(
            rate=Realistic(per_hour=1e12))), "EcommerceConfig.rate", "the id stride allows at most 999,999,999"),
        (lambda: generate_ecommerce_batch(seed=1, batch_number=10**6, config=EcommerceConfig(
            interval=timedelta(days=30))), "batch_number", "ends after the year 9998"),
    ],
)
def test_invalid_configuration_raises_a_floe_error(build, field: str, problem: str) -> None:
    with pytest.raises(SyntheticConfigError) as caught:
        build()
    error = caught.value
    assert isinstance(error, FloeError) and isinstance(error, ValueError)
    assert error.field.startswith(field)
    assert problem in error.problem
    assert str(error).startswith(f"{error.field}: ")


def test_the_hint_lists_the_columns_that_may_be_nulled() -> None:
    with pytest.raises(SyntheticConfigError) as caught:
        EcommerceConfig(defects=DefectConfig(null_rates={"order_items.quantity": 0.1}))
    assert caught.value.hint == "null rates apply to customers.email, orders.customer_id, orders.region"
    assert "hint: null rates apply to" in str(caught.value)


def test_defect_config_is_frozen_all_the_way_down() -> None:
    rates = {"orders.region": 0.1}
    defects = DefectConfig(null_rates=rates)
    rates["orders.region"] = 0.9
    assert defects.null_rates["orders.region"] == 0.1
    with pytest.raises(TypeError):
        defects.null_rates["orders.region"] = 0.5  # type: ignore[index]


def test_start_is_normalized_to_utc() -> None:
    from datetime import timezone

    local = datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    config = EcommerceConfig(start=local)
    assert config.start == datetime(2026, 3, 1, 7, 0, tzinfo=timezone.utc)
    assert config.start.utcoffset() == timedelta(0)
