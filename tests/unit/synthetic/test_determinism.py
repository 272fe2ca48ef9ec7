"""Determinism: a batch is a pure function of (seed, batch number, config)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from floe.synthetic import (
    DefectConfig,
    EcommerceConfig,
    Realistic,
    SaasConfig,
    generate_ecommerce_batch,
    generate_saas_batch,
)
from floe.synthetic.temporal import to_micros

from .helpers import batch_bytes, ipc_bytes

DEFECTS = DefectConfig(null_rates={"orders.customer_id": 0.05, "orders.region": 0.05, "customers.email": 0.1},
                       duplicate_rate=0.05, late_rate=0.05)


def test_same_seed_and_batch_give_byte_identical_tables() -> None:
    config = EcommerceConfig(defects=DEFECTS)
    first = generate_ecommerce_batch(seed=42, batch_number=3, config=config)
    again = generate_ecommerce_batch(seed=42, batch_number=3, config=config)
    assert batch_bytes(first.tables) == batch_bytes(again.tables)
    assert first.report == again.report


def test_other_batch_or_seed_gives_other_data() -> None:
    base = generate_ecommerce_batch(seed=42, batch_number=3)
    next_batch = generate_ecommerce_batch(seed=42, batch_number=4)
    other_seed = generate_ecommerce_batch(seed=43, batch_number=3)
    for other in (next_batch, other_seed):
        for name in ("customers", "orders", "order_items"):
            assert ipc_bytes(base.tables[name]) != ipc_bytes(other.tables[name]), name
    # Statuses, not just ids, differ between seeds.
    assert base.orders.column("status") != other_seed.orders.column("status")


def test_a_batch_does_not_depend_on_earlier_batches_being_generated() -> None:
    config = EcommerceConfig(rate=Realistic(per_hour=6000), defects=DEFECTS)
    alone = batch_bytes(generate_ecommerce_batch(seed=9, batch_number=7, config=config).tables)
    for earlier in range(7):
        generate_ecommerce_batch(seed=9, batch_number=earlier, config=config)
    assert batch_bytes(generate_ecommerce_batch(seed=9, batch_number=7, config=config).tables) == alone


@pytest.mark.process
def test_a_fresh_process_produces_the_same_bytes() -> None:
    # No hidden state (hash randomization, caches, import order) leaks into the data.
    code = (f"import hashlib, sys; sys.path.insert(0, {str(Path(__file__).parent)!r});"
            "from helpers import ipc_bytes; from floe.synthetic import generate_ecommerce_batch, generate_saas_batch;"
            "e = generate_ecommerce_batch(seed=77, batch_number=5); s = generate_saas_batch(seed=77, batch_number=5);"
            "print(hashlib.sha256(b''.join(ipc_bytes(t) for t in [*e.tables.values(), *s.tables.values()]))"
            ".hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={"PYTHONHASHSEED": str(n), "PATH": ""}).stdout for n in (1, 2)}
    assert len(digests) == 1


def test_switching_defects_on_leaves_clean_values_unchanged() -> None:
    clean = generate_ecommerce_batch(seed=3, batch_number=2)
    dirty = generate_ecommerce_batch(seed=3, batch_number=2, config=EcommerceConfig(defects=DEFECTS))
    unique = dirty.report.tables["orders"].unique_rows
    orders = dirty.orders.slice(0, unique)
    # Where no defect touched a value, it is the clean value.
    for column in ("customer_id", "region"):
        kept = orders.column(column).is_valid()
        assert orders.column(column).filter(kept) == clean.orders.column(column).filter(kept)
    start = to_micros(dirty.report.interval_start)
    ordered_at = orders.column("ordered_at").cast("int64").to_numpy()
    on_time = ordered_at >= start
    assert np.array_equal(ordered_at[on_time], clean.orders.column("ordered_at").cast("int64").to_numpy()[on_time])
    for column in ("order_id", "status", "channel"):
        assert orders.column(column) == clean.orders.column(column)
    items = dirty.report.tables["order_items"].unique_rows
    assert dirty.order_items.slice(0, items).equals(clean.order_items)


def test_saas_batches_are_deterministic_and_independent() -> None:
    config = SaasConfig(rate=Realistic(per_hour=20_000))
    alone = batch_bytes(generate_saas_batch(seed=4, batch_number=6, config=config).tables)
    for earlier in range(6):
        generate_saas_batch(seed=4, batch_number=earlier, config=config)
    assert batch_bytes(generate_saas_batch(seed=4, batch_number=6, config=config).tables) == alone
    assert batch_bytes(generate_saas_batch(seed=4, batch_number=5, config=config).tables) != alone
