"""``floe.yaml``: what the data team declares — the pipeline, its dbt project, jobs, schedules.

Hosts, ports and credentials never appear here: they belong to ``platform.yaml``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from floe.spec.base import Identifier, StrictModel
from floe.spec.dbt_vars import DbtVars, dbt_vars_field
from floe.spec.ingestion import IngestionSource
from floe.spec.mesh import ProductSpec

PIPELINE_FILE = "floe.yaml"


class DbtTransform(StrictModel):
    """A dbt project that floe builds; its models, seeds and snapshots become assets."""

    type: Literal["dbt"] = Field(default="dbt", description="Transform kind; only 'dbt' exists.")
    path: str = Field(
        description="Directory of the dbt project (holding dbt_project.yml), relative to floe.yaml."
    )
    vars: DbtVars = dbt_vars_field(
        "dbt vars for the whole project, as dbt's --vars: given to 'dbt parse' at compile time (so "
        "vars read in dbt_project.yml, e.g. '+enabled' or schema names, take effect) and to every run. "
        "Values: text, numbers, booleans, null, lists and mappings."
    )


class JobSpec(StrictModel):
    """A named set of assets that runs together, chosen with dbt selection syntax."""

    name: Identifier = Field(description="Job name, unique in the pipeline.")
    select: str = Field(
        default="fqn:*",
        min_length=1,
        description="dbt selection of the assets this job builds, e.g. 'tag:daily' or 'marts+'.",
    )
    exclude: str | None = Field(default=None, description="dbt selection to leave out.")
    description: str | None = Field(default=None, description="Shown in the Dagster UI.")
    vars: DbtVars = dbt_vars_field(
        "dbt vars for this job's runs, overriding the transform's by name (a run tag, editable when "
        "launching from the Dagster UI). Read at run time only: the project was parsed with the "
        "transform's vars."
    )


class ScheduleSpec(StrictModel):
    """Runs a job on a cron schedule."""

    name: Identifier = Field(description="Schedule name, unique in the pipeline.")
    job: Identifier = Field(description="Name of the job to run (declared under 'jobs').")
    cron: str = Field(description="Five-field cron expression, e.g. '0 6 * * *'.")
    timezone: str = Field(default="UTC", description="IANA time zone the cron is read in.")
    enabled: bool = Field(
        default=True, description="Whether the schedule starts running when deployed."
    )
    description: str | None = Field(default=None, description="Shown in the Dagster UI.")
    vars: DbtVars = dbt_vars_field(
        "dbt vars for the runs this schedule starts, overriding the job's and the transform's by name."
    )


class PipelineObservability(StrictModel):
    """Switches: what this pipeline allows to be reported. The platform decides where to."""

    lineage: bool = Field(
        default=True, description="Emit OpenLineage events where the platform configures a sink."
    )
    tracing: bool = Field(
        default=True, description="Emit OpenTelemetry traces where the platform configures an exporter."
    )


class PipelineSpec(StrictModel):
    """The whole of ``floe.yaml``."""

    name: Identifier = Field(description="Pipeline name, shown in run output and carried in the artifacts.")
    version: str = Field(default="0.1.0", description="Version of this pipeline, as you release it.")
    description: str | None = Field(default=None, description="What the pipeline is for.")
    transforms: list[DbtTransform] = Field(
        min_length=1,
        max_length=1,
        description="The dbt project this pipeline runs (exactly one).",
    )
    ingestion: list[IngestionSource] = Field(
        default_factory=list,
        description="Sources whose batches land in Iceberg tables upstream of the dbt project's sources.",
    )
    jobs: list[JobSpec] = Field(
        default_factory=list,
        description="Named asset selections. A job 'all' selecting everything always exists.",
    )
    schedules: list[ScheduleSpec] = Field(default_factory=list, description="Cron schedules of jobs.")
    observability: PipelineObservability = Field(
        default_factory=PipelineObservability, description="Lineage and tracing switches."
    )
    product: ProductSpec | None = Field(
        default=None,
        description="Makes this pipeline a data product of a domain: its domain (name and version) and its "
        "ports. Omitted: a plain project.",
    )
