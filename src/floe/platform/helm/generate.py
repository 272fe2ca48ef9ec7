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


def dagster_values(artifacts: ArtifactsV1, artifacts_text: str, chart_values: dict[str, Any]) -> dict[str, Any]:
    """Overrides for floe-dagster from the artifacts, given the chart's merged values.

    Raises:
        FloeError: the environment cannot run on Kubernetes as declared (SQLite storage, or a
            DuckDB memory_limit larger than the run pods).
    """
    env = artifacts.environment_name
    storage = artifacts.environment.orchestrator.storage
    if not isinstance(storage, PostgresOrchestratorStorage):
        raise FloeError(
            f"environment '{env}' keeps Dagster's state in SQLite, which pods cannot share",
            hint=f"in platform.yaml, set environments.{env}.orchestrator.storage to type: postgres, "
            "then run 'floe compile --env " + env + "'",
        )
    params = {"sslmode": storage.sslmode} if storage.sslmode else {}
    # One source, two readers: the official chart's block (webserver, daemon, runs) and floe's own
    # (backup, migrate hook), so both always name the same database.
    official: dict[str, Any] = {
        "postgresqlHost": storage.host, "postgresqlUsername": storage.user,
        "postgresqlDatabase": storage.database, "service": {"port": storage.port},
    }
    floe_own: dict[str, Any] = {"host": storage.host, "port": storage.port, "user": storage.user,
                                "database": storage.database}
    if params:
        official["postgresqlParams"] = params
        floe_own["params"] = params
    _check_duckdb_fits(artifacts, chart_values)
    return {"artifacts": {"json": artifacts_text}, "postgresql": floe_own, "dagster": {"postgresql": official}}


def _check_duckdb_fits(artifacts: ArtifactsV1, chart_values: dict[str, Any]) -> None:
    compute = artifacts.environment.compute
    if not isinstance(compute, DuckDBCompute) or compute.memory_limit is None:
        return
    launcher = chart_values.get("dagster", {}).get("runLauncher", {}).get("config", {}).get("k8sRunLauncher", {})
    limit = launcher.get("resources", {}).get("limits", {}).get("memory")
    if not limit:
        return
    if memory_bytes(compute.memory_limit) > DUCKDB_SHARE_OF_POD_MEMORY * memory_bytes(str(limit)):
        raise FloeError(
            f"DuckDB memory_limit {compute.memory_limit} of environment '{artifacts.environment_name}' does not fit "
            f"in run pods limited to {limit} (at most {int(DUCKDB_SHARE_OF_POD_MEMORY * 100)} % of it)",
            hint="raise dagster.runLauncher.config.k8sRunLauncher.resources.limits.memory in the values, "
            "or lower compute.memory_limit in platform.yaml",
        )


def cube_model_files(cube_dir: Path) -> dict[str, str]:
    """The files of ``floe cube generate`` (model/cubes/*.yml), name -> text; empty if none."""
    folder = cube_dir / "model" / "cubes"
    if not folder.is_dir():
        return {}
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.yml"))}


def runtime_values(
    artifacts: ArtifactsV1, artifacts_text: str, chart_values: dict[str, Any], cube_model: dict[str, str]
) -> dict[str, Any]:
    """Overrides for the floe-runtime umbrella (its merged values given), one block per chart."""
    dagster_block = chart_values.get("floe-dagster", {})
    values: dict[str, Any] = {"floe-dagster": dagster_values(artifacts, artifacts_text, dagster_block)}
    values["floe-jobs"] = {"artifacts": {"json": artifacts_text}}
    if cube_model:
        values["floe-cube"] = {"model": cube_model}
    return values
