"""The compute block of ``platform.yaml``: where dbt runs the SQL, one model per dbt adapter.

Each model mirrors the profile keys of its dbt adapter that a dbt user relies on, under the same
names, so a ``profiles.yml`` output moves into ``platform.yaml`` as it is. A key floe does not
know is refused (never passed through unseen), and every value is checked here, at validation:
a DuckDB extension that would need a download, a setting given twice, an attachment whose
name clashes. Credentials are :class:`SecretRef` only; dbt receives them as ``env_var()``.
"""

from __future__ import annotations

import importlib.util
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from floe.spec.base import IDENTIFIER_PATTERN, StrictModel
from floe.spec.base import rule_error as _rule
from floe.spec.duckdb_extensions import NAME_PATTERN, unavailable_reason
from floe.spec.secrets import SecretRef, is_credential_key

Threads = Annotated[int, Field(ge=1, le=256, description="dbt threads (models built at once).")]
Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[int, Field(ge=1, le=86_400)]
# A scalar a database session setting takes; a credential is a secret reference instead.
SettingValue = StrictBool | StrictInt | StrictFloat | StrictStr | SecretRef



def _names_credential(key: str) -> bool:
    """Whether a key names a credential; DuckDB's own names too (s3_secret_access_key, pg_password)."""
    lowered = key.lower()
    return is_credential_key(key) or lowered.endswith(("secret_access_key", "password"))


def _no_literal_credentials(values: dict[str, Any], what: str) -> dict[str, Any]:
    """Refuse a plain string under a credential key; turn ``{secret_ref: X}`` into a SecretRef."""

    def walk(value: Any, key: str) -> Any:
        if isinstance(value, dict):
            if set(value) == {"secret_ref"}:
                return SecretRef.model_validate(value)
            return {name: walk(item, name) for name, item in value.items()}
        if isinstance(value, list):
            return [walk(item, key) for item in value]
        if isinstance(value, str) and _names_credential(key):
            raise _rule(f"{what} '{key}' holds a literal credential; write {{secret_ref: NAME}} and set the "
                        "secret NAME in the environment")
        return value

    return {name: walk(value, name) for name, value in values.items()}


# --- DuckDB -------------------------------------------------------------------------------------

def _available_extension(name: str) -> str:
    reason = unavailable_reason(name)
    if reason is not None:
        raise _rule(reason)
    return name


ExtensionName = Annotated[
    str, Field(pattern=NAME_PATTERN, max_length=64), AfterValidator(_available_extension)
]

# DuckDB settings floe sets itself: a second value would break what relies on it.
_FLOE_SETTINGS = {
    "extension_directory": "floe installs extensions from their wheels into the project's own directory",
    "autoinstall_known_extensions": "floe installs extensions from wheels, never from the network",
}
# The extension an ATTACH of each database type needs.
_ATTACH_EXTENSIONS = {"sqlite": "sqlite", "postgres": "postgres", "mysql": "mysql"}
# dbt-duckdb's own plugins, by module name, with the Python packages each imports (pip names).
BUILT_IN_PLUGINS: dict[str, tuple[str, ...]] = {
    "delta": ("deltalake",), "excel": ("pandas", "openpyxl"), "glue": ("boto3", "mypy-boto3-glue"),
    "gsheet": ("gspread", "pandas"), "iceberg": ("pyiceberg",), "motherduck": (), "postgres": (),
    "sqlalchemy": ("pandas", "sqlalchemy"),
}
# DuckDB extensions dbt-duckdb's plugins install on connect (from the wheels here, see below).
PLUGIN_EXTENSIONS = {"postgres": "postgres"}
FLOE_PLUGIN_ALIAS = "floe_extensions"
"""Name of floe's own dbt-duckdb plugin, which installs and loads the declared extensions."""


def _is_url(path: str) -> bool:
    return "://" in path or path.startswith(("md:", "motherduck:"))


def _stem(path: str) -> str:
    return PurePosixPath(path.split("?", 1)[0]).stem


