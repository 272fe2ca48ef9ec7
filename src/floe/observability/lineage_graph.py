"""The dataset graph of one run, read back from the lineage JSON Lines file.

``floe lineage`` shows what a run read and wrote without a Marquez: the file holds every
event of every run (appended), a pipeline run is an event without a ``parent`` facet, and
its node runs are the events whose parent is that run. The graph is datasets and jobs with
edges input → job → output, in the order the jobs ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe.errors import FloeError

_FINAL = ("COMPLETE", "FAIL", "ABORT")


@dataclass
class JobNode:
    """One node run of the pipeline run: its job, final state and datasets."""

    namespace: str
    name: str
    state: str = "START"
    inputs: list[tuple[str, str]] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    rows: int | None = None
    error: str | None = None


@dataclass
class RunGraph:
    """A pipeline run and the jobs it ran."""

    run_id: str
    job_namespace: str
    job_name: str
    state: str
    started_at: str | None
    ended_at: str | None
    jobs: list[JobNode]

    def datasets(self) -> list[tuple[str, str]]:
        """Every dataset read or written, in first-seen order."""
        seen: dict[tuple[str, str], None] = {}
        for job in self.jobs:
            for dataset in [*job.inputs, *job.outputs]:
                seen.setdefault(dataset, None)
        return list(seen)

    def edges(self) -> set[tuple[tuple[str, str], tuple[str, str]]]:
        """Dataset-to-dataset edges: each input of a job to each of its outputs."""
        return {(i, o) for job in self.jobs for i in job.inputs for o in job.outputs}


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a lineage file, skipping lines that are not JSON objects (a torn last line)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise FloeError(f"no lineage file at {path}",
                        hint="run the pipeline first (floe run) with observability.lineage type: file, "
                        "or point at the file with --file") from None
    except OSError as exc:
        raise FloeError(f"cannot read {path}: {exc.strerror}") from None
    events: list[dict[str, Any]] = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("run"), dict):
            events.append(event)
    return events


def _parent_id(event: dict[str, Any]) -> str | None:
    parent = (event["run"].get("facets") or {}).get("parent")
    if isinstance(parent, dict):
        return str((parent.get("run") or {}).get("runId"))
    return None


def run_ids(events: Iterable[dict[str, Any]]) -> list[str]:
    """Pipeline run ids in the order their first event was written."""
    seen: dict[str, None] = {}
    for event in events:
        if _parent_id(event) is None:
            seen.setdefault(str(event["run"].get("runId")), None)
    return list(seen)


def build_graph(events: list[dict[str, Any]], run_id: str | None = None, *, source: str = "lineage file") -> RunGraph:
    """The graph of ``run_id`` (a full id or a unique prefix), else of the last run in the file."""
    runs = run_ids(events)
    if not runs:
        raise FloeError(f"{source} holds no pipeline run",
                        hint="run the pipeline (floe run) with observability.lineage type: file")
    if run_id is None:
        chosen = runs[-1]
    else:
        matches = [r for r in runs if r.startswith(run_id)]
        if len(matches) != 1:
            problem = "no run" if not matches else f"{len(matches)} runs"
            raise FloeError(f"{problem} in {source} match '{run_id}'",
                            hint="runs in the file, newest last: " + ", ".join(runs[-5:]))
        chosen = matches[0]
    own = [e for e in events if str(e["run"].get("runId")) == chosen and _parent_id(e) is None]
    final = [e for e in own if e.get("eventType") in _FINAL]
    jobs: dict[str, JobNode] = {}
    for event in events:
        if _parent_id(event) != chosen:
            continue
        node_run = str(event["run"].get("runId"))
        job = event.get("job") or {}
        node = jobs.setdefault(node_run, JobNode(str(job.get("namespace")), str(job.get("name"))))
        _absorb(node, event)
    return RunGraph(
        run_id=chosen,
        job_namespace=str(own[0]["job"].get("namespace")),
        job_name=str(own[0]["job"].get("name")),
        state=str(final[-1].get("eventType")) if final else "RUNNING",
        started_at=own[0].get("eventTime"),
        ended_at=final[-1].get("eventTime") if final else None,
        jobs=list(jobs.values()),
    )


def _absorb(node: JobNode, event: dict[str, Any]) -> None:
    state = str(event.get("eventType"))
    if state in _FINAL or node.state not in _FINAL:
        node.state = state
    for key, found in (("inputs", node.inputs), ("outputs", node.outputs)):
        for dataset in event.get(key) or []:
            ident = (str(dataset.get("namespace")), str(dataset.get("name")))
            if ident not in found:
                found.append(ident)
            stats = (dataset.get("outputFacets") or {}).get("outputStatistics") or {}
            if key == "outputs" and isinstance(stats.get("rowCount"), int):
                node.rows = stats["rowCount"]
    error = ((event["run"].get("facets") or {}).get("errorMessage") or {}).get("message")
    if error:
        node.error = str(error)


def _scheme(namespace: str) -> str:
    return namespace.split(":", 1)[0]


def _short_job(graph: RunGraph, job: JobNode) -> str:
    """Job name without the pipeline prefix the run's own job name carries."""
    prefix = graph.job_name.rsplit(".", 1)[0] + "."
    return job.name[len(prefix):] if job.name.startswith(prefix) else job.name


