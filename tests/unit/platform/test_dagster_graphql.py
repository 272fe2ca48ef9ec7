"""The pure parts of floe's Dagster GraphQL client: URLs and what a failed run's error says.

Launching and following runs is tested against a real `floe dev` in
tests/integration/dev/test_demo_trigger.py; the queries are checked against the installed
Dagster's schema in tests/integration/test_dagster_graphql_queries.py.
"""

from __future__ import annotations

import pytest

from floe.errors import FloeError
from floe.platform.dagster_graphql import RunState, describe_failure, normalise_url, run_url

# dagster-dbt's message when dbt fails, as a run's step failure carries it (colours included).
DBT_FAILURE = (
    "dagster_dbt.errors.DagsterDbtCliRuntimeError: The dbt CLI process with command\n\n"
    "`/venv/bin/dbt build --profile floe --target dev --select fqn:*`\n\n"
    "failed with exit code `1`. Check the stdout in the Dagster compute logs for the full information about "
    "the error, or view the dbt debug log: /p/.floe/dbt/target/dbt_models-61c660a-886a656/dbt.log.\n\n"
    "Errors parsed from dbt logs:\n\n"
    "1 of 15 ERROR creating sql table model main.customer_revenue ........ [\x1b[31mERROR\x1b[0m in 1.70s]\n\n"
    "\x1b[31mFailure in model customer_revenue (models/marts/customer_revenue.sql)\x1b[0m\n\n"
    "  Runtime Error in model customer_revenue (models/marts/customer_revenue.sql)\n"
    "  Catalog Error: Table with name no_such_table does not exist!\n"
    '  Did you mean "raw_customers"?\n  \n'
    "  LINE 10:       select * from no_such_table\n"
    "                               ^\n"
)


@pytest.mark.parametrize(("given", "expected"), [
    ("http://127.0.0.1:3000/", "http://127.0.0.1:3000"),
    (" http://dagster-webserver:80 ", "http://dagster-webserver:80"),
    ("http://0.0.0.0:3300", "http://127.0.0.1:3300"),  # floe dev --host 0.0.0.0 records this
    ("https://dagster.example.com/prefix/", "https://dagster.example.com/prefix"),
])
def test_urls_are_normalised(given: str, expected: str) -> None:
    assert normalise_url(given) == expected
    assert run_url(expected, "abc") == f"{expected}/runs/abc"


@pytest.mark.parametrize("bad", ["127.0.0.1:3000", "ftp://host", "http://", ""])
def test_a_url_that_is_not_http_is_refused(bad: str) -> None:
    with pytest.raises(FloeError, match="not an http\\(s\\) URL") as raised:
        normalise_url(bad)
    assert raised.value.hint and "--url" in raised.value.hint


def test_a_dbt_failure_is_told_by_dbts_own_lines_and_its_log() -> None:
    assert describe_failure(DBT_FAILURE) == [
        "Failure in model customer_revenue (models/marts/customer_revenue.sql)",
        "Runtime Error in model customer_revenue (models/marts/customer_revenue.sql)",
        "Catalog Error: Table with name no_such_table does not exist!",
        "dbt's log: /p/.floe/dbt/target/dbt_models-61c660a-886a656/dbt.log",
    ]


def test_any_other_failure_is_its_first_line() -> None:
    assert describe_failure("ValueError: the batch is empty\n  File x, line 3") == ["ValueError: the batch is empty"]
    assert describe_failure("  \n") == []


def test_run_state() -> None:
    done = RunState("r", "SUCCESS", start_time=100.0, end_time=142.5)
    assert done.finished and done.succeeded and done.duration_s == 42.5
    failed = RunState("r", "FAILURE", start_time=None, end_time=None)
    assert failed.finished and not failed.succeeded and failed.duration_s is None
    queued = RunState("r", "QUEUED")
    assert not queued.finished and not queued.succeeded
