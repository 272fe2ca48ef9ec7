"""Serving: the marts copied from the DuckDB warehouse to a PostgreSQL database Cube reads.

A DuckDB file has one writer at a time, so Cube cannot query it while a run builds. When
platform.yaml declares ``serving:`` for an environment (embedded DuckDB only), every successful
run that built a published model ends with a publish step (``floe.orchestration.serving_asset``)
that copies what changed to the serving schema, atomically per batch, and records the batch in
``<schema>._floe_publish``; Cube's model (``floe.semantic``) reads those tables and refreshes its
rollups when that ledger moves::

    serving = serving_connection(compiled)      # None without serving; host, port, ..., schema
    result = publish(compiled, run_id)          # PublishResult: batch, per-model changes

DuckDB is imported only when a publish runs.
"""

from __future__ import annotations

from floe.serving.connection import (
    LEDGER_TABLE,
    ROW_HASH_COLUMN,
    ServingConnection,
    ServingError,
    ledger_refresh_sql,
    of_spec,
    serving_connection,
)
from floe.serving.models import PublishedModel, published_models, semantic_layer_models
from floe.serving.publish import ModelPublish, PublishResult, publish, publish_warehouse, serving_session

__all__ = [
    "LEDGER_TABLE",
    "ROW_HASH_COLUMN",
    "ModelPublish",
    "PublishResult",
    "PublishedModel",
    "ServingConnection",
    "ServingError",
    "ledger_refresh_sql",
    "of_spec",
    "publish",
    "publish_warehouse",
    "published_models",
    "semantic_layer_models",
    "serving_connection",
    "serving_session",
]