def render_tree(graph: RunGraph) -> Iterator[str]:
    """Lines of text: the run, then per job its inputs, the job and its outputs, indented."""
    when = f", {graph.started_at} → {graph.ended_at}" if graph.ended_at else f", started {graph.started_at}"
    yield f"run {graph.run_id}  {graph.job_namespace}/{graph.job_name}  {graph.state}{when}"
    yield f"{len(graph.jobs)} jobs, {len(graph.datasets())} datasets"
    for job in graph.jobs:
        yield ""
        yield f"  {_short_job(graph, job)}  {job.state}"
        for namespace, name in job.inputs:
            yield f"    ← {name}  [{_scheme(namespace)}]"
        for namespace, name in job.outputs:
            rows = f"  {job.rows:,} rows" if job.rows is not None else ""
            yield f"    → {name}  [{_scheme(namespace)}]{rows}"
        if job.error:
            yield f"    ✗ {job.error.strip().splitlines()[0]}"


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def render_mermaid(graph: RunGraph) -> str:
    """A ``flowchart LR``: datasets as cylinders, jobs as boxes, failed jobs marked."""
    dataset_ids = {dataset: f"d{i}" for i, dataset in enumerate(graph.datasets())}
    lines = ["flowchart LR"]
    for (_namespace, name), node_id in dataset_ids.items():
        lines.append(f"    {node_id}[({_mermaid_text(name)})]")
    failed: list[str] = []
    for i, job in enumerate(graph.jobs):
        job_id = f"j{i}"
        lines.append(f"    {job_id}[{_mermaid_text(_short_job(graph, job))}]")
        lines.extend(f"    {dataset_ids[d]} --> {job_id}" for d in job.inputs)
        lines.extend(f"    {job_id} --> {dataset_ids[d]}" for d in job.outputs)
        if job.state in ("FAIL", "ABORT"):
            failed.append(job_id)
    lines.append("    classDef job fill:#eef,stroke:#447")
    lines.append("    classDef failed fill:#fdd,stroke:#c00")
    if graph.jobs:
        lines.append("    class " + ",".join(f"j{i}" for i in range(len(graph.jobs))) + " job")
    if failed:
        lines.append("    class " + ",".join(failed) + " failed")
    return "\n".join(lines) + "\n"


def to_json(graph: RunGraph) -> dict[str, Any]:
    """``{run, nodes, edges}``: datasets and jobs as nodes, input → job → output as edges."""
    def dataset_key(dataset: tuple[str, str]) -> str:
        return f"dataset:{dataset[0]}/{dataset[1]}"

    nodes: list[dict[str, Any]] = [
        {"id": dataset_key(d), "type": "dataset", "namespace": d[0], "name": d[1]} for d in graph.datasets()
    ]
    edges: list[dict[str, str]] = []
    for job in graph.jobs:
        job_key = f"job:{job.namespace}/{job.name}"
        nodes.append({"id": job_key, "type": "job", "namespace": job.namespace, "name": job.name,
                      "state": job.state, "rows": job.rows, "error": job.error})
        edges.extend({"from": dataset_key(d), "to": job_key} for d in job.inputs)
        edges.extend({"from": job_key, "to": dataset_key(d)} for d in job.outputs)
    run = {"runId": graph.run_id, "namespace": graph.job_namespace, "job": graph.job_name, "state": graph.state,
           "startedAt": graph.started_at, "endedAt": graph.ended_at}
    return {"run": run, "nodes": nodes, "edges": edges}
