"""Helm values of one environment, generated from its compiled artifacts.

The artifacts (``floe compile --env E``) are the only input: the platform's Dagster storage
becomes the official chart's external PostgreSQL, the DuckDB settings are checked against the
run-pod resources, the artifacts text itself becomes the ConfigMap, and the Cube model written by
``floe cube generate`` becomes floe-cube's model. No credential is read: only secret names.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from floe.contract.v1 import ArtifactsV1
from floe.errors import FloeError
from floe.platform.helm.daemon_values import daemon_values
from floe.platform.helm.values_common import dig
from floe.platform.helm.values_common import mapping_at as _mapping
from floe.spec.platform import DuckDBCompute, PostgresOrchestratorStorage

_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
# DuckDB's memory_limit covers its buffer manager only; leave the rest of the pod room for
# Python, dbt and Dagster.
DUCKDB_SHARE_OF_POD_MEMORY = 0.75


def memory_bytes(quantity: str) -> int:
    """Bytes of a Kubernetes quantity (4Gi) or a DuckDB setting (4GB)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", quantity)
    if not match or match.group(2).lower() not in _UNITS:
        raise FloeError(f"cannot read the memory amount {quantity!r}", hint="use e.g. 4Gi or 4GB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of maps: override wins, maps merge, lists are replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def dagster_values(artifacts: ArtifactsV1, artifacts_text: str, chart_values: dict[str, Any],
                   declared: dict[str, Any] | None = None, prefix: str = "") -> dict[str, Any]:
    """Overrides for floe-dagster from the artifacts, given the chart's merged values.

    Values paths named in errors start at ``dagster``: inside the umbrella the official chart's
    block is floe-runtime's top-level ``dagster``, so they read the same in both charts.
    floe-dagster's own keys are named with ``prefix`` ("floe-dagster." in the umbrella).

    Args:
        artifacts: The compiled contract of the environment.
        artifacts_text: Its JSON text (the ConfigMap's content).
        chart_values: floe-dagster's merged values (chart defaults, then the environment's files).
        declared: What the environment's values file sets itself, same layout (None: unknown, so
            nothing is refused for being set twice).
        prefix: How floe-dagster's own keys are written in the values file.

    Raises:
        FloeError: the environment cannot run on Kubernetes as declared (SQLite storage, or a
            DuckDB memory_limit larger than the run pods), or its values set what platform.yaml
            sets (tick retention, the daemon).
    """
    env = artifacts.environment_name
    storage = artifacts.environment.orchestrator.storage
    if not isinstance(storage, PostgresOrchestratorStorage):
        raise FloeError(
            f"environment '{env}' keeps Dagster's state in SQLite, which pods cannot share",
            hint=f"in platform.yaml, set environments.{env}.orchestrator.storage to type: postgres, "
            "then run 'floe compile --env " + env + "'",
        )
    # One source, two readers: the official chart's block (webserver, daemon, runs) and floe's own
    # (backup, migrate hook, see _floe_owned_blocks), so both always name the same database.
    official: dict[str, Any] = {
        "postgresqlHost": storage.host, "postgresqlUsername": storage.user,
        "postgresqlDatabase": storage.database, "service": {"port": storage.port},
    }
    if storage.sslmode:
        official["postgresqlParams"] = {"sslmode": storage.sslmode}
    _check_duckdb_fits(artifacts, dig(chart_values, "dagster", default={}), "dagster")
    official_block: dict[str, Any] = {"postgresql": official}
    retention = _tick_retention(artifacts, dig(chart_values, "dagster", "retention"))
    if retention:
        official_block["retention"] = retention
    values = {"artifacts": {"json": artifacts_text}, "dagster": official_block}
    values = {**values, **_floe_owned_blocks(storage, chart_values)}
    return deep_merge(values, daemon_values(artifacts, chart_values, declared or {}, prefix))


