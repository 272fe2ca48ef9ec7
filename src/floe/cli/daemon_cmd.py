"""``floe daemon run`` and ``status``: Dagster's daemon, restarted when it hangs, or led by one replica of several."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from floe.contract.v1 import ArtifactsV1
    from floe.daemon.election import Event, Timing

RUN_HELP = """Run Dagster's daemon as platform.yaml's orchestrator.daemon says.

\b
mode single: starts 'dagster-daemon run' and restarts it when it exits or when its heartbeat
is older than restart_timeout (checked every health_check_interval).
mode ha: one of 'replicas' processes running this same command; it starts the daemon only
while it holds the lease, renews it every lease.retry_period, and stops the daemon at once
when it cannot renew for lease.renew_deadline — before the lease can expire, so two daemons
never run together. The others wait and take over when the lease expires or is given back.

\b
The lease (--election auto): a Kubernetes Lease in a pod (RBAC: leases get, create, update),
else a PostgreSQL advisory lock on Dagster's own database (orchestrator.storage).

\b
Reads the compiled artifacts (--artifacts, $FLOE_ARTIFACTS_PATH, .floe/artifacts.json) and
Dagster's instance from $DAGSTER_HOME. Stops cleanly on SIGTERM or Ctrl-C (the daemon first,
then the lease is given back) and exits 0. --json prints each event as one JSON line.

\b
floe daemon run --workspace workspace.yaml
floe daemon run --election kubernetes --lease-name floe-daemon --workspace /dagster-workspace/workspace.yaml
"""


F = TypeVar("F", bound=Callable[..., Any])


def _store_options(command: F) -> F:
    """The options that say where the contract and the lease are (run and status share them)."""
    for option in reversed([
        click.option("--artifacts", "artifacts_path", type=click.Path(path_type=Path, dir_okay=False),
                     help="Compiled artifacts [default: $FLOE_ARTIFACTS_PATH, else .floe/artifacts.json]."),
        click.option("--election", type=click.Choice(["auto", "kubernetes", "postgres", "none"]), default="auto",
                     show_default=True, help="The lease store; auto: none in mode single, else kubernetes in a "
                     "pod, postgres elsewhere."),
        click.option("--lease-name", default=None, help="Name of the Kubernetes Lease [default: floe-dagster-daemon]."),
        click.option("--namespace", default=None,
                     help="Namespace of the Lease [default: $POD_NAMESPACE, else the pod's]."),
        click.option("--kube-api", default=None, help="Kubernetes API URL, outside a pod [default: the pod's]."),
        click.option("--kube-token-file", default=None, help="Bearer token file, outside a pod [default: the pod's]."),
    ]):
        command = option(command)
    return command


@click.group(name="daemon")
def daemon() -> None:
    """Dagster's daemon under floe: supervised (single) or leader-elected (ha)."""


@daemon.command(name="run", help=RUN_HELP, context_settings={"ignore_unknown_options": True})
@_store_options
@click.option("--workspace", type=click.Path(path_type=Path, dir_okay=False),
              help="Dagster workspace file the daemon loads (dagster-daemon run -w).")
