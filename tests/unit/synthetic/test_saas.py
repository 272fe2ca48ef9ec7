"""The SaaS generator: ids, referential integrity across batches, plausible values."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow.compute as pc
import pytest

from floe.synthetic import Burst, SaasConfig, generate_saas_batch
from floe.synthetic.saas import EVENT_ID_STRIDE, SUBSCRIPTION_ID_STRIDE
from floe.synthetic.vocabulary import EVENT_TYPES, PLANS

from .helpers import ints, micros

CONFIG = SaasConfig(rate=Burst(count=400), organizations_per_batch=6, users_per_batch=25,
                    subscription_changes_per_batch=4)


@pytest.fixture(scope="module")
def twenty_batches() -> list:
    return [generate_saas_batch(seed=99, batch_number=b, config=CONFIG) for b in range(20)]


def test_ids_are_unique_and_arithmetic(twenty_batches: list) -> None:
    for table, key in (("organizations", "org_id"), ("users", "user_id"), ("events", "event_id"),
                       ("subscriptions", "subscription_id")):
        ids = np.concatenate([ints(b.tables[table], key) for b in twenty_batches])
        assert len(ids) == len(np.unique(ids)), table
    for b, batch in enumerate(twenty_batches):
        assert ints(batch.organizations, "org_id").tolist() == list(range(6 * b + 1, 6 * b + 7))
        assert ints(batch.users, "user_id").tolist() == list(range(25 * b + 1, 25 * b + 26))
        assert ints(batch.events, "event_id")[0] == b * EVENT_ID_STRIDE + 1
        assert ints(batch.subscriptions, "subscription_id")[0] == b * SUBSCRIPTION_ID_STRIDE + 1
        assert batch.subscriptions.num_rows == 6 + (4 if b else 0)


def test_referential_integrity_across_batches(twenty_batches: list) -> None:
    orgs: dict[int, int] = {}
    users: dict[int, tuple[int, int]] = {}
    for batch in twenty_batches:
        orgs.update(zip(ints(batch.organizations, "org_id").tolist(),
                        micros(batch.organizations, "created_at").tolist(), strict=True))
        for user, org, created in zip(ints(batch.users, "user_id").tolist(), ints(batch.users, "org_id").tolist(),
                                      micros(batch.users, "created_at").tolist(), strict=True):
            assert created >= orgs[org]
            users[user] = (org, created)
        events = batch.events
        for user, org, at in zip(ints(events, "user_id").tolist(), ints(events, "org_id").tolist(),
                                 micros(events, "occurred_at").tolist(), strict=True):
            assert users[user][0] == org
            assert at >= users[user][1]
        assert set(ints(batch.subscriptions, "org_id").tolist()) <= set(orgs)
    # Organizations of early batches keep gaining users later on.
    last = twenty_batches[-1]
    assert ints(last.users, "org_id").min() <= 6 * 19


def test_every_new_organization_starts_a_subscription(twenty_batches: list) -> None:
    for batch in twenty_batches:
        new = batch.subscriptions.slice(0, 6)
        assert new.column("org_id") == batch.organizations.column("org_id")
        assert new.column("started_at") == batch.organizations.column("created_at")
        assert set(new.column("status").to_pylist()) <= {"trialing", "active"}


def test_mrr_is_seats_times_list_price() -> None:
    batch = generate_saas_batch(seed=5, batch_number=3, config=SaasConfig(organizations_per_batch=400,
                                                                         subscription_changes_per_batch=400))
    price = {plan: Decimal(str(per_seat)).quantize(Decimal("0.01")) for plan, _, per_seat in PLANS}
    rows = batch.subscriptions.to_pylist()
    for row in rows:
        expected = Decimal(0) if row["status"] == "cancelled" else row["seats"] * price[row["plan"]]
        assert row["mrr"] == expected
        assert row["seats"] >= 1
    assert batch.report.subscription_mrr == sum(row["mrr"] for row in rows)
    assert {row["status"] for row in rows[400:]} == {"trialing", "active", "past_due", "cancelled"}


def test_event_types_follow_their_weights() -> None:
    batch = generate_saas_batch(seed=5, batch_number=1, config=SaasConfig(rate=Burst(count=200_000)))
    counts = {c["values"]: c["counts"] for c in batch.events.column("event_type").value_counts().to_pylist()}
    total = sum(w for _, w in EVENT_TYPES)
    for event_type, weight in EVENT_TYPES:
        assert counts[event_type] / 200_000 == pytest.approx(weight / total, abs=0.005)
    duration = batch.events.column("duration_ms")
    assert pc.min(duration).as_py() >= 1 and pc.max(duration).as_py() <= 3_600_000
    assert 2_000 < pc.approximate_median(duration).as_py() < 8_000
