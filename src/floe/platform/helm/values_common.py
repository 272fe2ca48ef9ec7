"""Building blocks shared by the values of every floe chart.

Helm values are camelCase by convention, so these models take camelCase keys (the Python
attributes stay snake_case). Like every floe model they are strict: an unknown key in a values
file is an error, not a silently ignored setting. A credential never appears in values: only
the *names* of Kubernetes Secrets and of the keys inside them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

# A Kubernetes resource quantity, e.g. 500m, 2, 1.5, 512Mi, 4Gi.
CPU_QUANTITY = r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$"
MEMORY_QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$"
# A DNS-1123 name: Secrets, ConfigMaps, Services.
K8S_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
# Cron with five fields (Kubernetes CronJob syntax).
CRON = r"^\S+ \S+ \S+ \S+ \S+$"

FLOE_UID = 1000
"""The one user every floe container runs as (the floe images create it)."""

Cpu = Annotated[str, Field(pattern=CPU_QUANTITY)]
Memory = Annotated[str, Field(pattern=MEMORY_QUANTITY)]
K8sName = Annotated[str, Field(pattern=K8S_NAME, max_length=253)]
OptionalK8sName = Annotated[str, Field(pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$", max_length=253)]


class HelmModel(BaseModel):
    """Strict, frozen, camelCase keys in values files."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel
    )


class Image(HelmModel):
    """A container image, always pinned: a tag other than ``latest`` (or a digest)."""

    repository: str = Field(min_length=1, description="Image repository, e.g. floe/dagster.")
    tag: str = Field(
        min_length=1,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
        json_schema_extra={"not": {"const": "latest"}},
        description="Pinned image tag; 'latest' is refused so every pod runs a known build.",
    )
    digest: str | None = Field(
        default=None, pattern=r"^sha256:[0-9a-f]{64}$",
        description="Optional digest (sha256:...) pinning the image beyond its tag.",
    )
    pull_policy: Literal["IfNotPresent", "Always", "Never"] = Field(
        default="IfNotPresent", description="Kubernetes imagePullPolicy."
    )

    @field_validator("tag")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if value == "latest":
            raise ValueError("image tag 'latest' is not pinned; use a version, e.g. the chart's appVersion")
        return value


class ResourceAmounts(HelmModel):
    """CPU and memory of one side (requests or limits)."""

    cpu: Cpu = Field(description="CPU, e.g. 500m or 2.")
    memory: Memory = Field(description="Memory, e.g. 512Mi or 4Gi.")


class Resources(HelmModel):
    """Requests and limits: both are required, so no pod is scheduled unbounded."""

    requests: ResourceAmounts = Field(description="What the scheduler reserves.")
    limits: ResourceAmounts = Field(description="The most the container may use.")


class PodSecurity(HelmModel):
    """The user the pods run as. Everything else of the security context is fixed by the charts:
    non-root, no privilege escalation, all capabilities dropped, read-only root filesystem,
    seccomp RuntimeDefault."""

    uid: int = Field(
        default=FLOE_UID, ge=1,
        description="UID (and GID, fsGroup) of every container; the floe images create user 1000.",
    )


class Probe(HelmModel):
    """Timing of a readiness or liveness probe (what is probed is fixed by the chart)."""

    initial_delay_seconds: int = Field(default=10, ge=0, description="Wait before the first probe.")
    period_seconds: int = Field(default=15, ge=1, description="Interval between probes.")
    timeout_seconds: int = Field(default=5, ge=1, description="Probe timeout.")
    failure_threshold: int = Field(default=4, ge=1, description="Failures before acting.")


class IngressTls(HelmModel):
    """TLS for an Ingress: the certificate comes from a Secret (cert-manager or made by hand)."""

    enabled: bool = Field(default=True, description="Serve HTTPS with the certificate in secretName.")
    secret_name: OptionalK8sName = Field(
        default="", description="Secret of type kubernetes.io/tls; empty: <release>-<chart>-tls."
    )


class Ingress(HelmModel):
    """An optional Ingress in front of a web service."""

    enabled: bool = Field(default=False, description="Create the Ingress.")
    class_name: str = Field(default="", description="IngressClass name, e.g. nginx; empty: the cluster default.")
    host: str = Field(
        default="", pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$",
        description="Host name to serve; required when enabled.",
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations, e.g. cert-manager.io/cluster-issuer."
    )
    tls: IngressTls = Field(default_factory=IngressTls, description="HTTPS settings.")


class SecretStoreRef(HelmModel):
    """The External Secrets Operator store the secrets are read from."""

    name: OptionalK8sName = Field(default="", description="Name of the SecretStore or ClusterSecretStore.")
    kind: Literal["SecretStore", "ClusterSecretStore"] = Field(
        default="ClusterSecretStore", description="Kind of the store."
    )


class ExternalSecretKey(HelmModel):
    """One key of the generated Secret and where the operator reads it from."""

    secret_key: str = Field(
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key in the generated Secret: a floe secret name (e.g. FLOE_PG_PASSWORD) becomes "
        "a file of that name in $FLOE_SECRETS_DIR.",
    )
    remote_key: str = Field(min_length=1, description="Key in the external store (path or name).")
    property: str = Field(default="", description="Property inside the remote value (JSON field); empty: all.")


