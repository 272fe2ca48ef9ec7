"""Dagster's daemon on Kubernetes, from ``orchestrator.daemon`` of the compiled artifacts.

* ``single``: the official chart's daemon Deployment (one pod, Recreate), restarted by its
  liveness probe, ``dagster-daemon liveness-check``, when the newest heartbeat of a daemon the
  instance needs is older than ``restart_timeout``. The probe runs every
  ``health_check_interval`` and acts on the first failure, so a hung daemon is restarted at most
  ``restart_timeout + health_check_interval`` (plus the check's own run) after its last heartbeat.
* ``ha``: the official chart's daemon is off (its Deployment is fixed at one replica, Recreate,
  and a fixed command). floe-dagster's ``daemon.ha`` Deployment runs ``floe daemon run
  --election kubernetes`` in ``replicas`` pods; only the pod holding the Kubernetes Lease runs
  ``dagster-daemon``. The instance blocks the official chart writes into ``dagster.yaml`` only
  while its daemon is on (run queue, run monitoring, run retries, sensor and schedule threads)
  are written into ``dagster.additionalInstanceConfig`` instead, computed here from the same
  values, so ``dagster.yaml`` is the same mapping in both modes.

Each value written here has one source, platform.yaml: the same value set in the environment's
Helm values is refused (as ``_tick_retention`` in :mod:`floe.platform.helm.generate` does). The
module also holds the model of floe-dagster's ``daemon`` values (``HaDaemon``), which
``make generate`` turns into the chart's schema.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import yaml
from pydantic import Field

from floe.contract.v1 import ArtifactsV1
from floe.errors import FloeError
from floe.platform.helm.values_common import HelmModel, OptionalK8sName, Probe, ResourceAmounts, Resources, dig
from floe.platform.helm.values_common import mapping_at as _mapping
from floe.spec.daemon import OrchestratorDaemon

LIVENESS_CHECK = ("dagster-daemon", "liveness-check")
# The check starts a Python process that imports Dagster and reads the heartbeats from
# PostgreSQL: 2-5 s on an idle node, far more on a loaded one. A timeout counts as a failure and
# the probe acts on the first one, so a short timeout would restart healthy daemons.
LIVENESS_TIMEOUT_SECONDS = 30


def _seconds(value: timedelta) -> int:
    """Whole seconds, rounded up (probe and tolerance fields take integers)."""
    return math.ceil(value.total_seconds())


def heartbeat_tolerance(daemon: OrchestratorDaemon) -> int:
    """``DAGSTER_DAEMON_HEARTBEAT_TOLERANCE`` that makes the check fail past ``restart_timeout``.

    ``dagster-daemon liveness-check`` calls a daemon dead when ``now > heartbeat + 30 s +
    tolerance`` (30 s: Dagster's heartbeat interval, added by Dagster itself), so the tolerance is
    ``restart_timeout`` less that interval. The spec keeps ``restart_timeout`` at 120 s or more,
    so this is at least 90.
    """
    return daemon.heartbeat_tolerance_s


def liveness_probe_timing(daemon: OrchestratorDaemon) -> dict[str, int]:
    """Timing of the liveness probe running ``dagster-daemon liveness-check``.

    The first probe waits ``restart_timeout``: a daemon that has just (re)started finds the old,
    stale heartbeats and needs that long to write its first ones. In mode ``ha`` the same timing
    drives the probes of the wrapper's alive file (templates/daemon-ha.yaml), with one more
    failure allowed per lease duration: restarting a wrapper is never urgent (it restarts a hung
    daemon itself), and a pod restarted during a takeover would only slow it down.
    """
    period = _seconds(daemon.health_check_interval)
    failures = 1
    if daemon.mode == "ha":
        failures += math.ceil(daemon.lease_timing.duration.total_seconds() / period)
    return {"initialDelaySeconds": _seconds(daemon.restart_timeout), "periodSeconds": period,
            "timeoutSeconds": LIVENESS_TIMEOUT_SECONDS, "failureThreshold": failures}


def daemon_values(artifacts: ArtifactsV1, chart_values: dict[str, Any], declared: dict[str, Any],
                  prefix: str = "") -> dict[str, Any]:
    """Overrides for floe-dagster's layout (``dagster:`` is the official chart) from orchestrator.daemon.

    Args:
        artifacts: The compiled contract of the environment.
        chart_values: floe-dagster's merged values (chart defaults, then the environment's files).
        declared: The environment's own values file alone, same layout: what it sets explicitly.
        prefix: How floe-dagster's own keys are written in the values file ("floe-dagster." in
            the umbrella), for the messages.

    Raises:
        FloeError: the environment's values set a value that platform.yaml's orchestrator.daemon
            owns (two sources for one setting).
    """
    daemon = artifacts.environment.orchestrator.daemon
    _refuse_second_sources(artifacts, declared, chart_values, prefix)
    dagster = _mapping(chart_values, "dagster")
    age_alert = {"monitoring": {"prometheusRule": {"daemonHeartbeatAgeSeconds": _seconds(daemon.restart_timeout)}}}
    if daemon.mode == "single":
        probe = {"exec": {"command": list(LIVENESS_CHECK)}, **liveness_probe_timing(daemon)}
        official = {"heartbeatTolerance": heartbeat_tolerance(daemon), "livenessProbe": probe}
        return {"dagster": {"dagsterDaemon": official}, **age_alert}
    ha: dict[str, Any] = {"enabled": True, "replicas": daemon.replica_count,
                          "heartbeatTolerance": heartbeat_tolerance(daemon),
                          "livenessProbe": liveness_probe_timing(daemon)}
    ha.update(_official_names(dagster, _mapping(chart_values, "daemon", "ha")))
    return {"dagster": {"dagsterDaemon": {"enabled": False},
                        "additionalInstanceConfig": official_daemon_instance(dagster)},
            "daemon": {"ha": ha}, **age_alert}


# Values platform.yaml's orchestrator.daemon owns: (where, key path). "dagster" paths read the same
# in both charts; "floe" paths are floe-dagster's own keys (prefixed in the umbrella).
_OWNED = (
    ("dagster", ("dagsterDaemon", "heartbeatTolerance")),
    ("dagster", ("dagsterDaemon", "livenessProbe")),
    ("floe", ("daemon", "ha", "enabled")),
    ("floe", ("daemon", "ha", "replicas")),
    ("floe", ("daemon", "ha", "heartbeatTolerance")),
    ("floe", ("daemon", "ha", "livenessProbe")),
    ("floe", ("monitoring", "prometheusRule", "daemonHeartbeatAgeSeconds")),
)


def _refuse_second_sources(artifacts: ArtifactsV1, declared: dict[str, Any], chart_values: dict[str, Any],
                           prefix: str) -> None:
    env = artifacts.environment_name
    daemon = artifacts.environment.orchestrator.daemon
    spec = f"environments.{env}.orchestrator.daemon"
    setting = (f"mode {daemon.mode}, restart_timeout {_seconds(daemon.restart_timeout)}s, "
               f"health_check_interval {_seconds(daemon.health_check_interval)}s")
    for side, keys in _OWNED:
        root = ("dagster", *keys) if side == "dagster" else keys
        if dig(declared, *root) is not None:
            path = ".".join(root) if side == "dagster" else prefix + ".".join(keys)
            raise FloeError(
                f"{path} is set in the Helm values of '{env}' while platform.yaml sets {spec} ({setting}): "
                "one setting, two sources",
                hint=f"remove {path} from the values of '{env}': 'floe platform render' writes it from {spec} "
                f"(change restart_timeout, health_check_interval, mode or replicas there)",
            )
    if daemon.mode != "ha":
        return
    if dig(declared, "dagster", "dagsterDaemon", "enabled") is True:
        raise FloeError(
            f"dagster.dagsterDaemon.enabled is true in the Helm values of '{env}' while {spec}.mode is ha: the "
            "official chart's daemon would run beside floe's, outside the leader election (every schedule "
            "would tick twice)",
            hint="remove dagster.dagsterDaemon.enabled from the values ('floe platform render' turns the "
            f"official daemon off in mode ha), or set {spec}.mode: single in platform.yaml",
        )
    extra = _mapping(declared, "dagster", "additionalInstanceConfig")
    taken = sorted(set(extra) & set(official_daemon_instance(_mapping(chart_values, "dagster"))))
    if taken:
        raise FloeError(
            f"dagster.additionalInstanceConfig sets {', '.join(taken)} in the Helm values of '{env}' while {spec}."
            "mode is ha: floe writes those instance blocks there from dagster.dagsterDaemon (one setting, "
            "two sources)",
            hint=f"remove {', '.join(taken)} from dagster.additionalInstanceConfig and set them as the official "
            "chart's dagster.dagsterDaemon values (runCoordinator, runMonitoring, runRetries, sensors, schedules)",
        )


def _official_names(dagster: dict[str, Any], ha: dict[str, Any]) -> dict[str, str]:
    """The official chart's ServiceAccount and workspace ConfigMap, where its own values rename them.

    floe-dagster's template derives both from Helm's shared ``global`` values (all it can see
    inside the umbrella); a name set in the official chart's own block is passed on here.
    """
    names = {}
    account = dig(dagster, "global", "serviceAccountName") or dig(dagster, "serviceAccount", "name")
    if account and not ha.get("serviceAccountName"):
        names["serviceAccountName"] = str(account)
    workspace = _mapping(dagster, "dagsterWebserver", "workspace")
    if workspace.get("enabled") and workspace.get("externalConfigmap") and not ha.get("workspaceConfigMap"):
        names["workspaceConfigMap"] = str(workspace["externalConfigmap"])
    return names


# --- floe-dagster's `daemon` values ------------------------------------------------------------

def _daemon_resources() -> Resources:
    # The official daemon's (dagster.dagsterDaemon.resources): the same dagster-daemon runs inside.
    return Resources(requests=ResourceAmounts(cpu="250m", memory="512Mi"),
                     limits=ResourceAmounts(cpu="1", memory="1Gi"))


def _daemon_liveness() -> Probe:
    # What `floe platform render` writes for platform.yaml's defaults (restart_timeout 120s,
    # health_check_interval 30s, lease duration 15s): floe.platform.helm.daemon_values.
    return Probe(initial_delay_seconds=120, period_seconds=30, timeout_seconds=30, failure_threshold=2)


def _daemon_readiness() -> Probe:
    return Probe(initial_delay_seconds=30, period_seconds=30, timeout_seconds=30, failure_threshold=3)


class HaDaemon(HelmModel):
    """floe's daemon Deployment of platform.yaml's ``orchestrator.daemon.mode: ha`` (templates/daemon-ha.yaml).

    ``replicas`` pods run ``floe daemon run --election kubernetes``; only the one holding the
    Lease ``<release>-floe-daemon`` runs ``dagster-daemon``. ``floe platform render`` fills
    ``enabled``, ``replicas``, ``heartbeatTolerance`` and ``livenessProbe`` from platform.yaml (and
    refuses them in an environment's values), turns the official chart's daemon off and moves its
    instance settings into ``dagster.additionalInstanceConfig``.
    """

    enabled: bool = Field(
        default=False,
        description="Run floe's daemons under leader election. Needs dagster.dagsterDaemon.enabled: false (two "
        "daemons outside the election would tick every schedule twice).",
    )
    replicas: int = Field(default=2, ge=2, le=7, description="Daemon pods: one active, the others on standby.")
    heartbeat_tolerance: int = Field(
        default=90, ge=1,
        description="DAGSTER_DAEMON_HEARTBEAT_TOLERANCE in seconds: dagster-daemon liveness-check fails when a "
        "heartbeat is older than 30 s (Dagster's interval) plus this, i.e. past restart_timeout.",
    )
    liveness_probe: Probe = Field(
        default_factory=_daemon_liveness,
        description="Timing of the liveness probe (the wrapper's alive file; the wrapper itself restarts a "
        "dagster-daemon whose heartbeat goes stale).",
    )
    readiness_probe: Probe = Field(
        default_factory=_daemon_readiness,
        description="Timing of the readiness probe (the wrapper's alive file: leader or standby, it works).",
    )
    alive_within_seconds: int = Field(
        default=30, ge=5, le=600,
        description="The probes fail when the wrapper's alive file (touched every second while its loop turns) is "
        "older than this.",
    )
    termination_grace_period_seconds: int = Field(
        default=30, ge=10,
        description="Time for the wrapper to stop its dagster-daemon and give the lease back on shutdown.",
    )
    resources: Resources = Field(default_factory=_daemon_resources, description="Resources of the daemon container.")
    service_account_name: OptionalK8sName = Field(
        default="",
        description="ServiceAccount of the pods (it launches the run Jobs and holds the Lease); empty: the official "
        "chart's, global.serviceAccountName or <release>-dagster.",
    )
    workspace_config_map: OptionalK8sName = Field(
        default="",
        description="ConfigMap holding workspace.yaml; empty: the official chart's <release>-dagster-workspace-yaml.",
    )


class Daemon(HelmModel):
    """Dagster's daemon beyond the official chart's (which ``dagster.dagsterDaemon`` configures)."""

    ha: HaDaemon = Field(default_factory=HaDaemon, description="Several daemon pods under leader election.")


# --- the instance blocks of the official chart's daemon -------------------------------------------

def official_daemon_instance(dagster: dict[str, Any]) -> dict[str, Any]:
    """The ``dagster.yaml`` blocks the official chart renders from ``dagsterDaemon.*`` while its
    daemon is enabled (templates/configmap-instance.yaml and helpers/instance/_run-coordinator.tpl
    of the chart), from that chart's merged values ``dagster``.

    Mirrors the templates' rules: Go templates treat false, 0, "", null and empty collections as
    unset; a value printed inline is read back by YAML (so "4" becomes 4).
    """
    daemon = _mapping(dagster, "dagsterDaemon")
    blocks: dict[str, Any] = {"run_coordinator": _run_coordinator(_mapping(daemon, "runCoordinator"))}
    monitoring = _mapping(daemon, "runMonitoring")
    if monitoring.get("enabled"):
        block = {"enabled": _inline(monitoring["enabled"]),
                 "start_timeout_seconds": _inline(monitoring.get("startTimeoutSeconds"))}
        for key, name in (("cancelTimeoutSeconds", "cancel_timeout_seconds"),
                          ("maxRuntimeSeconds", "max_runtime_seconds"),
                          ("maxResumeRunAttempts", "max_resume_run_attempts")):
            if monitoring.get(key) is not None:
                block[name] = _inline(monitoring[key])
        block["poll_interval_seconds"] = _inline(monitoring.get("pollIntervalSeconds"))
        block["free_slots_after_run_end_seconds"] = _inline(monitoring.get("freeSlotsAfterRunEndSeconds"))
        blocks["run_monitoring"] = block
    retries = _mapping(daemon, "runRetries")
    if retries.get("enabled"):
        block = {"enabled": _inline(retries["enabled"])}
        if retries.get("maxRetries"):
            block["max_retries"] = _inline(retries["maxRetries"])
        if retries.get("retryOnAssetOrOpFailure") is not None:
            block["retry_on_asset_or_op_failure"] = _inline(retries["retryOnAssetOrOpFailure"])
        blocks["run_retries"] = block
    for key, name in (("sensors", "sensors"), ("schedules", "schedules")):
        threads = _mapping(daemon, key)
        if threads.get("useThreads"):
            blocks[name] = _threads(threads)
    backfills = _mapping(daemon, "backfills")
    if backfills:
        blocks["backfills"] = _threads(backfills)
    return blocks


def _run_coordinator(coordinator: dict[str, Any]) -> dict[str, Any] | None:
    if not coordinator.get("enabled"):
        # The official chart would name a class of Dagster's private modules here, which floe
        # does not write outside its fence; and without the queue, runs launched from the UI would
        # start in the webserver, not under the daemon that leads.
        raise FloeError("dagster.dagsterDaemon.runCoordinator.enabled is false, which orchestrator.daemon mode ha "
                        "cannot keep: floe's leader-elected daemons run the run queue",
                        hint="remove dagster.dagsterDaemon.runCoordinator.enabled: false from the values (limit "
                        "runs with its maxConcurrentRuns instead), or use daemon mode single")
    kind = coordinator.get("type")
    config = _mapping(coordinator, "config")
    if kind == "CustomRunCoordinator":
        custom = _mapping(config, "customRunCoordinator")
        return {"module": str(custom.get("module") or ""), "class": str(custom.get("class") or ""),
                "config": custom.get("config")}
    if kind != "QueuedRunCoordinator":
        return None  # the chart writes an empty run_coordinator: for any other type
    queued = _mapping(config, "queuedRunCoordinator")
    block: dict[str, Any] = {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"}
    if not any(queued.values()):
        return block
    limit = queued.get("maxConcurrentRuns")
    settings: dict[str, Any] = {"max_concurrent_runs": -1 if limit is None else _inline(limit)}
    if queued.get("tagConcurrencyLimits"):
        settings["tag_concurrency_limits"] = queued["tagConcurrencyLimits"]
    for key, name in (("dequeueIntervalSeconds", "dequeue_interval_seconds"),
                      ("dequeueUseThreads", "dequeue_use_threads"),
                      ("dequeueNumWorkers", "dequeue_num_workers")):
        if queued.get(key):
            settings[name] = _inline(queued[key])
    blocking = queued.get("blockOpConcurrencyLimitedRuns")
    if blocking:
        settings["block_op_concurrency_limited_runs"] = {
            "enabled": _inline(blocking.get("enabled")),
            "op_concurrency_slot_buffer": _inline(blocking.get("opConcurrencySlotBuffer"))}
    block["config"] = settings
    return block


def _threads(settings: dict[str, Any]) -> dict[str, Any]:
    block = {"use_threads": _inline(settings.get("useThreads"))}
    if settings.get("numWorkers"):
        block["num_workers"] = _inline(settings["numWorkers"])
    if settings.get("numSubmitWorkers"):
        block["num_submit_workers"] = _inline(settings["numSubmitWorkers"])
    return block


def _inline(value: Any) -> Any:
    """A scalar as ``key: {{ value }}`` in a template leaves it once YAML reads it back."""
    if isinstance(value, str):
        return yaml.safe_load(value) if value.strip() else None
    return value
