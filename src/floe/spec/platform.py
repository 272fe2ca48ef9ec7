"""``platform.yaml``: what the platform team declares — one block per environment.

Each pluggable part is a union tagged by ``type``. Credentials are :class:`SecretRef` only.
The compute targets live in :mod:`floe.spec.compute` and are re-exported here.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from floe.spec.base import StrictModel
from floe.spec.base import rule_error as _rule
from floe.spec.compute import (
    BigQueryCompute,
    Compute,
    DuckDBCompute,
    PostgresCompute,
    PostgresConnection,
    SnowflakeCompute,
    SslMode,
    TrinoCompute,
)
from floe.spec.daemon import OrchestratorDaemon
from floe.spec.mesh import EnterpriseIdentity
from floe.spec.observability import PlatformObservability
from floe.spec.platform_services import ServicesField
from floe.spec.secrets import SecretRef, url_has_password

PLATFORM_FILE = "platform.yaml"

_HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
# Schemes a warehouse URL may use, by the storage kind that serves them.
_WAREHOUSE_SCHEMES = {"file": "local", "s3": "s3", "s3a": "s3", "gs": "gcs", "abfs": "adls", "abfss": "adls"}



def _http_url(value: str | None, what: str) -> str | None:
    if value is not None and not _HTTP_URL.match(value):
        raise _rule(f"{what} must be an http:// or https:// URL, got {value!r}")
    return value


def _strip_slashes(value: str) -> str:
    return value.strip("/")


def _warehouse_storage_problems(warehouse: str, storage: Storage) -> list[str]:
    """Whether a warehouse location lies on the declared storage (same kind, same bucket)."""
    scheme, _, rest = warehouse.partition("://") if "://" in warehouse else ("file", "", warehouse)
    kind = _WAREHOUSE_SCHEMES.get(scheme.lower(), scheme)
    if kind != storage.type:
        return [f"catalog.warehouse {warehouse!r} is on {kind} storage but storage.type is '{storage.type}'"
                " — put the warehouse on the declared storage, or omit it to use the storage's root"]
    authority = rest.split("/", 1)[0]
    if isinstance(storage, S3Storage | GcsStorage) and authority != storage.bucket:
        return [f"catalog.warehouse {warehouse!r} is not in bucket '{storage.bucket}' of storage"]
    if isinstance(storage, AdlsStorage) and authority != storage.authority:
        return [f"catalog.warehouse {warehouse!r} is not in container '{storage.authority}' of storage"]
    return []


class SqlCatalog(StrictModel):
    """Iceberg SQL catalog: a SQLite file locally (the default), PostgreSQL in production.

    The database keeps only each table's current metadata pointer; table files go to the
    warehouse, which lies on the environment's storage.
    """

    type: Literal["sql"] = Field(description="Catalog kind.")
    uri: str = Field(
        default="sqlite:///.floe/catalog.db",
        description="SQLAlchemy URL of the catalog database: sqlite:///<path> (a relative path is "
        "project-relative) or postgresql://user@host:port/db (password in 'password').",
    )
    password: SecretRef | None = Field(
        default=None, description="Password of the catalog database user (PostgreSQL), as a secret reference."
    )
    warehouse: str | None = Field(
        default=None,
        description="Where table files go: a path (project-relative or absolute) or an s3://, gs:// or "
        "abfss:// URL on the declared storage. Omitted: the storage's root (local: its path; object "
        "stores: bucket and prefix).",
    )

    @field_validator("uri")
    @classmethod
    def _check_uri(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        driver = scheme.lower().split("+", 1)[0]
        if not sep or driver not in {"sqlite", "postgresql"}:
            raise _rule(f"expected sqlite:///<path> or postgresql://user@host:port/db, got {value!r}")
        if driver == "sqlite" and not rest.startswith("/"):
            raise _rule(f"a SQLite URL has three slashes before the path: sqlite:///<path>, got {value!r}")
        if driver == "sqlite" and rest.strip("/") in {"", ":memory:"}:
            raise _rule("an in-memory SQLite catalog forgets every table; give a file: sqlite:///.floe/catalog.db")
        if url_has_password(value):
            raise _rule("this URL contains a password; put it in 'password' as a secret reference")
        return value

    @field_validator("warehouse")
    @classmethod
    def _check_warehouse(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise _rule("warehouse must not be empty; omit it to use the storage's root")
        if "://" in value and value.split("://", 1)[0].lower() not in _WAREHOUSE_SCHEMES:
            raise _rule(f"unsupported warehouse URL {value!r}: expected a path or one of "
                        + ", ".join(f"{s}://" for s in _WAREHOUSE_SCHEMES))
        return value

    @model_validator(mode="after")
    def _password_needs_postgres(self) -> SqlCatalog:
        if self.password is not None and self.uri.lower().startswith("sqlite"):
            raise _rule("'password' applies to a PostgreSQL catalog database, not to SQLite; remove it")
        return self

    def storage_problems(self, storage: Storage) -> list[str]:
        """Problems between this catalog and the environment's storage (empty when they fit)."""
        return [] if self.warehouse is None else _warehouse_storage_problems(self.warehouse, storage)


