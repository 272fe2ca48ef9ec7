"""PostgreSQL as compute target and as Dagster's storage: ok, wrong password, wrong database,
unmigrated, outdated, refused."""

from __future__ import annotations

import pytest

from tests.integration.preflight.conftest import Preflight, only
from tests.support.servers import PrivatePostgres, closed_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def dagster_storage(database: str, port: int = 5432, **extra: object) -> dict[str, object]:
    return {"orchestrator": {"storage": {"type": "postgres", "host": "127.0.0.1", "port": port, "user": "postgres",
                                         "database": database, **extra}}}


def test_dagster_schema_unmigrated_then_migrated_then_outdated(preflight: Preflight, scratch_database: str) -> None:
    import psycopg2
    from dagster_postgres import DagsterPostgresStorage

    from floe.preflight.checks.orchestrator import dagster_schema_heads

    empty = only(preflight(dagster_storage(scratch_database), services=["postgres"]), "postgres")
    assert empty.status == "warning"
    assert "holds no Dagster schema yet" in empty.message and "dagster instance migrate" in (empty.remediation or "")

    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{scratch_database}"
    DagsterPostgresStorage(postgres_url=url)  # creates and stamps the schema, as the webserver would
    migrated = only(preflight(dagster_storage(scratch_database), services=["postgres"]), "postgres")
    assert migrated.status == "ok", migrated
    assert migrated.details["schema_revision"] in dagster_schema_heads()
    assert str(migrated.details["server_version"])[:2].isdigit()

    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=scratch_database) as connection, \
            connection.cursor() as cursor:
        # A revision of an older Dagster (stamped: the check reads only alembic_version).
        cursor.execute("UPDATE alembic_version SET version_num = '1aca709bba64'")
    outdated = only(preflight(dagster_storage(scratch_database), services=["postgres"]), "postgres")
    assert outdated.status == "error"
    assert "at revision 1aca709bba64" in outdated.message
    assert "dagster instance migrate" in (outdated.remediation or "")


def test_wrong_database(preflight: Preflight, postgres_dsn: str) -> None:
    result = only(preflight(dagster_storage("floe_missing_db"), services=["postgres"]), "postgres")
    assert result.status == "error"
    assert result.message == "database 'floe_missing_db' does not exist on 127.0.0.1:5432"


def test_refused(preflight: Preflight) -> None:
    port = closed_port()
    compute = {"compute": {"type": "postgres", "host": "127.0.0.1", "port": port, "user": "u", "database": "d"}}
    report = preflight({**compute, **dagster_storage("d", port=port)}, services=["compute", "postgres"])
    for service in ("compute", "postgres"):
        result = only(report, service)
        assert result.status == "error"
        assert result.message.startswith(f"connection refused by 127.0.0.1:{port}"), result.message


def test_compute_postgres_ok_on_the_shared_server(preflight: Preflight, scratch_database: str) -> None:
    environment = {"compute": {"type": "postgres", "host": "127.0.0.1", "user": "postgres",
                               "database": scratch_database, "schema": "analytics"}}
    result = only(preflight(environment, services=["compute"]), "compute")
    assert result.status == "ok", result
    assert "can build in schema 'analytics'" in result.message


@pytest.mark.skipif(PrivatePostgres.unavailable() is not None, reason=str(PrivatePostgres.unavailable()))
def test_wrong_password_is_named_and_never_shown(preflight: Preflight) -> None:
    with PrivatePostgres(password="the-right-password") as server:
        environment = {
            "compute": {"type": "postgres", "host": "127.0.0.1", "port": server.port, "user": "postgres",
                        "database": "postgres", "password": {"secret_ref": "PG_PASSWORD"}},
            **dagster_storage("postgres", port=server.port, password={"secret_ref": "PG_PASSWORD"}),
        }
        good = preflight(environment, services=["compute", "postgres"], secrets={"PG_PASSWORD": "the-right-password"})
        bad = preflight(environment, services=["compute", "postgres"], secrets={"PG_PASSWORD": "a-wrong-password"})
    assert only(good, "compute").status == "ok"
    assert only(good, "postgres").status == "warning"  # reachable; Dagster's schema not there yet
    for service in ("compute", "postgres"):
        result = only(bad, service)
        assert result.status == "error"
        assert "rejected the password of user 'postgres'" in result.message
        assert "PG_PASSWORD" in (result.remediation or "")
    assert "a-wrong-password" not in bad.model_dump_json()
    assert "the-right-password" not in good.model_dump_json()
