"""SaaS product bronze data: organizations, users, product events and subscriptions.

The same principles as :mod:`floe.synthetic.ecommerce`: one batch is a pure function of
(seed, batch number, config), generated without its predecessors, with arithmetic ids.

Ids (unique across the batches of one seed and config):

* ``org_id = b * organizations_per_batch + i`` and ``user_id = b * users_per_batch + i``
  (``i`` from 1): each batch introduces fixed blocks of organizations and users, created
  during its interval.
* ``event_id = b * EVENT_ID_STRIDE + i`` and ``subscription_id = b * SUBSCRIPTION_ID_STRIDE
  + i`` (strides 10^9).

Columns beyond the ids:

* organizations: ``name``, ``industry`` (weighted; nullable defect target), ``size_band``
  (1-10 … 1000+), ``region``, ``created_at``.
* users: ``org_id`` (their organization, never changes), ``email`` (nullable defect target),
  ``role`` (owner, admin, member, viewer), ``created_at`` (not before their organization's).
* events: ``org_id``, ``user_id`` (nullable defect target: anonymous or broken tracking),
  ``event_type`` (page_view, feature_used, api_call, login, export, invite_sent),
  ``occurred_at`` (late-arrival target; not before the user's ``created_at``), ``duration_ms``.
* subscriptions: one row per organization introduced by the batch (``started_at`` = its
  ``created_at``, status trialing or active), plus ``subscription_changes_per_batch`` rows
  for organizations of earlier batches (a new plan, seat count or status from that moment).
  An organization's current subscription is its row with the latest ``started_at`` (ties:
  highest ``subscription_id``). ``mrr = seats × the plan's list price per seat``, 0 when
  cancelled or on the free plan.

Integrity: ``users.org_id`` and ``subscriptions.org_id`` are organizations of batches 0..b;
``events.user_id`` is a user of batches 0..b and ``events.org_id`` that user's organization.
A user's organization, and an organization's region and size band, are functions of (seed,
id), so every batch agrees on them. Defects: nulls on the targets above, duplicate events,
late events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from floe.synthetic.columns import TableDraft, labels
from floe.synthetic.defects import DefectConfig, duplicate_rows, make_late, null_mask
from floe.synthetic.errors import SyntheticConfigError
from floe.synthetic.people import person_names_and_emails
from floe.synthetic.randomness import (
    BoolArray,
    Int64Array,
    StreamFactory,
    WeightedSampler,
    bernoulli,
    hash_ids,
    hashed_unit,
)
from floe.synthetic.rates import Burst, Rate, Realistic, draw_count, expected_count
from floe.synthetic.report import BatchReport, TableReport
from floe.synthetic.schemas import (
    EVENTS,
    ORGANIZATIONS,
    SAAS_NULL_TARGETS,
    SAAS_SCHEMAS,
    SUBSCRIPTIONS,
    USERS,
    column_names,
)
from floe.synthetic.temporal import (
    BUSINESS_HOURLY,
    BUSINESS_WEEKDAYS,
    UTC,
    BatchInterval,
    TemporalPattern,
    batch_interval,
    not_before,
    sample_times,
    to_micros,
)
from floe.synthetic.validation import check_clock, check_count, check_seed_and_batch
from floe.synthetic.vocabulary import (
    EVENT_TYPES,
    INDUSTRIES,
    ORG_NAME_PREFIXES,
    ORG_NAME_SUFFIXES,
    PLANS,
    REGIONS,
    ROLES,
    SIZE_BANDS,
    SUBSCRIPTION_STATUSES,
    names,
    weights,
)

EVENT_ID_STRIDE = 1_000_000_000
SUBSCRIPTION_ID_STRIDE = 1_000_000_000
MAX_BATCH_NUMBER = 89_999_999
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
# Share of new users joining an organization of their own batch (the rest join any so far),
# and share of events by the users the batch introduces.
NEW_ORG_USER_SHARE = 0.5
NEW_USER_EVENT_SHARE = 0.2
# Most seats an organization of each size band buys.
_SEAT_CAPS = np.array([10, 50, 200, 1000, 3000], dtype=np.int64)
_PLAN_PRICE_CENTS = np.array([round(p[2] * 100) for p in PLANS], dtype=np.int64)
_CANCELLED = names(SUBSCRIPTION_STATUSES).index("cancelled")
_ACTIVE = names(SUBSCRIPTION_STATUSES).index("active")
_FREE = [p[0] for p in PLANS].index("free")
_NEW_STATUS_CODES = np.array([names(SUBSCRIPTION_STATUSES).index(s) for s in ("trialing", "active")], dtype=np.uint16)

_REGIONS, _REGION_SAMPLER = labels(names(REGIONS)), WeightedSampler(weights(REGIONS))
_INDUSTRIES, _INDUSTRY_SAMPLER = labels(names(INDUSTRIES)), WeightedSampler(weights(INDUSTRIES))
_SIZE_BANDS, _SIZE_SAMPLER = labels(names(SIZE_BANDS)), WeightedSampler(weights(SIZE_BANDS))
_ROLES, _ROLE_SAMPLER = labels(names(ROLES)), WeightedSampler(weights(ROLES))
_EVENT_TYPES, _EVENT_SAMPLER = labels(names(EVENT_TYPES)), WeightedSampler(weights(EVENT_TYPES))
_PLANS, _PLAN_SAMPLER = labels([p[0] for p in PLANS]), WeightedSampler([p[1] for p in PLANS])
_STATUSES, _STATUS_SAMPLER = labels(names(SUBSCRIPTION_STATUSES)), WeightedSampler(weights(SUBSCRIPTION_STATUSES))
_NEW_STATUS_SAMPLER = WeightedSampler([0.4, 0.6])


@dataclass(frozen=True)
class SaasConfig:
    """What a batch of SaaS data looks like. Every field has a working default.

    Attributes:
        rate: Events per batch: ``Burst(count=5000)`` (default) or ``Realistic(per_hour=...)``.
        organizations_per_batch: New organizations per batch (1..10^6; default 10).
        users_per_batch: New users per batch (1..10^9; default 50).
        subscription_changes_per_batch: Subscription rows for organizations of earlier
            batches (0..10^8; default 5; none in batch 0).
        start: Virtual-clock start, timezone-aware (default 2026-01-05T00:00Z, a Monday).
        interval: Virtual time one batch covers (default 5 minutes).
        pattern: Shape of activity over time (default: office hours, quiet weekends).
        defects: Defects to inject (default: none). Null targets: ``organizations.industry``,
            ``users.email``, ``events.user_id``; duplicates: ``events``; late arrivals:
            ``events.occurred_at``.
    """

    rate: Rate = field(default_factory=lambda: Burst(count=5000))
    organizations_per_batch: int = 10
    users_per_batch: int = 50
    subscription_changes_per_batch: int = 5
    start: datetime = DEFAULT_START
    interval: timedelta = timedelta(minutes=5)
    pattern: TemporalPattern = field(
        default_factory=lambda: TemporalPattern(hourly=BUSINESS_HOURLY, weekdays=BUSINESS_WEEKDAYS))
    defects: DefectConfig = field(default_factory=DefectConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.rate, (Burst, Realistic)):
            raise SyntheticConfigError("SaasConfig.rate", f"{self.rate!r} is not a rate",
                                       hint="use Burst(count=...) or Realistic(per_hour=...)")
        if isinstance(self.rate, Burst):
            check_count("SaasConfig.rate.count", self.rate.count, minimum=0, maximum=EVENT_ID_STRIDE - 1)
        check_count("SaasConfig.organizations_per_batch", self.organizations_per_batch, minimum=1,
                    maximum=1_000_000)
        check_count("SaasConfig.users_per_batch", self.users_per_batch, minimum=1, maximum=1_000_000_000)
        check_count("SaasConfig.subscription_changes_per_batch", self.subscription_changes_per_batch, minimum=0,
                    maximum=SUBSCRIPTION_ID_STRIDE - 1 - self.organizations_per_batch)
        object.__setattr__(self, "start", check_clock("SaasConfig", self.start, self.interval))
        if not isinstance(self.pattern, TemporalPattern):
            raise SyntheticConfigError("SaasConfig.pattern", f"{self.pattern!r} is not a TemporalPattern")
        if not isinstance(self.defects, DefectConfig):
            raise SyntheticConfigError("SaasConfig.defects", f"{self.defects!r} is not a DefectConfig")
        self.defects.check_targets("SaasConfig", column_names(SAAS_SCHEMAS), SAAS_NULL_TARGETS)


@dataclass(frozen=True)
class SaasReport(BatchReport):
    """A :class:`BatchReport` plus the figures a cleaned pipeline must reproduce.

    Attributes:
        events_with_user: Distinct events whose ``user_id`` was not nulled.
        subscription_mrr: Sum of ``mrr`` over the batch's subscription rows.
    """

    events_with_user: int = 0
    subscription_mrr: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class SaasBatch:
    """The four tables of one batch, in contract order, and the batch's report."""

    tables: Mapping[str, pa.Table]
    report: SaasReport

    @property
    def organizations(self) -> pa.Table:
        return self.tables["organizations"]

    @property
    def users(self) -> pa.Table:
        return self.tables["users"]

    @property
    def events(self) -> pa.Table:
        return self.tables["events"]

    @property
    def subscriptions(self) -> pa.Table:
        return self.tables["subscriptions"]


