"""Values of ``charts/floe-cube``: Cube API, refresh worker and Cube Store (router + workers)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from floe.platform.helm.values_common import (
    ChartValues,
    HelmModel,
    Image,
    Ingress,
    K8sName,
    Memory,
    OptionalK8sName,
    PodSecurity,
    ResourceAmounts,
    Resources,
)


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(requests=ResourceAmounts(cpu=cpu, memory=memory),
                     limits=ResourceAmounts(cpu=cpu_limit, memory=memory_limit))


def _cube_image() -> Image:
    from floe import __version__

    return Image(repository="floe/cube", tag=__version__)


CUBE_VERSION = "v1.6.25"
"""The Cube release floe runs: the base of docker/Dockerfile.cube (the Cube API and refresh
worker) and the Cube Store tag. Cube Store speaks an internal protocol with the API of its own
release, so the two move together (tests/charts/test_cube_version.py compares all three places)."""


def _cubestore_image() -> Image:
    return Image(repository="cubejs/cubestore", tag=CUBE_VERSION)


class CubeDatabase(HelmModel):
    """The warehouse Cube queries (the marts dbt built)."""

    type: Literal["duckdb", "postgres", "trino", "snowflake", "bigquery"] = Field(
        default="duckdb", description="CUBEJS_DB_TYPE."
    )
    settings: dict[str, str] = Field(
        default_factory=dict,
        description="Non-secret CUBEJS_DB_* settings, e.g. {CUBEJS_DB_HOST: warehouse, CUBEJS_DB_NAME: analytics}.",
    )
    credentials_secret: OptionalK8sName = Field(
        default="",
        description="Secret whose keys are environment variables (CUBEJS_DB_PASS, ...), loaded with envFrom.",
    )
    password_secret: DatabasePassword = Field(
        default_factory=lambda: DatabasePassword(),
        description="CUBEJS_DB_PASS from one key of a Secret, e.g. the key of floe's Secret that platform.yaml's "
        "serving password names, so the runs that publish and Cube that reads use one credential.",
    )
    pre_aggregations_schema: str = Field(
        default="", pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,62})?$",
        description="CUBEJS_PRE_AGGREGATIONS_SCHEMA: where pre-aggregation tables go (empty: Cube's default).",
    )


class DatabasePassword(HelmModel):
    """A Secret key holding the database password (CUBEJS_DB_PASS)."""

    name: OptionalK8sName = Field(default="", description="Secret; empty: no CUBEJS_DB_PASS from here.")
    key: str = Field(default="", description="Key inside the Secret.")

    @model_validator(mode="after")
    def _name_and_key_together(self) -> DatabasePassword:
        if bool(self.name) != bool(self.key):
            raise ValueError("database.passwordSecret needs name and key together (or neither)")
        return self


class ApiSecret(HelmModel):
    """The JWT signing secret of the Cube API, by reference."""

    secret_name: K8sName = Field(default="floe-cube-api", description="Secret holding it (you create it).")
    key: str = Field(default="CUBEJS_API_SECRET", min_length=1, description="Key inside the Secret.")


class Component(HelmModel):
    """Replica count and resources of one Cube component."""

    replicas: int = Field(ge=0, description="Pods.")
    resources: Resources = Field(description="Requests and limits.")


class CubeStore(HelmModel):
    """Cube Store: one router, N workers, table data in object storage."""

    enabled: bool = Field(
        default=False, description="Deploy Cube Store for pre-aggregations (needs s3Bucket or remoteDir)."
    )
    image: Image = Field(default_factory=_cubestore_image, description="The Cube Store image.")
    workers: int = Field(default=2, ge=1, le=64, description="Worker pods (a StatefulSet).")
    router_resources: Resources = Field(
        default_factory=lambda: _resources("250m", "512Mi", "1", "1Gi"), description="Router resources."
    )
    worker_resources: Resources = Field(
        default_factory=lambda: _resources("500m", "1Gi", "2", "2Gi"), description="Worker resources."
    )
    remote_dir: str = Field(
        default="", pattern=r"^(/\S*)?$",
        description="CUBESTORE_REMOTE_DIR (a shared filesystem) when no S3 bucket is set.",
    )
    s3_bucket: str = Field(default="", description="CUBESTORE_S3_BUCKET holding the pre-aggregation data.")
    s3_region: str = Field(default="", description="CUBESTORE_S3_REGION.")
    s3_sub_path: str = Field(default="", description="CUBESTORE_S3_SUB_PATH inside the bucket.")
    credentials_secret: OptionalK8sName = Field(
        default="", description="Secret with CUBESTORE_AWS_ACCESS_KEY_ID / CUBESTORE_AWS_SECRET_ACCESS_KEY (envFrom)."
    )
    data_size_limit: Memory = Field(default="10Gi", description="sizeLimit of the local data emptyDir.")


class FloeCubeValues(ChartValues):
    """Everything ``charts/floe-cube/values.yaml`` may hold."""

    image: Image = Field(default_factory=_cube_image, description="The floe Cube image (docker/Dockerfile.cube).")
    image_pull_secrets: list[K8sName] = Field(default_factory=list, description="Secrets for private registries.")
    pod_security: PodSecurity = Field(default_factory=PodSecurity, description="User of every container.")
    model: dict[str, str] = Field(
        default_factory=dict,
        description="The data model: file name -> YAML text of .floe/cube/model/cubes/*.yml ('floe cube "
        "generate'), published as a ConfigMap mounted at /cube/conf/model/cubes.",
    )
    database: CubeDatabase = Field(default_factory=CubeDatabase, description="The warehouse.")
    api_secret: ApiSecret = Field(default_factory=ApiSecret, description="CUBEJS_API_SECRET by reference.")
    api: Component = Field(
        default_factory=lambda: Component(replicas=1, resources=_resources("250m", "512Mi", "1", "1Gi")),
        description="The Cube API (REST, GraphQL, SQL).",
    )
    refresh_worker: Component = Field(
        default_factory=lambda: Component(replicas=1, resources=_resources("250m", "512Mi", "1", "1Gi")),
        description="The refresh worker building pre-aggregations.",
    )
    cube_store: CubeStore = Field(default_factory=CubeStore, description="Cube Store.")
    tmp_size_limit: Memory = Field(default="512Mi", description="sizeLimit of each /tmp emptyDir.")
    service_port: int = Field(default=4000, ge=1, le=65535, description="Port of the API Service.")
    ingress: Ingress = Field(default_factory=Ingress, description="Ingress to the Cube API.")
