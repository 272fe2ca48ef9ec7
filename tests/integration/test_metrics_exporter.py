"""The Prometheus exporter over a real Dagster instance on PostgreSQL, scraped over HTTP.

Runs are real (a tiny job executed in process against the instance: one success, one
failure), the daemon heartbeat is written through the instance API, and the exporter is the
real CLI command in a child process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import scratch_database

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

prometheus_parser = pytest.importorskip("prometheus_client.parser", reason="prometheus-client (metrics extra) missing")

# The shape of the official chart's instance ConfigMap (run, event log and schedule storage on
# PostgreSQL, the password from DAGSTER_PG_PASSWORD; trust auth here, so any password passes).
# The scheme names psycopg2: SQLAlchemy 2.1 otherwise picks psycopg 3, which is not installed;
# in the chart that line comes from dagster.postgresql.postgresqlScheme.
_POSTGRES_DB = """
    postgres_db:
      username: {user}
      password: {{env: DAGSTER_PG_PASSWORD}}
      hostname: {host}
      db_name: {database}
      port: {port}
      scheme: postgresql+psycopg2"""
DAGSTER_YAML = "".join(
    f"{key}:\n  module: {module}\n  class: {cls}\n  config:{_POSTGRES_DB}\n"
    for key, module, cls in (("run_storage", "dagster_postgres.run_storage", "PostgresRunStorage"),
                             ("event_log_storage", "dagster_postgres.event_log", "PostgresEventLogStorage"),
                             ("schedule_storage", "dagster_postgres.schedule_storage", "PostgresScheduleStorage"))
) + "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
HEARTBEAT_AGE = 42.0


def _connect(dsn: str):
    import psycopg2

    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    return connection


@pytest.fixture
def dagster_home(postgres_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """DAGSTER_HOME with a dagster.yaml on a fresh PostgreSQL database (dropped afterwards)."""
    from psycopg2.extensions import parse_dsn

    parts = parse_dsn(postgres_dsn)
    with scratch_database(postgres_dsn, "floe_metrics") as database:
        home = tmp_path / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text(DAGSTER_YAML.format(
            user=parts.get("user", "postgres"), host=parts.get("host", "127.0.0.1"), port=parts.get("port", "5432"),
            database=database))
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        monkeypatch.setenv("DAGSTER_PG_PASSWORD", parts.get("password", "unused-with-trust-auth"))
        yield home


def _run_jobs(outcomes: list[bool]) -> None:
    """Execute a one-op job in process against the DAGSTER_HOME instance, once per outcome."""
    from dagster import DagsterInstance, Failure, job, op

    @op(config_schema={"fail": bool})
    def work(context):  # untyped: Dagster resolves annotations at definition time
        time.sleep(0.2)  # a measurable duration
        if context.op_config["fail"]:
            raise Failure("failing on purpose")

    @job
    def tiny() -> None:
        work()

    with DagsterInstance.get() as instance:
        for succeed in outcomes:
            result = tiny.execute_in_process(instance=instance, raise_on_error=False,
                                             run_config={"ops": {"work": {"config": {"fail": not succeed}}}})
            assert result.success is succeed


def _durations() -> list[float]:
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        records = instance.get_run_records()
        assert all(r.start_time is not None and r.end_time is not None for r in records)
        return [r.end_time - r.start_time for r in records]  # type: ignore[operator]


def _write_heartbeat(age: float) -> None:
    from dagster import DagsterInstance
    from dagster._daemon.types import DaemonHeartbeat  # the type the daemon itself writes

    with DagsterInstance.get() as instance:
        instance.add_daemon_heartbeat(DaemonHeartbeat(timestamp=time.time() - age, daemon_type="SENSOR",
                                                      daemon_id="metrics-test", errors=[]))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def exporter(dagster_home: Path) -> Iterator[str]:
    """`floe metrics serve` in a child process; yields its /metrics URL."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "floe", "metrics", "serve", "--port", str(port),
                                "--host", "127.0.0.1"], env=dict(os.environ), stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/metrics"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=30).close()
            break
        except OSError:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the exporter did not answer within 60 s"
            time.sleep(0.3)
    yield url
    process.terminate()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr  # SIGTERM is a clean stop


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.status == 200
        text = response.read().decode("utf-8")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in prometheus_parser.text_string_to_metric_families(text) for sample in family.samples}