def generate_saas_batch(*, seed: int, batch_number: int, config: SaasConfig | None = None) -> SaasBatch:
    """Generate batch ``batch_number`` of the SaaS data set of ``seed``.

    Args:
        seed: Any integer in [0, 2**64); the same seed gives the same data set.
        batch_number: 0, 1, 2, ...; any batch can be generated alone, in any order.
        config: Shape of the data; ``SaasConfig()`` when omitted.

    Raises:
        SyntheticConfigError: The seed or batch number is out of range, or a realistic rate
            drew more events than the id stride holds.
    """
    config = config if config is not None else SaasConfig()
    check_seed_and_batch(seed, batch_number, MAX_BATCH_NUMBER)
    interval = batch_interval(config.start, config.interval, batch_number)
    streams = StreamFactory(seed, batch_number, "saas")
    origin = to_micros(config.start)
    orgs_per_batch, users_per_batch = config.organizations_per_batch, config.users_per_batch

    org_ids = batch_number * orgs_per_batch + 1 + np.arange(orgs_per_batch, dtype=np.int64)
    org_created = sample_times(streams("organizations.created_at"), orgs_per_batch, interval, config.pattern, origin)
    organizations, organizations_report = _organizations(seed, batch_number, config, streams, interval, org_ids,
                                                         org_created)

    user_ids = batch_number * users_per_batch + 1 + np.arange(users_per_batch, dtype=np.int64)
    user_orgs = organizations_of_users(seed, user_ids, config)
    user_created = sample_times(streams("users.created_at"), users_per_batch, interval, config.pattern, origin)
    not_before(user_created, user_orgs, batch_number * orgs_per_batch + 1, org_created)
    draft = TableDraft(USERS, users_per_batch)
    full_name, email = person_names_and_emails(streams, "users", user_ids)
    del full_name  # users carry an address, not a name: less personal data in the demo
    draft.values("user_id", user_ids)
    draft.values("org_id", user_orgs)
    draft.arrow("email", email)
    draft.categories("role", _ROLE_SAMPLER.sample(streams("users.role"), users_per_batch), _ROLES)
    draft.values("created_at", user_created)
    _lineage(draft, batch_number, interval)
    draft.set_nulls("email", _nulls(streams, config, "users.email", users_per_batch))
    users, users_report = draft.finish()

    count = draw_count(config.rate, streams("events.count"), interval, config.pattern, origin,
                       limit=EVENT_ID_STRIDE, field="SaasConfig.rate")
    events, events_report, user_null = _events(seed, batch_number, config, streams, interval, origin, count,
                                               user_created)
    subscriptions, subscriptions_report, mrr = _subscriptions(seed, batch_number, config, streams, interval,
                                                              origin, org_ids, org_created)
    report = SaasReport(
        seed=seed, batch_number=batch_number, interval_start=interval.start, interval_end=interval.end,
        tables=MappingProxyType({"organizations": organizations_report, "users": users_report,
                                 "events": events_report, "subscriptions": subscriptions_report}),
        events_with_user=count - (0 if user_null is None else int(user_null.sum())),
        subscription_mrr=Decimal(int(mrr.sum())).scaleb(-2),
    )
    tables = MappingProxyType({"organizations": organizations, "users": users, "events": events,
                               "subscriptions": subscriptions})
    return SaasBatch(tables=tables, report=report)


def expected_events(batch_number: int, config: SaasConfig | None = None) -> float:
    """The mean event count of a batch under the config's rate."""
    config = config if config is not None else SaasConfig()
    interval = batch_interval(config.start, config.interval, batch_number)
    return expected_count(config.rate, interval, config.pattern, to_micros(config.start))


def organizations_of_users(seed: int, user_ids: Int64Array, config: SaasConfig) -> Int64Array:
    """The organization of each user: a function of (seed, user id, config) alone.

    Half the users join an organization introduced by their own batch, the others any
    organization introduced up to then.
    """
    orgs, users = config.organizations_per_batch, config.users_per_batch
    user_batch = (user_ids - 1) // users
    own_batch = hashed_unit(seed, user_ids, "saas/users.org_choice") < NEW_ORG_USER_SHARE
    span = np.where(own_batch, orgs, (user_batch + 1) * orgs)
    first = np.where(own_batch, user_batch * orgs, 0)
    pick = np.minimum((hashed_unit(seed, user_ids, "saas/users.org_id") * span).astype(np.int64), span - 1)
    result: Int64Array = first + pick + 1
    return result


def organization_traits(seed: int, org_ids: Int64Array) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint16]]:
    """Region and size-band codes of organizations, functions of (seed, id) alone."""
    return (_REGION_SAMPLER.from_hash(hash_ids(seed, org_ids, "saas/organizations.region")),
            _SIZE_SAMPLER.from_hash(hash_ids(seed, org_ids, "saas/organizations.size_band")))


