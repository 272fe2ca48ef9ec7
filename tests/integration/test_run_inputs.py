"""``floe compile`` and ``floe run`` on what users do to a project: a linked floe.yaml, a file
where Dagster's folder goes, an unreachable Dagster PostgreSQL. Real CLI, dbt, Dagster."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from floe.errors import PreflightError
from floe.orchestration.instance_storage import CONNECT_TIMEOUT_S, check_postgres_storage
from floe.scaffold import init_project
from floe.spec.platform import PostgresOrchestratorStorage
from tests.conftest import run_floe

pytestmark = pytest.mark.integration

_DAGSTER_SQLITE = "    orchestrator:\n      storage:\n        type: sqlite\n        path: .floe/dagster\n"


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _refused(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 1, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    for text in expected:
        assert text in done.stderr, f"{text!r} not in:\n{done.stderr}"


def test_a_linked_floe_yaml_keeps_the_project_in_the_folder_it_is_linked_into(tmp_path: Path) -> None:
    """validate, compile and run agree: platform.yaml, dbt/, .floe/ are all beside the link."""
    team = init_project(tmp_path / "team").root
    shared = tmp_path / "shared"
    shared.mkdir()
    (team / "floe.yaml").rename(shared / "floe.yaml")
    (team / "floe.yaml").symlink_to("../shared/floe.yaml")

    validated = json.loads(_ok(run_floe("validate", "--json", cwd=team)).stdout)
    assert Path(validated["dbt_project"]) == (team / "dbt").resolve()
    _ok(run_floe("compile", cwd=team))
    assert (team / ".floe" / "artifacts.json").is_file()
    _ok(run_floe("run", cwd=team))
    assert (team / ".floe" / "warehouse.duckdb").is_file()
    assert (team / ".floe" / "dagster").is_dir()
    assert sorted(p.name for p in shared.iterdir()) == ["floe.yaml"]  # nothing written beside the target


def test_a_file_where_dagsters_folder_goes_fails_the_run_with_its_field(compiled_project: Path) -> None:
    # Compiled while the folder was free; the file appears before the run (validation cannot see it).
    (compiled_project / ".floe" / "dagster").write_text("not a folder\n", encoding="utf-8")
    _refused(run_floe("run", "--artifacts", ".floe/artifacts.json", cwd=compiled_project),
             "environments.dev.orchestrator.storage.path: '.floe/dagster'", "is a file")


def test_an_unreachable_dagster_postgresql_fails_the_run_with_preflights_message(compiled_project: Path) -> None:
    platform = compiled_project / "platform.yaml"
    text = platform.read_text(encoding="utf-8")
    assert _DAGSTER_SQLITE in text, "the template changed"
    platform.write_text(text.replace(_DAGSTER_SQLITE, "    orchestrator:\n      storage: {type: postgres, "
                                     "host: 127.0.0.1, port: 1, user: dagster, database: dagster}\n"),
                        encoding="utf-8")
    _ok(run_floe("compile", cwd=compiled_project))
    started = time.monotonic()
    done = run_floe("run", cwd=compiled_project)
    elapsed = time.monotonic() - started
    _refused(done, "connection refused by 127.0.0.1:1: nothing listens there for Dagster's PostgreSQL "
                   "(orchestrator storage of environment 'dev')",
             "hint: start Dagster's PostgreSQL, or correct the host and port in orchestrator.storage")
    # Before, Dagster retried for ~22 s and crashed (exit 2). A refused connection is answered at
    # once; the bound is loose because the machine may be busy, not because the check is slow.
    assert elapsed < 60, elapsed


@pytest.mark.postgres
def test_the_storage_check_passes_on_a_server_that_answers(postgres_dsn: str, tmp_path: Path) -> None:
    fields = dict(part.split("=", 1) for part in postgres_dsn.split())
    storage = PostgresOrchestratorStorage(type="postgres", host=fields.get("host", "127.0.0.1"),
                                          port=int(fields.get("port", "5432")), user=fields.get("user", "postgres"),
                                          database=fields.get("dbname", "test"))
    check_postgres_storage(storage, "dev", tmp_path)  # no error
    missing = storage.model_copy(update={"database": "floe_no_such_database"})
    with pytest.raises(PreflightError) as caught:
        check_postgres_storage(missing, "dev", tmp_path)
    assert caught.value.message.startswith("database 'floe_no_such_database' does not exist on ")
    assert caught.value.hint == "create it (createdb floe_no_such_database) or fix orchestrator.storage.database"


def test_the_storage_check_refuses_a_closed_port_quickly(tmp_path: Path) -> None:
    storage = PostgresOrchestratorStorage(type="postgres", host="127.0.0.1", port=1, user="dagster",
                                          database="dagster")
    started = time.monotonic()
    with pytest.raises(PreflightError, match=r"connection refused by 127\.0\.0\.1:1"):
        check_postgres_storage(storage, "dev", tmp_path)
    assert time.monotonic() - started < CONNECT_TIMEOUT_S * 6  # loose: refused is immediate
