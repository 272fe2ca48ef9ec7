"""``floe demo trigger``: ask a running Dagster for N batches, print the run ids, follow them."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from floe.platform.dagster_graphql import JobTarget, RunState

TRIGGER_HELP = """Ask a running Dagster for more batches now: one run per batch, followed to the end.

\b
Launches --batches runs of the job that lands a batch (--job, 'all' by default: the job of
the demo schedule) through Dagster's GraphQL API, prints their ids and follows them: each
status change, then per run its outcome and duration. The Dagster at --url, else at
$FLOE_DAGSTER_URL (on Kubernetes: the dagster-webserver Service), else the one 'floe dev'
runs for this project (the URL it recorded), else at http://127.0.0.1:3000. Each run lands
the next batch; with floe dev's queue (one run at a time) they run one after another.
Behind the chart's Ingress, floe sends $FLOE_DAGSTER_USER and $FLOE_DAGSTER_PASSWORD (basic
auth) or $FLOE_DAGSTER_TOKEN (a bearer token your oauth2-proxy accepts).

\b
Exits 0 when every run succeeded; 1 when one failed (named, with where to see its logs),
when no Dagster answers at the URL, or when --timeout passed first. Ctrl-C stops following;
the runs go on.

\b
floe demo trigger -n 3                          3 batches on this project's floe dev
floe demo trigger --url http://dagster:3000 --no-wait
FLOE_DAGSTER_USER=ops FLOE_DAGSTER_PASSWORD=... floe demo trigger --url https://dagster.example.com
"""


def _resolve_url(url: str | None, pipeline_file: Path, output: Path | None) -> tuple[str, str, str | None]:
    """The webserver's URL, where it came from, and the project name floe dev recorded (if any)."""
    from floe.orchestration.dev import STATE_FILE, DevState
    from floe.platform.dagster_graphql import DEFAULT_URL, URL_ENV, normalise_url
    from floe.spec.project import project_root

    if url:
        return normalise_url(url), "--url", None
    if os.environ.get(URL_ENV):
        return normalise_url(os.environ[URL_ENV]), f"${URL_ENV}", None
    state_file = (output or project_root(pipeline_file) / ".floe") / "dev" / STATE_FILE
    state = DevState.read(state_file)
    if state is not None:
        return normalise_url(state.url), f"recorded by floe dev in {state_file}", state.project
    return DEFAULT_URL, "the default: no floe dev recorded for this project", None


def _tags(batches: int) -> list[dict[str, str]]:
    from floe.platform.dagster_graphql import TRIGGER_BATCH_TAG, TRIGGER_TAG

    request = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    return [{TRIGGER_TAG: request, TRIGGER_BATCH_TAG: f"{number}/{batches}"} for number in range(1, batches + 1)]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _run_document(url: str, state: RunState, errors: list[str]) -> dict[str, object]:
    from floe.platform.dagster_graphql import run_url

    duration = state.duration_s
    return {"run_id": state.run_id, "url": run_url(url, state.run_id), "status": state.status,
            "success": state.succeeded if state.finished else None,
            "duration_s": None if duration is None else round(duration, 3), "errors": errors}


def trigger(batches: int, url: str | None, pipeline_file: Path, output: Path | None, job: str,
            location: str | None, wait: bool, as_json: bool, timeout_s: float | None) -> None:
    """The command's body (see TRIGGER_HELP)."""
    from floe.errors import FloeError, PipelineError
    from floe.platform.dagster_graphql import (
        failure_messages,
        find_job,
        follow_runs,
        launch_run,
        require_dagster,
        run_url,
    )

    address, where, project = _resolve_url(url, pipeline_file, output)
    version = require_dagster(address, where=where)
    target: JobTarget = find_job(address, job, location=location, prefer=project)
    click.echo(f"Dagster {version} at {address} ({where}); job '{target.job}' of code location "
               f"'{target.location}'", err=True)

    launched: list[RunState] = []
    try:
        for tags in _tags(batches):
            launched.append(launch_run(address, target, tags))
    except FloeError as exc:
        if launched:
            exc.message += f" (after launching {len(launched)} of {batches}: " \
                           + ", ".join(run.run_id for run in launched) + ")"
        raise
    ids = [run.run_id for run in launched]
    click.echo(f"launched {len(ids)} run{'s' if len(ids) != 1 else ''} (one batch each):", err=True)
    if not as_json:
        for run_id in ids:
            click.echo(run_id)
    if not wait:
        if as_json:
            click.echo(json.dumps({"url": address, "location": target.location, "job": target.job,
                                   "waited": False, "success": None,
                                   "runs": [_run_document(address, run, []) for run in launched]}, indent=2))
        click.echo(f"see them in the Dagster UI: {address}/runs", err=True)
        return

    position = {run_id: index for index, run_id in enumerate(ids, start=1)}
    width = len(str(len(ids)))

    def changed(state: RunState) -> None:
        label = f"{position[state.run_id]:>{width}}/{len(ids)} {state.run_id[:8]}"
        if not state.finished:
            click.echo(f"  {label}  {state.status.lower()}", err=True)
            return
        if as_json:
            click.echo(f"  {label}  {state.status.lower()} after {_seconds(state.duration_s)}", err=True)
            return
        mark = click.style("✓", fg="green") if state.succeeded else click.style("✗", fg="red")
        click.echo(f"{mark} {label}  {state.status}  {_seconds(state.duration_s)}")

    click.echo("following them until they finish (Ctrl-C stops following; the runs go on)", err=True)
    try:
        final = follow_runs(address, ids, changed, timeout_s=timeout_s,
                            on_stuck=lambda why: click.secho(f"warning: {why}", fg="yellow", err=True))
    except KeyboardInterrupt:
        click.echo(f"stopped following; the runs go on in Dagster: {address}/runs", err=True)
        raise
    failed = [state for state in final.values() if state.finished and not state.succeeded]
    errors = {state.run_id: failure_messages(address, state.run_id) for state in failed}
    unfinished = [run_id for run_id in ids if run_id not in final or not final[run_id].finished]
    if as_json:
        click.echo(json.dumps({"url": address, "location": target.location, "job": target.job, "waited": True,
                               "success": not failed and not unfinished,
                               "runs": [_run_document(address, final[run_id], errors.get(run_id, []))
                                        if run_id in final else {"run_id": run_id, "status": None}
                                        for run_id in ids]}, indent=2))
    else:
        for state in failed:
            for line in errors[state.run_id][:6]:
                click.secho(f"  {state.run_id[:8]}: {line[:300]}", fg="red", err=True)
        succeeded = sum(state.succeeded for state in final.values())
        click.echo(f"{succeeded} of {len(ids)} run{'s' if len(ids) != 1 else ''} succeeded", err=True)
    if failed:
        raise PipelineError(
            f"{len(failed)} of {len(ids)} triggered run(s) failed: "
            + ", ".join(f"run {state.run_id[:8]} (batch {position[state.run_id]}, {state.status.lower()})"
                        for state in failed),
            hint="see each run's logs in the Dagster UI: " + ", ".join(run_url(address, state.run_id)
                                                                        for state in failed))
    if unfinished:
        raise FloeError(f"{len(unfinished)} run(s) had not finished after {timeout_s:g} s: "
                        + ", ".join(run_id[:8] for run_id in unfinished),
                        hint=f"they go on in Dagster: {address}/runs")
