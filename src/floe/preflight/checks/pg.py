"""Connecting to PostgreSQL for a check, with libpq's errors turned into remediations.

Shared by the compute target, the Iceberg SQL catalog and Dagster's storage: all three are
"host, port, user, password, database" and fail in the same ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from floe.preflight.failures import network_failure
from floe.preflight.framework import CheckContext, CheckFailed
from floe.spec.platform import PostgresConnection

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection


@dataclass(frozen=True)
class PgAddress:
    """Where and as whom to connect; ``field`` is the platform.yaml block, for remediations."""

    host: str
    port: int
    user: str
    database: str
    password: str | None
    sslmode: str | None
    field: str
    password_ref: str | None = None

    @property
    def target(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    @classmethod
    def of(cls, spec: PostgresConnection, context: CheckContext, field: str) -> PgAddress:
        """The address of a platform.yaml PostgreSQL block, its password resolved."""
        password = context.secrets.get(spec.password, f"{field}.password")
        return cls(spec.host, spec.port, spec.user, spec.database, password, spec.sslmode, field,
                   spec.password.secret_ref if spec.password else None)


def connect(address: PgAddress, context: CheckContext, what: str) -> Connection:
    """Open a connection within the check's time limit.

    Raises:
        CheckFailed: With a message for each way libpq refuses (password, database, role,
            pg_hba, TLS) or the network fails; or when psycopg2 is not installed.
    """
    try:
        import psycopg2
    except ModuleNotFoundError:
        raise CheckFailed(f"{what} needs the PostgreSQL client (psycopg2), which is not installed",
                          "pip install 'floe-runtime[postgres]'") from None
    kwargs: dict[str, Any] = {
        "host": address.host, "port": address.port, "user": address.user, "dbname": address.database,
        "connect_timeout": max(1, int(context.remaining())), "application_name": "floe-preflight",
    }
    if address.password is not None:
        kwargs["password"] = address.password
    if address.sslmode is not None:
        kwargs["sslmode"] = address.sslmode
    try:
        connection: Connection = psycopg2.connect(**kwargs)
        return connection
    except psycopg2.OperationalError as exc:
        raise _failure(exc, address, context, what) from None


def _failure(exc: Exception, address: PgAddress, context: CheckContext, what: str) -> CheckFailed:
    text = str(exc).strip()
    lowered = text.lower()
    secret = f"the secret '{address.password_ref}'" if address.password_ref else f"{address.field}.password"
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return CheckFailed(f"{what} rejected the password of user '{address.user}'",
                           f"check {secret} and {address.field}.user")
    if "no password supplied" in lowered or "fe_sendauth" in lowered:
        return CheckFailed(f"{what} requires a password for user '{address.user}' and none is configured",
                           f"set {address.field}.password to a secret reference ({{secret_ref: NAME}})")
    if "database" in lowered and "does not exist" in lowered:
        return CheckFailed(f"database '{address.database}' does not exist on {address.host}:{address.port}",
                           f"create it (createdb {address.database}) or fix {address.field}.database")
    if "role" in lowered and "does not exist" in lowered:
        return CheckFailed(f"user '{address.user}' does not exist on {address.host}:{address.port}",
                           f"create the role or fix {address.field}.user")
    if "pg_hba.conf" in lowered:
        return CheckFailed(f"{address.host}:{address.port} does not let '{address.user}' connect from here "
                           "(no pg_hba.conf entry)",
                           "add a pg_hba.conf rule for this client's address, or use sslmode the server "
                           f"requires in {address.field}.sslmode")
    if "server does not support ssl" in lowered:
        return CheckFailed(f"{address.host}:{address.port} does not speak TLS but sslmode is "
                           f"'{address.sslmode}'", f"set {address.field}.sslmode to 'prefer' or 'disable', "
                           "or enable ssl on the server")
    network = network_failure(exc, what=what, host=address.host, port=address.port,
                              timeout_s=context.timeout_s, field=address.field)
    if network is not None:
        return network
    first = text.splitlines()[0] if text else type(exc).__name__
    return CheckFailed(f"cannot connect to {what}: {first}", f"check {address.field}")


def server_version(connection: Connection) -> str:
    """The server's version, e.g. '15.19'."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
    return str(row[0]).split()[0] if row else "unknown"
