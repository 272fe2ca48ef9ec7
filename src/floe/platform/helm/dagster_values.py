"""Values of ``charts/floe-dagster``: floe's additions around the official Dagster chart.

The ``dagster:`` block configures the official chart and is checked against that chart's own
schema when the dependency is present (``helm dependency build``); here it is only an open
mapping with its ``enabled`` switch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from floe.platform.helm.daemon_values import Daemon
from floe.platform.helm.values_common import (
    CRON,
    Artifacts,
    ChartValues,
    HelmModel,
    Image,
    Ingress,
    K8sName,
    Memory,
    OptionalK8sName,
    PodSecurity,
    Probe,
    Project,
    ResourceAmounts,
    Resources,
    SecretsWiring,
)

FLOE_IMAGE_REPOSITORY = "floe/dagster"
PREFLIGHT_COMMAND = ("floe", "preflight", "--all", "--json", "--timeout", "10")


def _small() -> Resources:
    return Resources(requests=ResourceAmounts(cpu="100m", memory="256Mi"),
                     limits=ResourceAmounts(cpu="500m", memory="512Mi"))


class DagsterBlock(HelmModel):
    """The official chart's values (validated by its own schema) plus its dependency switch."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    enabled: bool = Field(
        default=True,
        description="Deploy the official dagster chart (condition of the dependency). Off: only floe's "
        "own objects render, e.g. to test them offline.",
    )


class Volumes(HelmModel):
    """Writable scratch space: the root filesystem of every container is read-only."""

    state_size_limit: Memory = Field(
        default="2Gi", description="sizeLimit of the emptyDir mounted over <project>/.floe (dbt target, logs)."
    )
    tmp_size_limit: Memory = Field(default="512Mi", description="sizeLimit of the emptyDir mounted at /tmp.")


class RunState(HelmModel):
    """A PersistentVolumeClaim for ``<project>/.floe`` of the run pods: the DuckDB warehouse and the
    project lock survive from one run to the next (the live demo keeps growing across pods).

    The run launcher's volumes are literal values of the official chart, so the claim has a fixed
    name, ``claimName``, which ``dagster.runLauncher.config.k8sRunLauncher.volumes`` names
    (values-demo.yaml). ReadWriteOnce suits runs serialized by the queue (``maxConcurrentRuns:
    1``): pods on the node holding the volume share it, and ``flock`` on the project lock works
    there; charts/README.md explains the ReadWriteMany trade-off.
    """

    create: bool = Field(default=False, description="Create the claim (kept out of the run pods until named there).")
    claim_name: K8sName = Field(default="floe-run-state", description="Name of the claim.")
    size: Memory = Field(default="5Gi", description="Requested storage.")
    storage_class_name: str = Field(
        default="", description="StorageClass; empty: the cluster's default class."
    )
    access_mode: Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"] = Field(
        default="ReadWriteOnce", description="Access mode (ReadWriteOnce: run pods serialized on one node at a time)."
    )


class Preflight(HelmModel):
    """The pre-install / pre-upgrade hook Job: the release goes ahead only when preflight passes."""

    enabled: bool = Field(default=True, description="Run the hook Job.")
    command: list[str] = Field(
        default_factory=lambda: list(PREFLIGHT_COMMAND), min_length=1,
        description="Command of the hook container.",
    )
    active_deadline_seconds: int = Field(default=300, ge=10, description="Give up (and fail the release) after this.")
    backoff_limit: int = Field(default=0, ge=0, description="Retries of the hook Job.")
    resources: Resources = Field(default_factory=_small, description="Resources of the hook container.")


