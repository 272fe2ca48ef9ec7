"""platform.yaml's orchestrator.daemon on Kubernetes: mode single and mode ha (issue 21).

The whole release is rendered with the official Dagster chart inside (reference copy), from
compiled artifacts declaring each mode, the way ``floe platform render`` does it (the umbrella)
and with the same generated values for floe-dagster alone; every object validates against the
Kubernetes schemas. single: the official daemon with a liveness probe on its heartbeat, timed
from platform.yaml. ha: floe's daemon Deployment under leader election, the official one gone,
and Dagster's instance (dagster.yaml) the same mapping as in mode single.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe.errors import FloeError
from tests.charts.helm_support import (
    assert_whole_release,
    build_charts,
    daemon_deployment,
    deep_merge,
    find,
    floe_images,
    load_yaml,
    pod_specs,
    release_values,
    render,
    require_official_chart,
)
from tests.charts.test_platform_render import _artifacts, _charts_copy

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) missing")

K8S_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
RELEASE = "shop"
LEASE = f"{RELEASE}-floe-daemon"
COMMAND = ["floe", "daemon", "run", "--election", "kubernetes", "--lease-name", LEASE,
           "--workspace", "/dagster-workspace/workspace.yaml", "--alive-file", "/tmp/floe-daemon.alive"]
SINGLE = {"mode": "single", "restart_timeout": "150s", "health_check_interval": "20s"}
HA = {"mode": "ha", "replicas": 3, "restart_timeout": "2m", "health_check_interval": "15s",
      "lease": {"duration": "20s", "renew_deadline": "12s", "retry_period": "3s"}}


def _daemon_artifacts(folder: Path, daemon: dict[str, Any]) -> Path:
    """Compiled artifacts of 'prod' (PostgreSQL storage) with ``daemon`` as orchestrator.daemon."""
    path = _artifacts(folder)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["environment"]["orchestrator"]["daemon"] = daemon
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _render_release(tmp: Path, daemon: dict[str, Any], env_values: dict | None = None) -> list[dict[str, Any]]:
    """``floe platform render --env prod`` of the umbrella, the official chart inside."""
    from floe.platform.helm.render import render_environment

    charts = _charts_copy(tmp, with_official_chart=True, env_values=env_values)
    result = render_environment(_daemon_artifacts(tmp / "project", daemon), charts, tmp / "out",
                                release=RELEASE, namespace="data")
    assert not result.notes, result.notes
    return [d for d in yaml.safe_load_all(result.manifests_path.read_text(encoding="utf-8")) if d]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    require_official_chart()
    return {mode: _render_release(tmp_path_factory.mktemp(mode), daemon)
            for mode, daemon in (("single", SINGLE), ("ha", HA))}


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """floe-dagster installed alone (its own official chart), with the values generated for it."""
    from floe.contract.io import load_artifacts
    from floe.platform.helm.generate import dagster_values

    require_official_chart()
    root = build_charts(tmp_path_factory.mktemp("standalone") / "charts", with_official_chart=True)
    defaults = load_yaml(root / "floe-dagster" / "values.yaml")
    env_file = load_yaml(root / "floe-dagster" / "values-prod.yaml")
    rendered = {}
    for mode, daemon in (("single", SINGLE), ("ha", HA)):
        path = _daemon_artifacts(tmp_path_factory.mktemp(f"alone-{mode}"), daemon)
        text = path.read_text(encoding="utf-8")
        generated = dagster_values(load_artifacts(path), text, deep_merge(defaults, env_file), declared=env_file)
        rendered[mode] = render("floe-dagster", deep_merge(release_values("floe-dagster", "prod"), generated), root,
                                release=RELEASE)
    return rendered


def _container(deployment: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return containers[0] if name is None else next(c for c in containers if c["name"] == name)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _instance(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return yaml.safe_load(find(documents, "ConfigMap", f"{RELEASE}-dagster-instance")["data"]["dagster.yaml"])


# --- both modes, both charts: the whole release, valid objects ----------------------------------

def _as_sent(value: Any) -> Any:
    """JSON null means absent to the API server (the official chart writes a few nulls)."""
    if isinstance(value, dict):
        return {k: _as_sent(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_as_sent(v) for v in value]
    return value


@pytest.mark.parametrize("mode", ["single", "ha"])
@pytest.mark.parametrize("chart", ["floe-runtime", "floe-dagster"])
def test_each_chart_renders_each_mode_as_a_whole_valid_release(releases, standalone, chart, mode):
    documents = (releases if chart == "floe-runtime" else standalone)[mode]
    assert_whole_release(documents)
    expected = f"{RELEASE}-dagster-daemon" if mode == "single" else LEASE
    assert daemon_deployment(documents)["metadata"]["name"] == expected
    assert floe_images(documents) == {"floe/dagster:0.1.0"}  # the ha daemon runs the one floe image
    checked = 0
    for document in map(_as_sent, documents):
        if "monitoring.coreos.com" in document["apiVersion"] or "external-secrets.io" in document["apiVersion"]:
            continue  # custom resources: test_release validates them against their CRDs
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{chart}/{mode} {document['kind']}/{document['metadata']['name']} against Kubernetes "
                            f"{version}: {'.'.join(map(str, exc.path))}: {exc.message}")
        checked += 1
    assert checked >= 15


# --- single ----------------------------------------------------------------------------------

def test_single_restarts_the_official_daemon_from_its_heartbeat_as_platform_yaml_says(releases):
    documents = releases["single"]
    assert not [d for d in documents if d["metadata"]["name"].startswith(LEASE)]
    daemon = find(documents, "Deployment", "-dagster-daemon")
    container = _container(daemon)
    # restart_timeout 150s: liveness-check fails past 30 s (Dagster's heartbeat interval) + tolerance.
    assert _env(container)["DAGSTER_DAEMON_HEARTBEAT_TOLERANCE"] == "120"
    probe = container["livenessProbe"]
    assert probe["exec"]["command"] == ["dagster-daemon", "liveness-check"]
    assert probe["periodSeconds"] == 20 and probe["failureThreshold"] == 1  # health_check_interval, act at once
    assert probe["initialDelaySeconds"] >= 150  # a restarted daemon gets restart_timeout to write heartbeats
    assert probe["timeoutSeconds"] >= 20  # the check starts Python and reads PostgreSQL
    rule = find(documents, "PrometheusRule")
    rules = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    alert = next(r for r in rules if r["alert"] == "FloeDagsterDaemonHeartbeatStale")
    assert alert["expr"].endswith("> 150")


@pytest.mark.integration
def test_the_tolerance_makes_dagsters_own_liveness_check_fail_exactly_past_restart_timeout(tmp_path):
    """Dagster's liveness-check, on a real instance: alive at restart_timeout - 1 s, dead at + 1 s."""
    from dagster import DagsterInstance
    from dagster._daemon.controller import all_daemons_live  # what `dagster-daemon liveness-check` calls
    from dagster._daemon.types import DaemonHeartbeat

    from floe.platform.helm.daemon_values import heartbeat_tolerance
    from floe.spec.daemon import OrchestratorDaemon

    daemon = OrchestratorDaemon.model_validate(SINGLE)
    tolerance = heartbeat_tolerance(daemon)
    with DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
        beat = 1_000_000.0
        for daemon_type in instance.get_required_daemon_types():
            instance.add_daemon_heartbeat(DaemonHeartbeat(beat, daemon_type, "test", errors=[]))
        assert instance.get_required_daemon_types()
        assert all_daemons_live(instance, curr_time_seconds=beat + 149, heartbeat_tolerance_seconds=tolerance)
        assert not all_daemons_live(instance, curr_time_seconds=beat + 151, heartbeat_tolerance_seconds=tolerance)