class RestCatalog(StrictModel):
    """Iceberg REST catalog (e.g. Apache Polaris), optionally with OAuth2 client credentials.

    With client_id and client_secret, floe asks ``credential_uri`` for a token (form-encoded
    client_credentials grant with ``scope``) and sends it with every request.
    """

    type: Literal["rest"] = Field(description="Catalog kind.")
    uri: str = Field(
        description="Base URL of the REST catalog API, the part before /v1/ "
        "(Polaris: http://<host>:8181/api/catalog)."
    )
    warehouse: str = Field(
        min_length=1, description="Catalog (warehouse) name, sent as the 'warehouse' catalog property."
    )
    client_id: str | None = Field(default=None, description="OAuth2 client id (with client_secret).")
    client_secret: SecretRef | None = Field(
        default=None, description="OAuth2 client secret, as a secret reference (with client_id)."
    )
    scope: str | None = Field(
        default=None,
        description="OAuth2 scope of the token request. Omitted: PRINCIPAL_ROLE:ALL (all of the "
        "principal's roles in Polaris).",
    )
    credential_uri: str | None = Field(
        default=None,
        description="OAuth2 token endpoint. Omitted: <uri>/v1/oauth/tokens, where Polaris serves it.",
    )
    vended_credentials: bool = Field(
        default=False,
        description="Ask the catalog for short-lived storage credentials per table (header "
        "X-Iceberg-Access-Delegation: vended-credentials) instead of using storage keys.",
    )

    @field_validator("uri")
    @classmethod
    def _check_uri(cls, value: str) -> str:
        return _http_url(value, "uri") or value

    @field_validator("credential_uri")
    @classmethod
    def _check_credential_uri(cls, value: str | None) -> str | None:
        return _http_url(value, "credential_uri")

    @model_validator(mode="after")
    def _credentials_come_in_pairs(self) -> RestCatalog:
        if (self.client_id is None) != (self.client_secret is None):
            raise _rule("client_id and client_secret go together: set both for OAuth2, or neither")
        if self.client_id is None:
            unused = [name for name in ("scope", "credential_uri") if getattr(self, name) is not None]
            if unused:
                raise _rule(f"{' and '.join(unused)} apply only to OAuth2: set client_id and "
                            "client_secret, or remove them")
        return self

    def storage_problems(self, storage: Storage) -> list[str]:
        """Problems between this catalog and the environment's storage (empty when they fit)."""
        if not self.vended_credentials:
            return []
        if isinstance(storage, LocalStorage):
            return ["catalog.vended_credentials needs object storage (s3, gcs, adls), not local storage"]
        if storage.static_credentials():
            return ["catalog.vended_credentials is set and storage has its own credentials — use one: "
                    "remove the storage keys, or set vended_credentials: false"]
        return []


