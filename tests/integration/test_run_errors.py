"""Errors where the user looks: dbt's own message per failed node, dbt's counts, a ref cycle named.

Every run is a real ``floe run`` (dbt, DuckDB, Dagster) compared where it matters with a plain
``dbt build`` of the same dbt project.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.integration

ANSI = "\x1b["
WRAPPER = "The dbt CLI process with command"
DBT_DONE = re.compile(r"PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+) NO-OP=(\d+) TOTAL=(\d+)")

# A model that fails (syntax), one skipped below it, a unit test that fails (its model is then
# skipped), one that passes, and a warn-severity test that finds a row.
_BROKEN_PROJECT = {
    "bad.sql": "select from where\n",
    "after_bad.sql": "select * from {{ ref('bad') }}\n",
    "good.sql": "select 1 as id\n",
    "other.sql": "select 1 as id, 5 as amount\n",
    "checks.yml": """\
version: 2
models:
  - name: good
    columns:
      - name: id
        data_tests:
          - accepted_values:
              arguments:
                values: [2]
              config:
                severity: warn
unit_tests:
  - name: ut_pass
    model: good
    given: []
    expect:
      rows:
        - {id: 1}
  - name: ut_fail
    model: other
    given: []
    expect:
      rows:
        - {id: 1, amount: 6}
""",
}


def _break(project: Path) -> None:
    marts = project / "dbt" / "models" / "marts"
    for name, text in _BROKEN_PROJECT.items():
        (marts / name).write_text(text)


def _plain_dbt_build(project: Path, tmp_path: Path) -> tuple[dict[str, int], dict[str, str]]:
    """dbt's own counts (its 'Done.' line) and per-node statuses (run_results.json)."""
    profiles = tmp_path / "plain-profiles"
    profiles.mkdir()
    name = (project / "dbt" / "dbt_project.yml").read_text().split("profile:", 1)[1].split()[0]
    (profiles / "profiles.yml").write_text(
        f"{name}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {tmp_path / 'plain.duckdb'}\n      threads: 4\n"
    )
    target = tmp_path / "plain-target"
    dbt = Path(sys.executable).parent / "dbt"
    built = subprocess.run(
        [str(dbt), "--no-use-colors", "build", "--profiles-dir", str(profiles), "--target-path", str(target),
         "--log-path", str(target)],
        cwd=project / "dbt", capture_output=True, text=True, check=False,
    )
    assert built.returncode == 1, built.stdout  # the broken model and the failing unit test
    done = DBT_DONE.findall(built.stdout)
    assert done, built.stdout
    counts = dict(zip(("pass", "warn", "error", "skip", "noop", "total"), map(int, done[-1]), strict=True))
    results = json.loads((target / "run_results.json").read_text())["results"]
    return counts, {r["unique_id"]: r["status"] for r in results}


def test_failed_nodes_show_dbts_message_and_counts_equal_plain_dbt(floe, compiled_project: Path,
                                                                  tmp_path: Path) -> None:
    _break(compiled_project)
    dbt_counts, dbt_statuses = _plain_dbt_build(compiled_project, tmp_path)
    assert dbt_counts["warn"] == 1 and dbt_counts["skip"] == 2 and dbt_counts["error"] == 2, dbt_counts

    run = floe("run", cwd=compiled_project)
    assert run.returncode == 1, run.stderr
    both = run.stdout + run.stderr
    assert "Traceback" not in both and WRAPPER not in both and ANSI not in both
    # The terminal progress: dbt's message under the failed model and the failed unit test.
    assert 'Parser Error: syntax error at or near "where"' in run.stderr
    assert "✗ unit_test ut_fail: actual differs from expected:" in run.stderr
    assert "error: run" in run.stderr and "failed: bad, ut_fail" in run.stderr
    # The summary: floe's counts line is dbt's, skipped models are listed, messages repeated.
    floe_done = DBT_DONE.findall(run.stdout)
    assert len(floe_done) == 1, run.stdout
    assert dict(zip(("pass", "warn", "error", "skip", "noop", "total"), map(int, floe_done[0]), strict=True)) \
        == dbt_counts
    rows = {line.split()[0]: line.split()[1:3] for line in run.stdout.splitlines()
            if line.startswith(("bad ", "after_bad ", "other ", "good "))}
    assert rows == {"bad": ["model", "error"], "after_bad": ["model", "skipped"],
                    "other": ["model", "skipped"], "good": ["model", "success"]}
    tests_passed = sum(1 for uid, status in dbt_statuses.items()
                       if uid.startswith(("test.", "unit_test.")) and status == "pass")
    tests_total = sum(1 for uid in dbt_statuses if uid.startswith(("test.", "unit_test.")))
    assert f"tests: {tests_passed} passed, {tests_total - tests_passed} not passed" in run.stdout
    summary = run.stdout.splitlines()
    failure = summary.index("  ✗ model bad: Runtime Error in model bad (models/marts/bad.sql)")
    assert any("Parser Error" in line for line in summary[failure + 1:failure + 5])
    assert any(line.startswith("  • test accepted_values_good_id__2: ") for line in summary)
    assert "Got 1 result, configured to warn if != 0" in run.stdout

    as_json = floe("run", "--json", cwd=compiled_project)
    assert as_json.returncode == 1, as_json.stderr
    outcome = json.loads(as_json.stdout)
    assert outcome["counts"] == dbt_counts
    assert {n["unique_id"]: n["status"] for n in outcome["nodes"]} == dbt_statuses
    messages = {n["name"]: n["message"] for n in outcome["nodes"]}
    assert 'Parser Error: syntax error at or near "where"' in messages["bad"]
    assert "actual differs from expected" in messages["ut_fail"]
    assert "configured to warn" in messages["accepted_values_good_id__2"]
    assert messages["ut_pass"] is None and messages["after_bad"] is None
    assert not any(ANSI in (m or "") for m in messages.values())
    assert outcome["errors"] == []  # the failed nodes say it all; no wrapper text


