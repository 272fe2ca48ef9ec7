"""The PostgreSQL backup CronJob: streamed, never on disk; client new enough; its own identity.

The pipeline test runs the two containers' own shell commands, as rendered, side by side on this
machine: ``pg_dump | gzip`` against the PostgreSQL server at 127.0.0.1:5432 into a FIFO, and the
upload side streaming that FIFO to a real S3 API (moto). The upload uses the ``aws`` CLI named by
$FLOE_TEST_AWS_CLI when set (e.g. ``pip install awscli`` in a separate environment); otherwise a
stand-in ``aws`` written here that implements ``s3 cp - URL`` and ``s3 rm URL`` with boto3 and says
it is a stand-in. The dump is then restored into another database and its rows counted.
"""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floe.platform.helm.dagster_values import BACKUP_POSTGRES_MAJOR, FloeDagsterValues
from tests.charts.helm_support import deep_merge, env_values, find, pod_specs, render
from tests.support.postgres import scratch_database

BUCKET = "defects-backups"


def _backup(charts_root: Path, **override: Any) -> list[dict[str, Any]]:
    values = deep_merge(env_values("floe-dagster", "prod"), override)
    return render("floe-dagster", values, charts_root)


def test_the_dump_streams_through_a_fifo_with_no_volume_for_the_dump(charts_root):
    cron = find(_backup(charts_root), "CronJob", "-postgres-backup")
    pod = pod_specs(cron)[0]
    assert "initContainers" not in pod  # both sides run at once
    dump, upload = pod["containers"]
    assert "mkfifo" in dump["args"][0] and "| gzip -6 > \"$fifo\"" in dump["args"][0]
    assert "aws s3 cp - " in upload["args"][0]
    stream = next(v for v in pod["volumes"] if v["name"] == "stream")
    assert stream["emptyDir"]["sizeLimit"] == "1Mi"  # a FIFO and a status file, never the dump
    assert cron["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 3600


def test_the_connection_comes_from_floes_postgresql_block(charts_root):
    cron = find(_backup(charts_root, postgresql={"host": "db.internal", "port": 6432, "user": "backup",
                                                 "database": "dagster_prod", "secretName": "pg",
                                                 "passwordKey": "password",
                                                 "params": {"sslmode": "verify-full", "application_name": "it's"}},
                        dagster={"postgresql": {"postgresqlHost": "ignored"}}), "CronJob")
    env = {e["name"]: e for e in pod_specs(cron)[0]["containers"][0]["env"]}
    assert {name: env[name]["value"] for name in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE")} == {
        "PGHOST": "db.internal", "PGPORT": "6432", "PGUSER": "backup", "PGDATABASE": "dagster_prod"}
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "pg", "key": "password"}
    assert env["BACKUP_PG_PARAMS"]["value"] == "application_name='it\\'s' sslmode='verify-full'"


def test_pg_dump_is_a_current_major_and_says_it_must_not_be_older_than_the_server(charts_root):
    assert BACKUP_POSTGRES_MAJOR >= 17
    image = pod_specs(find(_backup(charts_root), "CronJob"))[0]["containers"][0]["image"]
    assert image == f"postgres:{BACKUP_POSTGRES_MAJOR}.1-bookworm"
    description = FloeDagsterValues.model_fields["backup"].default_factory().model_fields["dump_image"].description
    assert ">= your server's" in (description or "")


def test_a_service_account_for_cloud_roles(charts_root):
    assert "serviceAccountName" not in pod_specs(find(_backup(charts_root), "CronJob"))[0]
    role = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/floe-backup"}
    documents = _backup(charts_root, backup={"serviceAccount": {"create": True, "annotations": role}})
    account = find(documents, "ServiceAccount", "-backup")
    assert account["metadata"]["annotations"] == role and account["metadata"]["name"] == "shop-floe-backup"
    assert pod_specs(find(documents, "CronJob"))[0]["serviceAccountName"] == "shop-floe-backup"
    existing = _backup(charts_root, backup={"serviceAccount": {"name": "platform-backup"}})
    assert not [d for d in existing if d["kind"] == "ServiceAccount"]
    assert pod_specs(find(existing, "CronJob"))[0]["serviceAccountName"] == "platform-backup"


# --- the pipeline, for real ---------------------------------------------------------------------

