"""postgres.serving: the database the marts are published to for Cube — reachable and writable.

A publish creates the serving schema when missing, staging tables in it, and swaps them in:
the check connects as the publish will, and inside a transaction it rolls back creates the
schema (if missing) and a table there, so a user without CREATE rights learns it now, not
after the first run.
"""

from __future__ import annotations

from floe.preflight.checks.pg import PgAddress, connect, server_version
from floe.preflight.framework import CheckContext, CheckFailed, Outcome
from floe.spec.platform import PostgresServing

FIELD = "serving"


def serving_database(spec: PostgresServing, context: CheckContext) -> Outcome:
    """Connect, then create the schema and a table in a transaction that is rolled back."""
    connection = connect(PgAddress.of(spec, context, FIELD), context, "the serving PostgreSQL")
    import psycopg2  # importable: connect() succeeded with it
    schema = '"' + spec.schema_.replace('"', '""') + '"'
    try:
        version = server_version(connection)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (spec.schema_,))
            row = cursor.fetchone()
            exists = bool(row and row[0])
            try:
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                cursor.execute(f"CREATE TABLE {schema}._floe_preflight_probe (id int)")
            except psycopg2.Error as exc:  # the server refused the statement
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise CheckFailed(
                    f"user '{spec.user}' cannot create tables in schema '{spec.schema_}' of database "
                    f"'{spec.database}': {first}",
                    f"GRANT CREATE ON DATABASE {spec.database} TO {spec.user} (and on schema {spec.schema_} when "
                    f"it exists), or pick a schema the user owns in {FIELD}.schema",
                ) from None
        connection.rollback()  # nothing of the probe stays
    finally:
        connection.close()
    state = "exists" if exists else "does not exist yet (the first publish creates it)"
    return Outcome(f"connected (PostgreSQL {version}); schema {spec.schema_} {state} and is writable",
                   details={"server_version": version, "schema_exists": str(exists).lower()})