def test_a_run_that_passes_counts_unit_tests_as_passed(floe, compiled_project: Path) -> None:
    marts = compiled_project / "dbt" / "models" / "marts"
    (marts / "good.sql").write_text("select 1 as id\n")
    (marts / "checks.yml").write_text(
        "version: 2\nunit_tests:\n  - name: ut_pass\n    model: good\n    given: []\n"
        "    expect:\n      rows:\n        - {id: 1}\n"
    )
    run = floe("run", "--json", cwd=compiled_project)
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout)
    unit = next(n for n in outcome["nodes"] if n["resource_type"] == "unit_test")
    assert unit["status"] == "pass", unit
    assert "NONE" not in run.stderr
    assert outcome["counts"]["error"] == outcome["counts"]["skip"] == outcome["counts"]["warn"] == 0
    assert outcome["counts"]["pass"] == outcome["counts"]["total"] == len(outcome["nodes"])


def test_a_held_lock_shows_dbts_message_not_the_wrapper(floe, compiled_project: Path) -> None:
    warehouse = compiled_project / ".floe" / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as holder:  # DuckDB allows one writing process per file
        holder.execute("create table if not exists held (x int)")
        run = floe("run", cwd=compiled_project)
        as_json = floe("run", "--json", cwd=compiled_project)
    assert run.returncode == 1
    both = run.stdout + run.stderr
    assert "Traceback" not in both and WRAPPER not in both
    assert "✗ dbt: IO Error: Could not set lock on file" in run.stderr  # progress
    assert "failed: IO Error: Could not set lock on file" in run.stderr  # the closing error
    assert "  ✗ IO Error: Could not set lock on file" in run.stdout  # the summary
    outcome = json.loads(as_json.stdout)
    assert len(outcome["errors"]) == 1 and outcome["errors"][0].startswith("IO Error: Could not set lock")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_shows_dbts_message(floe, minimal_project: Path) -> None:
    (minimal_project / "platform.yaml").write_text(f"""\
environments:
  dev:
    compute:
      type: postgres
      host: 127.0.0.1
      port: {_closed_port()}
      user: postgres
      password: {{secret_ref: FLOE_TEST_REFUSED_PASSWORD}}
      database: test
      schema: refused
    orchestrator:
      storage:
        type: sqlite
        path: .floe/dagster
""")
    run = floe("run", cwd=minimal_project, env={"FLOE_TEST_REFUSED_PASSWORD": "unused"})
    assert run.returncode == 1, run.stderr
    both = run.stdout + run.stderr
    assert "Traceback" not in both and WRAPPER not in both
    assert "✗ dbt: Database Error" in run.stderr and "Connection refused" in run.stderr
    assert "failed: Database Error: connection to server at" in run.stderr
    assert "Connection refused" in run.stdout


def test_a_ref_cycle_fails_compile_and_run_naming_it(floe, compiled_project: Path) -> None:
    marts = compiled_project / "dbt" / "models" / "marts"
    (marts / "a.sql").write_text("select * from {{ ref('b') }}\n")
    (marts / "b.sql").write_text("select * from {{ ref('a') }}\n")
    for command in (("compile",), ("run",)):
        result = floe(*command, cwd=compiled_project)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
        assert "ref cycle: a -> b -> a (models/marts/a.sql, models/marts/b.sql)" in result.stderr
        assert "remove one of the refs" in result.stderr