Catalog = Annotated[SqlCatalog | RestCatalog, Field(discriminator="type")]


class LocalStorage(StrictModel):
    """A local directory: the embedded default."""

    type: Literal["local"] = Field(description="Storage kind.")
    path: str = Field(
        default=".floe/lakehouse",
        min_length=1,
        description="Directory of the table files, relative to the project (or absolute); the SQL "
        "catalog's warehouse unless the catalog names another.",
    )

    def static_credentials(self) -> list[str]:
        """Names of the credential fields set (none for a local directory)."""
        return []


class S3Storage(StrictModel):
    """Amazon S3 or an S3-compatible store (MinIO, Ceph, moto)."""

    type: Literal["s3"] = Field(description="Storage kind.")
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="Bucket name.")
    prefix: str = Field(default="", description="Key prefix inside the bucket (no leading or trailing '/').")
    region: str | None = Field(
        default=None,
        description="AWS region. Omitted: resolved from the bucket on AWS; us-east-1 with a custom endpoint.",
    )
    endpoint: str | None = Field(
        default=None,
        description="Endpoint URL of an S3-compatible store, e.g. http://minio:9000; used by this client "
        "even when a REST catalog vends another.",
    )
    path_style: bool = Field(
        default=False,
        description="Path-style addressing (bucket in the path, not the host name) at the custom "
        "endpoint; most S3-compatible stores need it.",
    )
    access_key_id: SecretRef | None = Field(default=None, description="Access key id, as a secret reference.")
    secret_access_key: SecretRef | None = Field(
        default=None, description="Secret access key, as a secret reference."
    )

    _normalise_prefix = field_validator("prefix")(_strip_slashes)

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        return _http_url(value, "endpoint")

    @model_validator(mode="after")
    def _check_addressing_and_keys(self) -> S3Storage:
        if self.path_style and self.endpoint is None:
            raise _rule("path_style applies to a custom endpoint; set endpoint, or remove path_style "
                        "(AWS S3 itself is addressed by host name)")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise _rule("access_key_id and secret_access_key go together: set both, or neither to use "
                        "the default AWS credential chain or vended credentials")
        return self

    def static_credentials(self) -> list[str]:
        """Names of the credential fields set."""
        return ["access_key_id"] if self.access_key_id is not None else []


class GcsStorage(StrictModel):
    """Google Cloud Storage."""

    type: Literal["gcs"] = Field(description="Storage kind.")
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$", description="Bucket name.")
    prefix: str = Field(default="", description="Object name prefix inside the bucket.")
    endpoint: str | None = Field(
        default=None, description="Endpoint URL of a GCS-compatible server (an emulator); omitted: Google's."
    )
    access_token: SecretRef | None = Field(
        default=None,
        description="OAuth2 access token, as a secret reference. Omitted: Google application default "
        "credentials (GOOGLE_APPLICATION_CREDENTIALS, workload identity) or vended credentials.",
    )

    _normalise_prefix = field_validator("prefix")(_strip_slashes)

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        return _http_url(value, "endpoint")

    def static_credentials(self) -> list[str]:
        """Names of the credential fields set."""
        return ["access_token"] if self.access_token is not None else []