class ExternalSecret(HelmModel):
    """Let the External Secrets Operator create the Secret from a vault (AWS, GCP, Azure, Vault).

    It is rendered as a pre-install/pre-upgrade hook (before the preflight Job needs the Secret),
    with creationPolicy Orphan so re-creating it on upgrade never deletes the live Secret.
    """

    enabled: bool = Field(default=False, description="Render an ExternalSecret (needs the operator's CRDs).")
    api_version: Literal["external-secrets.io/v1", "external-secrets.io/v1beta1"] = Field(
        default="external-secrets.io/v1", description="ExternalSecret API version your operator serves."
    )
    refresh_interval: str = Field(
        default="1h", pattern=r"^([0-9]+(s|m|h))+$", description="How often the operator re-reads the store."
    )
    secret_store_ref: SecretStoreRef = Field(default_factory=SecretStoreRef, description="The store to read.")
    data: list[ExternalSecretKey] = Field(default_factory=list, description="Keys of the generated Secret.")


class SecretsWiring(HelmModel):
    """How credentials reach the pods: only by reference, never by value.

    The Secret (an existing one, or the one the ExternalSecret creates) is mounted as files in
    $FLOE_SECRETS_DIR, where floe resolves every ``secret_ref`` of the specs by name.
    """

    secret_name: OptionalK8sName = Field(
        default="",
        description="Name of the Secret whose keys are floe secret names: one you created (kubectl, Sealed "
        "Secrets, SOPS) or the one the ExternalSecret creates. Empty: no credentials are mounted.",
    )
    mount_path: str = Field(
        default="/run/secrets/floe", pattern=r"^/", description="Where the Secret's keys appear as files."
    )
    external_secret: ExternalSecret = Field(default_factory=ExternalSecret, description="ExternalSecret settings.")

    @model_validator(mode="after")
    def _external_secret_is_complete(self) -> SecretsWiring:
        external = self.external_secret
        if external.enabled:
            missing = [name for name, value in (
                ("secrets.secretName", self.secret_name),
                ("secrets.externalSecret.secretStoreRef.name", external.secret_store_ref.name),
                ("secrets.externalSecret.data", external.data),
            ) if not value]
            if missing:
                raise ValueError(f"externalSecret.enabled needs {', '.join(missing)}")
        return self


class Artifacts(HelmModel):
    """The compiled artifacts (``floe compile --env E``) the pods read, as a ConfigMap.

    The ConfigMap has a fixed, configurable name rather than one derived from the release,
    because the official Dagster chart copies volume definitions verbatim into its pods.
    """

    json_: str = Field(
        default="", alias="json",
        description="Content of .floe/artifacts.json: pass it with --set-file artifacts.json=.floe/artifacts.json "
        "or let 'floe platform render' fill it in.",
    )
    create: bool = Field(
        default=True,
        description="Create the ConfigMap from 'json'; false: another chart of the release (or you) provides "
        "it under configMapName, key artifacts.json.",
    )
    config_map_name: K8sName = Field(
        default="floe-artifacts", description="Name of the ConfigMap (key artifacts.json) every floe pod mounts."
    )

    @field_validator("json_")
    @classmethod
    def _looks_like_json(cls, value: str) -> str:
        if value.strip() and not value.lstrip().startswith("{"):
            raise ValueError("artifacts.json must be the JSON text of .floe/artifacts.json")
        return value


class Project(HelmModel):
    """Where the floe image (docker/Dockerfile.dagster) keeps the project and its compiled artifacts."""

    dir: str = Field(
        default="/opt/floe/project", pattern=r"^/",
        description="FLOE_PROJECT_DIR: the project folder in the image; a writable emptyDir is mounted on "
        "its .floe/ (run state).",
    )
    artifacts_dir: str = Field(
        default="/opt/floe/artifacts", pattern=r"^/",
        description="Folder of the image's compiled artifacts (profiles.yml, dbt manifest). A writable emptyDir "
        "is mounted there, seeded from the image by an init container, with artifacts.json from the ConfigMap.",
    )


class ChartValues(HelmModel):
    """The root of a chart's values: with the two keys Helm itself may put there."""

    enabled: bool = Field(
        default=True, description="Read by a parent chart's dependency condition (floe-runtime); ignored here."
    )
    global_: dict[str, Any] = Field(
        default_factory=dict, alias="global", description="Helm's values shared with every subchart."
    )


def dig(values: Any, *keys: str, default: Any = None) -> Any:
    """``values[k1][k2]...``, or ``default`` where a key is missing or a level is not a mapping."""
    for key in keys:
        if not isinstance(values, dict) or key not in values:
            return default
        values = values[key]
    return values


def mapping_at(values: Any, *keys: str) -> dict[str, Any]:
    """The mapping at ``keys`` (see ``dig``), or an empty one when it is absent or not a mapping."""
    found = dig(values, *keys)
    return found if isinstance(found, dict) else {}
