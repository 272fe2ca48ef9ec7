"""Changing one value changes exactly the object it should."""

from __future__ import annotations

from tests.charts.helm_support import deep_merge, env_values, find, pod_specs, render


def _dagster(charts_root, **override):
    return render("floe-dagster", deep_merge(env_values("floe-dagster", "prod"), override), charts_root)


def test_pdb_max_unavailable_follows_the_value(charts_root):
    before = find(_dagster(charts_root), "PodDisruptionBudget", "-webserver")
    assert before["spec"]["maxUnavailable"] == 1
    after = _dagster(charts_root, disruptionBudgets={"webserver": {"maxUnavailable": 2}})
    assert find(after, "PodDisruptionBudget", "-webserver")["spec"]["maxUnavailable"] == 2
    webserver = find(after, "PodDisruptionBudget", "-webserver")["spec"]["selector"]["matchLabels"]
    assert webserver == {"app.kubernetes.io/instance": "shop", "component": "dagster-webserver"}


def test_the_hook_runs_preflight_and_follows_the_command_value(charts_root):
    hook = find(_dagster(charts_root), "Job", "-preflight")
    assert hook["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = pod_specs(hook)[0]["containers"][0]
    assert container["command"] == ["floe", "preflight", "--all", "--json", "--timeout", "10"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["FLOE_ARTIFACTS_PATH"] == "/opt/floe/artifacts/artifacts.json"
    assert env["FLOE_PROJECT_DIR"] == "/opt/floe/project"
    changed = find(_dagster(charts_root, preflight={"command": ["floe", "preflight", "--all", "--json", "--strict"]}),
                   "Job", "-preflight")
    assert pod_specs(changed)[0]["containers"][0]["command"][-1] == "--strict"
    assert not [d for d in _dagster(charts_root, preflight={"enabled": False})
                if d["kind"] == "Job" and d["metadata"]["name"].endswith("-preflight")]


def test_the_hook_reads_the_artifacts_from_its_own_hook_configmap(charts_root):
    documents = _dagster(charts_root)
    hook_map = find(documents, "ConfigMap", "-preflight-artifacts")
    assert hook_map["metadata"]["annotations"]["helm.sh/hook-weight"] == "-5"
    assert hook_map["data"] == find(documents, "ConfigMap", "floe-artifacts")["data"]
    volumes = {v["name"]: v for v in pod_specs(find(documents, "Job", "-preflight"))[0]["volumes"]}
    assert volumes["floe-artifacts"]["configMap"]["name"] == hook_map["metadata"]["name"]


def test_run_pod_memory_follows_the_value(charts_root):
    def memory(values):
        documents = render("floe-jobs", deep_merge(env_values("floe-jobs", "prod"), values), charts_root)
        cron = find(documents, "CronJob", "-nightly-build")
        return pod_specs(cron)[0]["containers"][0]["resources"]["limits"]["memory"]

    assert memory({}) == "4Gi"
    assert memory({"runPod": {"resources": {"limits": {"memory": "6Gi"}}}}) == "6Gi"


def test_pipeline_jobs_run_the_command_of_their_kind(charts_root):
    documents = render("floe-jobs", env_values("floe-jobs", "prod"), charts_root)
    quality = pod_specs(find(documents, "CronJob", "-quality"))[0]["containers"][0]
    assert quality["command"] == ["floe", "run", "--select", "resource_type:test"]
    assert quality["resources"]["limits"]["memory"] == "2Gi"  # its own override
    demo = render("floe-jobs", env_values("floe-jobs", "demo"), charts_root)
    batch = find(demo, "CronJob", "-demo-batch")
    assert batch["spec"]["schedule"] == "*/5 * * * *"
    assert pod_specs(batch)[0]["containers"][0]["command"][:3] == ["floe", "demo", "run"]


def test_prod_alerts_carry_the_deployment_view_thresholds(charts_root):
    rule = find(_dagster(charts_root), "PrometheusRule")
    expressions = {r["alert"]: r["expr"] for r in rule["spec"]["groups"][0]["rules"]}
    assert "[1h])) > 5" in expressions["FloeDagsterRunsFailing"]
    assert "> 3600" in expressions["FloeDagsterRunsSlow"]
    # The deployment view says 60 s; Dagster 1.13's scheduler beats about once a minute, so the
    # alert follows orchestrator.daemon.restart_timeout (default and least 120 s) instead.
    assert "> 120" in expressions["FloeDagsterDaemonHeartbeatStale"]
    assert "> 0.9" in expressions["FloeContainerMemoryNearLimit"]
    changed = find(_dagster(charts_root, monitoring={"prometheusRule": {"failedRunsPerHour": 9}}), "PrometheusRule")
    assert "[1h])) > 9" in changed["spec"]["groups"][0]["rules"][0]["expr"]


def test_backup_runs_every_six_hours_and_reads_the_password_by_reference(charts_root):
    cron = find(_dagster(charts_root), "CronJob", "-postgres-backup")
    assert cron["spec"]["schedule"] == "0 */6 * * *"
    pod = pod_specs(cron)[0]
    dump, upload = pod["containers"]
    assert "pg_dump" in dump["args"][0] and "gzip" in dump["args"][0]
    password = next(e for e in dump["env"] if e["name"] == "PGPASSWORD")
    assert password["valueFrom"]["secretKeyRef"] == {"name": "floe-dagster-postgresql", "key": "postgresql-password"}
    assert "s3://floe-backups/dagster" in str(upload["env"])


def test_external_secret_is_created_before_the_hook_and_names_only_remote_keys(charts_root):
    external = find(_dagster(charts_root), "ExternalSecret")
    assert int(external["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0
    assert external["spec"]["target"]["name"] == "floe-secrets"
    assert external["spec"]["data"] == [{"secretKey": "FLOE_PG_PASSWORD", "remoteRef": {
        "key": "floe/prod/postgresql", "property": "password"}}]


def test_object_names_follow_the_release_name(charts_root):
    values = env_values("floe-dagster", "prod")
    names = {d["metadata"]["name"] for d in render("floe-dagster", values, charts_root, release="other")}
    assert "other-floe-preflight" in names and not any(n.startswith("shop") for n in names)
    ingress = find(render("floe-dagster", values, charts_root, release="other"), "Ingress")
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "other-dagster-webserver"
