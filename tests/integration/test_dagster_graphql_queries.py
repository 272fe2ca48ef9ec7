"""Every GraphQL document floe sends to a Dagster webserver is valid against the installed
Dagster's own schema: a renamed field or type shows here on an upgrade, not in a user's terminal."""

from __future__ import annotations

import pytest

from floe.platform import dagster_graphql, dagster_probe

pytestmark = pytest.mark.integration

DOCUMENTS = {
    **{f"dagster_graphql.{name}": getattr(dagster_graphql, name) for name in ("_WORKSPACE", "_LAUNCH", "_RUNS",
                                                                              "_EVENTS")},
    **{f"dagster_probe.{name}": getattr(dagster_probe, name) for name in ("_LOCATIONS", "_RELOAD", "_DAEMONS")},
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_query_is_valid_against_dagsters_schema(name: str) -> None:
    from dagster_graphql.schema import create_schema
    from graphql import parse, validate

    errors = validate(create_schema().graphql_schema, parse(DOCUMENTS[name]))
    assert errors == [], f"{name}: {[error.message for error in errors]}"