def _tick_retention(artifacts: ArtifactsV1, declared: Any) -> dict[str, Any]:
    """The official chart's ``retention`` (tick purging by the daemon) from orchestrator.retention.tick_days.

    Each key keeps the shape of the chart's default (schedule a number, sensor and
    auto-materialize one per tick status), so Helm merges without a type warning. Runs
    themselves are pruned by floe's ``floe_retention`` sensor in the code location.

    Raises:
        FloeError: the values set ``dagster.retention`` too (two sources for one setting).
    """
    days = artifacts.environment.orchestrator.retention.tick_days
    if days is None:
        return {}
    if declared is not None:
        env = artifacts.environment_name
        raise FloeError(
            f"dagster.retention is set in the Helm values of '{env}' while platform.yaml sets "
            f"environments.{env}.orchestrator.retention.tick_days ({days}): one setting, two sources",
            hint="remove dagster.retention from the values (floe renders it from platform.yaml), or set "
            "tick_days: null in platform.yaml to keep the values' own",
        )
    by_status = {status: days for status in ("skipped", "success", "failure", "started")}
    return {"enabled": True, "schedule": {"purgeAfterDays": days}, "sensor": {"purgeAfterDays": by_status},
            "autoMaterialize": {"purgeAfterDays": by_status}}


def _floe_owned_blocks(storage: PostgresOrchestratorStorage, chart_values: dict[str, Any]) -> dict[str, Any]:
    """floe-dagster's own ``postgresql`` and ``webserver`` blocks, read by its backup CronJob,
    migrate hook and Ingress. They must not read the official chart's block (inside floe-runtime
    that is floe-dagster's disabled copy), so they are filled from the same settings as the
    official chart's side: both always name the same database and port."""
    dagster = dig(chart_values, "dagster", default={})
    return {
        "postgresql": {
            "host": storage.host, "port": storage.port, "user": storage.user, "database": storage.database,
            "params": {"sslmode": storage.sslmode} if storage.sslmode else {},
            "secretName": dig(dagster, "global", "postgresqlSecretName", default="floe-dagster-postgresql"),
            "passwordKey": "postgresql-password",  # the key the official chart reads
        },
        "webserver": {"port": dig(dagster, "dagsterWebserver", "service", "port", default=3000)},
    }


def run_pod_memory_limits(dagster: dict[str, Any], path: str) -> list[tuple[str | None, str]]:
    """The memory limit of the run pods (None: unbounded) and the values path that sets it.

    dagster-k8s builds a run pod's container from the run launcher's ``resources``, replaced
    whole by its ``runK8sConfig.containerConfig.resources``, replaced whole again by a code
    location's ``resources`` when that location passes its config to runs
    (``includeConfigInLaunchedRuns``, on unless disabled). One entry per code location.
    """
    launcher_path = f"{path}.runLauncher.config.k8sRunLauncher"
    launcher = _mapping(dagster, "runLauncher", "config", "k8sRunLauncher")
    resources, where = launcher.get("resources") or {}, f"{launcher_path}.resources"
    if _mapping(launcher, "runK8sConfig", "containerConfig").get("resources"):
        resources = _mapping(launcher, "runK8sConfig", "containerConfig", "resources")
        where = f"{launcher_path}.runK8sConfig.containerConfig.resources"
    deployments = _mapping(dagster, "dagster-user-deployments").get("deployments") or [{}]
    limits = []
    for index, deployment in enumerate(deployments):
        passes_config = _mapping(deployment, "includeConfigInLaunchedRuns").get("enabled", True)
        if passes_config and deployment.get("resources"):
            own = f"{path}.dagster-user-deployments.deployments[{index}].resources"
            limits.append((_mapping(deployment, "resources", "limits").get("memory"), f"{own}.limits.memory"))
        else:
            limits.append((_mapping(resources, "limits").get("memory"), f"{where}.limits.memory"))
    return limits