# --- ha ----------------------------------------------------------------------------------------

def _referenced(pod: dict[str, Any], kind: str) -> set[str]:
    """Names of the ConfigMaps or Secrets a pod spec mounts or reads."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if kind == "ConfigMap":
                found.update(value[k]["name"] for k in ("configMap", "configMapKeyRef", "configMapRef") if k in value)
            else:
                found.update(value[k]["name"] for k in ("secretKeyRef", "secretRef") if k in value)
                if isinstance(value.get("secret"), dict):
                    found.add(value["secret"]["secretName"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(pod)
    return found


def test_ha_runs_floes_daemons_under_a_lease_and_no_official_daemon(releases):
    documents = releases["ha"]
    names = {(d["kind"], d["metadata"]["name"]) for d in documents}
    assert ("Deployment", f"{RELEASE}-dagster-daemon") not in names
    assert ("ConfigMap", f"{RELEASE}-dagster-daemon-env") not in names
    deployment = find(documents, "Deployment", LEASE)
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    pod = spec["template"]["spec"]
    container = _container(deployment, "daemon")
    assert container["command"] == COMMAND
    assert container["image"] == "floe/dagster:0.1.0"
    env = _env(container)
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["FLOE_ARTIFACTS_PATH"] == "/opt/floe/artifacts/artifacts.json"
    assert env["DAGSTER_DAEMON_HEARTBEAT_TOLERANCE"] == "90"  # restart_timeout 2m less Dagster's 30 s
    assert env["DAGSTER_PG_PASSWORD"]["secretKeyRef"]["key"] == "postgresql-password"
    probe = container["livenessProbe"]
    # The wrapper's loop, not the instance's heartbeats (the wrapper restarts a hung daemon itself;
    # a heartbeat probe would restart every standby whenever the leader hangs).
    alive = "test $(( $(date +%s) - $(stat -c %Y /tmp/floe-daemon.alive) )) -lt 30"
    assert probe["exec"]["command"] == ["sh", "-c", alive]
    assert container["readinessProbe"]["exec"]["command"] == ["sh", "-c", alive]
    assert (probe["periodSeconds"], probe["initialDelaySeconds"]) == (15, 120)
    assert probe["failureThreshold"] == 1 + 2  # a takeover (lease 20 s) may add two periods of heartbeat age
    assert pod["terminationGracePeriodSeconds"] >= 30

    # Spread: nodes first, then zones, preferred only.
    terms = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    labels = spec["template"]["metadata"]["labels"]
    assert {(t["weight"], t["podAffinityTerm"]["topologyKey"]) for t in terms} == {
        (100, "kubernetes.io/hostname"), (50, "topology.kubernetes.io/zone")}
    for term in terms:
        assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= labels.items()
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in pod["affinity"]["podAntiAffinity"]

    # dagster.yaml from the official chart's instance ConfigMap, inside DAGSTER_HOME; the workspace as a folder.
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    instance_mount = next(m for m in mounts.values() if m["mountPath"] == f"{env['DAGSTER_HOME']}/dagster.yaml")
    assert instance_mount["subPath"] == "dagster.yaml"
    assert volumes[instance_mount["name"]]["configMap"]["name"] == f"{RELEASE}-dagster-instance"
    workspace = next(m for m in mounts.values() if m["mountPath"].rstrip("/") == "/dagster-workspace")
    assert volumes[workspace["name"]]["configMap"]["name"] == f"{RELEASE}-dagster-workspace-yaml"
    assert any(m["mountPath"] == "/opt/floe/artifacts" for m in mounts.values())  # artifacts.json staged there


def test_ha_pods_name_only_objects_the_release_has(releases):
    """Every ConfigMap the daemon pods mount is rendered; every Secret they read is one the official
    webserver or the code location already reads (the release's documented external Secrets)."""
    documents = releases["ha"]
    pod = find(documents, "Deployment", LEASE)["spec"]["template"]["spec"]
    rendered = {d["metadata"]["name"] for d in documents if d["kind"] == "ConfigMap"}
    assert _referenced(pod, "ConfigMap") <= rendered, _referenced(pod, "ConfigMap") - rendered
    others = set()
    for suffix in ("-dagster-webserver", "-dagster-user-deployments-floe"):
        others |= _referenced(pod_specs(find(documents, "Deployment", suffix))[0], "Secret")
    assert _referenced(pod, "Secret") and _referenced(pod, "Secret") <= others


def test_ha_lease_rights_go_to_the_service_account_the_pods_use(releases):
    documents = releases["ha"]
    pod = find(documents, "Deployment", LEASE)["spec"]["template"]["spec"]
    webserver = pod_specs(find(documents, "Deployment", "-dagster-webserver"))[0]
    account = pod["serviceAccountName"]
    assert account == webserver["serviceAccountName"]  # the official chart's: it launches run Jobs too
    find(documents, "ServiceAccount", account)
    assert pod["automountServiceAccountToken"] is True
    role = find(documents, "Role", f"{LEASE}-lease")
    for rule in role["rules"]:
        assert rule["apiGroups"] == ["coordination.k8s.io"] and rule["resources"] == ["leases"], rule
        assert set(rule["verbs"]) <= {"get", "create", "update"}, rule
        if set(rule["verbs"]) & {"get", "update"}:
            assert rule["resourceNames"] == [COMMAND[COMMAND.index("--lease-name") + 1]]
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {"get", "create", "update"}
    binding = find(documents, "RoleBinding", f"{LEASE}-lease")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{LEASE}-lease"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "data"}]


def test_ha_disruption_budget_drains_one_daemon_pod_at_a_time(releases):
    documents = releases["ha"]
    budget = find(documents, "PodDisruptionBudget", LEASE)
    assert budget["spec"]["maxUnavailable"] == 1 and "minAvailable" not in budget["spec"]
    pods = find(documents, "Deployment", LEASE)["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= pods.items()


# --- the instance is the same in both modes ----------------------------------------------------

def test_dagster_yaml_is_the_same_mapping_in_both_modes(releases):
    single, ha = _instance(releases["single"]), _instance(releases["ha"])
    assert single == ha
    assert ha["run_coordinator"]["class"] == "QueuedRunCoordinator" and ha["run_monitoring"]["enabled"] is True


def test_dagster_yaml_stays_the_same_with_the_environments_own_daemon_settings(tmp_path):
    """Every rule of the official chart's instance template, exercised: settings an environment may
    give the official daemon reach dagster.yaml the same way when floe's ha daemons run instead."""
    require_official_chart()
    settings = {"dagster": {"dagsterDaemon": {
        "runCoordinator": {"config": {"queuedRunCoordinator": {
            "maxConcurrentRuns": 0, "dequeueIntervalSeconds": 7, "dequeueUseThreads": False,
            "tagConcurrencyLimits": [{"key": "dbt", "value": {"applyLimitPerUniqueValue": True}, "limit": 2}],
            "blockOpConcurrencyLimitedRuns": {"enabled": True, "opConcurrencySlotBuffer": 1}}}},
        "runMonitoring": {"maxRuntimeSeconds": 7200, "cancelTimeoutSeconds": 120, "maxResumeRunAttempts": None},
        "runRetries": {"maxRetries": 2, "retryOnAssetOrOpFailure": False},
        "sensors": {"numSubmitWorkers": 2},
        "schedules": {"useThreads": False},
        "backfills": {"useThreads": True, "numWorkers": 2}}}}
    single = _instance(_render_release(tmp_path / "single", SINGLE, settings))
    ha = _instance(_render_release(tmp_path / "ha", HA, settings))
    assert single == ha
    assert single["run_coordinator"]["config"]["tag_concurrency_limits"][0]["limit"] == 2  # the settings arrived
    assert single["backfills"] == {"use_threads": True, "num_workers": 2} and "schedules" not in single
    off = {"dagster": {"dagsterDaemon": {"runMonitoring": {"enabled": False}}}}
    single = _instance(_render_release(tmp_path / "single-off", SINGLE, off))
    assert single == _instance(_render_release(tmp_path / "ha-off", HA, off))
    assert "run_monitoring" not in single
    # Without the run queue the official chart names a private Dagster class; ha refuses it.
    no_queue = {"dagster": {"dagsterDaemon": {"runCoordinator": {"enabled": False}}}}
    with pytest.raises(FloeError, match=r"runCoordinator\.enabled is false"):
        _render_release(tmp_path / "ha-no-queue", HA, no_queue)


# --- one source: platform.yaml -------------------------------------------------------------------

@pytest.mark.parametrize(("daemon", "declared", "named"), [
    (SINGLE, {"dagster": {"dagsterDaemon": {"heartbeatTolerance": 300}}}, "dagster.dagsterDaemon.heartbeatTolerance"),
    (SINGLE, {"dagster": {"dagsterDaemon": {"livenessProbe": {"periodSeconds": 10}}}},
     "dagster.dagsterDaemon.livenessProbe"),
    (SINGLE, {"floe-dagster": {"daemon": {"ha": {"enabled": True}}}}, "floe-dagster.daemon.ha.enabled"),
    (HA, {"floe-dagster": {"daemon": {"ha": {"replicas": 5}}}}, "floe-dagster.daemon.ha.replicas"),
    (HA, {"floe-dagster": {"monitoring": {"prometheusRule": {"daemonHeartbeatAgeSeconds": 600}}}},
     "floe-dagster.monitoring.prometheusRule.daemonHeartbeatAgeSeconds"),
    (HA, {"dagster": {"dagsterDaemon": {"enabled": True}}}, "dagster.dagsterDaemon.enabled is true"),
    (HA, {"dagster": {"additionalInstanceConfig": {"run_coordinator": {"class": "X"}}}},
     "dagster.additionalInstanceConfig sets run_coordinator"),
], ids=["tolerance", "probe", "ha-switch", "replicas", "alert", "official-daemon", "instance-block"])
def test_a_daemon_setting_in_the_values_and_in_platform_yaml_is_refused(tmp_path, daemon, declared, named):
    from floe.platform.helm.render import render_environment

    charts = _charts_copy(tmp_path, with_official_chart=False, env_values=declared)
    with pytest.raises(FloeError, match=r"orchestrator\.daemon") as caught:
        render_environment(_daemon_artifacts(tmp_path / "project", daemon), charts, tmp_path / "out")
    assert named in caught.value.message
    assert caught.value.hint and "remove" in caught.value.hint
    assert not (tmp_path / "out").exists()


def test_the_workload_check_wants_exactly_one_daemon():
    from floe.platform.helm.runtime_values import dagster_workload_problems

    base = {"dagster": {"dagster-user-deployments": {"deployments": [{"name": "floe"}]}}}
    official_off = {"dagster": {"dagsterDaemon": {"enabled": False}}}
    floe_on = {"floe-dagster": {"daemon": {"ha": {"enabled": True}}}}
    assert dagster_workload_problems(base) == []
    assert dagster_workload_problems(deep_merge(base, deep_merge(official_off, floe_on))) == []
    [(path, message)] = dagster_workload_problems(deep_merge(base, official_off))
    assert path == "dagster.dagsterDaemon.enabled" and "orchestrator.daemon.mode: ha" in message
    [(path, message)] = dagster_workload_problems(deep_merge(base, floe_on))
    assert path == "floe-dagster.daemon.ha.enabled" and "outside the leader election" in message


@pytest.fixture(scope="module")
def release_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_official_chart()
    return build_charts(tmp_path_factory.mktemp("helm-alone") / "charts", with_official_chart=True)


@pytest.mark.parametrize("chart", ["floe-runtime", "floe-dagster"])
def test_helm_alone_refuses_two_daemons_or_a_lost_run_queue(release_root, chart):
    """Without `floe platform render` (Argo CD, Flux, helm install), the charts themselves refuse."""
    import helm_python as helm

    floe_key = {"floe-runtime": lambda v: {"floe-dagster": v}, "floe-dagster": lambda v: v}[chart]
    values = deep_merge(release_values(chart, "prod"), floe_key({"daemon": {"ha": {"enabled": True}}}))
    with pytest.raises(helm.HelmError, match=r"daemon\.ha\.enabled and dagster\.dagsterDaemon\.enabled are both on"):
        render(chart, values, release_root)
    values = deep_merge(values, {"dagster": {"dagsterDaemon": {"enabled": False}}})
    with pytest.raises(helm.HelmError, match=r"additionalInstanceConfig\.run_coordinator"):
        render(chart, values, release_root)


# --- the charts' defaults are what platform.yaml's defaults make -----------------------------------

def test_chart_defaults_are_platform_yamls_defaults():
    """A Helm-alone install (no `floe platform render`) honours a default orchestrator.daemon."""
    from floe.platform.helm.daemon_values import heartbeat_tolerance, liveness_probe_timing
    from floe.spec.daemon import OrchestratorDaemon
    from tests.charts.helm_support import CHARTS_DIR

    values = load_yaml(CHARTS_DIR / "floe-dagster" / "values.yaml")
    single, ha = OrchestratorDaemon(), OrchestratorDaemon(mode="ha")
    official = values["dagster"]["dagsterDaemon"]
    assert official["heartbeatTolerance"] == heartbeat_tolerance(single)
    assert {k: v for k, v in official["livenessProbe"].items() if k != "exec"} == liveness_probe_timing(single)
    floe_ha = values["daemon"]["ha"]
    assert (floe_ha["replicas"], floe_ha["heartbeatTolerance"]) == (ha.replica_count, heartbeat_tolerance(ha))
    assert floe_ha["livenessProbe"] == liveness_probe_timing(ha)
    assert values["monitoring"]["prometheusRule"]["daemonHeartbeatAgeSeconds"] == 120


@pytest.mark.process
def test_the_ha_pods_command_is_what_floe_daemon_run_accepts(releases, tmp_path, floe) -> None:
    """The rendered container's own argv and plain env values, run by the real CLI here: every
    flag parses, the contract is read from the pod's FLOE_ARTIFACTS_PATH, and the store chosen
    is the Kubernetes Lease — which, outside a pod, is refused with a message (exit 1)."""
    deployment = find(releases["ha"], "Deployment", f"{RELEASE}-floe-daemon")
    container = _container(deployment, "daemon")
    artifacts = _daemon_artifacts(tmp_path / "project", HA)
    env = {name: value for name, value in _env(container).items() if isinstance(value, str)}
    env.update(FLOE_ARTIFACTS_PATH=str(artifacts), POD_NAME="shop-floe-daemon-0", POD_NAMESPACE="data",
               DAGSTER_HOME=str(tmp_path))
    assert container["command"][0] == "floe"
    result = floe(*container["command"][1:], cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    assert "not running in a pod" in result.stderr and "Traceback" not in result.stderr