STAND_IN = '''\
#!{python}
"""A STAND-IN for the aws CLI (test double): `s3 cp - s3://b/k [--endpoint-url U]` and `s3 rm`."""
import sys, boto3
args = sys.argv[1:]
endpoint = args[args.index("--endpoint-url") + 1] if "--endpoint-url" in args else None
s3 = boto3.client("s3", endpoint_url=endpoint)
def split(url): bucket, _, key = url[len("s3://"):].partition("/"); return bucket, key
if args[:3] == ["s3", "cp", "-"]:
    s3.upload_fileobj(sys.stdin.buffer, *split(args[3]))
elif args[:2] == ["s3", "rm"]:
    s3.delete_object(Bucket=split(args[2])[0], Key=split(args[2])[1])
else:
    sys.exit("stand-in aws: unsupported " + " ".join(args))
print("stand-in aws (boto3):", " ".join(args[:4]), file=sys.stderr)
'''


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from tests.support.servers import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_bin(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    real = os.environ.get("FLOE_TEST_AWS_CLI")
    target = folder / "aws"
    if real:
        target.symlink_to(real)
    else:
        target.write_text(STAND_IN.format(python=sys.executable), encoding="utf-8")
        target.chmod(target.stat().st_mode | stat.S_IEXEC)
    return folder


@pytest.fixture
def databases(postgres_dsn: str) -> Iterator[tuple[str, str]]:
    import psycopg2

    with scratch_database(postgres_dsn, "floe_backup_src") as source_name, \
            scratch_database(postgres_dsn, "floe_backup_dst") as target_name:
        with psycopg2.connect(postgres_dsn, dbname=source_name) as source, source.cursor() as cursor:
            cursor.execute("CREATE TABLE runs (run_id text PRIMARY KEY, body text)")
            cursor.execute("INSERT INTO runs SELECT 'run-' || i, repeat('x', 200) FROM generate_series(1, 5000) AS i")
        source.close()
        yield source_name, target_name


def _run_backup(charts_root: Path, database: str, endpoint: str, aws_bin: Path, stream: Path,
                ) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    values = {"postgresql": {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": database,
                             "params": {"sslmode": "disable"}},
              "backup": {"s3": {"destination": f"s3://{BUCKET}/dagster/", "endpoint": endpoint,
                                "region": "us-east-1"}}}
    dump, upload = pod_specs(find(_backup(charts_root, **values), "CronJob"))[0]["containers"]
    base = {**os.environ, "PATH": f"{aws_bin}{os.pathsep}{os.environ['PATH']}", "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing"}

    def env_of(container: dict[str, Any]) -> dict[str, str]:
        plain = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        return {**base, **plain, "BACKUP_STREAM_DIR": str(stream), "HOME": str(stream.parent)}

    stream.mkdir()
    uploading = subprocess.Popen([*upload["command"], upload["args"][0]], env=env_of(upload), text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dumping = subprocess.Popen([*dump["command"], dump["args"][0]], env=env_of(dump), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = dumping.communicate(timeout=120)
    dumped = subprocess.CompletedProcess(dumping.args, dumping.returncode, out, err)
    out, err = uploading.communicate(timeout=180)
    return dumped, subprocess.CompletedProcess(uploading.args, uploading.returncode, out, err)


def _objects(endpoint: str) -> dict[str, bytes]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    listing = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listing}


@pytest.fixture
def bucket(s3_endpoint: str) -> Iterator[str]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    yield BUCKET
    for key in _objects(s3_endpoint):
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_bucket(Bucket=BUCKET)


@pytest.mark.integration
@pytest.mark.postgres
def test_the_rendered_pipeline_streams_a_restorable_dump_to_s3(charts_root, databases, s3_endpoint, bucket,
                                                               aws_bin, tmp_path):
    source, restored = databases
    dumped, uploaded = _run_backup(charts_root, source, s3_endpoint, aws_bin, tmp_path / "stream")
    assert dumped.returncode == 0, dumped.stderr
    assert uploaded.returncode == 0, uploaded.stderr
    objects = _objects(s3_endpoint)
    (key,) = objects
    assert key.startswith("dagster/") and key.endswith(".sql.gz") and "//" not in key
    # Nothing but the FIFO and the status file was ever on disk next to the stream.
    leftovers = {path.name: stat.S_ISFIFO(path.stat().st_mode) for path in (tmp_path / "stream").iterdir()}
    assert leftovers == {"dump.sql.gz": True, "dump.status": False}
    sql = gzip.decompress(objects[key])
    restore = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", restored, "-v", "ON_ERROR_STOP=1",
                              "-q", "-f", "-"], input=sql, capture_output=True, check=False, timeout=120)
    assert restore.returncode == 0, restore.stderr
    count = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", restored, "-Atc",
                            "SELECT count(*) FROM runs"], capture_output=True, text=True, check=True)
    assert count.stdout.strip() == "5000"


@pytest.mark.integration
@pytest.mark.postgres
def test_a_failed_dump_leaves_no_object_and_fails_the_job(charts_root, postgres_dsn, s3_endpoint, bucket,
                                                          aws_bin, tmp_path):
    dumped, uploaded = _run_backup(charts_root, "defects_no_such_database", s3_endpoint, aws_bin, tmp_path / "stream")
    assert dumped.returncode != 0 and "defects_no_such_database" in dumped.stderr
    assert uploaded.returncode == 1
    assert "backup failed: pg_dump | gzip exited" in uploaded.stderr
    assert _objects(s3_endpoint) == {}

