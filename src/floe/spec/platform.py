"""``platform.yaml``: what the platform team declares — one block per environment.

Each pluggable part is a union tagged by ``type``. Credentials are :class:`SecretRef` only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from floe.spec.base import StrictModel
from floe.spec.secrets import SecretRef

PLATFORM_FILE = "platform.yaml"

Threads = Annotated[int, Field(ge=1, le=256, description="dbt threads (models built at once).")]
Port = Annotated[int, Field(ge=1, le=65535)]


class DuckDBCompute(StrictModel):
    """Embedded DuckDB: a single file, no server. The default."""

    type: Literal["duckdb"] = Field(description="Compute target kind.")
    path: str = Field(
        default=".floe/warehouse.duckdb",
        description="Database file, relative to the project directory (or absolute).",
    )
    threads: Threads = 4
    memory_limit: str | None = Field(
        default=None, pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB memory_limit setting, e.g. '4GB'.",
    )


SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class PostgresConnection(StrictModel):
    """How to reach a PostgreSQL server; shared by the compute target and Dagster's storage."""

    host: str = Field(description="Server host name.")
    port: Port = Field(default=5432, description="Server port.")
    user: str = Field(description="Login role.")
    password: SecretRef | None = Field(default=None, description="Password, as a secret reference.")
    database: str = Field(description="Database name.")
    sslmode: SslMode | None = Field(default=None, description="libpq sslmode.")


class PostgresCompute(PostgresConnection):
    """PostgreSQL through dbt-postgres (extra 'postgres')."""

    type: Literal["postgres"] = Field(description="Compute target kind.")
    schema_: str = Field(default="public", alias="schema", description="Schema models build in.")
    threads: Threads = 4


class SnowflakeCompute(StrictModel):
    """Snowflake through dbt-snowflake (extra 'snowflake')."""

    type: Literal["snowflake"] = Field(description="Compute target kind.")
    account: str = Field(description="Account identifier, e.g. 'xy12345.eu-west-1'.")
    user: str = Field(description="Login name.")
    password: SecretRef | None = Field(default=None, description="Password, as a secret reference.")
    private_key: SecretRef | None = Field(
        default=None, description="PEM private key for key-pair auth, as a secret reference."
    )
    role: str | None = Field(default=None, description="Role to assume.")
    warehouse: str = Field(description="Virtual warehouse.")
    database: str = Field(description="Database.")
    schema_: str = Field(alias="schema", description="Schema models build in.")
    threads: Threads = 4


class BigQueryCompute(StrictModel):
    """Google BigQuery through dbt-bigquery (extra 'bigquery')."""

    type: Literal["bigquery"] = Field(description="Compute target kind.")
    project: str = Field(description="GCP project id.")
    dataset: str = Field(description="Dataset models build in.")
    method: Literal["oauth", "service-account"] = Field(
        default="oauth", description="Authentication: application-default 'oauth' or a key file."
    )
    keyfile: SecretRef | None = Field(
        default=None, description="Path of the service-account key file, as a secret reference."
    )
    location: str | None = Field(default=None, description="Dataset location, e.g. 'EU'.")
    threads: Threads = 4


class TrinoCompute(StrictModel):
    """Trino through dbt-trino (extra 'trino')."""

    type: Literal["trino"] = Field(description="Compute target kind.")
    host: str = Field(description="Coordinator host name.")
    port: Port = Field(default=443, description="Coordinator port.")
    user: str = Field(description="User name.")
    password: SecretRef | None = Field(
        default=None, description="Password for LDAP authentication, as a secret reference."
    )
    database: str = Field(description="Trino catalog models build in.")
    schema_: str = Field(alias="schema", description="Schema models build in.")
    http_scheme: Literal["http", "https"] = Field(default="https", description="Protocol.")
    threads: Threads = 4


Compute = Annotated[
    DuckDBCompute | PostgresCompute | SnowflakeCompute | BigQueryCompute | TrinoCompute,
    Field(discriminator="type"),
]