@click.option("--identity", default=None, help="This replica's name in the lease [default: <$POD_NAME or host>-<pid>].")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per event on stdout.")
@click.option("--alive-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Touched every few seconds while this wrapper works: a liveness probe checks its age.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run(artifacts_path: Path | None, election: str, workspace: Path | None, lease_name: str | None,
        namespace: str | None, identity: str | None, kube_api: str | None, kube_token_file: str | None,
        as_json: bool, alive_file: Path | None, command: tuple[str, ...]) -> None:
    from floe.contract.io import load_artifacts
    from floe.contract.project import default_artifacts_path
    from floe.daemon.child import DaemonChild, daemon_command
    from floe.daemon.election import Elector
    from floe.daemon.heartbeat import HeartbeatWatch
    from floe.daemon.stores import build_lock, default_identity, public_view

    artifacts = load_artifacts(artifacts_path or default_artifacts_path())
    daemon_spec = artifacts.environment.orchestrator.daemon
    store = _store(artifacts, election, lease_name, namespace, identity or default_identity(), kube_api,
                   kube_token_file)
    timing = _timing(artifacts, store)
    argv = list(command) or daemon_command(workspace)  # click has taken the '--' off
    # The same tolerance the charts set (kept when the pod's env already says it).
    env = {"DAGSTER_DAEMON_HEARTBEAT_TOLERANCE": str(daemon_spec.heartbeat_tolerance_s), **os.environ}
    guardian = None
    if store is not None and store["kind"] == "kubernetes":
        guardian = [json.dumps({**public_view(store), "events": "json" if as_json else "text"})]
    # Heartbeats say whether dagster-daemon is healthy; another command has none to read.
    watch = HeartbeatWatch(timing.restart_timeout) if not command else None

    def report(event: Event) -> None:
        _print_event(event, as_json)

    lock = build_lock(store) if store is not None else None
    where = "no lease (mode single)" if store is None else _describe(public_view(store))
    report_start = {"mode": daemon_spec.mode, "store": where, "identity": store["identity"] if store else None}
    _print_line("start", f"floe daemon: mode {daemon_spec.mode}, {where}", as_json, report_start)
    from floe.signal_relay import event_on_signals

    stop = event_on_signals(signal.SIGTERM, signal.SIGINT)
    elector = Elector(lock, lambda: DaemonChild(argv, env, guardian_args=guardian), timing, report, watch,
                      alive_file=alive_file)
    elector.run(stop)
    _print_line("exit", "floe daemon: stopped", as_json, {})


def _store(artifacts: ArtifactsV1, election: str, lease_name: str | None, namespace: str | None,
           identity: str, kube_api: str | None, kube_token_file: str | None) -> dict[str, Any] | None:
    """The lease store for this replica; None in mode single. Refuses what the contract forbids."""
    from floe.daemon.stores import DEFAULT_LEASE_NAME, in_cluster, kubernetes_store, postgres_store
    from floe.errors import FloeError
    from floe.spec.platform import PostgresOrchestratorStorage

    env = artifacts.environment_name
    spec = artifacts.environment.orchestrator.daemon
    duration = int(spec.lease_timing.duration.total_seconds())
    if spec.mode == "single":
        if election not in ("auto", "none"):
            raise FloeError(f"--election {election}: environment '{env}' runs its daemon in mode single, "
                            "without leader election",
                            hint=f"set environments.{env}.orchestrator.daemon.mode: ha in platform.yaml and "
                            "recompile, or drop --election")
        return None
    if election == "none":
        raise FloeError(f"--election none: environment '{env}' runs its daemon in mode ha, where a daemon "
                        "without the lease could run beside the leader's and tick every schedule twice",
                        hint="drop --election (auto), or set daemon mode: single in platform.yaml")
    if election == "kubernetes" or (election == "auto" and (in_cluster() or kube_api)):
        return kubernetes_store(identity=identity, name=lease_name or DEFAULT_LEASE_NAME,
                                namespace=namespace or os.environ.get("POD_NAMESPACE"), lease_duration_s=duration,
                                api_url=kube_api, token_file=kube_token_file, ca_file=None)
    storage = artifacts.environment.orchestrator.storage
    if not isinstance(storage, PostgresOrchestratorStorage):  # the spec already refuses this
        raise FloeError(f"environment '{env}': daemon mode ha needs orchestrator.storage type postgres")
    from floe.daemon.pg_lock import connection_of

    return postgres_store(identity=identity, connection=connection_of(storage), lease_duration_s=duration,
                          name=lease_name or "")


