"""postgres.serving: the serving database Cube reads the published marts from — reachable and writable."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.preflight.conftest import Preflight
from tests.support.servers import closed_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def _serving(database: str, *, port: int = 5432, user: str = "postgres") -> dict[str, Any]:
    return {"compute": {"type": "duckdb"},
            "serving": {"type": "postgres", "host": "127.0.0.1", "port": port, "user": user, "database": database}}


def _serving_result(report: Any) -> Any:
    [result] = [check for check in report.checks if check.check == "postgres.serving"]
    return result


def test_a_writable_database_passes_and_the_probe_leaves_nothing(preflight: Preflight, scratch_database: str) -> None:
    import psycopg2

    result = _serving_result(preflight(_serving(scratch_database), services=["postgres"]))
    assert result.status == "ok", result
    assert "schema floe_serving does not exist yet" in result.message and "writable" in result.message
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=scratch_database) as connection, \
            connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'floe_serving'")
        assert cursor.fetchone() == (0,)  # the probe's schema and table were rolled back


def test_a_user_without_create_rights_is_told_what_to_grant(preflight: Preflight, scratch_database: str) -> None:
    import psycopg2

    role = f"floe_reader_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=scratch_database)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {role} LOGIN")  # CONNECT and TEMP only, as PUBLIC has
        result = _serving_result(preflight(_serving(scratch_database, user=role), services=["postgres"]))
        assert result.status == "error", result
        assert f"user '{role}' cannot create tables in schema 'floe_serving'" in result.message
        assert "GRANT CREATE ON DATABASE" in (result.remediation or "")
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


def test_refused_and_no_serving(preflight: Preflight) -> None:
    port = closed_port()
    refused = _serving_result(preflight(_serving("d", port=port), services=["postgres"]))
    assert refused.status == "error" and refused.message.startswith(f"connection refused by 127.0.0.1:{port}")
    report = preflight({"compute": {"type": "duckdb"}}, services=["postgres"])
    assert [check.check for check in report.checks] == ["postgres.dagster"]
