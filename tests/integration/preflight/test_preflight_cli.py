"""`floe preflight` as users and the Helm hook run it: table, [SERVICE] ERROR lines, --json, exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.support.servers import SilentServer, closed_port

pytestmark = pytest.mark.integration
SECRETS = {"PG_PASSWORD": "pg-secret-value-1", "S3_SECRET": "s3-secret-value-2", "CATALOG_SECRET": "cat-secret-3",
           "OTLP_AUTH": "otlp-secret-value-4", "OL_KEY": "lineage-secret-5", "S3_KEY": "s3-key-id-6"}


def all_down_environment(port: int) -> dict[str, object]:
    """Every service kind configured, every one at an address where nothing listens."""
    local = f"http://127.0.0.1:{port}"
    postgres = {"host": "127.0.0.1", "port": port, "user": "floe", "database": "floe",
                "password": {"secret_ref": "PG_PASSWORD"}}
    return {
        "compute": {"type": "postgres", **postgres},
        "storage": {"type": "s3", "bucket": "floe-lake", "endpoint": local, "path_style": True,
                    "access_key_id": {"secret_ref": "S3_KEY"}, "secret_access_key": {"secret_ref": "S3_SECRET"}},
        "catalog": {"type": "rest", "uri": f"{local}/api/catalog", "warehouse": "lake", "client_id": "floe",
                    "client_secret": {"secret_ref": "CATALOG_SECRET"}},
        "orchestrator": {"storage": {"type": "postgres", **postgres}},
        "observability": {
            "tracing": {"type": "otlp", "endpoint": local, "protocol": "grpc", "insecure": True,
                        "headers": {"authorization": {"secret_ref": "OTLP_AUTH"}}},
            "lineage": {"type": "http", "url": local, "api_key": {"secret_ref": "OL_KEY"}},
        },
    }


def write_platform(project: Path, environment: dict[str, object]) -> None:
    (project / "platform.yaml").write_text(yaml.safe_dump({"environments": {"prod": environment}}))


def test_every_service_down_is_reported_with_a_remediation(floe, minimal_project: Path) -> None:
    write_platform(minimal_project, all_down_environment(closed_port()))
    started = time.monotonic()
    result = floe("preflight", "--env", "prod", "--all", "--timeout", "60", cwd=minimal_project, env=SECRETS)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stdout.splitlines() if " ERROR: " in line]
    services = {line.split("]")[0].strip("[") for line in errors}
    assert services == {"COMPUTE", "STORAGE", "CATALOG", "POSTGRES", "OBSERVABILITY"}, result.stdout
    assert len(errors) == 6  # observability: traces and lineage
    for line in errors:
        assert line.startswith("[") and "connection refused" in line and ". Remediation: " in line, line
    assert "preflight FAILED: 0 ok, 0 warning, 6 error" in result.stdout
    assert "Traceback" not in result.stderr
    for value in SECRETS.values():
        assert value not in result.stdout + result.stderr
    assert elapsed < 60  # refused connections fail at once, not at the limit; the budget itself is a benchmark


def test_json_report_validates_against_the_published_schema(floe, minimal_project: Path) -> None:
    import jsonschema

    write_platform(minimal_project, all_down_environment(closed_port()))
    result = floe("preflight", "--env", "prod", "--json", cwd=minimal_project, env=SECRETS)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    schema = json.loads((REPO_ROOT / "schemas" / "preflight.v1.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["ok"] is False and document["environment"] == "prod"
    assert document["summary"] == {"ok": 0, "warning": 0, "error": 6, "skipped": 0}
    assert all(check["remediation"] for check in document["checks"])
    assert [check["service"] for check in document["checks"]] == [
        "compute", "storage", "catalog", "postgres", "observability", "observability"]


def test_hung_services_end_within_the_timeout(minimal_project: Path) -> None:
    from floe.preflight import run_preflight, target_from_specs

    with SilentServer() as silent:
        write_platform(minimal_project, all_down_environment(silent.port))
        target = target_from_specs(minimal_project / "floe.yaml", environment="prod")
        report = run_preflight(target, timeout_s=3.0, resolve_secret=SECRETS.get)
    assert report.summary.error == 6, report.checks
    # Concurrent: one timeout (plus a loaded machine's start-up), not six (18 s).
    assert report.duration_s < 3 * 3.0, report.duration_s
    assert all("within 3s" in check.message for check in report.checks), [c.message for c in report.checks]


def test_fail_fast_stops_at_the_first_error(minimal_project: Path) -> None:
    from floe.preflight import run_preflight, target_from_specs

    with SilentServer() as silent:
        environment = all_down_environment(silent.port)
        environment["compute"] = {"type": "postgres", "host": "127.0.0.1", "port": closed_port(), "user": "u",
                                  "database": "d"}
        write_platform(minimal_project, environment)
        target = target_from_specs(minimal_project / "floe.yaml", environment="prod")
        report = run_preflight(target, timeout_s=30.0, fail_fast=True, resolve_secret=SECRETS.get)
    assert report.checks[0].status == "error"
    assert {check.status for check in report.checks[1:]} == {"skipped"}
    assert report.duration_s < 30  # stopped at the refused one, without waiting for the hung ones


def test_selected_checks_and_the_original_flag_spelling(floe, minimal_project: Path) -> None:
    write_platform(minimal_project, all_down_environment(closed_port()))
    for args in (["--check", "storage"], ["--check-storage"]):
        result = floe("preflight", "--env", "prod", "--json", *args, cwd=minimal_project, env=SECRETS)
        assert [check["check"] for check in json.loads(result.stdout)["checks"]] == ["storage.s3"], args


def test_reads_the_compiled_artifacts_where_there_is_no_floe_yaml(floe, compiled_project: Path,
                                                                  tmp_path: Path) -> None:
    artifacts = compiled_project / ".floe" / "artifacts.json"
    elsewhere = tmp_path / "pod"
    elsewhere.mkdir()
    result = floe("preflight", "--json", cwd=elsewhere, env={"FLOE_ARTIFACTS_PATH": str(artifacts)})
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["source"] == str(artifacts)
    assert document["ok"] is True
    mismatch = floe("preflight", "--artifacts", str(artifacts), "--env", "prod", cwd=elsewhere)
    assert mismatch.returncode == 1
    assert "is compiled for environment 'dev', not 'prod'" in mismatch.stderr
    nothing = floe("preflight", cwd=elsewhere)
    assert nothing.returncode == 1 and "pass --artifacts PATH" in nothing.stderr
    # As in the image the Helm hook runs: a floe.yaml in the working directory, and the
    # environment's artifacts (mounted from a ConfigMap) named by FLOE_ARTIFACTS_PATH.
    in_project = floe("preflight", "--json", cwd=compiled_project, env={"FLOE_ARTIFACTS_PATH": str(artifacts)})
    assert json.loads(in_project.stdout)["source"] == str(artifacts)


def test_the_local_defaults_pass(floe, minimal_project: Path) -> None:
    result = floe("preflight", cwd=minimal_project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "preflight passed" in result.stdout
    assert not (minimal_project / ".floe" / "catalog.db").exists()  # preflight creates nothing