class Migrate(HelmModel):
    """``dagster instance migrate`` as a pre-install/pre-upgrade hook Job, after the preflight.

    It replaces the official chart's ``migrate`` Job (a plain Job with a fixed name: its pod
    template is immutable, so the next upgrade with a new image cannot apply it, and it runs
    only after the hooks, when the preflight has already refused the pending migration). With
    ``before-hook-creation`` every release creates a fresh Job.
    """

    enabled: bool = Field(
        default=True,
        description="Migrate Dagster's schema before the new version starts. Leave dagster.migrate.enabled "
        "(the official chart's Job) off: both at once are refused.",
    )
    active_deadline_seconds: int = Field(default=900, ge=10, description="Give up (and fail the release) after this.")
    backoff_limit: int = Field(default=0, ge=0, description="Retries of the hook Job.")
    resources: Resources = Field(default_factory=_small, description="Resources of the migrate container.")


class Postgresql(HelmModel):
    """Dagster's PostgreSQL as floe's own templates see it (backup, migrate hook).

    ``floe platform render`` fills it from platform.yaml's orchestrator storage, together with the
    official chart's ``dagster.postgresql``, so both sides name the same database.
    """

    host: str = Field(default="postgresql", min_length=1, description="Host name of the server.")
    port: int = Field(default=5432, ge=1, le=65535, description="Port of the server.")
    user: str = Field(default="dagster", min_length=1, description="User Dagster connects as.")
    database: str = Field(default="dagster", min_length=1, description="Database holding Dagster's tables.")
    params: dict[str, str] = Field(default_factory=dict, description="Connection parameters, e.g. sslmode: require.")
    secret_name: K8sName = Field(
        default="floe-dagster-postgresql", description="Secret holding the password (the official chart's too)."
    )
    password_key: str = Field(
        default="postgresql-password", pattern=r"^[-._a-zA-Z0-9]+$", description="Key of the password in that Secret."
    )


class Webserver(HelmModel):
    """The Dagster webserver Service the Ingress sends to."""

    service: OptionalK8sName = Field(
        default="", description="Service name; empty: the official chart's <release>-dagster-webserver."
    )
    port: int = Field(default=3000, ge=1, le=65535, description="Service port.")


class IngressAuth(HelmModel):
    """Authentication in front of the Dagster UI, through ingress-nginx annotations.

    The UI can launch and cancel runs and wipe assets: an Ingress without authentication must be
    asked for explicitly (``type: none``).
    """

    type: Literal["", "none", "basic", "oauth2"] = Field(
        default="",
        description="basic: HTTP basic auth from the htpasswd Secret secretName; oauth2: external auth (e.g. "
        "oauth2-proxy) at url, signing in at signin; none: no authentication (say so explicitly). Required "
        "when the Ingress is enabled.",
    )
    secret_name: OptionalK8sName = Field(
        default="", description="basic: Secret with key 'auth' in htpasswd format (ingress-nginx auth-secret)."
    )
    realm: str = Field(default="Dagster", description="basic: the realm shown by the browser.")
    url: str = Field(
        default="", pattern=r"^(https?://\S+)?$",
        description="oauth2: URL that checks each request (ingress-nginx auth-url), e.g. "
        "https://oauth2.example.com/oauth2/auth.",
    )
    signin: str = Field(
        default="", pattern=r"^(https?://\S+)?$",
        description="oauth2: where unauthenticated users are sent (ingress-nginx auth-signin), e.g. "
        "https://oauth2.example.com/oauth2/start?rd=$escaped_request_uri.",
    )

    @model_validator(mode="after")
    def _complete(self) -> IngressAuth:
        if self.type == "basic" and not self.secret_name:
            raise ValueError("ingress.auth.type basic needs ingress.auth.secretName (an htpasswd Secret, key auth)")
        if self.type == "oauth2" and not (self.url and self.signin):
            raise ValueError("ingress.auth.type oauth2 needs ingress.auth.url and ingress.auth.signin")
        return self


class DagsterIngress(Ingress):
    """The Ingress to the Dagster UI, with its authentication."""

    auth: IngressAuth = Field(default_factory=IngressAuth, description="Who may reach the UI.")

    @model_validator(mode="after")
    def _auth_chosen(self) -> DagsterIngress:
        if self.enabled and not self.auth.type:
            raise ValueError("ingress.enabled needs ingress.auth.type: basic or oauth2 (or none, to expose the "
                             "Dagster UI without authentication knowingly)")
        return self


