"""Column lineage traced through SQL: one statement at a time (sqlglot only, fast), and the
ecommerce template's models compiled by the real dbt, fed through RunLineage, against lineage
derived by hand from the models' SQL and checked against the official OpenLineage schemas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from floe.observability.column_lineage import ModelColumnLineage
from floe.observability.column_lineage_sql import (
    AGGREGATION,
    CONDITIONAL,
    DIRECT,
    FILTER,
    GROUP_BY,
    IDENTITY,
    INDIRECT,
    JOIN,
    SORT,
    TRANSFORMATION,
    WINDOW,
    Kind,
    analyse,
    dialect_for,
    table_key,
)
from floe.observability.lineage_naming import DatasetNamer

T = ("db", "s", "t")
U = ("db", "s", "u")
SCHEMA = {T: ["k", "x", "y", "z"], U: ["k", "w"]}


def lineage_of(sql: str, schema: dict[tuple[str, ...], list[str]] | None = None,
               dialect: str = "duckdb", wanted: tuple[str, ...] = ()) -> dict[str, Any]:
    """fields and dataset of a statement as {column: {"t.x": {(type, subtype)}}}."""
    result = analyse(sql, dialect, SCHEMA if schema is None else schema, wanted)
    assert result is not None, f"not analysed: {sql}"

    def flat(deps: Any) -> dict[str, set[tuple[str, str]]]:
        return {f"{origin.table[-1]}.{origin.column}": {(k.type, k.subtype) for k in kinds}
                for origin, kinds in deps.items()}

    return {"fields": {name: flat(deps) for name, deps in result.fields.items()},
            "dataset": flat(result.dataset), "partial": set(result.partial), "complete": result.complete}


COPY = {(DIRECT, IDENTITY)}
CHANGED = {(DIRECT, TRANSFORMATION)}
AGGREGATED = {(DIRECT, AGGREGATION)}


# -- one statement ------------------------------------------------------------------------------

def test_copy_rename_and_coalesce() -> None:
    got = lineage_of("select x, y as renamed, coalesce(z, 0) as filled, x + y as total from db.s.t")
    assert got["fields"] == {"x": {"t.x": COPY}, "renamed": {"t.y": COPY}, "filled": {"t.z": CHANGED},
                             "total": {"t.x": CHANGED, "t.y": CHANGED}}
    assert got["dataset"] == {}


def test_aggregates_group_by_filter_and_sort() -> None:
    got = lineage_of("select k, sum(x) as total, count(*) as n, cast(count(distinct y) as int) as ys "
                     "from db.s.t where z > 0 group by k having sum(x) > 1 order by k")
    assert got["fields"] == {"k": {"t.k": COPY}, "total": {"t.x": AGGREGATED}, "n": {},
                             "ys": {"t.y": AGGREGATED}}
    assert got["dataset"] == {"t.z": {(INDIRECT, FILTER)}, "t.x": {(INDIRECT, FILTER)},
                              "t.k": {(INDIRECT, GROUP_BY), (INDIRECT, SORT)}}


def test_join_keys_are_indirect_join() -> None:
    got = lineage_of("select t.x, u.w from db.s.t as t left join db.s.u as u on u.k = t.k")
    assert got["fields"] == {"x": {"t.x": COPY}, "w": {"u.w": COPY}}
    assert got["dataset"] == {"t.k": {(INDIRECT, JOIN)}, "u.k": {(INDIRECT, JOIN)}}


def test_unqualified_columns_resolve_through_the_schema() -> None:
    got = lineage_of("select x, w from db.s.t join db.s.u on t.k = u.k")
    assert got["fields"] == {"x": {"t.x": COPY}, "w": {"u.w": COPY}}


def test_cte_chains_and_filters_inside_them() -> None:
    got = lineage_of("""
        with a as (select * from db.s.t where x > 1),
             b as (select k, y + 1 as y1 from a),
             c as (select b.k, b.y1 as y2 from b)
        select k as key, y2 from c""")
    assert got["fields"] == {"key": {"t.k": COPY}, "y2": {"t.y": CHANGED}}
    assert got["dataset"] == {"t.x": {(INDIRECT, FILTER)}}


def test_select_star_expands_from_the_known_columns() -> None:
    got = lineage_of("select * from db.s.t")
    assert list(got["fields"]) == ["k", "x", "y", "z"] and got["complete"]
    assert all(deps == {f"t.{name}": COPY} for name, deps in got["fields"].items())


def test_star_over_an_unknown_table_traces_named_columns_only() -> None:
    got = lineage_of("with n as (select * from db.s.nope where b > 1) select a, c as cc from n")
    assert got["fields"] == {"a": {"nope.a": COPY}, "cc": {"nope.c": COPY}}
    # The model's declared columns stand in for an output * that cannot be expanded.
    star = lineage_of("select * from db.s.nope", wanted=("a", "b"))
    assert star["fields"] == {"a": {"nope.a": COPY}, "b": {"nope.b": COPY}} and not star["complete"]


def test_ambiguous_columns_are_left_out_not_guessed() -> None:
    got = lineage_of("select a, n1.c from db.s.n1 join db.s.n2 on n1.id = n2.id", schema={})
    assert got["fields"] == {"a": {}, "c": {"n1.c": COPY}}
    assert got["partial"] == {"a"}


def test_union_by_position_and_by_name() -> None:
    got = lineage_of("select k, x as v from db.s.t union all select k, w from db.s.u")
    assert got["fields"] == {"k": {"t.k": COPY, "u.k": COPY}, "v": {"t.x": COPY, "u.w": COPY}}
    by_name = lineage_of("select k, x from db.s.t union all by name select w as x, k from db.s.u")
    assert by_name["fields"] == {"k": {"t.k": COPY, "u.k": COPY}, "x": {"t.x": COPY, "u.w": COPY}}


def test_case_when_conditions_are_indirect_conditional() -> None:
    got = lineage_of("select case when x > 0 then y else coalesce(z, 0) end as v, "
                     "case when k = 1 then 'one' else 'other' end as label from db.s.t")
    assert got["fields"] == {"v": {"t.x": {(INDIRECT, CONDITIONAL)}, "t.y": CHANGED, "t.z": CHANGED},
                             "label": {"t.k": {(INDIRECT, CONDITIONAL)}}}


def test_window_functions() -> None:
    got = lineage_of("select row_number() over (partition by k order by x desc) as rn, "
                     "sum(y) over (partition by k) as running, lag(z) over (order by x) as previous from db.s.t")
    assert got["fields"] == {
        "rn": {"t.k": {(INDIRECT, WINDOW)}, "t.x": {(INDIRECT, WINDOW)}},
        "running": {"t.y": AGGREGATED, "t.k": {(INDIRECT, WINDOW)}},
        "previous": {"t.z": CHANGED, "t.x": {(INDIRECT, WINDOW)}},
    }


def test_qualify_and_subqueries_in_where_filter_the_rows() -> None:
    got = lineage_of("select x from db.s.t where k in (select k from db.s.u where w > 0) "
                     "qualify row_number() over (partition by y order by z) = 1")
    assert got["fields"] == {"x": {"t.x": COPY}}
    assert got["dataset"] == {name: {(INDIRECT, FILTER)} for name in ("t.k", "u.k", "u.w", "t.y", "t.z")}


def test_scalar_subqueries_aggregate_filters_and_masking() -> None:
    got = lineage_of("select (select max(w) from db.s.u where u.k = t.k) as top, "
                     "count(*) filter (where x > 0) as positives from db.s.t")
    assert got["fields"] == {"top": {"u.w": AGGREGATED, "u.k": {(INDIRECT, FILTER)}, "t.k": {(INDIRECT, FILTER)}},
                             "positives": {"t.x": {(INDIRECT, FILTER)}}}
    masked = analyse("select md5(y) as hashed from db.s.t", "duckdb", SCHEMA)
    assert masked is not None
    assert set(next(iter(masked.fields["hashed"].values()))) == {Kind(DIRECT, TRANSFORMATION, masking=True)}


def test_table_functions_and_unnest() -> None:
    spine = lineage_of("select cast(day as date) as date_day "
                       "from range(date '2020-01-01', date '2036-01-01', interval 1 day) as days(day)")
    assert spine["fields"] == {"date_day": {}} and spine["partial"] == set()
    unnested = lineage_of("select unnest(l) as e from db.s.v", schema={("db", "s", "v"): ["l"]})
    assert unnested["fields"] == {"e": {"v.l": CHANGED}}


def test_sql_that_cannot_be_analysed_gives_nothing() -> None:
    assert analyse("select 1 from", "duckdb", {}) is None
    assert analyse("select 1; select 2", "duckdb", {}) is None
    assert analyse("insert into t values (1)", "duckdb", {}) is None


def test_dialects_and_relation_names() -> None:
    assert [dialect_for(a) for a in ("duckdb", "postgres", "snowflake", "bigquery", "trino")] == [
        "duckdb", "postgres", "snowflake", "bigquery", "trino"]
    assert dialect_for("no_such_engine") is None
    assert table_key('"warehouse"."main"."int_orders"', "duckdb") == ("warehouse", "main", "int_orders")
    assert table_key("`proj`.`data`.`orders`", "bigquery") == ("proj", "data", "orders")
    # Snowflake folds unquoted names to upper case, in the SQL and in the schema alike.
    got = lineage_of("select a, b as c from db.s.t", schema={("DB", "S", "T"): ["a", "b"]}, dialect="snowflake")
    assert got["fields"] == {"A": {"T.A": COPY}, "C": {"T.B": COPY}}


def test_analyses_are_cached_by_sql_hash() -> None:
    sql = "select x as cached_once from db.s.t"
    assert analyse(sql, "duckdb", SCHEMA) is analyse(sql, "duckdb", SCHEMA)


# -- the ecommerce template, compiled by dbt ----------------------------------------------------

BRONZE = ("customers", "products", "orders", "order_items")


@pytest.fixture(scope="module")
def ecommerce(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The ecommerce template compiled by floe, then by the real ``dbt compile`` (fresh build:
    no table exists, so the models compile as on a first run)."""
    from floe.compiler import compile_project
    from floe.contract.v1 import ArtifactsV1
    from floe.scaffold import init_project
    from floe.spec.project import load_project

    root = init_project(tmp_path_factory.mktemp("columns") / "shop", template="ecommerce").root
    compile_project(load_project(root / "floe.yaml"))
    artifacts = ArtifactsV1.model_validate_json((root / ".floe" / "artifacts.json").read_text())
    target = root / ".floe" / "column-target"
    env = {**os.environ, "FLOE_PROJECT_DIR": str(root), "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt = Path(sys.executable).parent / "dbt"
    done = subprocess.run([str(dbt), "compile", "--profiles-dir", str(root / ".floe" / "dbt"), "--profile", "floe",
                           "--target", "dev"], cwd=root / "dbt", env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    manifest = json.loads((target / "manifest.json").read_text())
    return {"root": root, "target": target, "manifest": manifest, "environment": artifacts.environment,
            "pipeline": artifacts.project.name,
            "iceberg": [f"{s.namespace}.{t}" for s in artifacts.ingestion for t in s.tables]}


def _models(manifest: dict[str, Any]) -> list[str]:
    """Model ids, parents first."""
    models = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    ordered: list[str] = []
    while len(ordered) < len(models):
        for unique_id, node in sorted(models.items()):
            if unique_id not in ordered and all(p in ordered or p not in models for p in node["depends_on"]["nodes"]):
                ordered.append(unique_id)
    return ordered


@pytest.fixture(scope="module")
def events(ecommerce: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """One run of ingestion and every model through RunLineage, written by the file transport."""
    from floe.node_events import NodeEvent
    from floe.observability.lineage import RunLineage
    from floe.spec.observability import FileLineage

    path = tmp_path_factory.mktemp("columns-out") / "lineage.jsonl"
    lineage = RunLineage(FileLineage(type="file", path=str(path)), namespace=ecommerce["pipeline"],
                         manifest=ecommerce["manifest"], environment=ecommerce["environment"],
                         project_root=ecommerce["root"], timeout=timedelta(seconds=5), environ={},
                         iceberg_tables=ecommerce["iceberg"])
    lineage.set_target_path(ecommerce["target"])
    lineage.start_run(str(uuid.uuid4()), "all")
    for table in BRONZE:
        lineage.node_finished(NodeEvent(f"ingestion.shop.{table}", f"bronze.{table}", "ingestion", "success",
                                        rows=10, relation=f"bronze.{table}", materialized="iceberg"))
    for unique_id in _models(ecommerce["manifest"]):
        name = ecommerce["manifest"]["nodes"][unique_id]["name"]
        lineage.node_started(NodeEvent(unique_id, name, "model", "started"))
        lineage.node_finished(NodeEvent(unique_id, name, "model", "success", rows=5))
    lineage.finish_run(True)
    assert lineage.close() == []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _facets(ecommerce: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Model name -> the columnLineage facet of its COMPLETE event."""
    found = {}
    for event in events:
        name = event["job"]["name"].rsplit(".", 1)[-1]
        if event["eventType"] == "COMPLETE" and ".model." in event["job"]["name"]:
            found[name] = event["outputs"][0]["facets"].get("columnLineage")
    return found


def _field(dataset: tuple[str, str], column: str, *kinds: tuple[str, str]) -> dict[str, Any]:
    return {"namespace": dataset[0], "name": dataset[1], "field": column,
            "transformations": [{"type": t, "subtype": s, "masking": False} for t, s in sorted(kinds)]}


def _datasets(ecommerce: dict[str, Any]) -> dict[str, tuple[str, str]]:
    namer = DatasetNamer(ecommerce["manifest"], ecommerce["environment"], ecommerce["root"], ecommerce["iceberg"])
    named = {}
    for unique_id in [*ecommerce["manifest"]["nodes"], *ecommerce["manifest"]["sources"]]:
        dataset = namer.node(unique_id)
        if dataset is not None:
            named[unique_id.rsplit(".", 1)[-1]] = (dataset.namespace, dataset.name)
    return named


@pytest.mark.process
def test_every_model_gets_column_lineage_valid_against_the_schema(ecommerce: dict[str, Any],
                                                                 events: list[dict[str, Any]]) -> None:
    from tests.support.openlineage_schema import openlineage_validator

    validate = openlineage_validator()
    for event in events:
        validate(event)
    facets = _facets(ecommerce, events)
    assert len(facets) == 14 and all(facet is not None for facet in facets.values()), facets
    # Every model but the time spine (it reads no dataset) traces every output column to an input.
    for name, facet in facets.items():
        assert facet["fields"], name
        if name != "metricflow_time_spine":
            assert any(field["inputFields"] for field in facet["fields"].values()), name
    assert facets["metricflow_time_spine"]["fields"] == {"date_day": {"inputFields": []}}
    # Lineage is emitted once the model is done, never on START (its SQL may not be compiled yet).
    assert not any("columnLineage" in e["outputs"][0]["facets"] for e in events
                   if e["eventType"] == "START" and e["outputs"])


@pytest.mark.process
def test_mart_revenue_by_hand(ecommerce: dict[str, Any], events: list[dict[str, Any]]) -> None:
    # orders = select * from int_orders; select order_date, region, status, count(*) as orders,
    # cast(sum(items)...) items, units and revenue alike, max(_batch_id) ... group by order_date, region, status
    orders = _datasets(ecommerce)["int_orders"]
    copy, aggregated = (DIRECT, IDENTITY), (DIRECT, AGGREGATION)
    facet = _facets(ecommerce, events)["mart_revenue"]
    assert facet["fields"] == {
        "order_date": {"inputFields": [_field(orders, "order_date", copy)]},
        "region": {"inputFields": [_field(orders, "region", copy)]},
        "status": {"inputFields": [_field(orders, "status", copy)]},
        "orders": {"inputFields": []},
        "items": {"inputFields": [_field(orders, "items", aggregated)]},
        "units": {"inputFields": [_field(orders, "units", aggregated)]},
        "revenue": {"inputFields": [_field(orders, "revenue", aggregated)]},
        "_batch_id": {"inputFields": [_field(orders, "_batch_id", aggregated)]},
    }
    assert facet["dataset"] == [_field(orders, c, (INDIRECT, GROUP_BY)) for c in ("order_date", "region", "status")]
    assert facet["_schemaURL"].endswith("/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet")


@pytest.mark.process
def test_mart_customer_segments_by_hand(ecommerce: dict[str, Any], events: list[dict[str, Any]]) -> None:
    # facts = select * from int_customer_orders; scored = facts.* plus frequency_score (a case on
    # order_count) and monetary_score (a case on order_count and revenue); the mart joins scored
    # to stg_customers on customer_id. int_orders is a declared parent the SQL does not read.
    named = _datasets(ecommerce)
    facts, customers = named["int_customer_orders"], named["stg_customers"]
    copy, changed, conditional = (DIRECT, IDENTITY), (DIRECT, TRANSFORMATION), (INDIRECT, CONDITIONAL)
    expected = {column: [_field(customers, column, copy)]
                for column in ("customer_id", "customer_name", "segment", "region", "has_email", "signup_at")}
    expected |= {column: [_field(facts, column, copy)]
                 for column in ("order_count", "revenue")}
    expected["average_order_value"] = [_field(facts, "order_count", changed), _field(facts, "revenue", changed)]
    expected |= {column: [_field(facts, column, copy)] for column in ("first_ordered_at", "last_ordered_at")}
    expected["frequency_score"] = [_field(facts, "order_count", conditional)]
    expected["monetary_score"] = [_field(facts, "order_count", conditional), _field(facts, "revenue", conditional)]
    expected["value_tier"] = [_field(facts, "order_count", conditional), _field(facts, "revenue", conditional)]
    expected["_batch_id"] = [_field(facts, "_batch_id", copy)]
    # Input fields are sorted by dataset and field: int_customer_orders before stg_customers.
    facet = _facets(ecommerce, events)["mart_customer_segments"]
    assert facet["fields"] == {column: {"inputFields": inputs} for column, inputs in expected.items()}
    assert list(facet["fields"]) == list(expected)
    assert facet["dataset"] == [_field(facts, "customer_id", (INDIRECT, JOIN)),
                                _field(customers, "customer_id", (INDIRECT, JOIN))]


@pytest.mark.process
def test_staging_reads_the_ingested_iceberg_table(ecommerce: dict[str, Any], events: list[dict[str, Any]]) -> None:
    # stg_orders: select * from bronze.orders (the Iceberg table), deduplicated by qualify;
    # coalesce(region, 'unknown') and cast(timezone('UTC', ordered_at) as date) are transformations.
    orders = _datasets(ecommerce)["orders"]
    assert orders[0].startswith("file://") and orders[1] == "bronze.orders"
    fields = _facets(ecommerce, events)["stg_orders"]["fields"]
    assert fields["order_id"] == {"inputFields": [_field(orders, "order_id", (DIRECT, IDENTITY))]}
    assert fields["region"] == {"inputFields": [_field(orders, "region", (DIRECT, TRANSFORMATION))]}
    assert fields["order_date"] == {"inputFields": [_field(orders, "ordered_at", (DIRECT, TRANSFORMATION))]}


@pytest.mark.process
def test_a_model_without_compiled_sql_gets_no_facet(ecommerce: dict[str, Any]) -> None:
    namer = DatasetNamer(ecommerce["manifest"], ecommerce["environment"], ecommerce["root"], ecommerce["iceberg"])
    lineage = ModelColumnLineage(namer, "duckdb", lambda entry: None)
    assert lineage.facet(f"model.{ecommerce['pipeline']}.mart_revenue") is None
    broken = ModelColumnLineage(namer, "duckdb", lambda entry: "select from where (")
    assert broken.facet(f"model.{ecommerce['pipeline']}.mart_revenue") is None

