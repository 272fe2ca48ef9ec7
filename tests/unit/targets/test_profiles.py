"""Each compute target's dbt profile: secrets stay env_var() calls, and dbt itself accepts it."""

from __future__ import annotations

import importlib.util
import os
from argparse import Namespace
from typing import Any

import pytest
import yaml

from floe.compiler.profiles import PROFILE_NAME, profiles_document, profiles_text, secret_names
from floe.errors import MissingExtraError
from floe.spec.platform import (
    BigQueryCompute,
    DuckDBCompute,
    EnvironmentSpec,
    PostgresCompute,
    SnowflakeCompute,
    TrinoCompute,
)
from floe.spec.secrets import SecretRef
from floe.targets import require_adapter

CASES: dict[str, Any] = {
    "duckdb": DuckDBCompute(type="duckdb", path="data/w.duckdb", threads=2, memory_limit="2GB"),
    "postgres": PostgresCompute(type="postgres", host="db.internal", port=6432, user="etl",
                                password=SecretRef(secret_ref="PG_PASSWORD"), database="analytics",
                                schema="marts", sslmode="require"),
    "snowflake": SnowflakeCompute(type="snowflake", account="xy12345.eu-west-1", user="etl",
                                  private_key=SecretRef(secret_ref="SF_KEY"), role="TRANSFORMER",
                                  warehouse="WH", database="ANALYTICS", schema="MARTS"),
    "bigquery": BigQueryCompute(type="bigquery", project="acme", dataset="marts", method="service-account",
                                keyfile=SecretRef(secret_ref="GCP_KEYFILE"), location="EU"),
    "trino": TrinoCompute(type="trino", host="trino.internal", user="etl",
                          password=SecretRef(secret_ref="TRINO_PASSWORD"), database="iceberg", schema="marts"),
}
SECRETS = {"duckdb": [], "postgres": ["PG_PASSWORD"], "snowflake": ["SF_KEY"], "bigquery": ["GCP_KEYFILE"],
           "trino": ["TRINO_PASSWORD"]}
ADAPTERS = {"duckdb": "dbt.adapters.duckdb", "postgres": "dbt.adapters.postgres",
            "snowflake": "dbt.adapters.snowflake", "bigquery": "dbt.adapters.bigquery",
            "trino": "dbt.adapters.trino"}


def render_profiles(compute: Any, target: str) -> str:
    """profiles.yml text as `floe compile` writes it (no Iceberg storage: these cases land none)."""
    return profiles_text(profiles_document(compute, target))


def _output(kind: str) -> dict[str, Any]:
    document = yaml.safe_load(render_profiles(CASES[kind], "prod"))
    assert document[PROFILE_NAME]["target"] == "prod"
    return document[PROFILE_NAME]["outputs"]["prod"]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_secrets_are_env_var_references(kind: str) -> None:
    output = _output(kind)
    assert output["type"] == kind
    values = {str(value) for value in output.values()}
    for name in SECRETS[kind]:
        assert f"{{{{ env_var('{name}') }}}}" in values
    assert secret_names(EnvironmentSpec(compute=CASES[kind])) == SECRETS[kind]


def test_duckdb_path_follows_the_project_at_run_time() -> None:
    output = _output("duckdb")
    assert output["path"] == "{{ env_var('FLOE_PROJECT_DIR') }}/data/w.duckdb"
    assert output["settings"] == {"memory_limit": "2GB"}
    absolute = yaml.safe_load(render_profiles(DuckDBCompute(type="duckdb", path="/data/w.duckdb"), "dev"))
    assert absolute[PROFILE_NAME]["outputs"]["dev"]["path"] == "/data/w.duckdb"


def test_trino_switches_to_ldap_with_a_password() -> None:
    assert _output("trino")["method"] == "ldap"
    plain = TrinoCompute(type="trino", host="t", user="u", database="c", schema="s")
    assert yaml.safe_load(render_profiles(plain, "dev"))[PROFILE_NAME]["outputs"]["dev"]["method"] == "none"


@pytest.mark.parametrize("kind", sorted(CASES))
def test_dbt_loads_the_generated_profile(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt's own profile loader renders the Jinja and validates the adapter's credentials."""
    if importlib.util.find_spec(ADAPTERS[kind]) is None:
        pytest.skip(f"dbt adapter for {kind} not installed (extra '{kind}')")
    from dbt.config.profile import Profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args

    set_from_args(Namespace(), None)
    monkeypatch.setenv("FLOE_PROJECT_DIR", "/srv/project")
    for name in SECRETS[kind]:
        monkeypatch.setenv(name, f"value-of-{name}")
    from dbt_common.context import set_invocation_context

    set_invocation_context(dict(os.environ))  # dbt's env_var() reads this, as in a dbt command
    raw = yaml.safe_load(render_profiles(CASES[kind], "prod"))
    profile = Profile.from_raw_profiles(raw, PROFILE_NAME, ProfileRenderer({}), target_override="prod")
    credentials = profile.credentials
    assert credentials.type == kind
    if kind == "postgres":
        expected = ("db.internal", 6432, "value-of-PG_PASSWORD")
        assert (credentials.host, credentials.port, credentials.password) == expected
        assert credentials.schema == "marts"
    if kind == "duckdb":
        assert credentials.path == "/srv/project/data/w.duckdb"
    if kind == "trino":
        assert credentials.password == "value-of-TRINO_PASSWORD"
        assert credentials.database == "iceberg"


@pytest.mark.parametrize("kind", ["snowflake", "bigquery"])
def test_missing_adapter_names_the_extra(kind: str) -> None:
    if importlib.util.find_spec(ADAPTERS[kind]) is not None:
        pytest.skip(f"dbt adapter for {kind} is installed here")
    with pytest.raises(MissingExtraError) as raised:
        require_adapter(kind)
    assert f'pip install "floe-runtime[{kind}]"' in str(raised.value)