class DisruptionBudget(HelmModel):
    """A PodDisruptionBudget that limits voluntary disruptions (drains) without blocking them.

    ``maxUnavailable`` rather than ``minAvailable``: a ``minAvailable`` equal to the replica count
    (1 over one webserver) would make every drain of that node wait forever.
    """

    enabled: bool = Field(default=True, description="Create the PodDisruptionBudget.")
    max_unavailable: int = Field(
        default=1, ge=1, description="Pods that may be down at once during a drain (at least 1: a drain never blocks)."
    )
    selector: dict[str, str] = Field(min_length=1, description="Labels of the pods it covers.")


def _webserver_budget() -> DisruptionBudget:
    return DisruptionBudget(selector={"component": "dagster-webserver"})


class DisruptionBudgets(HelmModel):
    """Budgets of the deployment view: the webserver only.

    Run pods get none: they are Jobs that finish by themselves, a budget over them would only
    stall drains. They carry ``cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`` instead
    (``dagster.runLauncher.config.k8sRunLauncher.runK8sConfig.podTemplateSpecMetadata``).
    """

    webserver: DisruptionBudget = Field(
        default_factory=_webserver_budget,
        description="Dagster webserver pods (the official chart labels them component=dagster-webserver; "
        "the release's instance label is added).",
    )


class ServiceMonitor(HelmModel):
    """Prometheus Operator ServiceMonitor scraping the metrics exporter's Service."""

    enabled: bool = Field(
        default=False,
        description="Render the ServiceMonitor (needs the operator's CRDs and monitoring.exporter.enabled).",
    )
    selector: dict[str, str] = Field(
        default_factory=lambda: {"floe.dev/metrics": "dagster"}, min_length=1,
        description="Labels the ServiceMonitor selects; the exporter's Service carries exactly these.",
    )
    port: str = Field(
        default="metrics", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=15,
        description="Named port to scrape; the exporter's Service names its port so.",
    )
    path: str = Field(default="/metrics", pattern=r"^/", description="HTTP path of the metrics.")
    interval: str = Field(default="30s", pattern=r"^[0-9]+(s|m)$", description="Scrape interval.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels the Prometheus instance selects on.")


def _exporter_resources() -> Resources:
    # Dagster's import and the instance's storage engine dominate: ~200 MiB resident measured.
    return Resources(requests=ResourceAmounts(cpu="50m", memory="256Mi"),
                     limits=ResourceAmounts(cpu="500m", memory="512Mi"))


class Exporter(HelmModel):
    """``floe metrics serve``: reads the Dagster instance and serves the series the alerts query."""

    enabled: bool = Field(
        default=False,
        description="Deploy the exporter (Deployment and Service). Required by serviceMonitor and prometheusRule: "
        "without it they would select and alert on series nobody exports.",
    )
    port: int = Field(default=9090, ge=1024, le=65535, description="Container and Service port of /metrics.")
    resources: Resources = Field(default_factory=_exporter_resources, description="Resources of the exporter.")
    instance_config_map: str = Field(
        default="", pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$",
        description="ConfigMap holding dagster.yaml; empty: the official chart's <release>-dagster-instance "
        "(its fullname, so nameOverride and fullnameOverride are followed).",
    )
    probe: Probe = Field(default_factory=Probe, description="Timing of the readiness and liveness probes on /metrics.")


