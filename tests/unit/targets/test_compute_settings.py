"""Compute settings in platform.yaml: validated strictly, and rendered into the dbt profile.

Snowflake and BigQuery cannot run here: their rendered profiles are checked key by key (and by
dbt's own loader where the adapter is installed). DuckDB's extension handling is checked with
real DuckDB: the wheel's binary installs into a project folder and loads with no network.
"""

from __future__ import annotations

import importlib.util
import os
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from floe.compiler.profiles import PROFILE_NAME, profiles_document, profiles_text, secret_names
from floe.spec.duckdb_extensions import BUILT_IN, duckdb_version, extension_file, unavailable_reason
from floe.spec.platform import (
    BigQueryCompute,
    DuckDBCompute,
    EnvironmentSpec,
    PostgresCompute,
    SnowflakeCompute,
    TrinoCompute,
)

PROJECT = "{{ env_var('FLOE_PROJECT_DIR') }}"


def _output(compute: Any) -> dict[str, Any]:
    document = yaml.safe_load(profiles_text(profiles_document(compute, "dev")))
    output: dict[str, Any] = document[PROFILE_NAME]["outputs"]["dev"]
    return output


def _duckdb(**fields: Any) -> DuckDBCompute:
    return DuckDBCompute.model_validate({"type": "duckdb", **fields})


FULL_DUCKDB = {
    "schema": "analytics",
    "memory_limit": "2GB",
    "extensions": ["avro", "parquet"],
    "settings": {"preserve_insertion_order": False, "threads": 2,
                 "s3_secret_access_key": {"secret_ref": "S3_SECRET"}},
    "external_root": "external",
    "attach": [{"path": "data/ref.duckdb", "alias": "ref_db", "read_only": True},
               {"path": "/srv/shared/other.duckdb"}],
    "plugins": [{"module": "iceberg", "alias": "lake",
                 "config": {"catalog": "lake", "uri": "sqlite:///c.db", "password": {"secret_ref": "LAKE_PW"}}}],
}


# --- DuckDB: rendering ---------------------------------------------------------------------------

def test_duckdb_profile_carries_every_setting() -> None:
    output = _output(_duckdb(**FULL_DUCKDB))
    assert output["schema"] == "analytics"
    assert output["settings"] == {
        "preserve_insertion_order": False, "threads": 2, "s3_secret_access_key": "{{ env_var('S3_SECRET') }}",
        "memory_limit": "2GB", "extension_directory": f"{PROJECT}/.floe/duckdb_extensions",
    }
    assert output["config_options"] == {"extension_directory": f"{PROJECT}/.floe/duckdb_extensions"}
    assert output["external_root"] == f"{PROJECT}/external"
    assert output["attach"] == [
        {"path": f"{PROJECT}/data/ref.duckdb", "alias": "ref_db", "read_only": True},
        {"path": "/srv/shared/other.duckdb"},
    ]
    # floe's plugin first (it installs and loads the extensions), then the user's, secrets as env_var().
    floe_plugin, lake = output["plugins"]
    assert floe_plugin == {"module": "floe.targets.duckdb_plugin", "alias": "floe_extensions",
                           "config": {"extensions": ["avro", "parquet"], "create_external_root": True}}
    assert lake == {"module": "iceberg", "alias": "lake",
                    "config": {"catalog": "lake", "uri": "sqlite:///c.db", "password": "{{ env_var('LAKE_PW') }}"}}
    # dbt-duckdb's own 'extensions' key would INSTALL from the network: never written.
    assert "extensions" not in output
    assert secret_names(EnvironmentSpec(compute=_duckdb(**FULL_DUCKDB))) == ["LAKE_PW", "S3_SECRET"]


def test_duckdb_profile_without_settings_stays_minimal() -> None:
    output = _output(_duckdb())
    assert output == {"type": "duckdb", "path": f"{PROJECT}/.floe/warehouse.duckdb", "schema": "main", "threads": 4}


def test_external_root_absolute_or_remote_is_written_as_is_and_not_created() -> None:
    assert _output(_duckdb(external_root="/data/exports/"))["external_root"] == "/data/exports"
    remote = _output(_duckdb(external_root="s3://bucket/exports"))
    assert remote["external_root"] == "s3://bucket/exports"
    assert "plugins" not in remote  # nothing to create locally, no extension asked for


