"""OpenLineage dataset names for what a floe run reads and writes.

A dataset is identified by ``(namespace, name)``; lineage from different producers joins
only when both name the same table the same way, so the rules follow the OpenLineage
naming spec (https://openlineage.io/docs/spec/naming) wherever it covers a store:

=============  ==================================  ==================================
store          namespace                           name
=============  ==================================  ==================================
PostgreSQL     ``postgres://{host}:{port}``        ``{database}.{schema}.{table}``
Snowflake      ``snowflake://{account}``           ``{DATABASE}.{SCHEMA}.{TABLE}``
BigQuery       ``bigquery``                        ``{project}.{dataset}.{table}``
Trino          ``trino://{host}:{port}``           ``{catalog}.{schema}.{table}``
DuckDB         ``duckdb://{absolute file path}``   ``{database}.{schema}.{table}``
Iceberg        the table root as a URL             ``{namespace}.{table}``
=============  ==================================  ==================================

* DuckDB is not in the spec's table; a file-backed DuckDB is identified by its absolute
  path (as the spec does for the other embedded stores), so two projects never share one.
* Snowflake folds unquoted identifiers to upper case, so its names are upper-cased to match
  what Snowflake itself and other producers report.
* Iceberg tables (what ingestion lands) are named by catalog identity: the namespace is where
  floe puts tables (``file:///abs/.floe/lakehouse``, ``s3://bucket/prefix``, ...), the name
  the catalog's ``namespace.table``. A dbt source whose ``schema.identifier`` is such a table
  is the same dataset (the warehouse only exposes a view over it), so the graph runs from
  ingestion through staging without a gap. Any other source is the warehouse relation.
* Ephemeral models have no relation: a model reading one reads the ephemeral model's parents.
* A data product's ports (a data mesh) are named by the shared catalog: namespace the catalog's
  table root, name ``{domain}.{product}.{port}``. The producer's model behind an output port
  has it as a second output; the consumer's dbt source over an input port's view is it. So
  the producer's run and the consumer's run name the port alike, and lineage crosses products.
* What ingestion reads is floe's synthetic generator: namespace ``floe-synthetic://{dataset}``
  (e.g. ``ecommerce``), name ``{source}.{table}`` (:func:`generator_dataset`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floe.spec.platform import (
    AdlsStorage,
    BigQueryCompute,
    DuckDBCompute,
    EnvironmentSpec,
    GcsStorage,
    LocalStorage,
    PostgresCompute,
    S3Storage,
    SnowflakeCompute,
    SqlCatalog,
    TrinoCompute,
)

# dbt node kinds that build a relation and so are lineage jobs with an output dataset.
BUILT_RESOURCE_TYPES = frozenset({"model", "seed", "snapshot"})


@dataclass(frozen=True, order=True)
class DatasetId:
    """One dataset's OpenLineage identity."""

    namespace: str
    name: str


def generator_dataset(dataset: str, source: str, table: str) -> DatasetId:
    """The synthetic generator's output feeding one ingestion table: the ingestion node's input."""
    return DatasetId(f"floe-synthetic://{dataset}", f"{source}.{table}")


def _absolute(path: str, project_root: Path) -> Path:
    if path.lower().startswith("file://"):
        path = path[len("file://"):]
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else (project_root / candidate).resolve()


def warehouse_namespace(environment: EnvironmentSpec, project_root: Path) -> str:
    """The namespace of every relation dbt builds on the environment's compute target."""
    compute = environment.compute
    if isinstance(compute, DuckDBCompute):
        return f"duckdb://{_absolute(compute.path, project_root).as_posix()}"
    if isinstance(compute, PostgresCompute):
        return f"postgres://{compute.host}:{compute.port}"
    if isinstance(compute, SnowflakeCompute):
        return f"snowflake://{compute.account.lower()}"
    if isinstance(compute, BigQueryCompute):
        return "bigquery"
    if isinstance(compute, TrinoCompute):
        return f"trino://{compute.host}:{compute.port}"
    raise AssertionError(f"unknown compute type {compute.type!r}")  # pragma: no cover - union is closed


def iceberg_namespace(environment: EnvironmentSpec, project_root: Path) -> str:
    """Where floe creates Iceberg tables, as a URL: the SQL catalog's warehouse, else the storage root.

    The same rule as :func:`floe.lakehouse.properties.table_root`, restated here because
    importing the lakehouse package loads pyiceberg, which lineage must not pay for.
    """
    catalog, storage = environment.catalog, environment.storage
    if isinstance(catalog, SqlCatalog) and catalog.warehouse is not None:
        warehouse = catalog.warehouse
        if "://" not in warehouse or warehouse.lower().startswith("file://"):
            return _absolute(warehouse, project_root).as_uri()
        return warehouse.rstrip("/")
    if isinstance(storage, LocalStorage):
        return _absolute(storage.path, project_root).as_uri()
    if isinstance(storage, S3Storage):
        root = f"s3://{storage.bucket}"
    elif isinstance(storage, GcsStorage):
        root = f"gs://{storage.bucket}"
    else:
        assert isinstance(storage, AdlsStorage)
        root = f"abfss://{storage.authority}"
    return f"{root}/{storage.prefix}" if storage.prefix else root


