"""Row counts for the run summary: few statements, and one bad relation loses only its own count."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from floe.spec.platform import DuckDBCompute
from floe.targets import count_rows
from floe.targets.row_counts import count_relations


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        for index in range(7):
            connection.execute(f'create table "main"."t_{index}" as select range as id from range({index * 3})')
        connection.execute('create table "main"."Mixed Case" as select 1 as id')
    return path


def _relations() -> list[str]:
    return [f'"warehouse"."main"."t_{index}"' for index in range(7)] + ['"warehouse"."main"."Mixed Case"']


def test_counts_every_relation_in_chunks_with_one_statement_each(warehouse: Path) -> None:
    statements: list[str] = []
    with duckdb.connect(str(warehouse), read_only=True) as connection:

        def execute(sql: str) -> list[tuple[object, ...]]:
            statements.append(sql)
            return connection.execute(sql).fetchall()

        counts = count_relations(execute, _relations(), chunk=3)
    assert counts == {**{f'"warehouse"."main"."t_{index}"': index * 3 for index in range(7)},
                      '"warehouse"."main"."Mixed Case"': 1}
    assert len(statements) == 3  # 8 relations in chunks of 3


def test_a_missing_relation_loses_only_its_own_count(warehouse: Path) -> None:
    relations = _relations()
    relations.insert(2, '"warehouse"."main"."dropped_meanwhile"')
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        counts = count_relations(lambda sql: connection.execute(sql).fetchall(), relations, chunk=4)
    assert '"warehouse"."main"."dropped_meanwhile"' not in counts
    assert counts['"warehouse"."main"."t_1"'] == 3
    assert counts['"warehouse"."main"."t_6"'] == 18
    assert len(counts) == 8


def test_duckdb_target_counts_through_the_compute_block(warehouse: Path) -> None:
    compute = DuckDBCompute(type="duckdb", path=warehouse.name)
    counts = count_rows(compute, warehouse.parent, _relations())
    assert counts['"warehouse"."main"."t_5"'] == 15
    assert len(counts) == 8