def _organizations(seed: int, batch_number: int, config: SaasConfig, streams: StreamFactory,
                   interval: BatchInterval, org_ids: Int64Array, created: Int64Array) -> tuple[pa.Table, TableReport]:
    size = len(org_ids)
    rng = streams("organizations.name")
    prefix = pa.array(ORG_NAME_PREFIXES).take(pa.array(rng.integers(0, len(ORG_NAME_PREFIXES), size)))
    suffix = pa.array(ORG_NAME_SUFFIXES).take(pa.array(rng.integers(0, len(ORG_NAME_SUFFIXES), size)))
    region, size_band = organization_traits(seed, org_ids)
    draft = TableDraft(ORGANIZATIONS, size)
    draft.values("org_id", org_ids)
    draft.arrow("name", pc.binary_join_element_wise(prefix, suffix, " "))
    draft.categories("industry", _INDUSTRY_SAMPLER.sample(streams("organizations.industry"), size), _INDUSTRIES)
    draft.categories("size_band", size_band, _SIZE_BANDS)
    draft.categories("region", region, _REGIONS)
    draft.values("created_at", created)
    _lineage(draft, batch_number, interval)
    draft.set_nulls("industry", _nulls(streams, config, "organizations.industry", size))
    return draft.finish()


def _events(seed: int, batch_number: int, config: SaasConfig, streams: StreamFactory, interval: BatchInterval,
            origin_us: int, count: int, user_created: Int64Array) -> tuple[pa.Table, TableReport, BoolArray | None]:
    per_batch = config.users_per_batch
    rng = streams("events.user_id")
    user = rng.integers(0, (batch_number + 1) * per_batch, count, dtype=np.int64)
    new = bernoulli(rng, count, NEW_USER_EVENT_SHARE)
    user[new] = batch_number * per_batch + rng.integers(0, per_batch, int(new.sum()), dtype=np.int64)
    user += 1
    occurred = sample_times(streams("events.occurred_at"), count, interval, config.pattern, origin_us)
    not_before(occurred, user, batch_number * per_batch + 1, user_created)
    # Durations are log-normal around 4 s, capped at an hour.
    duration = np.clip(np.exp(8.3 + 1.1 * streams("events.duration_ms").standard_normal(count)), 1, 3_600_000)

    draft = TableDraft(EVENTS, count)
    draft.values("event_id", batch_number * EVENT_ID_STRIDE + 1 + np.arange(count, dtype=np.int64))
    draft.values("org_id", organizations_of_users(seed, user, config))
    draft.values("user_id", user)
    draft.categories("event_type", _EVENT_SAMPLER.sample(streams("events.event_type"), count), _EVENT_TYPES)
    draft.late = make_late(streams, "events", config.defects, occurred, interval.start_us)
    draft.values("occurred_at", occurred)
    draft.values("duration_ms", duration.astype(np.int32))
    _lineage(draft, batch_number, interval)
    user_null = _nulls(streams, config, "events.user_id", count)
    draft.set_nulls("user_id", user_null)
    table, report = draft.finish(duplicate_rows(streams, "events", config.defects.duplicate_rate, count))
    return table, report, user_null


