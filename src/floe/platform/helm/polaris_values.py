"""Values of ``charts/floe-polaris``: Apache Polaris, its PostgreSQL and the bootstrap hook."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from floe.platform.helm.database_values import ChartDatabase
from floe.platform.helm.values_common import (
    ChartValues,
    HelmModel,
    Image,
    K8sName,
    Memory,
    PodSecurity,
    Probe,
    ResourceAmounts,
    Resources,
)

POLARIS_PORT = 8181
POLARIS_SERVICE = "polaris"


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(requests=ResourceAmounts(cpu=cpu, memory=memory),
                     limits=ResourceAmounts(cpu=cpu_limit, memory=memory_limit))


class PolarisService(HelmModel):
    """The Service, with a fixed name so that ``<name>.<namespace>.svc.cluster.local`` answers."""

    name: K8sName = Field(default=POLARIS_SERVICE, description="Service (and Deployment) name.")
    port: int = Field(default=POLARIS_PORT, ge=1, le=65535, description="The REST catalog's port.")
    management_port: int = Field(default=8182, ge=1, le=65535, description="Health and metrics port.")


class RootCredentials(HelmModel):
    """The realm's root principal, by reference to a Secret you create."""

    secret_name: K8sName = Field(default="polaris-root", description="Secret holding the two keys.")
    client_id_key: str = Field(default="client-id", min_length=1, description="Key of the client id.")
    client_secret_key: str = Field(default="client-secret", min_length=1, description="Key of the client secret.")


class PolarisDatabase(ChartDatabase):
    """Polaris' metastore: an external PostgreSQL or the StatefulSet."""

    values_path: ClassVar[str] = "database"

    name: str = Field(default="polaris", min_length=1, description="Database.")
    user: str = Field(default="polaris", min_length=1, description="Role.")


class AdminTool(HelmModel):
    """Polaris' admin tool, which bootstraps the realm in an init container."""

    image: Image = Field(description="apache/polaris-admin-tool, same release as the server.")
    resources: Resources = Field(description="Requests and limits.")


class BootstrapCatalog(HelmModel):
    """The catalog floe writes to."""

    name: str = Field(
        default="floe", pattern=r"^[A-Za-z0-9_][-A-Za-z0-9_.]{0,255}$",
        description="Catalog name: the warehouse of platform.yaml's REST catalog.",
    )
    default_base_location: str = Field(min_length=1, description="Where its tables go, e.g. s3://bucket/.")
    storage_config: dict[str, Any] = Field(
        description="Polaris' storageConfigInfo, e.g. {storageType: S3, allowedLocations: [s3://bucket/]}."
    )


class Bootstrap(HelmModel):
    """The hook creating floe's catalog and principal (credentials to a Secret)."""

    enabled: bool = Field(default=True, description="Run the post-install/post-upgrade hook.")
    image: Image = Field(description="An image with bash, curl, jq and kubectl.")
    catalog: BootstrapCatalog = Field(description="The catalog.")
    principal: K8sName = Field(default="floe", description="floe's principal (and its roles' name).")
    credentials_secret: K8sName = Field(
        default="floe-polaris-credentials",
        description="Secret the hook writes (client-id, client-secret, credential); kept when it exists.",
    )
    active_deadline_seconds: int = Field(default=600, ge=30, description="Deadline of the Job.")
    backoff_limit: int = Field(default=3, ge=0, description="Retries of the Job.")
    resources: Resources = Field(description="Requests and limits.")


class FloePolarisValues(ChartValues):
    """Everything ``charts/floe-polaris/values.yaml`` may hold."""

    image: Image = Field(description="The Polaris server image.")
    image_pull_secrets: list[K8sName] = Field(default_factory=list, description="Secrets for private registries.")
    service: PolarisService = Field(default_factory=PolarisService, description="The Service.")
    replicas: int = Field(default=1, ge=1, description="Server pods (they share the metastore).")
    realm: str = Field(default="POLARIS", pattern=r"^[A-Za-z0-9_-]+$", description="The realm.")
    pod_security: PodSecurity = Field(
        default_factory=lambda: PodSecurity(uid=10000), description="The user of Polaris' image."
    )
    resources: Resources = Field(
        default_factory=lambda: _resources("250m", "512Mi", "1", "1Gi"), description="Server resources."
    )
    tmp_size_limit: Memory = Field(default="256Mi", description="sizeLimit of /tmp.")
    root_credentials: RootCredentials = Field(default_factory=RootCredentials, description="Root principal.")
    database: PolarisDatabase = Field(description="The metastore.")
    admin_tool: AdminTool = Field(description="The realm bootstrap.")
    bootstrap: Bootstrap = Field(description="floe's catalog and principal.")
    probe: Probe = Field(default_factory=Probe, description="Probe timing.")
