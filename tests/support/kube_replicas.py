"""``floe daemon run`` replicas electing a leader on a Kubernetes Lease served by the API double.

Each replica gets a token file of its own (as each pod has its service account token), so the
double can fault one replica alone. The Lease double is the only stand-in: the wrappers, their
guardians and the daemon processes are real.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from tests.support.daemon_replicas import Replica, ha_artifacts, wait_gone
from tests.support.lease_api_double import LeaseApiDouble

NAMESPACE = "floe"
LEASE = "floe-dagster-daemon"
STAND_IN = ["sleep", "100000"]


def kube_artifacts(template: Path, target: Path, daemon: dict[str, Any] | None = None) -> Path:
    """Artifacts in mode ha; the storage is never opened by these replicas (the lease is the API's)."""
    return ha_artifacts(template, target, host="127.0.0.1", port=5432, database="unused", daemon=daemon)


def start_replica(api: LeaseApiDouble, name: str, artifacts: Path, folder: Path, *,
                  verbs: tuple[str, ...] | None = None, command: list[str] | None = None) -> tuple[Replica, str]:
    """A replica with its own token (allowed ``verbs`` on leases); returns it and its token."""
    token = api.register(verbs=verbs) if verbs is not None else api.register()
    token_file = folder / f"token-{name}"
    token_file.write_text(token, encoding="utf-8")
    replica = Replica.start(name, artifacts, "--kube-api", api.url, "--kube-token-file", str(token_file),
                            "--namespace", NAMESPACE, "--lease-name", LEASE, command=command or STAND_IN)
    return replica, token


def guardian_of(replica: Replica) -> int:
    """The pid of the guardian between the wrapper and its daemon (the 'daemon' pid it reports)."""
    pid = replica.daemon_pid()
    assert pid is not None, f"{replica.name} runs no daemon: {replica.kinds()}"
    return pid


def kill_pod(replica: Replica) -> float:
    """kill -9 the wrapper and its guardian at once, as when the pod or its node goes; the time."""
    guardian = guardian_of(replica)
    at = time.time()
    os.kill(guardian, signal.SIGKILL)
    replica.process.send_signal(signal.SIGKILL)
    replica.process.wait()
    wait_gone(guardian, 60)
    return at


def kube_pair_kill(template: Path, folder: Path, *, guardian_too: bool, slow: float = 180.0) -> float:
    """Seconds from kill -9 of a leader (and, with ``guardian_too``, its guardian) to the standby's daemon."""
    with LeaseApiDouble() as api:
        artifacts = kube_artifacts(template, folder / "kube.json")
        leader, _ = start_replica(api, "leader", artifacts, folder)
        leader.wait_for("daemon-started", slow)
        standby, _ = start_replica(api, "standby", artifacts, folder)
        standby.wait_for("standby", slow)
        try:
            killed = kill_pod(leader) if guardian_too else leader.kill9()
            return float(standby.wait_for("daemon-started", slow)["at"]) - killed
        finally:
            standby.stop()