def _check_duckdb_fits(artifacts: ArtifactsV1, dagster: dict[str, Any], path: str) -> None:
    compute = artifacts.environment.compute
    if not isinstance(compute, DuckDBCompute) or compute.memory_limit is None:
        return
    env = artifacts.environment_name
    duckdb = memory_bytes(compute.memory_limit)
    for limit, where in run_pod_memory_limits(dagster, path):
        if limit is None or duckdb <= DUCKDB_SHARE_OF_POD_MEMORY * memory_bytes(str(limit)):
            continue
        needed = -(-int(duckdb / DUCKDB_SHARE_OF_POD_MEMORY) // 2**20)  # MiB, rounded up
        raise FloeError(
            f"DuckDB memory_limit {compute.memory_limit} of environment '{env}' does not fit in run pods "
            f"limited to {limit} by {where} (at most {int(DUCKDB_SHARE_OF_POD_MEMORY * 100)} % of it: "
            "Python, dbt and Dagster need the rest)",
            hint=f"set {where} to at least {needed}Mi in the values of '{env}' (values-{env}.yaml), "
            f"or lower environments.{env}.compute.memory_limit in platform.yaml and run 'floe compile --env {env}'",
        )


def cube_model_files(cube_dir: Path) -> dict[str, str]:
    """The files of ``floe cube generate`` (model/cubes/*.yml), name -> text; empty if none."""
    folder = cube_dir / "model" / "cubes"
    if not folder.is_dir():
        return {}
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.yml"))}


def runtime_values(
    artifacts: ArtifactsV1, artifacts_text: str, chart_values: dict[str, Any], cube_model: dict[str, str],
    declared: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Overrides for the floe-runtime umbrella (its merged values given), one block per chart.

    In the umbrella the official chart is the top-level ``dagster`` block (floe-dagster's own copy
    is off), so floe-dagster's overrides are computed on floe-dagster's layout with that block.
    ``declared`` is the environment's own values file (see ``dagster_values``).
    """
    def layout(values: dict[str, Any]) -> dict[str, Any]:
        return {**values.get("floe-dagster", {}), "dagster": values.get("dagster", {})}

    floe_dagster = dagster_values(artifacts, artifacts_text, layout(chart_values),
                                  None if declared is None else layout(declared), prefix="floe-dagster.")
    values: dict[str, Any] = {"dagster": floe_dagster.pop("dagster"), "floe-dagster": floe_dagster}
    values["floe-jobs"] = {"artifacts": {"json": artifacts_text}}
    secret_name = dig(chart_values, "floe-dagster", "secrets", "secretName", default="floe-secrets")
    cube = {**cube_serving_values(artifacts, secret_name), **({"model": cube_model} if cube_model else {})}
    if cube:
        values["floe-cube"] = cube
    return values


# sslmodes under which libpq encrypts for certain; Cube's postgres driver then needs CUBEJS_DB_SSL.
_ENCRYPTED_SSLMODES = {"require", "verify-ca", "verify-full"}


def cube_serving_values(artifacts: ArtifactsV1, secret_name: str) -> dict[str, Any]:
    """floe-cube's ``database`` block from the environment's serving database (empty without one).

    Cube reads the marts where the runs publish them: the same host, database and role, and the
    password from the same key of floe's Secret (``secret_name``) that the runs read for
    ``serving.password``. One declaration in platform.yaml, two readers that cannot drift apart.
    """
    serving = artifacts.environment.serving
    if serving is None:
        return {}
    settings = {"CUBEJS_DB_HOST": serving.host, "CUBEJS_DB_PORT": str(serving.port),
                "CUBEJS_DB_NAME": serving.database, "CUBEJS_DB_USER": serving.user}
    if serving.sslmode in _ENCRYPTED_SSLMODES:
        settings["CUBEJS_DB_SSL"] = "true"
    database: dict[str, Any] = {"type": "postgres", "settings": settings}
    if serving.password is not None:
        database["passwordSecret"] = {"name": secret_name, "key": serving.password.secret_ref}
    return {"database": database}
