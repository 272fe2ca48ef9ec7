"""OpenLineage events for a floe run: one run for the pipeline, one per model, seed, snapshot
and ingestion table, each pointing at the pipeline run as its parent.

:class:`RunLineage` turns the run's node events (:class:`floe.node_events.NodeEvent`)
into OpenLineage ``RunEvent`` documents and hands them to the platform's transport. Lineage
must never break or stall a run, so nothing here raises into the caller: delivery problems
become at most one warning per destination, returned by :meth:`RunLineage.close`.

Identities:

* the pipeline run: job ``{pipeline}.{job}`` (e.g. ``shop.all``) in the configured namespace
  (``observability.namespace``, default the pipeline name), runId the Dagster run id;
* a node run: job ``{pipeline}.{unique_id}`` (``shop.model.shop.stg_orders``,
  ``shop.ingestion.<source>.orders``), runId ``uuid5(pipeline run id, unique_id)`` so that
  START and COMPLETE of a node always agree, and a re-delivered event deduplicates;
* datasets: :mod:`floe.observability.lineage_naming`.

dbt tests are not jobs and produce no events. A node whose outcome is ``skipped`` (an
upstream failed, in dbt or in an earlier Dagster step) ends with ABORT and a ``tags`` run
facet saying ``skipped`` and why; an ingestion table already holding the batch (``skipped``)
ends with COMPLETE, since nothing is missing. A failed node's ``errorMessage`` is dbt's own
message without colour codes, at most :data:`floe.observability.tracing.MESSAGE_LIMIT`
characters (the whole text, up to :data:`STACK_LIMIT`, in ``stackTrace`` when cut). A node that finishes without
having been seen to start (ingestion reports only its outcome) gets its START then.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from floe import __version__
from floe.errors import FloeError
from floe.node_events import NodeEvent
from floe.observability import lineage_facets as facets
from floe.observability.column_lineage import ModelColumnLineage
from floe.observability.lineage_naming import BUILT_RESOURCE_TYPES, DatasetId, DatasetNamer, PortDatasets
from floe.observability.lineage_transport import ConsoleTransport, FileTransport, HttpTransport, Transport
from floe.spec.observability import ConsoleLineage, FileLineage, HttpLineage, Lineage
from floe.spec.platform import EnvironmentSpec
from floe.spec.secrets import resolve_secrets

Json = dict[str, Any]
JOB_RESOURCE_TYPES = BUILT_RESOURCE_TYPES | {"ingestion"}
_FAILED = frozenset({"error", "fail", "runtime error"})
STACK_LIMIT = 20_000


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _run_uuid(run_id: str) -> uuid.UUID:
    """The run id as a UUID (Dagster's are); any other id maps to a stable UUID of it."""
    try:
        return uuid.UUID(run_id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"floe-run:{run_id}")


class _MissingSecretTransport:
    """Stands in for the HTTP transport when its API key cannot be resolved: one warning."""

    def __init__(self, problem: str) -> None:
        self._problem = problem
        self._dropped = 0

    def emit(self, event: dict[str, Any]) -> None:
        self._dropped += 1

    def close(self) -> list[str]:
        if not self._dropped:
            return []
        return [f"lineage: {self._problem}; {self._dropped} events of this run were not sent. Set the secret, "
                "or remove observability.lineage.api_key from platform.yaml"]


def build_transport(spec: Lineage, project_root: Path, timeout: timedelta,
                    environ: Mapping[str, str] | None) -> Transport | None:
    """The transport the platform spec asks for (None for type none)."""
    if isinstance(spec, FileLineage):
        path = Path(spec.path).expanduser()
        return FileTransport(path if path.is_absolute() else project_root / path, spec.path)
    if isinstance(spec, ConsoleLineage):
        return ConsoleTransport()
    if isinstance(spec, HttpLineage):
        api_key: str | None = None
        if spec.api_key is not None:
            name = spec.api_key.secret_ref
            try:
                api_key = resolve_secrets([name], environ)[name]
            except FloeError as exc:
                return _MissingSecretTransport(exc.message)
        return HttpTransport(spec.url, spec.endpoint, api_key, timeout.total_seconds())
    return None


class RunLineage:
    """Lineage of one run, sent as it happens through the platform's transport.

    Args:
        spec: ``observability.lineage`` of the environment.
        namespace: Job namespace (``observability.namespace`` or the pipeline name).
        manifest: The compiled dbt manifest (nodes, sources, their columns and dependencies).
        environment: The environment, for naming the warehouse and Iceberg datasets.
        project_root: Resolves the lineage file and local database paths.
        timeout: Longest the HTTP transport may spend delivering this run's events.
        environ: Where secret references are resolved (default: the process environment).
        pipeline: Prefix of job names (default: the dbt project's name from the manifest).
        iceberg_tables: ``namespace.table`` of every table ingestion lands; dbt sources
            reading one are named as that Iceberg table. Tables seen in ingestion events of
            this run are added as they come.
        generators: ``namespace.table`` of each landed table -> the dataset of the generator
            feeding it (an ingestion node's input).
    """

    def __init__(self, spec: Lineage, *, namespace: str, manifest: Mapping[str, Any], environment: EnvironmentSpec,
                 project_root: Path, timeout: timedelta, environ: Mapping[str, str] | None = None,
                 pipeline: str | None = None, iceberg_tables: Iterable[str] = (),
                 generators: Mapping[str, DatasetId] | None = None, ports: PortDatasets | None = None) -> None:
        self._transport = build_transport(spec, project_root, timeout, environ)
        self.enabled: bool = self._transport is not None
        self._namespace = namespace
        metadata = manifest.get("metadata", {})
        self._pipeline = pipeline or str(metadata.get("project_name") or namespace)
        self._adapter = str(metadata.get("adapter_type") or environment.compute.type)
        self._dbt_version = str(metadata.get("dbt_version") or "unknown")
        self._namer = DatasetNamer(manifest, environment, project_root, iceberg_tables, ports) if self.enabled else None
        self._column_lineage = (ModelColumnLineage(self._namer, self._adapter, self._compiled_sql)
                                if self._namer else None)
        self._target_path: Path | None = None
        self._generators = dict(generators or {})
        self._lock = threading.Lock()
        self._run_id: uuid.UUID | None = None
        self._job_name = ""
        self._trace_id: str | None = None
        self._open: dict[str, NodeEvent] = {}
        self._orphans = 0

    # -- the pipeline run ---------------------------------------------------------------

    def set_target_path(self, path: Path) -> None:
        """The dbt target folder of this run; compiled SQL is read from ``<path>/compiled``."""
        self._target_path = path

    def join_run(self, run_id: str, job: str, trace_id: str | None = None) -> None:
        """Report nodes as part of pipeline run ``run_id`` whose START and end another process sends.

        A step Dagster executes in a process of its own: its nodes point at the run as parent.
        """
        if not self.enabled:
            return
        with self._lock:
            self._run_id = _run_uuid(run_id)
            self._job_name = f"{self._pipeline}.{job}"
            self._trace_id = trace_id

    def leave_run(self) -> None:
        """End what this process opened of a joined run: nodes still open end with ABORT."""
        if not self.enabled or self._run_id is None:
            return
        with self._lock:
            for event in list(self._open.values()):
                self._finish_node(event, "ABORT", self._trace_id, None)

    def start_run(self, run_id: str, job: str, trace_id: str | None = None) -> None:
        """START of the pipeline run (job ``{pipeline}.{job}``)."""
        if not self.enabled:
            return
        self.join_run(run_id, job, trace_id)  # the run this process reports, then its START
        with self._lock:
            self._emit("START", str(self._run_id), self._pipeline_job(), self._pipeline_run_facets(trace_id))

    def finish_run(self, success: bool, error: str | None = None, trace_id: str | None = None) -> None:
        """COMPLETE or FAIL of the pipeline run; nodes still open end with ABORT first."""
        if not self.enabled or self._run_id is None:
            return
        with self._lock:
            for event in list(self._open.values()):
                self._finish_node(event, "ABORT", trace_id, None)
            run_facets = self._pipeline_run_facets(trace_id or self._trace_id)
            if not success:
                run_facets["errorMessage"] = _error_facet(error or "the run failed", "PYTHON")
            self._emit("COMPLETE" if success else "FAIL", str(self._run_id), self._pipeline_job(), run_facets)

    def abandon_run(self, run_id: str, job: str, error: str) -> None:
        """FAIL of a pipeline run whose process died before it could send one (a killed ``floe run``)."""
        if not self.enabled:
            return
        with self._lock:
            self._run_id = _run_uuid(run_id)
            self._job_name = f"{self._pipeline}.{job}"
            run_facets = self._pipeline_run_facets(None)
            run_facets["errorMessage"] = _error_facet(error, "PYTHON")
            self._emit("FAIL", str(self._run_id), self._pipeline_job(), run_facets)

    def close(self) -> list[str]:
        """Deliver what is pending (within the timeout) and return at most one warning per destination."""
        if self._transport is None:
            return []
        warnings = self._transport.close()
        if self._orphans:
            warnings.append(f"lineage: {self._orphans} node events arrived outside a run and were not "
                            "recorded (floe bug: start_run was not called)")
        return warnings

    # -- nodes --------------------------------------------------------------------------

    def node_started(self, event: NodeEvent, trace_id: str | None = None) -> None:
        """START of a model, seed, snapshot or ingestion table's run (tests are ignored)."""
        if not self._is_job(event):
            return
        with self._lock:
            if self._run_id is None:
                self._orphans += 1
                return
            self._start_node(event, trace_id)

    def node_finished(self, event: NodeEvent, trace_id: str | None = None, event_time: str | None = None) -> None:
        """COMPLETE, FAIL or ABORT of a node's run, with its inputs, output and facets.

        ``event_time``: when the node finished (ISO 8601), for a finish reported later.
        """
        if not self._is_job(event):
            return
        with self._lock:
            if self._run_id is None:
                self._orphans += 1
                return
            if event.unique_id not in self._open:
                self._start_node(event, trace_id, event_time)
            if event.resource_type != "ingestion" and event.status == "skipped":
                state = "ABORT"
            else:
                state = "FAIL" if event.status in _FAILED else "COMPLETE"
            self._finish_node(event, state, trace_id, event, event_time)

    def _is_job(self, event: NodeEvent) -> bool:
        return self.enabled and event.resource_type in JOB_RESOURCE_TYPES

    def _start_node(self, event: NodeEvent, trace_id: str | None, event_time: str | None = None) -> None:
        assert self._namer is not None
        if event.resource_type == "ingestion":
            self._namer.add_iceberg_table(event.relation or event.name)
        self._open[event.unique_id] = event
        inputs, outputs = self._datasets(event, None)
        self._emit("START", self._node_run_id(event), self._node_job(event, with_sql=False),
                   self._node_run_facets(event, trace_id), inputs, outputs, event_time)

    def _finish_node(self, started: NodeEvent, state: str, trace_id: str | None, result: NodeEvent | None,
                     event_time: str | None = None) -> None:
        self._open.pop(started.unique_id, None)
        run_facets = self._node_run_facets(started, trace_id)
        if state == "FAIL":
            message = (result.message if result else None) or f"{started.resource_type} {started.name} failed"
            language = "PYTHON" if started.resource_type == "ingestion" else "SQL"
            run_facets["errorMessage"] = _error_facet(message, language)
        elif state == "ABORT":
            skipped = result is not None and result.status == "skipped"
            reason = (result.message if result else None) or (
                "an upstream node failed" if skipped else "the run ended before this node finished")
            run_facets["tags"] = facets.tags({"floe.skipped": "true" if skipped else "false",
                                              "floe.abort_reason": _bounded(reason)})
        inputs, outputs = self._datasets(started, result if state == "COMPLETE" else None)
        self._emit(state, self._node_run_id(started), self._node_job(started, with_sql=True), run_facets,
                   inputs, outputs, event_time)

    # -- event parts --------------------------------------------------------------------

    def _pipeline_job(self) -> dict[str, Any]:
        return {"namespace": self._namespace, "name": self._job_name,
                "facets": {"jobType": facets.job_type("FLOE", "JOB")}}

    def _pipeline_run_facets(self, trace_id: str | None) -> dict[str, Any]:
        run_facets = {"processing_engine": facets.processing_engine("floe", __version__)}
        if trace_id:
            run_facets[facets.TRACE_FACET] = facets.trace(trace_id)
        return run_facets

    def _node_run_id(self, event: NodeEvent) -> str:
        assert self._run_id is not None
        return str(uuid.uuid5(self._run_id, event.unique_id))

    def _node_run_facets(self, event: NodeEvent, trace_id: str | None) -> dict[str, Any]:
        assert self._run_id is not None
        engine = (facets.processing_engine("floe", __version__) if event.resource_type == "ingestion"
                  else facets.processing_engine("dbt", self._dbt_version))
        run_facets = {"parent": facets.parent_run(str(self._run_id), self._namespace, self._job_name),
                      "processing_engine": engine}
        trace_id = trace_id or self._trace_id
        if trace_id:
            run_facets[facets.TRACE_FACET] = facets.trace(trace_id)
        return run_facets

    def _node_job(self, event: NodeEvent, *, with_sql: bool) -> dict[str, Any]:
        assert self._namer is not None
        job_facets: dict[str, Any] = {}
        if event.resource_type == "ingestion":
            job_facets["jobType"] = facets.job_type("FLOE", "INGESTION")
        else:
            job_facets["jobType"] = facets.job_type("DBT", event.resource_type.upper())
            entry = self._namer.manifest_entry(event.unique_id) or {}
            if entry.get("description"):
                job_facets["documentation"] = facets.job_documentation(str(entry["description"]))
            query = self._compiled_sql(entry) if with_sql else None
            if query:
                job_facets["sql"] = facets.sql(query, self._adapter)
        return {"namespace": self._namespace, "name": f"{self._pipeline}.{event.unique_id}", "facets": job_facets}

    def _compiled_sql(self, entry: Mapping[str, Any]) -> str | None:
        if self._target_path is None or entry.get("resource_type") == "seed":
            return None
        path = self._target_path / "compiled" / str(entry.get("package_name")) / str(entry.get("original_file_path"))
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def _datasets(self, event: NodeEvent, result: NodeEvent | None) -> tuple[list[Json], list[Json]]:
        """Inputs (the node's parents) and output (its relation) with their facets."""
        assert self._namer is not None
        namer = self._namer
        if event.resource_type == "ingestion":
            table = event.relation or event.name
            source = namer.source_for_table(table) or {}
            output = self._dataset(namer.ingestion_table(table), source)
            if result is not None and result.rows is not None:
                output["outputFacets"] = {"outputStatistics": facets.output_statistics(result.rows)}
            generator = self._generators.get(table)
            inputs = [self._dataset(generator, {"columns": source.get("columns"),
                                                "description": f"floe's synthetic generator of {table}"})
                      ] if generator is not None else []
            return inputs, [output]
        entry = namer.manifest_entry(event.unique_id) or {}
        parents = [(namer.node(p), namer.manifest_entry(p) or {}) for p in namer.parents(event.unique_id)]
        inputs = [self._dataset(dataset, parent) for dataset, parent in parents if dataset is not None]
        target = namer.node(event.unique_id)
        if target is None:
            return inputs, []
        output = self._dataset(target, entry)
        # Column lineage from the SQL this run compiled: only once the node is done (before, the
        # compiled file may be missing or an earlier run's).
        columns = self._column_lineage
        lineage = columns.facet(event.unique_id) if columns is not None and result is not None else None
        if lineage is not None:
            output["facets"]["columnLineage"] = lineage
        if result is not None and result.rows is not None and result.rows >= 0:
            output["outputFacets"] = {"outputStatistics": facets.output_statistics(result.rows)}
        port = namer.output_port(event.unique_id)
        if port is not None:  # the mart is also a data product's output port: the dataset consumers read
            return inputs, [output, self._dataset(port, entry)]
        return inputs, [output]

    @staticmethod
    def _dataset(dataset: DatasetId, entry: Mapping[str, Any]) -> dict[str, Any]:
        dataset_facets: dict[str, Any] = {}
        schema = facets.schema(entry.get("columns") or {})
        if schema is not None:
            dataset_facets["schema"] = schema
        if entry.get("description"):
            dataset_facets["documentation"] = facets.dataset_documentation(str(entry["description"]))
        return {"namespace": dataset.namespace, "name": dataset.name, "facets": dataset_facets}

    def _emit(self, state: str, run_id: str, job: dict[str, Any], run_facets: dict[str, Any],
              inputs: list[dict[str, Any]] | None = None, outputs: list[dict[str, Any]] | None = None,
              event_time: str | None = None) -> None:
        assert self._transport is not None
        self._transport.emit({
            "eventType": state,
            "eventTime": event_time or _now(),
            "producer": facets.producer(),
            "schemaURL": facets.RUN_EVENT_SCHEMA_URL,
            "run": {"runId": run_id, "facets": run_facets},
            "job": job,
            "inputs": inputs or [],
            "outputs": outputs or [],
        })


def _bounded(text: str) -> str:
    from floe.observability.tracing import bounded_message

    return bounded_message(text)


def _error_facet(message: str, language: str) -> dict[str, Any]:
    """errorMessage: the message bounded and without colour codes; all of it as stackTrace when cut."""
    from floe.node_events import clean_dbt_message

    short = _bounded(message)
    whole = clean_dbt_message(message) or message.strip()
    stack = whole[:STACK_LIMIT] if whole != short else None
    return facets.error_message(short, language, stack)
