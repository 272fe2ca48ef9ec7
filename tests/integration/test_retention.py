"""orchestrator.retention: Dagster's history stays bounded, whichever way runs start (issue 19).

Real runs throughout: ``floe run`` in a child process, Dagster jobs executed in process against
a real SQLite instance, the code location's sensor evaluated as the daemon evaluates it.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration


def _set_retention(root: Path, retention: dict[str, Any]) -> None:
    path = root / "platform.yaml"
    platform = yaml.safe_load(path.read_text(encoding="utf-8"))
    platform["environments"]["dev"].setdefault("orchestrator", {})["retention"] = retention
    path.write_text(yaml.safe_dump(platform), encoding="utf-8")


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _run_shards(home: Path) -> list[Path]:
    """Dagster's per-run SQLite event-log files (index.db is the shared one)."""
    return [path for path in (home / "history" / "runs").glob("*.db") if path.name != "index.db"]


def test_ten_runs_keep_three_and_the_project_folder_stops_growing(floe, minimal_project: Path) -> None:
    from dagster import DagsterInstance

    root = minimal_project
    _set_retention(root, {"runs": 3})
    compiled = floe("compile", cwd=root)
    assert compiled.returncode == 0, compiled.stderr
    sizes: dict[int, int] = {}
    history: dict[int, int] = {}
    for number in range(1, 11):
        run = floe("run", cwd=root)
        assert run.returncode == 0, run.stdout + run.stderr
        sizes[number] = _size(root / ".floe")
        history[number] = _size(root / ".floe" / "dagster")
    home = root / ".floe" / "dagster"
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_runs_count() == 3
        kept = {record.dagster_run.run_id for record in instance.get_run_records()}
    assert {path.stem for path in _run_shards(home)} == kept  # deleted runs' files are gone too
    # Dagster's history is flat once three runs are kept (measured: the same size to the byte).
    assert history[10] - history[5] < 64 * 1024, history
    # The whole folder: the DuckDB file alternates by about 0.8 MB from run to run (DuckDB's own
    # block reuse), and the lineage file and run logs grow a few KB a run up to their own bounds
    # (rotation, 50 logs); another run's worth of history would be 0.4 MB or more a run.
    assert max(sizes[number] for number in range(6, 11)) - max(sizes[number] for number in range(1, 6)) \
        < 512 * 1024, sizes
    # Write-ahead logs are folded back after each run, not left to pile up (85 % of .floe/ before).
    wals = {str(path.relative_to(root)): path.stat().st_size for path in (root / ".floe").rglob("*-wal")}
    assert all(size <= 64 * 1024 for size in wals.values()), wals


def _noop_job() -> Any:
    from dagster import job, op

    @op
    def nothing() -> None:
        return None

    @job
    def housekeeping_probe() -> None:
        nothing()

    return housekeeping_probe


@pytest.fixture
def sqlite_instance(tmp_path: Path) -> Any:
    from dagster import DagsterInstance

    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump({
        "storage": {"sqlite": {"base_dir": str(home)}}, "telemetry": {"enabled": False}}), encoding="utf-8")
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


def test_retention_keeps_the_newest_runs_and_never_an_unfinished_one(sqlite_instance: Any, tmp_path: Path) -> None:
    from dagster import DagsterRunStatus

    from floe.orchestration.history import apply_retention
    from floe.spec.platform import OrchestratorRetention

    probe = _noop_job()
    running = sqlite_instance.create_run_for_job(probe, status=DagsterRunStatus.STARTED)  # the oldest of all
    finished = [probe.execute_in_process(instance=sqlite_instance).run_id for _ in range(5)]
    home = tmp_path / "dagster"
    tidied = apply_retention(sqlite_instance, OrchestratorRetention(runs=2), sqlite_home=home,
                             current_run_id=finished[-1])
    assert tidied.deleted_runs == 3
    remaining = {record.dagster_run.run_id for record in sqlite_instance.get_run_records()}
    assert remaining == {running.run_id, *finished[-2:]}
    assert {path.stem for path in _run_shards(home)} <= remaining
    assert not any(run_id in {p.stem for p in _run_shards(home)} for run_id in finished[:3])
    # A second pass finds nothing more to do (one count query).
    assert apply_retention(sqlite_instance, OrchestratorRetention(runs=2), sqlite_home=home).deleted_runs == 0


def test_retention_by_age(sqlite_instance: Any) -> None:
    from floe.orchestration.history import prune_runs_older_than

    probe = _noop_job()
    for _ in range(3):
        probe.execute_in_process(instance=sqlite_instance)
    assert prune_runs_older_than(sqlite_instance, timedelta(days=1)) == 0  # all are younger
    assert prune_runs_older_than(sqlite_instance, timedelta(0)) == 3
    assert sqlite_instance.get_runs_count() == 0


def test_the_sensor_prunes_runs_the_daemon_or_the_ui_started(compiled_project: Path, sqlite_instance: Any) -> None:
    from dagster import DefaultSensorStatus, build_sensor_context

    from floe.compiler import compile_project
    from floe.contract.project import open_compiled_project
    from floe.orchestration.builder import RETENTION_INTERVAL_S, RETENTION_SENSOR, build_definitions
    from floe.spec.project import load_project

    _set_retention(compiled_project, {"runs": 1})
    compile_project(load_project(compiled_project / "floe.yaml"))
    defs = build_definitions(open_compiled_project(compiled_project / ".floe" / "artifacts.json"))
    sensor = defs.resolve_sensor_def(RETENTION_SENSOR)
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == RETENTION_INTERVAL_S
    probe = _noop_job()
    for _ in range(4):
        probe.execute_in_process(instance=sqlite_instance)
    result = sensor.evaluate_tick(build_sensor_context(instance=sqlite_instance, definitions=defs))
    assert not result.run_requests  # housekeeping launches nothing
    assert "deleted 3 finished run(s)" in (result.skip_message or "")
    assert sqlite_instance.get_runs_count() == 1


def test_dagster_yaml_carries_the_tick_retention_and_dagster_reads_it(compiled_project: Path) -> None:
    from floe.compiler import compile_project
    from floe.contract.project import open_compiled_project
    from floe.orchestration.instance import open_instance
    from floe.spec.project import load_project

    _set_retention(compiled_project, {"tick_days": 3})
    compile_project(load_project(compiled_project / "floe.yaml"))
    compiled = open_compiled_project(compiled_project / ".floe" / "artifacts.json")
    with open_instance(compiled) as instance:  # Dagster validates dagster.yaml against its schema here
        assert instance.get_settings("retention") == {
            kind: {"purge_after_days": 3} for kind in ("schedule", "sensor", "auto_materialize")}


def test_a_left_over_write_ahead_log_is_folded_back(tmp_path: Path) -> None:
    from floe.orchestration.history import checkpoint_sqlite_logs

    database = tmp_path / "history" / "runs" / "left-over.db"
    database.parent.mkdir(parents=True)
    writer = sqlite3.connect(str(database))
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # as a process that never checkpoints
    writer.execute("CREATE TABLE events (body TEXT)")
    writer.executemany("INSERT INTO events VALUES (?)", [("x" * 1000,)] * 2000)
    writer.commit()
    wal = database.with_name(database.name + "-wal")
    assert wal.stat().st_size > 1_000_000
    assert checkpoint_sqlite_logs(tmp_path) == 1
    assert not wal.exists() or wal.stat().st_size == 0
    writer.close()
    with sqlite3.connect(str(database)) as reader:
        assert reader.execute("SELECT count(*) FROM events").fetchone() == (2000,)