def _timing(artifacts: ArtifactsV1, store: dict[str, Any] | None) -> Timing:
    from floe.daemon.election import Timing

    spec = artifacts.environment.orchestrator.daemon
    lease = spec.lease_timing
    retry = lease.retry_period.total_seconds()
    return Timing(
        lease_duration=lease.duration.total_seconds(), renew_deadline=lease.renew_deadline.total_seconds(),
        retry_period=retry, restart_timeout=spec.restart_timeout.total_seconds(),
        health_check_interval=spec.health_check_interval.total_seconds(),
        # A PostgreSQL lock is free the instant its holder dies, as its daemon is killed: give
        # that kill a retry period to land. A Lease is free only once given back by the guardian
        # (after the daemon was reaped) or expired.
        takeover_delay=retry if store is not None and store["kind"] == "postgres" else 0.0,
    )


def _describe(view: dict[str, Any]) -> str:
    if view["kind"] == "kubernetes":
        return f"Kubernetes Lease {view.get('namespace') or '(pod namespace)'}/{view['name']} as {view['identity']}"
    return f"PostgreSQL advisory lock on {view['database']} as {view['identity']}"


def _print_event(event: Event, as_json: bool) -> None:
    _print_line(event.kind, event.message, as_json, event.details, at=event.at)


def _print_line(kind: str, message: str, as_json: bool, details: dict[str, Any], at: float | None = None) -> None:
    from floe.daemon.election import write_event

    write_event(kind, message, as_json, details, at)


STATUS_HELP = """Who runs Dagster's daemon now, and are its heartbeats fresh?

\b
Prints the mode, the lease store and its holder (mode ha), and the age of each daemon's last
heartbeat in the instance of $DAGSTER_HOME. Exits 0 when a daemon runs and beats within
restart_timeout; 1 when none holds the lease or a heartbeat is stale or missing (for scripts and
probes). --json prints one document.
"""


@daemon.command(name="status", help=STATUS_HELP)
@_store_options
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def status(artifacts_path: Path | None, election: str, lease_name: str | None, namespace: str | None,
           kube_api: str | None, kube_token_file: str | None, as_json: bool) -> None:
    from floe.contract.io import load_artifacts
    from floe.contract.project import default_artifacts_path
    from floe.daemon.heartbeat import heartbeat_ages
    from floe.daemon.lock import LeaseUnreachable
    from floe.daemon.stores import build_lock, default_identity, public_view

    artifacts = load_artifacts(artifacts_path or default_artifacts_path())
    spec = artifacts.environment.orchestrator.daemon
    store = _store(artifacts, election, lease_name, namespace, f"status-{default_identity()}", kube_api,
                   kube_token_file)
    problems: list[str] = []
    holder: str | None = None
    if store is not None:
        lock = build_lock(store)
        try:
            holder = lock.holder(10.0)
        except LeaseUnreachable as error:
            problems.append(f"the lease store did not answer: {error}")
        finally:
            lock.close()
        if holder is None and not problems:
            problems.append("no replica holds the lease: no daemon runs")
    limit = spec.restart_timeout.total_seconds()
    try:
        ages = heartbeat_ages()
    except Exception as error:  # noqa: BLE001 - an unreadable instance is a finding, reported
        ages = {}
        problems.append(f"cannot read the heartbeats of $DAGSTER_HOME's instance: {str(error).splitlines()[0]}")
    for kind, age in ages.items():
        if age is None or age > limit:
            problems.append(f"{kind}: {'no heartbeat' if age is None else f'last heartbeat {age:.0f}s ago'} "
                            f"(restart_timeout {limit:g}s)")
    document = {"mode": spec.mode, "replicas": spec.replica_count,
                "store": None if store is None else _describe(public_view(store)), "holder": holder,
                "heartbeat_ages_s": {k: None if v is None else round(v, 1) for k, v in ages.items()},
                "healthy": not problems, "problems": problems}
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(f"mode {spec.mode} ({spec.replica_count} replica{'s' if spec.replica_count > 1 else ''})")
        if store is not None:
            click.echo(f"lease: {document['store']}; held by {holder or 'nobody'}")
        for kind, age in ages.items():
            click.echo(f"  {kind:<28} {'never' if age is None else f'{age:.0f}s ago'}")
        for problem in problems:
            click.secho(f"problem: {problem}", fg="red", err=True)
    if problems:
        raise SystemExit(1)
