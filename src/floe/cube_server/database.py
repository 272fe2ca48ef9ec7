"""The database Cube reads, and the environment that tells Cube about it.

An environment on an embedded DuckDB compute declares a serving database (``serving:`` in
platform.yaml, PostgreSQL) that the marts are published to: a DuckDB file has one writer, so
Cube cannot read it while a run builds. An environment whose compute is PostgreSQL is read
directly. Other computes have no Cube driver here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from floe.cube_server.errors import CubeServerError
from floe.serving.connection import ServingConnection

if TYPE_CHECKING:
    from floe.contract.project import CompiledProject

# Cube's own tables (rollups built by its refresh worker) go to this schema of the same database.
PRE_AGGREGATIONS_SCHEMA = "floe_cube_pre_aggregations"


@dataclass(frozen=True)
class CubeDatabase(ServingConnection):
    """A PostgreSQL database Cube connects to, its password resolved: the serving database's
    connection, or a PostgreSQL compute's in the same shape."""

    source: str = "serving"  # where it was declared: 'serving' or 'compute'

    @property
    def target(self) -> str:
        """A printable address (no password)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def cube_environment(self) -> dict[str, str]:
        """Cube's ``CUBEJS_*`` settings for this database (data source and pre-aggregations)."""
        env = {
            "CUBEJS_DB_TYPE": "postgres",
            "CUBEJS_DB_HOST": self.host,
            "CUBEJS_DB_PORT": str(self.port),
            "CUBEJS_DB_NAME": self.database,
            "CUBEJS_DB_USER": self.user,
            "CUBEJS_DB_PASS": self.password or "",
            # Rollups are built in this same database by the refresh worker (no Cube Store here).
            "CUBEJS_EXTERNAL_DEFAULT": "false",
            "CUBEJS_PRE_AGGREGATIONS_SCHEMA": PRE_AGGREGATIONS_SCHEMA,
            # Dev mode (it reports usedPreAggregations) insists on an external database: this one.
            "CUBEJS_EXT_DB_TYPE": "postgres",
            "CUBEJS_EXT_DB_HOST": self.host,
            "CUBEJS_EXT_DB_PORT": str(self.port),
            "CUBEJS_EXT_DB_NAME": self.database,
            "CUBEJS_EXT_DB_USER": self.user,
            "CUBEJS_EXT_DB_PASS": self.password or "",
        }
        # libpq's sslmode in Cube's terms: 'prefer' and 'allow' accept a plain connection, which
        # is what Cube makes without SSL; 'require' encrypts without checking the certificate.
        if self.sslmode in ("require", "verify-ca", "verify-full"):
            env["CUBEJS_DB_SSL"] = "true"
            env["CUBEJS_DB_SSL_REJECT_UNAUTHORIZED"] = "false" if self.sslmode == "require" else "true"
        return env


def cube_database(compiled: CompiledProject) -> CubeDatabase:
    """The database Cube reads for the compiled environment.

    Raises:
        CubeServerError: the environment has neither a serving database nor a PostgreSQL compute,
            or a password secret is not set.
    """
    from floe.spec.platform import DuckDBCompute, PostgresCompute, PostgresConnection
    from floe.spec.secrets import resolve_secrets

    environment = compiled.artifacts.environment
    name = compiled.artifacts.environment_name
    spec: PostgresConnection
    if environment.serving is not None:
        spec, schema, source = environment.serving, environment.serving.schema_, "serving"
    elif isinstance(environment.compute, PostgresCompute):
        spec, schema, source = environment.compute, environment.compute.schema_, "compute"
    elif isinstance(environment.compute, DuckDBCompute):
        raise CubeServerError(
            f"environment '{name}' has no serving database: Cube cannot read the DuckDB warehouse "
            "(it has one writer at a time, and runs write it)",
            hint=f"declare one in platform.yaml under environments.{name}: "
            "'serving: {type: postgres, host: ..., user: ..., database: ...}' (the marts are published there "
            "after each run), or choose an environment that has one with --env",
        )
    else:
        raise CubeServerError(
            f"environment '{name}' computes on {environment.compute.type}, which floe's Cube server cannot read",
            hint="Cube runs here on PostgreSQL: use an environment on a postgres compute, or one with "
            "'serving: {type: postgres, ...}'",
        )
    password = None
    if spec.password is not None:
        password = resolve_secrets([spec.password.secret_ref])[spec.password.secret_ref]
    return CubeDatabase(host=spec.host, port=spec.port, user=spec.user, database=spec.database, schema=schema,
                        password=password, sslmode=spec.sslmode, source=source)