class DuckDBAttachment(StrictModel):
    """Another database attached to every dbt session (dbt-duckdb ``attach``), read as ``alias.schema.table``."""

    path: str = Field(
        min_length=1,
        description="Database file, relative to the project directory (or absolute, or a URL); for "
        "type postgres or mysql, the connection string (no password: use the client's environment).",
    )
    alias: str | None = Field(
        default=None, pattern=IDENTIFIER_PATTERN,
        description="Name models use for it. Omitted: the file name without its extension.",
    )
    type: Literal["duckdb", "sqlite", "postgres", "mysql"] = Field(
        default="duckdb", description="Database kind; sqlite, postgres and mysql load their DuckDB extension.",
    )
    read_only: bool = Field(default=False, description="Attach read-only (dbt cannot write there).")

    @model_validator(mode="after")
    def _check(self) -> DuckDBAttachment:
        if self.type in ("postgres", "mysql"):
            if self.alias is None:
                raise _rule(f"a {self.type} attachment needs an alias (its connection string names no file)")
            if "password" in self.path.lower():
                raise _rule("the connection string holds a password; leave it out and set the client's "
                            "environment instead (PGPASSWORD / MYSQL_PWD as a secret of the run)")
        reason = unavailable_reason(_ATTACH_EXTENSIONS[self.type]) if self.type in _ATTACH_EXTENSIONS else None
        if reason is not None:
            raise _rule(f"attaching a {self.type} database needs its extension: {reason}")
        return self

    def database_name(self) -> str:
        """The name the attached database gets in SQL."""
        return self.alias or _stem(self.path)

    def extension(self) -> str | None:
        """The DuckDB extension this attachment needs loaded, if any."""
        return _ATTACH_EXTENSIONS.get(self.type)


class DuckDBPlugin(StrictModel):
    """A dbt-duckdb plugin (``plugins``): reads sources or writes models through another system."""

    module: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
        description="A dbt-duckdb built-in plugin (" + ", ".join(sorted(BUILT_IN_PLUGINS)) + ") or the "
        "import path of a module with a Plugin class.",
    )
    alias: str | None = Field(
        default=None, pattern=IDENTIFIER_PATTERN,
        description="Name sources and models use for it (meta.plugin). Omitted: the module's last part.",
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="The plugin's own settings, passed as written; credentials as {secret_ref: NAME}.",
    )

    @field_validator("config")
    @classmethod
    def _check_config(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _no_literal_credentials(value, "plugin config")

    @model_validator(mode="after")
    def _check_importable(self) -> DuckDBPlugin:
        if self.module in BUILT_IN_PLUGINS:
            missing = [package for package in BUILT_IN_PLUGINS[self.module]
                       if importlib.util.find_spec(package.replace("-", "_").lower()) is None]
            if missing:
                raise _rule(f"dbt-duckdb's '{self.module}' plugin needs {', '.join(missing)}, which "
                            f"{'is' if len(missing) == 1 else 'are'} not installed — pip install "
                            + " ".join(missing))
            extension = PLUGIN_EXTENSIONS.get(self.module)
            reason = unavailable_reason(extension) if extension else None
            if reason is not None:
                raise _rule(f"dbt-duckdb's '{self.module}' plugin loads a DuckDB extension: {reason}")
        elif importlib.util.find_spec(self.module.split(".", 1)[0]) is None:
            raise _rule(f"plugin module '{self.module}' is not importable here — install the package that "
                        f"provides it, or use a built-in plugin ({', '.join(sorted(BUILT_IN_PLUGINS))})")
        return self

    def name(self) -> str:
        """The name dbt-duckdb registers the plugin under."""
        return self.alias or self.module.rsplit(".", 1)[-1]


class DuckDBCompute(StrictModel):
    """Embedded DuckDB through dbt-duckdb: a single file, no server. The default.

    Mirrors dbt-duckdb's profile keys; extensions are loaded from their PyPI wheels, never
    downloaded.
    """

    type: Literal["duckdb"] = Field(description="Compute target kind.")
    path: str = Field(
        default=".floe/warehouse.duckdb",
        description="Database file, relative to the project directory (or absolute).",
    )
    schema_: str = Field(
        default="main", alias="schema", min_length=1, max_length=128,
        description="Schema models build in (dbt's target.schema; custom schemas are prefixed with it).",
    )
    threads: Threads = 4
    memory_limit: str | None = Field(
        default=None, pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB memory_limit setting, e.g. '4GB' (or settings.memory_limit, not both).",
    )
    extensions: list[ExtensionName] = Field(
        default_factory=list,
        description="DuckDB extensions every dbt session loads: built in (parquet, json, icu) or installed "
        "from their PyPI wheel (duckdb-extension-<name>, same version as duckdb); never downloaded.",
    )
    settings: dict[Annotated[str, Field(pattern=NAME_PATTERN, max_length=128)], SettingValue] = Field(
        default_factory=dict,
        description="DuckDB settings every dbt session SETs, e.g. {threads: 2, preserve_insertion_order: false}; "
        "credentials as {secret_ref: NAME}.",
    )
    external_root: str | None = Field(
        default=None, min_length=1,
        description="Folder (or s3:// URL) where models materialized as 'external' write their files, "
        "relative to the project directory (or absolute). Omitted: dbt-duckdb's default, the folder dbt "
        "runs in.",
    )
    attach: list[DuckDBAttachment] = Field(
        default_factory=list, description="Other databases attached to every dbt session.",
    )
    plugins: list[DuckDBPlugin] = Field(
        default_factory=list, description="dbt-duckdb plugins (sources and models read or written elsewhere).",
    )

    @model_validator(mode="before")
    @classmethod
    def _lift_memory_limit(cls, data: Any) -> Any:
        """settings.memory_limit means memory_limit: one field for what reads it (the run pods' fit check)."""
        if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
            return data
        settings = data["settings"]
        if "memory_limit" not in settings or data.get("memory_limit") not in (None, settings["memory_limit"]):
            return data  # absent, or a conflict the settings check reports where it is
        rest = {name: value for name, value in settings.items() if name != "memory_limit"}
        return {**data, "memory_limit": settings["memory_limit"], "settings": rest}

    @field_validator("path")
    @classmethod
    def _path_not_blank(cls, value: str) -> str:
        # An empty path would reach dbt-duckdb, whose failure blames the dbt project.
        if not value.strip():
            raise _rule("path must not be empty; give the database file (omit it for .floe/warehouse.duckdb)")
        return value

    @field_validator("extensions")
    @classmethod
    def _unique_extensions(cls, value: list[str]) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise _rule(f"extension {', '.join(repeated)} is listed more than once")
        return value

    @field_validator("settings")
    @classmethod
    def _check_settings(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        for name, reason in _FLOE_SETTINGS.items():
            if name in value:
                raise _rule(f"setting '{name}' is managed by floe ({reason}); remove it")
        for name, setting in value.items():
            if isinstance(setting, str) and _names_credential(name):
                raise _rule(f"setting '{name}' holds a literal credential; write {{secret_ref: NAME}}")
        given, memory_limit = value.get("memory_limit"), info.data.get("memory_limit")
        if given is not None and memory_limit is not None and str(given) != memory_limit:
            raise _rule(f"settings.memory_limit is '{given}' but memory_limit is '{memory_limit}'; "
                        "set it in one place")
        return value

    @field_validator("attach")
    @classmethod
    def _distinct_database_names(cls, value: list[DuckDBAttachment], info: ValidationInfo) -> list[DuckDBAttachment]:
        seen = {_stem(info.data.get("path") or ""): "the main database (path)"}
        for index, attachment in enumerate(value):
            name = attachment.database_name()
            if name in seen:
                raise _rule(f"attach[{index}] would be named '{name}', like {seen[name]}; give it another alias")
            seen[name] = f"attach[{index}]"
        return value

    @field_validator("plugins")
    @classmethod
    def _distinct_plugin_names(cls, value: list[DuckDBPlugin]) -> list[DuckDBPlugin]:
        names = {FLOE_PLUGIN_ALIAS: "floe's own plugin"}
        for index, plugin in enumerate(value):
            if plugin.name() in names:
                raise _rule(f"plugins[{index}] is named '{plugin.name()}', like {names[plugin.name()]}; "
                            "give it another alias")
            names[plugin.name()] = f"plugins[{index}]"
        return value

    def effective_settings(self) -> dict[str, Any]:
        """The DuckDB settings each session gets: ``settings`` with ``memory_limit`` merged in."""
        merged = dict(self.settings)
        if self.memory_limit is not None:
            merged["memory_limit"] = self.memory_limit
        return merged

    def extensions_to_load(self) -> list[str]:
        """Every extension the sessions need: the declared ones, then those attachments and plugins need."""
        wanted = list(self.extensions)
        needed = [attachment.extension() for attachment in self.attach]
        needed += [PLUGIN_EXTENSIONS.get(plugin.module) for plugin in self.plugins]
        for name in needed:
            if name is not None and name not in wanted:
                wanted.append(name)
        return wanted


# --- PostgreSQL ---------------------------------------------------------------------------------

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
    """PostgreSQL through dbt-postgres (extra 'postgres'); the keys are dbt-postgres's profile keys."""

    type: Literal["postgres"] = Field(description="Compute target kind.")
    schema_: str = Field(default="public", alias="schema", description="Schema models build in.")
    threads: Threads = 4
    role: str | None = Field(default=None, description="Role dbt SETs after connecting (SET ROLE).")
    search_path: str | None = Field(
        default=None, description="Session search_path, e.g. 'marts,public' (default: the server's).",
    )
    connect_timeout: Seconds | None = Field(default=None, description="Seconds to wait for a connection (dbt: 10).")
    keepalives_idle: int | None = Field(
        default=None, ge=0, le=86_400,
        description="Seconds idle before TCP keepalives (0: the system default); for firewalls that drop "
        "long queries' connections.",
    )
    retries: int | None = Field(default=None, ge=0, le=100, description="Connection attempts after a failure.")
    application_name: str | None = Field(
        default=None, max_length=63, description="application_name the server shows (dbt: 'dbt').",
    )
    sslrootcert: str | None = Field(default=None, description="CA certificate file for sslmode verify-ca/full.")


# --- Snowflake ----------------------------------------------------------------------------------

_SNOWFLAKE_AUTHENTICATORS = ("snowflake", "externalbrowser", "oauth", "username_password_mfa", "snowflake_jwt")


class SnowflakeCompute(StrictModel):
    """Snowflake through dbt-snowflake (extra 'snowflake'); the keys are dbt-snowflake's profile keys."""

    type: Literal["snowflake"] = Field(description="Compute target kind.")
    account: str = Field(description="Account identifier, e.g. 'xy12345.eu-west-1'.")
    user: str = Field(description="Login name.")
    password: SecretRef | None = Field(default=None, description="Password, as a secret reference.")
    private_key: SecretRef | None = Field(
        default=None, description="PEM private key for key-pair auth, as a secret reference."
    )
    private_key_passphrase: SecretRef | None = Field(
        default=None, description="Passphrase of an encrypted private_key, as a secret reference."
    )
    authenticator: str | None = Field(
        default=None,
        description="Authentication: " + ", ".join(_SNOWFLAKE_AUTHENTICATORS) + ", or an Okta URL "
        "(https://<okta_account>.okta.com). Omitted: password or key pair.",
    )
    token: SecretRef | None = Field(
        default=None, description="OAuth access token (authenticator: oauth), as a secret reference."
    )
    role: str | None = Field(default=None, description="Role to assume.")
    warehouse: str = Field(description="Virtual warehouse.")
    database: str = Field(description="Database.")
    schema_: str = Field(alias="schema", description="Schema models build in.")
    threads: Threads = 4
    query_tag: str | None = Field(default=None, max_length=2000, description="QUERY_TAG set on dbt's sessions.")
    client_session_keep_alive: bool | None = Field(
        default=None, description="Keep idle sessions alive (for runs longer than four hours).",
    )
    connect_retries: int | None = Field(default=None, ge=0, le=100, description="Connection attempts after a failure.")
    connect_timeout: Seconds | None = Field(default=None, description="Seconds per connection attempt.")

    @field_validator("authenticator")
    @classmethod
    def _check_authenticator(cls, value: str | None) -> str | None:
        if value is None or value.lower() in _SNOWFLAKE_AUTHENTICATORS or value.startswith("https://"):
            return value
        raise _rule(f"unknown authenticator {value!r}: expected one of {', '.join(_SNOWFLAKE_AUTHENTICATORS)} "
                    "or an https:// Okta URL")

    @model_validator(mode="after")
    def _token_means_oauth(self) -> SnowflakeCompute:
        oauth = (self.authenticator or "").lower() == "oauth"
        if oauth != (self.token is not None):
            raise _rule("authenticator: oauth and token go together: set both, or neither")
        if self.private_key_passphrase is not None and self.private_key is None:
            raise _rule("private_key_passphrase applies to private_key; set private_key, or remove it")
        return self


# --- BigQuery -----------------------------------------------------------------------------------

class BigQueryCompute(StrictModel):
    """Google BigQuery through dbt-bigquery (extra 'bigquery'); the keys are dbt-bigquery's profile keys."""

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
    execution_project: str | None = Field(
        default=None, description="Project billed for the queries (default: project).",
    )
    impersonate_service_account: str | None = Field(
        default=None, pattern=r"^[^@\s]+@[^@\s]+$", description="Service account to impersonate (its email).",
    )
    priority: Literal["interactive", "batch"] | None = Field(
        default=None, description="Query priority (dbt: interactive).",
    )
    job_execution_timeout_seconds: Seconds | None = Field(
        default=None, description="Seconds a query may run before dbt cancels it.",
    )
    job_retries: int | None = Field(default=None, ge=0, le=100, description="Retries of a failed query (dbt: 1).")
    maximum_bytes_billed: int | None = Field(
        default=None, ge=1, description="Queries that would bill more bytes fail instead.",
    )

    @model_validator(mode="after")
    def _keyfile_means_service_account(self) -> BigQueryCompute:
        if (self.method == "service-account") != (self.keyfile is not None):
            raise _rule("method: service-account and keyfile go together: set both, or neither (oauth)")
        return self


# --- Trino --------------------------------------------------------------------------------------

class TrinoCompute(StrictModel):
    """Trino through dbt-trino (extra 'trino'); the keys are dbt-trino's profile keys."""

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
    session_properties: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")], SettingValue] = Field(
        default_factory=dict,
        description="Session properties of every query, e.g. {query_max_run_time: 1h}; catalog properties "
        "as '<catalog>.<property>'.",
    )
    roles: dict[str, str] = Field(default_factory=dict, description="Role per catalog, e.g. {system: analyst}.")
    client_tags: list[str] = Field(default_factory=list, description="Client tags for resource groups.")
    timezone: str | None = Field(default=None, description="Session time zone, e.g. 'UTC'.")
    cert: bool | str | None = Field(
        default=None,
        description="TLS verification: false to skip it (not advised), or a CA bundle file to trust.",
    )
    retries: int | None = Field(default=None, ge=0, le=100, description="Attempts of a failed request.")

    @field_validator("session_properties")
    @classmethod
    def _check_session_properties(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _no_literal_credentials(value, "session property")


Compute = Annotated[
    DuckDBCompute | PostgresCompute | SnowflakeCompute | BigQueryCompute | TrinoCompute,
    Field(discriminator="type"),
]
