"""Column lineage of dbt models, from their compiled SQL, as the OpenLineage ``columnLineage`` facet.

For a model of the run, :class:`ModelColumnLineage` reads the SQL dbt compiled, traces every
output column back to the columns of the relations it reads (see
:mod:`floe.observability.column_lineage_sql`) and names those relations as the event's input
datasets are named (:class:`floe.observability.lineage_naming.DatasetNamer`): a source
over an ingested Iceberg table is that table, a model is its warehouse relation.

What a model reads is known column by column when its upstream relations' columns are:

* a model's columns are its own SQL's output columns (analysed the same way, up the DAG);
* a seed's are its CSV header; a source's (or any relation without SQL) its declared columns.

A relation whose columns are unknown still traces where the SQL names the column (``t.a``,
or ``a`` with only that table in scope, or behind a ``*`` over that table alone). A model
reading its own table (``{{ this }}`` in an incremental run) gets its output dataset as the
input of those columns.

Column lineage never fails a run: SQL that cannot be analysed gives no facet (logged at
debug level), and a column traced only in part keeps what was traced.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from floe.observability import column_lineage_sql as sql_lineage
from floe.observability import lineage_facets as facets
from floe.observability.column_lineage_sql import Kind, SqlLineage, TableKey
from floe.observability.lineage_naming import DatasetId, DatasetNamer

log = logging.getLogger(__name__)


class ModelColumnLineage:
    """Column lineage of the models of one run.

    Args:
        namer: Names the datasets (and holds the manifest).
        adapter: The dbt adapter type (``duckdb``, ``postgres``, ``snowflake``...): the SQL dialect.
        read_sql: The compiled SQL of a manifest entry, or None when there is none.
    """

    def __init__(self, namer: DatasetNamer, adapter: str,
                 read_sql: Callable[[Mapping[str, Any]], str | None]) -> None:
        self._namer = namer
        self._adapter = adapter
        self._dialect: str | bool | None = False  # resolved on first use (imports sqlglot)
        self._read_sql = read_sql
        self._analyses: dict[str, SqlLineage | None] = {}
        self._columns: dict[str, tuple[str, ...] | None] = {}
        self._keys: dict[str, TableKey | None] = {}

    def facet(self, unique_id: str) -> dict[str, Any] | None:
        """The ``columnLineage`` facet of a model's output (None: no SQL, or SQL that cannot be analysed)."""
        try:
            return self._facet(unique_id)
        except Exception:  # lineage must never break a run
            log.debug("column lineage of %s failed", unique_id, exc_info=True)
            return None

    def _facet(self, unique_id: str) -> dict[str, Any] | None:
        self._prepare(unique_id)
        analysis = self._analyses.get(unique_id)
        if analysis is None:
            return None
        datasets = self._relations(unique_id)
        fields: dict[str, list[dict[str, Any]]] = {}
        for column in analysis.columns:
            inputs, missing = _input_fields(analysis.fields[column], datasets)
            if inputs or not (missing or column in analysis.partial):
                fields[column] = inputs
            else:
                log.debug("column lineage of %s: %s could not be traced", unique_id, column)
        dataset, _ = _input_fields(analysis.dataset, datasets)
        return facets.column_lineage(fields, dataset)

    # -- analyses, parents first -------------------------------------------------------------

    def _prepare(self, unique_id: str) -> None:
        """Analyse ``unique_id`` after every ancestor whose columns it needs (no recursion: DAGs run deep)."""
        pending: list[tuple[str, bool]] = [(unique_id, False)]
        while pending:
            node, parents_done = pending.pop()
            if node in self._analyses:
                continue
            parents = [p for p in self._namer.parents(node) if p not in self._analyses and self._has_sql(p)]
            if parents and not parents_done:
                pending.append((node, True))
                pending.extend((p, False) for p in parents)
                continue
            self._analyses[node] = self._analyse(node)

    def _has_sql(self, unique_id: str) -> bool:
        entry = self._namer.manifest_entry(unique_id) or {}
        return entry.get("resource_type") in ("model", "snapshot")

    def _analyse(self, unique_id: str) -> SqlLineage | None:
        entry = self._namer.manifest_entry(unique_id) or {}
        if not self._has_sql(unique_id):
            return None
        sql = self._read_sql(entry)
        if not sql:
            log.debug("column lineage of %s: no compiled SQL", unique_id)
            return None
        schema: dict[TableKey, tuple[str, ...]] = {}
        for parent in self._namer.parents(unique_id):
            key, columns = self._relation_key(parent), self._columns_of(parent)
            if key is not None and columns:
                schema[key] = columns
        analysis = sql_lineage.analyse(sql, self._sql_dialect(), schema, _declared(entry))
        if analysis is None:
            log.debug("column lineage of %s: the SQL could not be analysed", unique_id)
        return analysis

    def _columns_of(self, unique_id: str) -> tuple[str, ...] | None:
        """The columns of a parent relation, as far as they are known (None: not known)."""
        if unique_id not in self._columns:
            analysis = self._analyses.get(unique_id)
            entry = self._namer.manifest_entry(unique_id) or {}
            columns: tuple[str, ...] | None = None
            if analysis is not None and analysis.complete:
                columns = analysis.columns
            elif entry.get("resource_type") == "seed":
                columns = _csv_header(entry) or _declared(entry)
            else:
                columns = _declared(entry)
            self._columns[unique_id] = columns or None
        return self._columns[unique_id]

    # -- naming ------------------------------------------------------------------------------

    def _sql_dialect(self) -> str | None:
        if self._dialect is False:
            self._dialect = sql_lineage.dialect_for(self._adapter)
        return self._dialect if isinstance(self._dialect, str) else None

    def _relation_key(self, unique_id: str) -> TableKey | None:
        if unique_id not in self._keys:
            self._keys[unique_id] = self._parse_relation(unique_id)
        return self._keys[unique_id]

    def _parse_relation(self, unique_id: str) -> TableKey | None:
        """The relation a manifest entry names, as the SQL's table names are normalised."""
        entry = self._namer.manifest_entry(unique_id) or {}
        relation = entry.get("relation_name")
        if not relation:
            identifier = entry.get("identifier") or entry.get("alias") or entry.get("name")
            parts = [str(p) for p in (entry.get("database"), entry.get("schema"), identifier) if p]
            relation = ".".join(f'"{p}"' for p in parts) if self._sql_dialect() != "bigquery" else ".".join(
                f"`{p}`" for p in parts)
        return sql_lineage.table_key(str(relation), self._sql_dialect()) if relation else None

    def _relations(self, unique_id: str) -> dict[TableKey, DatasetId]:
        """The datasets a model's SQL may name: its parents, and its own relation (``{{ this }}``)."""
        found: dict[TableKey, DatasetId] = {}
        for node in [*self._namer.parents(unique_id), unique_id]:
            key, dataset = self._relation_key(node), self._namer.node(node)
            if key is not None and dataset is not None:
                found.setdefault(key, dataset)
        return found