def test_scrape_reports_runs_failures_durations_and_heartbeats(dagster_home, exporter):
    _run_jobs([True, False])
    _write_heartbeat(HEARTBEAT_AGE)
    before = time.time()
    samples = _scrape(exporter)
    scrape_took = time.time() - before

    assert samples[("dagster_instance_up", ())] == 1
    assert samples[("dagster_runs", (("status", "SUCCESS"),))] == 1
    assert samples[("dagster_runs", (("status", "FAILURE"),))] == 1
    assert samples[("dagster_runs", (("status", "QUEUED"),))] == 0
    assert samples[("dagster_runs_failed_total", ())] == 1

    durations = _durations()
    assert samples[("dagster_runs_duration_seconds_count", ())] == 2
    assert samples[("dagster_runs_duration_seconds_sum", ())] == pytest.approx(sum(durations))
    assert min(durations) >= 0.2
    assert samples[("dagster_runs_duration_seconds_bucket", (("le", "5.0"),))] == 2
    assert samples[("dagster_runs_duration_seconds_bucket", (("le", "+Inf"),))] == 2

    age = samples[("dagster_daemon_heartbeat_age_seconds", (("daemon_type", "SENSOR"),))]
    assert HEARTBEAT_AGE <= age <= HEARTBEAT_AGE + scrape_took + 5
    # A daemon the instance needs that never sent a heartbeat reads as infinitely stale.
    assert samples[("dagster_daemon_heartbeat_age_seconds", (("daemon_type", "SCHEDULER"),))] == float("inf")

    # A later run is counted once more: the histogram only grows (rate() needs counters).
    _run_jobs([False])
    again = _scrape(exporter)
    assert again[("dagster_runs_failed_total", ())] == 2
    assert again[("dagster_runs_duration_seconds_count", ())] == 3
    assert again[("dagster_runs_duration_seconds_sum", ())] == pytest.approx(sum(_durations()))
    assert _scrape(exporter)[("dagster_runs_duration_seconds_count", ())] == 3