class AdlsStorage(StrictModel):
    """Azure Data Lake Storage Gen2 (a storage account with hierarchical namespace)."""

    type: Literal["adls"] = Field(description="Storage kind.")
    account_name: str = Field(pattern=r"^[a-z0-9]{3,24}$", description="Storage account name.")
    container: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", description="Container (file system) name."
    )
    prefix: str = Field(default="", description="Directory inside the container.")
    account_key: SecretRef | None = Field(
        default=None, description="Shared account key, as a secret reference."
    )
    sas_token: SecretRef | None = Field(default=None, description="SAS token, as a secret reference.")
    tenant_id: str | None = Field(default=None, description="Entra ID tenant of a service principal.")
    client_id: str | None = Field(default=None, description="Application (client) id of a service principal.")
    client_secret: SecretRef | None = Field(
        default=None, description="Service principal's client secret, as a secret reference."
    )

    _normalise_prefix = field_validator("prefix")(_strip_slashes)

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> AdlsStorage:
        principal = [self.tenant_id, self.client_id, self.client_secret]
        if any(v is not None for v in principal) and not all(v is not None for v in principal):
            raise _rule("a service principal needs tenant_id, client_id and client_secret together")
        if len(self.static_credentials()) > 1:
            raise _rule(f"choose one way to authenticate, not {' and '.join(self.static_credentials())}")
        return self

    @property
    def authority(self) -> str:
        """``container@account.dfs.core.windows.net``: the authority of abfss:// URLs."""
        return f"{self.container}@{self.account_name}.dfs.core.windows.net"

    def static_credentials(self) -> list[str]:
        """Names of the credential fields set (at most one way is allowed)."""
        used = [name for name in ("account_key", "sas_token") if getattr(self, name) is not None]
        return used + (["client_secret"] if self.client_secret is not None else [])


Storage = Annotated[LocalStorage | S3Storage | GcsStorage | AdlsStorage, Field(discriminator="type")]


class SqliteOrchestratorStorage(StrictModel):
    """Dagster run, event and schedule storage in SQLite files. The default."""

    type: Literal["sqlite"] = Field(description="Storage kind.")
    path: str = Field(default=".floe/dagster", description="Directory, relative to the project.")

    @field_validator("path")
    @classmethod
    def _path_not_blank(cls, value: str) -> str:
        # An empty path would put Dagster's files among the project's own.
        if not value.strip():
            raise _rule("path must not be empty; give a folder (omit it for .floe/dagster)")
        return value


class PostgresOrchestratorStorage(PostgresConnection):
    """Dagster storage in PostgreSQL (extra 'postgres')."""

    type: Literal["postgres"] = Field(description="Storage kind.")


OrchestratorStorage = Annotated[
    SqliteOrchestratorStorage | PostgresOrchestratorStorage, Field(discriminator="type")
]


class OrchestratorRetention(StrictModel):
    """How much Dagster history is kept, whichever way runs start (floe run, floe dev, Kubernetes).

    A finished run beyond the newest ``runs`` or older than ``days`` is deleted with its events
    and logs: after each ``floe run``, and every few minutes by the ``floe_retention`` sensor where
    Dagster's daemon runs. Runs still queued or running are never touched.
    """

    runs: int | None = Field(
        default=100, ge=1, le=1_000_000,
        description="Newest finished runs kept; older ones are deleted with their events and logs. "
        "null: no limit by count.",
    )
    days: int | None = Field(
        default=None, ge=1, le=36_500,
        description="Finished runs older than this many days are deleted too. null: no limit by age.",
    )
    tick_days: int | None = Field(
        default=7, ge=1, le=36_500,
        description="Schedule and sensor ticks older than this many days are deleted by Dagster's daemon "
        "(its 'retention' setting). null: Dagster's own defaults (skipped sensor ticks 7 days, the rest kept).",
    )

    @property
    def prunes_runs(self) -> bool:
        """Whether any limit applies to runs."""
        return self.runs is not None or self.days is not None


class OrchestratorSpec(StrictModel):
    """How Dagster keeps its state."""

    storage: OrchestratorStorage = Field(
        default_factory=lambda: SqliteOrchestratorStorage(type="sqlite"),
        description="Run, event-log and schedule storage.",
    )
    retention: OrchestratorRetention = Field(
        default_factory=OrchestratorRetention,
        description="How much run, event and tick history Dagster keeps (every project, every way runs start).",
    )
    daemon: OrchestratorDaemon = Field(
        default_factory=OrchestratorDaemon,
        description="Dagster's daemon: one restarted when its heartbeat stops (single), or several under "
        "leader election with exactly one active (ha).",
    )

    @model_validator(mode="after")
    def _ha_needs_shared_state(self) -> OrchestratorSpec:
        # Schedules, sensors, the run queue and heartbeats must outlive the leader: a standby in
        # another pod or on another machine cannot open the leader's SQLite files.
        if self.daemon.mode == "ha" and not isinstance(self.storage, PostgresOrchestratorStorage):
            raise _rule("daemon mode ha needs storage type postgres: a standby taking over must read the "
                        "schedules, sensors and run queue the leader left, and SQLite files are not shared "
                        "between machines; set storage to type: postgres, or daemon mode: single")
        return self