def test_attachment_and_plugin_extensions_are_loaded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A postgres attachment needs the postgres extension: floe loads it before dbt-duckdb attaches."""
    import floe.spec.compute as compute_module

    monkeypatch.setattr(compute_module, "unavailable_reason", lambda name: None)  # as if the wheel were installed
    compute = _duckdb(extensions=["json"], attach=[{"path": "dbname=crm host=db", "alias": "crm", "type": "postgres"}])
    output = _output(compute)
    assert output["attach"] == [{"path": "dbname=crm host=db", "alias": "crm", "type": "postgres"}]
    assert output["plugins"][0]["config"]["extensions"] == ["json", "postgres"]


def test_dbt_duckdb_loads_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt's own loader renders the Jinja and builds dbt-duckdb's credentials from every key."""
    from dbt.config.profile import Profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_from_args(Namespace(), None)
    monkeypatch.setenv("FLOE_PROJECT_DIR", "/srv/project")
    monkeypatch.setenv("S3_SECRET", "s3-value")
    monkeypatch.setenv("LAKE_PW", "lake-value")
    set_invocation_context(dict(os.environ))
    raw = profiles_document(_duckdb(**FULL_DUCKDB), "dev")
    credentials = Profile.from_raw_profiles(raw, PROFILE_NAME, ProfileRenderer({}), target_override="dev").credentials
    assert credentials.schema == "analytics"
    assert credentials.external_root == "/srv/project/external"
    assert credentials.settings["s3_secret_access_key"] == "s3-value"
    assert [(a.path, a.alias, a.read_only) for a in credentials.attach] == [
        ("/srv/project/data/ref.duckdb", "ref_db", True), ("/srv/shared/other.duckdb", None, False)]
    assert [(p.module, p.alias) for p in credentials.plugins] == [
        ("floe.targets.duckdb_plugin", "floe_extensions"), ("iceberg", "lake")]
    assert credentials.plugins[1].config["password"] == "lake-value"


# --- DuckDB: validation --------------------------------------------------------------------------

def _refusal(**fields: Any) -> str:
    with pytest.raises(ValidationError) as raised:
        _duckdb(**fields)
    return str(raised.value)


def test_built_in_and_wheel_extensions_are_accepted() -> None:
    assert _duckdb(extensions=["parquet", "json", "icu", "avro", "httpfs", "iceberg"]).extensions[0] == "parquet"


def test_extension_neither_built_in_nor_installed_names_its_pip_package() -> None:
    message = _refusal(extensions=["avro", "spatial"])
    assert "extensions.1" in message
    assert 'pip install "duckdb-extension-spatial==' in message and "does not download" in message


def test_extension_list_shape_is_strict() -> None:
    assert "more than once" in _refusal(extensions=["avro", "avro"])
    assert "should match pattern" in _refusal(extensions=["Not An Extension"])
    # dbt-duckdb's {name, repo} form installs from a repository: not offline, so not accepted.
    assert "extensions.0" in _refusal(extensions=[{"name": "avro", "repo": "https://x"}])


def test_settings_conflicts_and_reserved_names_are_refused() -> None:
    assert "set it in one place" in _refusal(memory_limit="1GB", settings={"memory_limit": "2GB"})
    assert _duckdb(memory_limit="1GB", settings={"memory_limit": "1GB"}).effective_settings() == {"memory_limit": "1GB"}
    assert "managed by floe" in _refusal(settings={"extension_directory": "/x"})
    assert "literal credential" in _refusal(settings={"s3_secret_access_key": "abc"})
    assert "literal credential" in _refusal(settings={"motherduck_token": "abc"})
    assert "settings.Bad-Name" in _refusal(settings={"Bad-Name": 1})
    assert "settings.threads" in _refusal(settings={"threads": [1, 2]})


def test_attach_entries_are_checked() -> None:
    assert "attach.0.path" in _refusal(attach=[{"alias": "x"}])
    assert "Extra inputs are not permitted" in _refusal(attach=[{"path": "a.duckdb", "mode": "ro"}])
    assert "would be named 'warehouse'" in _refusal(attach=[{"path": "elsewhere/warehouse.duckdb"}])
    assert "like attach[0]" in _refusal(attach=[{"path": "a/x.duckdb"}, {"path": "b/x.duckdb"}])
    assert "needs an alias" in _refusal(attach=[{"path": "dbname=crm", "type": "postgres"}])
    assert "password" in _refusal(attach=[{"path": "dbname=crm password=x", "alias": "crm", "type": "postgres"}])
    if extension_file("sqlite", duckdb_version() or "") is None:
        assert 'pip install "duckdb-extension-sqlite==' in _refusal(attach=[{"path": "a.db", "type": "sqlite"}])


