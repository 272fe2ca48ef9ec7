"""floe-cube on a serving database: the values floe derives from platform.yaml and what renders."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from floe.platform.helm.cube_values import FloeCubeValues
from floe.platform.helm.generate import cube_serving_values
from floe.spec.platform import EnvironmentSpec
from tests.charts.helm_support import find, pod_specs, render


class _Artifacts:
    """Only what cube_serving_values reads: the environment."""

    def __init__(self, environment: dict[str, Any]):
        self.environment = EnvironmentSpec.model_validate(environment)


SERVING = {"type": "postgres", "host": "pg.internal", "port": 6543, "user": "reader", "database": "marts",
           "schema": "gold", "password": {"secret_ref": "SERVING_PW"}}


def test_serving_becomes_cubes_database_with_the_same_secret_key():
    database = cube_serving_values(_Artifacts({"serving": SERVING}), "shop-secrets")["database"]  # type: ignore[arg-type]
    assert database == {"type": "postgres",
                        "settings": {"CUBEJS_DB_HOST": "pg.internal", "CUBEJS_DB_PORT": "6543",
                                     "CUBEJS_DB_NAME": "marts", "CUBEJS_DB_USER": "reader"},
                        "passwordSecret": {"name": "shop-secrets", "key": "SERVING_PW"}}
    encrypted = cube_serving_values(_Artifacts({"serving": {**SERVING, "sslmode": "verify-full"}}), "s")  # type: ignore[arg-type]
    assert encrypted["database"]["settings"]["CUBEJS_DB_SSL"] == "true"
    assert cube_serving_values(_Artifacts({}), "s") == {}  # type: ignore[arg-type]


def test_a_password_secret_needs_name_and_key():
    with pytest.raises(ValidationError, match="name and key together"):
        FloeCubeValues.model_validate({"database": {"passwordSecret": {"name": "floe-secrets"}}})


def _cube_env(documents: list[dict[str, Any]], name: str) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in pod_specs(find(documents, "Deployment", name))[0]["containers"][0]["env"]}


def test_the_chart_wires_the_password_schema_and_pre_aggregations(charts_root):
    values = {"database": {"type": "postgres", "settings": {"CUBEJS_DB_HOST": "pg"},
                           "passwordSecret": {"name": "floe-secrets", "key": "SERVING_PW"},
                           "preAggregationsSchema": "preaggs"}}
    env = _cube_env(render("floe-cube", values, charts_root), "-cube-api")
    assert env["CUBEJS_DB_PASS"]["valueFrom"]["secretKeyRef"] == {"name": "floe-secrets", "key": "SERVING_PW"}
    assert env["CUBEJS_PRE_AGGREGATIONS_SCHEMA"]["value"] == "preaggs"
    assert env["CUBEJS_EXTERNAL_DEFAULT"]["value"] == "false"  # no Cube Store: pre-aggregations in PostgreSQL
    with_store = render("floe-cube", {**values, "cubeStore": {"enabled": True, "s3Bucket": "b"}}, charts_root)
    assert _cube_env(with_store, "-cube-api")["CUBEJS_EXTERNAL_DEFAULT"]["value"] == "true"
    defaults = _cube_env(render("floe-cube", {}, charts_root), "-cube-api")
    assert "CUBEJS_DB_PASS" not in defaults and "CUBEJS_PRE_AGGREGATIONS_SCHEMA" not in defaults
