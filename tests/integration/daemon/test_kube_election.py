"""Leader election on a Kubernetes Lease: real floe daemon processes against the Lease API double.

The API server cannot run here; tests/support/lease_api_double.py speaks its protocol
(resourceVersion, 409 on conflict, per-client faults). Everything else is real: the wrappers,
their guardians and the daemons (a stand-in ``sleep``), checked on the process table.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.daemon_replicas import wait_gone
from tests.support.kube_replicas import LEASE, NAMESPACE, guardian_of, kill_pod, kube_artifacts, start_replica
from tests.support.lease_api_double import LeaseApiDouble

pytestmark = [pytest.mark.integration, pytest.mark.process]

SLOW = 90.0


@pytest.fixture
def api():
    with LeaseApiDouble() as double:
        yield double


@pytest.fixture
def template(compiled_project: Path) -> Path:
    return compiled_project / ".floe" / "artifacts.json"


def test_kill_9_of_the_leader_hands_over_within_a_retry_period_through_its_guardian(
        api: LeaseApiDouble, tmp_path: Path, template: Path) -> None:
    # The default timing: lease 15 s, renew deadline 10 s, retry 2 s.
    artifacts = kube_artifacts(template, tmp_path / "ha.json")
    leader, token = start_replica(api, "a", artifacts, tmp_path)
    leader.wait_for("daemon-started", SLOW)
    standby, _ = start_replica(api, "b", artifacts, tmp_path)
    standby.wait_for("standby", SLOW)
    guardian = guardian_of(leader)
    killed_at = leader.kill9()
    gone_at = wait_gone(guardian, SLOW)  # the guardian kills the daemon, gives the lease back, exits
    started = standby.wait_for("daemon-started", SLOW)
    assert started["at"] >= gone_at - 0.05
    # Released, not expired: well inside the 15 s lease even on a loaded machine. On a miss, say
    # what the leader's side (wrapper and guardian, one token) sent and printed around the kill.
    sent = [(round(r.at - time.monotonic() + time.time() - killed_at, 2), r.method, r.status)
            for r in api.requests_of(token)][-6:]
    assert started["at"] - killed_at < 15, (started["at"] - killed_at, sent, leader.events[-4:],
                                            "".join(leader.stderr)[-1500:])
    holder = api.lease(NAMESPACE, LEASE)["spec"]["holderIdentity"]
    assert holder == standby.events[0]["identity"]
    assert standby.wait_for("leader", 5)
    standby.stop()


def test_when_the_pod_dies_whole_the_standby_waits_for_the_lease_to_expire(
        api: LeaseApiDouble, tmp_path: Path, template: Path) -> None:
    daemon = {"mode": "ha", "lease": {"duration": "6s", "renew_deadline": "3s", "retry_period": "1s"}}
    artifacts = kube_artifacts(template, tmp_path / "ha.json", daemon)
    leader, _ = start_replica(api, "a", artifacts, tmp_path)
    leader.wait_for("daemon-started", SLOW)
    standby, _ = start_replica(api, "b", artifacts, tmp_path)
    standby.wait_for("standby", SLOW)
    killed_at = kill_pod(leader)  # wrapper and guardian: nobody gives the lease back
    started = standby.wait_for("daemon-started", SLOW)
    waited = started["at"] - killed_at
    # The lease outlives its holder by its duration after the last renewal (<= 1 s before the kill).
    assert waited >= 6 - 1 - 0.5, waited
    standby.stop()


def test_a_leader_cut_off_from_the_api_server_stops_its_daemon_before_the_lease_can_expire(
        api: LeaseApiDouble, tmp_path: Path, template: Path) -> None:
    daemon = {"mode": "ha", "lease": {"duration": "8s", "renew_deadline": "4s", "retry_period": "1s"}}
    artifacts = kube_artifacts(template, tmp_path / "ha.json", daemon)
    leader, token = start_replica(api, "a", artifacts, tmp_path)
    leader.wait_for("daemon-started", SLOW)
    standby, _ = start_replica(api, "b", artifacts, tmp_path)
    standby.wait_for("standby", SLOW)
    guardian = guardian_of(leader)
    cut_at = time.time()
    api.partition(token)
    stopped = leader.wait_for("daemon-stopped", SLOW, reason="renew deadline")
    gone_at = wait_gone(guardian, 10)
    writes = [r for r in api.requests_of(token) if r.method in ("PUT", "POST") and r.status in (200, 201)]
    assert writes, [(r.method, r.status) for r in api.requests_of(token)]
    monotonic_renewal = max(r.at for r in writes)
    last_renewal = time.time() - (time.monotonic() - monotonic_renewal)  # the double records monotonic time
    # Stopped on its deadline, and gone before the lease (8 s after the last renewal) expired.
    assert gone_at < last_renewal + 8, (gone_at - last_renewal)
    assert stopped["at"] - cut_at < 4 + 1 + 3
    started = standby.wait_for("daemon-started", SLOW)
    assert started["at"] > gone_at, "the standby's daemon started while the cut-off leader's still ran"
    assert started["at"] >= last_renewal + 8 - 0.5, "the lease was taken before it expired"
    api.heal(token)
    leader.wait_for("standby", SLOW)  # back, it waits: no second daemon
    assert leader.daemon_pid() is None
    for replica in (standby, leader):
        replica.stop()


def test_a_missing_rbac_rule_is_an_error_that_names_it(api: LeaseApiDouble, tmp_path: Path, template: Path) -> None:
    artifacts = kube_artifacts(template, tmp_path / "ha.json")
    replica, _ = start_replica(api, "a", artifacts, tmp_path, verbs=("get",))
    assert replica.process.wait(timeout=SLOW) == 1
    stderr = "".join(replica.stderr)
    assert "RBAC forbids" in stderr and "leases" in stderr and "hint:" in stderr, stderr
    assert "Traceback" not in stderr
    assert not replica.has("daemon-started")