def _input_fields(deps: Mapping[Any, frozenset[Kind]],
                  datasets: Mapping[TableKey, DatasetId]) -> tuple[list[dict[str, Any]], bool]:
    """OpenLineage input fields of traced origins, and whether an origin named no known dataset."""
    fields: list[dict[str, Any]] = []
    missing = False
    for origin, kinds in deps.items():
        dataset = _dataset_of(origin.table, datasets)
        if dataset is None:
            log.debug("column lineage: %s is not an input of the model", ".".join(origin.table))
            missing = True
            continue
        transformations = [{"type": k.type, "subtype": k.subtype, "masking": k.masking}
                           for k in sorted(kinds)]
        fields.append({"namespace": dataset.namespace, "name": dataset.name, "field": origin.column,
                       "transformations": transformations})
    fields.sort(key=lambda f: (f["namespace"], f["name"], f["field"]))
    return fields, missing


def _dataset_of(table: TableKey, datasets: Mapping[TableKey, DatasetId]) -> DatasetId | None:
    """The dataset a table of the SQL is: the same name, else the only one it names in part
    (``schema.table`` for ``db.schema.table``), compared without case."""
    if table in datasets:
        return datasets[table]
    folded = tuple(part.lower() for part in table)
    matches = {dataset for key, dataset in datasets.items()
               if tuple(p.lower() for p in key[-len(folded):]) == folded and len(folded) <= len(key)}
    return matches.pop() if len(matches) == 1 else None


def _declared(entry: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(column.get("name") or key) for key, column in (entry.get("columns") or {}).items())


def _csv_header(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """A seed's columns: the header of its CSV file."""
    root, path = entry.get("root_path"), entry.get("original_file_path")
    if not root or not path:
        return ()
    try:
        with (Path(str(root)) / str(path)).open(encoding="utf-8", newline="") as handle:
            return tuple(next(csv.reader(handle), []))
    except (OSError, UnicodeDecodeError, csv.Error):
        return ()
