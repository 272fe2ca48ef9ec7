"""Which checks are local (never failed for slowness) and which wait on the network."""

from __future__ import annotations

from pathlib import Path

from floe.preflight.plan import PreflightTarget, plan_checks
from floe.spec.platform import EnvironmentSpec


def _local_by_check(environment: dict[str, object], tmp_path: Path) -> dict[str, bool]:
    target = PreflightTarget("test", EnvironmentSpec.model_validate(environment), tmp_path, "test")
    return {check.name: check.local for check in plan_checks(target, ["compute", "storage", "catalog"])}


def test_the_default_local_environment_is_local_only(tmp_path: Path) -> None:
    assert _local_by_check({}, tmp_path) == {"compute.duckdb": True, "storage.local": True, "catalog.sql": True}


def test_services_reached_over_the_network_are_not_local(tmp_path: Path) -> None:
    environment = {
        "compute": {"type": "postgres", "host": "db", "user": "u", "database": "d"},
        "storage": {"type": "s3", "bucket": "lake"},
        "catalog": {"type": "sql", "uri": "postgresql+psycopg2://u@db/catalog"},
    }
    assert _local_by_check(environment, tmp_path) == {"compute.postgres": False, "storage.s3": False,
                                                      "catalog.sql": False}


def test_the_cli_and_the_readme_state_the_default_timeout() -> None:
    from click.testing import CliRunner

    from floe.cli.preflight_cmd import preflight
    from floe.preflight import DEFAULT_TIMEOUT_S

    assert DEFAULT_TIMEOUT_S >= 10  # a cold start on a loaded machine answers in seconds
    shown = f"{DEFAULT_TIMEOUT_S:g}"
    help_text = " ".join(CliRunner().invoke(preflight, ["--help"]).output.split())
    assert f"[default: {shown}]" in help_text
    readme = " ".join((Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8").split())
    assert f"`--timeout` (default {shown} s" in readme