@dataclass(frozen=True)
class PortDatasets:
    """A data product's ports as lineage datasets (see the module docstring)."""

    namespace: str
    inputs: Mapping[str, str]  # "<view schema>.<view>" (the dbt source's relation) -> port dataset name
    outputs: Mapping[str, str]  # model name -> port dataset name


class DatasetNamer:
    """Names the datasets of manifest nodes and ingestion tables for one environment."""

    def __init__(self, manifest: Mapping[str, Any], environment: EnvironmentSpec, project_root: Path,
                 iceberg_tables: Iterable[str] = (), ports: PortDatasets | None = None) -> None:
        self._ports = ports or PortDatasets("", {}, {})
        self._nodes: Mapping[str, Any] = manifest.get("nodes", {})
        self._sources: Mapping[str, Any] = manifest.get("sources", {})
        self._warehouse = warehouse_namespace(environment, project_root)
        self._iceberg = iceberg_namespace(environment, project_root)
        self._upper = isinstance(environment.compute, SnowflakeCompute)
        self._iceberg_tables = set(iceberg_tables)

    @property
    def iceberg_namespace(self) -> str:
        """Namespace of the ingestion (Iceberg) tables."""
        return self._iceberg

    def add_iceberg_table(self, table: str) -> None:
        """Record that ``namespace.table`` is an Iceberg table landed by ingestion."""
        self._iceberg_tables.add(table)

    def ingestion_table(self, table: str) -> DatasetId:
        """The dataset of an Iceberg table, given as ``namespace.table``."""
        return DatasetId(self._iceberg, table)

    def manifest_entry(self, unique_id: str) -> Mapping[str, Any] | None:
        """The manifest's node or source of this unique id."""
        entry = self._nodes.get(unique_id) or self._sources.get(unique_id)
        return entry if isinstance(entry, Mapping) else None

    def node(self, unique_id: str) -> DatasetId | None:
        """The dataset a model, seed, snapshot or source stands for (None: no relation)."""
        entry = self.manifest_entry(unique_id)
        if entry is None:
            return None
        schema = str(entry.get("schema") or "")
        if entry.get("resource_type") == "source":
            identifier = str(entry.get("identifier") or entry.get("name") or "")
            port = self._ports.inputs.get(f"{schema}.{identifier}")
            if port is not None:
                return DatasetId(self._ports.namespace, port)
            if f"{schema}.{identifier}" in self._iceberg_tables:
                return self.ingestion_table(f"{schema}.{identifier}")
        elif entry.get("resource_type") not in BUILT_RESOURCE_TYPES or _ephemeral(entry):
            return None
        else:
            identifier = str(entry.get("alias") or entry.get("name") or "")
        parts = [str(p) for p in (entry.get("database"), schema, identifier) if p]
        name = ".".join(parts)
        return DatasetId(self._warehouse, name.upper() if self._upper else name)

    def output_port(self, unique_id: str) -> DatasetId | None:
        """The output port a model publishes (a second output of its job), if it is one."""
        entry = self.manifest_entry(unique_id)
        if entry is None or entry.get("resource_type") != "model":
            return None
        port = self._ports.outputs.get(str(entry.get("name")))
        return DatasetId(self._ports.namespace, port) if port is not None else None

    def parents(self, unique_id: str) -> list[str]:
        """The node's upstream models, seeds, snapshots and sources, through ephemeral models."""
        entry = self.manifest_entry(unique_id)
        found: list[str] = []
        seen: set[str] = set()
        pending = list((entry or {}).get("depends_on", {}).get("nodes", []))
        while pending:
            parent = pending.pop(0)
            if parent in seen:
                continue
            seen.add(parent)
            parent_entry = self.manifest_entry(parent)
            if parent_entry is None:
                continue
            if parent_entry.get("resource_type") == "model" and _ephemeral(parent_entry):
                pending.extend(parent_entry.get("depends_on", {}).get("nodes", []))
            elif parent_entry.get("resource_type") in BUILT_RESOURCE_TYPES | {"source"}:
                found.append(parent)
        return found

    def source_for_table(self, table: str) -> Mapping[str, Any] | None:
        """The dbt source reading ``namespace.table``, whose declared columns describe it."""
        for source in self._sources.values():
            if f"{source.get('schema')}.{source.get('identifier') or source.get('name')}" == table:
                return source if isinstance(source, Mapping) else None
        return None


def _ephemeral(entry: Mapping[str, Any]) -> bool:
    return (entry.get("config") or {}).get("materialized") == "ephemeral"
