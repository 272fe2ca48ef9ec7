"""Ingestion: land source batches in Iceberg and show them to dbt.

``synthetic`` turns a floe.yaml source into generator settings; ``landing`` appends one batch
(idempotently, with retries and table maintenance) and knows which batch comes next;
``views`` points DuckDB's ``<namespace>.<table>`` views at the tables' current snapshots.
Nothing here knows about Dagster: the orchestration layer and ``floe demo`` both call it.
"""