class PostgresServing(PostgresConnection):
    """A PostgreSQL database the marts are published to, for Cube to read while runs go on.

    Only for an embedded DuckDB compute: a DuckDB file has one writer, so Cube cannot read it
    while a run builds. After each successful run the published models are copied there,
    incrementally and atomically per model. With a server compute Cube reads the compute itself.
    """

    type: Literal["postgres"] = Field(description="Serving database kind.")
    schema_: str = Field(
        default="floe_serving", alias="schema", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
        description="Schema the published tables live in (created when missing).",
    )
    models: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] | None = Field(
        default=None,
        description="dbt models to publish. null: the models the semantic layer (Cube) reads, i.e. those "
        "of the dbt project's semantic models.",
    )


Serving = Annotated[PostgresServing, Field(discriminator="type")]


class EnvironmentSpec(StrictModel):
    """One deployment environment (dev, staging, prod, ...)."""

    compute: Compute = Field(
        default_factory=lambda: DuckDBCompute(type="duckdb"),
        description="Where dbt runs the SQL.",
    )
    catalog: Catalog = Field(
        default_factory=lambda: SqlCatalog(type="sql"), description="Iceberg catalog for raw data."
    )
    storage: Storage = Field(
        default_factory=lambda: LocalStorage(type="local"), description="Object storage."
    )
    orchestrator: OrchestratorSpec = Field(
        default_factory=OrchestratorSpec, description="Dagster instance settings."
    )
    observability: PlatformObservability = Field(
        default_factory=PlatformObservability, description="Trace and lineage destinations."
    )
    serving: Serving | None = Field(
        default=None,
        description="Where Cube reads the marts when the compute is an embedded DuckDB file (published after "
        "each run). null: Cube reads the compute directly (server computes).",
    )
    services: ServicesField = Field(
        default=None,
        description="The shared services floe-platform deploys (floe platform render --chart floe-platform); "
        "must agree with catalog and observability. null: no platform services (floe-runtime).",
    )

    @model_validator(mode="after")
    def _serving_needs_embedded_compute(self) -> EnvironmentSpec:
        # Declared means honoured: a server compute is what Cube reads, so a copy would be ignored.
        if self.serving is not None and not isinstance(self.compute, DuckDBCompute):
            raise _rule(f"serving is only for an embedded DuckDB compute; with compute.type "
                        f"'{self.compute.type}' Cube reads the compute directly — remove serving")
        return self


class PlatformSpec(StrictModel):
    """The whole of ``platform.yaml``."""

    environments: dict[
        Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=63)], EnvironmentSpec
    ] = Field(min_length=1, description="Environments by name, e.g. dev, staging, prod.")
    enterprise: EnterpriseIdentity | None = Field(
        default=None,
        description="The enterprise this platform is, as the top layer of a data mesh: domains "
        "(domains/<name>/domain.yaml beside this file) refer to it by name and version.",
    )


__all__ = [
    "PLATFORM_FILE", "AdlsStorage", "BigQueryCompute", "Catalog", "Compute", "DuckDBCompute",
    "EnvironmentSpec", "GcsStorage", "LocalStorage", "OrchestratorRetention", "OrchestratorSpec", "PlatformSpec",
    "PostgresCompute", "PostgresConnection", "PostgresOrchestratorStorage", "PostgresServing", "RestCatalog",
    "S3Storage", "Serving", "SnowflakeCompute", "SqlCatalog", "SqliteOrchestratorStorage", "SslMode", "Storage",
    "TrinoCompute",
]
