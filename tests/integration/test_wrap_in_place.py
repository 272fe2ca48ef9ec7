"""A dbt project wrapped where it lives: edits seen by the next compile, init inside it, symlinks.

Real dbt, real DuckDB, the real CLI in a child process.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.integration


def _dbt_project(path: Path) -> Path:
    """A dbt-duckdb project as its user has it: its own profiles.yml, a model under models/logs/."""
    (path / "models" / "logs").mkdir(parents=True)
    (path / "seeds").mkdir()
    (path / "dbt_project.yml").write_text(
        "name: jaffle\nversion: '1.0'\nconfig-version: 2\nprofile: jaffle_profile\n"
        "models:\n  jaffle:\n    +materialized: table\n")
    (path / "profiles.yml").write_text(
        "jaffle_profile:\n  target: local\n  outputs:\n    local:\n      type: duckdb\n      path: jaffle.duckdb\n")
    (path / "seeds" / "people.csv").write_text("id,name,age\n1,ann,31\n2,bob,45\n3,cy,27\n")
    (path / "models" / "adults.sql").write_text("select * from {{ ref('people') }} where age >= 30")
    # A folder named like dbt's log folder, inside the models: its model is a model.
    (path / "models" / "logs" / "visits.sql").write_text("select id, 1 as visits from {{ ref('people') }}")
    return path


def _rows(root: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(root / ".floe" / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def _digest(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file() and ".floe" not in p.parts}


def test_edits_to_the_original_are_seen_by_the_next_compile(floe, tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    init = floe("init", "shop", "--from-dbt", "shop_dbt", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    root = tmp_path / "shop"
    assert "path: ../shop_dbt" in (root / "floe.yaml").read_text()
    assert not (root / "dbt").exists()
    untouched = _digest(source)

    first = floe("run", cwd=root)
    assert first.returncode == 0, first.stderr + first.stdout
    assert _rows(root, "select count(*) from adults") == [(2,)]
    assert _rows(root, "select count(*) from visits") == [(3,)]
    assert _digest(source) == untouched, "floe run changed files of the dbt project"

    (source / "models" / "adults.sql").write_text("select * from {{ ref('people') }} where age >= 40")
    compiled = floe("compile", cwd=root)
    assert compiled.returncode == 0, compiled.stderr
    second = floe("run", cwd=root)
    assert second.returncode == 0, second.stderr + second.stdout
    assert "compiled" not in second.stderr.splitlines()[0], "floe compile already saw the edit"
    assert _rows(root, "select name from adults") == [("bob",)]

    # Without an explicit compile, floe run notices the edit itself.
    (source / "models" / "adults.sql").write_text("select * from {{ ref('people') }} where age >= 20")
    third = floe("run", cwd=root)
    assert third.returncode == 0, third.stderr + third.stdout
    assert "compiled (sources changed since the last compile)" in third.stderr
    assert _rows(root, "select count(*) from adults") == [(3,)]


def test_init_inside_a_dbt_project_wraps_it_in_place(floe, tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    (source / ".gitignore").write_text("target/\ndbt_packages/\nlogs/\n*.duckdb")
    before = _digest(source)
    init = floe("init", cwd=source)
    assert init.returncode == 0, init.stderr
    assert "path: ." in (source / "floe.yaml").read_text()
    assert (source / ".gitignore").read_text() == "target/\ndbt_packages/\nlogs/\n*.duckdb\n.floe/\n"
    run = floe("run", cwd=source)
    assert run.returncode == 0, run.stderr + run.stdout
    assert _rows(source, "select count(*) from adults") == [(2,)]
    after = _digest(source)
    assert sorted(set(after) - set(before)) == ["floe.yaml", "platform.yaml"]
    assert {k: v for k, v in after.items() if k in before and k != ".gitignore"} == {
        k: v for k, v in before.items() if k != ".gitignore"}


def test_a_symlinked_project_with_a_dangling_link_wraps_and_runs(floe, tmp_path: Path) -> None:
    real = _dbt_project(tmp_path / "repos" / "shop_dbt")
    (real / "old_exports").symlink_to(tmp_path / "gone", target_is_directory=True)
    (real / "README.md").symlink_to(tmp_path / "gone.md")
    (tmp_path / "shop_dbt").symlink_to(real, target_is_directory=True)
    init = floe("init", "shop", "--from-dbt", "shop_dbt", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert "path: ../shop_dbt" in (tmp_path / "shop" / "floe.yaml").read_text()
    run = floe("run", cwd=tmp_path / "shop")
    assert run.returncode == 0, run.stderr + run.stdout
    assert _rows(tmp_path / "shop", "select count(*) from adults") == [(2,)]

    # A dangling link where dbt reads is dbt's error, reported as dbt says it, exit 1.
    (real / "models" / "lost.sql").symlink_to(tmp_path / "lost.sql")
    broken = floe("compile", cwd=tmp_path / "shop")
    assert broken.returncode == 1
    assert "lost.sql" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_a_jinja_error_shows_dbts_own_explanation(floe, tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    (source / "models" / "adults.sql").write_text("select * from {{ ref('people' }}")
    assert floe("init", "shop", "--from-dbt", "shop_dbt", cwd=tmp_path).returncode == 0
    compiled = floe("compile", cwd=tmp_path / "shop")
    assert compiled.returncode == 1
    assert "Compilation Error in model adults (models/adults.sql)" in compiled.stderr
    assert "unexpected '}', expected ')'" in compiled.stderr
    assert "Traceback" not in compiled.stderr