def test_show_prints_one_scrape_as_text_and_json(dagster_home, floe, tmp_path):
    _run_jobs([False])
    text = floe("metrics", "show", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    families = {family.name: family for family in prometheus_parser.text_string_to_metric_families(text.stdout)}
    assert families["dagster_runs_failed"].type == "counter"
    assert families["dagster_runs_failed"].samples[0].value == 1

    shown = floe("metrics", "show", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    by_name = {family["name"]: family for family in json.loads(shown.stdout)}
    assert by_name["dagster_runs_duration_seconds"]["type"] == "histogram"
    count = [s for s in by_name["dagster_runs_duration_seconds"]["samples"] if s["name"].endswith("_count")]
    assert count[0]["value"] == 1
    ages = {s["labels"]["daemon_type"]: s["value"] for s in by_name["dagster_daemon_heartbeat_age_seconds"]["samples"]}
    assert ages["SCHEDULER"] == "+Inf"


def test_the_exporter_recovers_when_the_database_comes_back(dagster_home, exporter, postgres_dsn):
    import yaml

    database = yaml.safe_load((dagster_home / "dagster.yaml").read_text())["run_storage"]["config"]["postgres_db"][
        "db_name"]
    _run_jobs([False])
    assert _scrape(exporter)[("dagster_instance_up", ())] == 1
    admin = _connect(postgres_dsn)
    try:
        with admin.cursor() as cursor:
            cursor.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (database,))
            cursor.execute(f'drop database "{database}"')
        down = _scrape(exporter)
        assert down[("dagster_instance_up", ())] == 0
        assert ("dagster_runs_failed_total", ()) not in down
        with admin.cursor() as cursor:
            cursor.execute(f'create database "{database}"')
    finally:
        admin.close()
    # Opened again on the next scrape: Dagster creates its tables in the empty database.
    back = _scrape(exporter)
    assert back[("dagster_instance_up", ())] == 1
    assert back[("dagster_runs_failed_total", ())] == 0


def test_the_exporter_reads_the_instance_config_the_chart_renders(dagster_home, postgres_dsn, floe, tmp_path):
    """The dagster.yaml of the official chart's instance ConfigMap (prod values, K8sRunLauncher,
    queued coordinator, run monitoring), pointed at this database, is what the exporter opens."""
    import yaml
    from psycopg2.extensions import parse_dsn

    from tests.charts.helm_support import build_charts, deep_merge, find, release_values, render

    ours = yaml.safe_load((dagster_home / "dagster.yaml").read_text())["run_storage"]["config"]["postgres_db"]
    parts = parse_dsn(postgres_dsn)
    charts = build_charts(tmp_path / "charts", with_official_chart=True)
    values = deep_merge(release_values("floe-dagster", "prod"), {"dagster": {"postgresql": {
        "postgresqlHost": ours["hostname"], "postgresqlUsername": ours["username"],
        "postgresqlDatabase": ours["db_name"], "service": {"port": int(ours["port"])},
        "postgresqlParams": {"sslmode": "prefer"},  # the local server has no TLS
    }}})  # the scheme (psycopg2) is the chart's default: a pod must open storage with it as given
    documents = render("floe-dagster", values, charts)
    pod = find(documents, "Deployment", "-floe-metrics")["spec"]["template"]["spec"]
    rendered = find(documents, "ConfigMap", pod["volumes"][0]["configMap"]["name"])["data"]["dagster.yaml"]
    assert "K8sRunLauncher" in rendered
    (dagster_home / "dagster.yaml").write_text(rendered)
    _run_jobs([True])

    shown = floe("metrics", "show", "--json", cwd=tmp_path,
                 env={"DAGSTER_HOME": str(dagster_home), "DAGSTER_PG_PASSWORD": parts.get("password", "trust")})
    assert shown.returncode == 0, shown.stderr
    by_name = {family["name"]: family for family in json.loads(shown.stdout)}
    runs = {s["labels"]["status"]: s["value"] for s in by_name["dagster_runs"]["samples"]}
    assert runs["SUCCESS"] == 1
    daemons = {s["labels"]["daemon_type"] for s in by_name["dagster_daemon_heartbeat_age_seconds"]["samples"]}
    assert {"SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING"} <= daemons  # what that config runs


@pytest.fixture
def unreachable_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dagster.yaml whose PostgreSQL port has no server behind it."""
    home = tmp_path / "broken_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML.format(user="postgres", host="127.0.0.1", port=_free_port(),
                                                           database="nowhere"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "unused")
    return home


def test_a_broken_storage_is_a_zero_not_a_500(unreachable_home, floe, tmp_path):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "floe", "metrics", "serve", "--port", str(port),
                                "--host", "127.0.0.1"], env=dict(os.environ), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                samples = _scrape(f"http://127.0.0.1:{port}/metrics")
                break
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline
                time.sleep(0.3)
        assert samples[("dagster_instance_up", ())] == 0
        assert not any(name.startswith("dagster_runs") for name, _ in samples)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "reading the Dagster instance failed" in stderr

    shown = floe("metrics", "show", cwd=tmp_path)
    assert shown.returncode == 1
    assert "cannot open the Dagster instance" in shown.stderr and "DAGSTER_PG_PASSWORD" in shown.stderr
    assert "Traceback" not in shown.stderr


def test_missing_dagster_home_is_a_user_error(floe, tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for command in (("metrics", "show"), ("metrics", "serve", "--port", str(_free_port()))):
        result = floe(*command, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert "DAGSTER_HOME is not set" in result.stderr and "hint:" in result.stderr


def test_a_missing_metrics_extra_names_the_pip_line(tmp_path):
    # prometheus_client made unimportable in the child only (sys.modules entry None).
    code = ("import sys; sys.modules['prometheus_client'] = None; from floe.cli.main import main; "
            "main(['metrics', 'show'])")
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert "needs the 'metrics' extra" in result.stderr and 'pip install "floe-runtime[metrics]"' in result.stderr


def test_a_taken_port_is_a_user_error(floe, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = floe("metrics", "serve", "--host", "127.0.0.1", "--port", str(port), cwd=tmp_path,
                      env={"DAGSTER_HOME": str(tmp_path)})
    assert result.returncode == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr
