"""The whole local lifecycle through the real CLI: init → validate → compile → run."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.integration


def warehouse_rows(project: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(project / ".floe" / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_init_validate_compile_run(floe, tmp_path: Path) -> None:
    created = floe("init", "shop", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "shop"
    for step in (("validate",), ("compile",)):
        result = floe(*step, cwd=project)
        assert result.returncode == 0, result.stderr
    artifacts = json.loads((project / ".floe" / "artifacts.json").read_text())
    assert artifacts["schema_version"] == 1
    assert artifacts["environment_name"] == "dev"
    assert (project / ".floe" / "dbt" / "manifest.json").is_file()

    run = floe("run", cwd=project)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    # The summary names the mart with its row count; progress shows each node.
    mart_line = next(line for line in run.stdout.splitlines() if line.startswith("customer_revenue"))
    assert mart_line.split()[1:4] == ["model", "success", "8"]
    assert "tests: 10 passed, 0 not passed" in run.stdout
    assert "stg_orders" in run.stderr
    revenue = dict(warehouse_rows(project, "select customer_name, revenue from customer_revenue"))
    assert revenue["Ada Lovelace"] == pytest.approx(65.49)
    assert revenue["Alan Turing"] == pytest.approx(8.99)  # the returned order does not count
    assert revenue["Donald Knuth"] == 0


def _newest_dbt_log_first_line(project: Path) -> str:
    logs = sorted((project / ".floe" / "dbt" / "target").glob("*/dbt.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1].read_text().splitlines()[0]


def test_run_twice_gives_the_same_result(floe, compiled_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBT_LOG_FORMAT_FILE", raising=False)
    first = floe("run", cwd=compiled_project)
    assert first.returncode == 0, first.stderr
    # dagster-dbt reads JSON from dbt's output; dbt's log file keeps dbt's own text format.
    assert not _newest_dbt_log_first_line(compiled_project).startswith("{")
    snapshot = warehouse_rows(compiled_project, "select * from customer_revenue order by customer_id")
    second = floe("run", "--json", cwd=compiled_project, env={"DBT_LOG_FORMAT_FILE": "json"})
    assert second.returncode == 0, second.stderr
    assert json.loads(_newest_dbt_log_first_line(compiled_project))["info"]  # the user's choice wins
    assert "compiled" not in second.stderr.splitlines()[0]  # nothing changed: no recompile
    assert warehouse_rows(compiled_project, "select * from customer_revenue order by customer_id") == snapshot
    summary = sorted(
        tuple(line.split()[:4]) for line in first.stdout.splitlines() if line.startswith(("raw_", "stg_", "customer_"))
    )
    outcome = json.loads(second.stdout)
    assert outcome["success"] is True
    again = sorted(
        (n["name"], n["resource_type"], n["status"], "-" if n["rows"] is None else str(n["rows"]))
        for n in outcome["nodes"] if n["resource_type"] != "test"
    )
    assert summary == again


def test_runtime_reads_only_the_artifacts(floe, compiled_project: Path) -> None:
    (compiled_project / "floe.yaml").unlink()
    (compiled_project / "platform.yaml").write_text("this: [is not: valid")  # would fail if read
    (compiled_project / ".floe" / "dbt" / "profiles.yml").unlink()  # the artifacts carry the profile
    result = floe("run", cwd=compiled_project)
    assert result.returncode == 0, result.stderr
    assert "using compiled artifacts" in result.stderr
    assert warehouse_rows(compiled_project, "select count(*) from customer_revenue") == [(8,)]


def test_stale_artifacts_are_recompiled(floe, compiled_project: Path) -> None:
    mart = compiled_project / "dbt" / "models" / "marts" / "customer_revenue.sql"
    mart.write_text(mart.read_text().replace("group by 1, 2, 3", "group by 1, 2, 3\nhaving count(o.order_id) > 0"))
    result = floe("run", cwd=compiled_project)
    assert result.returncode == 0, result.stderr
    assert "compiled (sources changed" in result.stderr
    # Donald Knuth is the one customer without a completed order.
    assert warehouse_rows(compiled_project, "select count(*) from customer_revenue") == [(7,)]


def test_failed_compile_keeps_previous_artifacts(floe, compiled_project: Path) -> None:
    floe_dir = compiled_project / ".floe"
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
              for p in (floe_dir / "artifacts.json", floe_dir / "dbt" / "manifest.json",
                        floe_dir / "dbt" / "profiles.yml")}
    broken = compiled_project / "dbt" / "models" / "marts" / "broken.sql"
    broken.write_text("select {{ ref('no_such_model') }}")
    result = floe("compile", cwd=compiled_project)
    assert result.returncode == 1
    assert "dbt parse failed" in result.stderr
    assert "no_such_model" in result.stderr
    assert "Traceback" not in result.stderr
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in (floe_dir / "artifacts.json", floe_dir / "dbt" / "manifest.json",
                       floe_dir / "dbt" / "profiles.yml")}
    assert after == before
    assert not list(floe_dir.glob(".compile-*")), "staging folder left behind"


def test_failing_test_fails_the_run_and_names_it(floe, compiled_project: Path) -> None:
    marts = compiled_project / "dbt" / "models" / "marts"
    (marts / "dupes.sql").write_text("select 1 as id union all select 1 as id")
    (marts / "dupes.yml").write_text(
        "version: 2\nmodels:\n  - name: dupes\n    columns:\n      - name: id\n        data_tests: [unique]\n"
    )
    result = floe("run", cwd=compiled_project)
    assert result.returncode == 1
    assert "unique_dupes_id" in result.stderr
    assert "1 failing row" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_failing_model_fails_the_run_and_names_it(floe, compiled_project: Path) -> None:
    (compiled_project / "dbt" / "models" / "marts" / "bad_sql.sql").write_text("select from where")
    result = floe("run", cwd=compiled_project)
    assert result.returncode == 1
    assert "bad_sql" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    # Everything that did not depend on the broken model was still built.
    assert warehouse_rows(compiled_project, "select count(*) from customer_revenue") == [(8,)]


def test_select_and_job_narrow_the_run(floe, compiled_project: Path) -> None:
    job = floe("run", "--job", "marts", cwd=compiled_project)  # '+marts': everything here
    assert job.returncode == 0, job.stderr
    assert "job marts" in job.stderr
    assert "customer_revenue" in job.stdout
    # dbt's eager test selection pulls in the relationships test, which needs stg_orders:
    # it exists now, as it would in plain dbt after a first build.
    selected = floe("run", "--select", "raw_customers+", "--exclude", "customer_revenue", cwd=compiled_project)
    assert selected.returncode == 0, selected.stderr
    built = {line.split()[0] for line in selected.stdout.splitlines() if line.startswith(("raw_", "stg_", "cust"))}
    assert built == {"raw_customers", "stg_customers"}
    unknown = floe("run", "--job", "nope", cwd=compiled_project)
    assert unknown.returncode == 1
    assert "job 'nope' is not defined" in unknown.stderr
    empty = floe("run", "--select", "no_such_model", cwd=compiled_project)
    assert empty.returncode == 1
    assert "matches no asset" in empty.stderr


def test_full_refresh_rebuilds_incremental_models(floe, compiled_project: Path) -> None:
    (compiled_project / "dbt" / "models" / "marts" / "run_log.sql").write_text(
        "{{ config(materialized='incremental') }}\nselect 1 as run_marker"
    )
    for _ in range(2):
        assert floe("run", "--select", "run_log", cwd=compiled_project).returncode == 0
    assert warehouse_rows(compiled_project, "select count(*) from run_log") == [(2,)]
    refreshed = floe("run", "--select", "run_log", "--full-refresh", cwd=compiled_project)
    assert refreshed.returncode == 0, refreshed.stderr
    assert warehouse_rows(compiled_project, "select count(*) from run_log") == [(1,)]


def test_init_never_overwrites_without_force(floe, tmp_path: Path) -> None:
    assert floe("init", "shop", cwd=tmp_path).returncode == 0
    mine = tmp_path / "shop" / "floe.yaml"
    mine.write_text(mine.read_text() + "# my edit\n")
    again = floe("init", "shop", cwd=tmp_path)
    assert again.returncode == 1
    assert "--force" in again.stderr
    assert mine.read_text().endswith("# my edit\n")
    forced = floe("init", "shop", "--force", cwd=tmp_path)
    assert forced.returncode == 0
    assert not mine.read_text().endswith("# my edit\n")


def _plain_dbt_project(path: Path) -> Path:
    """A dbt-duckdb project as a user would have it, with its own profiles.yml."""
    (path / "models").mkdir(parents=True)
    (path / "seeds").mkdir()
    (path / "dbt_project.yml").write_text(
        "name: jaffle\nversion: '1.0'\nconfig-version: 2\nprofile: jaffle_profile\n"
        "models:\n  jaffle:\n    +materialized: table\n"
    )
    (path / "profiles.yml").write_text(
        "jaffle_profile:\n  target: local\n  outputs:\n    local:\n      type: duckdb\n"
        "      path: jaffle.duckdb\n      threads: 1\n"
    )
    (path / "seeds" / "people.csv").write_text("id,name,age\n1,ann,31\n2,bob,45\n3,cy,27\n")
    (path / "models" / "adults.sql").write_text("select * from {{ ref('people') }} where age >= 30")
    (path / "models" / "stats.sql").write_text(
        "select count(*) as n, avg(age) as mean_age from {{ ref('adults') }}"
    )
    (path / "models" / "schema.yml").write_text(
        "version: 2\nmodels:\n  - name: adults\n    columns:\n      - name: id\n"
        "        data_tests: [unique, not_null]\n"
    )
    return path


def _tree_digest(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("in_place", [False, True], ids=["copied", "in-place"])
def test_from_dbt_matches_plain_dbt_build(floe, tmp_path: Path, in_place: bool) -> None:
    import subprocess
    import sys

    plain = _plain_dbt_project(tmp_path / "plain")
    dbt = Path(sys.executable).parent / "dbt"
    built = subprocess.run([str(dbt), "build", "--profiles-dir", str(plain)], cwd=plain,
                           capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stdout

    if in_place:
        source = _plain_dbt_project(tmp_path / "wrapped" / "dbt_project")
        project_dir = tmp_path / "wrapped"
    else:
        source = _plain_dbt_project(tmp_path / "original")
        project_dir = tmp_path / "wrapped"
    untouched = _tree_digest(source)
    init = floe("init", str(project_dir), "--from-dbt", str(source), cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    run = floe("run", cwd=project_dir)
    assert run.returncode == 0, run.stderr + run.stdout
    if not in_place:
        assert _tree_digest(source) == untouched, "the wrapped project's files changed"
    else:
        assert {k: v for k, v in _tree_digest(source).items()} == untouched, "files of the dbt project changed"

    with duckdb.connect(str(plain / "jaffle.duckdb"), read_only=True) as reference:
        expected = {t: reference.execute(f"select * from {t} order by all").fetchall()
                    for t in ("people", "adults", "stats")}
    with duckdb.connect(str(project_dir / ".floe" / "warehouse.duckdb"), read_only=True) as ours:
        actual = {t: ours.execute(f"select * from {t} order by all").fetchall() for t in ("people", "adults", "stats")}
    assert actual == expected
    shutil.rmtree(plain / "target", ignore_errors=True)