class SqlCatalog(StrictModel):
    """Iceberg SQL catalog (SQLite file locally, PostgreSQL in production)."""

    type: Literal["sql"] = Field(description="Catalog kind.")
    uri: str = Field(
        default="sqlite:///.floe/catalog.db",
        description="SQLAlchemy URL of the catalog database; relative SQLite paths are project-relative.",
    )
    password: SecretRef | None = Field(
        default=None, description="Password of the catalog database user, as a secret reference."
    )
    warehouse: str = Field(
        default=".floe/lakehouse", description="Warehouse location: a path or an s3:// URL."
    )


class RestCatalog(StrictModel):
    """Iceberg REST catalog (e.g. Apache Polaris) with OAuth2 client credentials."""

    type: Literal["rest"] = Field(description="Catalog kind.")
    uri: str = Field(description="Base URL of the REST catalog.")
    warehouse: str = Field(description="Catalog (warehouse) name, a catalog property.")
    client_id: str | None = Field(default=None, description="OAuth2 client id.")
    client_secret: SecretRef | None = Field(
        default=None, description="OAuth2 client secret, as a secret reference."
    )
    scope: str = Field(default="PRINCIPAL_ROLE:ALL", description="OAuth2 scope.")


Catalog = Annotated[SqlCatalog | RestCatalog, Field(discriminator="type")]


class LocalStorage(StrictModel):
    """A local directory."""

    type: Literal["local"] = Field(description="Storage kind.")
    path: str = Field(default=".floe/storage", description="Directory, relative to the project.")


class S3Storage(StrictModel):
    """Amazon S3 or an S3-compatible store."""

    type: Literal["s3"] = Field(description="Storage kind.")
    bucket: str = Field(description="Bucket name.")
    prefix: str = Field(default="", description="Key prefix inside the bucket.")
    region: str | None = Field(default=None, description="AWS region.")
    endpoint: str | None = Field(default=None, description="Endpoint URL of an S3-compatible store.")
    path_style: bool = Field(default=False, description="Use path-style addressing (most S3-compatible stores).")
    access_key_id: SecretRef | None = Field(default=None, description="Access key id, as a secret reference.")
    secret_access_key: SecretRef | None = Field(
        default=None, description="Secret access key, as a secret reference."
    )


Storage = Annotated[LocalStorage | S3Storage, Field(discriminator="type")]


class SqliteOrchestratorStorage(StrictModel):
    """Dagster run, event and schedule storage in SQLite files. The default."""

    type: Literal["sqlite"] = Field(description="Storage kind.")
    path: str = Field(default=".floe/dagster", description="Directory, relative to the project.")


class PostgresOrchestratorStorage(PostgresConnection):
    """Dagster storage in PostgreSQL (extra 'postgres')."""

    type: Literal["postgres"] = Field(description="Storage kind.")


OrchestratorStorage = Annotated[
    SqliteOrchestratorStorage | PostgresOrchestratorStorage, Field(discriminator="type")
]


class OrchestratorSpec(StrictModel):
    """How Dagster keeps its state."""

    storage: OrchestratorStorage = Field(
        default_factory=lambda: SqliteOrchestratorStorage(type="sqlite"),
        description="Run, event-log and schedule storage.",
    )


class NoExporter(StrictModel):
    """Nothing is exported."""

    type: Literal["none"] = Field(description="Exporter kind.")


class PlatformObservability(StrictModel):
    """Where traces and lineage go. This release supports 'none' only; exporters come next."""

    tracing: NoExporter = Field(
        default_factory=lambda: NoExporter(type="none"), description="OpenTelemetry exporter."
    )
    lineage: NoExporter = Field(
        default_factory=lambda: NoExporter(type="none"), description="OpenLineage transport."
    )


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


class PlatformSpec(StrictModel):
    """The whole of ``platform.yaml``."""

    environments: dict[
        Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=63)], EnvironmentSpec
    ] = Field(min_length=1, description="Environments by name, e.g. dev, staging, prod.")