class Alerts(HelmModel):
    """PrometheusRule with the alerts of the deployment view; thresholds are values."""

    enabled: bool = Field(default=False, description="Render the PrometheusRule (needs the operator's CRDs).")
    failed_runs_per_hour: int = Field(default=5, ge=1, description="Alert when more runs than this fail in 1 h.")
    run_duration_p99_seconds: int = Field(default=3600, ge=1, description="Alert when the p99 run duration exceeds it.")
    daemon_heartbeat_age_seconds: int = Field(
        default=120, ge=1,
        description="Alert when a daemon's heartbeat is older; 'floe platform render' writes platform.yaml's "
        "orchestrator.daemon.restart_timeout.",
    )
    memory_limit_ratio: float = Field(
        default=0.9, gt=0, le=1, description="Alert when a container uses more than this share of its memory limit."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Labels the Prometheus instance selects on.")


class Monitoring(HelmModel):
    """The metrics exporter and the Prometheus Operator objects that scrape it and alert on it."""

    exporter: Exporter = Field(default_factory=Exporter, description="The Dagster metrics exporter.")
    service_monitor: ServiceMonitor = Field(default_factory=ServiceMonitor, description="Scraping.")
    prometheus_rule: Alerts = Field(default_factory=Alerts, description="Alerting rules.")

    @model_validator(mode="after")
    def _exporter_behind_the_operator_objects(self) -> Monitoring:
        # Declared means honoured: a ServiceMonitor or a rule without the exporter would be inert.
        for name, wanted in (("serviceMonitor", self.service_monitor.enabled),
                             ("prometheusRule", self.prometheus_rule.enabled)):
            if wanted and not self.exporter.enabled:
                raise ValueError(f"monitoring.{name}.enabled needs monitoring.exporter.enabled: true "
                                 "(the exporter serves the series it scrapes and alerts on)")
        return self


class BackupS3(HelmModel):
    """Where the dumps go (S3 or an S3-compatible store)."""

    destination: str = Field(
        default="", pattern=r"^(s3://[a-z0-9][a-z0-9.-]+[a-z0-9](/.*)?)?$",
        description="s3://bucket/prefix receiving <timestamp>.sql.gz files; required when backups are enabled.",
    )
    region: str = Field(default="", description="AWS region; empty: the CLI's default.")
    endpoint: str = Field(default="", pattern=r"^(https?://\S+)?$", description="Endpoint of an S3-compatible store.")
    credentials_secret: str = Field(
        default="", pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$",
        description="Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; empty: workload identity (IRSA).",
    )


BACKUP_POSTGRES_MAJOR = 18
"""pg_dump's major version by default: pg_dump refuses servers newer than itself, and dumps older
ones, so the client must be at least the server's major version."""


def _dump_image() -> Image:
    return Image(repository="postgres", tag=f"{BACKUP_POSTGRES_MAJOR}.1-bookworm")


def _upload_image() -> Image:
    return Image(repository="amazon/aws-cli", tag="2.17.50")


class BackupServiceAccount(HelmModel):
    """The identity of the backup pod, for cloud roles (IRSA, GKE/Azure workload identity)."""

    create: bool = Field(default=False, description="Create the ServiceAccount.")
    name: OptionalK8sName = Field(
        default="", description="Its name; empty: <release>-floe-backup when created, else the namespace's default."
    )
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="e.g. eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/floe-backup (IRSA) or "
        "iam.gke.io/gcp-service-account: floe-backup@PROJECT.iam.gserviceaccount.com.",
    )


class Backup(HelmModel):
    """A CronJob streaming ``pg_dump | gzip`` of Dagster's PostgreSQL to object storage.

    The dump never lands on disk: the dump container writes into a FIFO the upload container
    reads and streams to S3. Connection settings come from the ``postgresql`` block.
    """

    enabled: bool = Field(default=False, description="Create the backup CronJob.")
    schedule: str = Field(default="0 */6 * * *", pattern=CRON, description="Cron schedule (every 6 hours).")
    s3: BackupS3 = Field(default_factory=BackupS3, description="Destination of the dumps.")
    dump_image: Image = Field(
        default_factory=_dump_image,
        description="Image with pg_dump, gzip and bash. Its PostgreSQL major version must be >= your server's "
        "(pg_dump refuses newer servers).",
    )
    upload_image: Image = Field(default_factory=_upload_image, description="Image with the aws CLI.")
    service_account: BackupServiceAccount = Field(
        default_factory=BackupServiceAccount, description="ServiceAccount of the backup pod (cloud roles)."
    )
    active_deadline_seconds: int = Field(
        default=3600, ge=60, description="Kill a backup still running after this (e.g. a stuck upload)."
    )
    successful_jobs_history_limit: int = Field(default=3, ge=0, description="Finished Jobs kept.")
    failed_jobs_history_limit: int = Field(default=3, ge=0, description="Failed Jobs kept.")
    resources: Resources = Field(default_factory=_small, description="Resources of each backup container.")

    @model_validator(mode="after")
    def _needs_destination(self) -> Backup:
        if self.enabled and not self.s3.destination:
            raise ValueError("backup.enabled needs backup.s3.destination (s3://bucket/prefix)")
        return self


