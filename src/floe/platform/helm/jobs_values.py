"""Values of ``charts/floe-jobs``: pipeline pods (dbt run, quality check, ingestion) as Jobs and
CronJobs, reading the same artifacts ConfigMap and Secret as the Dagster deployment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from floe.platform.helm.values_common import (
    CRON,
    Artifacts,
    ChartValues,
    HelmModel,
    Image,
    K8sName,
    Memory,
    PodSecurity,
    Project,
    ResourceAmounts,
    Resources,
    SecretsWiring,
)

# What each kind of pipeline pod runs unless the job gives its own command.
DEFAULT_COMMANDS: dict[str, list[str]] = {
    "dbt": ["floe", "run", "--job", "all"],
    "quality": ["floe", "run", "--select", "resource_type:test"],
    "ingestion": ["floe", "demo", "--batches", "1"],
}


def _floe_image() -> Image:
    from floe import __version__

    return Image(repository="floe/dagster", tag=__version__)


def _run_pod_resources() -> Resources:
    return Resources(requests=ResourceAmounts(cpu="1", memory="2Gi"), limits=ResourceAmounts(cpu="2", memory="4Gi"))


class PipelineJob(HelmModel):
    """One pipeline pod: a CronJob when it has a schedule, else a one-off Job."""

    name: K8sName = Field(max_length=40, description="Name suffix of the Job/CronJob.")
    kind: Literal["dbt", "quality", "ingestion"] = Field(description="What the pod does; picks the default command.")
    command: list[str] = Field(default_factory=list, description="Command; empty: the default for its kind.")
    schedule: str = Field(default="", pattern=r"^(\S+ \S+ \S+ \S+ \S+)?$", description="Cron schedule; empty: a Job.")
    suspend: bool = Field(default=False, description="Suspend the CronJob.")
    resources: Resources | None = Field(default=None, description="Resources; omitted: runPod.resources.")
    active_deadline_seconds: int = Field(default=3600, ge=1, description="Kill the pod after this long.")
    backoff_limit: int = Field(default=1, ge=0, description="Retries.")


class RunPod(HelmModel):
    """Shape of every pipeline pod."""

    resources: Resources = Field(default_factory=_run_pod_resources, description="Requests and limits.")
    state_size_limit: Memory = Field(default="4Gi", description="sizeLimit of the writable <project>/.floe emptyDir.")
    tmp_size_limit: Memory = Field(default="1Gi", description="sizeLimit of the /tmp emptyDir.")
    ttl_seconds_after_finished: int = Field(
        default=86400, ge=0,
        description="Jobs a CronJob started are deleted this long after they finish. One-off Jobs are kept: "
        "deleted, helm upgrade or Argo CD self-heal would re-create and re-run them.",
    )
    concurrency_policy: Literal["Forbid", "Allow", "Replace"] = Field(
        default="Forbid", description="What a CronJob does when the previous run is still going."
    )


class FloeJobsValues(ChartValues):
    """Everything ``charts/floe-jobs/values.yaml`` may hold."""

    image: Image = Field(default_factory=_floe_image, description="The floe image (docker/Dockerfile.dagster).")
    image_pull_secrets: list[K8sName] = Field(default_factory=list, description="Secrets for private registries.")
    pod_security: PodSecurity = Field(default_factory=PodSecurity, description="User of every container.")
    project: Project = Field(default_factory=Project, description="The project inside the image.")
    artifacts: Artifacts = Field(default_factory=Artifacts, description="The compiled artifacts ConfigMap.")
    secrets: SecretsWiring = Field(default_factory=SecretsWiring, description="Credentials, by reference only.")
    run_pod: RunPod = Field(default_factory=RunPod, description="Shape of every pipeline pod.")
    jobs: list[PipelineJob] = Field(default_factory=list, description="The pipeline Jobs and CronJobs.")

    @model_validator(mode="after")
    def _unique_names(self) -> FloeJobsValues:
        names = [job.name for job in self.jobs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"jobs: names must be unique, repeated: {', '.join(duplicates)}")
        return self


__all__ = ["CRON", "DEFAULT_COMMANDS", "FloeJobsValues", "PipelineJob", "RunPod"]
