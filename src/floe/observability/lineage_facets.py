"""The OpenLineage facets floe emits, as plain JSON-ready dicts.

Plain dicts rather than openlineage-python's classes: the events are serialised exactly as
written here, which is what the tests validate against the official JSON Schemas, and
importing lineage stays cheap. Every facet carries ``_producer`` and a ``_schemaURL``
pointing at the facet version whose shape it follows.

Facets, and what they say:

* run: ``parent`` (node run → pipeline run, which is also the root), ``errorMessage``
  (failed node or run), ``tags`` (``floe.skipped`` and ``floe.abort_reason`` of an ABORT),
  ``processing_engine`` (dbt for dbt nodes, floe otherwise) and the custom ``floe_trace``
  (the OpenTelemetry trace id, to go from a lineage run to its trace).
* job: ``jobType`` (BATCH; integration DBT or FLOE), ``sql`` (the compiled SQL, when dbt
  wrote it), ``documentation`` (the model's description).
* dataset: ``schema`` (declared columns, with types where declared), ``documentation``,
  ``columnLineage`` (see :func:`column_lineage`), and on outputs ``outputStatistics``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from floe import __version__

SPEC_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
RUN_EVENT_SCHEMA_URL = f"{SPEC_URL}#/$defs/RunEvent"
_FACET_VERSIONS = {
    "ParentRunFacet": "1-2-0",
    "ErrorMessageRunFacet": "1-0-1",
    "ProcessingEngineRunFacet": "1-1-1",
    "JobTypeJobFacet": "2-0-4",
    "SQLJobFacet": "1-1-0",
    "DocumentationJobFacet": "1-1-0",
    "DocumentationDatasetFacet": "1-1-0",
    "SchemaDatasetFacet": "1-2-0",
    "ColumnLineageDatasetFacet": "1-2-0",
    "OutputStatisticsOutputDatasetFacet": "1-0-2",
    "TagsRunFacet": "1-0-0",
}
_DEFAULT_HOME = "https://example.invalid/floe"
TRACE_FACET = "floe_trace"


@lru_cache(maxsize=1)
def _home() -> str:
    """The project's home page, from the package metadata (so it follows pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, metadata

    home = _DEFAULT_HOME
    try:
        for entry in metadata("floe-runtime").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() == "homepage" and url.strip():
                home = url.strip().rstrip("/")
    except PackageNotFoundError:
        pass
    return home


def producer() -> str:
    """URI of this floe release: the project's home page and version."""
    return f"{_home()}/releases/{__version__}"


def trace_facet_schema_url() -> str:
    """The ``_schemaURL`` of the custom trace facet: its schema's ``$id`` and definition."""
    return f"{trace_facet_schema()['$id']}#/$defs/FloeTraceRunFacet"


def trace_facet_schema() -> dict[str, Any]:
    """JSON Schema of the custom trace facet, in the shape of the official facet files.

    The tests validate every emitted ``floe_trace`` facet against it.
    """
    return {**_TRACE_FACET_SCHEMA, "$id": f"{_home()}/spec/facets/1-0-0/FloeTraceRunFacet.json"}


_TRACE_FACET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "FloeTraceRunFacet": {
            "allOf": [
                {"$ref": f"{SPEC_URL}#/$defs/RunFacet"},
                {
                    "type": "object",
                    "properties": {
                        "traceId": {
                            "description": "OpenTelemetry trace id (32 hex digits) of the spans of this run.",
                            "type": "string",
                            "pattern": "^[0-9a-f]{32}$",
                        },
                    },
                    "required": ["traceId"],
                },
            ],
            "type": "object",
        }
    },
    "type": "object",
    "properties": {TRACE_FACET: {"$ref": "#/$defs/FloeTraceRunFacet"}},
}


def _base(facet: str) -> dict[str, Any]:
    version = _FACET_VERSIONS[facet]
    return {"_producer": producer(),
            "_schemaURL": f"https://openlineage.io/spec/facets/{version}/{facet}.json#/$defs/{facet}"}


