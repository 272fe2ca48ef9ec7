"""Storage checks against a real S3-compatible server (moto), local folders, and dead endpoints."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from tests.integration.preflight.conftest import Preflight, only
from tests.support.servers import AuthenticatingS3, SilentServer, closed_port

pytestmark = pytest.mark.integration
KEYS = {"access_key_id": {"secret_ref": "S3_KEY"}, "secret_access_key": {"secret_ref": "S3_SECRET"}}


def s3(endpoint: str, bucket: str, **extra: object) -> dict[str, object]:
    return {"storage": {"type": "s3", "bucket": bucket, "endpoint": endpoint, "path_style": True,
                        "prefix": "lake", **KEYS, **extra}}


@pytest.fixture
def bucket(moto_endpoint: str, request: pytest.FixtureRequest) -> str:
    name = "pf-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="k",
                 aws_secret_access_key="s").create_bucket(Bucket=name)
    return name


def test_s3_probe_object_is_written_read_and_deleted(preflight: Preflight, moto_endpoint: str, bucket: str) -> None:
    report = preflight(s3(moto_endpoint, bucket), services=["storage"], secrets={"S3_KEY": "k", "S3_SECRET": "s"})
    result = only(report, "storage")
    assert result.status == "ok", result
    assert "wrote, read and deleted a probe object" in result.message
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="k",
                          aws_secret_access_key="s")
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0  # nothing left behind


def test_s3_missing_bucket_says_so(preflight: Preflight, moto_endpoint: str) -> None:
    result = only(preflight(s3(moto_endpoint, "no-such-bucket-here"), services=["storage"],
                            secrets={"S3_KEY": "k", "S3_SECRET": "s"}), "storage")
    assert result.status == "error"
    assert "bucket 'no-such-bucket-here' does not exist" in result.message
    assert "create the bucket" in (result.remediation or "")


def test_s3_wrong_keys_are_refused_and_never_shown() -> None:
    with AuthenticatingS3() as server:
        from floe.preflight import PreflightTarget, run_preflight
        from floe.spec.platform import EnvironmentSpec

        target = PreflightTarget("test", EnvironmentSpec.model_validate(s3(server.endpoint, server.bucket)),
                                 Path.cwd(), "test")
        # A generous limit: this is about what the answers say, not how fast a loaded machine gets them.
        good = run_preflight(target, services=["storage"], timeout_s=60, resolve_secret={
            "S3_KEY": server.key_id, "S3_SECRET": server.secret}.get)
        wrong_secret = "wrong-secret-value-123"
        bad = run_preflight(target, services=["storage"], timeout_s=60, resolve_secret={
            "S3_KEY": server.key_id, "S3_SECRET": wrong_secret}.get)
        unknown = run_preflight(target, services=["storage"], timeout_s=60, resolve_secret={
            "S3_KEY": "AKIAUNKNOWNKEY", "S3_SECRET": wrong_secret}.get)
    assert only(good, "storage").status == "ok", good.checks
    for report in (bad, unknown):
        result = only(report, "storage")
        assert result.status == "error"
        assert "rejected the credentials" in result.message
        assert "access_key_id" in (result.remediation or "")
        assert wrong_secret not in report.model_dump_json()


def test_s3_refused_endpoint(preflight: Preflight) -> None:
    port = closed_port()
    result = only(preflight(s3(f"http://127.0.0.1:{port}", "any-bucket"), services=["storage"],
                            secrets={"S3_KEY": "k", "S3_SECRET": "s"}), "storage")
    assert result.status == "error"
    assert result.message.startswith(f"connection refused by 127.0.0.1:{port}")
    assert "storage.endpoint" in (result.remediation or "")


def test_s3_silent_endpoint_times_out_within_the_limit(preflight: Preflight) -> None:
    with SilentServer() as silent:
        report = preflight(s3(f"http://127.0.0.1:{silent.port}", "any-bucket"), services=["storage"],
                           secrets={"S3_KEY": "k", "S3_SECRET": "s"}, timeout_s=1.0)
    result = only(report, "storage")
    assert result.status == "error"
    assert "within 1s" in result.message
    assert report.duration_s < 1 + 10  # the limit, plus a loaded machine's slack; unbounded it would hang


def test_missing_secret_names_the_variable(preflight: Preflight, moto_endpoint: str) -> None:
    result = only(preflight(s3(moto_endpoint, "whatever-bucket"), services=["storage"], secrets={}), "storage")
    assert result.status == "error"
    assert "secret 'S3_KEY' (storage.access_key_id) is not set" in result.message
    assert "export S3_KEY=" in (result.remediation or "")


def test_local_storage_writable_and_not_writable(preflight: Preflight, tmp_path: Path) -> None:
    fine = only(preflight({"storage": {"type": "local", "path": "lake"}}, services=["storage"]), "storage")
    assert fine.status == "ok" and "will be created" in fine.message
    (tmp_path / "blocker").write_text("a file where a folder should be")
    blocked = only(preflight({"storage": {"type": "local", "path": "blocker/lake"}}, services=["storage"]), "storage")
    assert blocked.status == "error" and "is a file, not a directory" in blocked.message


def test_gcs_refused_endpoint(preflight: Preflight) -> None:
    port = closed_port()
    environment = {"storage": {"type": "gcs", "bucket": "floe-gcs", "endpoint": f"http://127.0.0.1:{port}",
                               "access_token": {"secret_ref": "GCS_TOKEN"}}}
    result = only(preflight(environment, services=["storage"], secrets={"GCS_TOKEN": "ya29.token-value"}), "storage")
    assert result.status == "error"
    assert "connection refused" in result.message
    assert "ya29.token-value" not in result.model_dump_json()


def test_adls_unresolvable_account_fails_fast(preflight: Preflight) -> None:
    environment = {"storage": {"type": "adls", "account_name": "floepreflightnoacct", "container": "lake",
                               "sas_token": {"secret_ref": "SAS"}}}
    report = preflight(environment, services=["storage"], secrets={"SAS": "sv=2024&sig=abc"}, timeout_s=2.0)
    result = only(report, "storage")
    assert result.status == "error"  # no internet here: the account's host does not resolve
    assert "floepreflightnoacct.dfs.core.windows.net" in result.message or "within" in result.message
    assert report.duration_s < 2 + 10  # the limit, plus a loaded machine's slack
