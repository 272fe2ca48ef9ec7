"""The floe image carries what every environment of the charts and examples needs.

Before, the image installed floe with the postgres extra only: the storage preflight of every
example environment (S3) failed for want of botocore, which aborted the install, and Dagster
refused the instance's K8sRunLauncher without dagster-k8s. Here the needs are derived from the
chart values and the platform files themselves, and the image's install line is read as its
shell expands it, so neither side can drift alone.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import REPO_ROOT
from tests.docker.conftest import DOCKER_DIR
from tests.docker.dockerfile import floe_extras, floe_install_words, install_requirements, parse

DAGSTER_CHART = REPO_ROOT / "charts" / "floe-dagster"
# The platform files of environments that run in the image: the GitOps examples, Compose, the demo.
PLATFORM_FILES = [REPO_ROOT / "examples" / "environments" / "platform.yaml", DOCKER_DIR / "platform.yaml",
                  REPO_ROOT / "demo" / "platform.yaml"]
# Spec SC-007: the image reaches at least three compute targets besides DuckDB, these among them.
REQUIRED_TARGETS = {"dbt-trino", "dbt-snowflake"}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", Requirement(requirement).name).lower()


def _closure(requirements: list[str]) -> set[str]:
    """Distribution names the requirements install, following extras of installed packages one level down
    (pyiceberg[s3fs] brings s3fs) from their own metadata."""
    names: set[str] = set()
    for text in requirements:
        requirement = Requirement(text)
        names.add(_name(text))
        for extra in requirement.extras:
            try:
                declared = importlib.metadata.requires(requirement.name) or []
            except importlib.metadata.PackageNotFoundError:
                continue
            for dependency in declared:
                marker = Requirement(dependency).marker
                if marker is not None and marker.evaluate({"extra": extra}):
                    names.add(_name(dependency))
    return names


def image_distributions(build_args: dict[str, str] | None = None) -> set[str]:
    """What the image's install line puts in /opt/floe/venv, by distribution name.

    floe's own requirements come from its installed metadata (pyproject.toml as built), which
    is what the image's ``uv pip install .[extras]`` resolves.
    """
    dockerfile = parse(DOCKER_DIR / "Dockerfile.dagster")
    declared = [Requirement(text) for text in importlib.metadata.requires("floe-runtime") or []]
    known = {str(m).split("==")[1].strip().strip("'\"") for r in declared if (m := r.marker) is not None
             and "extra" in str(m)}
    extras = floe_extras(dockerfile, build_args)
    assert set(extras) <= known, f"the image asks for unknown extras {set(extras) - known}"
    requirements = [str(r).split(";")[0] for r in declared
                    if r.marker is None or any(r.marker.evaluate({"extra": extra}) for extra in extras)]
    install_line = install_requirements(floe_install_words(dockerfile, build_args))
    requirements += [word for word in install_line if not word.startswith(".")]
    return _closure(requirements)


def _chart_values() -> list[tuple[str, dict[str, Any]]]:
    files = [DAGSTER_CHART / "values.yaml", *sorted(DAGSTER_CHART.glob("values-*.yaml"))]
    return [(path.name, yaml.safe_load(path.read_text(encoding="utf-8")) or {}) for path in files]


def needs() -> dict[str, str]:
    """Distribution -> why the image needs it, from the chart values and the environments' platforms."""
    found: dict[str, str] = {}
    for name, values in _chart_values():
        dagster = values.get("dagster", {})
        if dagster.get("runLauncher", {}).get("type") == "K8sRunLauncher":
            found["dagster-k8s"] = f"floe-dagster/{name}: the instance launches runs with K8sRunLauncher"
        if "postgresql" in dagster:
            found["dagster-postgres"] = f"floe-dagster/{name}: Dagster's storage is PostgreSQL"
        if "serviceMonitor" in values.get("monitoring", {}):
            found["prometheus-client"] = f"floe-dagster/{name}: Dagster's metrics are scraped (monitoring)"
    for path in PLATFORM_FILES:
        for env, spec in yaml.safe_load(path.read_text(encoding="utf-8"))["environments"].items():
            where = f"{path.relative_to(REPO_ROOT)} [{env}]"
            if spec.get("storage", {}).get("type") == "s3":
                found["botocore"] = found["s3fs"] = f"{where}: S3 storage (and its preflight)"
            if spec.get("orchestrator", {}).get("storage", {}).get("type") == "postgres":
                found["dagster-postgres"] = f"{where}: Dagster storage on PostgreSQL"
                found["psycopg2-binary"] = f"{where}: Dagster storage on PostgreSQL (psycopg2 URL)"
            if str(spec.get("catalog", {}).get("uri", "")).startswith("postgresql"):
                found["psycopg2-binary"] = f"{where}: Iceberg SQL catalog on PostgreSQL"
            compute = spec.get("compute", {}).get("type", "duckdb")
            found[f"dbt-{compute}"] = f"{where}: compute {compute}"
    return found


def test_the_needs_are_found_where_the_brief_says_they_are() -> None:
    # The derivation itself must see the K8sRunLauncher, S3 storage, PostgreSQL and metrics.
    assert {"dagster-k8s", "botocore", "s3fs", "dagster-postgres", "prometheus-client"} <= set(needs())


@pytest.mark.process
def test_the_image_installs_what_every_environment_needs() -> None:
    installed = image_distributions()
    missing = {name: why for name, why in needs().items() if name not in installed}
    assert not missing, f"the image lacks {missing}"


@pytest.mark.process
def test_the_image_reaches_at_least_three_compute_targets() -> None:
    adapters = {name for name in image_distributions() if name.startswith("dbt-") and name != "dbt-core"}
    assert adapters >= REQUIRED_TARGETS
    assert len(adapters - {"dbt-duckdb", "dbt-postgres"}) >= 3, adapters


@pytest.mark.process
def test_compute_targets_are_a_build_argument_and_the_environment_needs_are_not() -> None:
    dockerfile = parse(DOCKER_DIR / "Dockerfile.dagster")
    assert {"trino", "snowflake", "bigquery"} <= set((dockerfile.args()["FLOE_EXTRAS"] or "").split(","))
    # DuckDB only: the compute targets go, what the charts' environments need stays.
    assert floe_extras(dockerfile, {"FLOE_EXTRAS": ""}) == ["postgres", "s3", "k8s", "metrics"]
    assert floe_extras(dockerfile, {"FLOE_EXTRAS": "trino"})[-1] == "trino"
    lean = image_distributions({"FLOE_EXTRAS": ""})
    assert {"dagster-k8s", "botocore", "dagster-postgres", "prometheus-client"} <= lean
    assert not {"dbt-trino", "dbt-snowflake", "dbt-bigquery"} & lean


@pytest.mark.parametrize("path", [DOCKER_DIR / "Dockerfile.dagster", DOCKER_DIR / "README.md",
                                  REPO_ROOT / "docs" / "image.md"], ids=lambda p: p.name)
def test_the_build_argument_is_documented(path: Path) -> None:
    assert "FLOE_EXTRAS" in path.read_text(encoding="utf-8")