def test_plugins_are_checked() -> None:
    assert "pip install pandas openpyxl" in _refusal(plugins=[{"module": "excel"}])
    assert "not importable" in _refusal(plugins=[{"module": "no_such_package_here.plugin"}])
    assert "like floe's own plugin" in _refusal(plugins=[{"module": "iceberg", "alias": "floe_extensions"}])
    assert "like plugins[0]" in _refusal(plugins=[{"module": "iceberg"}, {"module": "iceberg"}])
    assert "literal credential" in _refusal(plugins=[{"module": "iceberg", "config": {"token": "abc"}}])


def test_built_in_set_matches_duckdb() -> None:
    """BUILT_IN is what this DuckDB reports as compiled in (drift when duckdb moves)."""
    import duckdb

    with duckdb.connect() as connection:
        found = {row[0] for row in connection.execute(
            "select extension_name from duckdb_extensions() where install_path = '(BUILT-IN)'").fetchall()}
    assert found == BUILT_IN


def test_wheel_extension_installs_into_the_project_folder_and_loads_offline(tmp_path: Path) -> None:
    import duckdb

    from floe.targets.duckdb_plugin import install_from_wheels

    directory = tmp_path / "extensions"
    assert install_from_wheels(["avro", "json"], directory) == ["avro"]
    assert install_from_wheels(["avro"], directory) == []  # installed once
    with duckdb.connect(config={"extension_directory": str(directory), "autoinstall_known_extensions": False}) as c:
        c.execute('LOAD "avro"')
        query = "select loaded, install_path from duckdb_extensions() where extension_name = 'avro'"
        loaded = c.execute(query).fetchone()
    assert loaded is not None and loaded[0] is True and loaded[1].startswith(str(directory))
    assert unavailable_reason("avro") is None and unavailable_reason("spatial") is not None


# --- PostgreSQL, Snowflake, BigQuery, Trino -------------------------------------------------------

POSTGRES = PostgresCompute.model_validate({
    "type": "postgres", "host": "db", "user": "etl", "database": "analytics", "schema": "marts",
    "password": {"secret_ref": "PG_PASSWORD"}, "sslmode": "verify-full", "sslrootcert": "/etc/ssl/ca.pem",
    "role": "transformer", "search_path": "marts,public", "connect_timeout": 20, "keepalives_idle": 60,
    "retries": 3, "application_name": "floe"})
SNOWFLAKE = SnowflakeCompute.model_validate({
    "type": "snowflake", "account": "xy12345.eu-west-1", "user": "etl", "warehouse": "WH", "database": "DB",
    "schema": "MARTS", "role": "TRANSFORMER", "authenticator": "oauth", "token": {"secret_ref": "SF_TOKEN"},
    "query_tag": "floe", "client_session_keep_alive": True, "connect_retries": 2, "connect_timeout": 30})
BIGQUERY = BigQueryCompute.model_validate({
    "type": "bigquery", "project": "acme", "dataset": "marts", "location": "EU", "execution_project": "acme-billing",
    "impersonate_service_account": "dbt@acme.iam.gserviceaccount.com", "priority": "batch",
    "job_execution_timeout_seconds": 600, "job_retries": 2, "maximum_bytes_billed": 10_000_000_000})
TRINO = TrinoCompute.model_validate({
    "type": "trino", "host": "trino", "user": "etl", "database": "iceberg", "schema": "marts",
    "session_properties": {"query_max_run_time": "1h", "iceberg.compression_codec": "ZSTD",
                           "extra_token": {"secret_ref": "TRINO_TOKEN"}},
    "roles": {"system": "analyst"}, "client_tags": ["dbt"], "timezone": "UTC", "cert": "/etc/ssl/ca.pem",
    "retries": 4})


def test_postgres_profile_carries_the_session_keys() -> None:
    output = _output(POSTGRES)
    expected = {"sslmode": "verify-full", "sslrootcert": "/etc/ssl/ca.pem", "role": "transformer",
                "search_path": "marts,public", "connect_timeout": 20, "keepalives_idle": 60, "retries": 3,
                "application_name": "floe", "password": "{{ env_var('PG_PASSWORD') }}"}
    assert {key: output[key] for key in expected} == expected