def _floe_image() -> Image:
    from floe import __version__

    return Image(repository=FLOE_IMAGE_REPOSITORY, tag=__version__)


class FloeDagsterValues(ChartValues):
    """Everything ``charts/floe-dagster/values.yaml`` may hold."""

    image: Image = Field(
        default_factory=_floe_image,
        description="The floe image (docker/Dockerfile.dagster): preflight hook and state seeding.",
    )
    image_pull_secrets: list[K8sName] = Field(default_factory=list, description="Secrets for private registries.")
    pod_security: PodSecurity = Field(default_factory=PodSecurity, description="User of every floe container.")
    project: Project = Field(default_factory=Project, description="The project inside the image.")
    artifacts: Artifacts = Field(default_factory=Artifacts, description="The compiled artifacts ConfigMap.")
    secrets: SecretsWiring = Field(default_factory=SecretsWiring, description="Credentials, by reference only.")
    volumes: Volumes = Field(default_factory=Volumes, description="Writable emptyDir volumes.")
    run_state: RunState = Field(
        default_factory=RunState, description="A PersistentVolumeClaim for the run pods' <project>/.floe."
    )
    preflight: Preflight = Field(default_factory=Preflight, description="The pre-install/pre-upgrade hook.")
    disruption_budgets: DisruptionBudgets = Field(
        default_factory=DisruptionBudgets, description="PodDisruptionBudgets."
    )
    monitoring: Monitoring = Field(
        default_factory=Monitoring, description="Metrics exporter, ServiceMonitor and PrometheusRule."
    )
    daemon: Daemon = Field(
        default_factory=Daemon, description="floe's daemon Deployment (platform.yaml's orchestrator.daemon mode ha)."
    )
    backup: Backup = Field(default_factory=Backup, description="PostgreSQL backup CronJob.")
    migrate: Migrate = Field(default_factory=Migrate, description="Dagster's schema migration hook.")
    postgresql: Postgresql = Field(default_factory=Postgresql, description="Dagster's PostgreSQL (floe's templates).")
    ingress: DagsterIngress = Field(default_factory=DagsterIngress, description="Ingress to the Dagster webserver.")
    webserver: Webserver = Field(default_factory=Webserver, description="The webserver Service the Ingress targets.")
    dagster: DagsterBlock = Field(default_factory=DagsterBlock, description="Values of the official dagster chart.")

    @model_validator(mode="after")
    def _one_migration(self) -> FloeDagsterValues:
        if self.migrate.enabled and official_migrate_enabled(self.dagster.model_extra or {}):
            raise ValueError(migrate_conflict("migrate.enabled"))
        return self


def migrate_conflict(floe_switch: str) -> str:
    """Why the official chart's migrate Job and floe's migrate hook (``floe_switch``) cannot both be on."""
    return (
        f"dagster.migrate.enabled and {floe_switch} are both on: the official chart's migrate Job is a plain Job "
        "with a fixed name (immutable on the next upgrade, and run after the preflight hook); floe's migrate hook "
        f"replaces it. Set dagster.migrate.enabled: false (or {floe_switch}: false to keep the official Job)"
    )


def official_migrate_enabled(official_values: dict[str, Any]) -> bool:
    """Whether the official chart's values switch on its own migrate Job."""
    migrate = official_values.get("migrate")
    return isinstance(migrate, dict) and bool(migrate.get("enabled"))
