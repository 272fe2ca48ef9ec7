"""Values of ``charts/floe-namespace``: namespaces, quota, limit range and network policies."""

from __future__ import annotations

from pydantic import Field, model_validator

from floe.platform.helm.values_common import ChartValues, Cpu, HelmModel, Memory, OptionalK8sName

Port = int


class NamespaceEntry(HelmModel):
    """One namespace the chart guards (and creates, when asked)."""

    name: OptionalK8sName = Field(default="", description="Namespace name; empty: the release's namespace.")
    create: bool = Field(
        default=False,
        description="Create the Namespace object (kept on uninstall); false when it exists already, e.g. the "
        "release's own namespace made by 'helm install --create-namespace'.",
    )

    @model_validator(mode="after")
    def _created_needs_a_name(self) -> NamespaceEntry:
        if self.create and not self.name:
            raise ValueError("namespaces[].create needs a name (the release's namespace exists already)")
        return self
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the Namespace.")


class ResourceQuota(HelmModel):
    """A ResourceQuota in every listed namespace."""

    enabled: bool = Field(default=True, description="Render the ResourceQuota 'floe-quota'.")
    hard: dict[str, str] = Field(
        default_factory=dict, description="spec.hard, e.g. {requests.cpu: '8', limits.memory: 32Gi, pods: '100'}."
    )


class CpuMemory(HelmModel):
    """A CPU and memory pair of a LimitRange."""

    cpu: Cpu = Field(description="CPU, e.g. 500m.")
    memory: Memory = Field(description="Memory, e.g. 512Mi.")


class LimitRange(HelmModel):
    """A LimitRange in every listed namespace: defaults and the ceiling of one container."""

    enabled: bool = Field(default=True, description="Render the LimitRange 'floe-limits'.")
    default_limit: CpuMemory = Field(
        default_factory=lambda: CpuMemory(cpu="500m", memory="512Mi"),
        description="Default limits (the LimitRange's default).",
    )
    default_request: CpuMemory = Field(
        default_factory=lambda: CpuMemory(cpu="100m", memory="128Mi"), description="Default requests."
    )
    max: CpuMemory = Field(default_factory=lambda: CpuMemory(cpu="8", memory="16Gi"), description="Ceiling.")


class ApiServerEgress(HelmModel):
    """Egress to the Kubernetes API server."""

    enabled: bool = Field(default=True, description="Allow it (Dagster's run launcher and the daemons need it).")
    port: Port = Field(default=443, ge=1, le=65535, description="The API server's port as the pods see it.")
    cidrs: list[str] = Field(default_factory=list, description="Addresses of the API server; empty: any.")


class NamespacePorts(HelmModel):
    """Namespaces selected by labels, and TCP ports."""

    namespace_labels: dict[str, str] = Field(min_length=1, description="matchLabels of the namespaces.")
    ports: list[Port] = Field(min_length=1, description="TCP ports allowed.")


class CidrPorts(HelmModel):
    """Addresses outside the cluster, and TCP ports."""

    cidr: str = Field(pattern=r"^[0-9a-fA-F:.]+/[0-9]{1,3}$", description="CIDR, e.g. 10.0.0.0/8.")
    ports: list[Port] = Field(min_length=1, description="TCP ports allowed.")


class NetworkPolicy(HelmModel):
    """Default deny, then the allowances the platform needs."""

    enabled: bool = Field(default=True, description="Render the default-deny policy and the allowances.")
    allow_same_namespace: bool = Field(default=True, description="Pods talk to pods of their own namespace.")
    allow_dns: bool = Field(default=True, description="Egress to kube-dns (kube-system) on port 53.")
    api_server: ApiServerEgress = Field(default_factory=ApiServerEgress, description="The Kubernetes API.")
    ingress_from: list[NamespacePorts] = Field(
        default_factory=list, description="Namespaces allowed in, on which ports (the domains to the shared services)."
    )
    egress_to: list[CidrPorts] = Field(default_factory=list, description="Egress beyond the cluster.")
    egress_to_namespaces: list[NamespacePorts] = Field(
        default_factory=list, description="Egress to other namespaces, e.g. from a domain to the platform."
    )


class FloeNamespaceValues(ChartValues):
    """Everything ``charts/floe-namespace/values.yaml`` may hold."""

    namespaces: list[NamespaceEntry] = Field(min_length=1, description="The namespaces guarded.")
    resource_quota: ResourceQuota = Field(default_factory=ResourceQuota, description="ResourceQuota.")
    limit_range: LimitRange = Field(default_factory=LimitRange, description="LimitRange.")
    network_policy: NetworkPolicy = Field(default_factory=NetworkPolicy, description="NetworkPolicies.")
