"""``orchestrator.daemon``: how Dagster's daemon (schedules, sensors, the run queue) is kept running.

Dagster's daemon must run exactly once per instance: two at once tick every schedule twice and
launch duplicate runs. Two modes, honoured by the Helm charts, Docker Compose and ``floe dev``:

* ``single`` — one daemon. It is restarted when it exits or when its heartbeat is older than
  ``restart_timeout`` (checked every ``health_check_interval``): a Kubernetes liveness probe, and
  floe's daemon supervisor elsewhere.
* ``ha`` — ``replicas`` daemon processes, exactly one active. Each runs under floe's leader
  election (a Kubernetes Lease in a cluster, a PostgreSQL advisory lock on Dagster's database
  elsewhere) and starts ``dagster-daemon`` only while it holds the lease; the others wait and
  take over when it expires.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from floe.spec.base import StrictModel
from floe.spec.base import rule_error as _rule
from floe.spec.durations import Duration

# Dagster's daemons write a heartbeat every 30 s (the interval Dagster adds to its tolerance),
# but the scheduler writes its own only once per loop, which waits for the next minute: its
# heartbeat is up to a minute old, more on a loaded machine (measured: 73 s). A tolerance shorter
# than two of those restarts a healthy daemon.
DAGSTER_HEARTBEAT_INTERVAL = timedelta(seconds=30)
SLOWEST_HEARTBEAT = timedelta(seconds=60)
MIN_RESTART_TIMEOUT = 2 * SLOWEST_HEARTBEAT
# What a leader needs between missing its renew deadline and the lease expiring: stopping its
# daemon (SIGTERM, then SIGKILL) must be over before any standby may start one.
MIN_STOP_MARGIN = timedelta(seconds=3)



def _seconds(value: timedelta) -> str:
    return f"{value.total_seconds():g}s"


class DaemonLease(StrictModel):
    """Leader election timing (mode ``ha``); the names follow Kubernetes' Lease and client-go."""

    duration: Duration = Field(
        default=timedelta(seconds=15),
        description="How long a lease lasts after its last renewal (the Lease's leaseDurationSeconds): a "
        "standby takes over this long after the leader stopped renewing.",
    )
    renew_deadline: Duration = Field(
        default=timedelta(seconds=10),
        description="A leader that could not renew for this long stops its daemon at once, before the "
        "lease expires and a standby may start one.",
    )
    retry_period: Duration = Field(
        default=timedelta(seconds=2),
        description="How often the leader renews and a standby looks at the lease.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DaemonLease:
        if self.duration < timedelta(seconds=1) or self.duration.total_seconds() != int(self.duration.total_seconds()):
            raise _rule(f"duration must be a whole number of seconds, at least 1s (a Lease counts whole "
                        f"seconds), not {_seconds(self.duration)}")
        if self.retry_period <= timedelta(0) or self.retry_period >= self.renew_deadline:
            raise _rule(f"retry_period ({_seconds(self.retry_period)}) must be shorter than renew_deadline "
                        f"({_seconds(self.renew_deadline)}): the leader must try to renew more than once "
                        "before it gives up")
        if self.renew_deadline + MIN_STOP_MARGIN > self.duration:
            raise _rule(f"renew_deadline ({_seconds(self.renew_deadline)}) must end at least "
                        f"{_seconds(MIN_STOP_MARGIN)} before the lease expires (duration "
                        f"{_seconds(self.duration)}): the leader needs that long to stop its daemon before a "
                        "standby may start one")
        return self


class OrchestratorDaemon(StrictModel):
    """Dagster's daemon: one, restarted when its heartbeat stops, or several with one active."""

    mode: Literal["single", "ha"] = Field(
        default="single",
        description="single: one daemon, restarted when it dies or hangs. ha: 'replicas' daemons under "
        "leader election, exactly one active (needs orchestrator.storage type postgres).",
    )
    restart_timeout: Duration = Field(
        default=timedelta(seconds=120),
        description="A daemon whose heartbeat is older than this is restarted (at least 120s: Dagster's "
        "scheduler writes one about once a minute).",
    )
    health_check_interval: Duration = Field(
        default=timedelta(seconds=30),
        description="How often the daemon's heartbeat is checked (the liveness probe's period).",
    )
    replicas: int | None = Field(
        default=None, ge=1, le=7,
        description="Daemon processes (pods, Compose services). null: 1 in single mode, 2 in ha mode. "
        "ha needs at least 2; single allows only 1.",
    )
    lease: DaemonLease | None = Field(
        default=None, description="Leader election timing (mode ha only). null: 15s / 10s / 2s in mode ha."
    )

    @model_validator(mode="after")
    def _consistent(self) -> OrchestratorDaemon:
        if self.restart_timeout < MIN_RESTART_TIMEOUT:
            raise _rule(f"restart_timeout must be at least {_seconds(MIN_RESTART_TIMEOUT)} (Dagster's "
                        f"scheduler writes its heartbeat about every {_seconds(SLOWEST_HEARTBEAT)}; less would "
                        f"restart a healthy daemon), not {_seconds(self.restart_timeout)}")
        if not timedelta(seconds=1) <= self.health_check_interval <= self.restart_timeout:
            raise _rule(f"health_check_interval ({_seconds(self.health_check_interval)}) must be between 1s "
                        f"and restart_timeout ({_seconds(self.restart_timeout)})")
        if self.mode == "single" and self.replicas not in (None, 1):
            raise _rule(f"mode single runs one daemon, so replicas {self.replicas} cannot be honoured: two "
                        "daemons without leader election tick every schedule twice; set mode: ha, or "
                        "remove replicas")
        if self.mode == "ha" and self.replicas == 1:
            raise _rule("mode ha with replicas 1 has no standby to take over; set replicas to 2 or more, "
                        "or mode: single")
        if self.mode == "single" and self.lease is not None:
            raise _rule("lease is the leader election of mode ha; with mode single it would be ignored — "
                        "remove it, or set mode: ha")
        return self

    @property
    def replica_count(self) -> int:
        """How many daemon processes the deployment runs."""
        if self.replicas is not None:
            return self.replicas
        return 2 if self.mode == "ha" else 1

    @property
    def heartbeat_tolerance_s(self) -> int:
        """``DAGSTER_DAEMON_HEARTBEAT_TOLERANCE`` that makes a heartbeat stale past ``restart_timeout``.

        Dagster calls a daemon dead when ``now > heartbeat + 30 s + tolerance`` (its heartbeat
        interval added by itself), so the tolerance is ``restart_timeout`` less that interval.
        """
        return math.ceil(self.restart_timeout.total_seconds()) - int(DAGSTER_HEARTBEAT_INTERVAL.total_seconds())

    @property
    def lease_timing(self) -> DaemonLease:
        """The lease timing in force (the defaults when none is declared)."""
        return self.lease if self.lease is not None else DaemonLease()
