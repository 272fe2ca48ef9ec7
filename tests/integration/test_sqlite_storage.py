"""floe's SQLite event storage stores what Dagster's stock storage stores, faster.

The events come from a real ``floe run`` of the minimal template; each test stores them again
into fresh storages and compares the database rows or the records Dagster reads back.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

# Columns filled by the database clock, which differ between any two stores.
CLOCK_COLUMNS = {"create_timestamp", "wipe_timestamp", "last_materialization_timestamp", "cached_status_data",
                 "updated_timestamp", "id"}


@pytest.fixture(scope="module")
def run_events(_compiled_template: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The events of one real run, in the order Dagster stored them."""
    from dagster._core.events.log import EventLogEntry
    from dagster._serdes import deserialize_value

    from floe.contract.project import open_compiled_project
    from floe.orchestration.runner import run_pipeline

    root = tmp_path_factory.mktemp("storage") / "shop"
    shutil.copytree(_compiled_template, root)
    (root / ".floe" / "dbt" / "target" / "partial_parse.msgpack").unlink(missing_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOE_PROJECT_DIR", str(root))  # an earlier run in this process may have set another
        outcome = run_pipeline(open_compiled_project(root / ".floe" / "artifacts.json"))
    assert outcome.success
    shard = root / ".floe" / "dagster" / "history" / "runs" / f"{outcome.run_id}.db"
    with sqlite3.connect(shard) as conn:
        rows = conn.execute("select event from event_logs order by id").fetchall()
    return [deserialize_value(row[0], EventLogEntry) for row in rows]


def _storage(folder: Path) -> Any:
    from floe.orchestration.fastpath.sqlite_storage import CachedEngineSqliteEventLogStorage

    folder.mkdir(parents=True, exist_ok=True)
    return CachedEngineSqliteEventLogStorage(str(folder))


def _renamed(events: list[Any], run_id: str) -> list[Any]:
    return [event._replace(run_id=run_id) for event in events]


def _rows(database: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as conn:
        columns = [row[1] for row in conn.execute(f"pragma table_info({table})")]
        kept = [c for c in columns if c not in CLOCK_COLUMNS]
        return conn.execute(f"select {', '.join(kept)} from {table} order by {', '.join(kept[:2])}").fetchall()


def test_a_batch_stores_exactly_what_single_events_store(run_events: list[Any], tmp_path: Path) -> None:
    run_id = str(uuid.uuid4())
    events = _renamed(run_events, run_id)
    single, batched = _storage(tmp_path / "single"), _storage(tmp_path / "batched")
    for event in events:
        single.store_event(event)
    batched.store_event_batch(events)
    for table in ("event_logs", "asset_keys", "asset_event_tags", "asset_check_executions"):
        assert _rows(tmp_path / "single" / "index.db", table) == _rows(tmp_path / "batched" / "index.db", table)
    assert _rows(tmp_path / "single" / f"{run_id}.db", "event_logs") == \
        _rows(tmp_path / "batched" / f"{run_id}.db", "event_logs")
    assert len(_rows(tmp_path / "batched" / f"{run_id}.db", "event_logs")) == len(events)


def test_a_failed_batch_leaves_nothing_behind(run_events: list[Any], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    storage = _storage(tmp_path)
    run_id = str(uuid.uuid4())
    storage.store_event(_renamed(run_events, run_id)[0])  # the shard exists, with one event
    before = _rows(tmp_path / f"{run_id}.db", "event_logs")
    calls = {"n": 0}
    original = type(storage).store_event

    def failing(self: Any, event: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk on fire")
        original(self, event)

    monkeypatch.setattr(type(storage), "store_event", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        storage.store_event_batch(_renamed(run_events, run_id)[1:])
    monkeypatch.undo()
    assert _rows(tmp_path / f"{run_id}.db", "event_logs") == before, "the batch was rolled back"
    storage.store_event(_renamed(run_events, run_id)[1])  # and the storage still works
    assert len(_rows(tmp_path / f"{run_id}.db", "event_logs")) == len(before) + 1


def test_each_asset_keeps_one_row_with_its_newest_materialization(run_events: list[Any], tmp_path: Path) -> None:
    from dagster._core.events import DagsterEventType

    storage = _storage(tmp_path)
    for _ in range(2):  # the second run updates the rows the first one inserted
        for event in _renamed(run_events, str(uuid.uuid4())):
            storage.store_event(event)
    materialized = {e.dagster_event.asset_key for e in run_events
                    if e.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION}
    with sqlite3.connect(tmp_path / "index.db") as conn:
        keys = [row[0] for row in conn.execute("select asset_key from asset_keys")]
    assert len(keys) == len(set(keys)) == len(materialized)
    for record in storage.get_asset_records(list(materialized)):
        latest = storage.fetch_materializations(record.asset_entry.asset_key, limit=1).records[0]
        assert record.asset_entry.last_materialization_record.storage_id == latest.storage_id


def test_the_runs_own_materializations_are_what_storage_reads_back(run_events: list[Any], tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    run_id = str(uuid.uuid4())
    for event in _renamed(run_events, str(uuid.uuid4())) + _renamed(run_events, run_id):
        storage.store_event(event)
    keys = {e.dagster_event.asset_key for e in run_events if e.dagster_event and e.dagster_event.asset_key}
    records = {r.asset_entry.asset_key: r.asset_entry.last_materialization_record
               for r in storage.get_asset_records(list(keys))}
    served = {key: storage.materialized_in_run(run_id, key) for key in keys}
    assert {key for key, value in served.items() if value is not None} == set(records)
    for key, stored in records.items():
        assert served[key] == stored, key
    assert storage.materialized_in_run("another-run", next(iter(records))) is None


def test_schema_questions_are_answered_and_remembered(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    assert storage.has_table("asset_event_tags")
    assert not storage.has_table("no_such_table")
    assert "asset_event_tags" in storage._known_tables
    assert "no_such_table" not in storage._known_tables, "a no is asked again (a migration may add it)"
    assert storage.has_asset_key_index_cols()
