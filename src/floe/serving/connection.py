"""Where the published marts live: the serving PostgreSQL of the compiled environment.

``platform.yaml`` declares it per environment (``serving:``, see
:class:`floe.spec.platform.PostgresServing`); the compiled artifacts carry it as
``artifacts.environment.serving``. :func:`serving_connection` is the one reader: the publish
step, ``floe cube generate/verify/serve`` and preflight all connect with what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from floe.errors import FloeError

if TYPE_CHECKING:
    from floe.contract.project import CompiledProject
    from floe.spec.platform import PostgresServing

LEDGER_TABLE = "_floe_publish"
"""One row per published batch (newest ``batch`` is what Cube's refresh keys read)."""
MODELS_TABLE = "_floe_published_models"
"""One row per published model: its column signature, rows and the batch that last changed it."""
STAGING_PREFIX = "_floe_stage_"
"""Tables a publish fills before its swap; never read by Cube, dropped by the swap."""
ROW_HASH_COLUMN = "_floe_row_hash"
"""A fingerprint of each published row: what lets a publish send only the rows that changed."""


def ledger_refresh_sql(schema: str) -> str:
    """The SQL of Cube's refresh keys on published tables: the newest published batch."""
    return f"SELECT max(batch) FROM {schema}.{LEDGER_TABLE}"


class ServingError(FloeError):
    """The serving database refused a publish, or cannot be reached."""


@dataclass(frozen=True)
class ServingConnection:
    """How to reach the serving database, its password resolved, and the schema the marts live in."""

    host: str
    port: int
    user: str
    database: str
    schema: str
    password: str | None = None
    sslmode: str | None = None

    @property
    def target(self) -> str:
        """A printable address (no password)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database} (schema {self.schema})"

    @property
    def ledger(self) -> str:
        """The publish ledger, schema-qualified."""
        return f"{self.schema}.{LEDGER_TABLE}"

    def table(self, name: str) -> str:
        """A published table, schema-qualified (``floe_serving.mart_orders``)."""
        return f"{self.schema}.{name}"

    def libpq(self, connect_timeout_s: int = 10) -> str:
        """A libpq connection string (keyword=value); without a password libpq reads $PGPASSWORD or ~/.pgpass."""
        parts = {"host": self.host, "port": str(self.port), "dbname": self.database, "user": self.user,
                 "connect_timeout": str(connect_timeout_s), "application_name": "floe-serving"}
        if self.password is not None:
            parts["password"] = self.password
        if self.sslmode is not None:
            parts["sslmode"] = self.sslmode
        return " ".join(f"{key}={_libpq_value(value)}" for key, value in parts.items())


def _libpq_value(value: str) -> str:
    """A value quoted as libpq's keyword=value syntax wants (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def of_spec(spec: PostgresServing) -> ServingConnection:
    """The connection of a ``serving:`` block, its password secret resolved now.

    Raises:
        FloeError: the password's secret is declared but not set.
    """
    from floe.spec.secrets import resolve_secrets

    password = resolve_secrets([spec.password.secret_ref])[spec.password.secret_ref] if spec.password else None
    return ServingConnection(host=spec.host, port=spec.port, user=spec.user, database=spec.database,
                             schema=spec.schema_, password=password, sslmode=spec.sslmode)


def serving_connection(compiled: CompiledProject) -> ServingConnection | None:
    """The serving database of the compiled environment, or None when it declares none.

    None means Cube reads the compute itself (a server compute, or DuckDB with no serving).

    Raises:
        FloeError: the password's secret is declared but not set.
    """
    spec = compiled.artifacts.environment.serving
    return of_spec(spec) if spec is not None else None
