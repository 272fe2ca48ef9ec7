"""``floe metrics``: the Prometheus exporter of a Dagster instance."""

from __future__ import annotations

import json

import click

# Light: this module is imported only for `floe metrics ...`, and the exporter module imports
# neither Dagster nor prometheus_client at module level.
from floe.observability.metrics.exporter import DEFAULT_HOST, DEFAULT_PORT


@click.group()
def metrics() -> None:
    """Prometheus metrics of the Dagster instance: runs, durations, failures, daemon heartbeats.

    \b
    Both commands read the instance in $DAGSTER_HOME (its dagster.yaml; for PostgreSQL
    storage the password comes from DAGSTER_PG_PASSWORD), the same one the Dagster
    webserver and daemon use. Needs the 'metrics' extra: pip install "floe-runtime[metrics]".

    \b
    Series (the floe-dagster chart's PrometheusRule alerts on them):
      dagster_runs{status}                       runs the instance holds, by status
      dagster_runs_failed_total                  FAILURE runs the instance holds
      dagster_runs_duration_seconds_bucket/_sum/_count
                                                 durations of finished runs
      dagster_daemon_heartbeat_age_seconds{daemon_type}
                                                 +Inf for a needed daemon never seen
      dagster_instance_up                        0 when the storage cannot be read
    """


@metrics.command()
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True,
              help="TCP port of the /metrics endpoint.")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on (127.0.0.1 to keep it local).")
def serve(port: int, host: str) -> None:
    """Serve /metrics for Prometheus until Ctrl-C or SIGTERM.

    Every scrape reads the instance afresh. If the database is down the endpoint still
    answers, with dagster_instance_up 0, and tries again on the next scrape.

    \b
    Example:
      DAGSTER_HOME=~/dagster floe metrics serve --port 9090 &
      curl -s localhost:9090/metrics | grep dagster_runs_failed_total
    """
    from floe.observability.metrics.exporter import serve as serve_metrics

    click.echo(f"serving the Dagster instance's metrics on http://{host}:{port}/metrics (Ctrl-C stops)", err=True)
    serve_metrics(port, host)


@metrics.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document (families with their samples) instead of "
              "the Prometheus text format.")
def show(as_json: bool) -> None:
    """Print one scrape, exactly what /metrics would serve now.

    Exits 1 with the reason when the instance cannot be opened or read.
    """
    from floe.observability.metrics.exporter import as_json as to_json
    from floe.observability.metrics.exporter import as_text, scrape

    scraped = scrape()
    if as_json:
        click.echo(json.dumps(to_json(scraped), indent=2))
    else:
        click.echo(as_text(scraped), nl=False)