def _subscriptions(seed: int, batch_number: int, config: SaasConfig, streams: StreamFactory,
                   interval: BatchInterval, origin_us: int, org_ids: Int64Array,
                   org_created: Int64Array) -> tuple[pa.Table, TableReport, Int64Array]:
    changes = config.subscription_changes_per_batch if batch_number > 0 else 0
    older = streams("subscriptions.org_id").integers(0, batch_number * config.organizations_per_batch, changes,
                                                     dtype=np.int64) + 1 if changes else np.empty(0, np.int64)
    orgs = np.concatenate([org_ids, older])
    size = len(orgs)
    plan = _PLAN_SAMPLER.sample(streams("subscriptions.plan"), size)
    # A new organization on a paid plan starts trialing or active; the free plan is active.
    new_status = _NEW_STATUS_CODES[_NEW_STATUS_SAMPLER.sample(streams("subscriptions.new_status"), len(org_ids))]
    new_status[plan[:len(org_ids)] == _FREE] = _ACTIVE
    status = np.concatenate([new_status, _STATUS_SAMPLER.sample(streams("subscriptions.status"), changes)])
    _, size_band = organization_traits(seed, orgs)
    seats = 1 + np.floor(streams("subscriptions.seats").random(size) * _SEAT_CAPS[size_band]).astype(np.int64)
    mrr = np.where(status == _CANCELLED, 0, seats * _PLAN_PRICE_CENTS[plan])
    started = np.concatenate([org_created, sample_times(streams("subscriptions.started_at"), changes, interval,
                                                        config.pattern, origin_us)])
    draft = TableDraft(SUBSCRIPTIONS, size)
    draft.values("subscription_id", batch_number * SUBSCRIPTION_ID_STRIDE + 1 + np.arange(size, dtype=np.int64))
    draft.values("org_id", orgs)
    draft.categories("plan", plan, _PLANS)
    draft.categories("status", status, _STATUSES)
    draft.values("seats", seats)
    draft.money("mrr", mrr)
    draft.values("started_at", started)
    _lineage(draft, batch_number, interval)
    table, report = draft.finish()
    return table, report, mrr


def _nulls(streams: StreamFactory, config: SaasConfig, key: str, rows: int) -> BoolArray | None:
    return null_mask(streams, key, config.defects.null_rates.get(key, 0.0), rows)


def _lineage(draft: TableDraft, batch_number: int, interval: BatchInterval) -> None:
    draft.constant("_batch_id", batch_number)
    draft.constant("_generated_at", interval.end_us)
