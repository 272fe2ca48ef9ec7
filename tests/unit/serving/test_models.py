"""Which models are published (serving.models, or the semantic layer's), and the serving connection."""

from __future__ import annotations

from typing import Any

import pytest

from floe.errors import CompileError
from floe.serving import ServingConnection, ledger_refresh_sql, published_models, semantic_layer_models


def _manifest() -> dict[str, Any]:
    def model(name: str, **extra: Any) -> dict[str, Any]:
        return {"resource_type": "model", "name": name, "database": "warehouse", "schema": "main",
                "alias": name, "config": {"enabled": True}, **extra}

    return {
        "nodes": {
            "model.shop.stg_orders": model("stg_orders"),
            "model.shop.mart_orders": model("mart_orders"),
            "model.shop.mart_revenue": model("mart_revenue", alias="revenue_by_day"),
            "test.shop.not_null": {"resource_type": "test", "name": "not_null"},
        },
        "semantic_models": {
            "semantic_model.shop.orders": {"name": "orders", "config": {"enabled": True},
                                           "depends_on": {"nodes": ["model.shop.mart_orders"]}},
            "semantic_model.shop.old": {"name": "old", "config": {"enabled": False},
                                        "depends_on": {"nodes": ["model.shop.stg_orders"]}},
        },
    }


def test_by_default_the_models_of_enabled_semantic_models_are_published() -> None:
    assert semantic_layer_models(_manifest()) == ["model.shop.mart_orders"]
    [model] = published_models(_manifest(), None)
    assert (model.name, model.schema, model.table, model.database) == ("mart_orders", "main", "mart_orders",
                                                                      "warehouse")


def test_named_models_are_published_under_their_relation_name() -> None:
    models = published_models(_manifest(), ["mart_revenue", "stg_orders"])
    assert [(m.name, m.table) for m in models] == [("mart_revenue", "revenue_by_day"), ("stg_orders", "stg_orders")]


def test_an_unknown_model_is_refused_with_the_fix() -> None:
    with pytest.raises(CompileError, match=r"serving\.models names 'mart_nope', not a model") as refused:
        published_models(_manifest(), ["mart_orders", "mart_nope"])
    assert refused.value.hint is not None and "serving.models" in refused.value.hint


def test_two_models_of_one_table_name_are_refused() -> None:
    manifest = _manifest()
    manifest["nodes"]["model.shop.stg_orders"]["alias"] = "revenue_by_day"
    with pytest.raises(CompileError, match="both be published as table revenue_by_day"):
        published_models(manifest, ["mart_revenue", "stg_orders"])


def test_the_connection_string_quotes_values_and_never_prints_the_password() -> None:
    serving = ServingConnection("db.example", 5433, "cube", "marts", "floe_serving", password="it's \\ secret",
                                sslmode="require")
    conninfo = serving.libpq()
    assert "host='db.example'" in conninfo and "port='5433'" in conninfo and "sslmode='require'" in conninfo
    assert "password='it\\'s \\\\ secret'" in conninfo
    assert "secret" not in serving.target and serving.target.startswith("postgresql://cube@db.example:5433/marts")
    assert ServingConnection("h", 5432, "u", "d", "s").libpq().count("password") == 0
    assert serving.ledger == "floe_serving._floe_publish"
    assert ledger_refresh_sql("floe_serving") == "SELECT max(batch) FROM floe_serving._floe_publish"