def test_snowflake_profile_carries_the_session_keys() -> None:
    output = _output(SNOWFLAKE)
    expected = {"role": "TRANSFORMER", "authenticator": "oauth", "token": "{{ env_var('SF_TOKEN') }}",
                "query_tag": "floe", "client_session_keep_alive": True, "connect_retries": 2, "connect_timeout": 30}
    assert {key: output[key] for key in expected} == expected
    assert "password" not in output


def test_bigquery_profile_carries_the_job_keys() -> None:
    output = _output(BIGQUERY)
    expected = {"location": "EU", "execution_project": "acme-billing",
                "impersonate_service_account": "dbt@acme.iam.gserviceaccount.com", "priority": "batch",
                "job_execution_timeout_seconds": 600, "job_retries": 2, "maximum_bytes_billed": 10_000_000_000}
    assert {key: output[key] for key in expected} == expected


def test_trino_profile_carries_the_session_keys() -> None:
    output = _output(TRINO)
    assert output["session_properties"] == {"query_max_run_time": "1h", "iceberg.compression_codec": "ZSTD",
                                            "extra_token": "{{ env_var('TRINO_TOKEN') }}"}
    expected = {"roles": {"system": "analyst"}, "client_tags": ["dbt"], "timezone": "UTC",
                "cert": "/etc/ssl/ca.pem", "retries": 4}
    assert {key: output[key] for key in expected} == expected


@pytest.mark.parametrize("compute", [POSTGRES, TRINO], ids=["postgres", "trino"])
def test_dbt_adapter_accepts_the_new_keys(compute: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = {"postgres": "dbt.adapters.postgres", "trino": "dbt.adapters.trino"}[compute.type]
    if importlib.util.find_spec(adapter) is None:
        pytest.skip(f"{adapter} not installed")
    from dbt.config.profile import Profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_from_args(Namespace(), None)
    for name in ("PG_PASSWORD", "TRINO_TOKEN"):
        monkeypatch.setenv(name, f"value-of-{name}")
    set_invocation_context(dict(os.environ))
    raw = profiles_document(compute, "dev")
    credentials = Profile.from_raw_profiles(raw, PROFILE_NAME, ProfileRenderer({}), target_override="dev").credentials
    if compute.type == "postgres":
        assert (credentials.role, credentials.search_path, credentials.keepalives_idle) == \
            ("transformer", "marts,public", 60)
        assert (credentials.connect_timeout, credentials.retries, credentials.sslrootcert) == (20, 3, "/etc/ssl/ca.pem")
    else:
        assert credentials.session_properties["extra_token"] == "value-of-TRINO_TOKEN"
        assert (credentials.timezone, credentials.retries, credentials.client_tags) == ("UTC", 4, ["dbt"])


@pytest.mark.parametrize(("model", "fields", "expected"), [
    (SnowflakeCompute, {"authenticator": "oauth"}, "oauth and token go together"),
    (SnowflakeCompute, {"token": {"secret_ref": "T"}}, "oauth and token go together"),
    (SnowflakeCompute, {"authenticator": "kerberos"}, "unknown authenticator"),
    (SnowflakeCompute, {"private_key_passphrase": {"secret_ref": "P"}}, "applies to private_key"),
    (BigQueryCompute, {"method": "service-account"}, "keyfile go together"),
    (BigQueryCompute, {"priority": "urgent"}, "priority"),
    (BigQueryCompute, {"maximum_bytes_billed": 0}, "maximum_bytes_billed"),
    (TrinoCompute, {"session_properties": {"secret": "abc"}}, "literal credential"),
    (PostgresCompute, {"keepalives_idle": -1}, "keepalives_idle"),
    (PostgresCompute, {"statement_timeout": 5}, "statement_timeout"),
])
def test_other_targets_refuse_bad_values(model: Any, fields: dict[str, Any], expected: str) -> None:
    base = {
        SnowflakeCompute: {"type": "snowflake", "account": "a", "user": "u", "warehouse": "w", "database": "d",
                           "schema": "s"},
        BigQueryCompute: {"type": "bigquery", "project": "p", "dataset": "d"},
        TrinoCompute: {"type": "trino", "host": "h", "user": "u", "database": "c", "schema": "s"},
        PostgresCompute: {"type": "postgres", "host": "h", "user": "u", "database": "d"},
    }[model]
    with pytest.raises(ValidationError) as raised:
        model.model_validate({**base, **fields})
    assert expected in str(raised.value)