def parent_run(run_id: str, namespace: str, job_name: str) -> dict[str, Any]:
    """The pipeline run a node run belongs to; it is also the root of the hierarchy."""
    reference = {"run": {"runId": run_id}, "job": {"namespace": namespace, "name": job_name}}
    return {**_base("ParentRunFacet"), **reference, "root": reference}


def error_message(message: str, language: str, stack_trace: str | None = None) -> dict[str, Any]:
    """What went wrong, as the failing system said it (``stack_trace``: the whole account, if any)."""
    facet = {**_base("ErrorMessageRunFacet"), "message": message, "programmingLanguage": language}
    if stack_trace:
        facet["stackTrace"] = stack_trace
    return facet


def tags(values: Mapping[str, str]) -> dict[str, Any]:
    """Key/value tags of a run (floe's: why a node was skipped or aborted)."""
    return {**_base("TagsRunFacet"),
            "tags": [{"key": key, "value": value, "source": "FLOE"} for key, value in values.items()]}


def processing_engine(name: str, version: str) -> dict[str, Any]:
    """The engine that did the work (dbt or floe) and the floe release that reported it."""
    return {**_base("ProcessingEngineRunFacet"), "name": name, "version": version,
            "openlineageAdapterVersion": __version__}


def trace(trace_id: str) -> dict[str, Any]:
    """The custom facet correlating a lineage run with its OpenTelemetry trace."""
    return {"_producer": producer(), "_schemaURL": trace_facet_schema_url(), "traceId": trace_id.lower()}


def job_type(integration: str, job_kind: str) -> dict[str, Any]:
    """Batch job of an integration (DBT, FLOE) and its kind (MODEL, SEED, INGESTION, JOB...)."""
    return {**_base("JobTypeJobFacet"), "processingType": "BATCH", "integration": integration,
            "jobType": job_kind}


def sql(query: str, dialect: str) -> dict[str, Any]:
    """The compiled SQL dbt ran."""
    return {**_base("SQLJobFacet"), "query": query, "dialect": dialect}


def job_documentation(description: str) -> dict[str, Any]:
    """A model's description from its YAML."""
    return {**_base("DocumentationJobFacet"), "description": description}


def dataset_documentation(description: str) -> dict[str, Any]:
    """A relation's description from its YAML."""
    return {**_base("DocumentationDatasetFacet"), "description": description}


def schema(columns: Mapping[str, Any]) -> dict[str, Any] | None:
    """Declared columns (manifest ``columns``), types and descriptions where declared; None if none."""
    fields: list[dict[str, Any]] = []
    for key, column in columns.items():
        field: dict[str, Any] = {"name": str(column.get("name") or key)}
        if column.get("data_type"):
            field["type"] = str(column["data_type"])
        if column.get("description"):
            field["description"] = str(column["description"])
        fields.append(field)
    return {**_base("SchemaDatasetFacet"), "fields": fields} if fields else None


def column_lineage(fields: Mapping[str, Sequence[Mapping[str, Any]]],
                   dataset: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Column lineage traced through a model's SQL (see :mod:`floe.observability.column_lineage`).

    ``fields`` maps each output column to its input fields (namespace, name, field and
    ``transformations``: DIRECT IDENTITY / TRANSFORMATION / AGGREGATION, INDIRECT WINDOW /
    CONDITIONAL / FILTER); ``dataset`` holds the input fields that shape every row of the output
    (INDIRECT FILTER, JOIN, GROUP_BY, SORT), as version 1-2-0 of the facet places them.
    """
    facet: dict[str, Any] = {**_base("ColumnLineageDatasetFacet"),
                             "fields": {column: {"inputFields": list(inputs)} for column, inputs in fields.items()}}
    if dataset:
        facet["dataset"] = list(dataset)
    return facet


def output_statistics(rows: int) -> dict[str, Any]:
    """Rows the node wrote."""
    return {**_base("OutputStatisticsOutputDatasetFacet"), "rowCount": rows}
