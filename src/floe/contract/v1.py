"""Version 1 of the compiled artifacts (``schema_version: 1``).

This module is the public contract. Changing a field here is a new schema version: add
``v2.py``, keep this one, and teach :mod:`floe.contract.io` to upgrade v1 documents. Only an
optional field whose absence means what older writers meant may join v1 (``ingestion``, the
``vars`` of dbt, jobs and schedules, which are left out when empty so that a project using
none still reads in an older floe).
Paths are stored relative so the same artifacts work on a laptop, in an image and in a pod:
``project_root`` is relative to the artifacts file's folder, the rest to the project root or
to that folder as documented per field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from floe.spec.base import StrictModel
from floe.spec.dbt_vars import DbtVars, dbt_vars_field
from floe.spec.ingestion import IngestionSource
from floe.spec.pipeline import JobSpec, PipelineObservability, ScheduleSpec
from floe.spec.platform import EnvironmentSpec

SCHEMA_VERSION = 1


class ProjectInfo(StrictModel):
    """Identity of the pipeline."""

    name: str = Field(description="Pipeline name from floe.yaml.")
    version: str = Field(description="Pipeline version from floe.yaml.")
    description: str | None = Field(default=None, description="Pipeline description.")
    root: str = Field(
        description="Project directory, relative to the folder holding the artifacts file."
    )


class OutputPortInfo(StrictModel):
    """An output port of a data product, as compiled."""

    name: str = Field(description="Port name.")
    model: str = Field(description="The dbt model the port publishes.")
    version: str = Field(description="Port version.")
    dataset: str = Field(description="The port's table and lineage dataset name: <domain>.<product>.<port>.")


class InputPortInfo(StrictModel):
    """An input port, pinned at compile to the snapshot whose schema compile checked."""

    dataset: str = Field(description="<domain>.<product>.<port> of the port read.")
    version: str = Field(description="The producer's port version compile accepted.")
    metadata_location: str = Field(description="The Iceberg metadata file (one snapshot) the run reads.")
    schema_name: str = Field(description="Schema of the DuckDB view over it (dbt source schema): <domain>_<product>.")
    table: str = Field(description="Name of that view (dbt source table): the port name.")


class MeshInfo(StrictModel):
    """The project is a data product of a data mesh domain."""

    domain: str = Field(description="Domain name.")
    domain_version: str = Field(description="Domain version the product was compiled against.")
    product: str = Field(description="Product name (the pipeline name).")
    lineage_namespace: str = Field(
        description="OpenLineage namespace of every port dataset: the shared catalog's table root.")
    outputs: list[OutputPortInfo] = Field(default_factory=list, description="Output ports.")
    inputs: list[InputPortInfo] = Field(default_factory=list, description="Input ports, pinned.")


class DbtInfo(StrictModel):
    """Everything the runtime needs to drive dbt, without reading floe.yaml."""

    project_dir: str = Field(description="dbt project directory, relative to the project root.")
    profiles_dir: str = Field(description="Folder of the generated profiles.yml, relative to the artifacts folder.")
    manifest_path: str = Field(description="manifest.json from 'dbt parse', relative to the artifacts folder.")
    target_path: str = Field(description="dbt target folder for runs, relative to the artifacts folder.")
    profile: str = Field(description="Profile name in the generated profiles.yml.")
    profiles: dict[str, Any] = Field(
        description="The generated profiles.yml document, secrets as env_var() references; the runtime "
        "writes profiles_dir/profiles.yml from it, so the artifacts alone are enough to run."
    )
    target: str = Field(description="Target name (the environment).")
    adapter: str = Field(description="dbt adapter type, e.g. 'duckdb'.")
    dbt_version: str = Field(description="dbt-core version that parsed the manifest.")
    vars: DbtVars = dbt_vars_field(
        "The transform's dbt vars from floe.yaml: the manifest was parsed with them, and every run "
        "passes them to dbt, overridden by name by the run's (job, schedule, 'floe run --vars'). "
        "Absent when empty (and in artifacts written before floe had vars)."
    )


class ArtifactsV1(StrictModel):
    """The compiled contract, version 1."""

    schema_version: Literal[1] = Field(description="Version of this document's schema.")
    floe_version: str = Field(description="floe version that wrote it.")
    compiled_at: str = Field(description="UTC time of compilation, ISO 8601.")
    source_hash: str = Field(
        description="sha256 over the specs, the dbt project and the variables used; "
        "'floe run' recompiles when it changes."
    )
    project: ProjectInfo
    environment_name: str = Field(description="Environment these artifacts were compiled for.")
    environment: EnvironmentSpec = Field(
        description="The environment from platform.yaml, variables resolved, secrets as references."
    )
    dbt: DbtInfo
    jobs: list[JobSpec] = Field(description="Jobs, including the implicit 'all'.")
    schedules: list[ScheduleSpec] = Field(description="Schedules from floe.yaml.")
    ingestion: list[IngestionSource] = Field(
        default_factory=list,
        description="Ingestion sources from floe.yaml (absent in artifacts written before floe 0.2: none).",
    )
    observability: PipelineObservability = Field(description="Switches from floe.yaml.")
    secrets: list[str] = Field(description="Names of the secrets the runtime must resolve.")
    variables: list[str] = Field(description="Environment variables the specs interpolated.")
    mesh: MeshInfo | None = Field(
        default=None,
        description="Data product: its domain and ports (absent for a plain project and in artifacts written "
        "before floe had a data mesh).",
    )
